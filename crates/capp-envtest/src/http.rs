//! Plain-HTTP health probes (the managers' `--health-addr`).

use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::Result;
use crate::process::Process;

/// Polls `url` until it answers 200, while `process` keeps running.
pub(crate) async fn wait_http_ok(
    url: &str,
    process: &mut Process,
    timeout: Duration,
) -> Result<()> {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let deadline = Instant::now() + timeout;
    loop {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| process.not_ready(&format!("{url}: {e}")))?;
        let last = match client.get(uri).await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => {
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                    .unwrap_or_default();
                format!("{status}: {body}")
            }
            Err(e) => e.to_string(),
        };
        if process.exited().is_some() || Instant::now() > deadline {
            return Err(process.not_ready(&format!("GET {url}: {last}")));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
