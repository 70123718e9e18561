//! An in-process Kubernetes API test server (envtest) that kube-rs and real kubectl accept.
//!
//! [`TestEnv::start`] binds `127.0.0.1:0` and serves the Kubernetes REST API over HTTPS (a
//! CA and serving certificate are generated per server) or plain HTTP. Objects live in memory;
//! watches stream; CRDs are served as soon as they are created and their objects are admitted
//! through their `openAPIV3Schema` (pruning, defaulting, validation, CEL). Built-in kinds are
//! decoded through their `k8s_openapi` types. Optional RBAC enforcement authorises every
//! request against the stored Roles and bindings.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use capp_testenv::{Config, Gvr, Identity, TestEnv};
//!
//! let env = TestEnv::start(Config::default().with_rbac(true)).await?;
//! env.apply_manifest("apiVersion: v1\nkind: Namespace\nmetadata: {name: capp-system}\n").await?;
//! let admin = env.client()?; // a kube::Client, authenticated as the admin
//! let kubeconfig = env.kubeconfig_path(); // for `kubectl --kubeconfig`
//! let manager = env.client_for(&Identity::service_account("capp-system", "manager"))?;
//! let ns = env.get_object(&Gvr::new("", "v1", "namespaces"), None, "capp-system").await;
//! # let _ = (admin, kubeconfig, manager, ns);
//! env.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The module [`schema`] is usable on its own: CRD schema admission and the structural-schema
//! check of the apiextensions rules.
//! What is and is not emulated is listed in `docs/testenv.md`.

mod builtin;
pub mod capi; // EMULATION of the Cluster API core controllers (dev mode, tests).
mod env;
mod events;
mod fault;
#[cfg(test)]
mod fuzz_tests;
mod http;
mod identity;
mod names;
mod openapi;
mod patch;
mod protobuf;
mod rbac;
mod registry;
pub mod schema;
mod selector;
mod server;
pub mod status;
mod store;
mod table;
mod tls;
mod util;
mod watch;

pub use env::{Config, Gvr, TestEnv};
pub use fault::Fault;
pub use identity::Identity;
pub use status::ApiError;

/// Errors from starting and driving a [`TestEnv`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding or inspecting the loopback listener failed.
    #[error("failed to bind the test server to 127.0.0.1")]
    Bind(#[source] std::io::Error),
    /// Generating the CA, serving or client certificate, or rendering a kubeconfig with
    /// them failed.
    #[error("failed to generate TLS material")]
    Pki(#[source] capp_pki::Error),
    /// Building the rustls server configuration failed (the CA certificate, the client
    /// verifier or the serving key was refused).
    #[error("failed to configure TLS")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// Creating a file or directory under the server's temporary directory failed.
    #[error("failed to write {path}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Rendering a kubeconfig or client configuration failed.
    #[error("failed to build a client configuration")]
    Kubeconfig(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The server does not serve `customresourcedefinitions` (apiextensions.k8s.io/v1), so
    /// CustomResourceDefinitions cannot be installed.
    #[error("the server does not serve customresourcedefinitions.apiextensions.k8s.io/v1")]
    CrdResourceNotServed,
    /// Building a `kube::Client` failed.
    #[error("failed to build a kube client")]
    Client(#[source] kube::Error),
    /// An object given to [`TestEnv::install_crds`] could not be serialised to JSON.
    #[error("the CustomResourceDefinition could not be serialised to JSON")]
    Serialize(#[source] serde_json::Error),
    /// The server rejected a CustomResourceDefinition.
    #[error("the server rejected CustomResourceDefinition {name}")]
    CrdRejected {
        /// The CRD name.
        name: String,
        /// The API error (422 Invalid with causes, usually).
        #[source]
        source: ApiError,
    },
    /// A manifest given to [`TestEnv::apply_manifest`] is not valid YAML.
    #[error("the manifest is not valid YAML: {0}")]
    ManifestParse(String),
    /// The server rejected an object of a manifest (or no resource serves its kind).
    #[error("object {index} ({name}) of the manifest was rejected")]
    ManifestObject {
        /// Position of the document in the manifest (0-based).
        index: usize,
        /// `metadata.name` of the object.
        name: String,
        /// The API error.
        #[source]
        source: ApiError,
    },
    /// A CustomResourceDefinition was stored but is not established (for example a name
    /// conflict).
    #[error("CustomResourceDefinition {name} is not established: {message}")]
    CrdNotEstablished {
        /// The CRD name.
        name: String,
        /// Its conditions.
        message: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
