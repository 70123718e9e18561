//! Simulator throughput: `GET /devices/{id}` requests per second with N concurrent
//! keep-alive connections, through a minimal raw hyper client.
//!
//! Run: `cargo bench -p capp-sim --bench throughput` (release). `BENCH_SECONDS` sets the
//! measuring time per concurrency level (default 3), `BENCH_CONNECTIONS` a comma-separated
//! list of concurrency levels (default `1,8,32`).

// A benchmark binary: printing figures is its output and a failed setup should stop it loudly.
#![allow(
    clippy::expect_used,
    clippy::print_stdout,
    reason = "benchmark binary: prints figures, aborts on setup failure"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use capp_sim::{SimConfig, Simulator};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: std::net::SocketAddr) -> Sender {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

async fn send(
    sender: &mut Sender,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<String>,
) -> (u16, Bytes) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1")
        .header("x-auth-token", token)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .expect("request");
    sender.ready().await.expect("ready");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, bytes)
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let levels: Vec<u32> = std::env::var("BENCH_CONNECTIONS").ok().map_or_else(
        || vec![1, 8, 32],
        |s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let sim = Simulator::start(SimConfig::for_tests()).await.expect("start");
        let token = sim.token().to_owned();
        let addr = sim.addr();
        let mut setup = connect(addr).await;
        let project = sim.default_project_id().to_owned();
        // A few devices so the state is not trivially empty.
        let mut id = String::new();
        for n in 0..20 {
            let body = format!(
                r#"{{"metro":"da","plan":"c3.small.x86","operating_system":"ubuntu_24_04","hostname":"bench-{n}","tags":["bench"],"no_ssh_keys":true}}"#
            );
            let (status, bytes) = send(
                &mut setup,
                "POST",
                &format!("/metal/v1/projects/{project}/devices"),
                &token,
                Some(body),
            )
            .await;
            assert_eq!(status, 201);
            let value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            value["id"].as_str().expect("id").clone_into(&mut id);
        }
        sim.finish_provisioning();
        let uri = Arc::new(format!("/metal/v1/devices/{id}"));
        println!("capp-sim throughput: GET /devices/{{id}} (20 devices, request log on), {seconds} s per level");
        for connections in levels {
            let stop = Arc::new(AtomicBool::new(false));
            let count = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for _ in 0..connections {
                let (stop, count, uri, token) =
                    (Arc::clone(&stop), Arc::clone(&count), Arc::clone(&uri), token.clone());
                let mut sender = connect(addr).await;
                tasks.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let (status, _) = send(&mut sender, "GET", &uri, &token, None).await;
                        assert_eq!(status, 200);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
            let started = Instant::now();
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                t.await.expect("task");
            }
            let elapsed = started.elapsed().as_secs_f64();
            let total = count.load(Ordering::Relaxed);
            let total_f = f64::from(u32::try_from(total).unwrap_or(u32::MAX));
            let rate = total_f / elapsed;
            println!(
                "  {connections:>3} connections: {rate:>9.0} requests/s ({total} requests, {:.1} us/request/connection)",
                elapsed * 1e6 * f64::from(connections) / total_f.max(1.0)
            );
        }
        sim.shutdown().await;
    });
}
