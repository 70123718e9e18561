//! `PacketMachineTemplate` and `PacketClusterTemplate` in
//! `infrastructure.cluster.x-k8s.io/v1beta2`: the v1beta1 template shape
//! (`spec.template.metadata` + `spec.template.spec`) around the v1beta2 specs. Immutability
//! is enforced as for v1beta1 (the [`crate::policy`] ValidatingAdmissionPolicy matches the
//! kinds in every version).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::ObjectMeta;

/// Desired state of a v1beta2 PacketMachineTemplate.
#[derive(CustomResource, JsonSchema, Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta2",
    kind = "PacketMachineTemplate",
    schema = "manual",
    plural = "packetmachinetemplates",
    namespaced,
    doc = "PacketMachineTemplate is the Schema for the packetmachinetemplates API (v1beta2): \
           the template Cluster API clones PacketMachines from.",
    shortname = "pmt",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    label("cluster.x-k8s.io/v1beta2", "v1beta2"),
    printcolumn = r#"{"name":"Plan","type":"string","jsonPath":".spec.template.spec.machineType","description":"Equinix Metal plan of the machines"}"#,
    printcolumn = r#"{"name":"OS","type":"string","jsonPath":".spec.template.spec.os","description":"Operating system of the machines"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"Time since the PacketMachineTemplate was created"}"#
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(
    rename = "PacketMachineTemplateSpec",
    description = "Desired state of a PacketMachineTemplate."
)]
pub struct PacketMachineTemplateSpec {
    /// Template is the PacketMachine every clone starts from.
    pub template: PacketMachineTemplateResource,
}

capi_types::optional_spec!(
    PacketMachineTemplate,
    PacketMachineTemplateSpec,
    description = "PacketMachineTemplate is the Schema for the packetmachinetemplates API \
           (v1beta2): the template Cluster API clones PacketMachines from.",
);

/// The v1beta2 PacketMachine a template describes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketMachineTemplateResource {
    /// Standard object metadata (labels and annotations) copied onto every clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// Spec is the specification of the desired behavior of the machine.
    pub spec: super::PacketMachineSpec,
}

/// Desired state of a v1beta2 PacketClusterTemplate.
#[derive(CustomResource, JsonSchema, Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta2",
    kind = "PacketClusterTemplate",
    schema = "manual",
    plural = "packetclustertemplates",
    namespaced,
    doc = "PacketClusterTemplate is the Schema for the packetclustertemplates API (v1beta2): \
           the template a ClusterClass clones PacketClusters from.",
    shortname = "pclt",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    label("cluster.x-k8s.io/v1beta2", "v1beta2"),
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"Time since the PacketClusterTemplate was created"}"#
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(
    rename = "PacketClusterTemplateSpec",
    description = "Desired state of a PacketClusterTemplate."
)]
pub struct PacketClusterTemplateSpec {
    /// Template is the PacketCluster every clone starts from.
    pub template: PacketClusterTemplateResource,
}

capi_types::optional_spec!(
    PacketClusterTemplate,
    PacketClusterTemplateSpec,
    description = "PacketClusterTemplate is the Schema for the packetclustertemplates API \
           (v1beta2): the template a ClusterClass clones PacketClusters from.",
);

/// The v1beta2 PacketCluster a template describes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketClusterTemplateResource {
    /// Standard object metadata (labels and annotations) copied onto every clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// Spec is the specification of the desired behavior of the cluster.
    pub spec: super::PacketClusterSpec,
}
