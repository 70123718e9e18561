//! Typed Cluster API (`cluster.x-k8s.io` v1beta1, plus the v1beta2 Cluster and Machine) kinds
//! and contract helpers for kube-rs.
//!
//! - Kinds, one module each, generated with `#[derive(CustomResource)]` from the fields of
//!   upstream CAPI v1.10: [`cluster::Cluster`], [`machine::Machine`],
//!   [`machine_set::MachineSet`], [`machine_deployment::MachineDeployment`], the kubeadm
//!   bootstrap kinds in [`bootstrap`] and the kubeadm control plane kinds in [`control_plane`].
//!   Optional fields are `Option`s and empty lists are omitted, so objects read from the API
//!   server serialise back without gaining or losing fields.
//! - Contract helpers, all pure functions (no API calls, no clock reads): label and annotation
//!   names ([`labels`]), [`is_paused`] and friends ([`predicates`]), owner lookup
//!   ([`owner`]), v1beta1 conditions with severity and the `Ready` summary ([`conditions`]),
//!   [`addresses`] and [`failure_domains`]. Everything here is provider-agnostic; the Equinix
//!   Metal provider ID (`equinixmetal://`) lives with the provider's own kinds in `capp-api`.
//! - [`crds`] returns every CRD this crate defines, e.g. for test environments.
//! - [`v1beta2`] has the `cluster.x-k8s.io/v1beta2` [`Cluster`](v1beta2::Cluster) and
//!   [`Machine`](v1beta2::Machine) (the fields a provider reads or a test writes) and CRDs
//!   that serve them as `v1beta2` ([`v1beta2::crds`], [`v1beta2::served_crds`]), so test
//!   environments can serve core objects as Cluster API v1.11+ does.
//!
//! # Guarantees
//! - Every property of the generated CRDs exists in the upstream CAPI v1.10 `v1beta1` schema
//!   with the same type, `enum`, list/map type, value constraints and no stricter `required`
//!   list; every upstream property is either modelled or kept verbatim (tests `schema.rs`,
//!   `round_trip.rs`).
//! - Secrets in kubeadm configuration (bootstrap tokens, passwords) print as `[REDACTED]` in
//!   `Debug` output ([`bootstrap::Sensitive`]).
//! - As upstream, no kind requires `spec`: a missing or `null` spec parses as the zero
//!   value (`Spec::default()`), and the generated schemas do not list it as required
//!   ([`optional_spec!`]).
//!
//! # Caveats
//! - The v1beta2 conditions (`status.v1beta2.conditions`) use k8s-openapi's `metav1.Condition`,
//!   whose schema has no `enum`, lengths or patterns; all other value constraints (`maxLength`,
//!   `maxItems`, `minimum`, `pattern`, formats) are those of upstream.
//! - Kept verbatim as free-form JSON rather than typed: `extraEnvs[].valueFrom`
//!   (`corev1.EnvVarSource`), `joinConfiguration.discovery.file.kubeConfig` and ClusterClass
//!   variable values.
//! - [`conditions`] moves `lastTransitionTime` only on status changes (the Kubernetes
//!   convention); CAPI v1beta1 also moves it when reason or message change.
//!
//! ```
//! use capi_types::conditions::{Conditions, Severity, INFRASTRUCTURE_READY, READY};
//! use capi_types::machine::Machine;
//! use capi_types::owner::owner_cluster;
//!
//! let machine: Machine = serde_json::from_value(serde_json::json!({
//!     "apiVersion": "cluster.x-k8s.io/v1beta1",
//!     "kind": "Machine",
//!     "metadata": {
//!         "name": "prod-md-0-abcde",
//!         "namespace": "default",
//!         "ownerReferences": [{
//!             "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
//!             "name": "prod", "uid": "6b1c3e0a"
//!         }]
//!     },
//!     "spec": {
//!         "clusterName": "prod",
//!         "bootstrap": {"dataSecretName": "prod-md-0-abcde"},
//!         "infrastructureRef": {
//!             "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
//!             "kind": "PacketMachine", "name": "prod-md-0-abcde"
//!         },
//!         "version": "v1.32.3"
//!     }
//! }))?;
//! assert_eq!(owner_cluster(&machine)?.map(|r| r.name.as_str()), Some("prod"));
//! assert_eq!(machine.bootstrap_data_secret_name(), Some("prod-md-0-abcde"));
//!
//! let now: jiff::Timestamp = "2025-01-01T00:00:00Z".parse()?;
//! let mut status = machine.status.clone().unwrap_or_default();
//! status.mark_false(INFRASTRUCTURE_READY, "WaitingForDevice", Severity::Info, "device is provisioning", now);
//! status.set_summary(now);
//! assert!(status.is_false(READY));
//! assert_eq!(status.reason(READY), "WaitingForDevice");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub mod addresses;
pub mod bootstrap;
pub mod cluster;
pub mod common;
pub mod conditions;
pub mod control_plane;
pub mod failure_domains;
pub mod labels;
pub mod machine;
pub mod machine_deployment;
pub mod machine_set;
pub mod optional_spec;
pub mod owner;
pub mod predicates;
pub mod v1beta2;

pub use predicates::is_paused;

/// Errors from this crate's parsers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An ownerReference `apiVersion` has more than one `/` (it must be `group/version` or
    /// `version`).
    #[error("invalid ownerReference apiVersion {api_version:?}: expected group/version")]
    InvalidApiVersion {
        /// The rejected apiVersion.
        api_version: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The CRDs of the core kinds (`cluster.x-k8s.io`): Cluster, Machine, MachineSet,
/// MachineDeployment.
#[must_use]
pub fn core_crds() -> Vec<CustomResourceDefinition> {
    vec![
        cluster::Cluster::crd(),
        machine::Machine::crd(),
        machine_set::MachineSet::crd(),
        machine_deployment::MachineDeployment::crd(),
    ]
}

/// The CRDs of the kubeadm bootstrap kinds (`bootstrap.cluster.x-k8s.io`).
#[must_use]
pub fn bootstrap_crds() -> Vec<CustomResourceDefinition> {
    vec![
        bootstrap::KubeadmConfig::crd(),
        bootstrap::KubeadmConfigTemplate::crd(),
    ]
}

/// The CRDs of the kubeadm control plane kinds (`controlplane.cluster.x-k8s.io`).
#[must_use]
pub fn control_plane_crds() -> Vec<CustomResourceDefinition> {
    vec![
        control_plane::KubeadmControlPlane::crd(),
        control_plane::KubeadmControlPlaneTemplate::crd(),
    ]
}

/// Every CRD this crate defines, core first, then bootstrap, then control plane.
///
/// ```
/// let names: Vec<_> = capi_types::crds().into_iter().filter_map(|c| c.metadata.name).collect();
/// assert!(names.contains(&"machines.cluster.x-k8s.io".to_owned()));
/// assert!(names.contains(&"kubeadmcontrolplanes.controlplane.cluster.x-k8s.io".to_owned()));
/// ```
#[must_use]
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut all = core_crds();
    all.extend(bootstrap_crds());
    all.extend(control_plane_crds());
    all
}
