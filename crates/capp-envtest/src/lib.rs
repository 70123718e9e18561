//! Test support: a real management cluster built from upstream Go modules.
//!
//! `upstream/build` compiles kube-apiserver, kube-controller-manager and etcd (Kubernetes
//! v1.36) and the three Cluster API managers (v1.14) from their Go modules into a cache outside
//! the work tree. This crate runs them the way controller-runtime's envtest does:
//!
//! - [`Binaries`] finds the build (`CAPP_UPSTREAM_BIN_DIR`, else the links `upstream/build`
//!   keeps in `$CAPP_UPSTREAM_CACHE/bin`); [`Binaries::require`] skips a test loudly when
//!   they are absent and fails it under `CI=true`.
//! - [`ControlPlane`] starts etcd, kube-apiserver (RBAC, client certificates, service-account
//!   keys, all from [`capp_pki`]) and, optionally, kube-controller-manager with only the
//!   garbage-collector and namespace controllers, on free loopback ports; it hands out a
//!   [`kube::Client`], an admin kubeconfig and client certificates for other identities.
//! - [`ControlPlane::install_crds`] installs CustomResourceDefinitions and waits until they
//!   are established.
//! - [`CapiManagers`] installs the Cluster API CRDs and starts the core, kubeadm bootstrap and
//!   kubeadm control-plane managers with their webhooks wired as envtest wires them (one CA,
//!   `url:` client configurations, conversion webhooks on every CAPI CRD).
//! - [`webhook`]: the same stand-in for capp's own conversion webhook (serving certificates
//!   in a kubelet-style Secret directory, renewed by a `..data` swap, and the components'
//!   CRDs pointed at `https://127.0.0.1:<port>/convert`).
//!
//! Every process is stopped on [`ControlPlane::shutdown`] or on drop. Their logs stay in a
//! temporary directory that is removed on success and kept (and its path printed, with the
//! last lines of each log) when a test panics.
//!
//! ```no_run
//! # async fn demo() -> Result<(), capp_envtest::Error> {
//! use capp_envtest::{Binaries, CapiManagers, ControlPlane, ControlPlaneOptions};
//!
//! let Some(bins) = Binaries::require() else { return Ok(()) }; // skipped loudly
//! let cp = ControlPlane::start(&bins, ControlPlaneOptions::default()).await?;
//! let capi = CapiManagers::start(&cp, &bins).await?;
//! let client = cp.client(); // admin (system:masters)
//! # let _ = (client, capi);
//! cp.shutdown();
//! # Ok(())
//! # }
//! ```

mod binaries;
mod capi;
mod controlplane;
mod crds;
mod http;
mod kubectl;
mod process;
pub mod webhook;
mod workdir;

use std::path::PathBuf;

pub use binaries::{BIN_DIR_ENV, Binaries, CACHE_ENV, require};
pub use capi::{CapiManagers, CapiPart};
pub use controlplane::{ADMIN_USER, ControlPlane, ControlPlaneOptions};
pub use crds::{crd_name, load_yaml_documents};
pub use kubectl::{KubectlOutput, kubectl, kubectl_path};

/// Errors from finding the binaries, starting the processes and installing objects.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A binary is missing; run `upstream/build` or set `CAPP_UPSTREAM_BIN_DIR`.
    #[error(
        "upstream binary {name} not found in {dir}: run `upstream/build` (or set {BIN_DIR_ENV} to a folder holding the binaries)"
    )]
    MissingBinary {
        /// The binary's name (`kube-apiserver`, `capi-core`, ...).
        name: String,
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// Reading or writing a file (or binding a probe port) failed.
    #[error("I/O on {path} failed")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A process could not be started.
    #[error("failed to start {name}")]
    Spawn {
        /// The process name.
        name: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A process exited or did not become ready in time; `log` holds the last lines of its log.
    #[error("{name} did not become ready: {reason}\n--- last lines of {name}'s log ---\n{log}")]
    NotReady {
        /// The process name.
        name: String,
        /// What was waited for.
        reason: String,
        /// The end of its log.
        log: String,
    },
    /// Generating certificates or rendering a kubeconfig failed.
    #[error("generating a certificate or rendering a kubeconfig failed")]
    Pki(#[source] capp_pki::Error),
    /// Reading a kubeconfig or building the kube client from it failed.
    #[error("kube client: {0}")]
    Kubeconfig(String),
    /// A request to the API server failed.
    #[error("{what} failed")]
    Api {
        /// What the request did.
        what: String,
        /// The error.
        #[source]
        source: kube::Error,
    },
    /// A manifest is not what was expected (bad YAML, a CRD without a name, ...).
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest file (or a description of the object).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A CRD did not become established in time.
    #[error("CRD {name} was not established within {seconds}s: {conditions}")]
    NotEstablished {
        /// The CRD name.
        name: String,
        /// The timeout.
        seconds: u64,
        /// The CRD's last conditions.
        conditions: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
