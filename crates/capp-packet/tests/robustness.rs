//! A raw TCP server answering garbage, truncated, mislabelled, huge or no responses: the client
//! returns a clean error every time, never panics and never hangs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed setup step or helper should fail the test"
)]

use std::sync::Arc;
use std::time::Duration;

use capp_packet::{ClientConfig, Error, Metal, MetalClient, RetryPolicy};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fake server does with each connection.
#[derive(Clone)]
enum Behaviour {
    /// Write these bytes, then close.
    Reply(Vec<u8>),
    /// Write headers announcing a chunked JSON body, then `total` bytes of it.
    Flood { total: usize },
    /// Read the request and say nothing.
    Silent,
}

async fn serve(behaviour: Behaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let behaviour = Arc::new(behaviour);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream, Arc::clone(&behaviour)));
        }
    });
    format!("http://{addr}/metal/v1")
}

async fn handle(mut stream: TcpStream, behaviour: Arc<Behaviour>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    match &*behaviour {
        Behaviour::Reply(bytes) => {
            let _ = stream.write_all(bytes).await;
            let _ = stream.shutdown().await;
        }
        Behaviour::Flood { total } => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < *total {
                let frame = [
                    format!("{:x}\r\n", chunk.len()).into_bytes(),
                    chunk.clone(),
                    b"\r\n".to_vec(),
                ]
                .concat();
                if stream.write_all(&frame).await.is_err() {
                    return;
                }
                sent += chunk.len();
            }
        }
        Behaviour::Silent => tokio::time::sleep(Duration::from_secs(30)).await,
    }
}

fn client(base_url: String) -> MetalClient {
    MetalClient::new(
        ClientConfig::new("t")
            .with_base_url(base_url)
            .with_retry(RetryPolicy::never())
            .with_rate_limit(None)
            .with_request_timeout(Duration::from_millis(500))
            .with_max_body_bytes(1024 * 1024),
    )
    .unwrap()
}

async fn get_device_from(behaviour: Behaviour) -> Error {
    let url = serve(behaviour).await;
    let result = tokio::time::timeout(Duration::from_secs(5), client(url).get_device("d1"))
        .await
        .expect("the client never hangs past its own timeout");
    result.expect_err("a broken answer is an error")
}

fn response(status: &str, content_type: &str, body: &[u8]) -> Behaviour {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    Behaviour::Reply([head.as_bytes(), body].concat())
}

#[tokio::test]
async fn garbage_json_in_a_success_is_a_decode_error() {
    let e = get_device_from(response("200 OK", "application/json", b"{\"id\": [tru")).await;
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    assert!(e.may_have_been_applied());
}

#[tokio::test]
async fn a_success_labelled_html_is_a_content_type_error() {
    let e = get_device_from(response("200 OK", "text/html", b"<html>hello</html>")).await;
    assert!(matches!(e, Error::ContentType { .. }), "{e:?}");
}

#[tokio::test]
async fn a_body_cut_short_of_its_content_length_is_a_transport_error() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
    let e = get_device_from(Behaviour::Reply(
        [head.as_bytes(), b"{\"id\":\"d1\""].concat(),
    ))
    .await;
    assert!(
        matches!(e, Error::Transport { connect: false, .. }),
        "{e:?}"
    );
    assert!(e.is_retryable());
    assert!(e.may_have_been_applied());
}

#[tokio::test]
async fn a_declared_huge_body_is_refused_without_reading_it() {
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4294967296\r\n\r\n";
    let e = get_device_from(Behaviour::Reply(head.as_bytes().to_vec())).await;
    assert!(
        matches!(
            e,
            Error::BodyTooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_endless_chunked_body_stops_at_the_cap() {
    let e = get_device_from(Behaviour::Flood {
        total: 8 * 1024 * 1024,
    })
    .await;
    assert!(matches!(e, Error::BodyTooLarge { .. }), "{e:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let e = get_device_from(Behaviour::Silent).await;
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn bytes_that_are_not_http_are_a_transport_error() {
    let e = get_device_from(Behaviour::Reply(b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec())).await;
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
}

#[tokio::test]
async fn an_intermediarys_html_error_page_is_a_retryable_api_error() {
    let e = get_device_from(response(
        "502 Bad Gateway",
        "text/html",
        b"<html>502</html>",
    ))
    .await;
    assert!(e.is_server_error() && e.is_retryable(), "{e:?}");
    assert!(!e.api().unwrap().body_was_json());
}

#[tokio::test]
async fn a_refused_connection_was_not_applied() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metal/v1", listener.local_addr().unwrap());
    drop(listener);
    let e = client(url).get_device("d1").await.unwrap_err();
    assert!(matches!(e, Error::Transport { connect: true, .. }), "{e:?}");
    assert!(!e.may_have_been_applied());
}

#[tokio::test]
async fn random_responses_never_panic_the_client() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for round in 0..48 {
        let len = rng.random_range(0..600);
        let noise: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let bytes = match round % 3 {
            0 => noise,
            1 => [
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n".as_slice(),
                &noise,
            ]
            .concat(),
            _ => {
                let status = rng.random_range(100..600);
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n\r\n",
                    noise.len()
                );
                [head.as_bytes(), &noise].concat()
            }
        };
        let url = serve(Behaviour::Reply(bytes)).await;
        let c = client(url);
        let outcome = tokio::time::timeout(Duration::from_secs(5), c.list_devices("p1")).await;
        assert!(outcome.is_ok(), "round {round} hung");
    }
}
