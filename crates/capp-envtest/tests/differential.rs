//! Differential fidelity check of capp-testenv: one suite of requests (kube-rs and the real
//! kubectl: CRUD, server-side apply with two managers and conflicts, the status subresource,
//! finalizers and deletion, garbage collection, resourceVersion conflicts and watches from a
//! version, selectors, CEL and schema errors, RBAC denials) runs against the real
//! kube-apiserver v1.36 (with kube-controller-manager's garbage collector) and against
//! capp-testenv, and the answers are compared after normalising what legitimately differs
//! (uids, timestamps, resourceVersions, kubectl's AGE column).
//!
//! Every case whose answers differ must be listed in [`KNOWN_DIFFERENCES`] with its reason
//! (and in docs/testenv.md, "Differences found by the differential suite"); an unlisted
//! difference fails the test, and so does a listed case that no longer differs (the table and
//! the document must stay true). Prints `testenv agreement: N/M cases identical`.
//!
//! Skips loudly without the upstream binaries or kubectl; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    clippy::print_stdout,
    reason = "integration tests and their helpers fail by panicking; the figure is printed"
)]

#[path = "support/cases.rs"]
mod cases;
#[path = "support/common.rs"]
mod common;
#[path = "support/target.rs"]
mod target;

use std::collections::BTreeSet;

use capp_envtest::{Binaries, ControlPlane, ControlPlaneOptions};
use capp_testenv::{Config, Identity, TestEnv};
use serde_json::Value;
use target::Target;

/// A case whose answers differ, the leaves that differ (paths as [`differences`] prints them)
/// and why. Keep in step with docs/testenv.md ("Differences found by the differential suite").
struct Known {
    case: &'static str,
    paths: &'static [&'static str],
    reason: &'static str,
}

const KNOWN_DIFFERENCES: &[Known] = &[
    Known {
        case: "json-patch-test-failure",
        paths: &[
            "[0].details.kind",
            "[0].details.name",
            "[0].message",
            "[1].details.kind",
            "[1].details.name",
            "[1].message",
        ],
        reason: "a JSON patch whose test op fails or whose path is missing: kube-apiserver answers with only the generic message and no details; capp-testenv appends the patch error and names the object",
    },
    Known {
        case: "label-and-field-selectors",
        paths: &["[9].message", "[10].message"],
        reason: "the wording of the errors for an unsupported field selector and an unparsable label selector",
    },
    Known {
        case: "ssa-two-managers-conflict",
        paths: &["[1].details.kind", "[1].details.name"],
        reason: "the 409 of an apply conflict: capp-testenv adds details.kind and details.name; kube-apiserver sends only the causes",
    },
    Known {
        case: "finalizers-and-deletion",
        paths: &["[2].details.causes", "[2].message"],
        reason: "adding a finalizer while deleting: kube-apiserver reports the cause twice (an upstream duplicate) and prints the finalizers Go-style ([]string{\"example.com/new\"}), capp-testenv once and JSON-style",
    },
    Known {
        case: "kubectl-create-invalid",
        paths: &["[1].stderr"],
        reason: "strict decoding errors: kube-apiserver says 'Gadget in version \"v1\" cannot be handled as a Gadget: strict decoding error: ...', capp-testenv 'Gadget.example.com \"g\": strict decoding error: ...'",
    },
];

/// Every leaf that differs between the two transcripts: its path (`[step].field...`) and a
/// line showing both values.
fn differences(real: &[Value], ours: &[Value]) -> Vec<(String, String)> {
    fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<(String, String)>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let null = Value::Null;
                    let (a, b) = (x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null));
                    walk(&format!("{path}.{k}"), a, b, out);
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (n, (a, b)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{path}[{n}]"), a, b, out);
                }
            }
            _ if a == b => {}
            _ => out.push((
                path.to_owned(),
                format!("  {path}:\n    kube-apiserver: {a}\n    capp-testenv:   {b}"),
            )),
        }
    }
    let mut out = Vec::new();
    let (real, ours) = (Value::from(real.to_vec()), Value::from(ours.to_vec()));
    walk("", &real, &ours, &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capp_testenv_answers_like_the_real_kube_apiserver() {
    let Some(bins) = Binaries::require() else {
        return;
    };
    if !common::require_kubectl() {
        return;
    }
    let cp = ControlPlane::start(&bins, ControlPlaneOptions::default())
        .await
        .unwrap();
    let env = TestEnv::start(Config::default().with_rbac(true))
        .await
        .unwrap();
    let alice = Identity::user("alice", &[]);
    let real = Target {
        name: "kube-apiserver",
        admin: cp.client(),
        kubeconfig: cp.kubeconfig_path().to_owned(),
        alice: cp.client_for("alice", None).await.unwrap(),
        alice_kubeconfig: cp.kubeconfig_for("alice", None).unwrap(),
    };
    let ours = Target {
        name: "capp-testenv",
        admin: env.client().unwrap(),
        kubeconfig: env.kubeconfig_path().to_owned(),
        alice: env.client_for(&alice).unwrap(),
        alice_kubeconfig: env.kubeconfig_for(&alice).unwrap(),
    };
    for t in [&real, &ours] {
        t.install_gadget_crd().await;
    }

    let mut identical = 0;
    let mut failures = Vec::new();
    for (n, case) in cases::CASES.iter().enumerate() {
        let ns = format!("diff-{n}");
        let mut transcripts = Vec::new();
        for t in [&real, &ours] {
            t.create_namespace(&ns).await;
            transcripts.push(cases::run(case, t, &ns).await);
        }
        let diffs = differences(&transcripts[0], &transcripts[1]);
        let known = KNOWN_DIFFERENCES.iter().find(|k| k.case == *case);
        let listed: Vec<&str> = known.map(|k| k.paths.to_vec()).unwrap_or_default();
        let unlisted: Vec<&str> = diffs
            .iter()
            .filter(|(path, _)| !listed.contains(&path.as_str()))
            .map(|(_, line)| line.as_str())
            .collect();
        let gone: Vec<&&str> = listed
            .iter()
            .filter(|path| !diffs.iter().any(|(p, _)| p == *path))
            .collect();
        if diffs.is_empty() {
            identical += 1;
            println!("identical  {case}");
        } else {
            let why = known.map_or(String::new(), |k| format!(" (known: {})", k.reason));
            println!("DIFFERENT  {case}{why}");
            for (_, line) in &diffs {
                println!("{line}");
            }
        }
        if !unlisted.is_empty() {
            failures.push(format!(
                "{case}: differences not listed in KNOWN_DIFFERENCES:\n{}",
                unlisted.join("\n")
            ));
        }
        if !gone.is_empty() {
            failures.push(format!(
                "{case}: listed differences no longer occur ({gone:?}): update KNOWN_DIFFERENCES and docs/testenv.md"
            ));
        }
    }
    println!(
        "testenv agreement: {identical}/{} cases identical",
        cases::CASES.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    env.shutdown().await;
    cp.shutdown();
}
