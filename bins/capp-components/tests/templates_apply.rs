//! With the variables substituted, every flavor is applied with the real `kubectl apply` to
//! capp-testenv serving the upstream CAPI v1.10 CRDs and capp's own (v1beta1): every object is
//! created, nothing is pruned (no `unknown field` warning), the replica counts are stored as
//! integers, and a second apply changes nothing. When `clusterctl` (v1.10.4, the binary the
//! clusterctl tests build) is available, `clusterctl generate cluster --from FILE` renders
//! every flavor to exactly the objects of this crate's substitution.
//!
//! Skips loudly when kubectl, go or `../shared` is missing; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

#[path = "support/clusterctl.rs"]
mod clusterctl;
#[path = "../../../crates/capp-api/tests/support/kubectl.rs"]
mod kubectl;
#[path = "../../../crates/capp-api/tests/support/shared.rs"]
mod shared;
#[path = "support/values.rs"]
mod values;

use std::process::Command;

use capp_components::templates::{FLAVORS, Flavor, render};
use kubectl::{Kubectl, kubectl_name};
use serde_json::Value;

/// The upstream CAPI CRDs the templates' objects need.
const UPSTREAM_CRDS: [&str; 7] = [
    "cluster.x-k8s.io_clusters.yaml",
    "cluster.x-k8s.io_clusterclasses.yaml",
    "cluster.x-k8s.io_machinedeployments.yaml",
    "controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml",
    "controlplane.cluster.x-k8s.io_kubeadmcontrolplanetemplates.yaml",
    "bootstrap.cluster.x-k8s.io_kubeadmconfigtemplates.yaml",
    "addons.cluster.x-k8s.io_clusterresourcesets.yaml",
];

fn namespace(flavor: Flavor) -> String {
    match flavor.name() {
        "" => "flavor-default".to_owned(),
        name => format!("flavor-{name}"),
    }
}

/// The flavor with the test values substituted by this crate.
fn substituted(flavor: Flavor) -> String {
    capp_components::variables::substitute(
        &render(flavor).unwrap(),
        &values::values(&namespace(flavor), "ubuntu_24_04"),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_substituted_flavor_is_accepted_by_kubectl_apply() {
    let Some(specs) = shared::specs_dir("capi-v1.10") else {
        return;
    };
    let mut crds: Vec<Value> = UPSTREAM_CRDS
        .iter()
        .map(|f| serde_saphyr::from_str(&std::fs::read_to_string(specs.join(f)).unwrap()).unwrap())
        .collect();
    // capp-testenv calls no conversion webhook, so it serves capp's v1beta1-only CRDs: the
    // templates are v1beta1 objects, and that version's schema is the shipped CRDs' v1beta1
    // version byte for byte (capp-api's `crds_multiversion` test).
    crds.extend(
        capp_api::crds()
            .iter()
            .map(|crd| serde_json::to_value(crd).unwrap()),
    );
    let Some(kubectl) = Kubectl::start("capp-templates-kubectl", &crds).await else {
        return;
    };
    for flavor in FLAVORS {
        let text = substituted(flavor);
        assert!(!text.contains("${"), "{flavor:?}: a variable is left");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        let path = kubectl.dir.join(flavor.file_name());
        std::fs::write(&path, &text).unwrap();
        let path = path.to_str().unwrap();
        kubectl
            .ok(&["create", "namespace", &namespace(flavor)])
            .await;

        let (out, err) = kubectl.ok(&["apply", "-f", path]).await;
        assert!(!err.contains("unknown field"), "{flavor:?}: {err}");
        for doc in &docs {
            let line = format!("{} created", kubectl_name(doc));
            assert!(
                out.lines().any(|l| l == line),
                "{flavor:?}: kubectl did not report `{line}`:\n{out}\n{err}"
            );
        }
        assert_eq!(out.lines().count(), docs.len(), "{flavor:?}:\n{out}");

        let (listed, _) = kubectl.ok(&["get", "-f", path, "-o", "json"]).await;
        let listed: Value = serde_json::from_str(&listed).unwrap();
        let items = listed["items"].as_array().unwrap();
        assert_eq!(items.len(), docs.len());
        for item in items {
            match item["kind"].as_str().unwrap() {
                "KubeadmControlPlane" => assert_eq!(item["spec"]["replicas"], 3),
                "MachineDeployment" => assert_eq!(item["spec"]["replicas"], 2),
                "Cluster" if flavor == Flavor::ClusterClass => {
                    let topology = &item["spec"]["topology"];
                    assert_eq!(topology["controlPlane"]["replicas"], 3);
                    assert_eq!(topology["workers"]["machineDeployments"][0]["replicas"], 2);
                }
                "PacketMachineTemplate" => {
                    assert_eq!(item["spec"]["template"]["spec"]["os"], "ubuntu_24_04");
                }
                _ => {}
            }
        }

        let (again, _) = kubectl.ok(&["apply", "-f", path]).await;
        // stringData is write-only (folded into data), so kubectl always reports the
        // Secrets `configured`, as with a real server.
        assert!(
            again
                .lines()
                .all(|l| l.ends_with(" unchanged") || l.starts_with("secret/")),
            "{flavor:?}: {again}"
        );
    }
}

#[test]
fn clusterctl_generate_cluster_renders_every_flavor_as_this_crate_substitutes_it() {
    let Some(bin) = clusterctl::clusterctl() else {
        return;
    };
    let dir =
        std::env::temp_dir().join(format!("capp-templates-clusterctl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("home")).unwrap();
    for flavor in FLAVORS {
        let file = dir.join(flavor.file_name());
        std::fs::write(&file, render(flavor).unwrap()).unwrap();
        let mut command = Command::new(&bin);
        command
            .args(["generate", "cluster", "demo", "--from"])
            .arg(&file)
            .args([
                "--target-namespace",
                &namespace(flavor),
                "--kubernetes-version",
                values::KUBERNETES_VERSION,
                "--control-plane-machine-count",
                "3",
                "--worker-machine-count",
                "2",
            ])
            .env_clear()
            .env("HOME", dir.join("home"))
            .env("KUBECONFIG", dir.join("no-kubeconfig"))
            .env("CLUSTERCTL_DISABLE_VERSIONCHECK", "true")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("HTTPS_PROXY", "http://127.0.0.1:9");
        for (k, v) in values::values(&namespace(flavor), "ubuntu_24_04") {
            // clusterctl sets these from its flags.
            if !["CLUSTER_NAME", "NAMESPACE", "KUBERNETES_VERSION"].contains(&k.as_str())
                && !k.ends_with("MACHINE_COUNT")
            {
                command.env(k, v);
            }
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{flavor:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Vec<Value> =
            serde_saphyr::from_multiple(&String::from_utf8(out.stdout).unwrap()).unwrap();
        let ours: Vec<Value> = serde_saphyr::from_multiple(&substituted(flavor)).unwrap();
        assert_eq!(theirs.len(), ours.len(), "{flavor:?}");
        for (a, b) in theirs.iter().zip(&ours) {
            assert_eq!(a, b, "{flavor:?}: clusterctl and capp-components disagree");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clusterctl_lists_the_variables_and_defaults_of_every_flavor_as_written() {
    let Some(bin) = clusterctl::clusterctl() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("capp-templates-listvars-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("home")).unwrap();
    for flavor in FLAVORS {
        let text = render(flavor).unwrap();
        let file = dir.join(flavor.file_name());
        std::fs::write(&file, &text).unwrap();
        let out = Command::new(&bin)
            .args(["generate", "cluster", "demo", "--list-variables", "--from"])
            .arg(&file)
            .args([
                "--target-namespace",
                "default",
                "--kubernetes-version",
                "v1.33.2",
            ])
            .env_clear()
            .env("HOME", dir.join("home"))
            .env("KUBECONFIG", dir.join("no-kubeconfig"))
            .env("CLUSTERCTL_DISABLE_VERSIONCHECK", "true")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{flavor:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (required, optional) = listed
            .split_once("Optional Variables:")
            .unwrap_or((&listed, ""));
        let listed_in = |section: &str, name: &str| {
            section
                .lines()
                .find(|l| {
                    l.trim_start()
                        .strip_prefix("- ")
                        .is_some_and(|l| l.split_whitespace().next() == Some(name))
                })
                .map(str::to_owned)
        };
        for r in capp_components::variables::references(&text).unwrap() {
            // clusterctl fills these from its own arguments and flags.
            let from_flags = ["CLUSTER_NAME", "NAMESPACE", "KUBERNETES_VERSION"]
                .contains(&r.name.as_str())
                || r.name.ends_with("_MACHINE_COUNT");
            match (&r.default, from_flags) {
                (None, false) => assert!(
                    listed_in(required, &r.name).is_some(),
                    "{flavor:?}: {} is not required:\n{listed}",
                    r.name
                ),
                (Some(default), false) => {
                    let line = listed_in(optional, &r.name).unwrap_or_else(|| {
                        panic!("{flavor:?}: {} is not optional:\n{listed}", r.name)
                    });
                    assert!(
                        line.contains(&format!("(defaults to \"{default}\")")),
                        "{flavor:?}: {line}"
                    );
                }
                (_, true) => assert!(
                    listed.contains(&r.name),
                    "{flavor:?}: {}:\n{listed}",
                    r.name
                ),
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
