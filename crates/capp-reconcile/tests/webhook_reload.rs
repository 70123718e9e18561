//! The conversion webhook server over real TLS, with its certificate directory laid out and
//! renewed as kubelet does for a mounted Secret (`capp_envtest::webhook::ServingCerts`):
//!
//! - a client trusting CA A is served certificate A, and `POST /convert` converts;
//! - after cert B (a new CA) is swapped in through `..data`, a new connection is served B
//!   (and a client trusting only A is refused) while the same server task keeps running on
//!   the same port;
//! - a truncated certificate, or a key that does not fit it, is ignored: B keeps serving;
//! - without `tls.crt`, the server does not start and the error names the flag and the file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use capp_envtest::webhook::ServingCerts;
use capp_reconcile::metrics::Metrics;
use capp_reconcile::webhook::{WebhookOptions, WebhookServer};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const RELOAD: Duration = Duration::from_millis(50);

/// Connects trusting only `ca_pem`; the DER of the certificate the server presented.
async fn presented(address: SocketAddr, ca_pem: &str) -> Result<Vec<u8>, String> {
    let stream = connect(address, ca_pem).await?;
    let certs = stream
        .get_ref()
        .1
        .peer_certificates()
        .ok_or("no certificate")?;
    Ok(certs[0].to_vec())
}

async fn connect(
    address: SocketAddr,
    ca_pem: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())
}

/// One `POST /convert` over a fresh connection; the response's status line and body.
async fn convert(address: SocketAddr, ca_pem: &str, body: &str) -> (String, String) {
    let mut stream = connect(address, ca_pem).await.unwrap();
    let request = format!(
        "POST /convert HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

async fn eventually_presented(address: SocketAddr, ca_pem: &str, want: &[u8]) {
    let started = Instant::now();
    loop {
        if presented(address, ca_pem)
            .await
            .is_ok_and(|der| der == want)
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the renewed certificate was not served within 10 s"
        );
        tokio::time::sleep(RELOAD).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_serves_new_connections_without_a_restart() {
    let mut certs = ServingCerts::issue().unwrap();
    let metrics = Arc::new(Metrics::default());
    let options = WebhookOptions {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        cert_dir: certs.dir().to_owned(),
        reload_interval: RELOAD,
    };
    let server = WebhookServer::bind(&options, metrics.clone())
        .await
        .unwrap();
    let address = server.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stop_rx.await;
    }));

    // A.
    let ca_a = certs.ca_pem().to_owned();
    let leaf_a = certs.leaf_der().to_vec();
    assert_eq!(presented(address, &ca_a).await.unwrap(), leaf_a);
    let review = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
        "request": {"uid": "r1", "desiredAPIVersion": "infrastructure.cluster.x-k8s.io/v1beta2",
            "objects": [{"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "PacketCluster",
                "metadata": {"name": "c", "namespace": "default"},
                "spec": {"projectID": "p", "metro": "sv"},
                "status": {"ready": true, "failureDomains": {"sv": {"controlPlane": true}}}}]}
    })
    .to_string();
    let (status, body) = convert(address, &ca_a, &review).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        answer["response"]["convertedObjects"][0]["status"]["failureDomains"],
        serde_json::json!([{"name": "sv", "controlPlane": true}])
    );

    // B, swapped in as kubelet does: new connections get it, A is no longer trusted.
    certs.renew().unwrap();
    let ca_b = certs.ca_pem().to_owned();
    let leaf_b = certs.leaf_der().to_vec();
    assert_ne!(leaf_a, leaf_b);
    eventually_presented(address, &ca_b, &leaf_b).await;
    let refused = presented(address, &ca_a).await;
    assert!(
        refused.is_err(),
        "a client trusting only A still connected: {refused:?}"
    );

    // Broken pairs: B keeps serving.
    let (crt_b, key_b) = certs.pair();
    certs.swap_in(&crt_b[..crt_b.len() / 2], &key_b).unwrap();
    tokio::time::sleep(RELOAD * 6).await;
    assert_eq!(
        presented(address, &ca_b).await.unwrap(),
        leaf_b,
        "truncated tls.crt"
    );
    certs.swap_in(&ca_b, &key_b).unwrap();
    tokio::time::sleep(RELOAD * 6).await;
    assert_eq!(
        presented(address, &ca_b).await.unwrap(),
        leaf_b,
        "a tls.key that does not fit tls.crt"
    );

    // The same server, never restarted, answered every request above.
    assert!(!task.is_finished(), "the server task ended");
    let (status, _) = convert(address, &ca_b, &review).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        metrics
            .render()
            .contains("capp_conversion_reviews_total{result=\"success\"} 2"),
        "{}",
        metrics.render()
    );
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the server stops")
        .unwrap();
}

#[tokio::test]
async fn missing_certificate_files_fail_the_start_naming_the_flag_and_the_file() {
    let certs = ServingCerts::issue().unwrap();
    std::fs::remove_file(certs.dir().join("tls.crt")).unwrap();
    let options = WebhookOptions::new(0, certs.dir());
    let error = WebhookServer::bind(&options, Arc::new(Metrics::default()))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("--webhook-cert-dir"), "{error}");
    assert!(error.contains("tls.crt"), "{error}");
    assert!(error.contains("--webhook-port 0"), "{error}");
}
