//! `PacketMachine` in `infrastructure.cluster.x-k8s.io/v1beta2`: the v1beta1 spec with
//! `providerID` a plain string (as the v1beta2 contract recommends), and the status shape of
//! the v1beta2 contract.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use capi_types::common::V1Beta2Condition;
use capi_types::v1beta2::DeprecatedStatus;

use crate::common::{Initialization, MachineAddress};
use crate::machine::{IMMUTABLE_SPEC_MESSAGE, IMMUTABLE_SPEC_RULE};

/// Desired state of a v1beta2 PacketMachine: the device to create. Every field is the v1beta1
/// field of the same name ([`crate::machine::PacketMachineSpec`] documents the semantics),
/// except `providerID`, a plain string (empty until the device exists).
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta2",
    kind = "PacketMachine",
    schema = "manual",
    plural = "packetmachines",
    namespaced,
    status = "PacketMachineStatus",
    doc = "PacketMachine is the Schema for the packetmachines API (v1beta2): one Equinix Metal \
           device backing one Cluster API Machine.",
    shortname = "pma",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    label("cluster.x-k8s.io/v1beta2", "v1beta2"),
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".metadata.labels.cluster\\.x-k8s\\.io/cluster-name","description":"Cluster to which this PacketMachine belongs"}"#,
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.instanceStatus","description":"Packet instance state"}"#,
    printcolumn = r#"{"name":"Provisioned","type":"string","jsonPath":".status.initialization.provisioned","description":"Device provisioned"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status","description":"PacketMachine Ready condition"}"#,
    printcolumn = r#"{"name":"InstanceID","type":"string","jsonPath":".spec.providerID","description":"Packet instance ID"}"#,
    printcolumn = r#"{"name":"Machine","type":"string","jsonPath":".metadata.ownerReferences[?(@.kind==\"Machine\")].name","description":"Machine object which owns with this PacketMachine"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"Time since the PacketMachine was created"}"#
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(
    rename = "PacketMachineSpec",
    description = "Desired state of a PacketMachine: the device to create.",
    extend("x-kubernetes-validations" = [{"message": IMMUTABLE_SPEC_MESSAGE, "rule": IMMUTABLE_SPEC_RULE}])
)]
pub struct PacketMachineSpec {
    /// OS is the Equinix Metal operating system slug to install (e.g. `ubuntu_24_04`,
    /// `flatcar_stable`, `custom_ipxe`).
    #[serde(rename = "os")]
    pub os: String,

    /// BillingCycle is the billing cycle of the device (e.g. `hourly`, `daily`, `monthly`,
    /// `yearly`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_cycle: Option<String>,

    /// MachineType is the Equinix Metal plan slug (e.g. `c3.small.x86`).
    pub machine_type: String,

    /// SSHKeys are SSH public keys (`authorized_keys` lines such as
    /// `ssh-ed25519 AAAA... user@host`) installed on the device. They are sent with the
    /// device creation request. When empty, Equinix Metal installs the keys of the project
    /// and its members, as it does by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_keys: Option<Vec<String>>,

    /// Facility represents the Packet facility for this machine. Overrides the cluster's
    /// location (if either `facility` or `metro` is set here, both of the cluster's values
    /// are ignored). Legacy: prefer `metro`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility: Option<String>,

    /// Metro represents the Packet metro for this machine. Overrides the cluster's location
    /// (if either `facility` or `metro` is set here, both of the cluster's values are
    /// ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metro: Option<String>,

    /// IPXEUrl can be used to set the pxe boot url when using custom OSes with this
    /// provider. Note that `os` should also be set to `custom_ipxe` if using this value.
    #[serde(default, rename = "ipxeURL", skip_serializing_if = "Option::is_none")]
    pub ipxe_url: Option<String>,

    /// HardwareReservationID selects reserved hardware: a single reservation ID, a
    /// comma-separated list of IDs (the first one that is available is used), or
    /// `next-available` (any available reservation in the project).
    #[serde(
        default,
        rename = "hardwareReservationID",
        skip_serializing_if = "Option::is_none"
    )]
    pub hardware_reservation_id: Option<String>,

    /// ProviderID is the unique identifier as specified by the cloud provider
    /// (`equinixmetal://<device-id>`). Set by the provider once the device exists; empty
    /// (omitted) until then.
    #[serde(
        default,
        rename = "providerID",
        skip_serializing_if = "String::is_empty"
    )]
    pub provider_id: String,

    /// Tags is an optional set of tags to add to the device, in addition to the tags the
    /// provider uses to find its devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,

    /// SpotInstance requests a spot market device: cheaper, but Equinix Metal may reclaim it
    /// when the bid is no longer met (the device is then terminated at its
    /// `terminationTime`). Requires `spotPriceMax`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_instance: Option<bool>,

    /// SpotPriceMax is the maximum hourly price in USD to bid for a spot market device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_price_max: Option<f64>,

    /// TerminationTime is when Equinix Metal deletes the device, as an RFC 3339 timestamp.
    /// Commonly set for spot market devices; also valid for on-demand and reserved ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub termination_time: Option<String>,
}

capi_types::optional_spec!(
    PacketMachine,
    PacketMachineSpec,
    status = PacketMachineStatus,
    description = "PacketMachine is the Schema for the packetmachines API (v1beta2): one Equinix \
           Metal device backing one Cluster API Machine.",
);

/// Observed state of a v1beta2 PacketMachine (v1beta2 contract).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketMachineStatus {
    /// Initialization says whether the device is provisioned (`initialization.provisioned`,
    /// read by Cluster API v1.11+; the v1beta1 `ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialization: Option<Initialization>,

    /// Addresses contains the device's addresses: public ones as `ExternalIP`, private ones
    /// as `InternalIP`. Cluster API copies them to the Machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<MachineAddress>,

    /// InstanceStatus is the status of the Equinix Metal device, as Equinix Metal reports it
    /// (`queued`, `provisioning`, `active`, `failed`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_status: Option<String>,

    /// FailureDomain is the metro (or facility) the device was created in, as a failure
    /// domain name; Cluster API copies it to `Machine.status.failureDomain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_domain: Option<String>,

    /// Conditions defines the current service state of the PacketMachine (standard
    /// `metav1.Condition`s; `Ready` is mirrored to the Machine's `InfrastructureReady`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    #[schemars(length(max = 32))]
    pub conditions: Vec<V1Beta2Condition>,

    /// Deprecated groups the v1beta1 status fields (conditions with severity,
    /// `failureReason`, `failureMessage`), kept until v1beta1 is removed. In the v1beta2
    /// contract they are no longer terminal: Cluster API only copies them to the Machine's
    /// own deprecated status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<DeprecatedStatus>,
}

impl PacketMachineStatus {
    /// Whether `initialization.provisioned` is true.
    #[must_use]
    pub fn is_provisioned(&self) -> bool {
        crate::common::is_provisioned(false, self.initialization.as_ref())
    }
}

impl PacketMachine {
    /// `spec.providerID`, when not empty.
    #[must_use]
    pub fn provider_id(&self) -> Option<&str> {
        crate::cluster::non_empty(Some(self.spec.provider_id.as_str()))
    }

    /// Whether the device is provisioned (`status.initialization.provisioned`).
    #[must_use]
    pub fn is_provisioned(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(PacketMachineStatus::is_provisioned)
    }
}
