//! The `cluster.x-k8s.io/v1beta2` core kinds a provider reads and tests write: [`Cluster`]
//! and [`Machine`].
//!
//! Cluster API v1.11 and newer store the core kinds as `v1beta2`; v1.16 stops serving
//! `v1beta1`. The fields follow upstream `api/core/v1beta2/{cluster,machine}_types.go`
//! (v1.11+) with this crate's conventions: optional fields are `Option`s, empty lists are
//! omitted, a missing `spec` reads as the zero value. Only what an infrastructure provider
//! reads or a test writes is typed; the generated CRDs keep every other field of `spec` and
//! `status` (`x-kubernetes-preserve-unknown-fields`), so objects written by upstream
//! controllers are stored unchanged.
//!
//! [`crds`] gives the Cluster and Machine CRDs serving only `v1beta2`; [`served_crds`]
//! picks the CRDs for a served version (test environments run the same tests against
//! either).
//!
//! ```
//! use capi_types::v1beta2::{Cluster, Machine};
//!
//! let machine: Machine = serde_json::from_value(serde_json::json!({
//!     "apiVersion": "cluster.x-k8s.io/v1beta2",
//!     "kind": "Machine",
//!     "metadata": {"name": "prod-md-0-abcde", "namespace": "default"},
//!     "spec": {
//!         "clusterName": "prod",
//!         "bootstrap": {"dataSecretName": "prod-md-0-abcde"},
//!         "infrastructureRef": {
//!             "apiGroup": "infrastructure.cluster.x-k8s.io",
//!             "kind": "PacketMachine", "name": "prod-md-0-abcde"
//!         }
//!     },
//!     "status": {"initialization": {"bootstrapDataSecretCreated": true}}
//! }))?;
//! assert_eq!(machine.spec.infrastructure_ref.kind, "PacketMachine");
//! assert!(machine.bootstrap_data_secret_created());
//! # Ok::<(), serde_json::Error>(())
//! ```

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use kube::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod cluster;
pub mod machine;

pub use cluster::{Cluster, ClusterSpec, ClusterStatus};
pub use machine::{Machine, MachineSpec, MachineStatus};

/// The version of the kinds in this module.
pub const VERSION: &str = "v1beta2";

/// The `apiVersion` of the kinds in this module.
pub const API_VERSION: &str = "cluster.x-k8s.io/v1beta2";

/// A reference to an object of a provider, versioned by the provider's contract
/// (`ContractVersionedObjectReference`): the version is not stored, core resolves it from the
/// CRD's contract label.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContractVersionedObjectReference {
    /// The kind of the referenced object (e.g. `PacketCluster`).
    #[schemars(length(min = 1, max = 63))]
    pub kind: String,
    /// The name of the referenced object, in the referrer's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The API group of the referenced object (e.g. `infrastructure.cluster.x-k8s.io`).
    #[schemars(length(min = 1, max = 253))]
    pub api_group: String,
}

/// Conditions in the format of the v1beta1 API, kept under `status.deprecated.v1beta1` of
/// v1beta2 objects until v1beta1 is removed.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeprecatedStatus {
    /// The v1beta1 fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1beta1: Option<V1Beta1DeprecatedStatus>,
}

/// The v1beta1 status fields a v1beta2 object still carries.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct V1Beta1DeprecatedStatus {
    /// The v1beta1 conditions (with severity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<crate::conditions::Condition>,
    /// A terminal problem, machine-readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A terminal problem, human readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10240))]
    pub failure_message: Option<String>,
}

/// The Cluster and Machine CRDs serving only `v1beta2` (the storage version), with the
/// `cluster.x-k8s.io/v1beta2: v1beta2` contract label.
///
/// ```
/// let crds = capi_types::v1beta2::crds();
/// let names: Vec<_> = crds.iter().filter_map(|c| c.metadata.name.as_deref()).collect();
/// assert_eq!(names, ["clusters.cluster.x-k8s.io", "machines.cluster.x-k8s.io"]);
/// assert!(crds.iter().all(|c| c.spec.versions.len() == 1
///     && c.spec.versions[0].name == "v1beta2" && c.spec.versions[0].storage));
/// ```
#[must_use]
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        keep_unknown_fields(Cluster::crd()),
        keep_unknown_fields(Machine::crd()),
    ]
}

/// The core CRDs for a test environment that serves Cluster and Machine as `version`
/// (`v1beta1` or `v1beta2`): [`crate::core_crds`] with, for `v1beta2`, Cluster and Machine
/// replaced by [`crds`]. MachineSet and MachineDeployment stay `v1beta1`. `None` for any
/// other version.
///
/// ```
/// let crds = capi_types::v1beta2::served_crds("v1beta2").unwrap();
/// let machines = crds.iter().find(|c| c.spec.names.kind == "Machine").unwrap();
/// assert_eq!(machines.spec.versions[0].name, "v1beta2");
/// assert_eq!(crds.len(), capi_types::core_crds().len());
/// assert!(capi_types::v1beta2::served_crds("v1alpha4").is_none());
/// ```
#[must_use]
pub fn served_crds(version: &str) -> Option<Vec<CustomResourceDefinition>> {
    match version {
        crate::labels::VERSION => Some(crate::core_crds()),
        VERSION => {
            let replacements = crds();
            Some(
                crate::core_crds()
                    .into_iter()
                    .map(|crd| {
                        replacements
                            .iter()
                            .find(|r| r.metadata.name == crd.metadata.name)
                            .cloned()
                            .unwrap_or(crd)
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// Marks `spec` and `status` of every version's schema with
/// `x-kubernetes-preserve-unknown-fields`, so the fields this crate does not type survive a
/// round trip through the API server.
fn keep_unknown_fields(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        let Some(properties) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
            .and_then(|root| root.properties.as_mut())
        else {
            continue;
        };
        for key in ["spec", "status"] {
            if let Some(JSONSchemaProps {
                x_kubernetes_preserve_unknown_fields,
                ..
            }) = properties.get_mut(key)
            {
                *x_kubernetes_preserve_unknown_fields = Some(true);
            }
        }
    }
    crd
}
