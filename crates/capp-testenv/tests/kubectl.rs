//! The real `kubectl` against the test server: apply of a multi-document manifest with CRDs and
//! custom resources, get with printer columns and `-o yaml`, merge/json/strategic patches,
//! deletion held by finalizers, `wait --for=condition=Ready` and `get --watch`.
//!
//! Skips loudly when kubectl is missing; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use capp_testenv::TestEnv;
use kube::api::{Api, Patch, PatchParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

struct Kubectl {
    bin: PathBuf,
    env: TestEnv,
    cache: PathBuf,
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.cache);
    }
}

impl Kubectl {
    async fn start() -> Option<Self> {
        Self::start_with(capp_testenv::Config::default()).await
    }

    async fn start_with(config: capp_testenv::Config) -> Option<Self> {
        let bin = support::kubectl_path();
        if !support::require("kubectl", bin.is_some()) {
            return None;
        }
        let env = TestEnv::start(config).await.unwrap();
        let port = env.url().rsplit(':').next().unwrap_or_default().to_owned();
        let cache = std::env::temp_dir().join(format!(
            "capp-testenv-kubectl-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&cache).unwrap();
        Some(Self {
            bin: bin.unwrap(),
            env,
            cache,
        })
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.bin);
        c.arg("--kubeconfig")
            .arg(self.env.kubeconfig_path())
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .env("HOME", &self.cache)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    /// Runs kubectl and returns stdout, failing the test on a non-zero exit.
    async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed: {err}\n{out}");
        out
    }

    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = tokio::time::timeout(Duration::from_secs(60), self.command(args).output())
            .await
            .expect("kubectl finishes within 60s")
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.cache.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn widgets(&self) -> Api<DynamicObject> {
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Widget"),
            "widgets",
        );
        Api::namespaced_with(self.env.client().unwrap(), "default", &ar)
    }

    /// Installs the Widget CRD and creates widget `name` through kubectl.
    async fn widget(&self, name: &str, extra_metadata: &str) {
        self.env
            .install_crds(&[support::widget_crd()])
            .await
            .unwrap();
        let f = self.write(&format!("{name}.yaml"), &format!(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\n{extra_metadata}spec:\n  size: 2\n"
        ));
        self.ok(&["apply", "-f", &f]).await;
    }
}

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, shortNames: [gd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Count, type: integer, jsonPath: .spec.count}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [color]
            properties:
              color: {type: string, enum: [red, blue]}
              count: {type: integer, default: 1}
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g1, namespace: demo}
spec: {color: red, count: 7}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: demo}
data: {mode: fast}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1"}
      - {name: sidecar, image: "busybox:1"}
"#;

#[tokio::test]
async fn kubectl_applies_a_manifest_with_crds_and_custom_resources_and_gets_them() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let f = k.write("manifest.yaml", MANIFEST);
    // Like a real apiserver, kubectl cannot map the Gadget kind until the CRD exists: the first
    // pass creates the CRD (and reports the missing mapping), the second creates the rest.
    // kubectl maps every document before it sends any, so the first pass always fails on the
    // custom resource while the CRD and the built-ins are applied.
    let (first_ok, first_out, first_err) = k.run(&["apply", "-f", &f]).await;
    assert!(
        !first_ok && first_err.contains("ensure CRDs are installed first"),
        "{first_err}"
    );
    assert!(
        first_out
            .contains("customresourcedefinition.apiextensions.k8s.io/gadgets.example.com created")
            && first_out.contains("configmap/settings created"),
        "{first_out}"
    );
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/gadgets.example.com",
        "--timeout=20s",
    ])
    .await;
    let out = k.ok(&["apply", "-f", &f]).await;
    assert!(out.contains("gadget.example.com/g1 created"), "{out}");

    let table = k.ok(&["get", "gadgets", "-n", "demo"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].split_whitespace().eq(["NAME", "COLOR", "COUNT"]),
        "{table}"
    );
    assert!(
        lines[1].split_whitespace().eq(["g1", "red", "7"]),
        "{table}"
    );
    let short = k.ok(&["get", "gd", "-A"]).await;
    assert!(short.contains("demo") && short.contains("g1"), "{short}");

    let yaml = k
        .ok(&["get", "gadget", "g1", "-n", "demo", "-o", "yaml"])
        .await;
    assert!(
        yaml.contains("color: red") && yaml.contains("uid:") && yaml.contains("generation: 1"),
        "{yaml}"
    );
    let cm = k
        .ok(&[
            "get",
            "configmap",
            "settings",
            "-n",
            "demo",
            "-o",
            "jsonpath={.data.mode}",
        ])
        .await;
    assert_eq!(cm, "fast");
    let deploys = k.ok(&["get", "deployments", "-n", "demo"]).await;
    assert!(deploys.contains("web"), "{deploys}");

    // Re-applying the unchanged manifest changes nothing; invalid objects are refused.
    let again = k.ok(&["apply", "-f", &f]).await;
    assert!(again.contains("gadget.example.com/g1 unchanged"), "{again}");
    let bad = k.write("bad.yaml", "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g2, namespace: demo}\nspec: {color: green}\n");
    let (ok, _, err) = k.run(&["apply", "-f", &bad]).await;
    assert!(!ok);
    assert!(
        err.contains("spec.color") && err.contains("Unsupported value"),
        "{err}"
    );
}

#[tokio::test]
async fn kubectl_patches_with_merge_json_and_strategic_patches() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let f = k.write("manifest.yaml", MANIFEST);
    let _ = k.run(&["apply", "-f", &f]).await;
    k.ok(&["apply", "-f", &f]).await;
    k.ok(&[
        "patch",
        "gadget",
        "g1",
        "-n",
        "demo",
        "--type=merge",
        "-p",
        r#"{"spec":{"count":8}}"#,
    ])
    .await;
    k.ok(&[
        "patch",
        "gadget",
        "g1",
        "-n",
        "demo",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/color","value":"blue"}]"#,
    ])
    .await;
    let g = k
        .ok(&[
            "get",
            "gadget",
            "g1",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.color} {.spec.count} {.metadata.generation}",
        ])
        .await;
    assert_eq!(g, "blue 8 3");
    let (ok, _, err) = k
        .run(&[
            "patch",
            "gadget",
            "g1",
            "-n",
            "demo",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/spec/color","value":"red"}]"#,
        ])
        .await;
    assert!(!ok, "a failing JSON patch test is rejected: {err}");

    k.ok(&[
        "patch",
        "deployment",
        "web",
        "-n",
        "demo",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}}}"#,
    ])
    .await;
    let images = k
        .ok(&[
            "get",
            "deployment",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.template.spec.containers[*].image}",
        ])
        .await;
    assert_eq!(
        images, "nginx:2 busybox:1",
        "strategic merge patches containers by name"
    );
}

#[tokio::test]
async fn kubectl_delete_is_held_by_finalizers_until_they_are_removed() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.widget("w1", "  finalizers: [example.com/hold]\n").await;
    let out = k.ok(&["delete", "widget", "w1", "--wait=false"]).await;
    assert!(out.contains("deleted"), "{out}");
    let ts = k
        .ok(&[
            "get",
            "widget",
            "w1",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ])
        .await;
    assert!(
        !ts.is_empty(),
        "the object is held with a deletionTimestamp"
    );
    k.ok(&[
        "patch",
        "widget",
        "w1",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ])
    .await;
    let (ok, _, err) = k.run(&["get", "widget", "w1"]).await;
    assert!(!ok && err.contains("NotFound"), "{err}");

    // A waiting delete returns once another client removes the finalizer.
    k.widget("w2", "  finalizers: [example.com/hold]\n").await;
    let mut waiting = k
        .command(&["delete", "widget", "w2", "--timeout=60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the delete has arrived (deletionTimestamp set), kubectl must still be waiting.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while k
        .widgets()
        .get("w2")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "kubectl never deleted w2"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "kubectl delete returned while the finalizer still held the object"
    );
    k.widgets()
        .patch(
            "w2",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(40), waiting.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(k.widgets().get_opt("w2").await.unwrap().is_none());
}

#[tokio::test]
async fn kubectl_wait_returns_when_the_condition_becomes_ready() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.widget("w", "").await;
    // `-v=6` logs each request: the status is set only once kubectl is watching, so the test
    // proves that kubectl waits for the change rather than finding it already there.
    let mut waiting = k
        .command(&[
            "wait",
            "--for=condition=Ready",
            "widget/w",
            "--timeout=60s",
            "-v=6",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(waiting.stderr.take().unwrap()).lines();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), log.next_line())
            .await
            .expect("kubectl starts watching within 30s")
            .unwrap()
            .expect("kubectl keeps running until the condition is met");
        if line.contains("watch=true") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Done", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    k.widgets()
        .patch_status("w", &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(40), waiting.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "kubectl wait fails");
    assert!(String::from_utf8_lossy(&out.stdout).contains("condition met"));
    let ready = k.ok(&["get", "widget", "w"]).await;
    assert!(
        ready.lines().nth(1).unwrap().split_whitespace().nth(2) == Some("True"),
        "READY column: {ready}"
    );
}

#[tokio::test]
async fn kubectl_get_watch_sees_a_change() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.widget("w", "").await;
    let mut child = k
        .command(&["get", "widgets", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let header = next_line(&mut lines).await;
    assert!(header.starts_with("NAME"), "{header}");
    let initial = next_line(&mut lines).await;
    assert!(
        initial.split_whitespace().eq(["w", "2"]
            .into_iter()
            .chain(initial.split_whitespace().skip(2))),
        "{initial}"
    );
    k.widgets()
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 5}})),
        )
        .await
        .unwrap();
    let changed = next_line(&mut lines).await;
    assert_eq!(
        changed.split_whitespace().take(2).collect::<Vec<_>>(),
        ["w", "5"],
        "{changed}"
    );
    child.kill().await.unwrap();
}

async fn next_line(l: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(15), l.next_line())
        .await
        .expect("kubectl prints within 15s")
        .unwrap()
        .expect("kubectl is still running")
}

#[tokio::test]
async fn kubectl_create_subcommands_and_auth_can_i_work_through_protobuf() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "namespace", "team"]).await;
    k.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "team",
        "--from-literal=mode=fast",
    ])
    .await;
    k.ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        "team",
        "--from-literal=user=pw",
    ])
    .await;
    k.ok(&["create", "serviceaccount", "manager", "-n", "team"])
        .await;
    k.ok(&[
        "create",
        "role",
        "reader",
        "-n",
        "team",
        "--verb=get,list",
        "--resource=configmaps",
    ])
    .await;
    k.ok(&[
        "create",
        "rolebinding",
        "reader",
        "-n",
        "team",
        "--role=reader",
        "--serviceaccount=team:manager",
    ])
    .await;
    let data = k
        .ok(&[
            "get",
            "configmap",
            "settings",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.mode}",
        ])
        .await;
    assert_eq!(data, "fast");
    let secret = k
        .ok(&[
            "get",
            "secret",
            "creds",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.user}",
        ])
        .await;
    assert_eq!(secret, "cHc=");
    let rules = k
        .ok(&[
            "get",
            "role",
            "reader",
            "-n",
            "team",
            "-o",
            "jsonpath={.rules[0].verbs}",
        ])
        .await;
    assert_eq!(rules, r#"["get","list"]"#);
    let subject = k
        .ok(&[
            "get",
            "rolebinding",
            "reader",
            "-n",
            "team",
            "-o",
            "jsonpath={.subjects[0].name}",
        ])
        .await;
    assert_eq!(subject, "manager");
    assert_eq!(
        k.ok(&["auth", "can-i", "delete", "nodes"]).await.trim(),
        "yes"
    );
}

#[tokio::test]
async fn kubectl_as_impersonates_a_service_account_under_rbac() {
    let Some(k) = Kubectl::start_with(capp_testenv::Config::default().with_rbac(true)).await else {
        return;
    };
    k.ok(&["create", "namespace", "team"]).await;
    let sa = "--as=system:serviceaccount:team:manager";
    let (allowed, out, _) = k
        .run(&["auth", "can-i", "list", "configmaps", "-n", "team", sa])
        .await;
    assert!(!allowed && out.trim() == "no", "{out}");
    let (ok, _, err) = k.run(&["get", "configmaps", "-n", "team", sa]).await;
    assert!(!ok && err.contains("Forbidden"), "{err}");
    k.ok(&[
        "create",
        "role",
        "reader",
        "-n",
        "team",
        "--verb=list",
        "--resource=configmaps",
    ])
    .await;
    k.ok(&[
        "create",
        "rolebinding",
        "reader",
        "-n",
        "team",
        "--role=reader",
        "--serviceaccount=team:manager",
    ])
    .await;
    assert_eq!(
        k.ok(&["auth", "can-i", "list", "configmaps", "-n", "team", sa])
            .await
            .trim(),
        "yes"
    );
    k.ok(&["get", "configmaps", "-n", "team", sa]).await;
    let (allowed, out, _) = k
        .run(&["auth", "can-i", "delete", "configmaps", "-n", "team", sa])
        .await;
    assert!(!allowed && out.trim() == "no", "{out}");
}

#[tokio::test]
async fn kubectl_apply_rejects_unknown_and_mistyped_fields_of_built_in_kinds() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let typo = k.write(
        "typo.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\ndatta: {x: y}\n",
    );
    let (ok, _, err) = k.run(&["apply", "-f", &typo]).await;
    assert!(!ok && err.contains("unknown field \"datta\""), "{err}");
    let (ok, out, err) = k.run(&["apply", "--validate=false", "-f", &typo]).await;
    assert!(ok, "{err}");
    assert!(out.contains("configmap/c created"), "{out}");
    let stored = k
        .ok(&["get", "configmap", "c", "-o", "jsonpath={.datta}|{.data.a}"])
        .await;
    assert_eq!(stored, "|b", "unknown fields are dropped");
    let mistyped = k.write(
        "mistyped.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: many, selector: {}, template: {}}\n",
    );
    let (ok, _, err) = k.run(&["apply", "-f", &mistyped]).await;
    assert!(
        !ok && err.contains("cannot be handled as a Deployment"),
        "{err}"
    );
}

#[tokio::test]
async fn kubectl_edit_diff_server_dry_run_and_server_side_apply_work() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let f = k.write("manifest.yaml", MANIFEST);
    let _ = k.run(&["apply", "-f", &f]).await;
    k.ok(&["apply", "-f", &f]).await;
    let mut edit = k.command(&["edit", "configmap", "settings", "-n", "demo"]);
    edit.env("EDITOR", "sed -i s/fast/slow/");
    let out = tokio::time::timeout(Duration::from_secs(60), edit.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = k
        .ok(&[
            "get",
            "configmap",
            "settings",
            "-n",
            "demo",
            "-o",
            "jsonpath={.data.mode}",
        ])
        .await;
    assert_eq!(mode, "slow");

    let changed = k.write("changed.yaml", &MANIFEST.replace("count: 7", "count: 9"));
    let (_, diff, _) = k.run(&["diff", "-f", &changed]).await;
    assert!(
        diff.lines()
            .any(|l| l.trim_start_matches('+').trim() == "count: 9"),
        "{diff}"
    );
    let dry = k.ok(&["apply", "--dry-run=server", "-f", &changed]).await;
    assert!(
        dry.contains("gadget.example.com/g1 configured (server dry run)"),
        "{dry}"
    );
    let count = k
        .ok(&[
            "get",
            "gadget",
            "g1",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.count}",
        ])
        .await;
    assert_eq!(count, "7", "a server dry run stores nothing");

    k.ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &changed,
    ])
    .await;
    let count = k
        .ok(&[
            "get",
            "gadget",
            "g1",
            "-n",
            "demo",
            "-o",
            "jsonpath={.spec.count}",
        ])
        .await;
    assert_eq!(count, "9");
}

#[tokio::test]
async fn kubectl_server_side_apply_reports_conflicts_until_forced() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let v1 = k.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {mode: fast, size: small}\n",
    );
    let out = k.ok(&["apply", "--server-side", "-f", &v1]).await;
    assert!(out.contains("configmap/shared serverside-applied"), "{out}");
    // Another manager takes `mode` with force.
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(k.env.client().unwrap(), "default");
    cms.patch(
        "shared",
        &PatchParams::apply("operator").force(),
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"mode": "slow"}})),
    )
    .await
    .unwrap();
    let v2 = k.write(
        "cm2.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {mode: turbo, size: small}\n",
    );
    let (ok, _, err) = k.run(&["apply", "--server-side", "-f", &v2]).await;
    assert!(!ok, "a conflicting server-side apply fails");
    assert!(
        err.contains("conflict") && err.contains("operator") && err.contains(".data.mode"),
        "{err}"
    );
    let mode = k
        .ok(&["get", "configmap", "shared", "-o", "jsonpath={.data.mode}"])
        .await;
    assert_eq!(mode, "slow", "the conflicting apply changed nothing");
    k.ok(&["apply", "--server-side", "--force-conflicts", "-f", &v2])
        .await;
    let managers = k
        .ok(&[
            "get",
            "configmap",
            "shared",
            "--show-managed-fields",
            "-o",
            "jsonpath={.data.mode} {.metadata.managedFields[*].manager}",
        ])
        .await;
    assert_eq!(
        managers, "turbo kubectl",
        "operator owned only mode, so its entry is gone, as on a real server"
    );
    // Dropping `size` from kubectl's applied configuration removes it.
    let v3 = k.write(
        "cm3.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {mode: turbo}\n",
    );
    k.ok(&["apply", "--server-side", "-f", &v3]).await;
    let data = k
        .ok(&["get", "configmap", "shared", "-o", "jsonpath={.data}"])
        .await;
    assert_eq!(data, r#"{"mode":"turbo"}"#);
}

#[tokio::test]
async fn kubectl_apply_enforces_crd_schemas_strict_fields_and_transition_rules() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let crd = k.write(
        "crd.yaml",
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: zones.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {plural: zones, singular: zone, kind: Zone}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              region:
                type: string
                x-kubernetes-validations:
                - {rule: "self == oldSelf", message: region is immutable}
              size: {type: integer, minimum: 1, default: 3}
"#,
    );
    k.ok(&["apply", "-f", &crd]).await;
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/zones.example.com",
        "--timeout=30s",
    ])
    .await;
    let zone = |name: &str, body: &str| {
        k.write(
            &format!("{name}.yaml"),
            &format!(
                "apiVersion: example.com/v1\nkind: Zone\nmetadata: {{name: z}}\nspec: {body}\n"
            ),
        )
    };
    let typo = zone("typo", "{region: ams, sise: 2}");
    let (ok, _, err) = k.run(&["apply", "-f", &typo]).await;
    assert!(
        !ok && err.contains("unknown field \"spec.sise\""),
        "kubectl validates strictly on the server: {err}"
    );
    let small = zone("small", "{region: ams, size: 0}");
    let (ok, _, err) = k.run(&["apply", "-f", &small]).await;
    assert!(
        !ok && err.contains("spec.size") && err.contains("should be greater than or equal to 1"),
        "{err}"
    );
    let good = zone("good", "{region: ams}");
    k.ok(&["apply", "-f", &good]).await;
    let size = k
        .ok(&["get", "zone", "z", "-o", "jsonpath={.spec.size}"])
        .await;
    assert_eq!(size, "3", "defaulted");
    let moved = zone("moved", "{region: fra}");
    let (ok, _, err) = k.run(&["apply", "-f", &moved]).await;
    assert!(
        !ok && err.contains("spec.region") && err.contains("region is immutable"),
        "{err}"
    );
    let (ok, _, err) = k
        .run(&[
            "patch",
            "zone",
            "z",
            "--type=merge",
            "-p",
            r#"{"spec":{"region":"fra"}}"#,
        ])
        .await;
    assert!(!ok && err.contains("region is immutable"), "{err}");
    let region = k
        .ok(&["get", "zone", "z", "-o", "jsonpath={.spec.region}"])
        .await;
    assert_eq!(region, "ams");
}

const INSTALL_RBAC: &str = r"
apiVersion: v1
kind: Namespace
metadata: {name: capp-system}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: manager, namespace: capp-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: manager}
rules:
- {apiGroups: [example.com], resources: [widgets], verbs: [get, list, watch, patch]}
- {apiGroups: [example.com], resources: [widgets/status], verbs: [patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: manager}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: manager}
subjects: [{kind: ServiceAccount, name: manager, namespace: capp-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: leader-election, namespace: capp-system}
rules:
- {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, create, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: leader-election, namespace: capp-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: leader-election}
subjects: [{kind: ServiceAccount, name: manager, namespace: capp-system}]
";

#[tokio::test]
async fn a_service_account_kubeconfig_can_do_exactly_what_the_install_manifest_grants() {
    let Some(k) = Kubectl::start_with(capp_testenv::Config::default().with_rbac(true)).await else {
        return;
    };
    k.env.install_crds(&[support::widget_crd()]).await.unwrap();
    k.env.apply_manifest(INSTALL_RBAC).await.unwrap();
    let sa = k
        .env
        .kubeconfig_for(&capp_testenv::Identity::service_account(
            "capp-system",
            "manager",
        ))
        .unwrap();
    let sa = sa.to_str().unwrap();
    let can_i = async |args: &[&str]| {
        let mut all = vec!["--kubeconfig", sa, "auth", "can-i"];
        all.extend_from_slice(args);
        let (_, out, err) = k.run(&all).await;
        assert!(
            out.trim() == "yes" || out.trim() == "no",
            "{args:?}: {out} {err}"
        );
        out.trim() == "yes"
    };
    let granted: [&[&str]; 5] = [
        &["get", "widgets.example.com", "-n", "default"],
        &["watch", "widgets.example.com", "--all-namespaces"],
        &[
            "patch",
            "widgets.example.com",
            "--subresource=status",
            "-n",
            "x",
        ],
        &["create", "leases.coordination.k8s.io", "-n", "capp-system"],
        &["update", "leases.coordination.k8s.io", "-n", "capp-system"],
    ];
    for args in granted {
        assert!(can_i(args).await, "granted: {args:?}");
    }
    let denied: [&[&str]; 6] = [
        &["delete", "widgets.example.com", "-n", "default"],
        &["create", "widgets.example.com", "-n", "default"],
        &[
            "update",
            "widgets.example.com",
            "--subresource=status",
            "-n",
            "x",
        ],
        &["create", "leases.coordination.k8s.io", "-n", "default"],
        &["list", "configmaps", "-n", "capp-system"],
        &["list", "secrets", "--all-namespaces"],
    ];
    for args in denied {
        assert!(!can_i(args).await, "denied: {args:?}");
    }

    can_i_list_shows_the_rules_of_each_namespace(&k, sa).await;

    // The same kubeconfig, used for real requests.
    let (ok, out, err) = k.run(&["--kubeconfig", sa, "get", "widgets", "-A"]).await;
    assert!(ok, "{out} {err}");
    let (ok, _, err) = k
        .run(&["--kubeconfig", sa, "get", "configmaps", "-n", "capp-system"])
        .await;
    assert!(
        !ok && err.contains(
            "User \"system:serviceaccount:capp-system:manager\" cannot list resource \"configmaps\""
        ),
        "{err}"
    );
    let (ok, _, err) = k
        .run(&["--kubeconfig", sa, "delete", "namespace", "default"])
        .await;
    assert!(!ok && err.contains("Forbidden"), "{err}");

    manager_through_kube(&k.env).await;
}

/// The install manifest's service account through kube: watching widgets is allowed, leases
/// only in capp-system.
async fn manager_through_kube(env: &TestEnv) {
    let client = env
        .client_for(&capp_testenv::Identity::service_account(
            "capp-system",
            "manager",
        ))
        .unwrap();
    let lease = |ns: &str| {
        let api: Api<k8s_openapi::api::coordination::v1::Lease> =
            Api::namespaced(client.clone(), ns);
        async move {
            api.create(
                &kube::api::PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "leader"}})).unwrap(),
            )
            .await
        }
    };
    lease("capp-system").await.unwrap();
    let err = lease("default").await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 403 && s.reason == "Forbidden"),
        "{err:?}"
    );
    let widgets: Api<DynamicObject> = Api::all_with(
        client,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", "v1", "Widget"),
            "widgets",
        ),
    );
    let _stream = widgets
        .watch(&kube::api::WatchParams::default().timeout(1), "0")
        .await
        .expect("the manager may watch widgets");
}

/// `kubectl auth can-i --list` (a SelfSubjectRulesReview) shows the rules of each namespace.
async fn can_i_list_shows_the_rules_of_each_namespace(k: &Kubectl, sa: &str) {
    let list = |ns: &'static str| {
        let sa = sa.to_owned();
        async move {
            k.ok(&["--kubeconfig", &sa, "auth", "can-i", "--list", "-n", ns])
                .await
        }
    };
    let in_system = list("capp-system").await;
    let rows = |out: &str, resource: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(resource))
            .map(|l| l.split_whitespace().skip(3).collect::<Vec<_>>().join(" "))
    };
    assert_eq!(
        rows(&in_system, "widgets.example.com").as_deref(),
        Some("[get list watch patch]"),
        "{in_system}"
    );
    assert_eq!(
        rows(&in_system, "leases.coordination.k8s.io").as_deref(),
        Some("[get create update]"),
        "{in_system}"
    );
    let in_default = list("default").await;
    assert!(
        rows(&in_default, "leases.coordination.k8s.io").is_none()
            && rows(&in_default, "widgets.example.com").is_some(),
        "{in_default}"
    );
}

#[tokio::test]
async fn kubectl_scales_a_custom_resource_and_shows_events_recorded_through_events_k8s_io() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let mut crd = support::widget_crd();
    crd["spec"]["versions"][0]["subresources"]["scale"] = serde_json::json!({"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.observed"});
    k.env.install_crds(&[crd]).await.unwrap();
    k.env
        .apply_manifest("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\nspec: {size: 1}\n")
        .await
        .unwrap();
    let out = k.ok(&["scale", "widget/w", "--replicas=3"]).await;
    assert!(out.contains("scaled"), "{out}");
    let size = k
        .ok(&["get", "widget", "w", "-o", "jsonpath={.spec.size}"])
        .await;
    assert_eq!(size.trim(), "3");
    // An event written as events.k8s.io/v1 (what kube-runtime's recorder writes) is listed by
    // `kubectl get events`, which reads core v1 Events.
    k.env
        .apply_manifest(
            "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: w.1, namespace: default}\n\
             eventTime: \"2026-12-02T10:00:00.000000Z\"\nreportingController: capp\nreportingInstance: capp-0\n\
             action: Reconcile\nreason: Scaled\ntype: Normal\nnote: Scaled to three\n\
             regarding: {apiVersion: example.com/v1, kind: Widget, name: w, namespace: default}\n",
        )
        .await
        .unwrap();
    let events = k.ok(&["get", "events", "-n", "default"]).await;
    assert!(events.contains("Scaled to three"), "{events}");
}
