//! Every key path of the generated kubeadm configuration exists, with the right shape, in the
//! upstream kubeadm API types, for `v1beta3` and `v1beta4`, every role and both identities.
//!
//! The upstream types and the checker are `capp_bootstrap::kubeadm::upstream` (encoded by hand
//! from `kubernetes/kubernetes`; see its documentation), so that capp-reconcile's tests run the
//! same check on the userdata its bootstrap controller renders.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed unwrap is a failed test"
)]

use std::net::IpAddr;

use capp_bootstrap::kubeadm::kubeadm_config;
use capp_bootstrap::kubeadm::upstream::check_config;
use capp_bootstrap::{
    ApiEndpoint, CertificateAuthority, ClusterSpec, InitMaterial, JoinDiscovery, KubeadmInput,
    NodeIdentity, NodeRole, ServiceAccountKeys,
};
use serde_json::Value;

fn fake_pem(label: &str) -> String {
    format!("-----BEGIN {label}-----\nZmFrZQ==\n-----END {label}-----\n")
}

fn fake_ca() -> CertificateAuthority {
    CertificateAuthority {
        cert_pem: fake_pem("CERTIFICATE"),
        key_pem: fake_pem("EC PRIVATE KEY").into(),
    }
}

fn roles() -> Vec<NodeRole> {
    vec![
        NodeRole::ControlPlaneInit(Box::new(InitMaterial {
            certificate_key: "c".repeat(64).into(),
            ca: fake_ca(),
            etcd_ca: fake_ca(),
            front_proxy_ca: fake_ca(),
            service_account: ServiceAccountKeys {
                public_pem: fake_pem("PUBLIC KEY"),
                private_pem: fake_pem("PRIVATE KEY").into(),
            },
        })),
        NodeRole::ControlPlaneJoin {
            certificate_key: "d".repeat(64).into(),
        },
        NodeRole::Worker,
    ]
}

fn identities() -> [NodeIdentity; 2] {
    [
        NodeIdentity::FromMetadata,
        NodeIdentity::Static {
            device_id: "6f0c2b4e-1111-4222-8333-944455556666".to_owned(),
            node_ip: "10.70.1.5".parse::<IpAddr>().unwrap(),
        },
    ]
}

/// Every configuration this crate generates, as (label, YAML, parsed documents).
fn generated() -> Vec<(String, String, Vec<Value>)> {
    let cluster = ClusterSpec::new(
        "demo",
        ApiEndpoint {
            host: "api.demo.example.com".to_owned(),
            port: 6443,
        },
    );
    let discovery = JoinDiscovery {
        token: "abcdef.0123456789abcdef".to_owned().into(),
        ca_cert_hashes: vec![format!("sha256:{}", "ab".repeat(32))],
    };
    let mut out = Vec::new();
    for version in ["1.29.7", "1.30.4", "1.31.4", "1.32.4", "1.33.4", "1.34.1"] {
        for role in roles() {
            for identity in identities() {
                let yaml = kubeadm_config(&KubeadmInput {
                    kubernetes_version: version.parse().unwrap(),
                    cluster: &cluster,
                    role: &role,
                    discovery: &discovery,
                    identity: &identity,
                })
                .unwrap();
                let docs: Vec<Value> = serde_saphyr::from_multiple(&yaml).unwrap();
                let label = format!("{version} {} {identity:?}", role.name());
                out.push((label, yaml, docs));
            }
        }
    }
    out
}

#[test]
fn every_emitted_key_path_exists_with_the_same_shape_in_the_upstream_kubeadm_types() {
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (label, yaml, _) in generated() {
        match check_config(&yaml) {
            Ok(paths) => seen.extend(paths),
            Err(doc_errors) => {
                errors.extend(doc_errors.into_iter().map(|e| format!("{label}: {e}")));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // The check above walked these paths; make sure the ones the issue names were among them
    // (so the test cannot pass by generating nothing).
    for expected in [
        "kubeadm.k8s.io/v1beta4 InitConfiguration .bootstrapTokens",
        "kubeadm.k8s.io/v1beta4 InitConfiguration .localAPIEndpoint.advertiseAddress",
        "kubeadm.k8s.io/v1beta4 InitConfiguration .certificateKey",
        "kubeadm.k8s.io/v1beta4 InitConfiguration .nodeRegistration.criSocket",
        "kubeadm.k8s.io/v1beta4 InitConfiguration .nodeRegistration.kubeletExtraArgs",
        "kubeadm.k8s.io/v1beta4 ClusterConfiguration .apiServer.certSANs",
        "kubeadm.k8s.io/v1beta4 ClusterConfiguration .controlPlaneEndpoint",
        "kubeadm.k8s.io/v1beta4 ClusterConfiguration .networking.podSubnet",
        "kubeadm.k8s.io/v1beta4 ClusterConfiguration .networking.serviceSubnet",
        "kubeadm.k8s.io/v1beta4 ClusterConfiguration .networking.dnsDomain",
        "kubeadm.k8s.io/v1beta4 ClusterConfiguration .clusterName",
        "kubeadm.k8s.io/v1beta4 ClusterConfiguration .kubernetesVersion",
        "kubeadm.k8s.io/v1beta4 JoinConfiguration .discovery.bootstrapToken.caCertHashes",
        "kubeadm.k8s.io/v1beta4 JoinConfiguration .discovery.bootstrapToken.apiServerEndpoint",
        "kubeadm.k8s.io/v1beta4 JoinConfiguration .controlPlane.localAPIEndpoint.bindPort",
        "kubeadm.k8s.io/v1beta4 JoinConfiguration .controlPlane.certificateKey",
        "kubeadm.k8s.io/v1beta3 InitConfiguration .nodeRegistration.kubeletExtraArgs",
        "kubeadm.k8s.io/v1beta3 ClusterConfiguration .apiServer.certSANs",
        "kubeadm.k8s.io/v1beta3 JoinConfiguration .discovery.bootstrapToken.caCertHashes",
        "kubeadm.k8s.io/v1beta3 JoinConfiguration .controlPlane.certificateKey",
    ] {
        assert!(seen.contains(expected), "{expected} was never generated");
    }
}

#[test]
fn the_schema_check_rejects_a_wrongly_cased_or_wrongly_shaped_field() {
    // Guard against a check that accepts everything.
    let bad = "apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
nodeRegistration:
  kubeletExtraArgs:
    node-ip: 10.0.0.1
discovery:
  bootstrapToken:
    caCertHashs: []
controlPlane:
  localApiEndpoint: {}
";
    let text = check_config(bad).unwrap_err().join("\n");
    assert!(
        text.contains(".nodeRegistration.kubeletExtraArgs: upstream type"),
        "{text}"
    );
    assert!(
        text.contains(".discovery.bootstrapToken.caCertHashs: no such field"),
        "{text}"
    );
    assert!(
        text.contains(".controlPlane.localApiEndpoint: no such field"),
        "{text}"
    );
}

#[test]
fn required_fields_are_set_and_joins_never_skip_ca_verification() {
    for (label, _, docs) in generated() {
        for doc in &docs {
            match doc["kind"].as_str().unwrap() {
                "InitConfiguration" => {
                    // `BootstrapToken.token` has no omitempty: kubeadm requires it.
                    assert!(doc["bootstrapTokens"][0]["token"].is_string(), "{label}");
                    assert!(doc["certificateKey"].is_string(), "{label}");
                }
                "JoinConfiguration" => {
                    // `Discovery` and `BootstrapTokenDiscovery.token` are required.
                    let bt = &doc["discovery"]["bootstrapToken"];
                    assert!(bt["token"].is_string(), "{label}");
                    assert!(
                        !bt["caCertHashes"].as_array().unwrap().is_empty(),
                        "{label}"
                    );
                    assert!(bt.get("unsafeSkipCAVerification").is_none(), "{label}");
                }
                "ClusterConfiguration" => {
                    assert_eq!(doc["controlPlaneEndpoint"], "api.demo.example.com:6443");
                }
                other => panic!("{label}: unexpected kind {other}"),
            }
            // Taints are left unset (nil): kubeadm then applies its default control-plane
            // taint, and workers get none; `taints: []` would remove the control-plane taint.
            assert!(
                doc.get("nodeRegistration")
                    .is_none_or(|n| n.get("taints").is_none())
            );
        }
    }
}
