//! The `Cluster` kind (`cluster.x-k8s.io/v1beta2`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition as MetaCondition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ContractVersionedObjectReference, DeprecatedStatus};
use crate::cluster::{ClusterNetwork, ReplicaCounters};
use crate::common::ApiEndpoint;

/// The desired state of a Cluster (v1beta2).
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "cluster.x-k8s.io",
    version = "v1beta2",
    kind = "Cluster",
    schema = "manual",
    namespaced,
    status = "ClusterStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "cl",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta2", "v1beta2"),
    doc = "Cluster is the Schema for the clusters API (v1beta2).",
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Cluster pass-through phase"
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
    /// The control plane provider object (e.g. a KubeadmControlPlane).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_ref: Option<ContractVersionedObjectReference>,
    /// The infrastructure provider object (e.g. a PacketCluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure_ref: Option<ContractVersionedObjectReference>,
}

crate::optional_spec!(
    Cluster,
    ClusterSpec,
    status = ClusterStatus,
    description = "Cluster is the Schema for the clusters API (v1beta2).",
);

/// The observed state of a Cluster (v1beta2).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// Conditions (`metav1.Condition`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 32))]
    pub conditions: Vec<MetaCondition>,
    /// Provisioning milestones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialization: Option<ClusterInitializationStatus>,
    /// Replica counters of the control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<ReplicaCounters>,
    /// Replica counters of the workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<ReplicaCounters>,
    /// The failure domains the infrastructure provider reports (a list in v1beta2, a map in
    /// v1beta1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[schemars(length(max = 100))]
    pub failure_domains: Vec<FailureDomain>,
    /// Cluster phase: Pending, Provisioning, Provisioned, Deleting, Failed or Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Pending", "Provisioning", "Provisioned", "Deleting", "Failed", "Unknown"]))]
    pub phase: Option<String>,
    /// The latest generation observed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The v1beta1 status fields, kept until v1beta1 is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<DeprecatedStatus>,
}

/// Provisioning milestones of a Cluster; each never goes back to false once true.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInitializationStatus {
    /// Whether the infrastructure provider reports the cluster infrastructure provisioned
    /// (v1beta1 `status.infrastructureReady`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure_provisioned: Option<bool>,
    /// Whether the control plane is initialized (v1beta1 `status.controlPlaneReady`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_initialized: Option<bool>,
}

/// One failure domain of a Cluster (v1beta2 list entry).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FailureDomain {
    /// The failure domain's name (a metro or facility for Equinix Metal).
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// Whether the failure domain is suitable for control plane Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<bool>,
    /// Free-form attributes of the failure domain.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl Cluster {
    /// Whether `spec.paused` is true.
    #[must_use]
    pub fn is_paused(&self) -> bool {
        self.spec.paused == Some(true)
    }

    /// Whether core marked the infrastructure provisioned
    /// (`status.initialization.infrastructureProvisioned`).
    #[must_use]
    pub fn infrastructure_provisioned(&self) -> bool {
        self.initialization()
            .and_then(|i| i.infrastructure_provisioned)
            .unwrap_or(false)
    }

    /// Whether the control plane is initialized
    /// (`status.initialization.controlPlaneInitialized`).
    #[must_use]
    pub fn control_plane_initialized(&self) -> bool {
        self.initialization()
            .and_then(|i| i.control_plane_initialized)
            .unwrap_or(false)
    }

    fn initialization(&self) -> Option<&ClusterInitializationStatus> {
        self.status.as_ref()?.initialization.as_ref()
    }
}
