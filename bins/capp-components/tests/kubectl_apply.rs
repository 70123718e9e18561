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

#[path = "../../../crates/capp-api/tests/support/shared.rs"]
mod shared;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use capp_components::Release;
use capp_testenv::{Config, TestEnv};
use serde_json::Value;

/// Generous: kubectl on a loaded 2-core machine, first run without a discovery cache.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(90);

/// The upstream CAPI CRDs a management cluster has when `clusterctl init` runs.
const UPSTREAM_CAPI_CRDS: [&str; 4] = [
    "cluster.x-k8s.io_clusters.yaml",
    "cluster.x-k8s.io_machines.yaml",
    "cluster.x-k8s.io_clusterclasses.yaml",
    "cluster.x-k8s.io_machinedeployments.yaml",
];

/// The kubectl binary on PATH, or `None` after a loud message (a failure under `CI=true`).
fn require_kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "kubectl is required under CI=true but is not on PATH"
        );
        eprintln!("SKIPPED: kubectl is not on PATH; this test did not run");
    }
    found
}

struct Kubectl {
    env: TestEnv,
    bin: PathBuf,
    dir: PathBuf,
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Kubectl {
    async fn start() -> Option<Kubectl> {
        let bin = require_kubectl()?;
        let specs = shared::specs_dir("capi-v1.10")?;
        let crds: Vec<Value> = UPSTREAM_CAPI_CRDS
            .iter()
            .map(|f| {
                serde_saphyr::from_str(&std::fs::read_to_string(specs.join(f)).unwrap()).unwrap()
            })
            .collect();
        let env = TestEnv::start(Config::default())
            .await
            .expect("the test server starts");
        env.install_crds(&crds)
            .await
            .expect("upstream CAPI CRDs are served");
        let port = env.url().rsplit(':').next().unwrap_or_default().to_owned();
        let dir = std::env::temp_dir().join(format!(
            "capp-components-kubectl-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Some(Kubectl { env, bin, dir })
    }

    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut command = tokio::process::Command::new(&self.bin);
        command
            .arg("--kubeconfig")
            .arg(self.env.kubeconfig_path())
            .arg("--cache-dir")
            .arg(self.dir.join("cache"))
            .arg("--request-timeout=60s")
            .args(args)
            .env("HOME", &self.dir)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(KUBECTL_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} finishes within {KUBECTL_TIMEOUT:?}"))
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> (String, String) {
        let (ok, out, err) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed: {err}\n{out}");
        (out, err)
    }
}

/// `kind.group/name` (`kind/name` for the core group), as kubectl names an object in its output.
fn kubectl_name(doc: &Value) -> String {
    let group = doc["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/'))
        .map_or("", |(g, _)| g);
    let kind = doc["kind"].as_str().unwrap().to_lowercase();
    let name = doc["metadata"]["name"].as_str().unwrap();
    if group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{group}/{name}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_substituted_components_are_accepted_by_kubectl_apply() {
    let Some(kubectl) = Kubectl::start().await else {
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
