//! The inputs of a userdata rendering: cluster settings, join discovery, node role and
//! identity, and the explicit Metal API token opt-in.
//!
//! Everything secret (bootstrap token, certificate key, CA private keys, the Metal API token)
//! is held in [`SecretString`], whose `Debug` output is `[REDACTED]`. Certificates, hashes and
//! tokens come in as plain strings: this crate does not depend on `capp-pki`, so any PKI
//! library can produce them.

use std::fmt;
use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// Replaced on the node by the Equinix Metal device UUID when the identity comes from the
/// metadata service ([`NodeIdentity::FromMetadata`]).
pub const DEVICE_ID_PLACEHOLDER: &str = "__CAPP_METAL_DEVICE_ID__";
/// Replaced on the node by the device's private IPv4 address when the identity comes from the
/// metadata service ([`NodeIdentity::FromMetadata`]).
pub const NODE_IP_PLACEHOLDER: &str = "__CAPP_METAL_NODE_IP__";
/// Prefix of the Kubernetes provider ID of an Equinix Metal device (`equinixmetal://<uuid>`),
/// the one the cloud-provider-equinix-metal (CPEM) recognises.
pub const PROVIDER_ID_PREFIX: &str = "equinixmetal://";

/// Where the cluster's API server is reached (`host:port`), as in CAPI's `APIEndpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEndpoint {
    /// DNS name or IP address.
    pub host: String,
    /// TCP port, usually 6443.
    pub port: u16,
}

impl fmt::Display for ApiEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Cluster-wide settings that go into kubeadm's `ClusterConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// The cluster name (`ClusterConfiguration.clusterName`).
    pub name: String,
    /// The control-plane endpoint (Elastic IP, load balancer or DNS name).
    pub control_plane_endpoint: ApiEndpoint,
    /// Pod network CIDR (`networking.podSubnet`).
    pub pod_subnet: String,
    /// Service network CIDR (`networking.serviceSubnet`).
    pub service_subnet: String,
    /// Cluster DNS domain (`networking.dnsDomain`).
    pub dns_domain: String,
}

impl ClusterSpec {
    /// A cluster with the Packet provider's default networks (pods `192.168.0.0/16`, services
    /// `172.26.0.0/16`) and DNS domain `cluster.local`.
    #[must_use]
    pub fn new(name: impl Into<String>, control_plane_endpoint: ApiEndpoint) -> Self {
        Self {
            name: name.into(),
            control_plane_endpoint,
            pod_subnet: "192.168.0.0/16".to_owned(),
            service_subnet: "172.26.0.0/16".to_owned(),
            dns_domain: "cluster.local".to_owned(),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 63
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !self.name.starts_with(['-', '.'])
            && !self.name.ends_with(['-', '.']);
        if !name_ok {
            return Err(invalid(
                "cluster.name",
                format!(
                    "`{}` is not a DNS name (lowercase letters, digits, `-`, `.`, at most 63)",
                    self.name
                ),
            ));
        }
        let host = &self.control_plane_endpoint.host;
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))
        {
            return Err(invalid(
                "cluster.control_plane_endpoint.host",
                format!("`{host}` is not a DNS name or IP address"),
            ));
        }
        if self.control_plane_endpoint.port == 0 {
            return Err(invalid(
                "cluster.control_plane_endpoint.port",
                "port 0 is not usable".to_owned(),
            ));
        }
        for (field, cidr) in [
            ("cluster.pod_subnet", &self.pod_subnet),
            ("cluster.service_subnet", &self.service_subnet),
        ] {
            check_cidrs(field, cidr)?;
        }
        if self.dns_domain.is_empty()
            || !self
                .dns_domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(invalid(
                "cluster.dns_domain",
                format!("`{}` is not a DNS domain", self.dns_domain),
            ));
        }
        Ok(())
    }
}

/// Accepts one CIDR or a comma-separated dual-stack pair (`10.0.0.0/16,fd00::/108`).
fn check_cidrs(field: &'static str, text: &str) -> Result<()> {
    let bad = || {
        invalid(
            field,
            format!("`{text}` is not a CIDR such as `10.96.0.0/12`"),
        )
    };
    if text.is_empty() {
        return Err(bad());
    }
    for cidr in text.split(',') {
        let (addr, bits) = cidr.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return Err(bad());
        }
    }
    Ok(())
}

/// How a joining node finds and trusts the cluster: a bootstrap token and the CA public-key
/// hashes (`sha256:<hex>`). There is deliberately no way to ask for
/// `unsafeSkipCAVerification`.
#[derive(Debug, Clone)]
pub struct JoinDiscovery {
    /// Bootstrap token `[a-z0-9]{6}.[a-z0-9]{16}`. On control-plane init it is also created
    /// by kubeadm (`InitConfiguration.bootstrapTokens`, valid for
    /// [`BOOTSTRAP_TOKEN_TTL`](crate::kubeadm::BOOTSTRAP_TOKEN_TTL)) so that later nodes can
    /// use it. A joining node needs the token to exist in the cluster when it joins: after
    /// that TTL the caller must create a fresh `kube-system/bootstrap-token-<id>` Secret (as
    /// CAPI's kubeadm bootstrap provider does) and render with that token.
    pub token: SecretString,
    /// At least one `sha256:<64 hex>` hash of the cluster CA's public key.
    pub ca_cert_hashes: Vec<String>,
}

impl JoinDiscovery {
    pub(crate) fn validate(&self) -> Result<()> {
        let token = self.token.expose_secret();
        let ok = |s: &str, n: usize| {
            s.len() == n
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        let token_ok = token
            .split_once('.')
            .is_some_and(|(id, secret)| ok(id, 6) && ok(secret, 16));
        if !token_ok {
            // The token itself is a secret: never echo it.
            return Err(invalid(
                "discovery.token",
                "not a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}".to_owned(),
            ));
        }
        if self.ca_cert_hashes.is_empty() {
            return Err(invalid(
                "discovery.ca_cert_hashes",
                "at least one `sha256:<hex>` CA public-key hash is required; unsafe CA skipping is not supported".to_owned(),
            ));
        }
        for hash in &self.ca_cert_hashes {
            let hex_ok = hash.strip_prefix("sha256:").is_some_and(|hex| {
                hex.len() == 64
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
            if !hex_ok {
                return Err(invalid(
                    "discovery.ca_cert_hashes",
                    format!("`{hash}` is not `sha256:` followed by 64 lowercase hex digits"),
                ));
            }
        }
        Ok(())
    }
}

/// A certificate authority as PEM: certificate and private key.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    /// PEM certificate.
    pub cert_pem: String,
    /// PEM private key (PKCS#1, PKCS#8 or SEC1; kubeadm reads all three).
    pub key_pem: SecretString,
}

/// The service-account signing key pair as PEM.
#[derive(Debug, Clone)]
pub struct ServiceAccountKeys {
    /// PEM public key (`sa.pub`).
    pub public_pem: String,
    /// PEM private key (`sa.key`).
    pub private_pem: SecretString,
}

/// What the first control-plane node needs to run `kubeadm init` against an existing PKI.
///
/// # Caveats
/// These private keys end up in the device's userdata, which the Equinix Metal metadata
/// service serves to anything on the host without authentication (the same is true of CAPI's
/// kubeadm bootstrap provider). Only the first control-plane node receives them: joining
/// control-plane nodes download the certificates encrypted with the certificate key
/// (`kubeadm init --upload-certs`), so their userdata holds no CA key. Callers should clear
/// the device's userdata (`PUT /devices/{id}`) once the node has bootstrapped.
#[derive(Debug, Clone)]
pub struct InitMaterial {
    /// Key that encrypts the uploaded control-plane certificates (`kubeadm-certs` Secret), 64
    /// lowercase hex digits; the same key must be given to joining control-plane nodes.
    pub certificate_key: SecretString,
    /// Cluster CA (`/etc/kubernetes/pki/ca.{crt,key}`).
    pub ca: CertificateAuthority,
    /// etcd CA (`/etc/kubernetes/pki/etcd/ca.{crt,key}`).
    pub etcd_ca: CertificateAuthority,
    /// Front-proxy CA (`/etc/kubernetes/pki/front-proxy-ca.{crt,key}`).
    pub front_proxy_ca: CertificateAuthority,
    /// Service-account key pair (`/etc/kubernetes/pki/sa.{pub,key}`).
    pub service_account: ServiceAccountKeys,
}

/// The role a node plays in the cluster; decides between `kubeadm init` and `kubeadm join`.
#[derive(Debug, Clone)]
pub enum NodeRole {
    /// The first control-plane node: `kubeadm init` with the given PKI.
    ControlPlaneInit(Box<InitMaterial>),
    /// An additional control-plane node: `kubeadm join` with `controlPlane` set.
    ///
    /// # Caveats
    /// The node downloads the control-plane certificates that `kubeadm init --upload-certs`
    /// stored, encrypted with the certificate key, in the `kube-system/kubeadm-certs` Secret.
    /// kubeadm deletes that Secret two hours after the upload. A control-plane node that joins
    /// later fails unless the certificates are uploaded again with the same key
    /// (`kubeadm init phase upload-certs --upload-certs --certificate-key <key>` on an
    /// existing control-plane node). CAPI's kubeadm control plane avoids this by writing the
    /// CA keys into every control-plane node's userdata instead.
    ControlPlaneJoin {
        /// The certificate key used at init (64 lowercase hex digits).
        certificate_key: SecretString,
    },
    /// A worker node: plain `kubeadm join`.
    Worker,
}

impl NodeRole {
    /// A stable name for the role: `control-plane-init`, `control-plane-join` or `worker`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::ControlPlaneInit(_) => "control-plane-init",
            Self::ControlPlaneJoin { .. } => "control-plane-join",
            Self::Worker => "worker",
        }
    }

    /// Whether the node runs a control-plane instance.
    #[must_use]
    pub fn is_control_plane(&self) -> bool {
        !matches!(self, Self::Worker)
    }

    pub(crate) fn certificate_key(&self) -> Option<&SecretString> {
        match self {
            Self::ControlPlaneInit(init) => Some(&init.certificate_key),
            Self::ControlPlaneJoin { certificate_key } => Some(certificate_key),
            Self::Worker => None,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(key) = self.certificate_key() {
            let key = key.expose_secret();
            if key.len() != 64
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(invalid(
                    "role.certificate_key",
                    "must be 64 lowercase hex digits (32 random bytes), as `kubeadm certs certificate-key` prints".to_owned(),
                ));
            }
        }
        if let Self::ControlPlaneInit(init) = self {
            let pems = [
                ("role.ca.cert_pem", init.ca.cert_pem.as_str()),
                ("role.ca.key_pem", init.ca.key_pem.expose_secret()),
                ("role.etcd_ca.cert_pem", init.etcd_ca.cert_pem.as_str()),
                ("role.etcd_ca.key_pem", init.etcd_ca.key_pem.expose_secret()),
                (
                    "role.front_proxy_ca.cert_pem",
                    init.front_proxy_ca.cert_pem.as_str(),
                ),
                (
                    "role.front_proxy_ca.key_pem",
                    init.front_proxy_ca.key_pem.expose_secret(),
                ),
                (
                    "role.service_account.public_pem",
                    init.service_account.public_pem.as_str(),
                ),
                (
                    "role.service_account.private_pem",
                    init.service_account.private_pem.expose_secret(),
                ),
            ];
            for (field, pem) in pems {
                if !pem.trim_start().starts_with("-----BEGIN ") {
                    return Err(invalid(
                        field,
                        "is not PEM (no `-----BEGIN` line)".to_owned(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Where the kubelet's provider ID and node IP come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeIdentity {
    /// Known when rendering (for instance when userdata is updated after the device exists).
    Static {
        /// Equinix Metal device UUID; the provider ID is `equinixmetal://<device_id>`.
        device_id: String,
        /// The address the kubelet registers and the API server advertises.
        node_ip: IpAddr,
    },
    /// Resolved on the node before kubeadm runs, from the Equinix Metal metadata service
    /// (`https://metadata.platformequinix.com/metadata`: `.id` and the first private IPv4).
    /// The kubeadm configuration carries [`DEVICE_ID_PLACEHOLDER`] and
    /// [`NODE_IP_PLACEHOLDER`], substituted by a script written to the node. This is the usual
    /// case: the device ID does not exist until the device (and its userdata) is created.
    FromMetadata,
}

impl NodeIdentity {
    /// The kubelet provider ID (`equinixmetal://<uuid>`, or with the placeholder).
    #[must_use]
    pub fn provider_id(&self) -> String {
        match self {
            Self::Static { device_id, .. } => format!("{PROVIDER_ID_PREFIX}{device_id}"),
            Self::FromMetadata => format!("{PROVIDER_ID_PREFIX}{DEVICE_ID_PLACEHOLDER}"),
        }
    }

    /// The node IP as written into the kubeadm configuration.
    #[must_use]
    pub fn node_ip(&self) -> String {
        match self {
            Self::Static { node_ip, .. } => node_ip.to_string(),
            Self::FromMetadata => NODE_IP_PLACEHOLDER.to_owned(),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if let Self::Static { device_id, .. } = self
            && (device_id.is_empty()
                || !device_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(invalid(
                "identity.device_id",
                format!("`{device_id}` is not an Equinix Metal device UUID"),
            ));
        }
        Ok(())
    }
}

/// The Equinix Metal API token, to be written to the node **only** because the caller asked
/// for it explicitly.
///
/// The Go provider rendered its own Metal API token into every control-plane userdata; anything
/// on those hosts could read it from the metadata service. This crate never does that
/// implicitly. With this opt-in the token is written to [`MetalApiTokenOptIn::PATH`]
/// (`root:root`, mode `0600`) for on-node tooling such as deploying the Equinix Metal cloud
/// provider. Prefer creating that Secret from the management cluster instead, and use a
/// project-scoped, read-only key where possible.
#[derive(Debug, Clone)]
pub struct MetalApiTokenOptIn {
    /// The token.
    pub token: SecretString,
}

impl MetalApiTokenOptIn {
    /// File the token is written to.
    pub const PATH: &'static str = "/etc/capp/metal-api-token";
}

fn invalid(field: &'static str, reason: String) -> Error {
    Error::InvalidInput { field, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discovery(token: &str, hash: &str) -> JoinDiscovery {
        JoinDiscovery {
            token: SecretString::from(token.to_owned()),
            ca_cert_hashes: vec![hash.to_owned()],
        }
    }

    const HASH: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_malformed_token_is_rejected_without_echoing_it() {
        let err = discovery("ABCDEF.0123456789abcdef", HASH)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("discovery.token"), "{err}");
        assert!(!err.contains("ABCDEF"), "{err}");
    }

    #[test]
    fn discovery_without_ca_hashes_is_rejected() {
        let mut d = discovery("abcdef.0123456789abcdef", HASH);
        d.ca_cert_hashes.clear();
        let err = d.validate().unwrap_err().to_string();
        assert!(err.contains("ca_cert_hashes"), "{err}");
        assert!(
            discovery("abcdef.0123456789abcdef", "sha256:XYZ")
                .validate()
                .is_err()
        );
        assert!(
            discovery("abcdef.0123456789abcdef", HASH)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let d = discovery("abcdef.s3cr3ts3cr3ts3cr", HASH);
        let role = NodeRole::ControlPlaneJoin {
            certificate_key: SecretString::from("f".repeat(64)),
        };
        let token = MetalApiTokenOptIn {
            token: SecretString::from("metal-token-value".to_owned()),
        };
        let debug = format!("{d:?} {role:?} {token:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(!debug.contains("ffffffff"), "{debug}");
        assert!(!debug.contains("metal-token-value"), "{debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
    }

    #[test]
    fn ipv6_endpoints_are_bracketed() {
        let e = ApiEndpoint {
            host: "2001:db8::1".to_owned(),
            port: 6443,
        };
        assert_eq!(e.to_string(), "[2001:db8::1]:6443");
    }

    #[test]
    fn bad_cluster_settings_name_the_field() {
        let mut c = ClusterSpec::new(
            "demo",
            ApiEndpoint {
                host: "203.0.113.10".to_owned(),
                port: 6443,
            },
        );
        assert!(c.validate().is_ok());
        c.pod_subnet = "192.168.0.0".to_owned();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("cluster.pod_subnet"), "{err}");
        c.pod_subnet = "10.244.0.0/16,fd00:10:244::/56".to_owned();
        assert!(c.validate().is_ok());
        c.name = "Demo Cluster".to_owned();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("cluster.name")
        );
    }
}
