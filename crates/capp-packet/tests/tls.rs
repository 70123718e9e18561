//! The client over real HTTPS: a TLS terminator with a certificate from a throwaway private CA
//! (made with rcgen) forwards bytes to an in-process capp-sim, so the simulator answers through
//! the same TLS stack the client uses against the real API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed setup step or helper should fail the test"
)]

#[path = "support/sim.rs"]
mod support;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use capp_packet::{
    BillingCycle, ClientConfig, CreateDevice, Error, Location, Metal, MetalClient, RetryPolicy,
};
use capp_sim::{SimConfig, Simulator};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::PrivateKeyDer;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A private CA and one server certificate it issued.
struct Pki {
    ca_pem: String,
    server_config: Arc<rustls::ServerConfig>,
}

/// A CA, and a server certificate from it for `names` (IP strings become IP SANs). The server
/// offers only `http/1.1` in ALPN, because the simulator behind it speaks HTTP/1.1 only.
fn pki(names: &[&str]) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "capp test private ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let server_cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();

    let mut server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![server_cert.der().clone()],
        PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
    )
    .unwrap();
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Pki {
        ca_pem: ca_cert.pem(),
        server_config: Arc::new(server_config),
    }
}

/// What the TLS terminator saw, one entry per accepted TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Handshake {
    /// Completed; the ALPN protocol agreed on, if any.
    Done(Option<Vec<u8>>),
    /// Failed; the server side's error text.
    Failed(String),
}

type Log = Arc<Mutex<Vec<Handshake>>>;

/// Serves TLS on 127.0.0.1:0 and forwards each connection's plaintext to `backend`. The task
/// dies with the test's runtime.
async fn tls_front(config: Arc<rustls::ServerConfig>, backend: SocketAddr) -> (SocketAddr, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let acceptor = TlsAcceptor::from(config);
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(e) => {
                        seen.lock().unwrap().push(Handshake::Failed(e.to_string()));
                        return;
                    }
                };
                let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                seen.lock().unwrap().push(Handshake::Done(alpn));
                if let Ok(mut sim) = TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut sim).await;
                }
            });
        }
    });
    (addr, log)
}

/// The terminator's log once it has `n` entries: the server side may record a failed handshake
/// a moment after the client gave up. Gives up waiting after 5 s and returns what is there.
async fn settled(log: &Log, n: usize) -> Vec<Handshake> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = log.lock().unwrap().clone();
        if now.len() >= n || tokio::time::Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// A simulator behind a TLS terminator using `pki`, and the `https://` base URL with `host`.
async fn https_sim(pki: &Pki, host: &str) -> (Simulator, String, Log) {
    let sim = Simulator::start(SimConfig::for_tests()).await.unwrap();
    support::add_test_key(&sim);
    let (front, log) = tls_front(Arc::clone(&pki.server_config), sim.addr()).await;
    let base_url = format!("https://{host}:{}/metal/v1", front.port());
    (sim, base_url, log)
}

fn config(sim: &Simulator, base_url: &str) -> ClientConfig {
    support::config_for(sim).with_base_url(base_url)
}

fn request(machine: &str) -> CreateDevice {
    let mut r = CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
    r.hostname = Some(machine.to_owned());
    r.billing_cycle = Some(BillingCycle::Hourly);
    r.tags = support::tags(machine);
    r
}

#[tokio::test]
async fn with_the_private_ca_added_the_client_works_over_https_to_an_ip_address() {
    let pki = pki(&["127.0.0.1", "localhost"]);
    let (sim, base_url, log) = https_sim(&pki, "127.0.0.1").await;
    let client = MetalClient::new(
        config(&sim, &base_url)
            .with_extra_root_certificates(&pki.ca_pem)
            .unwrap(),
    )
    .unwrap();
    let project = sim.default_project_id().to_owned();

    let read = client.get_project(&project).await.unwrap();
    assert_eq!(read.id, project);
    let created = client
        .create_device(&project, &request("tls-0"))
        .await
        .unwrap();
    assert_eq!(created.hostname, "tls-0");
    let listed = client.list_devices(&project).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        [created.id.as_str()]
    );
    assert_eq!(
        sim.operation_count("createDevice"),
        1,
        "the create reached the simulator exactly once, through the terminator"
    );

    let log = log.lock().unwrap().clone();
    assert!(!log.is_empty());
    assert!(
        log.iter()
            .all(|h| *h == Handshake::Done(Some(b"http/1.1".to_vec()))),
        "every connection completed TLS and agreed on http/1.1 by ALPN: {log:?}"
    );
    assert!(
        log.len() <= 3,
        "the three calls shared pooled connections: {log:?}"
    );
}

#[tokio::test]
async fn with_the_private_ca_added_the_client_works_over_https_to_localhost() {
    let pki = pki(&["localhost"]);
    let (sim, base_url, log) = https_sim(&pki, "localhost").await;
    let client = MetalClient::new(
        config(&sim, &base_url)
            .with_extra_root_certificates(&pki.ca_pem)
            .unwrap(),
    )
    .unwrap();
    let project = sim.default_project_id().to_owned();
    assert_eq!(client.get_project(&project).await.unwrap().id, project);
    assert!(matches!(
        log.lock().unwrap().first(),
        Some(Handshake::Done(_))
    ));
}

#[tokio::test]
async fn without_the_private_ca_the_handshake_fails_as_a_connect_error_that_was_not_applied() {
    let pki = pki(&["127.0.0.1"]);
    let (sim, base_url, log) = https_sim(&pki, "127.0.0.1").await;
    let attempts = 3;
    let client = MetalClient::new(config(&sim, &base_url).with_retry(RetryPolicy {
        max_attempts: attempts,
        ..support::fast_retry()
    }))
    .unwrap();
    let project = sim.default_project_id().to_owned();

    let err = client
        .create_device(&project, &request("tls-untrusted"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport { connect: true, .. }),
        "a failed handshake is a failure while connecting: {err:?}"
    );
    assert!(
        !err.may_have_been_applied(),
        "nothing was sent before the handshake failed"
    );
    // An untrusted certificate stays untrusted: the client gives up after one handshake
    // instead of spending its retry budget.
    assert!(err.is_certificate_rejected(), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(client.stats().attempts_of("createDevice"), 1);
    assert_eq!(sim.operation_count("createDevice"), 0);
    assert!(sim.devices().is_empty(), "no device was created");

    let chain = error_chain(&err);
    assert!(
        chain.contains("UnknownIssuer") || chain.contains("unknown issuer"),
        "the cause names the untrusted issuer: {chain}"
    );
    let log = settled(&log, 1).await;
    assert!(
        matches!(log.as_slice(), [Handshake::Failed(_)]),
        "the server saw one aborted handshake: {log:?}"
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_rejected_even_from_the_trusted_ca() {
    let pki = pki(&["metal.internal.example"]);
    let (sim, base_url, log) = https_sim(&pki, "127.0.0.1").await;
    let client = MetalClient::new(
        config(&sim, &base_url)
            .with_retry(RetryPolicy {
                max_attempts: 1,
                ..support::fast_retry()
            })
            .with_extra_root_certificates(&pki.ca_pem)
            .unwrap(),
    )
    .unwrap();

    let err = client
        .get_project(sim.default_project_id())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport { connect: true, .. }),
        "{err:?}"
    );
    assert!(!err.may_have_been_applied());
    assert!(
        err.is_certificate_rejected() && !err.is_retryable(),
        "{err:?}"
    );
    let chain = error_chain(&err);
    assert!(
        chain.contains("NotValidForName") || chain.contains("not valid for name"),
        "the cause says the certificate is for another name: {chain}"
    );
    assert_eq!(sim.operation_count("findProjectById"), 0);
    let log = settled(&log, 1).await;
    assert!(matches!(log.as_slice(), [Handshake::Failed(_)]), "{log:?}");
}

#[test]
fn https_to_a_loopback_address_is_accepted_and_plain_http_elsewhere_is_not() {
    assert!(
        MetalClient::new(ClientConfig::new("t").with_base_url("https://127.0.0.1:1/x")).is_ok()
    );
    let err = MetalClient::new(ClientConfig::new("t").with_base_url("http://10.0.0.1/metal/v1"))
        .unwrap_err();
    assert!(matches!(err, Error::Config(m) if m.contains("use https")));
}

#[test]
fn a_file_that_is_not_a_ca_certificate_is_refused_with_the_field_name_and_the_fix() {
    let key_only = KeyPair::generate().unwrap().serialize_pem();
    for (pem, says) in [
        ("", "no -----BEGIN CERTIFICATE----- block"),
        (key_only.as_str(), "no -----BEGIN CERTIFICATE----- block"),
        (
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "malformed",
        ),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "not a usable CA certificate",
        ),
    ] {
        let err = ClientConfig::new("t")
            .with_extra_root_certificates(pem)
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(text.contains("extra_root_certificates"), "{text}");
        assert!(text.contains(says), "{pem:?} gave {text}");
    }
}

#[test]
fn several_ca_certificates_can_be_added_and_debug_shows_only_their_count() {
    let a = pki(&["localhost"]).ca_pem;
    let b = pki(&["localhost"]).ca_pem;
    let config = ClientConfig::new("s3cr3t")
        .with_extra_root_certificates(format!("{a}{b}"))
        .unwrap()
        .with_extra_root_certificates(&a)
        .unwrap();
    assert_eq!(config.extra_root_certificates().len(), 3);
    let shown = format!("{config:?}");
    assert!(shown.contains("3 certificate(s)"), "{shown}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(!shown.contains("BEGIN"), "{shown}");
}

/// The error and its sources, joined, for asserting on the cause.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{err} / {err:?}");
    let mut source = err.source();
    while let Some(e) = source {
        write!(text, " <- {e} / {e:?}").unwrap();
        source = e.source();
    }
    text
}
