//! Smoke test of the real upstream tier with the real `kubectl`: kube-apiserver v1.36 (built
//! by `upstream/build`) reports its version, takes our generated CRDs next to Cluster API
//! v1.14's (with the three managers serving conversion and admission webhooks), and `kubectl
//! apply` of the Go provider's rendered cluster templates stores every object: our kinds
//! exactly (plus our documented CRD default), the CAPI kinds with every input field intact
//! after the v1beta1 -> v1beta2 -> v1beta1 round trip. The CEL immutability rules of our CRDs
//! hold on the real server (template immutability is an admission policy, tested in
//! `template_policy.rs`).
//!
//! Skips loudly without the upstream binaries or kubectl; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/common.rs"]
mod common;

use std::path::Path;

use common::{
    FLAVORS, go_template, kubectl_fails, kubectl_ok, kubectl_resource, management_cluster,
    missing_leaves, scratch,
};
use serde_json::{Value, json};

/// The one field our CRDs default on the templates' objects (capp-api's documented default).
const OUR_DEFAULTS: [(&str, &str); 1] = [("PacketCluster", "elasticIPReclaimPolicy")];

/// What Cluster API v1.14's conversion changes when v1beta1 objects are read back in v1beta1:
/// v1beta2 references carry only `apiGroup`, and converting back fills in the version the
/// referenced CRD's contract label names, which for CAPI's own kubeadm kinds is v1beta2 (our
/// kinds declare v1beta1 and keep it). Any other lost or changed input field fails.
const UPSTREAM_REWRITES: [&str; 2] = [
    r#"spec.controlPlaneRef.apiVersion: "controlplane.cluster.x-k8s.io/v1beta1" -> "controlplane.cluster.x-k8s.io/v1beta2""#,
    r#"spec.template.spec.bootstrap.configRef.apiVersion: "bootstrap.cluster.x-k8s.io/v1beta1" -> "bootstrap.cluster.x-k8s.io/v1beta2""#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kubectl_applies_our_crds_and_the_go_templates_to_the_real_apiserver() {
    let Some((cp, capi)) = management_cluster().await else {
        return;
    };
    let version = cp.client().apiserver_version().await.unwrap();
    assert_eq!(
        (
            version.git_version.as_str(),
            version.major.as_str(),
            version.minor.as_str()
        ),
        ("v1.36.3", "1", "36"),
        "upstream/build stamps the version into kube-apiserver"
    );
    let kubeconfig = cp.kubeconfig_path();

    for flavor in FLAVORS {
        apply_and_read_back(kubeconfig, flavor).await;
    }
    immutability_rules_hold(kubeconfig).await;
    drop(capi);
    cp.shutdown();
}

/// `kubectl apply` of one flavor into its own namespace, then every object read back.
async fn apply_and_read_back(kubeconfig: &Path, flavor: &str) {
    let ns = flavor.trim_end_matches(".yaml");
    kubectl_ok(kubeconfig, &["create", "namespace", ns], None).await;
    let docs = go_template(flavor, ns);
    let file = scratch(kubeconfig, &format!("{ns}.json"));
    let list = json!({"apiVersion": "v1", "kind": "List", "items": docs});
    std::fs::write(&file, list.to_string()).unwrap();
    let out = kubectl_ok(kubeconfig, &["apply", "-f", file.to_str().unwrap()], None).await;
    assert_eq!(
        out.lines().count(),
        docs.len(),
        "one line per object: {out}"
    );

    for doc in &docs {
        let kind = doc["kind"].as_str().unwrap();
        let name = doc["metadata"]["name"].as_str().unwrap();
        let target = format!("{}/{name}", kubectl_resource(doc));
        let stored: Value = serde_json::from_str(
            &kubectl_ok(kubeconfig, &["get", &target, "-n", ns, "-o", "json"], None).await,
        )
        .unwrap();
        let mut missing = Vec::new();
        missing_leaves("spec", &doc["spec"], &stored["spec"], &mut missing);
        missing.retain(|line| !UPSTREAM_REWRITES.contains(&line.as_str()));
        assert!(
            missing.is_empty(),
            "{flavor} {kind}/{name} lost input fields: {missing:#?}"
        );
        if kind.starts_with("Packet") {
            let mut added = Vec::new();
            missing_leaves("spec", &stored["spec"], &doc["spec"], &mut added);
            added.retain(|line| {
                !OUR_DEFAULTS
                    .iter()
                    .any(|(k, field)| *k == kind && line.starts_with(&format!("spec.{field}:")))
            });
            assert!(
                added.is_empty(),
                "{flavor} {kind}/{name} gained fields: {added:#?}"
            );
        }
    }
}

/// The CEL immutability rules (PacketCluster `projectID`, `vipManager`) hold on the real
/// server, through kubectl.
async fn immutability_rules_hold(kubeconfig: &Path) {
    let ns = "cluster-template";
    let err = rejected_patch(
        kubeconfig,
        ns,
        "packetcluster/metal-cpem",
        r#"{"spec":{"projectID":"00000000-1111-2222-3333-444444444444"}}"#,
    )
    .await;
    assert!(
        err.contains("spec.projectID") && err.contains("projectID is immutable"),
        "{err}"
    );
    let err = rejected_patch(
        kubeconfig,
        ns,
        "packetcluster/metal-cpem",
        r#"{"spec":{"vipManager":"KUBE_VIP"}}"#,
    )
    .await;
    assert!(
        err.contains("spec.vipManager") && err.contains("vipManager is immutable"),
        "{err}"
    );
    let stored: Value = serde_json::from_str(
        &kubectl_ok(
            kubeconfig,
            &["get", "packetcluster/metal-cpem", "-n", ns, "-o", "json"],
            None,
        )
        .await,
    )
    .unwrap();
    assert_eq!(
        (&stored["spec"]["projectID"], &stored["spec"]["vipManager"]),
        (
            &json!("7f1e8d3c-5b0a-4c6e-9f21-3d4a5b6c7d8e"),
            &json!("CPEM")
        ),
        "rejected changes left the object as it was"
    );
}

/// A merge patch kubectl must fail to apply; returns its stderr.
async fn rejected_patch(kubeconfig: &Path, ns: &str, target: &str, patch: &str) -> String {
    kubectl_fails(
        kubeconfig,
        &["patch", target, "-n", ns, "--type=merge", "-p", patch],
        None,
    )
    .await
}
