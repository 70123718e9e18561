//! The kubeadm bootstrap provider kinds (`bootstrap.cluster.x-k8s.io/v1beta1`):
//! `KubeadmConfig` and `KubeadmConfigTemplate`.
//!
//! [`KubeadmConfigSpec`] is also embedded in the KubeadmControlPlane
//! (`spec.kubeadmConfigSpec`), see [`crate::control_plane`].

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{ObjectMeta, SecretKeyReference, V1Beta2ConditionsStatus};
use crate::conditions::{Condition, impl_conditions, impl_kind_conditions};

pub mod kubeadm;

pub use kubeadm::{ClusterConfiguration, InitConfiguration, JoinConfiguration, Sensitive};

/// `format` value: cloud-init user data (the default).
pub const FORMAT_CLOUD_CONFIG: &str = "cloud-config";
/// `format` value: Ignition (Flatcar and Fedora CoreOS).
pub const FORMAT_IGNITION: &str = "ignition";

/// The desired bootstrap configuration of one Machine: kubeadm configuration plus the
/// cloud-init/Ignition extras.
#[allow(
    clippy::duplicated_attributes,
    reason = "each kube printcolumn(...) repeats keys such as type_ by design"
)]
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "bootstrap.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "KubeadmConfig",
    schema = "manual",
    namespaced,
    status = "KubeadmConfigStatus",
    derive = "PartialEq",
    derive = "Default",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    doc = "KubeadmConfig is the Schema for the kubeadmconfigs API.",
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".metadata.labels['cluster\\.x-k8s\\.io/cluster-name']",
        description = "Cluster"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "Time duration since creation of KubeadmConfig"
    )
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(rename = "KubeadmConfigSpec")]
pub struct KubeadmConfigSpec {
    /// Cluster-wide kubeadm settings (`kubeadm init` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_configuration: Option<ClusterConfiguration>,
    /// Node settings for `kubeadm init`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_configuration: Option<InitConfiguration>,
    /// Node settings for `kubeadm join`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_configuration: Option<JoinConfiguration>,
    /// Extra files written to the machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200))]
    pub files: Vec<File>,
    /// Partitions and filesystems to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_setup: Option<DiskSetup>,
    /// Mount points, as cloud-init `mounts` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[schemars(inner(inner(length(min = 1, max = 512))))]
    pub mounts: Vec<Vec<String>>,
    /// Commands run very early in boot (cloud-init `bootcmd`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000), inner(length(min = 1, max = 10240)))]
    pub boot_commands: Vec<String>,
    /// Commands run before kubeadm.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000), inner(length(min = 1, max = 10240)))]
    pub pre_kubeadm_commands: Vec<String>,
    /// Commands run after kubeadm.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000), inner(length(min = 1, max = 10240)))]
    pub post_kubeadm_commands: Vec<String>,
    /// Users to create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub users: Vec<User>,
    /// NTP settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntp: Option<Ntp>,
    /// Output format of the bootstrap data: `cloud-config` (default) or `ignition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["cloud-config", "ignition"]))]
    pub format: Option<String>,
    /// kubeadm's `--v` verbosity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<i32>,
    /// Deprecated: wrap `kubeadm join` in a retry loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_experimental_retry_join: Option<bool>,
    /// Ignition-specific options (used when `format` is `ignition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignition: Option<IgnitionSpec>,
}

crate::optional_spec!(
    KubeadmConfig,
    KubeadmConfigSpec,
    status = KubeadmConfigStatus,
    description = "KubeadmConfig is the Schema for the kubeadmconfigs API.",
);

impl KubeadmConfigSpec {
    /// The bootstrap data format, defaulting to `cloud-config`.
    #[must_use]
    pub fn format(&self) -> &str {
        self.format.as_deref().unwrap_or(FORMAT_CLOUD_CONFIG)
    }
}

/// A file written to the machine.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct File {
    /// Full path of the file.
    #[schemars(length(min = 1, max = 512))]
    pub path: String,
    /// Owner as `user:group` (e.g. `root:root`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub owner: Option<String>,
    /// Permissions in octal (e.g. `0640`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 16))]
    pub permissions: Option<String>,
    /// Encoding of `content`: `base64`, `gzip` or `gzip+base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["base64", "gzip", "gzip+base64"]))]
    pub encoding: Option<String>,
    /// Whether to append to an existing file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<bool>,
    /// The file content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10240))]
    pub content: Option<String>,
    /// A Secret key to read the content from (instead of `content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_from: Option<SecretSource>,
}

/// Where a value comes from: a key of a Secret.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretSource {
    /// The Secret and key.
    pub secret: SecretKeyReference,
}

/// A user created on the machine.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Login name.
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// Comment field (full name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub gecos: Option<String>,
    /// Extra groups, comma-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub groups: Option<String>,
    /// Home directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub home_dir: Option<String>,
    /// Whether the account is inactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive: Option<bool>,
    /// Login shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub shell: Option<String>,
    /// Hashed password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub passwd: Option<Sensitive>,
    /// A Secret key to read the hashed password from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwd_from: Option<SecretSource>,
    /// Primary group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub primary_group: Option<String>,
    /// Whether password login is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_password: Option<bool>,
    /// sudo rule (e.g. `ALL=(ALL) NOPASSWD:ALL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub sudo: Option<String>,
    /// SSH public keys allowed to log in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 2048)))]
    pub ssh_authorized_keys: Vec<String>,
}

/// NTP settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Ntp {
    /// NTP servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 512)))]
    pub servers: Vec<String>,
    /// Whether NTP is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Partitions and filesystems to create.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DiskSetup {
    /// Partitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub partitions: Vec<Partition>,
    /// Filesystems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub filesystems: Vec<Filesystem>,
}

/// A partition table to create.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Partition {
    /// Device name.
    #[schemars(length(min = 1, max = 256))]
    pub device: String,
    /// Whether to create a single partition spanning the device.
    pub layout: bool,
    /// Whether to overwrite an existing partition table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overwrite: Option<bool>,
    /// Partition table type: `mbr` or `gpt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["mbr", "gpt"]))]
    pub table_type: Option<String>,
}

/// A filesystem to create.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Filesystem {
    /// Device name.
    #[schemars(length(min = 1, max = 256))]
    pub device: String,
    /// Filesystem type (e.g. `ext4`).
    #[schemars(length(min = 1, max = 128))]
    pub filesystem: String,
    /// Filesystem label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub label: Option<String>,
    /// Partition to use (`auto`, `any`, `none` or a number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub partition: Option<String>,
    /// Whether to overwrite an existing filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overwrite: Option<bool>,
    /// Deprecated cloud-init option.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "replaceFS")]
    #[schemars(length(min = 1, max = 128))]
    pub replace_fs: Option<String>,
    /// Extra options for `mkfs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 256)))]
    pub extra_opts: Vec<String>,
}

/// Ignition-specific options.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IgnitionSpec {
    /// Options for the Container Linux Config transpiler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_linux_config: Option<ContainerLinuxConfig>,
}

/// Container Linux Config options.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerLinuxConfig {
    /// Extra Container Linux Config (YAML) merged into the generated Ignition config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32768))]
    pub additional_config: Option<String>,
    /// Whether transpiler warnings are errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// The observed state of a KubeadmConfig.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmConfigStatus {
    /// Whether the bootstrap data secret has been created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// Name of the Secret holding the bootstrap data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub data_secret_name: Option<String>,
    /// A terminal problem, machine-readable (deprecated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub failure_reason: Option<String>,
    /// A terminal problem, human readable (deprecated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10240))]
    pub failure_message: Option<String>,
    /// The latest generation observed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The v1beta1 conditions of the KubeadmConfig.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Fields that will be part of the v1beta2 status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1beta2: Option<V1Beta2ConditionsStatus>,
}

impl_conditions!(KubeadmConfigStatus);
impl_kind_conditions!(KubeadmConfig);

/// A template for KubeadmConfigs (referenced by MachineDeployments).
#[allow(
    clippy::duplicated_attributes,
    reason = "each kube printcolumn(...) repeats keys such as type_ by design"
)]
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "bootstrap.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "KubeadmConfigTemplate",
    schema = "manual",
    namespaced,
    derive = "PartialEq",
    derive = "Default",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    doc = "KubeadmConfigTemplate is the Schema for the kubeadmconfigtemplates API.",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "Time duration since creation of KubeadmConfigTemplate"
    )
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(rename = "KubeadmConfigTemplateSpec")]
pub struct KubeadmConfigTemplateSpec {
    /// The template.
    pub template: KubeadmConfigTemplateResource,
}

crate::optional_spec!(
    KubeadmConfigTemplate,
    KubeadmConfigTemplateSpec,
    description = "KubeadmConfigTemplate is the Schema for the kubeadmconfigtemplates API.",
);

/// The content of a KubeadmConfigTemplate.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmConfigTemplateResource {
    /// Labels and annotations for the generated KubeadmConfigs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta>,
    /// The KubeadmConfig spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<KubeadmConfigSpec>,
}
