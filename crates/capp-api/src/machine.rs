//! `PacketMachine`: the Cluster API infrastructure machine for Equinix Metal, one device.
//!
//! Cluster API creates one PacketMachine per Machine (cloned from a
//! [`PacketMachineTemplate`](crate::PacketMachineTemplate)); the provider creates the device,
//! records it in `spec.providerID` (`equinixmetal://<device-id>`) and reports its addresses
//! and readiness in the status.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cluster::{FACILITY_ATTRIBUTE, METRO_ATTRIBUTE, PacketCluster, non_empty};
use crate::common::{
    CLUSTER_NAME_LABEL, Condition, Initialization, MachineAddress, V1Beta2ConditionsStatus,
};
use crate::provider_id::ProviderId;
use crate::{Error, Result};

/// Finalizer the provider puts on a PacketMachine until its device is deleted (same name as
/// the Go provider, so machines can move between them).
pub const FINALIZER: &str = "packetmachine.infrastructure.cluster.x-k8s.io";

/// The `hardwareReservationID` value that lets Equinix Metal pick any available reservation.
pub const NEXT_AVAILABLE: &str = "next-available";

/// Annotation the Go provider used to remember a control plane machine's EMLB pool.
pub const LOAD_BALANCER_POOL_ID_ANNOTATION: &str = "equinix.com/loadbalancerpoolID";
/// Annotation the Go provider used to remember a control plane machine's EMLB origin.
pub const LOAD_BALANCER_ORIGIN_ID_ANNOTATION: &str = "equinix.com/loadbalanceroriginID";

/// Device state `new` (`status.instanceStatus`).
pub const INSTANCE_STATUS_NEW: &str = "new";
/// Device state `queued`.
pub const INSTANCE_STATUS_QUEUED: &str = "queued";
/// Device state `provisioning`.
pub const INSTANCE_STATUS_PROVISIONING: &str = "provisioning";
/// Device state `active`: booted and usable.
pub const INSTANCE_STATUS_ACTIVE: &str = "active";
/// Device state `inactive`.
pub const INSTANCE_STATUS_INACTIVE: &str = "inactive";
/// Device state `failed`: provisioning failed.
pub const INSTANCE_STATUS_FAILED: &str = "failed";
/// Device state `deprovisioning`: being deleted.
pub const INSTANCE_STATUS_DEPROVISIONING: &str = "deprovisioning";
/// Device state `powering_on`.
pub const INSTANCE_STATUS_POWERING_ON: &str = "powering_on";
/// Device state `powering_off`.
pub const INSTANCE_STATUS_POWERING_OFF: &str = "powering_off";
/// Device state `reinstalling`.
pub const INSTANCE_STATUS_REINSTALLING: &str = "reinstalling";

/// The CEL transition rule that keeps a PacketMachine's spec immutable except `providerID`
/// (written by the provider), `tags`, `facility` and `metro` — exactly what the Go
/// provider's validating webhook allowed, without needing a webhook. Optional fields may
/// neither be added nor removed.
pub const IMMUTABLE_SPEC_RULE: &str = "self.os == oldSelf.os \
     && self.machineType == oldSelf.machineType \
     && has(self.billingCycle) == has(oldSelf.billingCycle) \
     && (!has(self.billingCycle) || self.billingCycle == oldSelf.billingCycle) \
     && has(self.sshKeys) == has(oldSelf.sshKeys) \
     && (!has(self.sshKeys) || self.sshKeys == oldSelf.sshKeys) \
     && has(self.ipxeURL) == has(oldSelf.ipxeURL) \
     && (!has(self.ipxeURL) || self.ipxeURL == oldSelf.ipxeURL) \
     && has(self.hardwareReservationID) == has(oldSelf.hardwareReservationID) \
     && (!has(self.hardwareReservationID) || self.hardwareReservationID == oldSelf.hardwareReservationID) \
     && has(self.spotInstance) == has(oldSelf.spotInstance) \
     && (!has(self.spotInstance) || self.spotInstance == oldSelf.spotInstance) \
     && has(self.spotPriceMax) == has(oldSelf.spotPriceMax) \
     && (!has(self.spotPriceMax) || self.spotPriceMax == oldSelf.spotPriceMax) \
     && has(self.terminationTime) == has(oldSelf.terminationTime) \
     && (!has(self.terminationTime) || self.terminationTime == oldSelf.terminationTime)";

/// The message of [`IMMUTABLE_SPEC_RULE`].
pub const IMMUTABLE_SPEC_MESSAGE: &str =
    "spec is immutable except providerID, tags, facility and metro";

/// Desired state of a PacketMachine: the device to create.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "infrastructure.cluster.x-k8s.io",
    version = "v1beta1",
    kind = "PacketMachine",
    schema = "manual",
    plural = "packetmachines",
    namespaced,
    status = "PacketMachineStatus",
    doc = "PacketMachine is the Schema for the packetmachines API: one Equinix Metal device \
           backing one Cluster API Machine.",
    shortname = "pma",
    category = "cluster-api",
    label("cluster.x-k8s.io/v1beta1", "v1beta1"),
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".metadata.labels.cluster\\.x-k8s\\.io/cluster-name","description":"Cluster to which this PacketMachine belongs"}"#,
    printcolumn = r#"{"name":"State","type":"string","jsonPath":".status.instanceStatus","description":"Packet instance state"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.ready","description":"Machine ready status"}"#,
    printcolumn = r#"{"name":"InstanceID","type":"string","jsonPath":".spec.providerID","description":"Packet instance ID"}"#,
    printcolumn = r#"{"name":"Machine","type":"string","jsonPath":".metadata.ownerReferences[?(@.kind==\"Machine\")].name","description":"Machine object which owns with this PacketMachine"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp","description":"Time since the PacketMachine was created"}"#
)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(
    rename = "PacketMachineSpec",
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
    /// (`equinixmetal://<device-id>`). Set by the provider once the device exists.
    #[serde(
        default,
        rename = "providerID",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,

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
    description = "PacketMachine is the Schema for the packetmachines API: one Equinix Metal device \
           backing one Cluster API Machine.",
);

/// Observed state of a PacketMachine.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PacketMachineStatus {
    /// Ready is true when the provider resource is ready: the device is active (v1beta1
    /// contract).
    #[serde(default)]
    #[schemars(transform = crate::common::no_default)]
    pub ready: bool,

    /// Initialization carries readiness in the v1beta2 contract
    /// (`initialization.provisioned`, kept equal to `ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialization: Option<Initialization>,

    /// Addresses contains the device's addresses: public ones as `ExternalIP`, private ones
    /// as `InternalIP`. Cluster API copies them to the Machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<MachineAddress>,

    /// InstanceStatus is the status of the Packet device instance for this machine, as
    /// Equinix Metal reports it (`queued`, `provisioning`, `active`, `failed`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_status: Option<String>,

    /// FailureDomain is the metro (or facility) the device was created in, as a failure
    /// domain name (v1beta2 contract; Cluster API copies it to the Machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_domain: Option<String>,

    /// FailureReason will be set in the event that there is a terminal problem reconciling
    /// the Machine and will contain a succinct value suitable for machine interpretation
    /// (Cluster API `MachineStatusError`). Not set for transient errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,

    /// FailureMessage will be set in the event that there is a terminal problem reconciling
    /// the Machine and will contain a more verbose string suitable for logging and human
    /// consumption. Not set for transient errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,

    /// Conditions defines current service state of the PacketMachine (Cluster API v1beta1
    /// conditions, with severity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,

    /// V1Beta2 groups the v1beta2 view of the status (standard `metav1.Condition`s), as
    /// Cluster API v1beta1 kinds do to ease the move to v1beta2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1beta2: Option<V1Beta2ConditionsStatus>,
}

impl PacketMachineStatus {
    /// Sets readiness in both contracts: `ready` (v1beta1) and
    /// `initialization.provisioned` (v1beta2). `initialization.provisioned` never goes back
    /// to false once true, so `false` after `true` only clears `ready`.
    pub fn set_provisioned(&mut self, provisioned: bool) {
        crate::common::set_provisioned(&mut self.ready, &mut self.initialization, provisioned);
    }

    /// Whether the device is provisioned by either contract's field.
    #[must_use]
    pub fn is_provisioned(&self) -> bool {
        crate::common::is_provisioned(self.ready, self.initialization.as_ref())
    }

    /// Whether a terminal failure has been recorded (`failureReason` or `failureMessage`).
    #[must_use]
    pub fn has_failed(&self) -> bool {
        self.failure_reason.is_some() || self.failure_message.is_some()
    }
}

impl capi_types::conditions::Conditions for PacketMachineStatus {
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        &mut self.conditions
    }
}

/// Which reserved hardware a device should be created on (`spec.hardwareReservationID`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HardwareReservation {
    /// Exactly this reservation.
    Id(String),
    /// The first of these reservations that is available, in order.
    AnyOf(Vec<String>),
    /// Any available reservation in the project (`next-available`).
    NextAvailable,
}

/// Where a device is created. Equinix Metal takes either a metro or a facility; when both are
/// known the facility is more specific and wins, as in the Go provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Location<'a> {
    /// Metro code, e.g. `da`.
    pub metro: Option<&'a str>,
    /// Facility code, e.g. `dc13` (legacy).
    pub facility: Option<&'a str>,
}

impl PacketMachineSpec {
    /// Parses `hardwareReservationID`: `None` when unset or blank.
    ///
    /// ```
    /// use capp_api::machine::{HardwareReservation, PacketMachineSpec};
    /// let spec = PacketMachineSpec {
    ///     hardware_reservation_id: Some("a1, b2".into()),
    ///     ..Default::default()
    /// };
    /// assert_eq!(
    ///     spec.hardware_reservation()?,
    ///     Some(HardwareReservation::AnyOf(vec!["a1".into(), "b2".into()]))
    /// );
    /// # Ok::<(), capp_api::Error>(())
    /// ```
    pub fn hardware_reservation(&self) -> Result<Option<HardwareReservation>> {
        let Some(raw) = self.hardware_reservation_id.as_deref() else {
            return Ok(None);
        };
        let value = raw.trim();
        if value.is_empty() {
            return Ok(None);
        }
        if value == NEXT_AVAILABLE {
            return Ok(Some(HardwareReservation::NextAvailable));
        }
        let ids: Vec<&str> = value.split(',').map(str::trim).collect();
        if ids.iter().any(|id| id.is_empty() || *id == NEXT_AVAILABLE) {
            return Err(Error::InvalidHardwareReservation {
                value: raw.to_owned(),
            });
        }
        Ok(Some(match ids.as_slice() {
            [one] => HardwareReservation::Id((*one).to_owned()),
            many => HardwareReservation::AnyOf(many.iter().map(|id| (*id).to_owned()).collect()),
        }))
    }

    /// Where the device goes, given the cluster and the failure domain Cluster API chose for
    /// the Machine (`Machine.spec.failureDomain`).
    ///
    /// The machine's own `metro`/`facility` win (if either is set, both replace the
    /// cluster's, as in the Go provider); otherwise a failure domain named in the cluster's
    /// `spec.failureDomains` (or its status) decides; otherwise the cluster's location.
    #[must_use]
    pub fn location<'a>(
        &'a self,
        cluster: &'a PacketCluster,
        failure_domain: Option<&'a str>,
    ) -> Location<'a> {
        let metro = non_empty(self.metro.as_deref());
        let facility = non_empty(self.facility.as_deref());
        if metro.is_some() || facility.is_some() {
            return Location { metro, facility };
        }
        if let Some(fd) = non_empty(failure_domain) {
            let from_spec = cluster
                .spec
                .failure_domains
                .iter()
                .flatten()
                .find(|d| d.name == fd)
                .map(|d| d.facility == Some(true));
            let from_status = || {
                let domains = cluster.status.as_ref()?.failure_domains.as_ref()?;
                let spec = domains.get(fd)?;
                Some(
                    spec.attributes.contains_key(FACILITY_ATTRIBUTE)
                        && !spec.attributes.contains_key(METRO_ATTRIBUTE),
                )
            };
            if let Some(is_facility) = from_spec.or_else(from_status) {
                return if is_facility {
                    Location {
                        metro: None,
                        facility: Some(fd),
                    }
                } else {
                    Location {
                        metro: Some(fd),
                        facility: None,
                    }
                };
            }
        }
        Location {
            metro: non_empty(cluster.spec.metro.as_deref()),
            facility: non_empty(cluster.spec.facility.as_deref()),
        }
    }
}

impl PacketMachine {
    /// `spec.providerID`, when set and not empty.
    #[must_use]
    pub fn provider_id(&self) -> Option<&str> {
        non_empty(self.spec.provider_id.as_deref())
    }

    /// The Equinix Metal device ID from `spec.providerID`; `None` when unset or malformed
    /// (use [`PacketMachine::parsed_provider_id`] to tell the two apart).
    #[must_use]
    pub fn device_id(&self) -> Option<&str> {
        let (_, device_id) = crate::provider_id::split(self.provider_id()?).ok()?;
        Some(device_id)
    }

    /// `spec.providerID` parsed: `None` when unset or empty, an error naming the problem when
    /// it is not an Equinix Metal provider ID.
    #[must_use]
    pub fn parsed_provider_id(&self) -> Option<Result<ProviderId>> {
        self.provider_id().map(str::parse)
    }

    /// The name of the Cluster this PacketMachine belongs to (label
    /// `cluster.x-k8s.io/cluster-name`).
    #[must_use]
    pub fn cluster_name(&self) -> Option<&str> {
        self.metadata
            .labels
            .as_ref()?
            .get(CLUSTER_NAME_LABEL)
            .map(String::as_str)
    }

    /// Whether the device is provisioned (either contract's status field).
    #[must_use]
    pub fn is_provisioned(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(PacketMachineStatus::is_provisioned)
    }

    /// `status.instanceStatus`, when known.
    #[must_use]
    pub fn instance_status(&self) -> Option<&str> {
        self.status.as_ref()?.instance_status.as_deref()
    }
}

#[cfg(test)]
mod tests;
