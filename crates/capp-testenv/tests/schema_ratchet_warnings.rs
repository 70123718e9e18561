//! Ratcheting through the server, seen by the real `kubectl`: a value that a new CEL rule
//! rejects may stay while an update leaves it unchanged, and kubectl prints the rule failure as a
//! `Warning:`; changing the value to another failing one is refused.
//!
//! Skips loudly when kubectl is missing; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::process::Stdio;
use std::time::Duration;

use capp_testenv::{Config, TestEnv};
use serde_json::{Value, json};

fn gadget_crd(with_rule: bool) -> Value {
    // The rule sits on `spec.name` itself: ratcheting is per value, so it only lets through a
    // value that did not change (a rule on `spec` would see `spec` change with any update).
    let mut name = json!({"type": "string"});
    if with_rule {
        name["x-kubernetes-validations"] =
            json!([{"rule": "!self.matches('[A-Z]')", "message": "name must be lowercase"}]);
    }
    let spec = json!({
        "type": "object",
        "properties": {"name": name, "size": {"type": "integer"}}
    });
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec}}}}]
        }
    })
}

async fn kubectl(
    bin: &std::path::Path,
    env: &TestEnv,
    home: &std::path::Path,
    args: &[&str],
) -> (bool, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(bin)
            .arg("--kubeconfig")
            .arg(env.kubeconfig_path())
            .arg("--cache-dir")
            .arg(home)
            .args(args)
            .env("HOME", home)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("kubectl finishes within 60s")
    .expect("kubectl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test]
async fn unchanged_values_failing_a_new_rule_are_kept_with_a_warning_and_changed_ones_refused() {
    let bin = support::kubectl_path();
    if !support::require("kubectl", bin.is_some()) {
        return;
    }
    let bin = bin.unwrap();
    let env = TestEnv::start(Config::default()).await.unwrap();
    let home = std::env::temp_dir().join(format!(
        "capp-testenv-ratchet-{}-{}",
        std::process::id(),
        env.url().rsplit(':').next().unwrap_or_default()
    ));
    std::fs::create_dir_all(&home).unwrap();

    env.install_crds(&[gadget_crd(false)]).await.unwrap();
    let manifest = home.join("g.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\nspec:\n  name: UPPER\n  size: 1\n",
    )
    .unwrap();
    let (ok, out) = kubectl(
        &bin,
        &env,
        &home,
        &["apply", "-f", manifest.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{out}");

    // The rule arrives after the object: the stored value now fails it.
    env.install_crds(&[gadget_crd(true)]).await.unwrap();

    let (ok, out) = kubectl(
        &bin,
        &env,
        &home,
        &[
            "patch",
            "gadget",
            "g",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":2}}"#,
        ],
    )
    .await;
    assert!(
        ok,
        "an update that keeps the failing value is allowed: {out}"
    );
    assert!(
        out.contains(r#"Warning: spec.name: Invalid value: "UPPER": name must be lowercase"#),
        "the ratcheted failure is reported as a warning: {out}"
    );

    let (ok, out) = kubectl(
        &bin,
        &env,
        &home,
        &[
            "patch",
            "gadget",
            "g",
            "--type=merge",
            "-p",
            r#"{"spec":{"name":"ALSO"}}"#,
        ],
    )
    .await;
    assert!(
        !ok,
        "changing the value to another failing one is refused: {out}"
    );
    assert!(out.contains("name must be lowercase"), "{out}");

    let _ = std::fs::remove_dir_all(&home);
    env.shutdown().await;
}
