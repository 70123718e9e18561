//! Kubernetes cluster PKI, kubeconfigs and bootstrap tokens: pure and kubeadm-compatible.
//!
//! This crate builds the certificate material a Cluster API provider or a kubeadm-based
//! bootstrapper needs, without doing any I/O:
//!
//! - [`ClusterPki`]: the cluster CA (`kubernetes`), etcd CA (`etcd-ca`), front-proxy CA
//!   (`front-proxy-ca`) and service-account key pair, with kubeadm's leaves
//!   ([`ClusterPki::apiserver`], [`ClusterPki::admin_client`], ...) and the files kubeadm
//!   expects in `/etc/kubernetes/pki` ([`ClusterPki::control_plane_files`]).
//! - [`CertificateAuthority`]: generate a self-signed CA or load one from PEM (RSA CAs
//!   written by CAPI or openssl included), and issue server/client leaves from a [`LeafSpec`].
//! - [`Kubeconfig`]: render and parse kubeconfig YAML (client certificate or token).
//! - [`Certificate::public_key_hash`]: the `sha256:<hex>` value for kubeadm's `caCertHashes`.
//! - [`BootstrapToken`]: `[a-z0-9]{6}.[a-z0-9]{16}` tokens and their `kube-system` Secret.
//! - [`capi`]: the `<cluster>-ca` / `-etcd` / `-proxy` / `-sa` / `-kubeconfig` Secrets.
//! - [`expiring_within`]: which certificates expire within N days.
//!
//! # Purity
//! Time is always passed in as a [`jiff::Timestamp`] and randomness (serial numbers, tokens)
//! as a [`rand::RngCore`]. The one exception is private-key generation: ring only generates
//! keys from the operating system's RNG.
//!
//! # Secrets
//! Private keys, tokens, kubeconfigs and Secret data never appear in `Debug` output; they
//! print `[REDACTED]`. Text that holds key material is returned as [`secrecy::SecretString`]
//! or [`SecretValue`].
//!
//! # Example
//! ```
//! use capp_pki::{ApiServerSans, ClusterPki, ClusterPkiOptions, Kubeconfig};
//! use rand::SeedableRng;
//!
//! let now: jiff::Timestamp = "2026-11-21T08:00:00Z".parse()?;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(7);
//!
//! let pki = ClusterPki::generate(&ClusterPkiOptions::default(), now, &mut rng)?;
//! assert_eq!(pki.ca.certificate().common_name(), Some("kubernetes"));
//!
//! // The serving certificate kubeadm would create for a first control-plane node.
//! let sans = ApiServerSans::new("cp-0", "147.75.0.10".parse()?)
//!     .with_extra_san("api.example.com");
//! let apiserver = pki.apiserver(&sans, now, &mut rng)?;
//! assert!(apiserver.certificate.info().dns_names.contains(&"kubernetes.default.svc.cluster.local".to_owned()));
//!
//! // The admin kubeconfig CAPI stores in `<cluster>-kubeconfig`.
//! let kubeconfig = pki.admin_kubeconfig("demo", "https://api.example.com:6443", now, &mut rng)?;
//! let secret = kubeconfig.to_capi_secret("demo", "default")?;
//! assert_eq!(secret.name, "demo-kubeconfig");
//! assert_eq!(Kubeconfig::from_capi_secret(&secret)?.current_context, "demo-admin@demo");
//!
//! // What kubeadm join needs to trust the control plane.
//! assert!(pki.ca_cert_hash().starts_with("sha256:"));
//!
//! // Keys never leak through Debug.
//! assert!(format!("{:?}", pki.ca).contains("[REDACTED]"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod ca;
pub mod capi;
pub mod cert;
pub mod cluster;
mod der;
mod error;
pub mod key;
pub mod kubeconfig;
pub mod secret;
pub mod token;

pub use ca::{
    CERTIFICATE_BACKDATE, CaOptions, CertificateAuthority, DEFAULT_CA_VALIDITY,
    DEFAULT_LEAF_VALIDITY, IssuedCertificate, LeafSpec,
};
pub use capi::Purpose;
pub use cert::{Certificate, CertificateInfo, Expiring, ExtendedUsage, expiring_within};
pub use cluster::{ApiServerSans, ClusterPki, ClusterPkiOptions, PkiFile, ServiceAccountKey};
pub use error::{Error, Result};
pub use key::{KeyAlgorithm, KeyKind, PrivateKey};
pub use kubeconfig::Kubeconfig;
pub use secret::{Secret, SecretValue};
pub use token::BootstrapToken;

/// Re-exported so callers can name the `now` type without adding jiff themselves.
pub use jiff;
/// Re-exported so callers can name the RNG trait without adding rand themselves.
pub use rand;
/// Re-exported for [`secrecy::SecretString`] and [`secrecy::ExposeSecret`].
pub use secrecy;
