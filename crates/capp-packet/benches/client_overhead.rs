//! Client overhead per call: `GET /devices/{id}` against an in-process capp-sim, through
//! `MetalClient` (headers, rate limiter, counters, retries bookkeeping, JSON decoding into
//! `Device`) versus a bare hyper client that only collects the bytes.
//!
//! Run with `cargo bench -p capp-packet --bench client_overhead`; `BENCH_CALLS=N` changes the
//! number of sequential calls per variant (default 3000).

#![allow(clippy::print_stdout, reason = "a bench binary prints its figures")]
#![allow(
    clippy::cast_precision_loss,
    reason = "call counts are far below 2^52; figures are printed with one decimal"
)]

use std::error::Error;
use std::time::{Duration, Instant};

use bytes::Bytes;
use capp_packet::{ClientConfig, CreateDevice, Location, Metal, MetalClient, RateLimit};
use capp_sim::{SimConfig, Simulator};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

type Raw = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

struct Figures {
    mean: Duration,
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

/// Samples of one variant, gathered over several interleaved rounds.
#[derive(Default)]
struct Series {
    samples: Vec<Duration>,
    wall: Duration,
}

impl Series {
    fn figures(&self) -> Figures {
        figures(self.samples.clone(), self.wall)
    }
}

fn figures(mut samples: Vec<Duration>, wall: Duration) -> Figures {
    samples.sort();
    let n = samples.len().max(1);
    let total: Duration = samples.iter().sum();
    Figures {
        mean: total / u32::try_from(n).unwrap_or(u32::MAX),
        p50: samples[n / 2],
        p99: samples[(n * 99 / 100).min(n - 1)],
        per_second: n as f64 / wall.as_secs_f64(),
    }
}

fn show(label: &str, f: &Figures) {
    println!(
        "{label:<44} mean {:>7.1} us  p50 {:>7.1} us  p99 {:>7.1} us  {:>8.0} calls/s",
        f.mean.as_secs_f64() * 1e6,
        f.p50.as_secs_f64() * 1e6,
        f.p99.as_secs_f64() * 1e6,
        f.per_second
    );
}

async fn raw_get(raw: &Raw, url: &str, token: &str) -> Result<usize, Box<dyn Error>> {
    let request = http::Request::get(url)
        .header("x-auth-token", token)
        .header("accept", "application/json")
        .body(Full::new(Bytes::new()))?;
    let response = raw.request(request).await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(body.len())
}

async fn sequential_raw(
    raw: &Raw,
    url: &str,
    token: &str,
    calls: usize,
    series: &mut Series,
) -> Result<(), Box<dyn Error>> {
    let wall = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        raw_get(raw, url, token).await?;
        series.samples.push(t.elapsed());
    }
    series.wall += wall.elapsed();
    Ok(())
}

async fn sequential_raw_decoded(
    raw: &Raw,
    url: &str,
    token: &str,
    calls: usize,
    series: &mut Series,
) -> Result<(), Box<dyn Error>> {
    let wall = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        let request = http::Request::get(url)
            .header("x-auth-token", token)
            .header("accept", "application/json")
            .body(Full::new(Bytes::new()))?;
        let body = raw
            .request(request)
            .await?
            .into_body()
            .collect()
            .await?
            .to_bytes();
        let device: capp_packet::Device = serde_json::from_slice(&body)?;
        std::hint::black_box(device);
        series.samples.push(t.elapsed());
    }
    series.wall += wall.elapsed();
    Ok(())
}

async fn sequential_client(
    client: &MetalClient,
    id: &str,
    calls: usize,
    series: &mut Series,
) -> Result<(), Box<dyn Error>> {
    let wall = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        client.get_device(id).await?;
        series.samples.push(t.elapsed());
    }
    series.wall += wall.elapsed();
    Ok(())
}

async fn concurrent_client(
    client: &MetalClient,
    id: &str,
    tasks: usize,
    calls: usize,
) -> Result<f64, Box<dyn Error>> {
    let wall = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let c = client.clone();
            let id = id.to_owned();
            tokio::spawn(async move {
                for _ in 0..calls / tasks {
                    c.get_device(&id).await?;
                }
                Ok::<_, capp_packet::Error>(())
            })
        })
        .collect();
    for h in handles {
        h.await??;
    }
    Ok((calls / tasks * tasks) as f64 / wall.elapsed().as_secs_f64())
}

/// The JSON decoding share: one device body decoded into `Device` many times.
async fn decode_alone(raw: &Raw, url: &str, token: &str) -> Result<(), Box<dyn Error>> {
    let body = raw_get(raw, url, token).await?;
    let bytes = {
        let request = http::Request::get(url)
            .header("x-auth-token", token)
            .body(Full::new(Bytes::new()))?;
        raw.request(request)
            .await?
            .into_body()
            .collect()
            .await?
            .to_bytes()
    };
    let decodes = 20_000;
    let t = Instant::now();
    for _ in 0..decodes {
        let d: capp_packet::Device = serde_json::from_slice(&bytes)?;
        std::hint::black_box(d);
    }
    let per = t.elapsed() / decodes;
    println!(
        "decode of one {body} B Device body alone: {:.1} us",
        per.as_secs_f64() * 1e6
    );

    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let sim = Simulator::start(SimConfig::for_tests()).await?;
        let config = ClientConfig::new(sim.token())
            .with_base_url(sim.base_url())
            .with_rate_limit(None);
        let client = MetalClient::new(config.clone())?;
        let mut request =
            CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
        request.tags = vec!["capp:cluster-id:bench".into()];
        request.hostname = Some("bench-0".into());
        // The simulated project has no SSH key, and the API refuses a keyless device.
        request.no_ssh_keys = Some(true);
        let device = client
            .create_device(sim.default_project_id(), &request)
            .await?;
        sim.finish_provisioning();
        let url = format!("{}/devices/{}", sim.base_url(), device.id);
        let body_bytes = sim
            .device_json(&device.id)
            .map(|v| v.to_string().len())
            .unwrap_or_default();

        let raw: Raw = Client::builder(TokioExecutor::new()).build_http();
        let limited = MetalClient::new(config.clone().with_rate_limit(Some(RateLimit {
            per_second: 1e9,
            burst: 1_000_000,
        })))?;
        // Warm-up: connections, allocator, the sim's caches.
        let mut warm = Series::default();
        sequential_raw(&raw, &url, sim.token(), 200, &mut warm).await?;
        sequential_client(&client, &device.id, 200, &mut warm).await?;
        sequential_client(&limited, &device.id, 200, &mut warm).await?;

        // Interleaved rounds, so load from other processes hits every variant alike.
        let (mut raw_s, mut decoded_s, mut client_s, mut limited_s) = (
            Series::default(),
            Series::default(),
            Series::default(),
            Series::default(),
        );
        let round = 250.min(calls);
        for _ in 0..calls.div_ceil(round) {
            sequential_raw(&raw, &url, sim.token(), round, &mut raw_s).await?;
            sequential_raw_decoded(&raw, &url, sim.token(), round, &mut decoded_s).await?;
            sequential_client(&client, &device.id, round, &mut client_s).await?;
            sequential_client(&limited, &device.id, round, &mut limited_s).await?;
        }
        println!(
            "GET /devices/{{id}} against capp-sim on loopback, {} sequential calls per variant \
             in interleaved rounds of {round}, device body ~{body_bytes} B",
            raw_s.samples.len()
        );
        let raw_f = raw_s.figures();
        show("raw hyper (bytes only)", &raw_f);
        let decoded_f = decoded_s.figures();
        show("raw hyper + serde decode into Device", &decoded_f);
        let client_f = client_s.figures();
        show("MetalClient::get_device (decoded Device)", &client_f);
        let limited_f = limited_s.figures();
        show("MetalClient with a (non-binding) rate limiter", &limited_f);
        println!(
            "rate limiter cost: {:+.1} us p50",
            (limited_f.p50.as_secs_f64() - client_f.p50.as_secs_f64()) * 1e6
        );
        // Signed differences: on a busy 2-core machine the means are noisy; p50 is the figure
        // to quote.
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "client overhead per call vs bytes only: {:+.1} us p50, {:+.1} us mean",
            us(client_f.p50) - us(raw_f.p50),
            us(client_f.mean) - us(raw_f.mean),
        );
        println!(
            "client overhead per call vs raw + decode: {:+.1} us p50, {:+.1} us mean \
             (headers, timeout, body cap, counters, retry loop)",
            us(client_f.p50) - us(decoded_f.p50),
            us(client_f.mean) - us(decoded_f.mean),
        );

        decode_alone(&raw, &url, sim.token()).await?;

        for tasks in [8, 32] {
            let rate = concurrent_client(&client, &device.id, tasks, calls).await?;
            println!("MetalClient, {tasks} concurrent tasks: {rate:.0} calls/s");
        }
        let stats = client.stats();
        println!(
            "client counters: {} attempts, {} retries",
            stats.total(),
            stats.retries
        );
        sim.shutdown().await;
        Ok(())
    })
}
