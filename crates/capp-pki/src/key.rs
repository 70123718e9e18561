//! Private keys: generation, loading (PKCS#8, PKCS#1, SEC1) and PEM output.
//!
//! CAPI's kubeadm providers and `openssl` write keys in three encodings: PKCS#8
//! (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`). The ring backend
//! only reads PKCS#8, so PKCS#1 and SEC1 keys are re-wrapped into PKCS#8 (pure DER wrapping,
//! in the private `der` module) before they are handed to rcgen. Keys are always written back as
//! PKCS#8, which kubeadm, kube-apiserver and openssl all read.

use std::fmt;

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PublicKeyData};
use secrecy::SecretString;

use crate::der;
use crate::{Error, Result};

/// Algorithm for newly generated keys.
///
/// RSA is not offered: the ring backend can sign with RSA keys it *loads* (see
/// [`PrivateKey::from_pem`]) but cannot generate them. kubeadm accepts ECDSA P-256 CAs
/// (`encryptionAlgorithm: ECDSA-P256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256 signatures (the default).
    #[default]
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384 signatures.
    EcdsaP384,
}

impl KeyAlgorithm {
    fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ECDSA P-256",
            KeyAlgorithm::EcdsaP384 => "ECDSA P-384",
        }
    }
}

/// The kind of a (generated or loaded) private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// ECDSA P-256.
    EcdsaP256,
    /// ECDSA P-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA (any size ring accepts, 2048-8192 bits).
    Rsa,
}

/// A private key. Its `Debug` output never shows key material.
///
/// # Randomness
/// [`PrivateKey::generate`] is the one place where this crate draws randomness that is not
/// passed in: ring only generates keys from the operating system's RNG. Everything else
/// (serial numbers, bootstrap tokens) takes an injected [`rand::RngCore`].
pub struct PrivateKey {
    pair: KeyPair,
}

impl PrivateKey {
    /// Generates a new key with ring's system RNG.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self> {
        let alg = match algorithm {
            KeyAlgorithm::EcdsaP256 => &PKCS_ECDSA_P256_SHA256,
            KeyAlgorithm::EcdsaP384 => &PKCS_ECDSA_P384_SHA384,
        };
        let pair = KeyPair::generate_for(alg).map_err(|source| Error::KeyGeneration {
            algorithm: algorithm.name(),
            source,
        })?;
        Ok(Self { pair })
    }

    /// Loads the first private key block of a PEM document (`PRIVATE KEY`, `RSA PRIVATE KEY`
    /// or `EC PRIVATE KEY`). Other blocks (certificates, `EC PARAMETERS`) are skipped.
    ///
    /// `field` names the input in error messages (for example `tls.key`).
    pub fn from_pem(pem_text: &str, field: &str) -> Result<Self> {
        let blocks = pem::parse_many(pem_text).map_err(|source| Error::Pem {
            field: field.to_owned(),
            source,
        })?;
        let block = blocks
            .iter()
            .find(|b| b.tag().ends_with("PRIVATE KEY"))
            .ok_or_else(|| Error::MissingPemBlock {
                field: field.to_owned(),
                expected: "PRIVATE KEY",
            })?;
        let pkcs8 = match block.tag() {
            "PRIVATE KEY" => zeroizing(block.contents().to_vec()),
            "RSA PRIVATE KEY" => zeroizing(der::pkcs1_to_pkcs8(block.contents())),
            "EC PRIVATE KEY" => {
                let curve = der::sec1_curve(block.contents()).ok_or_else(|| Error::InvalidKey {
                    field: field.to_owned(),
                })?;
                zeroizing(der::sec1_to_pkcs8(block.contents(), curve))
            }
            other => {
                return Err(Error::UnsupportedKeyFormat {
                    field: field.to_owned(),
                    label: other.to_owned(),
                });
            }
        };
        Self::from_pkcs8_der(&pkcs8.0, field)
    }

    /// Loads a PKCS#8 DER private key. `field` names the input in error messages.
    pub fn from_pkcs8_der(der: &[u8], field: &str) -> Result<Self> {
        let pair = KeyPair::try_from(der).map_err(|_| Error::InvalidKey {
            field: field.to_owned(),
        })?;
        Ok(Self { pair })
    }

    /// The key's kind.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        let alg = self.pair.algorithm();
        if alg == &PKCS_ECDSA_P256_SHA256 {
            KeyKind::EcdsaP256
        } else if alg == &PKCS_ECDSA_P384_SHA384 {
            KeyKind::EcdsaP384
        } else if alg == &rcgen::PKCS_ED25519 {
            KeyKind::Ed25519
        } else {
            KeyKind::Rsa
        }
    }

    /// The private key as a PKCS#8 `PRIVATE KEY` PEM document.
    #[must_use]
    pub fn to_pem(&self) -> SecretString {
        SecretString::from(self.pair.serialize_pem())
    }

    /// The private key as PKCS#8 DER (for example for `rustls::pki_types::PrivatePkcs8KeyDer`).
    #[must_use]
    pub fn to_pkcs8_der(&self) -> secrecy::SecretSlice<u8> {
        secrecy::SecretSlice::from(self.pair.serialize_der())
    }

    /// The DER `SubjectPublicKeyInfo` of the public half.
    #[must_use]
    pub fn public_key_der(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    /// The public half as a `PUBLIC KEY` PEM document (the format of kubeadm's `sa.pub`).
    #[must_use]
    pub fn public_key_pem(&self) -> String {
        self.pair.public_key_pem()
    }

    /// The raw public key bits (the contents of the SPKI's BIT STRING).
    pub(crate) fn public_key_raw(&self) -> &[u8] {
        self.pair.public_key_raw()
    }

    pub(crate) fn key_pair(&self) -> &KeyPair {
        &self.pair
    }
}

/// The raw public key bits of the first `PUBLIC KEY` (SubjectPublicKeyInfo) block of a PEM
/// document, for comparison with [`PrivateKey::public_key_raw`].
pub(crate) fn public_key_raw_from_pem(pem_text: &str, field: &str) -> Result<Vec<u8>> {
    let blocks = pem::parse_many(pem_text).map_err(|source| Error::Pem {
        field: field.to_owned(),
        source,
    })?;
    let block = blocks
        .iter()
        .find(|b| b.tag() == "PUBLIC KEY")
        .ok_or_else(|| Error::MissingPemBlock {
            field: field.to_owned(),
            expected: "PUBLIC KEY",
        })?;
    let invalid = || Error::InvalidPublicKey {
        field: field.to_owned(),
    };
    let (rest, spki) = <x509_parser::x509::SubjectPublicKeyInfo<'_> as x509_parser::prelude::FromDer<'_, _>>::from_der(block.contents())
        .map_err(|_| invalid())?;
    if !rest.is_empty() {
        return Err(invalid());
    }
    Ok(spki.subject_public_key.data.to_vec())
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kind", &self.kind())
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// A byte buffer that is wiped when dropped (holds re-wrapped key DER).
struct Zeroizing(Vec<u8>);

fn zeroizing(v: Vec<u8>) -> Zeroizing {
    Zeroizing(v)
}

impl Drop for Zeroizing {
    fn drop(&mut self) {
        secrecy::zeroize::Zeroize::zeroize(&mut self.0);
    }
}

#[cfg(test)]
mod tests;
