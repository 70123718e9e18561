//! The webhook's serving certificate, read from a directory holding `tls.crt` and `tls.key`
//! (a mounted `kubernetes.io/tls` Secret) and reloaded when the files change.
//!
//! kubelet updates a Secret volume atomically: the files are links into a `..data` link that
//! is swapped to a new timestamped directory. [`CertStore::reload`] reads both files through
//! those links, and only a pair that parses and whose key matches the certificate replaces the
//! one in use; a partial or broken pair (read during a swap, a bad renewal) is logged once and
//! the previous certificate keeps serving. New TLS connections use whatever is current when
//! their handshake starts ([`ResolvesServerCert`]), so a renewal needs no restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest as _, Sha256};

/// The certificate file in the certificate directory (a `kubernetes.io/tls` Secret's key).
pub const CERT_FILE: &str = "tls.crt";
/// The private key file in the certificate directory.
pub const KEY_FILE: &str = "tls.key";

/// Why a certificate pair cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// A file cannot be read (missing, unreadable).
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error (in the message, so not a `source`).
        error: std::io::Error,
    },
    /// A file holds no usable PEM certificate or key.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl CertError {
    /// The file the error is about.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Self::Read { path, .. } | Self::Invalid { path, .. } => path,
        }
    }
}

/// The certificate in use, and the digest of the last file contents looked at.
#[derive(Debug)]
pub struct CertStore {
    dir: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// SHA-256 of the last `tls.crt` + `tls.key` contents read, good or bad: unchanged files
    /// are not parsed again, and a bad pair is warned about once.
    last_seen: Mutex<[u8; 32]>,
}

/// What [`CertStore::reload`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// The files are the ones last looked at.
    Unchanged,
    /// A new pair is in use.
    Replaced,
    /// The files changed but cannot be used; the previous certificate stays in use.
    Rejected(String),
}

impl CertStore {
    /// Loads `dir/tls.crt` and `dir/tls.key`; fails when they are missing or unusable.
    pub fn load(dir: &Path, provider: Arc<CryptoProvider>) -> Result<Self, CertError> {
        let (crt, key) = read_pair(dir)?;
        let certified = parse_pair(dir, &crt, &key, &provider)?;
        Ok(Self {
            dir: dir.to_owned(),
            provider,
            current: RwLock::new(Arc::new(certified)),
            last_seen: Mutex::new(digest(&crt, &key)),
        })
    }

    /// The directory the certificate is read from.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The certificate in use.
    #[must_use]
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the files again and switches to them when they changed and are a valid pair.
    /// Logs a replacement at INFO and a rejected pair at WARN (once per content).
    pub fn reload(&self) -> Reload {
        let (crt, key) = match read_pair(&self.dir) {
            Ok(pair) => pair,
            Err(e) => return self.reject_once(digest(e.to_string().as_bytes(), b""), &e),
        };
        let seen = digest(&crt, &key);
        if *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            == seen
        {
            return Reload::Unchanged;
        }
        match parse_pair(&self.dir, &crt, &key, &self.provider) {
            Ok(certified) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
                *self
                    .last_seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = seen;
                tracing::info!(dir = %self.dir.display(), "Webhook serving certificate reloaded");
                Reload::Replaced
            }
            Err(e) => self.reject_once(seen, &e),
        }
    }

    fn reject_once(&self, seen: [u8; 32], error: &CertError) -> Reload {
        let mut last = self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *last != seen {
            *last = seen;
            tracing::warn!(
                error = %error,
                "Webhook serving certificate not reloaded; the previous one stays in use"
            );
        }
        Reload::Rejected(error.to_string())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn digest(crt: &[u8], key: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(crt);
    hasher.update([0]);
    hasher.update(key);
    hasher.finalize().into()
}

fn read_pair(dir: &Path) -> Result<(Vec<u8>, Vec<u8>), CertError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|error| CertError::Read { path, error })
    };
    Ok((read(CERT_FILE)?, read(KEY_FILE)?))
}

fn parse_pair(
    dir: &Path,
    crt: &[u8],
    key: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, CertError> {
    let crt_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let chain = CertificateDer::pem_slice_iter(crt)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Invalid {
            path: crt_path.clone(),
            reason: format!("not a PEM certificate chain ({e})"),
        })?;
    if chain.is_empty() {
        return Err(CertError::Invalid {
            path: crt_path,
            reason: "no CERTIFICATE block".to_owned(),
        });
    }
    let private = PrivateKeyDer::from_pem_slice(key).map_err(|e| CertError::Invalid {
        path: key_path.clone(),
        reason: format!("no PEM private key ({e})"),
    })?;
    CertifiedKey::from_der(chain, private, provider).map_err(|e| CertError::Invalid {
        path: key_path,
        reason: format!("the key does not fit {} ({e})", crt_path.display()),
    })
}
