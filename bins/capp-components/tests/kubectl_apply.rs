//! With its variables substituted, `infrastructure-components.yaml` is applied with the real
//! `kubectl apply` (client-side, then `--server-side`) to capp-testenv serving the upstream
//! CAPI v1.10 CRDs: every object is created, stored without pruning (kubectl prints no
//! `unknown field` warning), and re-applying changes nothing.
//!
//! Skips loudly when kubectl or `../shared` is missing; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

#[path = "../../../crates/capp-api/tests/support/kubectl.rs"]
mod kubectl;
#[path = "../../../crates/capp-api/tests/support/shared.rs"]
mod shared;

use capp_components::Release;
use kubectl::{Kubectl, kubectl_name};
use serde_json::Value;
use std::collections::BTreeMap;

/// The upstream CAPI CRDs a management cluster has when `clusterctl init` runs.
const UPSTREAM_CAPI_CRDS: [&str; 4] = [
    "cluster.x-k8s.io_clusters.yaml",
    "cluster.x-k8s.io_machines.yaml",
    "cluster.x-k8s.io_clusterclasses.yaml",
    "cluster.x-k8s.io_machinedeployments.yaml",
];

/// kubectl against capp-testenv serving the upstream CAPI CRDs, or `None` (after a loud
/// message) when kubectl or `../shared` is missing.
async fn start() -> Option<Kubectl> {
    let specs = shared::specs_dir("capi-v1.10")?;
    let crds: Vec<Value> = UPSTREAM_CAPI_CRDS
        .iter()
        .map(|f| serde_saphyr::from_str(&std::fs::read_to_string(specs.join(f)).unwrap()).unwrap())
        .collect();
    Kubectl::start("capp-components-kubectl", &crds).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_substituted_components_are_accepted_by_kubectl_apply() {
    let Some(kubectl) = start().await else {
        return;
    };
    let text = capp_components::to_yaml(
        &capp_components::components::components(&Release::default()).unwrap(),
    )
    .unwrap();
    let values = BTreeMap::from([("PACKET_API_KEY".to_owned(), "not-a-real-token".to_owned())]);
    let text = capp_components::variables::substitute(&text, &values).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let path = kubectl.dir.join("infrastructure-components.yaml");
    std::fs::write(&path, &text).unwrap();
    let path = path.to_str().unwrap();

    let (out, err) = kubectl.ok(&["apply", "-f", path]).await;
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

    let (listed, _) = kubectl.ok(&["get", "-f", path, "-o", "json"]).await;
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), docs.len());
    let deployment = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["args"][3], "--sync-period=10m",
        "the default of ${{CAPP_SYNC_PERIOD}} is stored"
    );

    let (again, _) = kubectl.ok(&["apply", "-f", path]).await;
    // stringData is write-only (the server folds it into data), so kubectl's three-way diff
    // always finds it missing and reports the Secret `configured`, as with a real server.
    assert!(
        again
            .lines()
            .all(|l| l.ends_with(" unchanged") || l.starts_with("secret/")),
        "{again}"
    );
    let (ssa, err) = kubectl
        .ok(&["apply", "--server-side", "--force-conflicts", "-f", path])
        .await;
    assert!(!err.contains("unknown field"), "{err}");
    assert_eq!(ssa.lines().count(), docs.len(), "{ssa}");
}
