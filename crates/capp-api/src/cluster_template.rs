//! `PacketClusterTemplate`: the template a ClusterClass clones PacketClusters from.
//!
//! Cluster API's ClusterClass needs an infrastructure cluster template
//! (`spec.infrastructure.ref` of the ClusterClass); the Go provider had none. Like machine
//! templates it is immutable (see the caveat in [`crate::machine_template`]).

// `#[derive(KubeSchema)]` re-declares the template resource struct as `pub` inside its `json_schema`
// function, where it cannot be reached; the lint would fire on generated code only.
#![allow(
    unreachable_pub,
    reason = "false positive on the KubeSchema-generated copy of the spec"
)]

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cluster::PacketClusterSpec;
use crate::common::ObjectMeta;
use crate::machine_template::IMMUTABLE_TEMPLATE_MESSAGE;

/// Desired state of a PacketClusterTemplate.
#[derive(CustomResource, JsonSchema, Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "PacketClusterTemplate",
    schema = "manual",
    plural = "packetclustertemplates",
    namespaced,
    doc = "PacketClusterTemplate is the Schema for the packetclustertemplates API: the \
           template a ClusterClass clones PacketClusters from.",
    shortname = "pclt",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"Time since the PacketClusterTemplate was created"}"#
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(rename = "PacketClusterTemplateSpec")]
pub struct PacketClusterTemplateSpec {
    /// Template is the PacketCluster every clone starts from.
    pub template: PacketClusterTemplateResource,
}

capi_types::optional_spec!(
    PacketClusterTemplate,
    PacketClusterTemplateSpec,
    description = "PacketClusterTemplate is the Schema for the packetclustertemplates API: the \
           template a ClusterClass clones PacketClusters from.",
);

/// The PacketCluster a template describes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, KubeSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketClusterTemplateResource {
    /// Standard object metadata (labels and annotations) copied onto every clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// Spec is the specification of the desired behavior of the cluster.
    #[x_kube(validation = Rule::new("self == oldSelf").message(IMMUTABLE_TEMPLATE_MESSAGE))]
    pub spec: PacketClusterSpec,
}
