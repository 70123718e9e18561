//! What goes on the wire: the request line, the headers (token, user agent, consumer token,
//! content type) and the body, as a raw TCP server receives them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed setup step or helper should fail the test"
)]

use std::time::Duration;

use capp_packet::{ClientConfig, CreateDevice, Location, Metal, MetalClient, USER_AGENT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Serves one connection: captures the request (head and declared body), answers `reply`.
async fn capture_one(
    status: &'static str,
    reply: &'static str,
) -> (String, oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metal/v1", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if request.len() >= end + 4 + length || n == 0 {
                    break;
                }
            }
        }
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        );
        stream.write_all(response.as_bytes()).await.unwrap();
        tx.send(String::from_utf8_lossy(&request).to_string())
            .unwrap();
    });
    (url, rx)
}

fn client(url: String) -> MetalClient {
    MetalClient::new(
        ClientConfig::new("wire-token-1")
            .with_base_url(url)
            .with_rate_limit(None)
            .with_request_timeout(Duration::from_secs(5)),
    )
    .unwrap()
}

#[tokio::test]
async fn a_get_carries_the_token_user_agent_and_consumer_token() {
    let (url, request) = capture_one("200 OK", r#"{"id":"d1","hostname":"h"}"#).await;
    let device = client(url).get_device("d1").await.unwrap();
    assert_eq!(device.hostname, "h");
    let request = request.await.unwrap().to_ascii_lowercase();
    assert!(
        request.starts_with("get /metal/v1/devices/d1 http/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains("\r\nx-auth-token: wire-token-1\r\n"),
        "{request}"
    );
    assert!(
        request.contains(&format!(
            "\r\nuser-agent: {}\r\n",
            USER_AGENT.to_ascii_lowercase()
        )),
        "{request}"
    );
    assert!(USER_AGENT.starts_with("capp/0."), "{USER_AGENT}");
    assert!(
        request.contains("\r\nx-consumer-token: capp\r\n"),
        "{request}"
    );
    assert!(
        request.contains("\r\naccept: application/json\r\n"),
        "{request}"
    );
}

#[tokio::test]
async fn a_create_posts_json_with_only_the_fields_set() {
    let (url, request) = capture_one("201 Created", r#"{"id":"d2","state":"queued"}"#).await;
    let mut create =
        CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
    create.tags = vec!["t".into()];
    client(url).create_device("p1", &create).await.unwrap();
    let request = request.await.unwrap();
    let lower = request.to_ascii_lowercase();
    assert!(
        lower.starts_with("post /metal/v1/projects/p1/devices http/1.1\r\n"),
        "{request}"
    );
    assert!(
        lower.contains("\r\ncontent-type: application/json\r\n"),
        "{request}"
    );
    let body = &request[request.find("\r\n\r\n").unwrap() + 4..];
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"metro":"da","plan":"c3.small.x86","operating_system":"ubuntu_24_04","tags":["t"]})
    );
}

#[tokio::test]
async fn a_forced_delete_says_so_in_the_query() {
    let (url, request) = capture_one("204 No Content", "").await;
    client(url).delete_device("d3", true).await.unwrap();
    let request = request.await.unwrap().to_ascii_lowercase();
    assert!(
        request.starts_with("delete /metal/v1/devices/d3?force_delete=true http/1.1\r\n"),
        "{request}"
    );
}
