//! `Cluster.spec.topology`: a Cluster described by a ClusterClass plus overrides.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{ConditionGate, ObjectMeta, ObjectReference, preserve_any};

/// The topology of a Cluster: which ClusterClass it uses, the Kubernetes version, and the
/// control plane and worker layout.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Topology {
    /// The name of the ClusterClass object to create the topology.
    #[schemars(length(min = 1, max = 253))]
    pub class: String,
    /// The namespace of the ClusterClass (defaults to the Cluster's namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    #[schemars(extend("pattern" = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub class_namespace: Option<String>,
    /// The Kubernetes version of the cluster.
    #[schemars(length(min = 1, max = 256))]
    pub version: String,
    /// Deprecated: a time after which all Machines are rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_after: Option<Time>,
    /// The control plane topology.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane: Option<ControlPlaneTopology>,
    /// The worker topology.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<WorkersTopology>,
    /// Values for the variables the ClusterClass defines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[schemars(length(max = 1000))]
    pub variables: Vec<ClusterVariable>,
}

/// The control plane part of a topology.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlaneTopology {
    /// Metadata for the control plane and its Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// Number of control plane nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// MachineHealthCheck settings for the control plane Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_health_check: Option<MachineHealthCheckTopology>,
    /// Total time the controller spends draining a node (a duration such as `10m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_drain_timeout: Option<String>,
    /// Total time the controller waits for volumes to detach (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_volume_detach_timeout: Option<String>,
    /// Time the controller tries to delete the Node after the Machine is marked for deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_deletion_timeout: Option<String>,
    /// Additional conditions to include when evaluating Machine Ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["conditionType"]))]
    #[schemars(length(max = 32))]
    pub readiness_gates: Vec<ConditionGate>,
    /// Variable overrides for the control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<VariablesOverrides>,
}

/// The worker part of a topology.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkersTopology {
    /// MachineDeployments in the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[schemars(length(max = 2000))]
    pub machine_deployments: Vec<MachineDeploymentTopology>,
    /// MachinePools in the cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[schemars(length(max = 2000))]
    pub machine_pools: Vec<MachinePoolTopology>,
}

/// One MachineDeployment of a topology.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentTopology {
    /// Metadata for the MachineDeployment and its Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// The name of the MachineDeploymentClass in the ClusterClass.
    #[schemars(length(min = 1, max = 256))]
    pub class: String,
    /// The unique name of this MachineDeployment in the topology.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// The failure domain the Machines are created in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub failure_domain: Option<String>,
    /// Number of worker nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// MachineHealthCheck settings for the Machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_health_check: Option<MachineHealthCheckTopology>,
    /// Total time the controller spends draining a node (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_drain_timeout: Option<String>,
    /// Total time the controller waits for volumes to detach (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_volume_detach_timeout: Option<String>,
    /// Time the controller tries to delete the Node after the Machine is marked for deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_deletion_timeout: Option<String>,
    /// Minimum seconds a new Machine must be ready to count as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// Additional conditions to include when evaluating Machine Ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["conditionType"]))]
    #[schemars(length(max = 32))]
    pub readiness_gates: Vec<ConditionGate>,
    /// The rollout strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<crate::machine_deployment::MachineDeploymentStrategy>,
    /// Variable overrides for this MachineDeployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<VariablesOverrides>,
}

/// One MachinePool of a topology.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachinePoolTopology {
    /// Metadata for the MachinePool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// The name of the MachinePoolClass in the ClusterClass.
    #[schemars(length(min = 1, max = 256))]
    pub class: String,
    /// The unique name of this MachinePool in the topology.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// The failure domains the Machines are spread over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 256)))]
    pub failure_domains: Vec<String>,
    /// Total time the controller spends draining a node (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_drain_timeout: Option<String>,
    /// Total time the controller waits for volumes to detach (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_volume_detach_timeout: Option<String>,
    /// Time the controller tries to delete the Node after the Machine is marked for deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_deletion_timeout: Option<String>,
    /// Minimum seconds a new Machine must be ready to count as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i32>,
    /// Number of pool members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Variable overrides for this MachinePool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<VariablesOverrides>,
}

/// MachineHealthCheck settings inside a topology.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineHealthCheckTopology {
    /// Whether the MachineHealthCheck is created (defaults to whether the ClusterClass
    /// defines one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Conditions that determine whether a Node is unhealthy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub unhealthy_conditions: Vec<UnhealthyCondition>,
    /// Remediation stops when more Machines than this (number or percentage) are unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unhealthy: Option<IntOrString>,
    /// Remediation happens only if the number of unhealthy Machines is in this range
    /// (e.g. `[3-5]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    #[schemars(extend("pattern" = r"^\[[0-9]+-[0-9]+\]$"))]
    pub unhealthy_range: Option<String>,
    /// How long a Machine may take to get a Node (a duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_startup_timeout: Option<String>,
    /// An external remediation template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub remediation_template: Option<ObjectReference>,
}

/// A Node condition that makes a Node unhealthy when held for longer than `timeout`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UnhealthyCondition {
    /// The Node condition type.
    #[serde(rename = "type")]
    #[schemars(length(min = 1))]
    pub type_: String,
    /// The Node condition status.
    #[schemars(length(min = 1))]
    pub status: String,
    /// How long the condition must hold (a duration).
    pub timeout: String,
}

/// Variable overrides for one part of a topology.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VariablesOverrides {
    /// Overrides of Cluster-level variable values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[schemars(length(max = 1000))]
    pub overrides: Vec<ClusterVariable>,
}

/// A value for a ClusterClass variable.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVariable {
    /// The name of the variable.
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// Deprecated: which patch defines the variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub definition_from: Option<String>,
    /// The value of the variable: any JSON value, validated against the variable's schema by
    /// the topology controller.
    #[schemars(schema_with = "preserve_any", required)]
    pub value: serde_json::Value,
}
