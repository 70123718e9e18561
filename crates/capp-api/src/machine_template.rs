//! `PacketMachineTemplate`: the template Cluster API clones PacketMachines from
//! (MachineDeployments, MachineSets, KubeadmControlPlane, ClusterClass workers).
//!
//! Templates are immutable, as Cluster API expects: to change machines, create a new template
//! and point the owner at it (a rollout follows). The schema carries no transition rule for
//! that (a CRD rule cannot see CAPI's `topology.cluster.x-k8s.io/dry-run` annotation, which
//! ClusterClass needs honoured); the ValidatingAdmissionPolicy of [`crate::policy`] enforces it,
//! and [`crate::crds`] removes the PacketMachine spec's own transition rules from the copy in
//! `spec.template.spec`. `spec.template.metadata` stays mutable, since ClusterClass updates
//! template labels and annotations in place.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::ObjectMeta;
use crate::machine::PacketMachineSpec;

/// Desired state of a PacketMachineTemplate.
#[derive(CustomResource, JsonSchema, Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "PacketMachineTemplate",
    schema = "manual",
    plural = "packetmachinetemplates",
    namespaced,
    doc = "PacketMachineTemplate is the Schema for the packetmachinetemplates API: the \
           template Cluster API clones PacketMachines from.",
    shortname = "pmt",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    printcolumn = r#"{"name":"Plan","type":"string","jsonPath":".spec.template.spec.machineType","description":"Equinix Metal plan of the machines"}"#,
    printcolumn = r#"{"name":"OS","type":"string","jsonPath":".spec.template.spec.os","description":"Operating system of the machines"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"Time since the PacketMachineTemplate was created"}"#
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(rename = "PacketMachineTemplateSpec")]
pub struct PacketMachineTemplateSpec {
    /// Template is the PacketMachine every clone starts from.
    pub template: PacketMachineTemplateResource,
}

capi_types::optional_spec!(
    PacketMachineTemplate,
    PacketMachineTemplateSpec,
    description = "PacketMachineTemplate is the Schema for the packetmachinetemplates API: the \
           template Cluster API clones PacketMachines from.",
);

/// The PacketMachine a template describes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketMachineTemplateResource {
    /// Standard object metadata (labels and annotations) copied onto every clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// Spec is the specification of the desired behavior of the machine.
    pub spec: PacketMachineSpec,
}
