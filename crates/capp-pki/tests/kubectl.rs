//! The real `kubectl` reads our admin kubeconfig (contexts, users, embedded data) and uses it
//! to talk to a loopback TLS server that serves our apiserver certificate and requires a
//! client certificate from our CA: the whole trust setup works end to end.

#![allow(
    clippy::unwrap_used,
    reason = "helpers of an integration test: a failure is a test failure"
)]

#[path = "support/openssl.rs"]
mod support;

use std::process::Command;
use std::sync::Arc;

use capp_pki::secrecy::ExposeSecret;
use capp_pki::{ApiServerSans, ClusterPki, ClusterPkiOptions, Kubeconfig};
use jiff::Timestamp;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use support::{TempDir, tool_available};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

fn kubectl_available(test: &str) -> bool {
    tool_available("kubectl", &["version", "--client"], test)
}

fn kubectl(dir: &TempDir, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(dir.path().join("kubeconfig"))
        .args(args)
        .env("HOME", dir.path())
        .output()
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn kubectl_reads_the_admin_kubeconfig() {
    if !kubectl_available("kubectl_reads_the_admin_kubeconfig") {
        return;
    }
    let now = Timestamp::now();
    let mut rng = StdRng::seed_from_u64(21);
    let pki = ClusterPki::generate(&ClusterPkiOptions::default(), now, &mut rng).unwrap();
    let kubeconfig = pki
        .admin_kubeconfig("demo", "https://api.demo.example.com:6443", now, &mut rng)
        .unwrap();
    let dir = TempDir::new("kubectl-view");
    dir.write("kubeconfig", kubeconfig.to_yaml().unwrap().expose());

    let ctx = stdout(&kubectl(&dir, &["config", "current-context"]));
    assert_eq!(ctx.trim(), "demo-admin@demo");
    let server = stdout(&kubectl(
        &dir,
        &[
            "config",
            "view",
            "-o",
            "jsonpath={.clusters[?(@.name==\"demo\")].cluster.server}",
        ],
    ));
    assert_eq!(server, "https://api.demo.example.com:6443");
    let user = stdout(&kubectl(
        &dir,
        &[
            "config",
            "view",
            "-o",
            "jsonpath={.contexts[0].context.user}",
        ],
    ));
    assert_eq!(user, "demo-admin");
    // Without --raw kubectl redacts the embedded data, with --raw it is ours byte for byte.
    let redacted = stdout(&kubectl(&dir, &["config", "view"]));
    assert!(
        redacted.contains("client-key-data: DATA+OMITTED"),
        "{redacted}"
    );
    let key = stdout(&kubectl(
        &dir,
        &[
            "config",
            "view",
            "--raw",
            "-o",
            "jsonpath={.users[0].user.client-key-data}",
        ],
    ));
    let yaml: serde_json::Value =
        serde_saphyr::from_str(kubeconfig.to_yaml().unwrap().expose()).unwrap();
    assert_eq!(
        key,
        yaml["users"][0]["user"]["client-key-data"]
            .as_str()
            .unwrap()
    );

    // What kubectl (client-go) writes back, with `preferences: {}` and its own key order,
    // parses into the same kubeconfig.
    let raw = stdout(&kubectl(&dir, &["config", "view", "--raw"]));
    assert!(raw.contains("preferences: {}"), "{raw}");
    assert_eq!(Kubeconfig::from_yaml(&raw).unwrap(), kubeconfig);
}

type Seen = Vec<(Option<String>, String)>;

/// A loopback "apiserver": TLS with our serving cert, client certificates from our CA
/// required. Returns its port and a task yielding (client CN, request line) per request.
async fn fake_apiserver(
    pki: &ClusterPki,
    serving: &capp_pki::IssuedCertificate,
) -> (u16, tokio::task::JoinHandle<Result<Seen, String>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.ca.certificate().der().to_vec()))
        .unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(serving.certificate.der().to_vec())],
            PrivateKeyDer::from_pem_slice(serving.key_pem().expose_secret().as_bytes()).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    // kubectl may ask for /version before the real request; serve connections until
    // /healthz has been answered, recording each client's CN and request line.
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
            let peer_cn = {
                let (_, conn) = tls.get_ref();
                let der = conn.peer_certificates().unwrap()[0].to_vec();
                capp_pki::Certificate::from_der(der, "peer")
                    .unwrap()
                    .common_name()
                    .map(str::to_owned)
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = tls.read(&mut buf).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let request = String::from_utf8_lossy(&request).into_owned();
            let line = request.lines().next().unwrap_or_default().to_owned();
            let (body, kind) = if line.starts_with("GET /version") {
                (
                    r#"{"major":"1","minor":"33","gitVersion":"v1.33.0"}"#,
                    "application/json",
                )
            } else {
                ("ok", "text/plain")
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            tls.write_all(response.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            tls.shutdown().await.map_err(|e| e.to_string())?;
            let done = line.starts_with("GET /healthz");
            seen.push((peer_cn, line));
            if done || seen.len() > 5 {
                return Ok::<_, String>(seen);
            }
        }
    });

    (port, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_trusts_our_apiserver_certificate_and_authenticates_with_the_admin_certificate() {
    if !kubectl_available("kubectl_trusts_our_apiserver_certificate") {
        return;
    }
    let now = Timestamp::now();
    let mut rng = StdRng::seed_from_u64(22);
    let pki = ClusterPki::generate(&ClusterPkiOptions::default(), now, &mut rng).unwrap();
    let serving = pki
        .apiserver(
            &ApiServerSans::new("cp-0", "127.0.0.1".parse().unwrap()),
            now,
            &mut rng,
        )
        .unwrap();

    let (port, server) = fake_apiserver(&pki, &serving).await;

    let kubeconfig = pki
        .admin_kubeconfig("demo", &format!("https://127.0.0.1:{port}"), now, &mut rng)
        .unwrap();
    let dir = TempDir::new("kubectl-tls");
    dir.write("kubeconfig", kubeconfig.to_yaml().unwrap().expose());
    let out = tokio::task::spawn_blocking(move || {
        let out = kubectl(&dir, &["get", "--raw", "/healthz", "--request-timeout=10s"]);
        drop(dir);
        out
    })
    .await
    .unwrap();
    // If kubectl gave up early the server would wait forever; bound it.
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .map_err(|_| "server still waiting for /healthz".to_owned())
        .and_then(|joined| joined.unwrap());
    assert!(
        out.status.success(),
        "kubectl failed: {}; server: {outcome:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    let seen = outcome.unwrap();
    assert!(
        seen.last().unwrap().1.starts_with("GET /healthz"),
        "{seen:?}"
    );
    for (peer_cn, line) in &seen {
        assert_eq!(peer_cn.as_deref(), Some("kubernetes-admin"), "{line}");
    }
}
