//! An EMULATION of the Cluster API core controllers (`cluster.x-k8s.io` v1beta1), for dev mode
//! and tests where only cargo exists.
//!
//! This is not Cluster API. It reproduces the part of the upstream core controllers
//! (kubernetes-sigs/cluster-api v1.10, `internal/controllers/{cluster,machine,machineset,
//! machinedeployment}` and `controllers/external`) that the infrastructure and bootstrap
//! provider contracts rely on, so a provider can be exercised end to end without the Go
//! binaries. Each step cites, in a comment, the upstream function it mirrors; a later suite
//! compares the objects produced here with those of the real controllers, so the emulation
//! aims to be faithful rather than complete. What is and is not emulated is listed in
//! `docs/testenv.md`, section "Cluster API core emulation".
//!
//! The controllers are kube-runtime [`kube::runtime::Controller`]s driven by a
//! [`kube::Client`]: they run against [`TestEnv`](crate::TestEnv) or any API server that
//! serves the Cluster API CRDs (`capi_types::core_crds`).
//!
//! ```no_run
//! # async fn demo(env: &capp_testenv::TestEnv) -> Result<(), Box<dyn std::error::Error>> {
//! use capp_testenv::capi::{CoreEmulation, Options};
//!
//! env.install_crds(&capi_types::core_crds()).await?;
//! let core = CoreEmulation::start(env.client()?, Options::default());
//! // ... apply Clusters, Machines, MachineDeployments; play the providers ...
//! core.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Caveats
//! - Referenced provider objects (infrastructure, bootstrap) and workload-cluster Nodes are
//!   polled every [`Options::poll_interval`] instead of watched.
//! - Admission defaulting of the upstream webhooks (`internal/webhooks`) is applied by the
//!   controllers on their first pass, since no webhook runs here.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use tokio::task::JoinHandle;

mod cluster;
mod external;
mod machine;
mod machine_deployment;
mod machine_set;
mod object;
mod workload;

/// Finalizer of the emulated MachineSet controller (`MachineSetFinalizer`).
pub const MACHINE_SET_FINALIZER: &str = "cluster.x-k8s.io/machineset";
/// Finalizer of the emulated MachineDeployment controller (`MachineDeploymentFinalizer`).
pub const MACHINE_DEPLOYMENT_FINALIZER: &str = "cluster.x-k8s.io/machinedeployment";
/// Label carrying the MachineDeployment's template identity on its MachineSets and Machines
/// (`MachineDeploymentUniqueLabel`).
pub const MACHINE_TEMPLATE_HASH_LABEL: &str = "machine-template-hash";
/// Annotation: revision of a MachineSet within its MachineDeployment (`RevisionAnnotation`).
pub const REVISION_ANNOTATION: &str = "machinedeployment.clusters.x-k8s.io/revision";
/// Annotation: the MachineDeployment's desired replicas (`DesiredReplicasAnnotation`).
pub const DESIRED_REPLICAS_ANNOTATION: &str =
    "machinedeployment.clusters.x-k8s.io/desired-replicas";
/// Annotation: desired replicas plus max surge (`MaxReplicasAnnotation`).
pub const MAX_REPLICAS_ANNOTATION: &str = "machinedeployment.clusters.x-k8s.io/max-replicas";

/// How the emulated controllers run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// How often an object is reconciled again when nothing it watches changed (default 1 s):
    /// the emulation polls provider objects and workload Nodes instead of watching them.
    pub poll_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl Options {
    /// Sets [`Options::poll_interval`].
    #[must_use]
    pub fn with_poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }
}

/// Errors of one reconcile pass of an emulated controller. They are logged and the object is
/// reconciled again after [`Options::poll_interval`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request to the management API server failed.
    #[error("failed to {action}")]
    Kube {
        /// What was being done, e.g. `get Cluster default/prod`.
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// A request to a workload cluster's API server failed.
    #[error("failed to {action} in the workload cluster {cluster}")]
    Workload {
        /// `namespace/name` of the Cluster.
        cluster: String,
        /// What was being done.
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// An object does not satisfy the Cluster API contract (a missing reference, a field of
    /// the wrong type...). The message names the field and the fix.
    #[error("{0}")]
    Invalid(String),
    /// An object could not be converted to or from JSON.
    #[error("failed to convert {what} to or from JSON")]
    Json {
        /// The object.
        what: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// The workload cluster's kubeconfig Secret could not be used.
    #[error("the kubeconfig Secret {secret} cannot be used: {message}")]
    Kubeconfig {
        /// `namespace/name` of the Secret.
        secret: String,
        /// Why.
        message: String,
    },
    /// Generating the admin kubeconfig from the cluster CA failed.
    #[error("failed to generate the kubeconfig of Cluster {cluster}")]
    Pki {
        /// `namespace/name` of the Cluster.
        cluster: String,
        /// The PKI error.
        #[source]
        source: capp_pki::Error,
    },
}

impl Error {
    /// Whether the error is an optimistic-concurrency conflict (retried quietly).
    fn is_conflict(&self) -> bool {
        matches!(self, Error::Kube { source: kube::Error::Api(status), .. } if status.code == 409)
    }
}

/// State shared by the emulated controllers.
pub(crate) struct Context {
    pub(crate) client: kube::Client,
    pub(crate) options: Options,
    pub(crate) discovery: external::Discovery,
    pub(crate) workload: workload::WorkloadClients,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("options", &self.options)
            .field("discovery", &self.discovery)
            .field("workload", &self.workload)
            .finish_non_exhaustive()
    }
}

/// The running emulation: the Cluster, MachineDeployment, MachineSet and Machine controllers.
///
/// Dropping the handle stops the controllers; [`CoreEmulation::shutdown`] also waits for them.
#[derive(Debug)]
pub struct CoreEmulation {
    tasks: Vec<JoinHandle<()>>,
}

impl CoreEmulation {
    /// Starts the four controllers on the current Tokio runtime. They watch all namespaces.
    #[must_use]
    pub fn start(client: kube::Client, options: Options) -> CoreEmulation {
        let ctx = Arc::new(Context {
            discovery: external::Discovery::default(),
            workload: workload::WorkloadClients::default(),
            client,
            options,
        });
        let tasks = vec![
            tokio::spawn(cluster::run(ctx.clone())),
            tokio::spawn(machine_deployment::run(ctx.clone())),
            tokio::spawn(machine_set::run(ctx.clone())),
            tokio::spawn(machine::run(ctx)),
        ];
        CoreEmulation { tasks }
    }

    /// Stops the controllers and waits until they have stopped.
    pub async fn shutdown(mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for CoreEmulation {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A watcher configuration for the emulated controllers (all namespaces, all objects).
fn watch_config() -> watcher::Config {
    watcher::Config::default().any_semantic()
}

/// The error policy of every emulated controller: log, then retry after the poll interval
/// (upstream controller-runtime requeues with rate-limited backoff).
#[allow(
    clippy::needless_pass_by_value,
    reason = "the signature kube-runtime's Controller::run requires"
)]
fn error_policy<K>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action
where
    K: kube::Resource,
{
    let name = obj.meta().name.as_deref().unwrap_or_default();
    if error.is_conflict() {
        tracing::debug!(object = name, "Conflict, retrying");
    } else {
        tracing::warn!(object = name, error = %error, source = ?std::error::Error::source(error), "Reconcile failed");
    }
    Action::requeue(ctx.options.poll_interval)
}

/// Drives a controller until aborted, discarding per-object outcomes (errors are logged by
/// [`error_policy`]).
async fn drive<K, S>(stream: S)
where
    S: futures::Stream<Item = K>,
{
    stream.for_each(|_| async {}).await;
}

/// Runs `controller` with `reconcile` and the shared error policy.
async fn run_controller<K, F, Fut>(controller: Controller<K>, ctx: Arc<Context>, reconcile: F)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    F: FnMut(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    drive(controller.run(reconcile, error_policy, ctx)).await;
}
