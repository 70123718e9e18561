//! `spec.providerID` values for Equinix Metal devices: `equinixmetal://<device-id>`, and the
//! legacy `packet://<device-id>` written by older cloud provider versions.

use std::fmt;
use std::str::FromStr;

use crate::Error;

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
/// Parsing accepts `equinixmetal://<id>` and `packet://<id>`; like CAPI's `ProviderID.ID()`,
/// the device ID is the last `/`-separated segment, so `equinixmetal:///<id>` is read too.
/// [`Display`](fmt::Display) always writes the canonical `<scheme>://<id>` form.
///
/// ```
/// use capi_types::provider_id::{ProviderId, ProviderScheme};
/// let id: ProviderId = "packet://5d3c1b32-1f1d-4c5b-9a71-0c3a9c1d2e3f".parse().unwrap();
/// assert_eq!(id.scheme(), ProviderScheme::Packet);
/// assert_eq!(id.device_id(), "5d3c1b32-1f1d-4c5b-9a71-0c3a9c1d2e3f");
/// assert_eq!(
///     id.to_equinix_metal().to_string(),
///     "equinixmetal://5d3c1b32-1f1d-4c5b-9a71-0c3a9c1d2e3f"
/// );
/// assert!("aws:///i-123".parse::<ProviderId>().is_err());
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
    pub fn new(device_id: impl Into<String>) -> Result<ProviderId, Error> {
        let device_id = device_id.into();
        validate_device_id(&device_id)?;
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

fn validate_device_id(id: &str) -> Result<(), Error> {
    if id.is_empty() || id.contains('/') || id.chars().any(char::is_whitespace) {
        return Err(Error::InvalidProviderId {
            value: id.to_owned(),
            problem: "the device ID must be non-empty, without '/' or whitespace",
        });
    }
    Ok(())
}

impl FromStr for ProviderId {
    type Err = Error;

    fn from_str(value: &str) -> Result<ProviderId, Error> {
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
                    "the scheme must be equinixmetal:// (or legacy packet://)",
                ));
            }
        };
        let device_id = rest.rsplit('/').next().unwrap_or_default();
        if device_id.is_empty() || device_id.chars().any(char::is_whitespace) {
            return Err(invalid(
                "the device ID after :// must be non-empty, without whitespace",
            ));
        }
        Ok(ProviderId {
            scheme,
            device_id: device_id.to_owned(),
        })
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
    fn legacy_packet_provider_ids_parse_and_convert_to_the_new_scheme() {
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
        let id: ProviderId = format!("equinixmetal:///{ID}").parse().unwrap();
        assert_eq!(id.device_id(), ID);
        assert_eq!(id.to_string(), format!("equinixmetal://{ID}"));
    }

    #[test]
    fn malformed_provider_ids_are_rejected_with_a_message_naming_the_fix() {
        for bad in [
            "",
            ID,
            "aws:///i-123",
            "equinixmetal://",
            "equinixmetal:///",
            "packet://abc def",
            "EquinixMetal://abc",
        ] {
            let err = bad.parse::<ProviderId>().unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("providerID"), "{msg}");
            assert!(
                msg.contains("equinixmetal") || msg.contains("device ID"),
                "{msg}"
            );
        }
    }

    #[test]
    fn new_builds_the_canonical_form_and_rejects_bad_device_ids() {
        assert_eq!(
            ProviderId::new(ID).unwrap().to_string(),
            format!("equinixmetal://{ID}")
        );
        assert!(ProviderId::new("").is_err());
        assert!(ProviderId::new("a/b").is_err());
        assert!(ProviderId::new("a b").is_err());
    }
}
