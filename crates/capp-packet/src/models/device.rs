//! Devices (bare-metal servers): the response model and the create/update requests.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::catalog::{Facility, Metro, OperatingSystem, Plan};
use super::common::{Href, ResourceRef};
use super::de::null_default;
use super::ip::IpAssignment;

/// Userdata (cloud-init, Ignition or a script) of a device.
///
/// Userdata usually carries bootstrap secrets (kubeadm join tokens, certificates), so `Debug`
/// prints only its length. Serialized as a plain JSON string.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Userdata(String);

impl Userdata {
    /// Wraps userdata text.
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The userdata text. Do not log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the userdata is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Userdata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Userdata([{} bytes])", self.0.len())
    }
}

impl From<String> for Userdata {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Userdata {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// Lifecycle state of a device (`Device.state`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Accepted, waiting to be picked up.
    Queued,
    /// Being installed.
    Provisioning,
    /// Being wiped after a delete.
    Deprovisioning,
    /// Being reinstalled.
    Reinstalling,
    /// Running and usable.
    Active,
    /// Powered off.
    Inactive,
    /// Provisioning or deprovisioning failed.
    Failed,
    /// Powering on.
    PoweringOn,
    /// Powering off.
    PoweringOff,
    /// Deleted.
    Deleted,
    /// A state this client does not know, or no state in the response.
    #[default]
    #[serde(other)]
    Other,
}

/// Billing cycle of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingCycle {
    /// Billed by the hour (the usual choice for clusters).
    Hourly,
    /// Billed by the day.
    Daily,
    /// Billed by the month.
    Monthly,
    /// Billed by the year.
    Yearly,
}

/// A device as returned by `GET /devices/{id}` and the device lists.
///
/// `root_password` is intentionally absent: the client never needs it and it must not end up in
/// logs through `Debug`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "the API's Device has these independent flags; an enum would not model them"
)]
pub struct Device {
    /// UUID.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// First 8 characters of the id.
    pub short_id: Option<String>,
    /// Relative URL.
    pub href: Option<String>,
    /// Hostname (not unique within a project).
    #[serde(deserialize_with = "null_default")]
    pub hostname: String,
    /// Free-text description.
    pub description: Option<String>,
    /// Lifecycle state.
    #[serde(deserialize_with = "null_default")]
    pub state: DeviceState,
    /// Installation progress in percent; only sent while provisioning.
    pub provisioning_percentage: Option<f64>,
    /// Creation time (RFC 3339).
    pub created_at: Option<String>,
    /// Last update time (RFC 3339).
    pub updated_at: Option<String>,
    /// Whether the device is locked against deletion.
    #[serde(deserialize_with = "null_default")]
    pub locked: bool,
    /// Billing cycle (`hourly`, ...), kept as text since the server may add values.
    pub billing_cycle: Option<String>,
    /// Tags.
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Userdata the device was created with.
    pub userdata: Option<Userdata>,
    /// Free-form JSON visible to the device through the metadata service.
    pub customdata: Option<Map<String, Value>>,
    /// Whether the device PXE-boots on every boot.
    #[serde(deserialize_with = "null_default")]
    pub always_pxe: bool,
    /// iPXE script URL (only with OS `custom_ipxe`).
    pub ipxe_script_url: Option<String>,
    /// Whether this is a spot-market instance.
    #[serde(deserialize_with = "null_default")]
    pub spot_instance: bool,
    /// Maximum spot bid.
    pub spot_price_max: Option<f64>,
    /// When a spot instance will be reclaimed (RFC 3339).
    pub termination_time: Option<String>,
    /// Operating system.
    pub operating_system: Option<OperatingSystem>,
    /// Hardware plan.
    pub plan: Option<Plan>,
    /// Metro.
    pub metro: Option<Metro>,
    /// Facility.
    pub facility: Option<Facility>,
    /// Owning project (usually only `{href}` unless `include=project`).
    pub project: Option<ResourceRef>,
    /// Owning project link.
    pub project_lite: Option<ResourceRef>,
    /// The hardware reservation the device runs on, if any.
    pub hardware_reservation: Option<ResourceRef>,
    /// IP addresses assigned to the device.
    #[serde(deserialize_with = "null_default")]
    pub ip_addresses: Vec<IpAssignment>,
    /// SSH keys installed on the device.
    #[serde(deserialize_with = "null_default")]
    pub ssh_keys: Vec<Href>,
    /// Switch UUID (devices on one switch share a failure domain).
    pub switch_uuid: Option<String>,
    /// Whether network changes are frozen.
    #[serde(deserialize_with = "null_default")]
    pub network_frozen: bool,
}

impl Device {
    /// Whether the device carries every one of `tags`.
    #[must_use]
    pub fn has_tags<S: AsRef<str>>(&self, tags: &[S]) -> bool {
        tags.iter()
            .all(|wanted| self.tags.iter().any(|t| t == wanted.as_ref()))
    }

    /// The first assigned address matching the family (4 or 6) and visibility.
    #[must_use]
    pub fn address(&self, family: u8, public: bool) -> Option<&IpAssignment> {
        self.ip_addresses
            .iter()
            .find(|a| a.address_family == Some(family) && a.public == public)
    }
}

/// Where to create a device: a metro, or a priority list of facilities (deprecated by Equinix).
///
/// The spec's create body is `oneOf(metro form, facility form)`; a body carrying both matches
/// both branches and is rejected, so this type can hold exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// Metro code or id (e.g. `da`), or `any`.
    Metro(String),
    /// Facility codes in priority order (e.g. `["da11", "any"]`).
    Facility(Vec<String>),
}

/// One requested address block in [`CreateDevice::ip_addresses`] (`IPAddress` schema).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IpAddressRequest {
    /// 4 or 6.
    pub address_family: u8,
    /// Public (`true`) or private (`false`).
    pub public: bool,
    /// Prefix length, if not the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<u8>,
    /// Reservations (UUIDs) to take the address from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_reservations: Vec<String>,
}

/// Body of `POST /projects/{id}/devices` (createDevice). Only set fields are sent.
///
/// Build it with [`CreateDevice::new`] and set the optional public fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateDevice {
    /// Metro or facility form.
    #[serde(flatten)]
    pub location: Location,
    /// Plan slug, e.g. `c3.small.x86`.
    pub plan: String,
    /// Operating system slug, e.g. `ubuntu_24_04`.
    pub operating_system: String,
    /// Hostname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Billing cycle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_cycle: Option<BillingCycle>,
    /// Userdata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userdata: Option<Userdata>,
    /// Free-form JSON for the metadata service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customdata: Option<Map<String, Value>>,
    /// Tags (the provider's identity tags go here; they are how a lost create is found again).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// iPXE script URL (requires OS `custom_ipxe`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipxe_script_url: Option<String>,
    /// PXE-boot on every boot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_pxe: Option<bool>,
    /// Hardware reservation UUID, or `next-available`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware_reservation_id: Option<String>,
    /// Address blocks; the server default is public v4, private v4 and public v6.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<IpAddressRequest>,
    /// Request a spot-market instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_instance: Option<bool>,
    /// Maximum spot bid per hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_price_max: Option<f64>,
    /// When the spot instance should be terminated (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_time: Option<String>,
    /// Lock the device against deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    /// Install no SSH keys at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_ssh_keys: Option<bool>,
    /// Project SSH key UUIDs to install (none given: all project and member keys).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub project_ssh_keys: Vec<String>,
    /// User SSH key UUIDs to install.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_ssh_keys: Vec<String>,
    /// Public keys to install, given inline (`ssh_keys`, the spec's `SSHKeyInput`: `label`,
    /// `key`); added to the keys of `project_ssh_keys` and `user_ssh_keys`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<super::project::CreateSshKey>,
    /// Hardware features to require.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

impl CreateDevice {
    /// A request with the three required fields; everything else unset (server defaults).
    #[must_use]
    pub fn new(
        location: Location,
        plan: impl Into<String>,
        operating_system: impl Into<String>,
    ) -> Self {
        Self {
            location,
            plan: plan.into(),
            operating_system: operating_system.into(),
            hostname: None,
            description: None,
            billing_cycle: None,
            userdata: None,
            customdata: None,
            tags: Vec::new(),
            ipxe_script_url: None,
            always_pxe: None,
            hardware_reservation_id: None,
            ip_addresses: Vec::new(),
            spot_instance: None,
            spot_price_max: None,
            termination_time: None,
            locked: None,
            no_ssh_keys: None,
            project_ssh_keys: Vec::new(),
            user_ssh_keys: Vec::new(),
            ssh_keys: Vec::new(),
            features: Vec::new(),
        }
    }
}

/// Body of `PUT /devices/{id}` (updateDevice). Only set fields are sent; unset fields keep their
/// value on the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UpdateDevice {
    /// New hostname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New tag list (replaces the old one; `Some(vec![])` clears it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// New userdata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userdata: Option<Userdata>,
    /// New customdata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customdata: Option<Map<String, Value>>,
    /// Lock or unlock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    /// New iPXE script URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipxe_script_url: Option<String>,
    /// PXE-boot on every boot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub always_pxe: Option<bool>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_metro_create_sends_only_metro_and_what_is_set() {
        let mut req =
            CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
        req.hostname = Some("cp-0".into());
        req.tags = vec!["capp:cluster-id:demo".into()];
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"metro":"da","plan":"c3.small.x86","operating_system":"ubuntu_24_04",
                   "hostname":"cp-0","tags":["capp:cluster-id:demo"]})
        );
    }

    #[test]
    fn a_facility_create_sends_a_facility_list_and_no_metro() {
        let req = CreateDevice::new(
            Location::Facility(vec!["da11".into(), "any".into()]),
            "m3.small.x86",
            "debian_12",
        );
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["facility"], json!(["da11", "any"]));
        assert!(v.get("metro").is_none());
    }

    #[test]
    fn userdata_is_not_shown_by_debug() {
        let mut req = CreateDevice::new(Location::Metro("da".into()), "p", "o");
        req.userdata = Some(Userdata::new("token: abcdef.0123456789abcdef"));
        let shown = format!("{req:?}");
        assert!(!shown.contains("abcdef"), "{shown}");
        assert!(shown.contains("bytes"));
    }

    #[test]
    fn a_device_with_nulls_and_unknown_fields_decodes() {
        let d: Device = serde_json::from_value(json!({
            "id": "9b8f", "hostname": "h", "state": "provisioning", "description": null,
            "tags": null, "locked": null, "brand_new_field": {"x": 1}, "ip_addresses": [
                {"address_family": 4, "public": false, "address": "10.0.0.3", "gateway": "10.0.0.2"}],
            "root_password": "hunter2"
        }))
        .unwrap();
        assert_eq!(d.state, DeviceState::Provisioning);
        assert!(d.tags.is_empty());
        assert_eq!(
            d.address(4, false).unwrap().address.as_deref(),
            Some("10.0.0.3")
        );
        assert!(!format!("{d:?}").contains("hunter2"));
    }

    #[test]
    fn an_unknown_state_is_other_not_an_error() {
        let d: Device = serde_json::from_value(json!({"id": "x", "state": "hibernating"})).unwrap();
        assert_eq!(d.state, DeviceState::Other);
    }

    #[test]
    fn has_tags_needs_every_tag() {
        let d = Device {
            tags: vec!["a".into(), "b".into()],
            ..Device::default()
        };
        assert!(d.has_tags(&["a", "b"]));
        assert!(!d.has_tags(&["a", "c"]));
    }
}
