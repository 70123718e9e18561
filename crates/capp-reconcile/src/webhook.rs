//! The conversion webhook server: HTTPS on `--webhook-port` answering `POST /convert` with
//! [`capp_api::conversion::review::review`], for the API server to convert our objects
//! between `v1beta1` and `v1beta2` (`docs/api-versions.md`).
//!
//! # Expected Flow
//! 1. [`WebhookServer::bind`] loads `tls.crt` / `tls.key` from the certificate directory
//!    (controller-runtime's convention: the cert-manager Secret mounted at
//!    [`DEFAULT_CERT_DIR`]) and binds the port; a missing or broken pair fails here, so the
//!    manager exits at start with the file named.
//! 2. [`WebhookServer::run`] accepts TLS connections (HTTP/1.1) until its stop future
//!    completes, and re-reads the certificate files every [`WebhookOptions::reload_interval`]
//!    ([`certs::CertStore`]): a renewed certificate serves new connections without a restart,
//!    a broken one is logged and ignored.
//! 3. Each `POST /convert` body (at most [`MAX_BODY_BYTES`]) goes to `review`, and the answer
//!    is counted in `capp_conversion_reviews_total{result}`.
//!
//! # Caveats
//! - The webhook serves on every replica, leader or not: the API server calls whichever pod
//!   the Service picks.
//! - Any other path is 404, another method on `/convert` 405, a larger body 413.

pub mod certs;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

pub use certs::{CERT_FILE, CertError, CertStore, KEY_FILE, Reload};

use crate::metrics::{ConversionResult, Metrics};

/// controller-runtime's default webhook port (`--webhook-port`).
pub const DEFAULT_PORT: u16 = 9443;
/// controller-runtime's default certificate directory (`--webhook-cert-dir`).
pub const DEFAULT_CERT_DIR: &str = "/tmp/k8s-webhook-server/serving-certs";
/// The conversion endpoint (the CRDs' `spec.conversion.webhook.clientConfig` path).
pub const CONVERT_PATH: &str = "/convert";
/// Largest request body accepted: the API server's own limit on a request (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;
/// Longest TLS handshake: a client that connects and says nothing does not hold a task.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (for example out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How often the certificate files are checked for a renewal by default.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Where and how the webhook serves.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Listen address (`0.0.0.0:9443` in a pod).
    pub address: SocketAddr,
    /// Directory holding `tls.crt` and `tls.key`.
    pub cert_dir: PathBuf,
    /// How often the certificate files are checked for a renewal.
    pub reload_interval: Duration,
}

impl WebhookOptions {
    /// Serving on all interfaces on `port`, with the certificate from `cert_dir`, checked for
    /// renewal every [`DEFAULT_RELOAD_INTERVAL`].
    #[must_use]
    pub fn new(port: u16, cert_dir: impl Into<PathBuf>) -> Self {
        Self {
            address: SocketAddr::from(([0, 0, 0, 0], port)),
            cert_dir: cert_dir.into(),
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        }
    }
}

/// Why the webhook cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The serving certificate cannot be loaded.
    #[error(
        "no usable webhook serving certificate in --webhook-cert-dir {}: {error}; mount the \
         webhook's serving certificate Secret there (tls.crt, tls.key), or pass \
         --webhook-port 0 to disable the conversion webhook",
        dir.display()
    )]
    Certificate {
        /// The certificate directory.
        dir: PathBuf,
        /// The file that failed, and why (in the message, so not a `source`).
        error: CertError,
    },
    /// The TLS configuration cannot be built.
    #[error("cannot build the webhook's TLS configuration: {0}")]
    Tls(rustls::Error),
    /// The port cannot be bound.
    #[error("cannot listen on --webhook-port {address}: {error}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The socket error.
        error: std::io::Error,
    },
}

/// A bound webhook server, not yet serving.
#[derive(Debug)]
pub struct WebhookServer {
    listener: TcpListener,
    certs: Arc<CertStore>,
    tls: Arc<rustls::ServerConfig>,
    metrics: Arc<Metrics>,
    reload_interval: Duration,
}

impl WebhookServer {
    /// Loads the certificate and binds the port.
    pub async fn bind(
        options: &WebhookOptions,
        metrics: Arc<Metrics>,
    ) -> Result<Self, WebhookError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = Arc::new(
            CertStore::load(&options.cert_dir, provider.clone()).map_err(|error| {
                WebhookError::Certificate {
                    dir: options.cert_dir.clone(),
                    error,
                }
            })?,
        );
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(WebhookError::Tls)?
            .with_no_client_auth()
            .with_cert_resolver(certs.clone());
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let listener =
            TcpListener::bind(options.address)
                .await
                .map_err(|error| WebhookError::Bind {
                    address: options.address,
                    error,
                })?;
        Ok(Self {
            listener,
            certs,
            tls: Arc::new(tls),
            metrics,
            reload_interval: options.reload_interval,
        })
    }

    /// The bound address (the port when bound to port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The certificate store (to force a reload, or see the certificate in use).
    #[must_use]
    pub fn certs(&self) -> Arc<CertStore> {
        self.certs.clone()
    }

    /// Serves until `stop` completes, reloading the certificate files as they change.
    pub async fn run(self, stop: impl Future<Output = ()> + Send) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let certs = self.certs.clone();
        let interval = self.reload_interval.max(Duration::from_millis(10));
        let mut reload_stop = stop_rx;
        let reloader = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {
                        let _ = certs.reload();
                    }
                    _ = reload_stop.wait_for(|s| *s) => return,
                }
            }
        });
        let acceptor = TlsAcceptor::from(self.tls.clone());
        let accept = async {
            loop {
                let stream = match self.listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "Webhook accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let metrics = self.metrics.clone();
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    let Ok(Ok(stream)) = handshake.await else {
                        return;
                    };
                    let service = service_fn(move |request: Request<Incoming>| {
                        let metrics = metrics.clone();
                        async move { Ok::<_, Infallible>(handle(request, &metrics).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        tokio::select! {
            () = accept => {}
            () = stop => {}
        }
        let _ = stop_tx.send(true);
        let _ = reloader.await;
    }
}

async fn handle<B>(request: Request<B>, metrics: &Metrics) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if request.uri().path() != CONVERT_PATH {
        return plain(
            StatusCode::NOT_FOUND,
            "not found; the conversion webhook is POST /convert",
        );
    }
    if request.method() != Method::POST {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST a ConversionReview to /convert",
        );
    }
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            metrics.conversion_review(ConversionResult::Rejected);
            if e.is::<http_body_util::LengthLimitError>() {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the ConversionReview is larger than 3 MiB",
                );
            }
            return plain(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            );
        }
    };
    let answer = capp_api::conversion::review::review(&body);
    metrics.conversion_review(if succeeded(&answer) {
        ConversionResult::Success
    } else {
        ConversionResult::Failure
    });
    let mut response = Response::new(Full::new(Bytes::from(answer)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Whether a `ConversionReview` answer reports `Success`.
fn succeeded(answer: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Review {
        response: Option<ReviewResponse>,
    }
    #[derive(serde::Deserialize)]
    struct ReviewResponse {
        result: Option<ReviewResult>,
    }
    #[derive(serde::Deserialize)]
    struct ReviewResult {
        status: Option<Summary>,
    }
    #[derive(serde::Deserialize, PartialEq)]
    enum Summary {
        Success,
        Failure,
    }
    serde_json::from_slice::<Review>(answer)
        .ok()
        .and_then(|r| r.response?.result?.status)
        == Some(Summary::Success)
}

fn plain(status: StatusCode, message: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(message.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review_body(desired: &str) -> String {
        serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "request": {"uid": "u1", "desiredAPIVersion": desired, "objects": [{
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "PacketMachine",
                "metadata": {"name": "m0", "namespace": "default"},
                "spec": {"os": "ubuntu_24_04", "machineType": "c3.small.x86"}
            }]}
        })
        .to_string()
    }

    async fn call(method: Method, path: &str, body: Vec<u8>, m: &Metrics) -> (StatusCode, Vec<u8>) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = handle(request, m).await;
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body.to_vec())
    }

    #[tokio::test]
    async fn convert_answers_reviews_and_counts_them_by_result() {
        let m = Metrics::default();
        let (status, body) = call(
            Method::POST,
            "/convert",
            review_body("infrastructure.cluster.x-k8s.io/v1beta2").into_bytes(),
            &m,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["response"]["uid"], "u1");
        assert_eq!(
            answer["response"]["convertedObjects"][0]["apiVersion"],
            "infrastructure.cluster.x-k8s.io/v1beta2"
        );
        let (status, body) = call(
            Method::POST,
            "/convert",
            review_body("infrastructure.cluster.x-k8s.io/v9").into_bytes(),
            &m,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a failed conversion is still a review"
        );
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["response"]["result"]["status"], "Failure");
        let text = m.render();
        assert!(
            text.contains("capp_conversion_reviews_total{result=\"success\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("capp_conversion_reviews_total{result=\"failure\"} 1"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn other_paths_methods_and_oversized_bodies_are_refused() {
        let m = Metrics::default();
        assert_eq!(
            call(Method::POST, "/mutate", b"{}".to_vec(), &m).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(Method::GET, "/convert", Vec::new(), &m).await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        let (status, _) = call(Method::POST, "/convert", vec![b' '; MAX_BODY_BYTES + 1], &m).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            m.render()
                .contains("capp_conversion_reviews_total{result=\"rejected\"} 1")
        );
        let (status, body) = call(Method::POST, "/convert", b"\xff not json".to_vec(), &m).await;
        assert_eq!(status, StatusCode::OK);
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["response"]["result"]["status"], "Failure");
    }
}
