//! TLS material: a per-server CA (from `capp_pki`), the serving certificate for
//! `127.0.0.1`/`localhost`, client certificates for identities, and the rustls configuration
//! that accepts (but does not require) client certificates.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use capp_pki::secrecy::ExposeSecret as _;
use capp_pki::{CaOptions, CertificateAuthority, IssuedCertificate, LeafSpec};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::identity::Identity;
use crate::{Error, Result};

/// The server's PKI.
#[derive(Debug)]
pub(crate) struct Pki {
    pub(crate) ca: CertificateAuthority,
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

impl Pki {
    /// Generates a CA and a serving certificate, and builds the rustls server configuration.
    pub(crate) fn generate() -> Result<Self> {
        let mut rng = rand::rng();
        let ca =
            CertificateAuthority::generate(&CaOptions::new("capp-testenv-ca"), now(), &mut rng)
                .map_err(Error::Pki)?;
        let serving = ca
            .issue(
                &LeafSpec::server("capp-testenv")
                    .with_ip_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
                    .with_dns_name("localhost"),
                now(),
                &mut rng,
            )
            .map_err(Error::Pki)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca.certificate().der().to_vec()))
            .map_err(|e| Error::Tls(Box::new(e)))?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| Error::Tls(Box::new(e)))?;
        let key = PrivateKeyDer::from_pem_slice(serving.key_pem().expose_secret().as_bytes())
            .map_err(|e| Error::Tls(Box::new(e)))?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(Box::new(e)))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(serving.certificate.der().to_vec())],
                key,
            )
            .map_err(|e| Error::Tls(Box::new(e)))?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            ca,
            server_config: Arc::new(cfg),
        })
    }

    /// Issues a client certificate: CN = user name, O = groups.
    pub(crate) fn client_certificate(&self, identity: &Identity) -> Result<IssuedCertificate> {
        let mut spec = LeafSpec::client(identity.username.clone());
        // `system:authenticated` is implied for every authenticated caller.
        for g in identity
            .groups
            .iter()
            .filter(|g| *g != "system:authenticated")
        {
            spec = spec.with_organization(g.clone());
        }
        self.ca
            .issue(&spec, now(), &mut rand::rng())
            .map_err(Error::Pki)
    }
}

/// Whether `identity` fits in a client certificate this crate can issue: capp_pki (through
/// rcgen's distinguished names) keeps one `O` per certificate, so identities with several
/// groups authenticate with a token instead.
pub(crate) fn fits_certificate(identity: &Identity) -> bool {
    identity
        .groups
        .iter()
        .filter(|g| *g != "system:authenticated")
        .count()
        <= 1
}

/// The identity a (verified) client certificate carries: CN is the user, O the groups.
pub(crate) fn identity_from_cert(der: &[u8]) -> Option<Identity> {
    let cert = capp_pki::Certificate::from_der(der.to_vec(), "client certificate").ok()?;
    let info = cert.info();
    let mut groups = info.organizations.clone();
    if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".to_owned());
    }
    Some(Identity {
        username: info.common_name.clone()?,
        groups,
    })
}
