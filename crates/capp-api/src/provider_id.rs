//! `spec.providerID` values for Equinix Metal devices: the one home of the `equinixmetal://`
//! provider ID.
//!
//! Forms found in the wild, all accepted by [`ProviderId::from_str`](std::str::FromStr):
//!
//! | form | written by |
//! |---|---|
//! | `equinixmetal://<device-id>` | this provider, the Go provider since v0.8.0, the Cloud Provider for Equinix Metal (CPEM) and the kubelet through the bootstrap template (`provider-id: equinixmetal://{{ v1.instance_id }}`) |
//! | `packet://<device-id>` | Go provider releases before v0.8.0 and the legacy packet-ccm |
//! | `equinixmetal:///<device-id>` (extra `/`) | tolerated like Cluster API's `ProviderID.ID()`, which takes the last `/`-separated segment |
//!
//! [`Display`](fmt::Display) writes `<scheme>://<device-id>` with the scheme the value was
//! parsed with, so a legacy Machine's providerID still matches its Node's exactly (Cluster API
//! compares the strings); [`ProviderId::to_equinix_metal`] gives the current spelling.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// The scheme (cloud provider name) of a provider ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderScheme {
    /// `equinixmetal://`, written by the Equinix Metal cloud provider (CPEM) and this provider.
    EquinixMetal,
    /// `packet://`, the legacy scheme from before the Packet → Equinix Metal rename.
    Packet,
}

impl ProviderScheme {
    /// The scheme as written before `://`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderScheme::EquinixMetal => "equinixmetal",
            ProviderScheme::Packet => "packet",
        }
    }
}

/// A parsed provider ID naming one Equinix Metal device.
///
/// ```
/// use capp_api::provider_id::{ProviderId, ProviderScheme};
/// let id: ProviderId = "packet://5d3c1b32-1f1d-4c5b-9a71-0c3a9c1d2e3f".parse()?;
/// assert_eq!(id.scheme(), ProviderScheme::Packet);
/// assert_eq!(id.device_id(), "5d3c1b32-1f1d-4c5b-9a71-0c3a9c1d2e3f");
/// assert_eq!(
///     id.to_equinix_metal().to_string(),
///     "equinixmetal://5d3c1b32-1f1d-4c5b-9a71-0c3a9c1d2e3f"
/// );
/// assert_eq!(ProviderId::new("abc")?.to_string(), "equinixmetal://abc");
/// assert!("aws:///i-123".parse::<ProviderId>().is_err());
/// # Ok::<(), capp_api::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProviderId {
    scheme: ProviderScheme,
    device_id: String,
}

impl ProviderId {
    /// The canonical provider ID of a device: `equinixmetal://<device_id>`.
    ///
    /// Fails when the device ID is empty or contains `/` or whitespace.
    pub fn new(device_id: impl Into<String>) -> Result<ProviderId> {
        let device_id = device_id.into();
        if device_id.is_empty() || device_id.contains('/') || has_whitespace(&device_id) {
            return Err(Error::InvalidProviderId {
                value: device_id,
                problem: "the device ID must be non-empty, without '/' or whitespace",
            });
        }
        Ok(ProviderId {
            scheme: ProviderScheme::EquinixMetal,
            device_id,
        })
    }

    /// The scheme the ID was written with.
    #[must_use]
    pub fn scheme(&self) -> ProviderScheme {
        self.scheme
    }

    /// The Equinix Metal device ID.
    #[must_use]
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// Whether this uses the legacy `packet://` scheme.
    #[must_use]
    pub fn is_legacy(&self) -> bool {
        self.scheme == ProviderScheme::Packet
    }

    /// The same device under the current `equinixmetal://` scheme.
    #[must_use]
    pub fn to_equinix_metal(&self) -> ProviderId {
        ProviderId {
            scheme: ProviderScheme::EquinixMetal,
            device_id: self.device_id.clone(),
        }
    }

    /// Whether both IDs name the same device, whichever scheme each uses.
    #[must_use]
    pub fn same_device(&self, other: &ProviderId) -> bool {
        self.device_id == other.device_id
    }
}

fn has_whitespace(s: &str) -> bool {
    s.chars().any(char::is_whitespace)
}

/// Splits a provider ID into its scheme and device ID without allocating; the one parser
/// behind [`ProviderId::from_str`] and [`PacketMachine::device_id`](crate::PacketMachine::device_id).
pub(crate) fn split(value: &str) -> Result<(ProviderScheme, &str)> {
    let invalid = |problem| Error::InvalidProviderId {
        value: value.to_owned(),
        problem,
    };
    let (scheme, rest) = value
        .split_once("://")
        .ok_or_else(|| invalid("expected equinixmetal://<device-id>"))?;
    let scheme = match scheme {
        "equinixmetal" => ProviderScheme::EquinixMetal,
        "packet" => ProviderScheme::Packet,
        _ => {
            return Err(invalid(
                "the scheme must be equinixmetal:// (or the legacy packet://)",
            ));
        }
    };
    let device_id = rest.rsplit('/').next().unwrap_or_default();
    if device_id.is_empty() || has_whitespace(device_id) {
        return Err(invalid(
            "the device ID after :// must be non-empty, without whitespace",
        ));
    }
    Ok((scheme, device_id))
}

impl FromStr for ProviderId {
    type Err = Error;

    fn from_str(value: &str) -> Result<ProviderId> {
        let (scheme, device_id) = split(value)?;
        Ok(ProviderId {
            scheme,
            device_id: device_id.to_owned(),
        })
    }
}

impl TryFrom<&str> for ProviderId {
    type Error = Error;

    fn try_from(value: &str) -> Result<ProviderId> {
        value.parse()
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.device_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "8a2c3f4e-1b2d-4c6e-9f00-112233445566";

    #[test]
    fn equinix_metal_provider_ids_parse_to_the_device_id() {
        let id: ProviderId = format!("equinixmetal://{ID}").parse().unwrap();
        assert_eq!(id.scheme(), ProviderScheme::EquinixMetal);
        assert_eq!(id.device_id(), ID);
        assert!(!id.is_legacy());
        assert_eq!(id.to_string(), format!("equinixmetal://{ID}"));
    }

    #[test]
    fn legacy_packet_provider_ids_parse_and_keep_their_spelling() {
        let id: ProviderId = format!("packet://{ID}").parse().unwrap();
        assert!(id.is_legacy());
        assert_eq!(id.to_string(), format!("packet://{ID}"));
        let new = id.to_equinix_metal();
        assert_eq!(new.to_string(), format!("equinixmetal://{ID}"));
        assert!(id.same_device(&new));
        assert_ne!(id, new);
    }

    #[test]
    fn extra_slashes_before_the_device_id_are_tolerated_like_capi_does() {
        for value in [
            format!("equinixmetal:///{ID}"),
            format!("equinixmetal://region/{ID}"),
        ] {
            let id: ProviderId = value.parse().unwrap();
            assert_eq!(id.device_id(), ID);
            assert_eq!(id.to_string(), format!("equinixmetal://{ID}"));
        }
    }

    #[test]
    fn malformed_provider_ids_are_rejected_with_a_message_naming_the_problem() {
        for (bad, problem) in [
            ("", "expected equinixmetal://<device-id>"),
            (ID, "expected equinixmetal://<device-id>"),
            ("aws:///i-123", "the scheme must be equinixmetal://"),
            ("EquinixMetal://abc", "the scheme must be equinixmetal://"),
            ("equinixmetal://", "device ID after :// must be non-empty"),
            ("equinixmetal:///", "device ID after :// must be non-empty"),
            ("equinixmetal://a/", "device ID after :// must be non-empty"),
            ("packet://abc def", "without whitespace"),
        ] {
            let err = bad.parse::<ProviderId>().unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("invalid spec.providerID"), "{msg}");
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
            assert!(msg.contains(problem), "{bad:?}: {msg}");
        }
    }

    #[test]
    fn new_builds_the_canonical_form_and_rejects_bad_device_ids() {
        assert_eq!(
            ProviderId::new(ID).unwrap().to_string(),
            format!("equinixmetal://{ID}")
        );
        for bad in ["", "a/b", "a b"] {
            let err = ProviderId::new(bad).unwrap_err();
            assert!(err.to_string().contains("device ID must be non-empty"));
        }
    }

    #[test]
    fn display_and_parse_round_trip() {
        for value in [format!("equinixmetal://{ID}"), format!("packet://{ID}")] {
            let id = ProviderId::try_from(value.as_str()).unwrap();
            assert_eq!(id.to_string(), value);
            assert_eq!(id.to_string().parse::<ProviderId>().unwrap(), id);
        }
    }
}
