//! Prints capp-testenv figures: start-up time, create/get/patch/list throughput through a real
//! `kube::Client` over HTTPS, watch event latency and resident memory.
//!
//! `cargo run --release -p capp-testenv --example bench [objects]` (default 2000).

#![allow(clippy::print_stdout, reason = "a bench binary prints its figures")]
#![allow(
    clippy::cast_precision_loss,
    reason = "figures are printed, not computed with"
)]

use std::time::{Duration, Instant};

use capp_testenv::{Config, TestEnv};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn rate(n: usize, d: Duration) -> String {
    format!(
        "{n} in {:.0} ms ({:.0}/s)",
        d.as_secs_f64() * 1000.0,
        n as f64 / d.as_secs_f64()
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let rss_before = rss_kib();
    let t = Instant::now();
    let env = TestEnv::start(Config::default()).await?;
    println!(
        "start (CA + serving cert + listener): {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let api: Api<ConfigMap> = Api::namespaced(env.client()?, "default");

    let t = Instant::now();
    for i in 0..n {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": format!("cm-{i}"), "labels": {"i": (i % 10).to_string()}},
            "data": {"k": "v".repeat(64)}
        }))?;
        api.create(&PostParams::default(), &cm).await?;
    }
    println!("create: {}", rate(n, t.elapsed()));

    let t = Instant::now();
    for i in 0..n {
        api.get(&format!("cm-{i}")).await?;
    }
    println!("get: {}", rate(n, t.elapsed()));

    let t = Instant::now();
    for i in 0..n {
        api.patch(
            &format!("cm-{i}"),
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"p": "1"}})),
        )
        .await?;
    }
    println!("merge patch: {}", rate(n, t.elapsed()));

    let t = Instant::now();
    let all = api.list(&ListParams::default()).await?;
    println!(
        "list all {}: {:.1} ms",
        all.items.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    let some = api.list(&ListParams::default().labels("i=3")).await?;
    println!(
        "list by label ({}): {:.1} ms",
        some.items.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );

    let rv = all.metadata.resource_version.unwrap_or_default();
    let mut stream = api
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await?
        .boxed();
    let mut lat = Vec::new();
    for i in 0..200 {
        let t = Instant::now();
        api.patch(
            "cm-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"w": i.to_string()}})),
        )
        .await?;
        while let Some(ev) = stream.try_next().await? {
            if matches!(ev, WatchEvent::Modified(_)) {
                break;
            }
        }
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "patch -> watch event: p50 {:.2} ms, p99 {:.2} ms",
        lat[lat.len() / 2].as_secs_f64() * 1000.0,
        lat[lat.len() * 99 / 100].as_secs_f64() * 1000.0
    );
    println!(
        "resident memory: {} KiB -> {} KiB with {n} objects",
        rss_before,
        rss_kib()
    );
    env.shutdown().await;
    Ok(())
}
