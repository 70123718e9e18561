//! The `Machine` kind (`cluster.x-k8s.io/v1beta2`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition as MetaCondition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ContractVersionedObjectReference, DeprecatedStatus};
use crate::addresses::MachineAddress;
use crate::machine::NodeSystemInfo;

/// The desired state of a Machine (v1beta2).
#[allow(
    clippy::duplicated_attributes,
    reason = "each kube printcolumn(...) repeats keys such as type_ by design"
)]
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "cluster.x-k8s.io",
    version = "v1beta2",
    kind = "Machine",
    schema = "manual",
    namespaced,
    status = "MachineStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "ma",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta2", "v1beta2"),
    doc = "Machine is the Schema for the machines API (v1beta2).",
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".spec.clusterName",
        description = "Cluster"
    ),
    printcolumn(
        name = "ProviderID",
        type_ = "string",
        json_path = ".spec.providerID",
        description = "Provider ID"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Machine pass-through phase"
    )
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(rename = "MachineSpec")]
pub struct MachineSpec {
    /// The name of the Cluster this Machine belongs to.
    #[schemars(length(min = 1, max = 63))]
    pub cluster_name: String,
    /// Reference to the bootstrap configuration, or the name of a ready bootstrap data secret.
    #[serde(default)]
    pub bootstrap: Bootstrap,
    /// The infrastructure provider object (e.g. a PacketMachine).
    pub infrastructure_ref: ContractVersionedObjectReference,
    /// The Kubernetes version to install on the node (e.g. `v1.32.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub version: Option<String>,
    /// The identification ID of the machine provided by the provider; must match the Node's
    /// `spec.providerID`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "providerID"
    )]
    #[schemars(length(min = 1, max = 512))]
    pub provider_id: Option<String>,
    /// The failure domain the machine is created in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub failure_domain: Option<String>,
    /// Minimum number of seconds a new Node must be ready before it counts as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_ready_seconds: Option<i32>,
    /// Deletion settings (timeouts in seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion: Option<MachineDeletionSpec>,
}

crate::optional_spec!(
    Machine,
    MachineSpec,
    status = MachineStatus,
    description = "Machine is the Schema for the machines API (v1beta2).",
);

/// Where a Machine's bootstrap data comes from (v1beta2).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    /// The bootstrap provider's config object (e.g. a KubeadmConfig).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_ref: Option<ContractVersionedObjectReference>,
    /// Name of the Secret holding the bootstrap data (key `value`, optional key `format`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 0, max = 253))]
    pub data_secret_name: Option<String>,
}

/// Deletion timeouts of a Machine, in seconds (v1beta2; durations in v1beta1).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeletionSpec {
    /// Total time the controller spends draining a node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub node_drain_timeout_seconds: Option<i32>,
    /// Total time the controller waits for volumes to detach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub node_volume_detach_timeout_seconds: Option<i32>,
    /// Time the controller tries to delete the Node after the Machine is marked for deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub node_deletion_timeout_seconds: Option<i32>,
}

/// The observed state of a Machine (v1beta2).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineStatus {
    /// Conditions (`metav1.Condition`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 32))]
    pub conditions: Vec<MetaCondition>,
    /// Provisioning milestones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialization: Option<MachineInitializationStatus>,
    /// The Node of this Machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ref: Option<MachineNodeReference>,
    /// System information of the Node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_info: Option<NodeSystemInfo>,
    /// Addresses assigned to the machine, copied from the infrastructure machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128))]
    pub addresses: Vec<MachineAddress>,
    /// The failure domain the infrastructure provider placed the machine in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub failure_domain: Option<String>,
    /// Machine phase: Pending, Provisioning, Provisioned, Running, Updating, Deleting,
    /// Deleted, Failed or Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Pending", "Provisioning", "Provisioned", "Running", "Updating", "Deleting", "Deleted", "Failed", "Unknown"]))]
    pub phase: Option<String>,
    /// Expiry date of the machine certificates (control plane Machines only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_expiry_date: Option<Time>,
    /// The latest generation observed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The v1beta1 status fields, kept until v1beta1 is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<DeprecatedStatus>,
}

/// Provisioning milestones of a Machine; each never goes back to false once true.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MachineInitializationStatus {
    /// Whether the infrastructure provider reports the machine provisioned (v1beta1
    /// `status.infrastructureReady`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure_provisioned: Option<bool>,
    /// Whether the bootstrap provider created the bootstrap data Secret (v1beta1
    /// `status.bootstrapReady`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_data_secret_created: Option<bool>,
}

/// The Node of a Machine (v1beta2 keeps only the name).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MachineNodeReference {
    /// The Node's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

impl Machine {
    /// `spec.providerID`, when set.
    #[must_use]
    pub fn provider_id(&self) -> Option<&str> {
        self.spec.provider_id.as_deref()
    }

    /// `spec.bootstrap.dataSecretName`, when set (the infrastructure provider waits for it).
    #[must_use]
    pub fn bootstrap_data_secret_name(&self) -> Option<&str> {
        self.spec.bootstrap.data_secret_name.as_deref()
    }

    /// Whether the bootstrap provider created the data Secret
    /// (`status.initialization.bootstrapDataSecretCreated`).
    #[must_use]
    pub fn bootstrap_data_secret_created(&self) -> bool {
        self.initialization()
            .and_then(|i| i.bootstrap_data_secret_created)
            .unwrap_or(false)
    }

    /// Whether core marked the infrastructure provisioned
    /// (`status.initialization.infrastructureProvisioned`).
    #[must_use]
    pub fn infrastructure_provisioned(&self) -> bool {
        self.initialization()
            .and_then(|i| i.infrastructure_provisioned)
            .unwrap_or(false)
    }

    /// Whether the Machine is a control plane Machine (`cluster.x-k8s.io/control-plane` label).
    #[must_use]
    pub fn is_control_plane(&self) -> bool {
        crate::predicates::is_control_plane_machine(self)
    }

    fn initialization(&self) -> Option<&MachineInitializationStatus> {
        self.status.as_ref()?.initialization.as_ref()
    }
}
