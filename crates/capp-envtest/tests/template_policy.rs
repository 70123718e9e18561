//! Template immutability through the shipped ValidatingAdmissionPolicy, with the real
//! `kubectl`, on capp-testenv and on the real kube-apiserver v1.36: the generated
//! `infrastructure-components.yaml` (variables substituted) is applied, then in-place edits of
//! a PacketMachineTemplate and a PacketClusterTemplate are tried the ways users and Cluster
//! API's topology controller make them. Both servers must give the same verdicts and the same
//! messages.
//!
//! The real server gets the components as shipped, with the CRDs' conversion webhook pointed
//! at capp's webhook server (`capp_reconcile::webhook`, in this process) on a local port
//! (`capp_envtest::webhook::LocalConversion`, standing in for cert-manager and cluster DNS).
//! capp-testenv does not call conversion webhooks: it gets the v1beta1-only CRDs of
//! `capp_api::crds()` (whose v1beta1 schema is the shipped CRDs' v1beta1 version) and no
//! cert-manager objects.
//!
//! Skips loudly without kubectl (or, for the real server, without the upstream binaries);
//! fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use capp_envtest::{Binaries, ControlPlane, ControlPlaneOptions, kubectl};
use common::{kubectl_ok, require_kubectl, scratch};
use serde_json::{Value, json};

/// CAPI's annotation on the topology controller's dry-run requests (`util/topology`).
const DRY_RUN_ANNOTATION: &str = "topology.cluster.x-k8s.io/dry-run";

/// How long the real server may take to start enforcing a new policy (its informers).
const POLICY_SYNC: Duration = Duration::from_secs(60);

/// What the server answered to one step.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    /// The step.
    step: &'static str,
    /// Whether kubectl succeeded.
    allowed: bool,
    /// For a refusal, kubectl's error line (empty when allowed).
    message: String,
}

/// The in-place edits, in order: (step, kubectl arguments after `-n default`).
fn steps() -> Vec<(&'static str, Vec<String>)> {
    let spec_edit = |plan: &str| json!({"spec": {"template": {"spec": {"machineType": plan}}}});
    let annotated = |mut patch: Value| {
        patch["metadata"] = json!({"annotations": {DRY_RUN_ANNOTATION: ""}});
        patch
    };
    let patch = |target: &str, body: &Value, extra: &[&str]| {
        let mut args: Vec<String> = ["patch", target, "--type=merge", "-p", &body.to_string()]
            .iter()
            .map(ToString::to_string)
            .collect();
        args.extend(extra.iter().map(ToString::to_string));
        args
    };
    let pmt = "packetmachinetemplate/workers";
    let pct = "packetclustertemplate/cluster";
    vec![
        (
            "in-place edit of spec.template.spec",
            patch(pmt, &spec_edit("m3.large.x86"), &[]),
        ),
        (
            "topology dry run (dry run + annotation)",
            patch(
                pmt,
                &annotated(spec_edit("m3.large.x86")),
                &["--dry-run=server"],
            ),
        ),
        (
            "dry run without the annotation",
            patch(pmt, &spec_edit("m3.large.x86"), &["--dry-run=server"]),
        ),
        (
            "annotation without dry run",
            patch(pmt, &annotated(spec_edit("m3.large.x86")), &[]),
        ),
        (
            "labels and annotations of the template",
            patch(
                pmt,
                &json!({"metadata": {"labels": {"team": "b"}, "annotations": {"note": "x"}}}),
                &[],
            ),
        ),
        (
            "spec.template.metadata",
            patch(
                pmt,
                &json!({"spec": {"template": {"metadata": {"labels": {"pool": "b"}}}}}),
                &[],
            ),
        ),
        (
            "in-place edit of a cluster template",
            patch(
                pct,
                &json!({"spec": {"template": {"spec": {"metro": "sv"}}}}),
                &[],
            ),
        ),
        (
            // projectID is immutable on a PacketCluster, not inside a template.
            "topology dry run changing the template's projectID",
            patch(
                pct,
                &annotated(json!({"spec": {"template": {"spec": {
                    "projectID": "00000000-1111-2222-3333-444444444444"}}}})),
                &["--dry-run=server"],
            ),
        ),
    ]
}

/// The two templates the steps edit.
fn templates() -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": [
        {
            "apiVersion": capp_api::API_VERSION, "kind": "PacketMachineTemplate",
            "metadata": {"name": "workers", "namespace": "default"},
            "spec": {"template": {"spec": {
                "os": "ubuntu_24_04", "machineType": "c3.small.x86", "billingCycle": "hourly"}}},
        },
        {
            "apiVersion": capp_api::API_VERSION, "kind": "PacketClusterTemplate",
            "metadata": {"name": "cluster", "namespace": "default"},
            "spec": {"template": {"spec": {
                "projectID": "7f1e8d3c-5b0a-4c6e-9f21-3d4a5b6c7d8e", "metro": "da"}}},
        },
    ]})
}

/// Applies the components, creates the templates, waits for the policy to be enforced, runs
/// every step and returns what the server answered, plus the stored machine template.
async fn run_scenario(kubeconfig: &Path, components: Vec<Value>) -> (Vec<Outcome>, Value) {
    let components = capp_components::to_yaml(&components).unwrap();
    let values = BTreeMap::from([("PACKET_API_KEY".to_owned(), "not-a-real-token".to_owned())]);
    let components = capp_components::variables::substitute(&components, &values).unwrap();
    let file = scratch(kubeconfig, "infrastructure-components.yaml");
    std::fs::write(&file, components).unwrap();
    kubectl_ok(kubeconfig, &["apply", "-f", file.to_str().unwrap()], None).await;
    kubectl_ok(
        kubeconfig,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/packetmachinetemplates.infrastructure.cluster.x-k8s.io",
            "crd/packetclustertemplates.infrastructure.cluster.x-k8s.io",
        ],
        None,
    )
    .await;
    let file = scratch(kubeconfig, "templates.json");
    std::fs::write(&file, templates().to_string()).unwrap();
    // The CRDs' REST endpoints may lag their Established condition on the real server.
    retry_until_ok(kubeconfig, &["create", "-f", file.to_str().unwrap()]).await;

    let steps = steps();
    // The real server enforces a new policy once its informers have it: probe with the
    // side-effect-free step until it is refused.
    let probe = &steps[2].1;
    let started = Instant::now();
    loop {
        let outcome = run_step("probe", kubeconfig, probe).await;
        if !outcome.allowed {
            break;
        }
        assert!(
            started.elapsed() < POLICY_SYNC,
            "the policy is not enforced after {POLICY_SYNC:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut outcomes = Vec::new();
    for (step, args) in &steps {
        outcomes.push(run_step(step, kubeconfig, args).await);
    }
    let stored: Value = serde_json::from_str(
        &kubectl_ok(
            kubeconfig,
            &[
                "get",
                "packetmachinetemplate/workers",
                "-n",
                "default",
                "-o",
                "json",
            ],
            None,
        )
        .await,
    )
    .unwrap();
    (outcomes, stored)
}

async fn retry_until_ok(kubeconfig: &Path, args: &[&str]) {
    let started = Instant::now();
    loop {
        let out = kubectl(kubeconfig, args, None).await.expect("kubectl runs");
        if out.success {
            return;
        }
        assert!(
            started.elapsed() < POLICY_SYNC,
            "kubectl {args:?} kept failing: {}",
            out.stderr
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn run_step(step: &'static str, kubeconfig: &Path, args: &[String]) -> Outcome {
    let mut full: Vec<&str> = vec!["-n", "default"];
    full.extend(args.iter().map(String::as_str));
    let out = kubectl(kubeconfig, &full, None)
        .await
        .expect("kubectl runs");
    Outcome {
        step,
        allowed: out.success,
        message: if out.success {
            String::new()
        } else {
            out.stderr.trim().to_owned()
        },
    }
}

/// The verdicts both servers must give, and the refusal's wording.
fn assert_expected(outcomes: &[Outcome], stored: &Value, server: &str) {
    let expected = [
        ("in-place edit of spec.template.spec", false),
        ("topology dry run (dry run + annotation)", true),
        ("dry run without the annotation", false),
        ("annotation without dry run", false),
        ("labels and annotations of the template", true),
        ("spec.template.metadata", true),
        ("in-place edit of a cluster template", false),
        ("topology dry run changing the template's projectID", true),
    ];
    let got: Vec<(&str, bool)> = outcomes.iter().map(|o| (o.step, o.allowed)).collect();
    assert_eq!(got, expected, "{server}: {outcomes:#?}");
    for o in outcomes.iter().filter(|o| !o.allowed) {
        let kind = if o.step.contains("cluster template") {
            "PacketClusterTemplate"
        } else {
            "PacketMachineTemplate"
        };
        let wanted = format!(
            "ValidatingAdmissionPolicy '{name}' with binding '{name}' denied request: {kind} {}",
            capp_api::policy::IMMUTABLE_TEMPLATE_MESSAGE,
            name = capp_api::policy::POLICY_NAME,
        );
        assert!(
            o.message.contains(&wanted),
            "{server}: {}: the refusal says what to do instead: {}",
            o.step,
            o.message
        );
    }
    let spec = &stored["spec"]["template"];
    assert_eq!(
        spec["spec"]["machineType"], "c3.small.x86",
        "{server}: no refused edit or dry run was stored"
    );
    assert_eq!(spec["metadata"]["labels"]["pool"], "b", "{server}");
    assert_eq!(stored["metadata"]["labels"]["team"], "b", "{server}");
    assert!(
        stored["metadata"]["annotations"]
            .get(DRY_RUN_ANNOTATION)
            .is_none(),
        "{server}: the dry run stored nothing"
    );
}

/// capp-testenv with `kubectl`, or `None` after a loud skip message.
async fn testenv_outcomes() -> Option<(Vec<Outcome>, Value)> {
    if !require_kubectl() {
        return None;
    }
    let env = capp_testenv::TestEnv::start(capp_testenv::Config::default())
        .await
        .expect("capp-testenv starts");
    let result = run_scenario(env.kubeconfig_path(), testenv_components()).await;
    env.shutdown().await;
    Some(result)
}

/// The shipped components for capp-testenv, which calls no conversion webhook: the
/// v1beta1-only CRDs (labelled as shipped) in place of the two-version ones, and no
/// cert-manager objects.
fn testenv_components() -> Vec<Value> {
    let shipped =
        capp_components::components::components(&capp_components::Release::default()).unwrap();
    let mut out = Vec::new();
    for object in shipped {
        if object["kind"] == "CustomResourceDefinition" {
            let name = &object["metadata"]["name"];
            let mut crd = capp_api::crds()
                .into_iter()
                .map(|c| serde_json::to_value(c).unwrap())
                .find(|c| &c["metadata"]["name"] == name)
                .unwrap();
            crd["metadata"]["labels"] = object["metadata"]["labels"].clone();
            out.push(crd);
        } else if !object["apiVersion"]
            .as_str()
            .unwrap()
            .starts_with("cert-manager.io/")
        {
            out.push(object);
        }
    }
    out
}

/// The shipped components wired to capp's conversion webhook, served by this process on
/// `local`'s port; the server stops when the returned sender is dropped.
async fn serve_conversion(
    local: &capp_envtest::webhook::LocalConversion,
) -> tokio::sync::oneshot::Sender<()> {
    let options = capp_reconcile::webhook::WebhookOptions {
        address: std::net::SocketAddr::from(([127, 0, 0, 1], local.port)),
        cert_dir: local.certs.dir().to_owned(),
        reload_interval: capp_reconcile::webhook::DEFAULT_RELOAD_INTERVAL,
    };
    let server = capp_reconcile::webhook::WebhookServer::bind(
        &options,
        std::sync::Arc::new(capp_reconcile::metrics::Metrics::default()),
    )
    .await
    .expect("the conversion webhook serves");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    stop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capp_testenv_enforces_the_template_policy_through_kubectl() {
    let Some((outcomes, stored)) = testenv_outcomes().await else {
        return;
    };
    assert_expected(&outcomes, &stored, "capp-testenv");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_apiserver_enforces_the_template_policy_as_capp_testenv_does() {
    let Some(bins) = Binaries::require() else {
        return;
    };
    let Some((ours, _)) = testenv_outcomes().await else {
        return;
    };
    let cp = ControlPlane::start(
        &bins,
        ControlPlaneOptions::default().with_controller_manager(false),
    )
    .await
    .expect("the control plane starts");
    let local = capp_envtest::webhook::LocalConversion::new().unwrap();
    let _webhook = serve_conversion(&local).await;
    let shipped =
        capp_components::components::components(&capp_components::Release::default()).unwrap();
    let (real, stored) = run_scenario(cp.kubeconfig_path(), local.wire(shipped)).await;
    cp.shutdown();
    assert_expected(&real, &stored, "kube-apiserver");
    assert_eq!(
        ours.iter().map(denial).collect::<Vec<_>>(),
        real.iter().map(denial).collect::<Vec<_>>(),
        "capp-testenv and kube-apiserver answer every step alike"
    );
    for o in &real {
        if !o.allowed {
            // The real server names the object (`details`) and puts the denial in a cause.
            let kind = o.message.split_whitespace().nth(1).unwrap_or_default();
            assert!(
                o.message.starts_with(&format!("The {kind} "))
                    && o.message.contains(" is invalid: : "),
                "{}: {}",
                o.step,
                o.message
            );
        }
    }
}

/// A step's verdict and the policy's denial text, from `ValidatingAdmissionPolicy '...'` on.
///
/// Known difference: kubectl prints the real server's refusal as `The packetmachinetemplates
/// "workers" is invalid: : ValidatingAdmissionPolicy ...` (the status carries the object's
/// name and kind in `details` and the denial as a cause) and capp-testenv's as `The request
/// is invalid: ValidatingAdmissionPolicy ...` (no `details`); the denial itself is identical.
fn denial(o: &Outcome) -> (&'static str, bool, String) {
    let text = o
        .message
        .find("ValidatingAdmissionPolicy '")
        .map_or_else(|| o.message.clone(), |at| o.message[at..].to_owned());
    (o.step, o.allowed, text)
}
