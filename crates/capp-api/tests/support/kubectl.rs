//! The real `kubectl` against a capp-testenv server, for integration tests (shared by
//! capp-api's and capp-components' tests through `#[path]`). A missing kubectl skips the test
//! with a loud message, except under `CI=true`, where it fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use capp_testenv::{Config, TestEnv};
use serde_json::Value;

/// Generous: kubectl on a loaded 2-core machine, first run without a discovery cache.
pub(crate) const KUBECTL_TIMEOUT: Duration = Duration::from_secs(90);

/// The kubectl binary on PATH, or `None` after a loud message (a failure under `CI=true`).
pub(crate) fn require_kubectl() -> Option<PathBuf> {
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

/// `kind.group/name` (`kind/name` for the core group), as kubectl names an object in its
/// output.
pub(crate) fn kubectl_name(doc: &Value) -> String {
    let group = doc["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/'))
        .map_or("", |(g, _)| g);
    let kind = doc["kind"].as_str().unwrap_or_default().to_lowercase();
    let name = doc["metadata"]["name"].as_str().unwrap_or_default();
    if group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{group}/{name}")
    }
}

/// A capp-testenv server serving some CRDs, and a kubectl pointed at it with its own cache
/// and scratch directory (removed on drop).
pub(crate) struct Kubectl {
    /// The server.
    pub(crate) env: TestEnv,
    bin: PathBuf,
    /// kubectl's cache and `HOME`; tests may write manifests here.
    pub(crate) dir: PathBuf,
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Kubectl {
    /// Starts a server serving `crds` (installed in order) or `None` when kubectl is missing.
    /// `label` names the scratch directory.
    pub(crate) async fn start(label: &str, crds: &[Value]) -> Option<Kubectl> {
        let bin = require_kubectl()?;
        let env = TestEnv::start(Config::default())
            .await
            .expect("the test server starts");
        env.install_crds(crds)
            .await
            .unwrap_or_else(|e| panic!("the CRDs are served: {e}"));
        let port = env.url().rsplit(':').next().unwrap_or_default().to_owned();
        let dir = std::env::temp_dir().join(format!("{label}-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Some(Kubectl { env, bin, dir })
    }

    /// Runs kubectl; returns (success, stdout, stderr).
    pub(crate) async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut command = tokio::process::Command::new(&self.bin);
        command
            .arg("--kubeconfig")
            .arg(self.env.kubeconfig_path())
            .arg("--cache-dir")
            .arg(&self.dir)
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

    /// Runs kubectl and returns (stdout, stderr), failing the test on a non-zero exit.
    pub(crate) async fn ok(&self, args: &[&str]) -> (String, String) {
        let (ok, out, err) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed: {err}\n{out}");
        (out, err)
    }

    /// Runs kubectl and returns stderr, failing the test if it succeeds.
    #[allow(dead_code, reason = "not every test binary expects a failure")]
    pub(crate) async fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(
            !ok,
            "kubectl {args:?} was expected to fail but printed: {out}"
        );
        err
    }
}
