//! End to end with the real `kubectl`: the Go provider's (CAPP v0.9.0) cluster templates, as
//! `clusterctl generate cluster` renders them, are applied UNCHANGED with `kubectl apply -f`
//! (client-side and `--server-side`) to capp-testenv serving our Packet CRDs next to the
//! Cluster API CRDs (capi-types' and, when `../shared` is present, the upstream CAPI v1.10
//! ones). Every object is created, nothing is pruned or altered except the documented
//! defaults, re-applying changes nothing, and the objects are stored exactly as the Go
//! provider's own CRDs store them. The printer columns render, the immutability rules answer
//! through kubectl (PacketCluster projectID/vipManager, a PacketMachine's plan), the
//! controller's writes (controlPlaneEndpoint, providerID, status) are accepted, and the one
//! deliberate difference, in-place template edits, is pinned.
//!
//! The fixtures in `tests/fixtures/go-templates/` are rendered templates: clusterctl replaces
//! every `${VAR}` / `${VAR:=default}` with its value (envsubst), turns the `$${VAR}` escape
//! into `${VAR}`, sets `metadata.namespace` to the target namespace and prints keys sorted;
//! the Go-template parts (`{{ .apiKey }}`, `{{ .controlPlaneEndpoint }}`) are left for the
//! provider's own templating at boot time. Each file names the upstream template it mirrors.
//!
//! Skips loudly when kubectl (or, for the upstream-CRD test, `../shared`) is missing; fails
//! instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/shared.rs"]
mod shared;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kubectl::{Kubectl, kubectl_name, require_kubectl};
use serde_json::{Value, json};

/// The three flavors of the Go provider's release: default (CPEM), kube-vip and emlb.
const FLAVORS: [&str; 3] = [
    "cluster-template.yaml",
    "cluster-template-kube-vip.yaml",
    "cluster-template-emlb.yaml",
];

/// The upstream CAPI v1.10 CRDs for the kinds the templates use (and their neighbours).
const UPSTREAM_CAPI_CRDS: [&str; 8] = [
    "cluster.x-k8s.io_clusters.yaml",
    "cluster.x-k8s.io_machines.yaml",
    "cluster.x-k8s.io_machinesets.yaml",
    "cluster.x-k8s.io_machinedeployments.yaml",
    "bootstrap.cluster.x-k8s.io_kubeadmconfigs.yaml",
    "bootstrap.cluster.x-k8s.io_kubeadmconfigtemplates.yaml",
    "controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml",
    "controlplane.cluster.x-k8s.io_kubeadmcontrolplanetemplates.yaml",
];

/// A field the API server adds to the templates' objects on create (a CRD `default`).
/// Anything else that appears, or any input field that is missing or different, fails.
struct ServerDefault {
    kind: &'static str,
    path: &'static str,
    value: &'static str,
    /// Only our PacketCluster CRD has it (a field the Go CRDs do not know).
    ours_only: bool,
}

const DOCUMENTED_DEFAULTS: &[ServerDefault] = &[
    // Ours: the Go provider's behaviour (keep the Elastic IP), see PacketClusterSpec.
    ServerDefault {
        kind: "PacketCluster",
        path: "spec.elasticIPReclaimPolicy",
        value: r#""Retain""#,
        ours_only: true,
    },
    // Upstream CAPI v1.10's CRD default (controlplane.cluster.x-k8s.io_kubeadmcontrolplanes,
    // v1beta1), which capi-types reproduces; the Go provider's users got it too.
    ServerDefault {
        kind: "KubeadmControlPlane",
        path: "spec.rolloutStrategy",
        value: r#"{"rollingUpdate":{"maxSurge":1},"type":"RollingUpdate"}"#,
        ours_only: false,
    },
];

/// The Go provider's CRDs (CAPP v0.9.0; it has no PacketClusterTemplate).
const GO_PACKET_CRDS: [&str; 3] = [
    "infrastructure.cluster.x-k8s.io_packetclusters.yaml",
    "infrastructure.cluster.x-k8s.io_packetmachines.yaml",
    "infrastructure.cluster.x-k8s.io_packetmachinetemplates.yaml",
];

/// CRD files from `../shared/specs/<dir>`, or `None` (after a loud message) when missing.
fn shared_crds(dir: &str, files: &[&str]) -> Option<Vec<Value>> {
    let dir = shared::specs_dir(dir)?;
    Some(
        files
            .iter()
            .map(|file| {
                let path = dir.join(file);
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            })
            .collect(),
    )
}

/// Which CRDs the server serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum World {
    /// `capp_api::crds()` and `capi_types::crds()`: this project.
    Ours,
    /// `capp_api::crds()` and the upstream CAPI v1.10 CRDs (`../shared/specs/capi-v1.10`).
    UpstreamCapi,
    /// The Go provider's CAPP v0.9.0 CRDs (`../shared/specs/capp-v0.9.0`) and the upstream
    /// CAPI v1.10 CRDs: the management cluster the templates were written for.
    GoProvider,
}

fn fixture_path(flavor: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/go-templates")
        .join(flavor)
}

fn documents(flavor: &str) -> Vec<Value> {
    let path = fixture_path(flavor);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn key_of(doc: &Value) -> (String, String) {
    (
        doc["kind"].as_str().unwrap_or_default().to_owned(),
        doc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// A TestEnv serving our CRDs and a set of CAPI CRDs, and a kubectl pointed at it.
struct Harness {
    kubectl: Kubectl,
    cache: PathBuf,
}

impl Harness {
    async fn start(world: World) -> Option<Self> {
        require_kubectl()?;
        let to_values = |crds: Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>| -> Vec<Value> {
            crds.iter().map(|c| serde_json::to_value(c).unwrap()).collect()
        };
        let (packet_crds, capi_crds) = match world {
            World::Ours => (to_values(capp_api::crds()), to_values(capi_types::crds())),
            World::UpstreamCapi => (
                to_values(capp_api::crds()),
                shared_crds("capi-v1.10", &UPSTREAM_CAPI_CRDS)?,
            ),
            World::GoProvider => (
                shared_crds("capp-v0.9.0", &GO_PACKET_CRDS)?,
                shared_crds("capi-v1.10", &UPSTREAM_CAPI_CRDS)?,
            ),
        };
        let mut crds = packet_crds;
        crds.extend(capi_crds);
        let kubectl = Kubectl::start("capp-api-kubectl-go-templates", &crds).await?;
        let cache = kubectl.dir.clone();
        if world == World::Ours {
            // Our components ship the template immutability policy next to the CRDs.
            let policy = json!({"apiVersion": "v1", "kind": "List",
                                "items": capp_api::policy::objects()});
            let path = cache.join("template-policy.json");
            std::fs::write(&path, policy.to_string()).unwrap();
            kubectl.ok(&["apply", "-f", path.to_str().unwrap()]).await;
        }
        Some(Self { kubectl, cache })
    }

    /// Runs kubectl; returns (success, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        self.kubectl.run(args).await
    }

    /// Runs kubectl and returns stdout, failing the test on a non-zero exit.
    async fn ok(&self, args: &[&str]) -> String {
        self.kubectl.ok(args).await.0
    }

    /// Runs kubectl and returns stderr, failing the test if it succeeds.
    async fn fails(&self, args: &[&str]) -> String {
        self.kubectl.fails(args).await
    }

    async fn get_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["get"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["-o", "json"]);
        let out = self.ok(&full).await;
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {full:?}: {e}\n{out}"))
    }

    /// `kubectl apply -f <flavor>`: asserts every document was reported `created` and
    /// returns the stored objects by (kind, name).
    async fn apply_flavor(&self, flavor: &str) -> BTreeMap<(String, String), Value> {
        let path = fixture_path(flavor);
        let path = path.to_str().unwrap();
        let out = self.ok(&["apply", "-f", path]).await;
        let docs = documents(flavor);
        for doc in &docs {
            let line = format!("{} created", kubectl_name(doc));
            assert!(
                out.lines().any(|l| l == line),
                "{flavor}: kubectl did not report `{line}`:\n{out}"
            );
        }
        assert_eq!(
            out.lines().count(),
            docs.len(),
            "{flavor}: one line per object:\n{out}"
        );
        let list = self.get_json(&["-f", path]).await;
        let items = list["items"].as_array().expect("a List");
        assert_eq!(items.len(), docs.len(), "{flavor}: every object is stored");
        items.iter().map(|o| (key_of(o), o.clone())).collect()
    }
}

/// Compares an input document with the stored object: input fields that are missing
/// (`pruned`) or different (`changed`), and stored fields the input did not have (`added`).
#[derive(Default)]
struct Diff {
    pruned: Vec<String>,
    changed: Vec<String>,
    added: Vec<(String, Value)>,
}

impl Diff {
    fn walk(&mut self, path: &str, input: &Value, stored: &Value) {
        match (input, stored) {
            (Value::Object(i), Value::Object(s)) => {
                for (k, v) in i {
                    let p = format!("{path}.{k}");
                    match s.get(k) {
                        Some(sv) => self.walk(&p, v, sv),
                        None => self.pruned.push(p),
                    }
                }
                for (k, v) in s {
                    if !i.contains_key(k) {
                        self.added.push((format!("{path}.{k}"), v.clone()));
                    }
                }
            }
            (Value::Array(i), Value::Array(s)) if i.len() == s.len() => {
                for (n, (iv, sv)) in i.iter().zip(s).enumerate() {
                    self.walk(&format!("{path}[{n}]"), iv, sv);
                }
            }
            _ if input == stored => {}
            _ => self.changed.push(format!("{path}: {input} -> {stored}")),
        }
    }
}

/// Asserts that every object of `flavor` was stored exactly as written, apart from
/// [`DOCUMENTED_DEFAULTS`] (those of `world`), and that the documented defaults were applied.
fn assert_stored_unchanged(world: World, flavor: &str, stored: &BTreeMap<(String, String), Value>) {
    for doc in documents(flavor) {
        let key = key_of(&doc);
        let object = stored
            .get(&key)
            .unwrap_or_else(|| panic!("{flavor}: {key:?} was not stored"));
        let mut diff = Diff::default();
        diff.walk("spec", &doc["spec"], &object["spec"]);
        for field in ["name", "namespace", "labels"] {
            diff.walk(
                &format!("metadata.{field}"),
                &doc["metadata"][field],
                &object["metadata"][field],
            );
        }
        assert!(
            diff.pruned.is_empty() && diff.changed.is_empty(),
            "{world:?}: {flavor}: {key:?} was altered by the server: pruned {:?}, changed {:?}",
            diff.pruned,
            diff.changed
        );
        let expected: Vec<(String, Value)> = DOCUMENTED_DEFAULTS
            .iter()
            .filter(|d| {
                d.kind == key.0
                    && !has_path(&doc, d.path)
                    && !(d.ours_only && world == World::GoProvider)
            })
            .map(|d| (d.path.to_owned(), serde_json::from_str(d.value).unwrap()))
            .collect();
        let mut added = diff.added.clone();
        added.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            added, expected,
            "{world:?}: {flavor}: {key:?}: the server added fields other than the documented defaults"
        );
    }
}

fn has_path(doc: &Value, dotted: &str) -> bool {
    dotted.split('.').try_fold(doc, |v, k| v.get(k)).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_go_providers_cluster_templates_apply_unchanged_with_kubectl() {
    let Some(h) = Harness::start(World::Ours).await else {
        return;
    };
    for flavor in FLAVORS {
        let stored = h.apply_flavor(flavor).await;
        assert_stored_unchanged(World::Ours, flavor, &stored);
    }
    // Re-applying the same templates (what a GitOps loop does) changes nothing.
    for flavor in FLAVORS {
        let path = fixture_path(flavor);
        let out = h.ok(&["apply", "-f", path.to_str().unwrap()]).await;
        for doc in documents(flavor) {
            let line = format!("{} unchanged", kubectl_name(&doc));
            assert!(
                out.lines().any(|l| l == line),
                "{flavor}: re-apply did not report `{line}`:\n{out}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_go_providers_cluster_templates_are_stored_alike_with_our_and_the_upstream_capi_crds() {
    let Some(ours) = Harness::start(World::Ours).await else {
        return;
    };
    let Some(upstream) = Harness::start(World::UpstreamCapi).await else {
        return;
    };
    for flavor in FLAVORS {
        let with_upstream = upstream.apply_flavor(flavor).await;
        assert_stored_unchanged(World::UpstreamCapi, flavor, &with_upstream);
        let with_ours = ours.apply_flavor(flavor).await;
        for (key, object) in &with_upstream {
            assert_eq!(
                with_ours[key]["spec"], object["spec"],
                "{flavor}: {key:?} is stored differently with capi-types' CRDs than with the upstream CAPI CRDs"
            );
        }
    }
}

/// The table of `kubectl get` output whose first row starts with `first_column_prefix`
/// (kubectl prints one table per resource type, separated by blank lines): its header and
/// rows, split on runs of two or more spaces (kubectl pads columns with at least three).
fn table(out: &str, first_column_prefix: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let split = |line: &str| -> Vec<String> {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let lines = out
        .split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
        })
        .find(|lines| {
            lines
                .get(1)
                .is_some_and(|l| l.starts_with(first_column_prefix))
        })
        .unwrap_or_else(|| panic!("no table of {first_column_prefix}* in:\n{out}"));
    (
        split(lines[0]),
        lines[1..].iter().map(|l| split(l)).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_renders_the_packet_printer_columns_for_the_templates_objects() {
    let Some(h) = Harness::start(World::Ours).await else {
        return;
    };
    for flavor in FLAVORS {
        h.apply_flavor(flavor).await;
    }
    // What CAPI and our controller write later: the cluster-name label and status.ready.
    h.ok(&[
        "label",
        "packetcluster",
        "metal-cpem",
        "cluster.x-k8s.io/cluster-name=metal-cpem",
    ])
    .await;
    h.ok(&[
        "patch",
        "packetcluster",
        "metal-cpem",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"ready":true}}"#,
    ])
    .await;

    let out = h
        .ok(&[
            "get",
            "packetclusters,packetmachinetemplates",
            "-n",
            "default",
        ])
        .await;
    let (header, rows) = table(&out, "packetcluster.");
    assert_eq!(header, ["NAME", "CLUSTER", "READY", "AGE"], "{out}");
    let cpem = rows
        .iter()
        .find(|r| r[0].ends_with("/metal-cpem"))
        .unwrap_or_else(|| panic!("no metal-cpem row:\n{out}"));
    assert_eq!(cpem[1..3], ["metal-cpem", "true"], "{out}");
    assert_eq!(rows.len(), 3, "one row per PacketCluster:\n{out}");

    let (header, rows) = table(&out, "packetmachinetemplate.");
    assert_eq!(header, ["NAME", "PLAN", "OS", "AGE"], "{out}");
    assert_eq!(rows.len(), 6, "one row per PacketMachineTemplate:\n{out}");
    let worker = rows
        .iter()
        .find(|r| r[0].ends_with("/metal-kv-worker-a"))
        .unwrap_or_else(|| panic!("no metal-kv-worker-a row:\n{out}"));
    assert_eq!(worker[1..3], ["n3.xlarge.x86", "ubuntu_22_04"], "{out}");

    // The priority-1 columns appear with -o wide, in the CRD's order (empty cells print as
    // blanks, so the VIP manager is read as the second-to-last cell).
    let wide = h.ok(&["get", "packetclusters", "-o", "wide"]).await;
    let (header, rows) = table(&wide, "metal-");
    assert_eq!(
        header,
        ["NAME", "CLUSTER", "READY", "ENDPOINT", "VIP MANAGER", "AGE"],
        "{wide}"
    );
    let vip_managers: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[r.len() - 2].as_str()))
        .collect();
    assert_eq!(
        vip_managers,
        [
            ("metal-cpem", "CPEM"),
            ("metal-kv", "KUBE_VIP"),
            ("metal-lb", "EMLB")
        ],
        "{wide}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_a_packet_clusters_project_or_vip_manager_with_kubectl_is_rejected_with_the_rules_message()
 {
    let Some(h) = Harness::start(World::Ours).await else {
        return;
    };
    h.apply_flavor("cluster-template.yaml").await;

    let err = h
        .fails(&[
            "patch",
            "packetcluster",
            "metal-cpem",
            "--type=merge",
            "-p",
            r#"{"spec":{"projectID":"00000000-1111-2222-3333-444444444444"}}"#,
        ])
        .await;
    assert!(
        err.contains("spec.projectID") && err.contains("projectID is immutable"),
        "{err}"
    );

    // The same through `kubectl apply` of an edited template (a changed PROJECT_ID).
    let edited = std::fs::read_to_string(fixture_path("cluster-template.yaml"))
        .unwrap()
        .replace(
            "projectID: 7f1e8d3c-5b0a-4c6e-9f21-3d4a5b6c7d8e",
            "projectID: 00000000-1111-2222-3333-444444444444",
        );
    let edited_path = h.cache.join("edited-project.yaml");
    std::fs::write(&edited_path, edited).unwrap();
    let err = h
        .fails(&["apply", "-f", edited_path.to_str().unwrap()])
        .await;
    assert!(err.contains("projectID is immutable"), "{err}");

    let err = h
        .fails(&[
            "patch",
            "packetcluster",
            "metal-cpem",
            "--type=merge",
            "-p",
            r#"{"spec":{"vipManager":"KUBE_VIP"}}"#,
        ])
        .await;
    assert!(
        err.contains("spec.vipManager") && err.contains("vipManager is immutable"),
        "{err}"
    );

    let stored = h.get_json(&["packetcluster", "metal-cpem"]).await;
    assert_eq!(
        (&stored["spec"]["projectID"], &stored["spec"]["vipManager"]),
        (
            &json!("7f1e8d3c-5b0a-4c6e-9f21-3d4a5b6c7d8e"),
            &json!("CPEM")
        ),
        "rejected changes left the object as it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_endpoint_the_controller_writes_back_is_accepted_and_survives_a_re_apply()
{
    let Some(h) = Harness::start(World::Ours).await else {
        return;
    };
    h.apply_flavor("cluster-template-emlb.yaml").await;

    // The Go provider's controller fills spec.controlPlaneEndpoint (its webhook only guards
    // projectID, vipManager and the location), so it must be writable on an existing object.
    h.ok(&[
        "patch",
        "packetcluster",
        "metal-lb",
        "--type=merge",
        "-p",
        r#"{"spec":{"controlPlaneEndpoint":{"host":"147.75.100.10","port":6443}}}"#,
    ])
    .await;
    let stored = h.get_json(&["packetcluster", "metal-lb"]).await;
    assert_eq!(
        stored["spec"]["controlPlaneEndpoint"],
        json!({"host": "147.75.100.10", "port": 6443})
    );

    // The user re-applies the unchanged template: the endpoint is not theirs, so it stays.
    let path = fixture_path("cluster-template-emlb.yaml");
    let out = h.ok(&["apply", "-f", path.to_str().unwrap()]).await;
    assert!(
        out.lines()
            .any(|l| l == "packetcluster.infrastructure.cluster.x-k8s.io/metal-lb unchanged"),
        "{out}"
    );
    let stored = h.get_json(&["packetcluster", "metal-lb"]).await;
    assert_eq!(
        stored["spec"]["controlPlaneEndpoint"],
        json!({"host": "147.75.100.10", "port": 6443}),
        "a re-apply keeps the controller's endpoint"
    );
    let wide = h
        .ok(&["get", "packetcluster", "metal-lb", "-o", "wide"])
        .await;
    assert!(wide.contains("147.75.100.10"), "{wide}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_go_providers_cluster_templates_apply_unchanged_with_kubectl_server_side_apply() {
    let Some(h) = Harness::start(World::Ours).await else {
        return;
    };
    // GitOps tools (Flux, Argo CD with ServerSideApply) apply templates this way.
    for flavor in FLAVORS {
        let path = fixture_path(flavor);
        let path = path.to_str().unwrap();
        let out = h
            .ok(&[
                "apply",
                "--server-side",
                "--field-manager=gitops",
                "-f",
                path,
            ])
            .await;
        let docs = documents(flavor);
        for doc in &docs {
            let line = format!("{} serverside-applied", kubectl_name(doc));
            assert!(
                out.lines().any(|l| l == line),
                "{flavor}: kubectl did not report `{line}`:\n{out}"
            );
        }
        let list = h.get_json(&["-f", path, "--show-managed-fields"]).await;
        let stored: BTreeMap<_, _> = list["items"]
            .as_array()
            .expect("a List")
            .iter()
            .map(|o| (key_of(o), o.clone()))
            .collect();
        assert_eq!(stored.len(), docs.len(), "{flavor}: every object is stored");
        assert_stored_unchanged(World::Ours, flavor, &stored);
        for object in stored.values() {
            let managers: Vec<&str> = object["metadata"]["managedFields"]
                .as_array()
                .map(|m| m.iter().filter_map(|e| e["manager"].as_str()).collect())
                .unwrap_or_default();
            assert_eq!(managers, ["gitops"], "{flavor}: {:?}", key_of(object));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_crds_store_the_go_templates_exactly_as_the_go_providers_crds_do() {
    let Some(ours) = Harness::start(World::Ours).await else {
        return;
    };
    let Some(go) = Harness::start(World::GoProvider).await else {
        return;
    };
    for flavor in FLAVORS {
        // The fixtures are valid Go-provider manifests: its CRDs take them unchanged too.
        let with_go = go.apply_flavor(flavor).await;
        assert_stored_unchanged(World::GoProvider, flavor, &with_go);
        let with_ours = ours.apply_flavor(flavor).await;
        for (key, object) in &with_go {
            let mut spec = with_ours[key]["spec"].clone();
            for d in DOCUMENTED_DEFAULTS
                .iter()
                .filter(|d| d.ours_only && d.kind == key.0)
            {
                let field = d.path.strip_prefix("spec.").unwrap();
                assert!(
                    spec.as_object_mut().unwrap().remove(field).is_some(),
                    "{flavor}: {key:?}: our default {} was applied",
                    d.path
                );
            }
            assert_eq!(
                spec, object["spec"],
                "{flavor}: {key:?} is stored differently by our CRDs than by the Go provider's"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_applying_a_template_with_an_edited_machine_plan_is_rejected_where_the_go_provider_took_it()
 {
    let Some(ours) = Harness::start(World::Ours).await else {
        return;
    };
    let Some(go) = Harness::start(World::GoProvider).await else {
        return;
    };
    // A deliberate difference: the Go provider's template webhook validated nothing, so an
    // in-place edit of a PacketMachineTemplate was stored (and silently not rolled out).
    // Ours follows the CAPI contract: templates are immutable, make a new one (the admission
    // policy our components ship next to the CRDs).
    let edited = std::fs::read_to_string(fixture_path("cluster-template.yaml"))
        .unwrap()
        .replace("machineType: m3.large.x86", "machineType: m3.xlarge.x86");
    for (h, accepted) in [(&ours, false), (&go, true)] {
        h.apply_flavor("cluster-template.yaml").await;
        let edited_path = h.cache.join("edited-plan.yaml");
        std::fs::write(&edited_path, &edited).unwrap();
        let (ok, out, err) = h.run(&["apply", "-f", edited_path.to_str().unwrap()]).await;
        let stored = h
            .get_json(&["packetmachinetemplate", "metal-cpem-worker-a"])
            .await;
        let plan = &stored["spec"]["template"]["spec"]["machineType"];
        if accepted {
            assert!(ok, "the Go CRDs take the edit: {err}");
            assert_eq!(plan, "m3.xlarge.x86");
        } else {
            assert!(!ok, "our CRD rejects the edit: {out}");
            assert!(
                err.contains(capp_api::policy::IMMUTABLE_TEMPLATE_MESSAGE),
                "the rejection says what to do instead: {err}"
            );
            assert_eq!(plan, "m3.large.x86", "the stored template is unchanged");
        }
    }
}

/// What KubeadmControlPlane does for a new control plane node: a Machine `name`, and a
/// PacketMachine `name` cloned from `template` and owned by it (created with kubectl).
async fn create_cloned_machine(h: &Harness, template: &Value, name: &str) {
    let machine = json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Machine",
        "metadata": {"name": name, "namespace": "default", "labels": {
            "cluster.x-k8s.io/cluster-name": "metal-cpem",
            "cluster.x-k8s.io/control-plane": ""
        }},
        "spec": {
            "clusterName": "metal-cpem",
            "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfig", "name": name}},
            "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "PacketMachine", "name": name},
            "version": "v1.30.2"
        }
    });
    let machine_path = h.cache.join("machine.json");
    std::fs::write(&machine_path, machine.to_string()).unwrap();
    h.ok(&["create", "-f", machine_path.to_str().unwrap()])
        .await;
    let uid = h.get_json(&["machine", name]).await["metadata"]["uid"].clone();
    let packet_machine = json!({
        "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
        "kind": "PacketMachine",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"cluster.x-k8s.io/cluster-name": "metal-cpem", "cluster.x-k8s.io/control-plane": ""},
            "annotations": {
                "cluster.x-k8s.io/cloned-from-name": "metal-cpem-control-plane",
                "cluster.x-k8s.io/cloned-from-groupkind": "PacketMachineTemplate.infrastructure.cluster.x-k8s.io"
            },
            "ownerReferences": [{"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Machine", "name": name, "uid": uid}]
        },
        "spec": template["spec"]["template"]["spec"]
    });
    let pm_path = h.cache.join("packetmachine.json");
    std::fs::write(&pm_path, packet_machine.to_string()).unwrap();
    h.ok(&["create", "-f", pm_path.to_str().unwrap()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_machine_cloned_from_a_go_template_takes_the_controllers_writes_and_keeps_its_plan()
 {
    let Some(h) = Harness::start(World::Ours).await else {
        return;
    };
    let stored = h.apply_flavor("cluster-template.yaml").await;
    let template = &stored[&(
        "PacketMachineTemplate".to_owned(),
        "metal-cpem-control-plane".to_owned(),
    )];

    let name = "metal-cpem-control-plane-x7k2p";
    create_cloned_machine(&h, template, name).await;

    // The controller's writes: providerID on the spec, the device state on the status.
    h.ok(&[
        "patch",
        "packetmachine",
        name,
        "--type=merge",
        "-p",
        r#"{"spec":{"providerID":"equinixmetal://3f1c9a7e-0d2b-4c55-9e8f-1a2b3c4d5e6f"}}"#,
    ])
    .await;
    h.ok(&[
        "patch",
        "packetmachine",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"instanceStatus":"active","ready":true}}"#,
    ])
    .await;
    let out = h.ok(&["get", "packetmachines"]).await;
    let (header, rows) = table(&out, name);
    assert_eq!(
        header,
        [
            "NAME",
            "CLUSTER",
            "STATE",
            "READY",
            "INSTANCEID",
            "MACHINE",
            "AGE"
        ],
        "{out}"
    );
    assert_eq!(
        rows[0][..6],
        [
            name,
            "metal-cpem",
            "active",
            "true",
            "equinixmetal://3f1c9a7e-0d2b-4c55-9e8f-1a2b3c4d5e6f",
            name
        ],
        "the State column shows the device state (always empty in the Go provider):\n{out}"
    );

    // The plan is fixed once the device exists, as the Go provider's webhook kept it.
    let err = h
        .fails(&[
            "patch",
            "packetmachine",
            name,
            "--type=merge",
            "-p",
            r#"{"spec":{"machineType":"c3.medium.x86"}}"#,
        ])
        .await;
    assert!(
        err.contains(capp_api::machine::IMMUTABLE_SPEC_MESSAGE),
        "{err}"
    );
    let stored = h.get_json(&["packetmachine", name]).await;
    assert_eq!(stored["spec"]["machineType"], "c3.small.x86");
}

#[test]
fn the_comparison_reports_pruned_changed_and_added_fields() {
    let input = json!({"a": 1, "b": {"c": "x", "d": [1, 2]}, "e": [{"f": 1}]});
    let stored = json!({"a": 2, "b": {"d": [1, 2], "g": true}, "e": [{"f": 1, "h": 0}]});
    let mut diff = Diff::default();
    diff.walk("spec", &input, &stored);
    assert_eq!(diff.pruned, ["spec.b.c"]);
    assert_eq!(diff.changed, ["spec.a: 1 -> 2"]);
    assert_eq!(
        diff.added,
        [
            ("spec.b.g".to_owned(), json!(true)),
            ("spec.e[0].h".to_owned(), json!(0))
        ]
    );
    let mut same = Diff::default();
    same.walk("spec", &input, &input);
    assert!(same.pruned.is_empty() && same.changed.is_empty() && same.added.is_empty());
}
