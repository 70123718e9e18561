//! PacketCluster, PacketMachine, PacketMachineTemplate and PacketClusterTemplate CRD types
//! (`infrastructure.cluster.x-k8s.io/v1beta1`), the Cluster API infrastructure provider kinds
//! for Equinix Metal (formerly Packet).
//!
//! Every kind is a wire-compatible superset of the Go provider's v0.9.0 CRDs
//! (cluster-api-provider-packet): each property path of those CRDs exists here with the same
//! type, enum values and default, so manifests written for the Go provider parse unchanged.
//! On top of that:
//!
//! - fields the Go provider declared but never honoured are documented as working
//!   (`sshKeys`, `tags`, every `hardwareReservationID` form);
//! - new optional fields close known gaps: per-cluster credentials
//!   ([`cluster::PacketClusterSpec::credentials_ref`]), an Elastic IP reclaim policy
//!   ([`cluster::ReclaimPolicy`]), failure domains from metros
//!   ([`cluster::PacketClusterSpec::failure_domains`]) and spot market options
//!   ([`machine::PacketMachineSpec::spot_instance`]);
//! - status carries both contracts' readiness (`ready` for v1beta1,
//!   `initialization.provisioned` for v1beta2), v1beta1 conditions with severity, and
//!   `v1beta2.conditions`;
//! - immutability is enforced by the API server itself, so no admission webhook is needed:
//!   `x-kubernetes-validations` transition rules on PacketCluster and PacketMachine, and for
//!   the templates a ValidatingAdmissionPolicy ([`policy`]) that honours Cluster API's
//!   topology dry run, as ClusterClass requires;
//! - [`PacketClusterTemplate`] makes the provider usable with ClusterClass;
//! - as in the Go CRDs, `spec` is optional: an object without one (or with `spec: null`)
//!   parses with the zero spec ([`capi_types::optional_spec!`]).
//!
//! Besides the kinds: [`provider_id`] is the one home of the `equinixmetal://` provider ID,
//! and [`core`] reads core `Cluster` and `Machine` objects of either `cluster.x-k8s.io`
//! version (`v1beta1`, `v1beta2`) into one view, so controllers do not depend on either shape.
//!
//! [`v1beta2`] has the same four kinds in `infrastructure.cluster.x-k8s.io/v1beta2`, the shape
//! of the Cluster API v1beta2 contract; [`conversion`] converts between the versions without
//! loss and answers the API server's `ConversionReview`s, and
//! [`v1beta2::crds_multiversion`] builds CRDs serving both versions (`docs/api-versions.md`).
//!
//! [`crds()`] returns the four CustomResourceDefinitions; they are structural (checked by
//! `capp_testenv::schema::structural::check_crd` in this crate's tests) and carry the contract label
//! `cluster.x-k8s.io/v1beta1: v1beta1`.
//!
//! ```
//! use capp_api::{PacketMachine, cluster::VipManager, PacketCluster};
//!
//! let cluster: PacketCluster = serde_json::from_value(serde_json::json!({
//!     "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
//!     "kind": "PacketCluster",
//!     "metadata": {"name": "prod", "namespace": "default"},
//!     "spec": {"projectID": "2b2b0c5e-8c2e-4b5f-9d55-0d8a1f3b6c11", "metro": "da"}
//! }))?;
//! assert_eq!(cluster.spec.vip_manager, VipManager::Cpem);
//!
//! let machine: PacketMachine = serde_json::from_value(serde_json::json!({
//!     "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
//!     "kind": "PacketMachine",
//!     "metadata": {"name": "prod-cp-0"},
//!     "spec": {
//!         "os": "ubuntu_24_04", "machineType": "c3.small.x86", "billingCycle": "hourly",
//!         "providerID": "equinixmetal://1b2c3d4e-0000-4000-8000-000000000001"
//!     }
//! }))?;
//! assert_eq!(machine.device_id(), Some("1b2c3d4e-0000-4000-8000-000000000001"));
//! # Ok::<(), serde_json::Error>(())
//! ```

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use kube::CustomResourceExt;

pub mod bootstrap;
pub mod cluster;
pub mod cluster_template;
pub mod common;
pub mod conditions;
pub mod conversion;
pub mod core;
#[cfg(any(test, feature = "test-util"))]
pub mod fixtures;
pub mod machine;
pub mod machine_template;
pub mod policy;
pub mod provider_id;
pub mod v1beta2;

pub use bootstrap::{PacketKubeadmConfig, PacketKubeadmConfigTemplate};
pub use cluster::{PacketCluster, PacketClusterSpec, PacketClusterStatus};
pub use cluster_template::{PacketClusterTemplate, PacketClusterTemplateSpec};
pub use machine::{PacketMachine, PacketMachineSpec, PacketMachineStatus};
pub use machine_template::{PacketMachineTemplate, PacketMachineTemplateSpec};
pub use provider_id::ProviderId;
pub use v1beta2::crds_multiversion;

/// The API group of every kind in this crate.
pub const GROUP: &str = "infrastructure.cluster.x-k8s.io";

/// The API version of every kind in this crate.
pub const VERSION: &str = "v1beta1";

/// `apiVersion` of every kind in this crate (`infrastructure.cluster.x-k8s.io/v1beta1`).
pub const API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta1";

/// The CRD label that tells Cluster API which contract a CRD implements and which of its
/// versions implement it (`cluster.x-k8s.io/v1beta1: v1beta1`). Without it core controllers
/// cannot resolve references to these kinds.
pub const CONTRACT_LABEL: (&str, &str) = ("cluster.x-k8s.io/v1beta1", "v1beta1");

/// Errors from the helpers on these types.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `spec.hardwareReservationID` is neither a reservation ID, a comma-separated list of
    /// IDs, nor `next-available` (for example an empty entry in `"id1,,id2"`).
    #[error(
        "invalid spec.hardwareReservationID {value:?}: use one reservation ID, a comma-separated \
         list of IDs, or next-available"
    )]
    InvalidHardwareReservation {
        /// The rejected value.
        value: String,
    },
    /// A `spec.providerID` value is not `equinixmetal://<device-id>` (or the legacy
    /// `packet://<device-id>`), or a device ID cannot be one.
    #[error("invalid spec.providerID {value:?}: {problem}")]
    InvalidProviderId {
        /// The rejected value.
        value: String,
        /// What is wrong and how to fix it.
        problem: &'static str,
    },
    /// A core Cluster API object (Cluster, Machine) has a field of the wrong type, misses a
    /// required field, or is not `cluster.x-k8s.io/v1beta1` or `v1beta2`
    /// ([`core`]).
    #[error("invalid {kind} {name:?}: {field} {problem}")]
    InvalidCoreObject {
        /// `Cluster` or `Machine`.
        kind: &'static str,
        /// `namespace/name` of the object (empty when it has no name).
        name: String,
        /// The JSON path of the field, e.g. `spec.infrastructureRef.kind`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Discovery lists no `cluster.x-k8s.io` version this provider reads.
    #[error(
        "the API server serves cluster.x-k8s.io versions {served:?}, none of v1beta1 or v1beta2: \
         install Cluster API v1.0 or newer (its CRDs serve these versions)"
    )]
    NoServedCoreVersion {
        /// The versions discovery listed.
        served: Vec<String>,
    },
    /// An object cannot be converted between `v1beta1` and `v1beta2` ([`conversion`]).
    #[error("cannot convert {kind} {name:?}: {problem}")]
    Conversion {
        /// The object's kind (`PacketCluster`, ...).
        kind: String,
        /// The object's name (empty when it has none).
        name: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The four CustomResourceDefinitions of this crate: PacketCluster, PacketMachine,
/// PacketMachineTemplate and PacketClusterTemplate, in that order, each generated by
/// `CustomResourceExt::crd()` and completed by [`complete_crd`]; the two templates also go
/// through [`without_transition_rules`], since the PacketCluster and PacketMachine specs they
/// embed carry immutability rules that must not apply inside a template (the template's own
/// immutability is the [`policy`]).
///
/// Use these rather than `PacketCluster::crd()` and friends when installing the CRDs.
///
/// ```
/// let names: Vec<String> = capp_api::crds().into_iter().filter_map(|c| c.metadata.name).collect();
/// assert_eq!(names, [
///     "packetclusters.infrastructure.cluster.x-k8s.io",
///     "packetmachines.infrastructure.cluster.x-k8s.io",
///     "packetmachinetemplates.infrastructure.cluster.x-k8s.io",
///     "packetclustertemplates.infrastructure.cluster.x-k8s.io",
/// ]);
/// ```
#[must_use]
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        complete_crd(PacketCluster::crd()),
        complete_crd(PacketMachine::crd()),
        without_transition_rules(complete_crd(PacketMachineTemplate::crd())),
        without_transition_rules(complete_crd(PacketClusterTemplate::crd())),
    ]
}

/// The one post-processing step applied to the CRDs kube-derive generates, so they match
/// what controller-gen produced for the Go provider:
///
/// - the root schema gets explicit `apiVersion`, `kind` (strings) and `metadata` (object)
///   properties with the standard descriptions (the API server implies them, but the Go
///   CRDs list them and `kubectl explain` shows them);
/// - the root `title` schemars adds (the Rust type name) is dropped;
/// - `names.listKind` is set to `<Kind>List`.
///
/// Everything else (descriptions, defaults, enums, CEL rules, printer columns, labels) comes
/// from the Rust types.
#[must_use]
pub fn complete_crd(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    crd.spec.names.list_kind = Some(format!("{}List", crd.spec.names.kind));
    for version in &mut crd.spec.versions {
        let Some(root) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        root.title = None;
        let props = root.properties.get_or_insert_with(Default::default);
        props.insert(
            "apiVersion".to_owned(),
            string_prop(API_VERSION_DESCRIPTION),
        );
        props.insert("kind".to_owned(), string_prop(KIND_DESCRIPTION));
        props.insert(
            "metadata".to_owned(),
            JSONSchemaProps {
                type_: Some("object".to_owned()),
                ..JSONSchemaProps::default()
            },
        );
    }
    crd
}

/// Removes every transition rule (an `x-kubernetes-validations` rule that reads `oldSelf`) from
/// the schemas of a CRD, keeping the rules that validate a single value.
///
/// The template kinds embed `PacketMachineSpec` and `PacketClusterSpec`, whose immutability
/// rules (`projectID is immutable`, ...) guard live objects. Inside a template they would
/// refuse exactly the edits the [`policy`] lets through (CAPI's topology dry run), so the
/// template CRDs drop them.
///
/// ```
/// use kube::CustomResourceExt;
///
/// let crd = capp_api::without_transition_rules(capp_api::PacketMachine::crd());
/// let text = serde_json::to_string(&crd)?;
/// assert!(!text.contains("oldSelf"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[must_use]
pub fn without_transition_rules(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(root) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            strip_transition_rules(root);
        }
    }
    crd
}

fn strip_transition_rules(schema: &mut JSONSchemaProps) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
    };
    if let Some(rules) = schema.x_kubernetes_validations.as_mut() {
        rules.retain(|r| !r.rule.contains("oldSelf"));
        if rules.is_empty() {
            schema.x_kubernetes_validations = None;
        }
    }
    let nested = schema
        .properties
        .iter_mut()
        .flat_map(|p| p.values_mut())
        .chain(schema.all_of.iter_mut().flatten())
        .chain(schema.any_of.iter_mut().flatten())
        .chain(schema.one_of.iter_mut().flatten());
    for sub in nested {
        strip_transition_rules(sub);
    }
    match schema.items.as_mut() {
        Some(JSONSchemaPropsOrArray::Schema(item)) => strip_transition_rules(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => {
            items.iter_mut().for_each(strip_transition_rules);
        }
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(values)) = schema.additional_properties.as_mut() {
        strip_transition_rules(values);
    }
}

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this \
    representation of an object.\nServers should convert recognized schemas to the latest \
    internal value, and\nmay reject unrecognized values.\nMore info: \
    https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";

const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this \
    object represents.\nServers may infer this from the endpoint the client submits requests \
    to.\nCannot be updated.\nIn CamelCase.\nMore info: \
    https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

fn string_prop(description: &str) -> JSONSchemaProps {
    JSONSchemaProps {
        description: Some(description.to_owned()),
        type_: Some("string".to_owned()),
        ..JSONSchemaProps::default()
    }
}
