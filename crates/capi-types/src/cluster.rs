//! The `Cluster` kind (`cluster.x-k8s.io/v1beta1`): the root object of a workload cluster.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition as MetaCondition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{ApiEndpoint, ConditionGate, ObjectReference};
use crate::conditions::{Condition, impl_conditions, impl_kind_conditions};
use crate::failure_domains::FailureDomains;

pub mod topology;

pub use topology::Topology;

/// The desired state of a Cluster.
#[allow(
    clippy::duplicated_attributes,
    reason = "each kube printcolumn(...) repeats keys such as type_ by design"
)]
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "cluster.x-k8s.io",
    version = "v1beta1",
    kind = "Cluster",
    schema = "manual",
    namespaced,
    status = "ClusterStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "cl",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    doc = "Cluster is the Schema for the clusters API.",
    printcolumn(
        name = "ClusterClass",
        type_ = "string",
        json_path = ".spec.topology.class",
        description = "ClusterClass of this Cluster, empty if the Cluster is not using a ClusterClass"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Cluster status such as Pending/Provisioning/Provisioned/Deleting/Failed"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "Time duration since creation of Cluster"
    ),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".spec.topology.version",
        description = "Kubernetes version associated with this Cluster"
    )
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(rename = "ClusterSpec")]
pub struct ClusterSpec {
    /// Can be used to prevent controllers from processing the Cluster and all its associated
    /// objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// Cluster network configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_network: Option<ClusterNetwork>,
    /// The endpoint used to communicate with the control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<ApiEndpoint>,
    /// An optional reference to a provider-specific resource that holds the details for
    /// provisioning the Control Plane for a Cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub control_plane_ref: Option<ObjectReference>,
    /// A reference to a provider-specific resource that holds the details for provisioning
    /// infrastructure for a cluster in said provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub infrastructure_ref: Option<ObjectReference>,
    /// Encapsulates the topology for the cluster (ClusterClass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<Topology>,
    /// Additional conditions to include when evaluating Cluster Available.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["conditionType"]))]
    #[schemars(length(max = 32))]
    pub availability_gates: Vec<ConditionGate>,
}

crate::optional_spec!(
    Cluster,
    ClusterSpec,
    status = ClusterStatus,
    description = "Cluster is the Schema for the clusters API.",
);

/// The network configuration of a Cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterNetwork {
    /// The port the API Server should bind to. Defaults to 6443.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_port: Option<i32>,
    /// The network ranges from which service VIPs are allocated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<NetworkRanges>,
    /// The network ranges from which Pod networks are allocated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<NetworkRanges>,
    /// The domain name for services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_domain: Option<String>,
}

/// A list of CIDR blocks.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRanges {
    /// The CIDR blocks, e.g. `192.168.0.0/16`.
    #[schemars(length(max = 100), inner(length(min = 1, max = 43)))]
    pub cidr_blocks: Vec<String>,
}

/// The observed state of a Cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// The failure domains the infrastructure provider reports, copied from the
    /// infrastructure cluster.
    #[serde(default, skip_serializing_if = "FailureDomains::is_empty")]
    pub failure_domains: FailureDomains,
    /// A terminal problem reconciling the Cluster, as a short machine-readable value
    /// (deprecated with the v1beta2 contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A terminal problem reconciling the Cluster, human readable (deprecated with the
    /// v1beta2 contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10240))]
    pub failure_message: Option<String>,
    /// Cluster phase: Pending, Provisioning, Provisioned, Deleting, Failed or Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Pending", "Provisioning", "Provisioned", "Deleting", "Failed", "Unknown"]))]
    pub phase: Option<String>,
    /// Whether the infrastructure cluster is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure_ready: Option<bool>,
    /// Whether the control plane is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_ready: Option<bool>,
    /// The v1beta1 conditions of the Cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The latest generation observed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Fields that will be part of the v1beta2 status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1beta2: Option<ClusterV1Beta2Status>,
}

impl_conditions!(ClusterStatus);
impl_kind_conditions!(Cluster);

/// The v1beta2 part of a Cluster's status.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterV1Beta2Status {
    /// Conditions in the v1beta2 format (`metav1.Condition`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 32))]
    pub conditions: Vec<MetaCondition>,
    /// Replica counters of the control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<ReplicaCounters>,
    /// Replica counters of the workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<ReplicaCounters>,
}

/// Replica counters of a group of Machines (v1beta2 semantics).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaCounters {
    /// Total number of desired Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_replicas: Option<i32>,
    /// Total number of Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Number of Machines with the Ready condition true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Number of Machines with the Available condition true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// Number of Machines with the UpToDate condition true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to_date_replicas: Option<i32>,
}

impl Cluster {
    /// Whether `spec.paused` is true.
    #[must_use]
    pub fn is_paused(&self) -> bool {
        self.spec.paused == Some(true)
    }

    /// The control plane endpoint, when set and valid (non-empty host, non-zero port).
    #[must_use]
    pub fn control_plane_endpoint(&self) -> Option<&ApiEndpoint> {
        self.spec
            .control_plane_endpoint
            .as_ref()
            .filter(|e| e.is_valid())
    }

    /// Whether the infrastructure cluster has reported ready (`status.infrastructureReady`).
    #[must_use]
    pub fn infrastructure_ready(&self) -> bool {
        self.status
            .as_ref()
            .and_then(|s| s.infrastructure_ready)
            .unwrap_or(false)
    }
}
