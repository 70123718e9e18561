//! The crate's error type.

use std::net::SocketAddr;

/// Errors of the twin's own machinery. A device whose kubeadm run kubeadm would refuse is not
/// an error: it is an [`Outcome::Refused`](crate::Outcome::Refused).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Starting the capp-testenv instance behind a workload API failed.
    #[error("failed to start the workload API server")]
    TestEnv(#[source] capp_testenv::Error),
    /// An address of a workload API (the control-plane endpoint or a device address) could
    /// not be bound.
    #[error("failed to listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error (address in use, not a local address...).
        #[source]
        source: std::io::Error,
    },
    /// Issuing a certificate from the cluster CA failed.
    #[error("failed to issue a certificate from the cluster CA")]
    Pki(#[source] capp_pki::Error),
    /// Building the TLS configuration of a workload API failed.
    #[error("failed to configure TLS for the workload API")]
    Tls(#[source] rustls::Error),
    /// A request to a workload API failed.
    #[error("a request to the workload API failed")]
    Kube(#[source] kube::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
