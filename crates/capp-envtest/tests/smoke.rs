//! Smoke test of the real upstream tier with the real `kubectl`: kube-apiserver v1.36 (built
//! by `upstream/build`) reports its version, takes our generated CRDs next to Cluster API
//! v1.14's (with the three managers serving conversion and admission webhooks), and `kubectl
//! apply` of the Go provider's rendered cluster templates stores every object: our kinds
//! exactly (plus our documented CRD default), the CAPI kinds with every input field intact
//! after the v1beta1 -> v1beta2 -> v1beta1 round trip. The CEL immutability rules of our CRDs
//! hold on the real server.
//!
//! Skips loudly without the upstream binaries or kubectl; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/common.rs"]
mod common;

use capp_envtest::{Binaries, CapiManagers, ControlPlane, ControlPlaneOptions};
use common::{
    FLAVORS, go_template, kubectl_fails, kubectl_ok, kubectl_resource, missing_leaves, our_crds,
    require_kubectl, scratch,
};
use std::path::Path;

use serde_json::{Value, json};

/// The one field our CRDs default on the templates' objects (capp-api's documented default).
const OUR_DEFAULTS: [(&str, &str); 1] = [("PacketCluster", "elasticIPReclaimPolicy")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kubectl_applies_our_crds_and_the_go_templates_to_the_real_apiserver() {
    let Some(bins) = Binaries::require() else {
        return;
    };
    if !require_kubectl() {
        return;
    }
    let options = ControlPlaneOptions::default().with_controller_manager(false);
    let cp = ControlPlane::start(&bins, options).await.unwrap();
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
    let capi = CapiManagers::start(&cp, &bins).await.unwrap();
    cp.install_crds(&our_crds()).await.unwrap();
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

/// The CEL immutability rules hold on the real server, through kubectl.
async fn immutability_rules_hold(kubeconfig: &Path) {
    let ns = "cluster-template";
    let err = kubectl_fails(
        kubeconfig,
        &[
            "patch",
            "packetcluster",
            "metal-cpem",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"projectID":"00000000-1111-2222-3333-444444444444"}}"#,
        ],
        None,
    )
    .await;
    assert!(
        err.contains("spec.projectID") && err.contains("projectID is immutable"),
        "{err}"
    );
    let err = kubectl_fails(
        kubeconfig,
        &[
            "patch",
            "packetcluster",
            "metal-cpem",
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"vipManager":"KUBE_VIP"}}"#,
        ],
        None,
    )
    .await;
    assert!(
        err.contains("spec.vipManager") && err.contains("vipManager is immutable"),
        "{err}"
    );
    let template = go_template("cluster-template.yaml", ns)
        .into_iter()
        .find(|d| d["kind"] == "PacketMachineTemplate")
        .unwrap();
    let name = template["metadata"]["name"].as_str().unwrap();
    let err = kubectl_fails(
        kubeconfig,
        &[
            "patch",
            "packetmachinetemplate",
            name,
            "-n",
            ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"template":{"spec":{"machineType":"n3.xlarge.x86"}}}}"#,
        ],
        None,
    )
    .await;
    assert!(err.contains("immutable"), "{err}");
    let stored: Value = serde_json::from_str(
        &kubectl_ok(
            kubeconfig,
            &["get", "packetcluster", "metal-cpem", "-n", ns, "-o", "json"],
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
