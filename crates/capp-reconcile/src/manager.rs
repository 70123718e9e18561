//! The manager around the controllers: health and metrics endpoints, leader election on a
//! Lease, and graceful shutdown. `bins/capp-manager` parses flags, builds the clients and
//! calls [`run`].
//!
//! # Expected Flow
//! 1. `/healthz`, `/readyz` and `/metrics` start serving (plain HTTP, as CAPI providers'
//!    `--health-probe-bind-address` and `--metrics-bind-address`).
//! 2. With leader election, the manager waits to hold the Lease before starting the
//!    controllers; `/readyz` answers 200 only while they run.
//! 3. On `shutdown` (SIGTERM) the controllers finish their in-flight reconciles, the Lease is
//!    released, and `run` returns.
//!
//! # Caveats
//! - Losing the Lease stops the controllers and `run` returns [`ManagerError::LostLease`]:
//!   the process exits and restarts as a candidate, as controller-runtime managers do.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kube_lease_manager::{LeaseCreateMode, LeaseManager, LeaseParams};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::context::Context;
use crate::metrics::Metrics;

/// Lease duration in seconds (controller-runtime's default `LeaseDuration` is 15 s).
pub const LEASE_DURATION_SECONDS: u64 = 15;
/// Grace before a holder's lease is taken over (controller-runtime's `RenewDeadline` is 10 s).
pub const LEASE_GRACE_SECONDS: u64 = 5;
/// The Lease name (the Go provider's leader election ID).
pub const LEASE_NAME: &str = "controller-leader-election-capp";

/// How the manager runs.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// `/metrics` listen address; `None` disables it.
    pub metrics_bind_address: Option<SocketAddr>,
    /// `/healthz` and `/readyz` listen address; `None` disables them.
    pub health_probe_bind_address: Option<SocketAddr>,
    /// Whether to hold a Lease before reconciling.
    pub leader_elect: bool,
    /// Namespace of the Lease.
    pub leader_election_namespace: String,
    /// This replica's identity in the Lease (the pod name).
    pub identity: String,
}

/// Why the manager stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// A listen address could not be bound.
    #[error("failed to listen on {address}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The Lease could not be created or read.
    #[error("leader election on Lease {namespace}/{name} failed")]
    LeaderElection {
        /// Namespace of the Lease.
        namespace: String,
        /// Name of the Lease.
        name: String,
        /// The lease manager's error.
        #[source]
        source: kube_lease_manager::LeaseManagerError,
    },
    /// Another replica took the Lease: this one stopped reconciling.
    #[error("lost the leader election Lease")]
    LostLease,
}

/// Serves the endpoints, elects a leader if asked, and runs the controllers until `shutdown`.
pub async fn run(
    ctx: Arc<Context>,
    options: ManagerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ManagerError> {
    run_with_bootstrap(ctx, options, None, shutdown).await
}

/// [`run`], with the built-in kubeadm bootstrap controller ([`crate::bootstrap`]) running
/// next to the infrastructure controllers when `bootstrap` is set.
pub async fn run_with_bootstrap(
    ctx: Arc<Context>,
    options: ManagerOptions,
    bootstrap: Option<crate::bootstrap::BootstrapSettings>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ManagerError> {
    let ready = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(address) = options.metrics_bind_address {
        let listener = bind(address).await?;
        tokio::spawn(serve(
            listener,
            Endpoints::Metrics(ctx.metrics.clone()),
            stop_rx.clone(),
        ));
    }
    if let Some(address) = options.health_probe_bind_address {
        let listener = bind(address).await?;
        tokio::spawn(serve(
            listener,
            Endpoints::Health(ready.clone()),
            stop_rx.clone(),
        ));
    }
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    let mut leadership = None;
    if options.leader_elect {
        let namespace = options.leader_election_namespace.clone();
        let manager = LeaseManager::new(
            ctx.client.clone(),
            LEASE_NAME,
            namespace.clone(),
            LeaseParams::new(
                options.identity.clone(),
                LEASE_DURATION_SECONDS,
                LEASE_GRACE_SECONDS,
            ),
            LeaseCreateMode::AutoCreate,
        )
        .await
        .map_err(|source| ManagerError::LeaderElection {
            namespace,
            name: LEASE_NAME.to_owned(),
            source,
        })?;
        let (mut leader, task) = manager.watch().await;
        tracing::info!(identity = %options.identity, "Waiting for the leader election Lease");
        let mut stop = stop_rx.clone();
        let elected = tokio::select! {
            _ = leader.wait_for(|l| *l) => true,
            _ = stop.wait_for(|s| *s) => false,
        };
        if !elected {
            drop(leader);
            let _ = task.await;
            return Ok(());
        }
        tracing::info!("Became the leader");
        leadership = Some((leader, task));
    }

    ready.store(true, Ordering::SeqCst);
    let mut stop = stop_rx.clone();
    let lost = Arc::new(AtomicBool::new(false));
    let controllers_stop = {
        let lost = lost.clone();
        let leader = leadership.as_ref().map(|(rx, _)| rx.clone());
        async move {
            match leader {
                Some(mut leader) => {
                    tokio::select! {
                        _ = stop.wait_for(|s| *s) => {}
                        _ = leader.wait_for(|l| !*l) => lost.store(true, Ordering::SeqCst),
                    }
                }
                None => {
                    let _ = stop.wait_for(|s| *s).await;
                }
            }
        }
    };
    match bootstrap {
        Some(settings) => {
            use futures::FutureExt as _;
            let stop = controllers_stop.shared();
            tokio::join!(
                crate::controller::run(ctx.clone(), stop.clone()),
                crate::bootstrap::run(ctx, settings, stop),
            );
        }
        None => crate::controller::run(ctx, controllers_stop).await,
    }
    ready.store(false, Ordering::SeqCst);
    if let Some((leader, task)) = leadership {
        // Dropping the receiver makes the lease manager release the Lease.
        drop(leader);
        let _ = task.await;
    }
    if lost.load(Ordering::SeqCst) {
        return Err(ManagerError::LostLease);
    }
    tracing::info!("Stopped");
    Ok(())
}

async fn bind(address: SocketAddr) -> Result<TcpListener, ManagerError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ManagerError::Bind { address, source })
}

#[derive(Clone)]
enum Endpoints {
    Metrics(Arc<Metrics>),
    Health(Arc<AtomicBool>),
}

fn answer(endpoints: &Endpoints, path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (endpoints, path) {
        (Endpoints::Metrics(metrics), "/metrics") => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.render(),
        ),
        (Endpoints::Health(_), "/healthz") => (StatusCode::OK, "text/plain", "ok".to_owned()),
        (Endpoints::Health(ready), "/readyz") if ready.load(Ordering::SeqCst) => {
            (StatusCode::OK, "text/plain", "ok".to_owned())
        }
        (Endpoints::Health(_), "/readyz") => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "controllers not running".to_owned(),
        ),
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

async fn serve(listener: TcpListener, endpoints: Endpoints, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => return,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let endpoints = endpoints.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let response = answer(&endpoints, request.uri().path());
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_the_controllers_and_metrics_are_prometheus_text() {
        let ready = Arc::new(AtomicBool::new(false));
        let health = Endpoints::Health(ready.clone());
        assert_eq!(answer(&health, "/healthz").status(), StatusCode::OK);
        assert_eq!(
            answer(&health, "/readyz").status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        ready.store(true, Ordering::SeqCst);
        assert_eq!(answer(&health, "/readyz").status(), StatusCode::OK);
        let metrics = Endpoints::Metrics(Arc::new(Metrics::default()));
        let response = answer(&metrics, "/metrics");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()[http::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        assert_eq!(answer(&metrics, "/other").status(), StatusCode::NOT_FOUND);
    }
}
