//! Runs a test server for manual poking with kubectl: prints the admin kubeconfig path and
//! serves for the given number of seconds (default 600).

use std::time::Duration;

use capp_testenv::{Config, TestEnv};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let env = TestEnv::start(Config::default()).await?;
    eprintln!("KUBECONFIG={}", env.kubeconfig_path().display());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    env.shutdown().await;
    Ok(())
}
