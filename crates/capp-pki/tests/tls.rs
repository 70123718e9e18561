//! A rustls server presenting an issued apiserver certificate is accepted by a client that
//! trusts only our CA and rejected by a client that trusts another CA; with client
//! authentication on, the admin client certificate is accepted and a foreign one refused.
//! Everything runs on 127.0.0.1 with an ephemeral port.

#![allow(
    clippy::unwrap_used,
    reason = "helpers of an integration test: a failure is a test failure"
)]

use std::sync::Arc;

use capp_pki::secrecy::ExposeSecret;
use capp_pki::{ApiServerSans, ClusterPki, ClusterPkiOptions, IssuedCertificate};
use jiff::Timestamp;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pki(seed: u64) -> ClusterPki {
    ClusterPki::generate(
        &ClusterPkiOptions::default(),
        Timestamp::now(),
        &mut StdRng::seed_from_u64(seed),
    )
    .unwrap()
}

fn apiserver_cert(pki: &ClusterPki) -> IssuedCertificate {
    let sans = ApiServerSans::new("cp-0", "127.0.0.1".parse().unwrap());
    pki.apiserver(&sans, Timestamp::now(), &mut StdRng::seed_from_u64(1))
        .unwrap()
}

fn cert_der(issued: &IssuedCertificate) -> CertificateDer<'static> {
    CertificateDer::from(issued.certificate.der().to_vec())
}

fn key_der(issued: &IssuedCertificate) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_slice(issued.key_pem().expose_secret().as_bytes()).unwrap()
}

fn roots(pki: &ClusterPki) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.ca.certificate().der().to_vec()))
        .unwrap();
    roots
}

/// Serves one TLS connection (echoing one line) and returns the handshake result.
async fn serve_once(config: ServerConfig) -> (u16, tokio::task::JoinHandle<Result<(), String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        tls.write_all(&buf).await.map_err(|e| e.to_string())?;
        tls.shutdown().await.map_err(|e| e.to_string())?;
        Ok(())
    });
    (port, handle)
}

/// Connects, sends `hello` and expects it echoed back.
async fn connect(port: u16, config: ClientConfig, server_name: &str) -> Result<(), String> {
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(server_name.to_owned()).map_err(|e| e.to_string())?;
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"hello").await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 5];
    tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    if &buf == b"hello" {
        Ok(())
    } else {
        Err("echo mismatch".to_owned())
    }
}

fn server_config(pki: &ClusterPki, client_auth: bool) -> ServerConfig {
    let leaf = apiserver_cert(pki);
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if client_auth {
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots(pki)), provider())
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    builder
        .with_single_cert(vec![cert_der(&leaf)], key_der(&leaf))
        .unwrap()
}

fn client_builder(
    trusted: &ClusterPki,
) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(trusted))
}

#[tokio::test]
async fn a_client_trusting_only_our_ca_accepts_the_apiserver_certificate() {
    let ours = pki(1);
    for name in ["kubernetes.default.svc", "cp-0", "127.0.0.1"] {
        let (port, server) = serve_once(server_config(&ours, false)).await;
        let client = client_builder(&ours).with_no_client_auth();
        connect(port, client, name).await.unwrap();
        server.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_client_trusting_another_ca_rejects_the_apiserver_certificate() {
    let ours = pki(1);
    let other = pki(2);
    let (port, server) = serve_once(server_config(&ours, false)).await;
    let client = client_builder(&other).with_no_client_auth();
    let err = connect(port, client, "kubernetes.default.svc")
        .await
        .unwrap_err();
    // Both CAs are called `kubernetes`, so webpki tries the other CA and the signature
    // check fails (BadSignature); with distinct names it would be UnknownIssuer.
    assert!(
        err.contains("invalid peer certificate")
            && (err.contains("BadSignature") || err.contains("UnknownIssuer")),
        "{err}"
    );
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn a_client_trusting_a_differently_named_ca_reports_an_unknown_issuer() {
    let ours = pki(1);
    let stranger = capp_pki::CertificateAuthority::generate(
        &capp_pki::CaOptions::new("someone-else"),
        Timestamp::now(),
        &mut StdRng::seed_from_u64(9),
    )
    .unwrap();
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(stranger.certificate().der().to_vec()))
        .unwrap();
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let (port, server) = serve_once(server_config(&ours, false)).await;
    let err = connect(port, client, "kubernetes").await.unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn a_name_outside_the_sans_is_rejected_even_with_the_right_ca() {
    let ours = pki(1);
    let (port, server) = serve_once(server_config(&ours, false)).await;
    let client = client_builder(&ours).with_no_client_auth();
    let err = connect(port, client, "evil.example.com").await.unwrap_err();
    assert!(err.contains("not valid for name"), "{err}");
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn the_server_accepts_our_admin_client_certificate_and_refuses_a_foreign_one() {
    let ours = pki(1);
    let admin = ours
        .admin_client(Timestamp::now(), &mut StdRng::seed_from_u64(3))
        .unwrap();
    let (port, server) = serve_once(server_config(&ours, true)).await;
    let client = client_builder(&ours)
        .with_client_auth_cert(vec![cert_der(&admin)], key_der(&admin))
        .unwrap();
    connect(port, client, "kubernetes").await.unwrap();
    server.await.unwrap().unwrap();

    let other = pki(2);
    let foreign = other
        .admin_client(Timestamp::now(), &mut StdRng::seed_from_u64(4))
        .unwrap();
    let (port, server) = serve_once(server_config(&ours, true)).await;
    let client = client_builder(&ours)
        .with_client_auth_cert(vec![cert_der(&foreign)], key_der(&foreign))
        .unwrap();
    // TLS 1.3: the client learns of the rejection when it reads.
    assert!(connect(port, client, "kubernetes").await.is_err());
    let server_err = server.await.unwrap().unwrap_err();
    assert!(
        server_err.contains("invalid peer certificate")
            && (server_err.contains("BadSignature") || server_err.contains("UnknownIssuer")),
        "{server_err}"
    );
}
