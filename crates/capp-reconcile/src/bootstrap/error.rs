//! The bootstrap controller's error type: what this layer was doing, the cause as
//! `#[source]`, a bounded condition reason, and the transient/terminal split.

use capp_api::bootstrap as reasons;

/// What can go wrong while reconciling a PacketKubeadmConfig.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// A call to the management cluster's API server failed.
    #[error("failed to {action}")]
    Kube {
        /// What was being done, e.g. `"create the bootstrap data Secret"`.
        action: &'static str,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// A call to the workload cluster's API server failed (token, initialization probe).
    #[error("workload cluster {cluster}: failed to {action}")]
    Workload {
        /// `namespace/name` of the Cluster.
        cluster: String,
        /// What was being done.
        action: &'static str,
        /// The client error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A CA Secret exists but cannot be used. It is never replaced: fix or delete it.
    #[error(
        "CA Secret {namespace}/{name} cannot be used; fix it or delete it to let a new CA be created (only before the cluster exists)"
    )]
    CertificatesCorrupted {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// Why it cannot be used.
        #[source]
        source: capp_pki::Error,
    },
    /// Generating key material failed.
    #[error("failed to generate {what}")]
    Pki {
        /// What was being generated.
        what: &'static str,
        /// The PKI error.
        #[source]
        source: capp_pki::Error,
    },
    /// The matrix has no entry for this Machine (the message lists what exists).
    #[error("{message}")]
    MachineConfigNotFound {
        /// The query and the entries that exist.
        message: String,
    },
    /// The spec, the Machine or the matrix cannot produce userdata; the message names the
    /// field and the fix.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field, e.g. `spec.os`.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Rendering the userdata failed.
    #[error("failed to render the userdata")]
    Render {
        /// The renderer's error.
        #[source]
        source: capp_bootstrap::Error,
    },
}

impl BootstrapError {
    /// Wraps a kube error with what was being done.
    pub(crate) fn kube(action: &'static str) -> impl FnOnce(kube::Error) -> BootstrapError {
        move |source| BootstrapError::Kube { action, source }
    }

    /// The bounded condition reason of this error.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            BootstrapError::Kube { .. } | BootstrapError::Workload { .. } => {
                reasons::DATA_SECRET_GENERATION_FAILED_REASON
            }
            BootstrapError::CertificatesCorrupted { .. } => reasons::CERTIFICATES_CORRUPTED_REASON,
            BootstrapError::Pki { .. } => reasons::CERTIFICATES_GENERATION_FAILED_REASON,
            BootstrapError::MachineConfigNotFound { .. } => {
                reasons::MACHINE_CONFIG_NOT_FOUND_REASON
            }
            BootstrapError::Invalid { .. } | BootstrapError::Render { .. } => {
                reasons::INVALID_CONFIGURATION_REASON
            }
        }
    }

    /// The condition type this error is reported on.
    #[must_use]
    pub fn condition(&self) -> &'static str {
        match self {
            BootstrapError::CertificatesCorrupted { .. } | BootstrapError::Pki { .. } => {
                reasons::CERTIFICATES_AVAILABLE
            }
            _ => reasons::DATA_SECRET_AVAILABLE,
        }
    }

    /// Whether retrying cannot help without a change to the objects (or the matrix).
    #[must_use]
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            BootstrapError::CertificatesCorrupted { .. }
                | BootstrapError::MachineConfigNotFound { .. }
                | BootstrapError::Invalid { .. }
                | BootstrapError::Render { .. }
        )
    }
}
