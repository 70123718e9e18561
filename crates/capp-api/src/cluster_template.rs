//! `PacketClusterTemplate`: the template a ClusterClass clones PacketClusters from.
//!
//! Cluster API's ClusterClass needs an infrastructure cluster template
//! (`spec.infrastructure.ref` of the ClusterClass); the Go provider had none. Like machine
//! templates it is immutable: the ValidatingAdmissionPolicy of [`crate::policy`] refuses an
//! in-place change of `spec.template.spec` (and lets CAPI's topology dry run through), and
//! [`crate::crds`] removes the PacketCluster spec's own transition rules from the template copy.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cluster::PacketClusterSpec;
use crate::common::ObjectMeta;

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
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketClusterTemplateResource {
    /// Standard object metadata (labels and annotations) copied onto every clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// Spec is the specification of the desired behavior of the cluster.
    pub spec: PacketClusterSpec,
}
