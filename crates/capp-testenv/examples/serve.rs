//! Runs a test server for manual poking with kubectl: prints the admin kubeconfig path and
//! serves for the given number of seconds (default 600), on the given port (default: a free
//! one).
//!
//! `cargo run -p capp-testenv --example serve -- [seconds] [port]`

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use capp_testenv::{Config, TestEnv};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let secs = args.next().and_then(|s| s.parse().ok()).unwrap_or(600);
    let port = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let config = Config::default().with_bind_address(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    let env = TestEnv::start(config).await?;
    eprintln!("KUBECONFIG={}", env.kubeconfig_path().display());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    env.shutdown().await;
    Ok(())
}
