//! Time to generate a full kubeadm cluster PKI (three CAs, service-account key pair, the
//! apiserver, kubelet-client, front-proxy-client and etcd leaves) plus the admin kubeconfig
//! rendered to YAML, as the mean over N runs (`PKI_BENCH_RUNS`, default 50).
//!
//! Run with `cargo bench -p capp-pki --bench pki`.

#![allow(
    clippy::print_stdout,
    reason = "a bench binary reports its figures on stdout"
)]

use std::time::{Duration, Instant};

use capp_pki::{ApiServerSans, ClusterPki, ClusterPkiOptions};
use jiff::Timestamp;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn full_cluster(now: Timestamp, rng: &mut StdRng) -> Result<usize, capp_pki::Error> {
    let pki = ClusterPki::generate(&ClusterPkiOptions::default(), now, rng)?;
    let advertise = std::net::IpAddr::from([10, 0, 0, 10]);
    let sans = ApiServerSans::new("cp-0", advertise).with_extra_san("api.example.com");
    let mut bytes = 0;
    bytes += pki.apiserver(&sans, now, rng)?.cert_pem().len();
    bytes += pki
        .apiserver_kubelet_client("v1.33.0", now, rng)?
        .cert_pem()
        .len();
    bytes += pki.front_proxy_client(now, rng)?.cert_pem().len();
    bytes += pki
        .etcd_server("cp-0", advertise, now, rng)?
        .cert_pem()
        .len();
    bytes += pki.etcd_peer("cp-0", advertise, now, rng)?.cert_pem().len();
    bytes += pki.etcd_healthcheck_client(now, rng)?.cert_pem().len();
    bytes += pki.apiserver_etcd_client(now, rng)?.cert_pem().len();
    let kubeconfig = pki.admin_kubeconfig("demo", "https://api.example.com:6443", now, rng)?;
    bytes += kubeconfig.to_yaml()?.expose().len();
    bytes += pki
        .to_capi_secrets("demo", "default")
        .iter()
        .map(|s| s.data.values().map(Vec::len).sum::<usize>())
        .sum::<usize>();
    Ok(bytes)
}

fn cas_and_kubeconfig(now: Timestamp, rng: &mut StdRng) -> Result<usize, capp_pki::Error> {
    let pki = ClusterPki::generate(&ClusterPkiOptions::default(), now, rng)?;
    let kubeconfig = pki.admin_kubeconfig("demo", "https://api.example.com:6443", now, rng)?;
    Ok(kubeconfig.to_yaml()?.expose().len())
}

fn measure(
    name: &str,
    runs: u32,
    f: fn(Timestamp, &mut StdRng) -> Result<usize, capp_pki::Error>,
) -> Result<(), capp_pki::Error> {
    let now = Timestamp::now();
    let mut rng = StdRng::seed_from_u64(1);
    // Warm-up (page faults, lazy statics).
    f(now, &mut rng)?;
    let mut times = Vec::with_capacity(runs as usize);
    let mut sink = 0usize;
    for _ in 0..runs {
        let start = Instant::now();
        sink = sink.wrapping_add(std::hint::black_box(f(now, &mut rng)?));
        times.push(start.elapsed());
    }
    times.sort();
    let total: Duration = times.iter().sum();
    let mean = total / runs;
    let median = times[times.len() / 2];
    let min = times[0];
    let max = times[times.len() - 1];
    println!(
        "{name}: runs={runs} mean={mean:?} median={median:?} min={min:?} max={max:?} (output bytes/run {})",
        sink / runs as usize
    );
    Ok(())
}

fn main() -> Result<(), capp_pki::Error> {
    let runs = std::env::var("PKI_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(50);
    measure(
        "cluster CAs + sa key + admin kubeconfig",
        runs,
        cas_and_kubeconfig,
    )?;
    measure(
        "full cluster PKI (CAs, sa, 7 kubeadm leaves) + admin kubeconfig + CAPI secrets",
        runs,
        full_cluster,
    )?;
    Ok(())
}
