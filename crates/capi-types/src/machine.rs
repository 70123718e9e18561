//! The `Machine` kind (`cluster.x-k8s.io/v1beta1`): one node of a workload cluster.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::addresses::MachineAddress;
use crate::common::{ConditionGate, ObjectMeta, ObjectReference, V1Beta2ConditionsStatus};
use crate::conditions::{Condition, impl_conditions, impl_kind_conditions};

/// The desired state of a Machine.
#[allow(
    clippy::duplicated_attributes,
    reason = "each kube printcolumn(...) repeats keys such as type_ by design"
)]
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "cluster.x-k8s.io",
    version = "v1beta1",
    kind = "Machine",
    namespaced,
    status = "MachineStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "ma",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    doc = "Machine is the Schema for the machines API.",
    schema = "manual",
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".spec.clusterName",
        description = "Cluster"
    ),
    printcolumn(
        name = "NodeName",
        type_ = "string",
        json_path = ".status.nodeRef.name",
        description = "Node name associated with this machine"
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
        description = "Machine status such as Terminating/Pending/Running/Failed etc"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "Time duration since creation of Machine"
    ),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".spec.version",
        description = "Kubernetes version associated with this Machine"
    )
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(rename = "MachineSpec")]
pub struct MachineSpec {
    /// The name of the Cluster this Machine belongs to.
    #[schemars(length(min = 1, max = 63))]
    pub cluster_name: String,
    /// Reference to the bootstrap configuration, or the name of a ready bootstrap data secret.
    pub bootstrap: Bootstrap,
    /// Reference to the provider-specific infrastructure machine (e.g. a PacketMachine).
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub infrastructure_ref: ObjectReference,
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
    /// Additional conditions to include when evaluating Machine Ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["conditionType"]))]
    #[schemars(length(max = 32))]
    pub readiness_gates: Vec<ConditionGate>,
    /// Total time the controller spends draining a node (a duration such as `10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_drain_timeout: Option<String>,
    /// Total time the controller waits for volumes to detach (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_volume_detach_timeout: Option<String>,
    /// Time the controller tries to delete the Node after the Machine is marked for deletion
    /// (a duration; defaults to 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_deletion_timeout: Option<String>,
}

crate::optional_spec!(
    Machine,
    MachineSpec,
    status = MachineStatus,
    description = "Machine is the Schema for the machines API.",
);

/// Where a Machine's bootstrap data comes from.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    /// Reference to the bootstrap provider's config object (e.g. a KubeadmConfig).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub config_ref: Option<ObjectReference>,
    /// Name of the Secret holding the bootstrap data (key `value`, optional key `format`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 0, max = 253))]
    pub data_secret_name: Option<String>,
}

/// The observed state of a Machine.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineStatus {
    /// Reference to the Node of this Machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub node_ref: Option<ObjectReference>,
    /// System information of the Node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_info: Option<NodeSystemInfo>,
    /// Deprecated: the last time this status was updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<Time>,
    /// A terminal problem reconciling the Machine, machine-readable (deprecated with the
    /// v1beta2 contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A terminal problem reconciling the Machine, human readable (deprecated with the v1beta2
    /// contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10240))]
    pub failure_message: Option<String>,
    /// Addresses assigned to the machine, copied from the infrastructure machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<MachineAddress>,
    /// Machine phase: Pending, Provisioning, Provisioned, Running, Deleting, Deleted, Failed
    /// or Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Pending", "Provisioning", "Provisioned", "Running", "Deleting", "Deleted", "Failed", "Unknown"]))]
    pub phase: Option<String>,
    /// Expiry date of the machine certificates (control plane Machines only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_expiry_date: Option<Time>,
    /// Whether the bootstrap data secret is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_ready: Option<bool>,
    /// Whether the infrastructure machine is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure_ready: Option<bool>,
    /// The latest generation observed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The v1beta1 conditions of the Machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Information about the deletion of the Machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion: Option<MachineDeletionStatus>,
    /// Fields that will be part of the v1beta2 status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1beta2: Option<V1Beta2ConditionsStatus>,
}

impl_conditions!(MachineStatus);
impl_kind_conditions!(Machine);

/// Timestamps of the deletion of a Machine.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeletionStatus {
    /// When draining the Node started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_drain_start_time: Option<Time>,
    /// When waiting for volumes to detach started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_node_volume_detach_start_time: Option<Time>,
}

/// System information of a Node (`corev1.NodeSystemInfo` as of Kubernetes 1.32, which is
/// what CAPI v1.10 embeds).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NodeSystemInfo {
    /// The machine ID reported by the node.
    #[serde(rename = "machineID")]
    pub machine_id: String,
    /// The system UUID reported by the node.
    #[serde(rename = "systemUUID")]
    pub system_uuid: String,
    /// The boot ID reported by the node.
    #[serde(rename = "bootID")]
    pub boot_id: String,
    /// Kernel version (`uname -r`).
    pub kernel_version: String,
    /// OS image (e.g. `Ubuntu 24.04 LTS`).
    pub os_image: String,
    /// Container runtime version (e.g. `containerd://1.7.0`).
    pub container_runtime_version: String,
    /// Kubelet version.
    pub kubelet_version: String,
    /// Deprecated: kube-proxy version.
    pub kube_proxy_version: String,
    /// The operating system (`linux`).
    pub operating_system: String,
    /// The architecture (`amd64`, `arm64`).
    pub architecture: String,
}

/// A Machine template: metadata and spec for the Machines a MachineSet or MachineDeployment
/// creates.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineTemplateSpec {
    /// Labels and annotations for the Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// The Machine spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<MachineSpec>,
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

    /// Whether the Machine is a control plane Machine (`cluster.x-k8s.io/control-plane` label).
    #[must_use]
    pub fn is_control_plane(&self) -> bool {
        crate::predicates::is_control_plane_machine(self)
    }
}
