//! `PacketKubeadmConfig` and `PacketKubeadmConfigTemplate`
//! (`bootstrap.cluster.x-k8s.io/v1beta1`): capp's built-in kubeadm bootstrap provider, the
//! original Packet provider's design inside the Cluster API bootstrap contract.
//!
//! A Machine whose `spec.bootstrap.configRef` points at a `PacketKubeadmConfig` gets its
//! userdata from the machine-config matrix (OS image × Kubernetes version → setup script,
//! see `capp_bootstrap::matrix`): the first control-plane Machine runs `kubeadm init` with the
//! cluster's CAs, later ones join as control planes, workers join with a bootstrap token that
//! the controller mints in the workload cluster. The spec only holds what the matrix needs
//! and a few typed additions; `docs/bootstrap.md` describes the whole flow.
//!
//! The status follows the bootstrap contract of both Cluster API generations: `ready`
//! (v1beta1) and `initialization.dataSecretCreated` (v1beta2), `dataSecretName`, conditions
//! and `observedGeneration`.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Condition, ObjectMeta};

/// The API group of the bootstrap kinds (the group of every Cluster API bootstrap provider).
pub const BOOTSTRAP_GROUP: &str = "bootstrap.cluster.x-k8s.io";

/// `apiVersion` of the bootstrap kinds.
pub const BOOTSTRAP_API_VERSION: &str = "bootstrap.cluster.x-k8s.io/v1beta1";

/// Condition type: the bootstrap data Secret exists (CABPK's type).
pub const DATA_SECRET_AVAILABLE: &str = "DataSecretAvailable";
/// Condition type: the cluster's CAs could be read or created (CABPK's type).
pub const CERTIFICATES_AVAILABLE: &str = "CertificatesAvailable";

/// Reason: the Cluster has no valid `spec.controlPlaneEndpoint` yet.
pub const WAITING_FOR_CONTROL_PLANE_ENDPOINT_REASON: &str = "WaitingForControlPlaneEndpoint";
/// Reason: a worker (or a further control plane) waits until the control plane is
/// initialized (CABPK's reason).
pub const WAITING_FOR_CONTROL_PLANE_AVAILABLE_REASON: &str = "WaitingForControlPlaneAvailable";
/// Reason: another control-plane Machine holds the init lock and is running `kubeadm init`.
pub const WAITING_FOR_INIT_LOCK_REASON: &str = "WaitingForControlPlaneInitLock";
/// Reason: no machine-config matrix entry serves the Machine's OS and Kubernetes version.
pub const MACHINE_CONFIG_NOT_FOUND_REASON: &str = "MachineConfigNotFound";
/// Reason: the spec, the Machine or the matrix cannot produce userdata (the message names
/// the field and the fix).
pub const INVALID_CONFIGURATION_REASON: &str = "InvalidConfiguration";
/// Reason: writing the data Secret or talking to the workload cluster failed (CABPK's reason).
pub const DATA_SECRET_GENERATION_FAILED_REASON: &str = "DataSecretGenerationFailed";
/// Reason: the CAs could not be created or stored (CABPK's reason).
pub const CERTIFICATES_GENERATION_FAILED_REASON: &str = "CertificatesGenerationFailed";
/// Reason: a CA Secret exists but cannot be used; it is never replaced (CABPK's reason).
pub const CERTIFICATES_CORRUPTED_REASON: &str = "CertificatesCorrupted";

/// Desired state of a PacketKubeadmConfig. Every field is optional: `spec: {}` bootstraps
/// a node from the matrix entry that serves its OS and Kubernetes version.
#[derive(CustomResource, JsonSchema, Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[kube(
    group = "bootstrap.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "PacketKubeadmConfig",
    plural = "packetkubeadmconfigs",
    namespaced,
    status = "PacketKubeadmConfigStatus",
    doc = "PacketKubeadmConfig is the Schema for the packetkubeadmconfigs API: the userdata of \
           one Machine, rendered by capp's built-in kubeadm bootstrap provider from the \
           machine-config matrix.",
    shortname = "pkc",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    label("cluster.x-k8s.io/v1beta2", "v1beta1"),
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".metadata.labels['cluster\\.x-k8s\\.io/cluster-name']","description":"Cluster to which this PacketKubeadmConfig belongs"}"#,
    printcolumn = r#"{"name":"Ready","type":"boolean","jsonPath":".status.ready","description":"Whether the bootstrap data Secret exists"}"#,
    printcolumn = r#"{"name":"Secret","type":"string","jsonPath":".status.dataSecretName","description":"Name of the bootstrap data Secret"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"Time since the PacketKubeadmConfig was created"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PacketKubeadmConfigSpec {
    /// OS is the Equinix Metal operating system slug the matrix is searched for
    /// (`ubuntu_24_04`). Default: `spec.os` of the Machine's infrastructure machine
    /// (PacketMachine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,

    /// MachineConfig is the name of the matrix entry that must serve this Machine; when
    /// set, a Machine the named entry does not serve gets the `MachineConfigNotFound`
    /// condition instead of another entry's script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_config: Option<String>,

    /// ContainerRuntime is the container runtime the selected matrix entry must install
    /// (its `containerRuntime`, e.g. `containerd`); unset accepts the entry's runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_runtime: Option<String>,

    /// Files are extra files written on the node before the setup script runs. They must
    /// not hold secrets: userdata is readable by anything on the device.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<BootstrapFile>,

    /// PreKubeadmCommands run (as `sh` lines, stopping at the first failure) after the setup
    /// script and before `kubeadm init` / `kubeadm join`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_kubeadm_commands: Vec<String>,

    /// PostKubeadmCommands run after kubeadm succeeded, before the bootstrap sentinel is
    /// written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_kubeadm_commands: Vec<String>,

    /// KubeletExtraArgs are added to the kubeadm `nodeRegistration.kubeletExtraArgs`
    /// (flag name without dashes → value). `cloud-provider`, `provider-id` and `node-ip`
    /// are set by the provider and cannot be overridden here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kubelet_extra_args: BTreeMap<String, String>,

    /// Kubeadm overrides the cluster networking written into the kubeadm
    /// `ClusterConfiguration` (used by the control plane that runs `kubeadm init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeadm: Option<KubeadmOverrides>,
}

/// An extra file written on the node (`write_files`).
#[derive(JsonSchema, Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapFile {
    /// Path is the absolute path of the file on the node.
    pub path: String,
    /// Permissions is the octal mode of the file (`0644` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
    /// Content is the text of the file.
    pub content: String,
}

/// Cluster networking written into kubeadm's `ClusterConfiguration`.
#[derive(JsonSchema, Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmOverrides {
    /// PodSubnet is the Pod network CIDR (`networking.podSubnet`, default `192.168.0.0/16`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_subnet: Option<String>,
    /// ServiceSubnet is the Service network CIDR (`networking.serviceSubnet`, default
    /// `172.26.0.0/16`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_subnet: Option<String>,
    /// DNSDomain is the cluster DNS domain (`networking.dnsDomain`, default
    /// `cluster.local`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
}

/// Observed state of a PacketKubeadmConfig (the bootstrap contract's fields).
#[derive(JsonSchema, Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketKubeadmConfigStatus {
    /// Ready is true once the bootstrap data Secret exists (v1beta1 contract).
    #[serde(default)]
    #[schemars(transform = crate::common::no_default)]
    pub ready: bool,

    /// DataSecretName is the name of the Secret holding the bootstrap data (keys `value`
    /// and `format`); Cluster API copies it to `Machine.spec.bootstrap.dataSecretName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_secret_name: Option<String>,

    /// Initialization carries readiness in the v1beta2 contract
    /// (`initialization.dataSecretCreated`, kept equal to `ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialization: Option<BootstrapInitialization>,

    /// ObservedGeneration is the latest generation the controller acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Conditions defines the current state of the PacketKubeadmConfig (Cluster API
    /// v1beta1 conditions, with severity): `Ready`, `DataSecretAvailable`,
    /// `CertificatesAvailable`, `Paused`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Readiness in the v1beta2 bootstrap contract (`status.initialization`).
#[derive(JsonSchema, Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapInitialization {
    /// DataSecretCreated is true once the bootstrap data Secret exists; it never goes back
    /// to false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_secret_created: Option<bool>,
}

impl PacketKubeadmConfigStatus {
    /// Records the data Secret in both contracts' fields.
    pub fn set_data_secret(&mut self, name: &str) {
        self.ready = true;
        self.data_secret_name = Some(name.to_owned());
        self.initialization = Some(BootstrapInitialization {
            data_secret_created: Some(true),
        });
    }

    /// Whether either contract's field says the data Secret exists.
    #[must_use]
    pub fn data_secret_created(&self) -> bool {
        self.ready
            || self
                .initialization
                .as_ref()
                .and_then(|i| i.data_secret_created)
                == Some(true)
    }
}

impl capi_types::conditions::Conditions for PacketKubeadmConfigStatus {
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        &mut self.conditions
    }
}

/// Desired state of a PacketKubeadmConfigTemplate.
#[derive(CustomResource, JsonSchema, Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[kube(
    group = "bootstrap.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "PacketKubeadmConfigTemplate",
    plural = "packetkubeadmconfigtemplates",
    namespaced,
    doc = "PacketKubeadmConfigTemplate is the Schema for the packetkubeadmconfigtemplates API: \
           the template MachineDeployments and MachineSets clone PacketKubeadmConfigs from.",
    shortname = "pkct",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    label("cluster.x-k8s.io/v1beta2", "v1beta1"),
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"Time since the PacketKubeadmConfigTemplate was created"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PacketKubeadmConfigTemplateSpec {
    /// Template is the PacketKubeadmConfig every clone starts from.
    pub template: PacketKubeadmConfigTemplateResource,
}

/// The PacketKubeadmConfig a template describes.
#[derive(JsonSchema, Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketKubeadmConfigTemplateResource {
    /// Standard object metadata (labels and annotations) copied onto every clone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// Spec is the PacketKubeadmConfig spec of every clone.
    #[serde(default)]
    pub spec: PacketKubeadmConfigSpec,
}

/// The two CustomResourceDefinitions of the bootstrap kinds (PacketKubeadmConfig,
/// PacketKubeadmConfigTemplate), completed by [`crate::complete_crd`]. Install them next to
/// [`crate::crds()`] to use the built-in bootstrap provider.
///
/// ```
/// let names: Vec<String> = capp_api::bootstrap::crds().into_iter().filter_map(|c| c.metadata.name).collect();
/// assert_eq!(names, [
///     "packetkubeadmconfigs.bootstrap.cluster.x-k8s.io",
///     "packetkubeadmconfigtemplates.bootstrap.cluster.x-k8s.io",
/// ]);
/// ```
#[must_use]
pub fn crds()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    use kube::CustomResourceExt;
    vec![
        crate::complete_crd(PacketKubeadmConfig::crd()),
        crate::complete_crd(PacketKubeadmConfigTemplate::crd()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_spec_parses_and_the_status_sets_both_contracts() {
        let config: PacketKubeadmConfig = serde_json::from_value(serde_json::json!({
            "apiVersion": BOOTSTRAP_API_VERSION, "kind": "PacketKubeadmConfig",
            "metadata": {"name": "w-0", "namespace": "default"},
            "spec": {},
        }))
        .unwrap();
        assert_eq!(config.spec, PacketKubeadmConfigSpec::default());
        let mut status = PacketKubeadmConfigStatus::default();
        assert!(!status.data_secret_created());
        status.set_data_secret("w-0");
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"ready": true, "dataSecretName": "w-0",
                "initialization": {"dataSecretCreated": true}})
        );
    }
}
