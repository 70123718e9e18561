//! kubeadm configuration generation: `InitConfiguration`, `ClusterConfiguration` and
//! `JoinConfiguration` as typed structs serialised with serde-saphyr (never string templates).
//!
//! # API version
//! kubeadm's `v1beta4` configuration API appeared in kubeadm 1.31; `v1beta3` is still read by
//! 1.31 – 1.34 but deprecated. [`KubeadmApiVersion::for_kubernetes`] picks `v1beta4` for
//! Kubernetes 1.31 and newer and `v1beta3` below. The differences that matter here:
//!
//! | | `v1beta3` | `v1beta4` |
//! |---|---|---|
//! | `nodeRegistration.kubeletExtraArgs`, `apiServer.extraArgs` | map `name: value` | list of `{name, value}` |
//!
//! Everything else this crate writes has the same shape in both.
//!
//! # What is generated
//! - control-plane init: `InitConfiguration` (bootstrap token, node registration,
//!   `localAPIEndpoint`, `certificateKey`) and `ClusterConfiguration` (name, version,
//!   `controlPlaneEndpoint`, networking, API server SAN for the endpoint host);
//! - control-plane join: `JoinConfiguration` with `controlPlane.localAPIEndpoint` and
//!   `controlPlane.certificateKey`;
//! - worker join: `JoinConfiguration`.
//!
//! Joins always discover the cluster with `bootstrapToken.caCertHashes`; the
//! `unsafeSkipCAVerification` field does not exist in these structs. The kubelet always gets
//! `cloud-provider: external` (the Equinix Metal cloud provider initialises nodes),
//! `provider-id: equinixmetal://<device>` and `node-ip`.
//!
//! [`upstream`] checks any kubeadm configuration (ours or an operator's) against the upstream
//! `v1beta3` / `v1beta4` types: every key path must exist there with the same shape.

pub mod upstream;

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use serde::Serialize;

use crate::error::Result;
use crate::inputs::{ClusterSpec, JoinDiscovery, NodeIdentity, NodeRole};
use crate::version::KubernetesVersion;

/// Port the local API server binds to on control-plane nodes.
pub const API_SERVER_BIND_PORT: u16 = 6443;
/// CRI socket of containerd, set explicitly instead of relying on kubeadm's detection.
pub const CONTAINERD_SOCKET: &str = "unix:///var/run/containerd/containerd.sock";
/// Lifetime of the bootstrap token created by `kubeadm init` (kubeadm's own default).
pub const BOOTSTRAP_TOKEN_TTL: &str = "24h0m0s";

/// The kubeadm configuration API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KubeadmApiVersion {
    /// `kubeadm.k8s.io/v1beta3` (kubeadm 1.22 – 1.30 default; extra args are maps).
    V1Beta3,
    /// `kubeadm.k8s.io/v1beta4` (kubeadm 1.31 and newer; extra args are `{name, value}` lists).
    V1Beta4,
}

impl KubeadmApiVersion {
    /// `v1beta4` for Kubernetes 1.31 and newer, `v1beta3` below.
    #[must_use]
    pub fn for_kubernetes(version: &KubernetesVersion) -> Self {
        if (version.major, version.minor) >= (1, 31) {
            Self::V1Beta4
        } else {
            Self::V1Beta3
        }
    }

    /// The `apiVersion` string.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::V1Beta3 => "kubeadm.k8s.io/v1beta3",
            Self::V1Beta4 => "kubeadm.k8s.io/v1beta4",
        }
    }

    fn extra_args(self, args: BTreeMap<&'static str, String>) -> ExtraArgs {
        match self {
            Self::V1Beta3 => ExtraArgs::Map(args),
            Self::V1Beta4 => ExtraArgs::List(
                args.into_iter()
                    .map(|(name, value)| Arg { name, value })
                    .collect(),
            ),
        }
    }
}

// The wire structs below hold secrets (token, certificate key) and therefore derive no Debug.

#[derive(Serialize)]
#[serde(untagged)]
enum ExtraArgs {
    Map(BTreeMap<&'static str, String>),
    List(Vec<Arg>),
}

#[derive(Serialize)]
struct Arg {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeRegistration {
    cri_socket: &'static str,
    kubelet_extra_args: ExtraArgs,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocalApiEndpoint {
    advertise_address: String,
    bind_port: u16,
}

#[derive(Serialize)]
struct BootstrapToken {
    token: String,
    ttl: &'static str,
    usages: [&'static str; 2],
    groups: [&'static str; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitConfiguration {
    api_version: &'static str,
    kind: &'static str,
    bootstrap_tokens: Vec<BootstrapToken>,
    node_registration: NodeRegistration,
    #[serde(rename = "localAPIEndpoint")]
    local_api_endpoint: LocalApiEndpoint,
    certificate_key: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Networking {
    pod_subnet: String,
    service_subnet: String,
    dns_domain: String,
}

#[derive(Serialize)]
struct ApiServer {
    #[serde(rename = "certSANs")]
    cert_sans: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterConfiguration {
    api_version: &'static str,
    kind: &'static str,
    cluster_name: String,
    kubernetes_version: String,
    control_plane_endpoint: String,
    networking: Networking,
    api_server: ApiServer,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BootstrapTokenDiscovery {
    api_server_endpoint: String,
    token: String,
    ca_cert_hashes: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Discovery {
    bootstrap_token: BootstrapTokenDiscovery,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JoinControlPlane {
    #[serde(rename = "localAPIEndpoint")]
    local_api_endpoint: LocalApiEndpoint,
    certificate_key: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JoinConfiguration {
    api_version: &'static str,
    kind: &'static str,
    node_registration: NodeRegistration,
    discovery: Discovery,
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane: Option<JoinControlPlane>,
}

/// Everything needed to generate the kubeadm configuration of one node.
#[derive(Debug, Clone, Copy)]
pub struct KubeadmInput<'a> {
    /// Kubernetes version (decides the API version, and `kubernetesVersion` on init).
    pub kubernetes_version: KubernetesVersion,
    /// Cluster settings.
    pub cluster: &'a ClusterSpec,
    /// The node's role.
    pub role: &'a NodeRole,
    /// Token and CA hashes.
    pub discovery: &'a JoinDiscovery,
    /// Provider ID and node IP source.
    pub identity: &'a NodeIdentity,
}

/// Generates the kubeadm configuration file for one node, as YAML (several documents separated
/// by `---` for control-plane init). The inputs are validated first.
///
/// ```
/// use capp_bootstrap::{ApiEndpoint, ClusterSpec, JoinDiscovery, KubeadmInput, NodeIdentity, NodeRole};
/// use capp_bootstrap::kubeadm::kubeadm_config;
/// let cluster = ClusterSpec::new("demo", ApiEndpoint { host: "203.0.113.10".into(), port: 6443 });
/// let discovery = JoinDiscovery {
///     token: "abcdef.0123456789abcdef".to_owned().into(),
///     ca_cert_hashes: vec![format!("sha256:{}", "ab".repeat(32))],
/// };
/// let yaml = kubeadm_config(&KubeadmInput {
///     kubernetes_version: "1.33.2".parse()?,
///     cluster: &cluster,
///     role: &NodeRole::Worker,
///     discovery: &discovery,
///     identity: &NodeIdentity::FromMetadata,
/// })?;
/// assert!(yaml.starts_with("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n"));
/// assert!(yaml.contains("caCertHashes:"));
/// assert!(!yaml.contains("unsafeSkipCAVerification"));
/// # Ok::<(), capp_bootstrap::Error>(())
/// ```
pub fn kubeadm_config(input: &KubeadmInput<'_>) -> Result<String> {
    input.cluster.validate()?;
    input.discovery.validate()?;
    input.role.validate()?;
    input.identity.validate()?;
    let api = KubeadmApiVersion::for_kubernetes(&input.kubernetes_version);
    let node_ip = input.identity.node_ip();
    let node_registration = NodeRegistration {
        cri_socket: CONTAINERD_SOCKET,
        kubelet_extra_args: api.extra_args(BTreeMap::from([
            ("cloud-provider", "external".to_owned()),
            ("node-ip", node_ip.clone()),
            ("provider-id", input.identity.provider_id()),
        ])),
    };
    let local_api_endpoint = LocalApiEndpoint {
        advertise_address: node_ip,
        bind_port: API_SERVER_BIND_PORT,
    };
    let token = input.discovery.token.expose_secret().to_owned();
    match input.role {
        NodeRole::ControlPlaneInit(init) => {
            let init_doc = InitConfiguration {
                api_version: api.as_str(),
                kind: "InitConfiguration",
                bootstrap_tokens: vec![BootstrapToken {
                    token,
                    ttl: BOOTSTRAP_TOKEN_TTL,
                    usages: ["signing", "authentication"],
                    groups: ["system:bootstrappers:kubeadm:default-node-token"],
                }],
                node_registration,
                local_api_endpoint,
                certificate_key: init.certificate_key.expose_secret().to_owned(),
            };
            let cluster = input.cluster;
            let cluster_doc = ClusterConfiguration {
                api_version: api.as_str(),
                kind: "ClusterConfiguration",
                cluster_name: cluster.name.clone(),
                kubernetes_version: input.kubernetes_version.tag(),
                control_plane_endpoint: cluster.control_plane_endpoint.to_string(),
                networking: Networking {
                    pod_subnet: cluster.pod_subnet.clone(),
                    service_subnet: cluster.service_subnet.clone(),
                    dns_domain: cluster.dns_domain.clone(),
                },
                api_server: ApiServer {
                    cert_sans: vec![cluster.control_plane_endpoint.host.clone()],
                },
            };
            Ok(format!(
                "{}---\n{}",
                to_yaml(&init_doc)?,
                to_yaml(&cluster_doc)?
            ))
        }
        NodeRole::ControlPlaneJoin { .. } | NodeRole::Worker => {
            let control_plane = input.role.certificate_key().map(|key| JoinControlPlane {
                local_api_endpoint,
                certificate_key: key.expose_secret().to_owned(),
            });
            to_yaml(&JoinConfiguration {
                api_version: api.as_str(),
                kind: "JoinConfiguration",
                node_registration,
                discovery: Discovery {
                    bootstrap_token: BootstrapTokenDiscovery {
                        api_server_endpoint: input.cluster.control_plane_endpoint.to_string(),
                        token,
                        ca_cert_hashes: input.discovery.ca_cert_hashes.clone(),
                    },
                },
                control_plane,
            })
        }
    }
}

fn to_yaml<T: Serialize>(value: &T) -> Result<String> {
    crate::yaml::to_string(value, "kubeadm configuration")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{ApiEndpoint, CertificateAuthority, InitMaterial, ServiceAccountKeys};
    use secrecy::SecretString;

    fn cluster() -> ClusterSpec {
        ClusterSpec::new(
            "demo",
            ApiEndpoint {
                host: "203.0.113.10".to_owned(),
                port: 6443,
            },
        )
    }

    fn discovery() -> JoinDiscovery {
        JoinDiscovery {
            token: SecretString::from("abcdef.0123456789abcdef".to_owned()),
            ca_cert_hashes: vec![format!("sha256:{}", "0f".repeat(32))],
        }
    }

    fn ca() -> CertificateAuthority {
        CertificateAuthority {
            cert_pem: "-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n"
                .to_owned(),
            key_pem: SecretString::from(
                "-----BEGIN EC PRIVATE KEY-----\nZmFrZQ==\n-----END EC PRIVATE KEY-----\n"
                    .to_owned(),
            ),
        }
    }

    fn init() -> NodeRole {
        NodeRole::ControlPlaneInit(Box::new(InitMaterial {
            certificate_key: SecretString::from("c".repeat(64)),
            ca: ca(),
            etcd_ca: ca(),
            front_proxy_ca: ca(),
            service_account: ServiceAccountKeys {
                public_pem: "-----BEGIN PUBLIC KEY-----\nZmFrZQ==\n-----END PUBLIC KEY-----\n"
                    .to_owned(),
                private_pem: SecretString::from(
                    "-----BEGIN PRIVATE KEY-----\nZmFrZQ==\n-----END PRIVATE KEY-----\n".to_owned(),
                ),
            },
        }))
    }

    fn render(version: &str, role: &NodeRole, identity: &NodeIdentity) -> String {
        kubeadm_config(&KubeadmInput {
            kubernetes_version: version.parse().unwrap(),
            cluster: &cluster(),
            role,
            discovery: &discovery(),
            identity,
        })
        .unwrap()
    }

    fn static_identity() -> NodeIdentity {
        NodeIdentity::Static {
            device_id: "6f0c2b4e-1111-4222-8333-944455556666".to_owned(),
            node_ip: "10.70.1.5".parse().unwrap(),
        }
    }

    #[test]
    fn the_api_version_follows_the_kubernetes_version() {
        let v = |s: &str| KubeadmApiVersion::for_kubernetes(&s.parse().unwrap());
        assert_eq!(v("1.30.9"), KubeadmApiVersion::V1Beta3);
        assert_eq!(v("1.31.0"), KubeadmApiVersion::V1Beta4);
        assert_eq!(v("1.34.1"), KubeadmApiVersion::V1Beta4);
    }

    #[test]
    fn v1beta4_kubelet_args_are_a_name_value_list() {
        let yaml = render("1.31.4", &NodeRole::Worker, &static_identity());
        assert!(yaml.contains(
            "  kubeletExtraArgs:\n  - name: cloud-provider\n    value: external\n  - name: node-ip\n    value: \"10.70.1.5\"\n  - name: provider-id\n    value: equinixmetal://6f0c2b4e-1111-4222-8333-944455556666\n"
        ), "{yaml}");
    }

    #[test]
    fn v1beta3_kubelet_args_are_a_map() {
        let yaml = render("1.30.4", &NodeRole::Worker, &static_identity());
        assert!(
            yaml.starts_with("apiVersion: kubeadm.k8s.io/v1beta3\n"),
            "{yaml}"
        );
        assert!(yaml.contains(
            "  kubeletExtraArgs:\n    cloud-provider: external\n    node-ip: \"10.70.1.5\"\n    provider-id: equinixmetal://6f0c2b4e-1111-4222-8333-944455556666\n"
        ), "{yaml}");
    }

    #[test]
    fn worker_join_discovers_the_cluster_by_ca_hash_and_has_no_control_plane() {
        let yaml = render("1.33.0", &NodeRole::Worker, &NodeIdentity::FromMetadata);
        assert!(
            yaml.contains("    apiServerEndpoint: 203.0.113.10:6443\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("    token: abcdef.0123456789abcdef\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains(&format!(
                "    caCertHashes:\n    - sha256:{}\n",
                "0f".repeat(32)
            )),
            "{yaml}"
        );
        assert!(!yaml.contains("controlPlane"), "{yaml}");
        assert!(!yaml.contains("unsafe"), "{yaml}");
        assert!(
            yaml.contains("equinixmetal://__CAPP_METAL_DEVICE_ID__"),
            "{yaml}"
        );
    }

    #[test]
    fn control_plane_join_sets_the_local_endpoint_and_certificate_key() {
        let role = NodeRole::ControlPlaneJoin {
            certificate_key: SecretString::from("d".repeat(64)),
        };
        let yaml = render("1.32.1", &role, &static_identity());
        assert!(yaml.contains(&format!(
            "controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: \"10.70.1.5\"\n    bindPort: 6443\n  certificateKey: {}\n",
            "d".repeat(64)
        )), "{yaml}");
    }

    #[test]
    fn control_plane_init_has_init_and_cluster_documents() {
        let yaml = render("1.34.1", &init(), &static_identity());
        let (init_doc, cluster_doc) = yaml.split_once("---\n").unwrap();
        assert!(init_doc.contains("kind: InitConfiguration\n"));
        assert!(
            init_doc.contains("- token: abcdef.0123456789abcdef\n"),
            "{init_doc}"
        );
        assert!(
            init_doc.contains("- system:bootstrappers:kubeadm:default-node-token\n"),
            "{init_doc}"
        );
        assert!(
            init_doc.contains(&format!("certificateKey: {}\n", "c".repeat(64))),
            "{init_doc}"
        );
        assert!(cluster_doc.contains("kind: ClusterConfiguration\n"));
        assert!(cluster_doc.contains("clusterName: demo\n"));
        assert!(cluster_doc.contains("kubernetesVersion: v1.34.1\n"));
        assert!(cluster_doc.contains("controlPlaneEndpoint: 203.0.113.10:6443\n"));
        assert!(cluster_doc.contains("  podSubnet: 192.168.0.0/16\n"));
        assert!(cluster_doc.contains("  serviceSubnet: 172.26.0.0/16\n"));
    }

    #[test]
    fn invalid_inputs_are_reported_before_generation() {
        let mut d = discovery();
        d.ca_cert_hashes.clear();
        let err = kubeadm_config(&KubeadmInput {
            kubernetes_version: "1.31.1".parse().unwrap(),
            cluster: &cluster(),
            role: &NodeRole::Worker,
            discovery: &d,
            identity: &NodeIdentity::FromMetadata,
        })
        .unwrap_err();
        assert!(err.to_string().contains("ca_cert_hashes"));
    }
}
