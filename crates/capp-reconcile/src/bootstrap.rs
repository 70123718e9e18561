//! The built-in kubeadm bootstrap provider: the PacketKubeadmConfig controller.
//!
//! It implements the Cluster API bootstrap contract for Machines whose
//! `spec.bootstrap.configRef` points at a
//! [`PacketKubeadmConfig`](capp_api::bootstrap::PacketKubeadmConfig), with the original Packet
//! provider's design: the node script comes from the machine-config matrix
//! ([`capp_bootstrap::matrix`]), the cluster's CAs live in the CAPI Secrets, and workers get
//! a bootstrap token minted in the workload cluster. `docs/bootstrap.md` is the user guide.
//!
//! # Expected Flow
//! For each PacketKubeadmConfig, once the Machine owns it:
//! 1. Cluster paused → `Paused` condition, nothing else.
//! 2. Data Secret already written → workers keep their token valid until the Machine has a
//!    Node (refresh at half the TTL); the init control plane releases the init lock once the
//!    control plane is initialized. Nothing is rendered again.
//! 3. The Cluster's `spec.controlPlaneEndpoint` is required (`WaitingForControlPlaneEndpoint`).
//! 4. CAs: [`pki::ensure_pki`] reuses `<cluster>-ca`, `-etcd`, `-proxy`, `-sa` or creates
//!    the missing ones once; [`pki::ensure_kubeconfig`] writes `<cluster>-kubeconfig`.
//! 5. Control plane not initialized (Cluster condition, else the workload API has no
//!    `kube-system/kubeadm-config`): workers wait (`WaitingForControlPlaneAvailable`, no
//!    error); control planes take the init lock ([`lock`]); the holder gets `kubeadm init`
//!    userdata with the CAs in `write_files` (`0600` keys), the others wait.
//! 6. Initialized: a bootstrap token is minted in the workload cluster
//!    ([`workload::create_token`]); control planes join with the certificate key, workers
//!    join; both with `caCertHashes`.
//! 7. The data Secret `<config name>` (type `cluster.x-k8s.io/secret`, keys `value` and
//!    `format`, label `cluster.x-k8s.io/cluster-name`, controller owner the config) is
//!    created and `status.dataSecretName`, `ready`, `initialization.dataSecretCreated` set.
//!
//! # Guarantees
//! - CA Secrets are never replaced or regenerated; an unusable one is a
//!   `CertificatesCorrupted` condition.
//! - At most one Machine per cluster holds the init lock; a lock whose Machine is gone is
//!   taken over.
//! - No key, token or userdata appears in logs, events or conditions.

mod controller;
pub mod error;
pub mod lock;
pub mod pki;
mod reconcile;
pub mod render;
pub mod workload;

use std::sync::Arc;
use std::time::Duration;

use capp_bootstrap::MachineConfigMatrix;

pub use controller::run;
pub use error::BootstrapError;

use crate::context::Context;

/// The controller name in metrics and logs.
pub const CONTROLLER: &str = "packetkubeadmconfig";

/// The manager flag naming the matrix ConfigMap (`<namespace>/<name>`).
pub const MATRIX_FLAG: &str = "--bootstrap-matrix-configmap";

/// How often a config waiting for the control plane (or the init lock, or the endpoint)
/// looks again (scaled by the time scale). Cluster and Machine events usually come first.
pub const WAIT_FOR_CONTROL_PLANE: Duration = Duration::from_secs(20);

/// The bootstrap data format written into the data Secret's `format` key.
pub const FORMAT_CLOUD_CONFIG: &str = "cloud-config";

/// The ConfigMap key holding the matrix (the original provider's file name).
pub const MATRIX_KEY: &str = "machine_configs.yaml";

/// Where the matrix comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MatrixSource {
    /// The matrix built into the binary ([`MachineConfigMatrix::default_matrix`]).
    #[default]
    BuiltIn,
    /// The key [`MATRIX_KEY`] of a ConfigMap, read at every reconcile (edits apply to the
    /// next Machines; rendered userdata is never changed).
    ConfigMap {
        /// Namespace of the ConfigMap.
        namespace: String,
        /// Name of the ConfigMap.
        name: String,
    },
}

impl MatrixSource {
    /// Parses the flag value `<namespace>/<name>`.
    pub fn from_flag(value: &str) -> Result<Self, String> {
        match value.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(Self::ConfigMap {
                    namespace: ns.to_owned(),
                    name: name.to_owned(),
                })
            }
            _ => Err(format!(
                "{MATRIX_FLAG} {value:?} must be <namespace>/<name> of a ConfigMap with the key {MATRIX_KEY}"
            )),
        }
    }
}

/// Settings of the bootstrap controller.
#[derive(Debug, Clone)]
pub struct BootstrapSettings {
    /// Where the matrix comes from.
    pub matrix: MatrixSource,
    /// Lifetime of the bootstrap tokens minted for joining nodes (CABPK's
    /// `--bootstrap-token-ttl`, 15 minutes by default). Tokens are refreshed at half of it.
    pub token_ttl: Duration,
    /// Concurrent reconciles.
    pub concurrency: u16,
}

impl Default for BootstrapSettings {
    fn default() -> Self {
        Self {
            matrix: MatrixSource::BuiltIn,
            token_ttl: capp_pki::token::DEFAULT_TOKEN_TTL,
            concurrency: 10,
        }
    }
}

/// What every bootstrap reconcile shares.
pub struct BootstrapContext {
    /// The controllers' context (client, recorder, metrics, core versions, settings).
    pub ctx: Arc<Context>,
    /// This controller's settings.
    pub settings: BootstrapSettings,
    /// The built-in matrix, parsed once.
    pub built_in: Arc<MachineConfigMatrix>,
}

impl std::fmt::Debug for BootstrapContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapContext")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_flag_needs_namespace_and_name() {
        assert_eq!(
            MatrixSource::from_flag("capp-system/machine-configs"),
            Ok(MatrixSource::ConfigMap {
                namespace: "capp-system".to_owned(),
                name: "machine-configs".to_owned()
            })
        );
        for bad in ["machine-configs", "/x", "ns/", "a/b/c"] {
            let err = MatrixSource::from_flag(bad).unwrap_err();
            assert!(
                err.contains(MATRIX_FLAG) && err.contains(MATRIX_KEY),
                "{err}"
            );
        }
    }

    #[test]
    fn secrets_are_never_listed_or_watched() {
        for r in crate::rbac::bootstrap_rules() {
            if r.resources.as_deref() == Some(&["secrets".to_owned()][..]) {
                assert!(!r.verbs.iter().any(|v| v == "list" || v == "watch"));
            }
        }
    }
}
