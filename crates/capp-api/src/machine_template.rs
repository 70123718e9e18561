//! `PacketMachineTemplate`: the template Cluster API clones PacketMachines from
//! (MachineDeployments, MachineSets, KubeadmControlPlane, ClusterClass workers).
//!
//! Templates are immutable, as Cluster API expects: to change machines, create a new template
//! and point the owner at it (a rollout follows). The API server enforces this with a CEL
//! transition rule on `spec.template.spec` (the rule CAPI's reference provider's webhook
//! applies); `spec.template.metadata` stays mutable, since ClusterClass updates template
//! labels and annotations in place.
//!
//! # Caveats
//!
//! The ClusterClass topology controller checks for template changes with a server-side-apply
//! dry run and expects webhooks to skip immutability for requests annotated
//! `topology.cluster.x-k8s.io/dry-run`; a CEL rule cannot see annotations, so such a dry run
//! of a *changed* template is rejected like any other change.

// `#[derive(KubeSchema)]` re-declares the template resource struct as `pub` inside its `json_schema`
// function, where it cannot be reached; the lint would fire on generated code only.
#![allow(
    unreachable_pub,
    reason = "false positive on the KubeSchema-generated copy of the spec"
)]

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::ObjectMeta;
use crate::machine::PacketMachineSpec;

/// The message of the CEL rule that keeps `spec.template.spec` of templates immutable.
pub const IMMUTABLE_TEMPLATE_MESSAGE: &str =
    "spec.template.spec is immutable: create a new template and point to it instead";

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
#[derive(Clone, Debug, Default, Deserialize, Serialize, KubeSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketMachineTemplateResource {
    /// Standard object metadata (labels and annotations) copied onto every clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// Spec is the specification of the desired behavior of the machine.
    #[x_kube(validation = Rule::new("self == oldSelf").message(IMMUTABLE_TEMPLATE_MESSAGE))]
    pub spec: PacketMachineSpec,
}
