//! BGP: the project's BGP config, device BGP sessions and the neighbour data a node peers with.

use serde::{Deserialize, Serialize};

use super::common::Href;
use super::de::null_default;

/// `local` (configured at once) or `global` (needs review).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BgpDeploymentType {
    /// Private ASN, routes announced within the metro.
    Local,
    /// Public ASN, needs manual review by Equinix.
    Global,
}

/// Address family of a BGP session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BgpAddressFamily {
    /// IPv4.
    #[default]
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// The project's BGP config (`GET /projects/{id}/bgp-config`).
///
/// The API answers 200 with an empty object when BGP was never requested: check
/// [`BgpConfig::is_enabled`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BgpConfig {
    /// UUID; empty when BGP was never requested.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Relative URL.
    pub href: Option<String>,
    /// Local ASN.
    pub asn: Option<u32>,
    /// `local` or `global`, kept as text.
    pub deployment_type: Option<String>,
    /// `requested`, `enabled` or `disabled`.
    pub status: Option<String>,
    /// Maximum prefixes per session.
    pub max_prefix: Option<u32>,
    /// Route object.
    pub route_object: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: Option<String>,
    /// Sessions of the project.
    #[serde(deserialize_with = "null_default")]
    pub sessions: Vec<BgpSession>,
}

impl BgpConfig {
    /// Whether BGP is set up and usable: an id exists and status is neither `disabled` nor
    /// missing (the same test CAPP and CPEM apply).
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        !self.id.is_empty() && self.status.as_deref().is_some_and(|s| s != "disabled")
    }
}

/// Body of `POST /projects/{id}/bgp-configs` (`BgpConfigRequestInput`).
///
/// The MD5 password is deliberately not printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct RequestBgpConfig {
    /// `local` or `global`.
    pub deployment_type: BgpDeploymentType,
    /// Local ASN (65000 is the usual private one).
    pub asn: u32,
    /// Session password, 10-20 letters and digits with upper, lower and a digit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// Free text, e.g. `kubernetes-load-balancer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_case: Option<String>,
}

impl std::fmt::Debug for RequestBgpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBgpConfig")
            .field("deployment_type", &self.deployment_type)
            .field("asn", &self.asn)
            .field("md5", &self.md5.as_ref().map(|_| "[REDACTED]"))
            .field("use_case", &self.use_case)
            .finish()
    }
}

/// A device BGP session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BgpSession {
    /// UUID.
    #[serde(deserialize_with = "null_default")]
    pub id: String,
    /// Relative URL.
    pub href: Option<String>,
    /// Address family.
    #[serde(deserialize_with = "null_default")]
    pub address_family: BgpAddressFamily,
    /// Whether the default route is announced to the device.
    #[serde(deserialize_with = "null_default")]
    pub default_route: bool,
    /// The device.
    pub device: Option<Href>,
    /// `unknown`, `up`, `down`, or comma-joined per switch (`up,down`).
    pub status: Option<String>,
    /// Routes learned from the device.
    #[serde(deserialize_with = "null_default")]
    pub learned_routes: Vec<String>,
    /// Creation time (RFC 3339).
    pub created_at: Option<String>,
}

/// Body of `POST /devices/{id}/bgp/sessions` (`BGPSessionInput`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreateBgpSession {
    /// Address family.
    pub address_family: BgpAddressFamily,
    /// Announce a default route to the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_route: Option<bool>,
}

/// A route in [`BgpNeighbor`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BgpRoute {
    /// CIDR.
    pub route: Option<String>,
    /// Exact match only.
    pub exact: Option<bool>,
}

/// What a device must peer with (`GET /devices/{id}/bgp/neighbors`, `BgpNeighborData`).
///
/// The MD5 password is deliberately not printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BgpNeighbor {
    /// 4 or 6.
    pub address_family: Option<u8>,
    /// The device's ASN.
    pub customer_as: Option<u32>,
    /// The device's address to peer from (usually the private bond0 address).
    pub customer_ip: Option<String>,
    /// Whether MD5 is on.
    pub md5_enabled: Option<bool>,
    /// MD5 password.
    pub md5_password: Option<String>,
    /// Whether the session is multihop.
    pub multihop: Option<bool>,
    /// The routers' ASN.
    pub peer_as: Option<u32>,
    /// The routers' addresses.
    #[serde(deserialize_with = "null_default")]
    pub peer_ips: Vec<String>,
    /// Routes accepted from the device.
    #[serde(deserialize_with = "null_default")]
    pub routes_in: Vec<BgpRoute>,
    /// Routes sent to the device.
    #[serde(deserialize_with = "null_default")]
    pub routes_out: Vec<BgpRoute>,
}

impl std::fmt::Debug for BgpNeighbor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BgpNeighbor")
            .field("address_family", &self.address_family)
            .field("customer_as", &self.customer_as)
            .field("customer_ip", &self.customer_ip)
            .field("md5_enabled", &self.md5_enabled)
            .field(
                "md5_password",
                &self.md5_password.as_ref().map(|_| "[REDACTED]"),
            )
            .field("multihop", &self.multihop)
            .field("peer_as", &self.peer_as)
            .field("peer_ips", &self.peer_ips)
            .field("routes_in", &self.routes_in)
            .field("routes_out", &self.routes_out)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_empty_bgp_config_is_not_enabled() {
        let c: BgpConfig = serde_json::from_value(json!({})).unwrap();
        assert!(!c.is_enabled());
        let c: BgpConfig =
            serde_json::from_value(json!({"id": "b", "status": "enabled", "md5": null})).unwrap();
        assert!(c.is_enabled());
    }

    #[test]
    fn bgp_passwords_are_not_shown_by_debug() {
        let n = BgpNeighbor {
            md5_password: Some("Secret12345".into()),
            ..BgpNeighbor::default()
        };
        assert!(!format!("{n:?}").contains("Secret12345"));
        let r = RequestBgpConfig {
            deployment_type: BgpDeploymentType::Local,
            asn: 65000,
            md5: Some("Secret12345".into()),
            use_case: None,
        };
        assert!(!format!("{r:?}").contains("Secret12345"));
    }
}
