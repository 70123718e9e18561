//! `PacketCluster` in `infrastructure.cluster.x-k8s.io/v1beta2`: the same spec as
//! [`crate::cluster`] (the v1beta2 contract changes no InfraCluster spec field), and the status
//! shape of the v1beta2 contract.

use std::ops::{Deref, DerefMut};

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use capi_types::v1beta2::DeprecatedStatus;
use capi_types::v1beta2::cluster::FailureDomain;

use capi_types::common::V1Beta2Condition;

use crate::common::Initialization;

/// Desired state of a v1beta2 PacketCluster: exactly the v1beta1
/// [`PacketClusterSpec`](crate::cluster::PacketClusterSpec) (same fields, defaults,
/// immutability rules), wrapped so that the v1beta2 kind can be generated from it.
/// It dereferences to the v1beta1 spec, so its helpers
/// ([`desired_failure_domains`](crate::cluster::PacketClusterSpec::desired_failure_domains))
/// work unchanged.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta2",
    kind = "PacketCluster",
    schema = "manual",
    plural = "packetclusters",
    namespaced,
    status = "PacketClusterStatus",
    doc = "PacketCluster is the Schema for the packetclusters API (v1beta2): the Equinix Metal \
           project, location and control plane endpoint of one Cluster API cluster.",
    shortname = "pcl",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    label("cluster.x-k8s.io/v1beta2", "v1beta2"),
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".metadata.labels.cluster\\.x-k8s\\.io/cluster-name","description":"Cluster to which this PacketCluster belongs"}"#,
    printcolumn = r#"{"name":"Provisioned","type":"string","jsonPath":".status.initialization.provisioned","description":"PacketCluster infrastructure provisioned"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status","description":"PacketCluster Ready condition"}"#,
    printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".spec.controlPlaneEndpoint.host","description":"Control plane endpoint host","priority":1}"#,
    printcolumn = r#"{"name":"VIP Manager","type":"string","jsonPath":".spec.vipManager","description":"Who manages the control plane VIP","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"Time since the PacketCluster was created"}"#
)]
#[serde(transparent)]
pub struct PacketClusterSpec(pub crate::cluster::PacketClusterSpec);

capi_types::optional_spec!(
    @root PacketCluster,
    "PacketCluster is the Schema for the packetclusters API (v1beta2): the Equinix Metal \
     project, location and control plane endpoint of one Cluster API cluster.",
    {
        "spec": PacketClusterSpec,
        "status": ::core::option::Option<PacketClusterStatus>,
    }
);

/// The schema is the v1beta1 spec's, description included.
impl JsonSchema for PacketClusterSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        crate::cluster::PacketClusterSpec::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        crate::cluster::PacketClusterSpec::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::cluster::PacketClusterSpec::json_schema(generator)
    }
}

impl Deref for PacketClusterSpec {
    type Target = crate::cluster::PacketClusterSpec;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for PacketClusterSpec {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl From<crate::cluster::PacketClusterSpec> for PacketClusterSpec {
    fn from(spec: crate::cluster::PacketClusterSpec) -> Self {
        PacketClusterSpec(spec)
    }
}

/// Observed state of a v1beta2 PacketCluster (v1beta2 contract).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketClusterStatus {
    /// Initialization says whether the infrastructure is provisioned
    /// (`initialization.provisioned`, read by Cluster API v1.11+; the v1beta1 `ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialization: Option<Initialization>,

    /// Conditions defines the current service state of the PacketCluster (standard
    /// `metav1.Condition`s; `Ready` is mirrored to the Cluster's `InfrastructureReady`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 32))]
    pub conditions: Vec<V1Beta2Condition>,

    /// FailureDomains lists the metros (or facilities) Cluster API may place Machines in,
    /// each with attribute `metro` or `facility` (v1beta2 list shape; v1beta1 has a map).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[schemars(length(max = 100))]
    pub failure_domains: Vec<FailureDomain>,

    /// Deprecated groups the v1beta1 status fields (conditions with severity,
    /// `failureReason`, `failureMessage`), kept until v1beta1 is removed. In the v1beta2
    /// contract a failure reason is no longer terminal: problems are reported as conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<DeprecatedStatus>,
}

impl PacketClusterStatus {
    /// Whether `initialization.provisioned` is true.
    #[must_use]
    pub fn is_provisioned(&self) -> bool {
        crate::common::is_provisioned(false, self.initialization.as_ref())
    }
}

impl PacketCluster {
    /// Whether the infrastructure is provisioned (`status.initialization.provisioned`).
    #[must_use]
    pub fn is_provisioned(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(PacketClusterStatus::is_provisioned)
    }
}
