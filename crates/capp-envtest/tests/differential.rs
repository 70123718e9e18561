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

use capp_envtest::{Binaries, ControlPlane, ControlPlaneOptions};
use capp_testenv::{Config, Identity, TestEnv};
use serde_json::Value;
use target::Target;

/// Cases whose answers differ between capp-testenv and kube-apiserver, with the reason.
/// Keep in step with docs/testenv.md ("Differences found by the differential suite").
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

/// The first step whose observations differ, both sides pretty-printed.
fn first_difference(real: &[Value], ours: &[Value]) -> String {
    for n in 0..real.len().max(ours.len()) {
        let (a, b) = (real.get(n), ours.get(n));
        if a != b {
            let show = |v: Option<&Value>| {
                v.map_or_else(
                    || "(nothing)".to_owned(),
                    |v| serde_json::to_string_pretty(v).unwrap(),
                )
            };
            return format!(
                "step {n}:\n  kube-apiserver: {}\n  capp-testenv:   {}",
                show(a),
                show(b)
            );
        }
    }
    String::new()
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
        let same = transcripts[0] == transcripts[1];
        let known = KNOWN_DIFFERENCES.iter().find(|(name, _)| name == case);
        match (same, known) {
            (true, None) => {
                identical += 1;
                println!("identical  {case}");
            }
            (false, Some((_, reason))) => println!("known diff {case}: {reason}"),
            (false, None) => {
                let diff = first_difference(&transcripts[0], &transcripts[1]);
                println!("DIFFERENT  {case}\n{diff}");
                failures.push(format!(
                    "{case} differs and is not listed in KNOWN_DIFFERENCES:\n{diff}"
                ));
            }
            (true, Some(_)) => {
                identical += 1;
                println!("identical  {case} (listed as a known difference)");
                failures.push(format!(
                    "{case} is identical now: remove it from KNOWN_DIFFERENCES and docs/testenv.md"
                ));
            }
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
