//! Machine addresses (`status.addresses[]` on Machines and infrastructure machines).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kind of a [`MachineAddress`]: the five values the v1beta1 CRD allows.
#[derive(
    Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub enum MachineAddressType {
    /// A hostname the machine is reachable under.
    Hostname,
    /// An IP address routable from outside the cluster.
    #[serde(rename = "ExternalIP")]
    ExternalIp,
    /// An IP address routable only inside the cluster's network.
    #[serde(rename = "InternalIP")]
    InternalIp,
    /// A DNS name resolving to an external address.
    #[serde(rename = "ExternalDNS")]
    ExternalDns,
    /// A DNS name resolving to an internal address.
    #[serde(rename = "InternalDNS")]
    InternalDns,
}

impl MachineAddressType {
    /// The wire spelling (`Hostname`, `ExternalIP`, `InternalIP`, `ExternalDNS`, `InternalDNS`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MachineAddressType::Hostname => "Hostname",
            MachineAddressType::ExternalIp => "ExternalIP",
            MachineAddressType::InternalIp => "InternalIP",
            MachineAddressType::ExternalDns => "ExternalDNS",
            MachineAddressType::InternalDns => "InternalDNS",
        }
    }
}

/// One address of a machine.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct MachineAddress {
    /// The kind of address.
    #[serde(rename = "type")]
    pub type_: MachineAddressType,
    /// The address (an IP or a DNS name, depending on the type).
    #[schemars(length(min = 1, max = 256))]
    pub address: String,
}

impl MachineAddress {
    /// A new address of the given kind.
    ///
    /// ```
    /// use capi_types::addresses::{MachineAddress, MachineAddressType};
    /// let a = MachineAddress::new(MachineAddressType::ExternalIp, "147.75.1.2");
    /// assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"type":"ExternalIP","address":"147.75.1.2"}"#);
    /// ```
    #[must_use]
    pub fn new(type_: MachineAddressType, address: impl Into<String>) -> MachineAddress {
        MachineAddress {
            type_,
            address: address.into(),
        }
    }
}

/// Helpers over a list of addresses.
pub trait MachineAddresses {
    /// The addresses of one kind, in list order.
    fn of_type(&self, type_: MachineAddressType) -> impl Iterator<Item = &str>;

    /// The first address of one kind.
    fn first_of_type(&self, type_: MachineAddressType) -> Option<&str> {
        self.of_type(type_).next()
    }
}

impl MachineAddresses for [MachineAddress] {
    fn of_type(&self, type_: MachineAddressType) -> impl Iterator<Item = &str> {
        self.iter()
            .filter(move |a| a.type_ == type_)
            .map(|a| a.address.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_types_use_the_upstream_spelling_on_the_wire() {
        for (t, wire) in [
            (MachineAddressType::Hostname, "Hostname"),
            (MachineAddressType::ExternalIp, "ExternalIP"),
            (MachineAddressType::InternalIp, "InternalIP"),
            (MachineAddressType::ExternalDns, "ExternalDNS"),
            (MachineAddressType::InternalDns, "InternalDNS"),
        ] {
            assert_eq!(serde_json::to_value(t).unwrap(), wire);
            assert_eq!(t.as_str(), wire);
            let back: MachineAddressType = serde_json::from_value(wire.into()).unwrap();
            assert_eq!(back, t);
        }
    }

    #[test]
    fn an_unknown_address_type_is_rejected_with_an_error_not_a_panic() {
        let err =
            serde_json::from_str::<MachineAddress>(r#"{"type":"PublicIP","address":"1.2.3.4"}"#);
        assert!(err.is_err());
    }

    #[test]
    fn addresses_are_filtered_by_type_in_list_order() {
        let list = [
            MachineAddress::new(MachineAddressType::InternalIp, "10.0.0.1"),
            MachineAddress::new(MachineAddressType::ExternalIp, "147.75.1.2"),
            MachineAddress::new(MachineAddressType::ExternalIp, "2604:1380::1"),
        ];
        let external: Vec<_> = list.of_type(MachineAddressType::ExternalIp).collect();
        assert_eq!(external, ["147.75.1.2", "2604:1380::1"]);
        assert_eq!(
            list.first_of_type(MachineAddressType::InternalIp),
            Some("10.0.0.1")
        );
        assert_eq!(list.first_of_type(MachineAddressType::Hostname), None);
    }
}
