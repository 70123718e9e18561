//! Every key path of the generated kubeadm configuration exists, with the right shape, in the
//! upstream kubeadm API types, for `v1beta3` and `v1beta4`, every role and both identities.
//!
//! There is no kubeadm binary here, so the upstream Go types are encoded by hand below from
//! `kubernetes/kubernetes`:
//! - `cmd/kubeadm/app/apis/kubeadm/v1beta3/types.go`,
//! - `cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go`,
//! - `cmd/kubeadm/app/apis/bootstraptoken/v1/types.go` (`BootstrapToken`),
//! - `k8s.io/api/core/v1` `Taint` (`key`, `value`, `effect`, `timeAdded`).
//!
//! Only the structs on the paths this crate can reach are encoded, with their JSON names as
//! written in the `json:"..."` tags. Fields of those structs that are left out (`patches`,
//! `etcd`, `dns`, `timeouts` ...) make the test stricter, not weaker: emitting any key that is
//! not listed here fails it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed unwrap is a failed test"
)]

use std::net::IpAddr;

use capp_bootstrap::kubeadm::kubeadm_config;
use capp_bootstrap::{
    ApiEndpoint, CertificateAuthority, ClusterSpec, InitMaterial, JoinDiscovery, KubeadmInput,
    NodeIdentity, NodeRole, ServiceAccountKeys,
};
use serde_json::Value;

/// The shape of a JSON field in a Go API type.
#[derive(Debug)]
enum Ty {
    /// `string` (also `metav1.Duration`, `metav1.Time` and `BootstrapTokenString`, which
    /// marshal as strings).
    Str,
    /// `int32`.
    Int,
    /// `bool`.
    Bool,
    /// A struct: its JSON field names and their shapes.
    Obj(&'static [(&'static str, Ty)]),
    /// A slice.
    List(&'static Ty),
    /// A `map[string]T`.
    Map(&'static Ty),
}

use Ty::{Bool, Int, List, Map, Obj, Str};

// --- shared by v1beta3 and v1beta4 ------------------------------------------------------

/// `APIEndpoint`.
const API_ENDPOINT: Ty = Obj(&[("advertiseAddress", Str), ("bindPort", Int)]);

/// `bootstraptokenv1.BootstrapToken`.
const BOOTSTRAP_TOKEN: Ty = Obj(&[
    ("token", Str),
    ("description", Str),
    ("ttl", Str),
    ("expires", Str),
    ("usages", List(&Str)),
    ("groups", List(&Str)),
]);

/// `corev1.Taint`.
const TAINT: Ty = Obj(&[
    ("key", Str),
    ("value", Str),
    ("effect", Str),
    ("timeAdded", Str),
]);

/// `Networking`.
const NETWORKING: Ty = Obj(&[
    ("serviceSubnet", Str),
    ("podSubnet", Str),
    ("dnsDomain", Str),
]);

/// `BootstrapTokenDiscovery`.
const BOOTSTRAP_TOKEN_DISCOVERY: Ty = Obj(&[
    ("token", Str),
    ("apiServerEndpoint", Str),
    ("caCertHashes", List(&Str)),
    ("unsafeSkipCAVerification", Bool),
]);

/// `FileDiscovery`.
const FILE_DISCOVERY: Ty = Obj(&[("kubeConfigPath", Str)]);

/// `Discovery` (the `timeout` field moved between versions and is not encoded).
const DISCOVERY: Ty = Obj(&[
    ("bootstrapToken", BOOTSTRAP_TOKEN_DISCOVERY),
    ("file", FILE_DISCOVERY),
    ("tlsBootstrapToken", Str),
]);

/// `JoinControlPlane`.
const JOIN_CONTROL_PLANE: Ty = Obj(&[("localAPIEndpoint", API_ENDPOINT), ("certificateKey", Str)]);

// --- v1beta3: extra arguments are `map[string]string` -----------------------------------

const V1BETA3_NODE_REGISTRATION: Ty = Obj(&[
    ("name", Str),
    ("criSocket", Str),
    ("taints", List(&TAINT)),
    ("kubeletExtraArgs", Map(&Str)),
    ("ignorePreflightErrors", List(&Str)),
    ("imagePullPolicy", Str),
]);

const V1BETA3_API_SERVER: Ty = Obj(&[
    ("extraArgs", Map(&Str)),
    ("certSANs", List(&Str)),
    ("timeoutForControlPlane", Str),
]);

const V1BETA3_INIT: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("bootstrapTokens", List(&BOOTSTRAP_TOKEN)),
    ("nodeRegistration", V1BETA3_NODE_REGISTRATION),
    ("localAPIEndpoint", API_ENDPOINT),
    ("certificateKey", Str),
    ("skipPhases", List(&Str)),
]);

const V1BETA3_CLUSTER: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("networking", NETWORKING),
    ("kubernetesVersion", Str),
    ("controlPlaneEndpoint", Str),
    ("apiServer", V1BETA3_API_SERVER),
    ("certificatesDir", Str),
    ("imageRepository", Str),
    ("featureGates", Map(&Bool)),
    ("clusterName", Str),
]);

const V1BETA3_JOIN: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("nodeRegistration", V1BETA3_NODE_REGISTRATION),
    ("caCertPath", Str),
    ("discovery", DISCOVERY),
    ("controlPlane", JOIN_CONTROL_PLANE),
    ("skipPhases", List(&Str)),
]);

// --- v1beta4: extra arguments are `[]Arg{name, value}` ----------------------------------

/// `Arg`.
const ARG: Ty = Obj(&[("name", Str), ("value", Str)]);

const V1BETA4_NODE_REGISTRATION: Ty = Obj(&[
    ("name", Str),
    ("criSocket", Str),
    ("taints", List(&TAINT)),
    ("kubeletExtraArgs", List(&ARG)),
    ("ignorePreflightErrors", List(&Str)),
    ("imagePullPolicy", Str),
]);

const V1BETA4_API_SERVER: Ty = Obj(&[("extraArgs", List(&ARG)), ("certSANs", List(&Str))]);

const V1BETA4_INIT: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("bootstrapTokens", List(&BOOTSTRAP_TOKEN)),
    ("dryRun", Bool),
    ("nodeRegistration", V1BETA4_NODE_REGISTRATION),
    ("localAPIEndpoint", API_ENDPOINT),
    ("certificateKey", Str),
    ("skipPhases", List(&Str)),
]);

const V1BETA4_CLUSTER: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("networking", NETWORKING),
    ("kubernetesVersion", Str),
    ("controlPlaneEndpoint", Str),
    ("apiServer", V1BETA4_API_SERVER),
    ("certificatesDir", Str),
    ("imageRepository", Str),
    ("featureGates", Map(&Bool)),
    ("clusterName", Str),
]);

const V1BETA4_JOIN: Ty = Obj(&[
    ("apiVersion", Str),
    ("kind", Str),
    ("dryRun", Bool),
    ("nodeRegistration", V1BETA4_NODE_REGISTRATION),
    ("caCertPath", Str),
    ("discovery", DISCOVERY),
    ("controlPlane", JOIN_CONTROL_PLANE),
    ("skipPhases", List(&Str)),
]);

fn schema(api_version: &str, kind: &str) -> &'static Ty {
    match (api_version, kind) {
        ("kubeadm.k8s.io/v1beta3", "InitConfiguration") => &V1BETA3_INIT,
        ("kubeadm.k8s.io/v1beta3", "ClusterConfiguration") => &V1BETA3_CLUSTER,
        ("kubeadm.k8s.io/v1beta3", "JoinConfiguration") => &V1BETA3_JOIN,
        ("kubeadm.k8s.io/v1beta4", "InitConfiguration") => &V1BETA4_INIT,
        ("kubeadm.k8s.io/v1beta4", "ClusterConfiguration") => &V1BETA4_CLUSTER,
        ("kubeadm.k8s.io/v1beta4", "JoinConfiguration") => &V1BETA4_JOIN,
        other => panic!("unexpected document {other:?}"),
    }
}

/// Checks `value` against `ty`, collecting every key path it visits into `paths`.
fn check(value: &Value, ty: &Ty, path: &str, paths: &mut Vec<String>, errors: &mut Vec<String>) {
    match (ty, value) {
        (Str, Value::String(_)) | (Bool, Value::Bool(_)) => {}
        (Int, Value::Number(n)) if n.is_i64() => {}
        (Obj(fields), Value::Object(map)) => {
            for (key, item) in map {
                let child = format!("{path}.{key}");
                paths.push(child.clone());
                match fields.iter().find(|(name, _)| name == key) {
                    Some((_, field_ty)) => check(item, field_ty, &child, paths, errors),
                    None => errors.push(format!("{child}: no such field upstream")),
                }
            }
        }
        (List(item_ty), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check(item, item_ty, &format!("{path}[{i}]"), paths, errors);
            }
        }
        (Map(item_ty), Value::Object(map)) => {
            for (key, item) in map {
                check(item, item_ty, &format!("{path}[{key}]"), paths, errors);
            }
        }
        (ty, value) => errors.push(format!("{path}: upstream type is {ty:?}, found {value}")),
    }
}

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

/// Every configuration this crate generates, as (label, parsed documents).
fn generated() -> Vec<(String, Vec<Value>)> {
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
                out.push((format!("{version} {} {identity:?}", role.name()), docs));
            }
        }
    }
    out
}

#[test]
fn every_emitted_key_path_exists_with_the_same_shape_in_the_upstream_kubeadm_types() {
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (label, docs) in generated() {
        for doc in docs {
            let api = doc["apiVersion"].as_str().unwrap();
            let kind = doc["kind"].as_str().unwrap();
            let mut paths = Vec::new();
            let mut doc_errors = Vec::new();
            check(&doc, schema(api, kind), "", &mut paths, &mut doc_errors);
            errors.extend(
                doc_errors
                    .into_iter()
                    .map(|e| format!("{label} {kind}: {e}")),
            );
            seen.extend(paths.into_iter().map(|p| format!("{api} {kind} {p}")));
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
    let mut errors = Vec::new();
    let bad: Value = serde_json::json!({
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "JoinConfiguration",
        "nodeRegistration": {"kubeletExtraArgs": {"node-ip": "10.0.0.1"}},
        "discovery": {"bootstrapToken": {"caCertHashs": []}},
        "controlPlane": {"localApiEndpoint": {}},
    });
    check(&bad, &V1BETA4_JOIN, "", &mut Vec::new(), &mut errors);
    let text = errors.join("\n");
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
    for (label, docs) in generated() {
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
