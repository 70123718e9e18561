//! Parsed X.509 certificates, the kubeadm discovery hash and expiry inspection.

use std::fmt::Write as _;
use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{Error, Result};

/// An extended key usage this crate issues and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ExtendedUsage {
    /// TLS web server authentication (`serverAuth`).
    ServerAuth,
    /// TLS web client authentication (`clientAuth`).
    ClientAuth,
}

/// An X.509 certificate (public material only) with its commonly needed fields parsed once.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    pem: String,
    info: CertificateInfo,
}

/// Fields of a certificate, as parsed by x509-parser.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateInfo {
    /// Subject common name, if present.
    pub common_name: Option<String>,
    /// Subject organisations (`O=`), in order.
    pub organizations: Vec<String>,
    /// Issuer common name, if present.
    pub issuer_common_name: Option<String>,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP address subject alternative names.
    pub ip_addresses: Vec<IpAddr>,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// Whether `basicConstraints` says `CA:TRUE`.
    pub is_ca: bool,
    /// Extended key usages this crate knows about.
    pub extended_usages: Vec<ExtendedUsage>,
    /// Serial number as lowercase hex.
    pub serial_hex: String,
    /// DER `SubjectPublicKeyInfo`.
    pub subject_public_key_info: Vec<u8>,
    /// Raw public key bits (contents of the SPKI BIT STRING).
    pub(crate) public_key_raw: Vec<u8>,
}

impl Certificate {
    /// Parses the first `CERTIFICATE` block of a PEM document. `field` names the input in
    /// error messages (for example `tls.crt`).
    pub fn from_pem(pem_text: &str, field: &str) -> Result<Self> {
        let blocks = pem::parse_many(pem_text).map_err(|source| Error::Pem {
            field: field.to_owned(),
            source,
        })?;
        let block = blocks
            .into_iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| Error::MissingPemBlock {
                field: field.to_owned(),
                expected: "CERTIFICATE",
            })?;
        Self::from_der(block.into_contents(), field)
    }

    /// Parses a DER certificate. `field` names the input in error messages.
    pub fn from_der(der: Vec<u8>, field: &str) -> Result<Self> {
        let info = parse_info(&der).ok_or_else(|| Error::InvalidCertificate {
            field: field.to_owned(),
        })?;
        let pem = pem::encode_config(
            &pem::Pem::new("CERTIFICATE", der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        );
        Ok(Self { der, pem, info })
    }

    /// The certificate in DER.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as a `CERTIFICATE` PEM document.
    #[must_use]
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The parsed fields.
    #[must_use]
    pub fn info(&self) -> &CertificateInfo {
        &self.info
    }

    /// Subject common name, if any.
    #[must_use]
    pub fn common_name(&self) -> Option<&str> {
        self.info.common_name.as_deref()
    }

    /// End of validity.
    #[must_use]
    pub fn not_after(&self) -> Timestamp {
        self.info.not_after
    }

    /// The kubeadm discovery hash of this (CA) certificate: `sha256:<hex>` of the DER
    /// `SubjectPublicKeyInfo`, exactly as kubeadm's `pubkeypin.Hash` computes it. This is the
    /// value for `discovery.bootstrapToken.caCertHashes` and `--discovery-token-ca-cert-hash`.
    #[must_use]
    pub fn public_key_hash(&self) -> String {
        let digest = Sha256::digest(&self.info.subject_public_key_info);
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256:");
        out.push_str(&hex::encode(digest));
        out
    }

    /// Whether the certificate's `notAfter` is at or before `now + days`.
    /// Already expired certificates count as expiring.
    #[must_use]
    pub fn expires_within(&self, now: Timestamp, days: u32) -> bool {
        let horizon = now.saturating_add(SignedDuration::from_hours(i64::from(days) * 24));
        horizon.is_ok_and(|h| self.info.not_after <= h)
    }
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("common_name", &self.info.common_name)
            .field("issuer_common_name", &self.info.issuer_common_name)
            .field("not_after", &self.info.not_after)
            .field("serial", &self.info.serial_hex)
            .finish_non_exhaustive()
    }
}

fn parse_info(der: &[u8]) -> Option<CertificateInfo> {
    let (rest, x509) = X509Certificate::from_der(der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let subject = x509.subject();
    let common_name = subject
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    let organizations = subject
        .iter_organization()
        .filter_map(|a| a.as_str().ok())
        .map(str::to_owned)
        .collect();
    let issuer_common_name = x509
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    if let Ok(Some(san)) = x509.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns_names.push((*d).to_owned()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
    }
    let is_ca = matches!(x509.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    let mut extended_usages = Vec::new();
    if let Ok(Some(eku)) = x509.extended_key_usage() {
        if eku.value.server_auth {
            extended_usages.push(ExtendedUsage::ServerAuth);
        }
        if eku.value.client_auth {
            extended_usages.push(ExtendedUsage::ClientAuth);
        }
    }
    let not_before = Timestamp::from_second(x509.validity().not_before.timestamp()).ok()?;
    let not_after = Timestamp::from_second(x509.validity().not_after.timestamp()).ok()?;
    let serial_hex = x509.raw_serial().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    let spki = &x509.tbs_certificate.subject_pki;
    Some(CertificateInfo {
        common_name,
        organizations,
        issuer_common_name,
        dns_names,
        ip_addresses,
        not_before,
        not_after,
        is_ca,
        extended_usages,
        serial_hex,
        subject_public_key_info: spki.raw.to_vec(),
        public_key_raw: spki.subject_public_key.data.to_vec(),
    })
}

/// One certificate found by [`expiring_within`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Expiring {
    /// The name the caller gave the certificate (for example `ca` or `apiserver`).
    pub name: String,
    /// Subject common name.
    pub common_name: Option<String>,
    /// End of validity.
    pub not_after: Timestamp,
    /// Time left until `not_after` (negative when already expired).
    pub remaining: SignedDuration,
}

impl Expiring {
    /// Whether the certificate has already expired at the inspected `now`.
    #[must_use]
    pub fn is_expired(&self) -> bool {
        self.remaining.is_negative() || self.remaining.is_zero()
    }
}

/// Returns the named certificates whose `notAfter` is at or before `now + days`, soonest
/// first. Already expired certificates are included (with negative `remaining`).
pub fn expiring_within<'a, I>(certificates: I, now: Timestamp, days: u32) -> Vec<Expiring>
where
    I: IntoIterator<Item = (&'a str, &'a Certificate)>,
{
    let mut out: Vec<Expiring> = certificates
        .into_iter()
        .filter(|(_, c)| c.expires_within(now, days))
        .map(|(name, c)| Expiring {
            name: name.to_owned(),
            common_name: c.info.common_name.clone(),
            not_after: c.info.not_after,
            remaining: c.info.not_after.duration_since(now),
        })
        .collect();
    out.sort_by(|a, b| a.not_after.cmp(&b.not_after).then(a.name.cmp(&b.name)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{CaOptions, CertificateAuthority};
    use rand::SeedableRng;

    fn ca(days: u64, now: Timestamp) -> CertificateAuthority {
        CertificateAuthority::generate(
            &CaOptions::new("t").with_validity(std::time::Duration::from_secs(days * 86_400)),
            now,
            &mut rand::rngs::StdRng::seed_from_u64(1),
        )
        .unwrap()
    }

    #[test]
    fn expiry_is_inclusive_at_the_horizon_and_exclusive_just_before() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let c = ca(30, now);
        assert!(c.certificate().expires_within(now, 30));
        assert!(!c.certificate().expires_within(now, 29));
        let after = now + SignedDuration::from_hours(31 * 24);
        assert!(c.certificate().expires_within(after, 0));
    }

    #[test]
    fn non_certificate_input_is_rejected_with_the_field_named() {
        let err = Certificate::from_der(vec![0x30, 0x00], "ca.crt").unwrap_err();
        assert_eq!(err.to_string(), "`ca.crt` is not a valid X.509 certificate");
        let err = Certificate::from_pem("no pem here", "ca.crt").unwrap_err();
        assert!(err.to_string().contains("ca.crt"), "{err}");
    }

    #[test]
    fn pem_output_parses_back_to_the_same_certificate() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let c = ca(30, now);
        let back = Certificate::from_pem(c.cert_pem(), "x").unwrap();
        assert_eq!(&back, c.certificate());
        assert_eq!(back.info().serial_hex.len(), 32);
        assert!(back.public_key_hash().starts_with("sha256:"));
        assert_eq!(back.public_key_hash().len(), 7 + 64);
    }
}
