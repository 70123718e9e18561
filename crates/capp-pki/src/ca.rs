//! Certificate authorities and leaf certificate issuance.

use std::net::IpAddr;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, SanType, SerialNumber, SigningKey,
};
use secrecy::SecretString;

use crate::cert::{Certificate, ExtendedUsage};
use crate::der;
use crate::key::{KeyAlgorithm, PrivateKey};
use crate::{Error, Result};

/// Default CA validity: ten years (kubeadm's `CACertificateValidityPeriod`).
pub const DEFAULT_CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// Default leaf validity: one year (kubeadm's `CertificateValidityPeriod`).
pub const DEFAULT_LEAF_VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// How far `notBefore` is set before `now`, to tolerate clock skew between machines
/// (kubeadm's `CertificateBackdate`).
pub const CERTIFICATE_BACKDATE: Duration = Duration::from_secs(5 * 60);

/// Parameters for a new self-signed CA.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaOptions {
    /// Subject common name (kubeadm: `kubernetes`, `etcd-ca`, `front-proxy-ca`).
    pub common_name: String,
    /// Validity from `now` (default [`DEFAULT_CA_VALIDITY`]).
    pub validity: Duration,
    /// Key algorithm (default ECDSA P-256).
    pub key_algorithm: KeyAlgorithm,
}

impl CaOptions {
    /// A CA with the given common name and the defaults.
    #[must_use]
    pub fn new(common_name: impl Into<String>) -> Self {
        Self {
            common_name: common_name.into(),
            validity: DEFAULT_CA_VALIDITY,
            key_algorithm: KeyAlgorithm::default(),
        }
    }

    /// Sets the validity.
    #[must_use]
    pub fn with_validity(mut self, validity: Duration) -> Self {
        self.validity = validity;
        self
    }

    /// Sets the key algorithm.
    #[must_use]
    pub fn with_key_algorithm(mut self, key_algorithm: KeyAlgorithm) -> Self {
        self.key_algorithm = key_algorithm;
        self
    }
}

/// What to put in a leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeafSpec {
    /// Subject common name.
    pub common_name: String,
    /// Subject organisations (`O=`), one RDN each, in order; Kubernetes maps these to groups
    /// for client certificates.
    pub organizations: Vec<String>,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP subject alternative names.
    pub ip_addresses: Vec<IpAddr>,
    /// Extended key usages.
    pub usages: Vec<ExtendedUsage>,
    /// Validity from `now` (default [`DEFAULT_LEAF_VALIDITY`]).
    pub validity: Duration,
    /// Key algorithm for the generated key (default ECDSA P-256).
    pub key_algorithm: KeyAlgorithm,
}

impl LeafSpec {
    /// A server certificate (`serverAuth`) with the given common name and no SANs yet.
    #[must_use]
    pub fn server(common_name: impl Into<String>) -> Self {
        Self::with_usages(common_name, vec![ExtendedUsage::ServerAuth])
    }

    /// A client certificate (`clientAuth`) with the given common name.
    #[must_use]
    pub fn client(common_name: impl Into<String>) -> Self {
        Self::with_usages(common_name, vec![ExtendedUsage::ClientAuth])
    }

    /// A certificate with the given common name and extended usages.
    #[must_use]
    pub fn with_usages(common_name: impl Into<String>, usages: Vec<ExtendedUsage>) -> Self {
        Self {
            common_name: common_name.into(),
            organizations: Vec::new(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            usages,
            validity: DEFAULT_LEAF_VALIDITY,
            key_algorithm: KeyAlgorithm::default(),
        }
    }

    /// Adds an organisation.
    #[must_use]
    pub fn with_organization(mut self, organization: impl Into<String>) -> Self {
        self.organizations.push(organization.into());
        self
    }

    /// Adds a DNS SAN (duplicates are ignored).
    #[must_use]
    pub fn with_dns_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self.dns_names.contains(&name) {
            self.dns_names.push(name);
        }
        self
    }

    /// Adds an IP SAN (duplicates are ignored).
    #[must_use]
    pub fn with_ip_address(mut self, ip: IpAddr) -> Self {
        if !self.ip_addresses.contains(&ip) {
            self.ip_addresses.push(ip);
        }
        self
    }

    /// Adds a SAN given as text: an IP address becomes an IP SAN, anything else a DNS SAN.
    #[must_use]
    pub fn with_san(self, san: &str) -> Self {
        match san.parse::<IpAddr>() {
            Ok(ip) => self.with_ip_address(ip),
            Err(_) => self.with_dns_name(san),
        }
    }

    /// Sets the validity.
    #[must_use]
    pub fn with_validity(mut self, validity: Duration) -> Self {
        self.validity = validity;
        self
    }

    /// Sets the key algorithm.
    #[must_use]
    pub fn with_key_algorithm(mut self, key_algorithm: KeyAlgorithm) -> Self {
        self.key_algorithm = key_algorithm;
        self
    }
}

/// A certificate together with its private key. `Debug` never shows the key.
#[derive(Debug)]
pub struct IssuedCertificate {
    /// The certificate.
    pub certificate: Certificate,
    /// Its private key.
    pub key: PrivateKey,
}

impl IssuedCertificate {
    /// The certificate as PEM.
    #[must_use]
    pub fn cert_pem(&self) -> &str {
        self.certificate.pem()
    }

    /// The private key as PKCS#8 PEM.
    #[must_use]
    pub fn key_pem(&self) -> SecretString {
        self.key.to_pem()
    }
}

/// A certificate authority: a CA certificate and its private key.
///
/// Created with [`CertificateAuthority::generate`] (self-signed) or loaded with
/// [`CertificateAuthority::from_pem`] (including RSA CAs written by CAPI or openssl).
/// `Debug` never shows the key.
#[derive(Debug)]
pub struct CertificateAuthority {
    certificate: Certificate,
    key: PrivateKey,
}

impl CertificateAuthority {
    /// Generates a self-signed CA: `basicConstraints CA:TRUE` (critical), key usages
    /// `keyCertSign`, `digitalSignature`, `keyEncipherment` (as kubeadm), a subject key
    /// identifier, `notBefore = now - 5 minutes` and a random serial from `rng`.
    ///
    /// The private key comes from ring's system RNG (see [`PrivateKey::generate`]).
    pub fn generate<R: RngCore + ?Sized>(
        options: &CaOptions,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Self> {
        let key = PrivateKey::generate(options.key_algorithm)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&options.common_name, &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyCertSign,
        ];
        set_validity(&mut params, now, options.validity)?;
        params.serial_number = Some(serial(rng));
        let cert = params
            .self_signed(key.key_pair())
            .map_err(|source| Error::Sign {
                common_name: options.common_name.clone(),
                source,
            })?;
        let certificate = Certificate::from_der(cert.der().to_vec(), "generated CA")?;
        Ok(Self { certificate, key })
    }

    /// Loads a CA from a PEM certificate and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    /// Checks that the certificate is a CA and that the key belongs to it.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self> {
        let certificate = Certificate::from_pem(cert_pem, "tls.crt")?;
        let key = PrivateKey::from_pem(key_pem, "tls.key")?;
        Self::from_parts(certificate, key, "tls.crt", "tls.key")
    }

    /// Pairs an already parsed certificate and key, with the same checks as
    /// [`CertificateAuthority::from_pem`]. The field names are used in error messages.
    pub fn from_parts(
        certificate: Certificate,
        key: PrivateKey,
        cert_field: &str,
        key_field: &str,
    ) -> Result<Self> {
        if !certificate.info().is_ca {
            return Err(Error::NotACa {
                field: cert_field.to_owned(),
            });
        }
        if certificate.info().public_key_raw != key.public_key_raw() {
            return Err(Error::KeyMismatch {
                field: key_field.to_owned(),
            });
        }
        // Fail at load time, naming the input, rather than at the first issue.
        Issuer::from_ca_cert_der(&certificate.der().into(), key.key_pair()).map_err(|_| {
            Error::UnsupportedCa {
                field: cert_field.to_owned(),
            }
        })?;
        Ok(Self { certificate, key })
    }

    /// The CA certificate.
    #[must_use]
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The CA private key.
    #[must_use]
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The CA certificate as PEM.
    #[must_use]
    pub fn cert_pem(&self) -> &str {
        self.certificate.pem()
    }

    /// The CA private key as PKCS#8 PEM.
    #[must_use]
    pub fn key_pem(&self) -> SecretString {
        self.key.to_pem()
    }

    /// The kubeadm discovery hash (`sha256:<hex>`) of this CA; see
    /// [`Certificate::public_key_hash`].
    #[must_use]
    pub fn public_key_hash(&self) -> String {
        self.certificate.public_key_hash()
    }

    /// Issues a leaf certificate for a freshly generated key.
    ///
    /// The certificate has `basicConstraints CA:FALSE`, key usages `digitalSignature` and
    /// `keyEncipherment` (as kubeadm), the spec's extended usages and SANs, subject and
    /// authority key identifiers, `notBefore = now - 5 minutes` and a random serial from `rng`.
    pub fn issue<R: RngCore + ?Sized>(
        &self,
        spec: &LeafSpec,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<IssuedCertificate> {
        let key = PrivateKey::generate(spec.key_algorithm)?;
        let certificate = self.issue_for_key(spec, &key, now, rng)?;
        Ok(IssuedCertificate { certificate, key })
    }

    /// Issues a leaf certificate for an existing key (for example to renew a certificate
    /// without rotating its key). See [`CertificateAuthority::issue`].
    pub fn issue_for_key<R: RngCore + ?Sized>(
        &self,
        spec: &LeafSpec,
        key: &PrivateKey,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Certificate> {
        let sign_error = |source| Error::Sign {
            common_name: spec.common_name.clone(),
            source,
        };
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&spec.common_name, &spec.organizations);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = spec
            .usages
            .iter()
            .map(|u| match u {
                ExtendedUsage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedUsage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
            })
            .collect();
        let mut sans = Vec::with_capacity(spec.dns_names.len() + spec.ip_addresses.len());
        for dns in &spec.dns_names {
            let ia5 = dns
                .clone()
                .try_into()
                .map_err(|_| Error::InvalidName { value: dns.clone() })?;
            sans.push(SanType::DnsName(ia5));
        }
        sans.extend(spec.ip_addresses.iter().copied().map(SanType::IpAddress));
        params.subject_alt_names = sans;
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, now, spec.validity)?;
        params.serial_number = Some(serial(rng));
        let issuer = Issuer::from_ca_cert_der(&self.certificate.der().into(), self.key.key_pair())
            .map_err(sign_error)?;
        let cert = params
            .signed_by(key.key_pair(), &issuer)
            .map_err(sign_error)?;
        let mut der = cert.der().to_vec();
        if spec.organizations.len() > 1 {
            // rcgen's DistinguishedName keeps one value per attribute type, but Kubernetes
            // maps every `O` of a client certificate to a group: rewrite the subject with one
            // RDN per organisation and re-sign with the same CA key and algorithm.
            let subject = der::subject_name(&spec.organizations, &spec.common_name);
            der = der::replace_subject(&der, &subject, |tbs| {
                SigningKey::sign(self.key.key_pair(), tbs)
            })
            .ok_or_else(|| Error::InvalidCertificate {
                field: "issued certificate".to_owned(),
            })?
            .map_err(sign_error)?;
        }
        Certificate::from_der(der, "issued certificate")
    }
}

fn name(common_name: &str, organizations: &[String]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    // kubeadm (Go's pkix.Name) writes O before CN; keep that order so subjects read the same.
    for org in organizations {
        dn.push(DnType::OrganizationName, org.as_str());
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

/// A random positive 128-bit serial number (RFC 5280 allows up to 20 octets).
fn serial<R: RngCore + ?Sized>(rng: &mut R) -> SerialNumber {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    // Clear the sign bit so the INTEGER is positive, and make sure it is not all zero.
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

fn set_validity(params: &mut CertificateParams, now: Timestamp, validity: Duration) -> Result<()> {
    let out_of_range = || Error::ValidityOutOfRange {
        now,
        days: validity.as_secs() / 86_400,
    };
    let backdate = SignedDuration::try_from(CERTIFICATE_BACKDATE).map_err(|_| out_of_range())?;
    let span = SignedDuration::try_from(validity).map_err(|_| out_of_range())?;
    let not_before = now.checked_sub(backdate).map_err(|_| out_of_range())?;
    let not_after = now.checked_add(span).map_err(|_| out_of_range())?;
    // Convert to the `time` type rcgen uses without depending on `time` directly: the epoch
    // comes from `rcgen::date_time_ymd` and whole seconds are added (X.509 times have second
    // precision). jiff's maximum (year 9999) fits in `time`'s default range, so the addition
    // cannot overflow.
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + since_epoch(not_before).ok_or_else(out_of_range)?;
    params.not_after = epoch + since_epoch(not_after).ok_or_else(out_of_range)?;
    Ok(())
}

/// Whole seconds since the Unix epoch; `None` before 1970.
fn since_epoch(ts: Timestamp) -> Option<Duration> {
    u64::try_from(ts.as_second()).ok().map(Duration::from_secs)
}
