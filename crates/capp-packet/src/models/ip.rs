//! IP reservations (elastic IP blocks) and IP assignments (addresses bound to a device).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::catalog::{Facility, Metro};
use super::common::Href;
use super::de::null_default;

/// The block an assignment was carved from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParentBlock {
    /// Network address.
    pub network: Option<String>,
    /// Netmask.
    pub netmask: Option<String>,
    /// Prefix length.
    pub cidr: Option<u8>,
    /// Link to the reservation.
    pub href: Option<String>,
}

/// An address bound to a device (`IPAssignment`): a device's `ip_addresses[]` entry or the
/// answer of `POST /devices/{id}/ips`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpAssignment {
    /// UUID of the assignment (what `DELETE /ips/{id}` takes to unassign).
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Relative URL.
    pub href: Option<String>,
    /// The address, e.g. `147.75.1.2`.
    pub address: Option<String>,
    /// 4 or 6.
    pub address_family: Option<u8>,
    /// Whether the address is public.
    #[serde(deserialize_with = "null_default")]
    pub public: bool,
    /// Whether this is a management address created with the device.
    #[serde(deserialize_with = "null_default")]
    pub management: bool,
    /// Whether it can be unassigned.
    pub manageable: Option<bool>,
    /// Whether it is enabled.
    pub enabled: Option<bool>,
    /// Whether this is a global anycast address.
    pub global_ip: Option<bool>,
    /// Prefix length.
    pub cidr: Option<u8>,
    /// Netmask.
    pub netmask: Option<String>,
    /// Network address.
    pub network: Option<String>,
    /// Gateway.
    pub gateway: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: Option<String>,
    /// The device it is assigned to.
    pub assigned_to: Option<Href>,
    /// The block it comes from.
    pub parent_block: Option<ParentBlock>,
}

/// An IP reservation: a block of addresses owned by a project (`IPReservation`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpReservation {
    /// UUID.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Relative URL.
    pub href: Option<String>,
    /// `public_ipv4`, `global_ipv4`, `private_ipv4`, `public_ipv6` or `vrf`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// First address of the block.
    pub address: Option<String>,
    /// 4 or 6.
    pub address_family: Option<u8>,
    /// Prefix length.
    pub cidr: Option<u8>,
    /// Netmask.
    pub netmask: Option<String>,
    /// Network address.
    pub network: Option<String>,
    /// Gateway.
    pub gateway: Option<String>,
    /// Whether the block is public.
    #[serde(deserialize_with = "null_default")]
    pub public: bool,
    /// Whether this is a global anycast block.
    pub global_ip: Option<bool>,
    /// Whether it can be managed by the user.
    pub manageable: Option<bool>,
    /// Whether it is a management block.
    pub management: Option<bool>,
    /// `pending` (awaiting approval), `created`, ...
    pub state: Option<String>,
    /// Tags.
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Free-text details.
    pub details: Option<String>,
    /// Free-form JSON.
    pub customdata: Option<Map<String, Value>>,
    /// Metro of the block (check `code` before using an address in a given metro).
    pub metro: Option<Metro>,
    /// Facility of the block (deprecated by Equinix).
    pub facility: Option<Facility>,
    /// Assignments of addresses from this block (needs `include=assignments`, which the client
    /// sends on lists).
    #[serde(deserialize_with = "null_default")]
    pub assignments: Vec<IpAssignment>,
    /// Creation time (RFC 3339).
    pub created_at: Option<String>,
}

/// Body of `POST /projects/{id}/ips` (requestIPReservation, `IPReservationRequestInput`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestIpReservation {
    /// `public_ipv4`, `global_ipv4`, `private_ipv4` or `public_ipv6`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Number of addresses (a power of two).
    pub quantity: u32,
    /// Metro code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metro: Option<String>,
    /// Facility code (deprecated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facility: Option<String>,
    /// Fail with 422 instead of leaving the request pending review when over quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_on_approval_required: Option<bool>,
    /// Tags (the provider finds its control-plane address by tag).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Free-text details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Comments for the reviewer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    /// Free-form JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customdata: Option<Map<String, Value>>,
}

impl RequestIpReservation {
    /// A request for `quantity` addresses of `kind` (e.g. `public_ipv4`) in `metro`.
    #[must_use]
    pub fn in_metro(kind: impl Into<String>, quantity: u32, metro: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            quantity,
            metro: Some(metro.into()),
            facility: None,
            fail_on_approval_required: None,
            tags: Vec::new(),
            details: None,
            comments: None,
            customdata: None,
        }
    }
}

/// Body of `POST /devices/{id}/ips` (createIPAssignment, `IPAssignmentInput`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssignIp {
    /// The address (or CIDR) to assign, from one of the project's reservations.
    pub address: String,
    /// Free-form JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customdata: Option<Map<String, Value>>,
}

impl AssignIp {
    /// Assign `address`.
    #[must_use]
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            customdata: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_ip_request_sends_only_what_is_set() {
        let mut req = RequestIpReservation::in_metro("public_ipv4", 1, "da");
        req.fail_on_approval_required = Some(true);
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"type":"public_ipv4","quantity":1,"metro":"da","fail_on_approval_required":true})
        );
    }

    #[test]
    fn a_reservation_with_null_details_and_global_ip_decodes() {
        let r: IpReservation = serde_json::from_value(json!({
            "id": "r1", "type": "public_ipv4", "details": null, "global_ip": null,
            "assignments": [{"id": "a1", "address": "1.2.3.4", "assigned_to": {"href": "/devices/d"}}]
        }))
        .unwrap();
        assert_eq!(r.kind.as_deref(), Some("public_ipv4"));
        assert_eq!(
            r.assignments[0].assigned_to.as_ref().unwrap().href,
            "/devices/d"
        );
    }
}
