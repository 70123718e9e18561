//! Helpers shared by the integration tests (included with `#[path]`, not a test target).

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};

use capp_envtest::{
    Binaries, CapiManagers, ControlPlane, ControlPlaneOptions, KubectlOutput, kubectl,
    kubectl_path, load_yaml_documents, require,
};
use serde_json::Value;

/// The Go provider's rendered cluster templates the capp-api kubectl tests use.
pub(crate) const FLAVORS: [&str; 3] = [
    "cluster-template.yaml",
    "cluster-template-kube-vip.yaml",
    "cluster-template-emlb.yaml",
];

/// The real management cluster the CAPI tests share the shape of: etcd + kube-apiserver, the
/// three Cluster API managers with their webhooks, and our CRDs. `None` (after a loud skip
/// message) without the upstream binaries or kubectl; panics instead under `CI=true`.
pub(crate) async fn management_cluster() -> Option<(ControlPlane, CapiManagers)> {
    let bins = Binaries::require()?;
    if !require_kubectl() {
        return None;
    }
    let options = ControlPlaneOptions::default().with_controller_manager(false);
    let cp = ControlPlane::start(&bins, options)
        .await
        .expect("the control plane starts");
    let capi = CapiManagers::start(&cp, &bins)
        .await
        .expect("the CAPI managers start");
    cp.install_crds(&our_crds())
        .await
        .expect("our CRDs install");
    Some((cp, capi))
}

/// `true` when kubectl is on PATH; otherwise skips loudly (fails under CI=true).
pub(crate) fn require_kubectl() -> bool {
    require("kubectl on PATH", kubectl_path().is_some())
}

/// A fixture of capp-api's kubectl tests, with every object moved to `namespace`.
pub(crate) fn go_template(flavor: &str, namespace: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../capp-api/tests/fixtures/go-templates")
        .join(flavor);
    let mut docs = load_yaml_documents(&path).expect("the fixture parses");
    for doc in &mut docs {
        doc["metadata"]["namespace"] = Value::from(namespace);
    }
    docs
}

/// Our four CRDs as JSON.
pub(crate) fn our_crds() -> Vec<Value> {
    capp_api::crds()
        .into_iter()
        .map(|c| serde_json::to_value(c).expect("a CRD serializes"))
        .collect()
}

/// `kind.version.group` for kubectl (`clusters.v1beta1.cluster.x-k8s.io`), or the kind for
/// the core group.
pub(crate) fn kubectl_resource(doc: &Value) -> String {
    let kind = doc["kind"].as_str().unwrap_or_default().to_lowercase();
    match doc["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .split_once('/')
    {
        Some((group, version)) => format!("{kind}s.{version}.{group}"),
        None => kind,
    }
}

/// Runs kubectl and panics with its output unless it succeeded.
pub(crate) async fn kubectl_ok(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(kubeconfig, args, stdin)
        .await
        .expect("kubectl runs");
    assert!(
        out.success,
        "kubectl {} failed: {}",
        args.join(" "),
        out.stderr
    );
    out.stdout
}

/// Runs kubectl and panics unless it failed; returns its stderr.
pub(crate) async fn kubectl_fails(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let KubectlOutput {
        success,
        stdout,
        stderr,
    } = kubectl(kubeconfig, args, stdin)
        .await
        .expect("kubectl runs");
    assert!(!success, "kubectl {} succeeded: {stdout}", args.join(" "));
    stderr
}

/// Every leaf of `input` (objects recursively, arrays and scalars as a whole) that is missing
/// or different in `stored`, as `path: input -> stored` lines.
pub(crate) fn missing_leaves(path: &str, input: &Value, stored: &Value, out: &mut Vec<String>) {
    match (input, stored) {
        (Value::Object(i), Value::Object(s)) => {
            for (k, v) in i {
                missing_leaves(
                    &format!("{path}.{k}"),
                    v,
                    s.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(i), Value::Array(s)) if i.len() == s.len() => {
            for (n, (a, b)) in i.iter().zip(s).enumerate() {
                missing_leaves(&format!("{path}[{n}]"), a, b, out);
            }
        }
        _ if input == stored => {}
        _ => out.push(format!("{path}: {input} -> {stored}")),
    }
}

/// A scratch file next to the kubeconfig (inside the environment's temporary directory).
pub(crate) fn scratch(kubeconfig: &Path, name: &str) -> PathBuf {
    kubeconfig.with_file_name(name)
}

/// `kubectl get <target> -n <ns> -o json`, or `None` when it fails (not found yet).
pub(crate) async fn get_json(kubeconfig: &Path, target: &str, ns: &str) -> Option<Value> {
    let out = kubectl(kubeconfig, &["get", target, "-n", ns, "-o", "json"], None)
        .await
        .expect("kubectl runs");
    out.success
        .then(|| serde_json::from_str(&out.stdout).expect("kubectl prints JSON"))
}

/// Polls `probe` every second until it returns `Some`, or panics after `seconds` with `what`
/// and the last value seen (from `last`).
pub(crate) async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) if std::time::Instant::now() > deadline => {
                panic!("{what} did not happen within {seconds}s; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
        }
    }
}
