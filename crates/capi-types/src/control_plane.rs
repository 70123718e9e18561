//! The kubeadm control plane provider kinds (`controlplane.cluster.x-k8s.io/v1beta1`):
//! `KubeadmControlPlane` and `KubeadmControlPlaneTemplate`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::bootstrap::KubeadmConfigSpec;
use crate::common::{
    ConditionGate, MachineNamingStrategy, ObjectMeta, ObjectReference, V1Beta2ReplicaStatus,
};
use crate::conditions::{Condition, impl_conditions, impl_kind_conditions};

/// The desired state of a kubeadm-managed control plane.
#[allow(
    clippy::duplicated_attributes,
    reason = "each kube printcolumn(...) repeats keys such as type_ by design"
)]
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "controlplane.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "KubeadmControlPlane",
    schema = "manual",
    namespaced,
    status = "KubeadmControlPlaneStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "kcp",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    doc = "KubeadmControlPlane is the Schema for the KubeadmControlPlane API.",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".metadata.labels['cluster\\.x-k8s\\.io/cluster-name']",
        description = "Cluster"
    ),
    printcolumn(
        name = "Initialized",
        type_ = "boolean",
        json_path = ".status.initialized",
        description = "This denotes whether or not the control plane has the uploaded kubeadm-config configmap"
    ),
    printcolumn(
        name = "API Server Available",
        type_ = "boolean",
        json_path = ".status.ready",
        description = "KubeadmControlPlane API Server is ready to receive requests"
    ),
    printcolumn(
        name = "Desired",
        type_ = "integer",
        json_path = ".spec.replicas",
        description = "Total number of machines desired by this control plane",
        priority = 10
    ),
    printcolumn(
        name = "Replicas",
        type_ = "integer",
        json_path = ".status.replicas",
        description = "Total number of non-terminated machines targeted by this control plane"
    ),
    printcolumn(
        name = "Ready",
        type_ = "integer",
        json_path = ".status.readyReplicas",
        description = "Total number of fully running and ready control plane machines"
    ),
    printcolumn(
        name = "Updated",
        type_ = "integer",
        json_path = ".status.updatedReplicas",
        description = "Total number of non-terminated machines targeted by this control plane that have the desired template spec"
    ),
    printcolumn(
        name = "Unavailable",
        type_ = "integer",
        json_path = ".status.unavailableReplicas",
        description = "Total number of unavailable machines targeted by this control plane"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "Time duration since creation of KubeadmControlPlane"
    ),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".spec.version",
        description = "Kubernetes version associated with this control plane"
    )
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(rename = "KubeadmControlPlaneSpec")]
pub struct KubeadmControlPlaneSpec {
    /// Number of desired control plane Machines (an odd number for stacked etcd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// The Kubernetes version of the control plane.
    #[schemars(length(min = 1, max = 256))]
    pub version: String,
    /// The Machines' template.
    pub machine_template: KubeadmControlPlaneMachineTemplate,
    /// kubeadm configuration for the control plane Machines.
    pub kubeadm_config_spec: KubeadmConfigSpec,
    /// Roll out Machines whose certificates expire within the given number of days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_before: Option<RolloutBefore>,
    /// A time after which all control plane Machines are rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_after: Option<Time>,
    /// How Machines are replaced (defaults to RollingUpdate with maxSurge 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {"rollingUpdate": {"maxSurge": 1}, "type": "RollingUpdate"}))]
    pub rollout_strategy: Option<RolloutStrategy>,
    /// How remediation of unhealthy control plane Machines is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation_strategy: Option<RemediationStrategy>,
    /// How names are generated for the Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_naming_strategy: Option<MachineNamingStrategy>,
}

crate::optional_spec!(
    KubeadmControlPlane,
    KubeadmControlPlaneSpec,
    status = KubeadmControlPlaneStatus,
    description = "KubeadmControlPlane is the Schema for the KubeadmControlPlane API.",
);

/// The template of the control plane Machines.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmControlPlaneMachineTemplate {
    /// Labels and annotations for the Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// The infrastructure machine template to clone (e.g. a PacketMachineTemplate).
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub infrastructure_ref: ObjectReference,
    /// Additional conditions to include when evaluating Machine Ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["conditionType"]))]
    #[schemars(length(max = 32))]
    pub readiness_gates: Vec<ConditionGate>,
    /// Total time the controller spends draining a node (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_drain_timeout: Option<String>,
    /// Total time the controller waits for volumes to detach (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_volume_detach_timeout: Option<String>,
    /// Time the controller tries to delete the Node after the Machine is marked for deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_deletion_timeout: Option<String>,
}

/// Rollout trigger based on certificate expiry.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RolloutBefore {
    /// Roll out Machines whose certificates expire within this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_expiry_days: Option<i32>,
}

/// How control plane Machines are replaced.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategy {
    /// Strategy type; only `RollingUpdate` exists.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "type")]
    #[schemars(extend("enum" = ["RollingUpdate"]))]
    pub type_: Option<String>,
    /// Rolling update parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdate>,
}

/// Rolling update parameters of a control plane.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    /// Maximum Machines above the desired count during the update (0 or 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
}

/// How control plane remediation is done.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RemediationStrategy {
    /// Maximum remediation retries for one Machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry: Option<i32>,
    /// Minimum time between retries (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_period: Option<String>,
    /// After how long a healthy Machine resets the retry count (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_healthy_period: Option<String>,
}

/// The observed state of a KubeadmControlPlane.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmControlPlaneStatus {
    /// The label selector in string form, for the scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub selector: Option<String>,
    /// Total number of non-terminated control plane Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// The lowest Kubernetes version among the control plane Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub version: Option<String>,
    /// Number of Machines with the desired template spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,
    /// Number of ready control plane Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Number of unavailable control plane Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_replicas: Option<i32>,
    /// Whether the control plane has been initialized (kubeadm-config ConfigMap uploaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialized: Option<bool>,
    /// Whether the API server is ready to receive requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// A terminal problem, machine-readable (deprecated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A terminal problem, human readable (deprecated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10240))]
    pub failure_message: Option<String>,
    /// The latest generation observed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The v1beta1 conditions of the KubeadmControlPlane.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The last remediation done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_remediation: Option<LastRemediationStatus>,
    /// Fields that will be part of the v1beta2 status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1beta2: Option<V1Beta2ReplicaStatus>,
}

impl_conditions!(KubeadmControlPlaneStatus);
impl_kind_conditions!(KubeadmControlPlane);

/// The last remediation of a control plane Machine.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LastRemediationStatus {
    /// The Machine remediated.
    #[schemars(length(min = 1, max = 253))]
    pub machine: String,
    /// When the remediation happened.
    pub timestamp: Time,
    /// How many retries there were.
    pub retry_count: i32,
}

/// A template for KubeadmControlPlanes (used by ClusterClasses).
#[allow(
    clippy::duplicated_attributes,
    reason = "each kube printcolumn(...) repeats keys such as type_ by design"
)]
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "controlplane.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "KubeadmControlPlaneTemplate",
    schema = "manual",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    doc = "KubeadmControlPlaneTemplate is the Schema for the kubeadmcontrolplanetemplates API.",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "Time duration since creation of KubeadmControlPlaneTemplate"
    )
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(rename = "KubeadmControlPlaneTemplateSpec")]
pub struct KubeadmControlPlaneTemplateSpec {
    /// The template.
    pub template: KubeadmControlPlaneTemplateResource,
}

crate::optional_spec!(
    KubeadmControlPlaneTemplate,
    KubeadmControlPlaneTemplateSpec,
    description =
        "KubeadmControlPlaneTemplate is the Schema for the kubeadmcontrolplanetemplates API.",
);

/// The content of a KubeadmControlPlaneTemplate.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmControlPlaneTemplateResource {
    /// Labels and annotations for the generated KubeadmControlPlane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// The KubeadmControlPlane spec, without replicas and version (those come from the
    /// Cluster topology).
    pub spec: KubeadmControlPlaneTemplateResourceSpec,
}

/// The parts of a KubeadmControlPlane spec a template defines.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmControlPlaneTemplateResourceSpec {
    /// Machine template settings (the infrastructure reference comes from the ClusterClass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_template: Option<KubeadmControlPlaneTemplateMachineTemplate>,
    /// kubeadm configuration for the control plane Machines.
    pub kubeadm_config_spec: KubeadmConfigSpec,
    /// Roll out Machines whose certificates expire within the given number of days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_before: Option<RolloutBefore>,
    /// A time after which all control plane Machines are rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_after: Option<Time>,
    /// How Machines are replaced (defaults to RollingUpdate with maxSurge 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {"rollingUpdate": {"maxSurge": 1}, "type": "RollingUpdate"}))]
    pub rollout_strategy: Option<RolloutStrategy>,
    /// How remediation of unhealthy control plane Machines is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation_strategy: Option<RemediationStrategy>,
    /// How names are generated for the Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_naming_strategy: Option<MachineNamingStrategy>,
}

/// Machine template settings of a KubeadmControlPlaneTemplate.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmControlPlaneTemplateMachineTemplate {
    /// Labels and annotations for the Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// Total time the controller spends draining a node (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_drain_timeout: Option<String>,
    /// Total time the controller waits for volumes to detach (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_volume_detach_timeout: Option<String>,
    /// Time the controller tries to delete the Node after the Machine is marked for deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_deletion_timeout: Option<String>,
}

impl KubeadmControlPlane {
    /// Desired replicas, defaulting to 1 as the KCP webhook does.
    #[must_use]
    pub fn desired_replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }
}
