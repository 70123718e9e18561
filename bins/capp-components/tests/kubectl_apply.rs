//! With its variables substituted, `infrastructure-components.yaml` is applied with the real
//! `kubectl apply` (client-side, then `--server-side`) to the real kube-apiserver v1.36
//! (capp-envtest, upstream tier) serving the upstream CAPI v1.10 CRDs and stand-ins for
//! cert-manager's `Issuer` and `Certificate` CRDs: every object is created (the two-version
//! CRDs with their conversion webhook included), stored without pruning (kubectl prints no
//! `unknown field` warning), and re-applying changes nothing.
//!
//! The components are applied as shipped: their conversion webhook points at a Service no
//! pod backs, which the API server accepts (it only calls the webhook to convert objects, and
//! none is created here).
//!
//! Skips loudly when kubectl, the upstream binaries or `../shared` is missing; fails instead
//! under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

#[path = "../../../crates/capp-api/tests/support/shared.rs"]
mod shared;

use std::collections::BTreeMap;
use std::path::Path;

use capp_components::Release;
use capp_envtest::{Binaries, ControlPlane, ControlPlaneOptions};
use serde_json::Value;

/// The upstream CAPI CRDs a management cluster has when `clusterctl init` runs.
const UPSTREAM_CAPI_CRDS: [&str; 4] = [
    "cluster.x-k8s.io_clusters.yaml",
    "cluster.x-k8s.io_machines.yaml",
    "cluster.x-k8s.io_clusterclasses.yaml",
    "cluster.x-k8s.io_machinedeployments.yaml",
];

/// `kind.group/name` as kubectl prints it (`customresourcedefinition.apiextensions.k8s.io/x`).
fn kubectl_name(doc: &Value) -> String {
    let kind = doc["kind"].as_str().unwrap().to_lowercase();
    let api_version = doc["apiVersion"].as_str().unwrap();
    let name = doc["metadata"]["name"].as_str().unwrap();
    match api_version.split_once('/') {
        Some((group, _)) => format!("{kind}.{group}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// Collects the paths of `sent`'s leaves that `stored` lacks or holds differently.
fn missing_leaves(path: &str, sent: &Value, stored: &Value, out: &mut Vec<String>) {
    match (sent, stored) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => missing_leaves(&format!("{path}.{k}"), v, w, out),
                    None => out.push(format!("{path}.{k}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                missing_leaves(&format!("{path}[{i}]"), v, w, out);
            }
        }
        _ if sent == stored => {}
        _ => out.push(format!("{path}: sent {sent}, stored {stored}")),
    }
}

async fn ok(kubeconfig: &Path, args: &[&str]) -> (String, String) {
    let out = capp_envtest::kubectl(kubeconfig, args, None).await.unwrap();
    assert!(
        out.success,
        "kubectl {args:?} failed: {}\n{}",
        out.stderr, out.stdout
    );
    (out.stdout, out.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_substituted_components_are_accepted_by_kubectl_apply() {
    let Some(specs) = shared::specs_dir("capi-v1.10") else {
        return;
    };
    if !capp_envtest::require("kubectl on PATH", capp_envtest::kubectl_path().is_some()) {
        return;
    }
    let Some(bins) = Binaries::require() else {
        return;
    };
    let cp = ControlPlane::start(
        &bins,
        ControlPlaneOptions::default().with_controller_manager(false),
    )
    .await
    .expect("the control plane starts");
    let mut crds: Vec<Value> = UPSTREAM_CAPI_CRDS
        .iter()
        .map(|f| serde_saphyr::from_str(&std::fs::read_to_string(specs.join(f)).unwrap()).unwrap())
        .collect();
    crds.extend(capp_envtest::webhook::cert_manager_stand_in_crds());
    cp.install_crds(&crds)
        .await
        .expect("the CRDs are established");
    let kubeconfig = cp.kubeconfig_path();

    let text = capp_components::to_yaml(
        &capp_components::components::components(&Release::default()).unwrap(),
    )
    .unwrap();
    let values = BTreeMap::from([("PACKET_API_KEY".to_owned(), "not-a-real-token".to_owned())]);
    let text = capp_components::variables::substitute(&text, &values).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let path = cp.dir().join("infrastructure-components.yaml");
    std::fs::write(&path, &text).unwrap();
    let path = path.to_str().unwrap();

    let (out, err) = ok(kubeconfig, &["apply", "-f", path]).await;
    assert!(!err.contains("unknown field"), "{err}");
    for doc in &docs {
        let line = format!("{} created", kubectl_name(doc));
        assert!(
            out.lines().any(|l| l == line),
            "kubectl did not report `{line}`:\n{out}"
        );
    }
    assert_eq!(
        out.lines().count(),
        docs.len(),
        "one line per object:\n{out}"
    );

    let (listed, _) = ok(kubeconfig, &["get", "-f", path, "-o", "json"]).await;
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), docs.len());
    let deployment = items.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    assert!(
        args.iter().any(|a| a == "--sync-period=10m"),
        "the default of ${{CAPP_SYNC_PERIOD}} is stored: {args:?}"
    );
    for crd in items
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
    {
        let versions: Vec<(&str, bool)> = crd["spec"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["name"].as_str().unwrap(), v["storage"].as_bool().unwrap()))
            .collect();
        assert_eq!(versions, [("v1beta1", false), ("v1beta2", true)]);
        assert_eq!(crd["spec"]["conversion"]["strategy"], "Webhook");
    }

    // Every value of every object is stored as sent (nothing pruned or rewritten); the
    // Secret's write-only stringData aside.
    for (doc, live) in docs.iter().zip(items) {
        let mut missing = Vec::new();
        let mut sent = doc.clone();
        if let Some(object) = sent.as_object_mut() {
            object.remove("stringData");
        }
        missing_leaves("", &sent, live, &mut missing);
        assert!(missing.is_empty(), "{}: {missing:#?}", kubectl_name(doc));
    }
    let (again, _) = ok(kubeconfig, &["apply", "-f", path]).await;
    // stringData is write-only (the server folds it into data), so kubectl's three-way diff
    // always finds it missing and reports the Secret `configured`. The real server also has
    // kubectl report the ValidatingAdmissionPolicy `configured` on every re-apply although
    // every value of it is stored as sent (checked above): its strategic-merge patch is
    // never empty.
    assert!(
        again.lines().all(|l| l.ends_with(" unchanged")
            || l.starts_with("secret/")
            || l.starts_with("validatingadmissionpolicy.")),
        "{again}"
    );
    let (ssa, err) = ok(
        kubeconfig,
        &["apply", "--server-side", "--force-conflicts", "-f", path],
    )
    .await;
    assert!(!err.contains("unknown field"), "{err}");
    assert_eq!(ssa.lines().count(), docs.len(), "{ssa}");
    cp.shutdown();
}
