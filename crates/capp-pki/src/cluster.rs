//! The kubeadm cluster PKI: three CAs, the service-account key pair and kubeadm's leaves.
//!
//! Names, subjects and usages follow kubeadm's `certs.go` (`cmd/kubeadm/app/phases/certs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use jiff::Timestamp;
use rand::RngCore;
use secrecy::SecretString;

use crate::ca::{
    CaOptions, CertificateAuthority, DEFAULT_CA_VALIDITY, DEFAULT_LEAF_VALIDITY, IssuedCertificate,
    LeafSpec,
};
use crate::cert::{Certificate, Expiring, ExtendedUsage, expiring_within};
use crate::key::{KeyAlgorithm, PrivateKey};
use crate::kubeconfig::Kubeconfig;
use crate::secret::SecretValue;
use crate::{Error, Result};

/// Common name of the cluster CA.
pub const CLUSTER_CA_CN: &str = "kubernetes";
/// Common name of the etcd CA.
pub const ETCD_CA_CN: &str = "etcd-ca";
/// Common name of the front-proxy CA.
pub const FRONT_PROXY_CA_CN: &str = "front-proxy-ca";
/// Common name of the admin client certificate in CAPI's kubeconfig.
pub const ADMIN_CN: &str = "kubernetes-admin";
/// The group that is bound to `cluster-admin` by default and bypasses RBAC.
pub const SYSTEM_MASTERS: &str = "system:masters";
/// The group kubeadm (1.29 and later) binds to `cluster-admin` via RBAC.
pub const KUBEADM_CLUSTER_ADMINS: &str = "kubeadm:cluster-admins";
/// Default cluster DNS domain.
pub const DEFAULT_DNS_DOMAIN: &str = "cluster.local";
/// Default service CIDR (kubeadm's `DefaultServicesSubnet`).
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";

/// Options for [`ClusterPki::generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterPkiOptions {
    /// Validity of the three CAs (default ten years).
    pub ca_validity: Duration,
    /// Validity of leaves issued through [`ClusterPki`] (default one year).
    pub leaf_validity: Duration,
    /// Algorithm of every generated key (default ECDSA P-256).
    pub key_algorithm: KeyAlgorithm,
}

impl Default for ClusterPkiOptions {
    fn default() -> Self {
        Self {
            ca_validity: DEFAULT_CA_VALIDITY,
            leaf_validity: DEFAULT_LEAF_VALIDITY,
            key_algorithm: KeyAlgorithm::default(),
        }
    }
}

impl ClusterPkiOptions {
    /// Sets the CA validity.
    #[must_use]
    pub fn with_ca_validity(mut self, validity: Duration) -> Self {
        self.ca_validity = validity;
        self
    }

    /// Sets the leaf validity.
    #[must_use]
    pub fn with_leaf_validity(mut self, validity: Duration) -> Self {
        self.leaf_validity = validity;
        self
    }

    /// Sets the key algorithm.
    #[must_use]
    pub fn with_key_algorithm(mut self, key_algorithm: KeyAlgorithm) -> Self {
        self.key_algorithm = key_algorithm;
        self
    }
}

/// The service-account signing key pair (kubeadm's `sa.key` / `sa.pub`).
#[derive(Debug)]
pub struct ServiceAccountKey {
    key: PrivateKey,
}

impl ServiceAccountKey {
    /// Generates a new key pair.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self> {
        PrivateKey::generate(algorithm).map(|key| Self { key })
    }

    /// Wraps an existing key.
    #[must_use]
    pub fn from_key(key: PrivateKey) -> Self {
        Self { key }
    }

    /// The private key.
    #[must_use]
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// `sa.key`: the private key as PKCS#8 PEM.
    #[must_use]
    pub fn private_key_pem(&self) -> SecretString {
        self.key.to_pem()
    }

    /// `sa.pub`: the public key as `PUBLIC KEY` PEM.
    #[must_use]
    pub fn public_key_pem(&self) -> String {
        self.key.public_key_pem()
    }
}

/// One file of the kubeadm PKI directory, for example for a cloud-init `write_files` entry.
/// `Debug` never shows the contents of private keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PkiFile {
    /// Absolute path (under `/etc/kubernetes/pki`).
    pub path: String,
    /// File contents (PEM). Private keys are redacted in `Debug`.
    pub content: SecretValue,
    /// Octal permissions as CAPI's kubeadm bootstrap provider writes them: `0640` for
    /// certificates and public keys, `0600` for private keys.
    pub permissions: &'static str,
}

/// Where kubeadm looks for its PKI.
pub const KUBEADM_PKI_DIR: &str = "/etc/kubernetes/pki";

/// Inputs for the apiserver serving certificate's SANs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiServerSans {
    /// The control-plane node's name.
    pub node_name: String,
    /// The address the apiserver advertises.
    pub advertise_address: IpAddr,
    /// Service CIDR (`networking.serviceSubnet`); its first address is the `kubernetes`
    /// Service IP. For dual-stack (`a,b`) the first CIDR is used, as kubeadm does.
    pub service_cidr: String,
    /// Cluster DNS domain (default `cluster.local`).
    pub dns_domain: String,
    /// Further SANs (`apiServer.certSANs`, the control-plane endpoint host); IPs become IP SANs.
    pub extra_sans: Vec<String>,
}

impl ApiServerSans {
    /// SANs for a node with the default service CIDR and DNS domain.
    #[must_use]
    pub fn new(node_name: impl Into<String>, advertise_address: IpAddr) -> Self {
        Self {
            node_name: node_name.into(),
            advertise_address,
            service_cidr: DEFAULT_SERVICE_CIDR.to_owned(),
            dns_domain: DEFAULT_DNS_DOMAIN.to_owned(),
            extra_sans: Vec::new(),
        }
    }

    /// Sets the service CIDR.
    #[must_use]
    pub fn with_service_cidr(mut self, cidr: impl Into<String>) -> Self {
        self.service_cidr = cidr.into();
        self
    }

    /// Sets the DNS domain.
    #[must_use]
    pub fn with_dns_domain(mut self, domain: impl Into<String>) -> Self {
        self.dns_domain = domain.into();
        self
    }

    /// Adds an extra SAN (DNS name or IP address).
    #[must_use]
    pub fn with_extra_san(mut self, san: impl Into<String>) -> Self {
        self.extra_sans.push(san.into());
        self
    }
}

/// The cluster-wide PKI kubeadm expects in `/etc/kubernetes/pki` before `kubeadm init`, and
/// that CAPI stores as the `<cluster>-ca`, `-etcd`, `-proxy` and `-sa` Secrets.
#[derive(Debug)]
#[non_exhaustive]
pub struct ClusterPki {
    /// Cluster CA (`ca.crt`/`ca.key`, CN `kubernetes`).
    pub ca: CertificateAuthority,
    /// etcd CA (`etcd/ca.crt`, CN `etcd-ca`).
    pub etcd_ca: CertificateAuthority,
    /// Front-proxy CA (`front-proxy-ca.crt`, CN `front-proxy-ca`).
    pub front_proxy_ca: CertificateAuthority,
    /// Service-account key pair (`sa.key`/`sa.pub`).
    pub service_account: ServiceAccountKey,
    /// Validity of leaves issued through this value.
    pub leaf_validity: Duration,
    /// Key algorithm of leaves issued through this value.
    pub leaf_key_algorithm: KeyAlgorithm,
}

impl ClusterPki {
    /// Generates the three CAs and the service-account key pair.
    /// Serial numbers come from `rng`; keys from ring's system RNG.
    pub fn generate<R: RngCore + ?Sized>(
        options: &ClusterPkiOptions,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Self> {
        let ca_options = |cn: &str| {
            CaOptions::new(cn)
                .with_validity(options.ca_validity)
                .with_key_algorithm(options.key_algorithm)
        };
        Ok(Self {
            ca: CertificateAuthority::generate(&ca_options(CLUSTER_CA_CN), now, rng)?,
            etcd_ca: CertificateAuthority::generate(&ca_options(ETCD_CA_CN), now, rng)?,
            front_proxy_ca: CertificateAuthority::generate(
                &ca_options(FRONT_PROXY_CA_CN),
                now,
                rng,
            )?,
            service_account: ServiceAccountKey::generate(options.key_algorithm)?,
            leaf_validity: options.leaf_validity,
            leaf_key_algorithm: options.key_algorithm,
        })
    }

    /// Assembles a PKI from existing parts (leaf settings default).
    #[must_use]
    pub fn from_parts(
        ca: CertificateAuthority,
        etcd_ca: CertificateAuthority,
        front_proxy_ca: CertificateAuthority,
        service_account: ServiceAccountKey,
    ) -> Self {
        Self {
            ca,
            etcd_ca,
            front_proxy_ca,
            service_account,
            leaf_validity: DEFAULT_LEAF_VALIDITY,
            leaf_key_algorithm: KeyAlgorithm::default(),
        }
    }

    fn leaf(&self, spec: LeafSpec) -> LeafSpec {
        spec.with_validity(self.leaf_validity)
            .with_key_algorithm(self.leaf_key_algorithm)
    }

    /// `apiserver.crt`: CN `kube-apiserver`, `serverAuth`, SANs node name, `kubernetes`,
    /// `kubernetes.default`, `kubernetes.default.svc`, `kubernetes.default.svc.<domain>`,
    /// the first service IP, the advertise address and the extra SANs. Signed by the cluster CA.
    pub fn apiserver<R: RngCore + ?Sized>(
        &self,
        sans: &ApiServerSans,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<IssuedCertificate> {
        let service_ip = first_service_ip(&sans.service_cidr)?;
        let mut spec = LeafSpec::server("kube-apiserver")
            .with_dns_name(sans.node_name.as_str())
            .with_dns_name("kubernetes")
            .with_dns_name("kubernetes.default")
            .with_dns_name("kubernetes.default.svc")
            .with_dns_name(format!("kubernetes.default.svc.{}", sans.dns_domain))
            .with_ip_address(service_ip)
            .with_ip_address(sans.advertise_address);
        for san in &sans.extra_sans {
            spec = spec.with_san(san);
        }
        self.ca.issue(&self.leaf(spec), now, rng)
    }

    /// `apiserver-kubelet-client.crt`: CN `kube-apiserver-kubelet-client`, `clientAuth`,
    /// O `kubeadm:cluster-admins` from Kubernetes 1.29 on, `system:masters` before.
    pub fn apiserver_kubelet_client<R: RngCore + ?Sized>(
        &self,
        kubernetes_version: &str,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<IssuedCertificate> {
        let (major, minor) = parse_version(kubernetes_version)?;
        let group = if (major, minor) >= (1, 29) {
            KUBEADM_CLUSTER_ADMINS
        } else {
            SYSTEM_MASTERS
        };
        let spec = LeafSpec::client("kube-apiserver-kubelet-client").with_organization(group);
        self.ca.issue(&self.leaf(spec), now, rng)
    }

    /// `front-proxy-client.crt`: CN `front-proxy-client`, `clientAuth`, signed by the
    /// front-proxy CA.
    pub fn front_proxy_client<R: RngCore + ?Sized>(
        &self,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<IssuedCertificate> {
        let spec = LeafSpec::client("front-proxy-client");
        self.front_proxy_ca.issue(&self.leaf(spec), now, rng)
    }

    /// `etcd/server.crt`: CN node name, `serverAuth` + `clientAuth`, SANs node name,
    /// `localhost`, the advertise address, `127.0.0.1`, `::1`. Signed by the etcd CA.
    pub fn etcd_server<R: RngCore + ?Sized>(
        &self,
        node_name: &str,
        advertise_address: IpAddr,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<IssuedCertificate> {
        let spec = etcd_serving(node_name, advertise_address);
        self.etcd_ca.issue(&self.leaf(spec), now, rng)
    }

    /// `etcd/peer.crt`: same subject, usages and SANs as the etcd server certificate.
    pub fn etcd_peer<R: RngCore + ?Sized>(
        &self,
        node_name: &str,
        advertise_address: IpAddr,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<IssuedCertificate> {
        let spec = etcd_serving(node_name, advertise_address);
        self.etcd_ca.issue(&self.leaf(spec), now, rng)
    }

    /// `etcd/healthcheck-client.crt`: CN `kube-etcd-healthcheck-client`, `clientAuth`.
    pub fn etcd_healthcheck_client<R: RngCore + ?Sized>(
        &self,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<IssuedCertificate> {
        let spec = LeafSpec::client("kube-etcd-healthcheck-client");
        self.etcd_ca.issue(&self.leaf(spec), now, rng)
    }

    /// `apiserver-etcd-client.crt`: CN `kube-apiserver-etcd-client`, `clientAuth`, signed by
    /// the etcd CA.
    pub fn apiserver_etcd_client<R: RngCore + ?Sized>(
        &self,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<IssuedCertificate> {
        let spec = LeafSpec::client("kube-apiserver-etcd-client");
        self.etcd_ca.issue(&self.leaf(spec), now, rng)
    }

    /// The admin client certificate of CAPI's kubeconfig: CN `kubernetes-admin`,
    /// O `system:masters`, `clientAuth`, signed by the cluster CA.
    pub fn admin_client<R: RngCore + ?Sized>(
        &self,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<IssuedCertificate> {
        let spec = LeafSpec::client(ADMIN_CN).with_organization(SYSTEM_MASTERS);
        self.ca.issue(&self.leaf(spec), now, rng)
    }

    /// The admin kubeconfig as CAPI writes it to `<cluster>-kubeconfig`: a fresh admin client
    /// certificate, cluster `<cluster>` at `server` (`https://host:port`), user
    /// `<cluster>-admin`, context `<cluster>-admin@<cluster>`.
    pub fn admin_kubeconfig<R: RngCore + ?Sized>(
        &self,
        cluster_name: &str,
        server: &str,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Kubeconfig> {
        let client = self.admin_client(now, rng)?;
        Ok(Kubeconfig::admin(
            cluster_name,
            server,
            self.ca.certificate(),
            &client,
        ))
    }

    /// The files kubeadm expects before `kubeadm init` or a control-plane `kubeadm join`
    /// (`ca.crt`/`ca.key`, `etcd/ca.crt`/`etcd/ca.key`, `front-proxy-ca.crt`/`.key`,
    /// `sa.pub`/`sa.key` under `/etc/kubernetes/pki`), in that order. kubeadm creates every
    /// leaf from these. Worker nodes need none of them (they discover the CA by hash).
    #[must_use]
    pub fn control_plane_files(&self) -> Vec<PkiFile> {
        let file = |name: &str, content: SecretValue, permissions| PkiFile {
            path: format!("{KUBEADM_PKI_DIR}/{name}"),
            content,
            permissions,
        };
        let public = |text: &str| SecretValue::new(text);
        let mut files = Vec::with_capacity(8);
        for (base, ca) in [
            ("ca", &self.ca),
            ("etcd/ca", &self.etcd_ca),
            ("front-proxy-ca", &self.front_proxy_ca),
        ] {
            files.push(file(&format!("{base}.crt"), public(ca.cert_pem()), "0640"));
            files.push(file(&format!("{base}.key"), ca.key_pem().into(), "0600"));
        }
        files.push(file(
            "sa.pub",
            public(&self.service_account.public_key_pem()),
            "0640",
        ));
        files.push(file(
            "sa.key",
            self.service_account.private_key_pem().into(),
            "0600",
        ));
        files
    }

    /// The kubeadm discovery hash (`sha256:<hex>`) of the cluster CA.
    #[must_use]
    pub fn ca_cert_hash(&self) -> String {
        self.ca.public_key_hash()
    }

    /// The CA certificates (named `ca`, `etcd-ca`, `front-proxy-ca`).
    #[must_use]
    pub fn ca_certificates(&self) -> [(&'static str, &Certificate); 3] {
        [
            ("ca", self.ca.certificate()),
            ("etcd-ca", self.etcd_ca.certificate()),
            ("front-proxy-ca", self.front_proxy_ca.certificate()),
        ]
    }

    /// Which of the three CA certificates expire within `days` of `now`.
    #[must_use]
    pub fn expiring_within(&self, now: Timestamp, days: u32) -> Vec<Expiring> {
        expiring_within(self.ca_certificates(), now, days)
    }
}

fn etcd_serving(node_name: &str, advertise_address: IpAddr) -> LeafSpec {
    LeafSpec::with_usages(
        node_name,
        vec![ExtendedUsage::ServerAuth, ExtendedUsage::ClientAuth],
    )
    .with_dns_name(node_name)
    .with_dns_name("localhost")
    .with_ip_address(advertise_address)
    .with_ip_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
    .with_ip_address(IpAddr::V6(Ipv6Addr::LOCALHOST))
}

/// The first usable address of a service CIDR (network address + 1), as kubeadm's
/// `GetAPIServerVirtualIP`. For a comma-separated dual-stack list the first CIDR counts.
pub fn first_service_ip(service_cidr: &str) -> Result<IpAddr> {
    let invalid = || Error::InvalidServiceCidr {
        value: service_cidr.to_owned(),
    };
    let first = service_cidr.split(',').next().unwrap_or_default().trim();
    let (addr, prefix) = first.split_once('/').ok_or_else(invalid)?;
    let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
    let prefix: u32 = prefix.parse().map_err(|_| invalid())?;
    match addr {
        IpAddr::V4(v4) => {
            if prefix > 30 {
                return Err(invalid());
            }
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            let network = u32::from(v4) & mask;
            Ok(IpAddr::V4(Ipv4Addr::from(network + 1)))
        }
        IpAddr::V6(v6) => {
            if prefix > 126 {
                return Err(invalid());
            }
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            let network = u128::from(v6) & mask;
            Ok(IpAddr::V6(Ipv6Addr::from(network + 1)))
        }
    }
}

/// Parses `v1.31.2`, `1.31` or `v1.31.0-rc.1` into (major, minor).
fn parse_version(version: &str) -> Result<(u32, u32)> {
    let invalid = || Error::InvalidKubernetesVersion {
        value: version.to_owned(),
    };
    let trimmed = version.trim().trim_start_matches('v');
    let mut parts = trimmed.split(['.', '-', '+']);
    let major = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(invalid)?;
    let minor = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(invalid)?;
    Ok((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_plane_files_are_kubeadms_pki_layout_with_private_keys_0600() {
        use rand::SeedableRng;
        let now: Timestamp = "2026-11-21T08:00:00Z".parse().unwrap();
        let pki = ClusterPki::generate(
            &ClusterPkiOptions::default(),
            now,
            &mut rand::rngs::StdRng::seed_from_u64(1),
        )
        .unwrap();
        let files = pki.control_plane_files();
        let layout: Vec<(&str, &str)> = files
            .iter()
            .map(|f| (f.path.as_str(), f.permissions))
            .collect();
        assert_eq!(
            layout,
            [
                ("/etc/kubernetes/pki/ca.crt", "0640"),
                ("/etc/kubernetes/pki/ca.key", "0600"),
                ("/etc/kubernetes/pki/etcd/ca.crt", "0640"),
                ("/etc/kubernetes/pki/etcd/ca.key", "0600"),
                ("/etc/kubernetes/pki/front-proxy-ca.crt", "0640"),
                ("/etc/kubernetes/pki/front-proxy-ca.key", "0600"),
                ("/etc/kubernetes/pki/sa.pub", "0640"),
                ("/etc/kubernetes/pki/sa.key", "0600"),
            ]
        );
        assert_eq!(files[2].content.expose(), pki.etcd_ca.cert_pem());
        let key = PrivateKey::from_pem(files[5].content.expose(), "front-proxy-ca.key").unwrap();
        assert_eq!(
            key.public_key_der(),
            pki.front_proxy_ca.key().public_key_der()
        );
        assert!(
            files[7]
                .content
                .expose()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        assert!(!format!("{files:?}").contains("BEGIN PRIVATE KEY"));
    }

    #[test]
    fn the_service_ip_is_the_first_address_of_the_service_cidr() {
        assert_eq!(
            first_service_ip("10.96.0.0/12").unwrap(),
            "10.96.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            first_service_ip("10.100.5.7/16").unwrap(),
            "10.100.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            first_service_ip("fd00:10:96::/108,10.96.0.0/12").unwrap(),
            "fd00:10:96::1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn malformed_service_cidrs_are_rejected_with_the_value_named() {
        for bad in ["", "10.96.0.0", "10.96.0.0/33", "banana/12", "10.96.0.0/x"] {
            let err = first_service_ip(bad).unwrap_err();
            assert!(err.to_string().contains("service CIDR"), "{err}");
        }
    }

    #[test]
    fn kubernetes_versions_parse_with_or_without_v_and_patch() {
        assert_eq!(parse_version("v1.31.2").unwrap(), (1, 31));
        assert_eq!(parse_version("1.28").unwrap(), (1, 28));
        assert_eq!(parse_version("v1.34.0-rc.1").unwrap(), (1, 34));
        assert!(parse_version("latest").is_err());
    }
}
