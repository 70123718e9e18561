//! With the three Cluster API v1.14 managers running against the real kube-apiserver, the Go
//! provider's default cluster template (a `Cluster`, a `KubeadmControlPlane` and a
//! `MachineDeployment` with our kinds, all in `v1beta1`) is accepted, and the core controllers
//! treat our kinds as the contract says: they read our CRDs' contract labels, set owner
//! references and labels on our objects and clone our templates. The test plays our
//! infrastructure controller by writing our objects' spec and status (`status.ready`, the
//! v1beta1 contract our CRDs declare); then the kubeadm bootstrap provider writes the first
//! control-plane machine's init data. The worker's join data waits, as the contract says, until
//! the control plane is initialized: the management cluster doubles as the workload cluster
//! (CAPI's own envtest trick) and gets `kube-system/kubeadm-config`, KCP reports the control plane
//! initialized, and the worker's KubeadmConfig gets its Secret. Reading the objects in v1beta1
//! and v1beta2 proves the conversion webhooks run.
//!
//! Skips loudly without the upstream binaries or kubectl; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/common.rs"]
mod common;

use base64::Engine as _;
use capp_envtest::CapiPart;
use common::{eventually, get_json, go_template, kubectl_ok, management_cluster, scratch};
use std::path::Path;

use serde_json::{Value, json};

const NS: &str = "capi-acceptance";
const CLUSTER: &str = "metal-cpem";
/// How long the controllers may take on a loaded 2-core machine.
const WAIT: u64 = 240;

fn has_owner(object: &Value, kind: &str, name: &str) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["kind"] == kind && r["name"] == name))
}

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["labels"][key].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_capi_managers_accept_our_kinds_and_the_bootstrap_provider_writes_bootstrap_data() {
    let Some((cp, mut capi)) = management_cluster().await else {
        return;
    };
    let kc = cp.kubeconfig_path();
    kubectl_ok(kc, &["create", "namespace", NS], None).await;
    // The management cluster doubles as the workload cluster (CAPI's own envtest does the same):
    // `<cluster>-kubeconfig` holds the admin kubeconfig, type Opaque so KCP neither adopts nor
    // rotates it, labelled so the managers' caches see it.
    let secret = format!("{CLUSTER}-kubeconfig");
    let from_file = format!("--from-file=value={}", kc.display());
    kubectl_ok(
        kc,
        &["create", "secret", "generic", &secret, "-n", NS, &from_file],
        None,
    )
    .await;
    let cluster_label = format!("cluster.x-k8s.io/cluster-name={CLUSTER}");
    kubectl_ok(
        kc,
        &["label", "secret", &secret, "-n", NS, &cluster_label],
        None,
    )
    .await;

    // The Go provider's default flavor with one control-plane machine and one worker (no
    // kubelet answers here, so KCP must not try to scale, see upstream-build.md's risks).
    let mut docs = go_template("cluster-template.yaml", NS);
    for doc in &mut docs {
        if doc["kind"] == "KubeadmControlPlane" || doc["kind"] == "MachineDeployment" {
            doc["spec"]["replicas"] = json!(1);
        }
    }
    let file = scratch(kc, "acceptance.json");
    std::fs::write(
        &file,
        json!({"apiVersion": "v1", "kind": "List", "items": docs}).to_string(),
    )
    .unwrap();
    kubectl_ok(kc, &["apply", "-f", file.to_str().unwrap()], None).await;

    let port: u16 = cp.url().rsplit(':').next().unwrap().parse().unwrap();
    adopted_and_provisioned(kc, port).await;
    cluster_reads_alike_in_both_versions(kc, port).await;
    control_plane_machine_gets_bootstrap_data(kc).await;
    worker_machine_clones_our_template(kc).await;
    workers_get_bootstrap_data_once_the_control_plane_is_initialized(kc).await;

    capi.check_running()
        .unwrap_or_else(|e| panic!("{e}\ncore log:\n{}", capi.log_tail(CapiPart::Core)));
    drop(capi);
    cp.shutdown();
}

/// The Cluster adopts our PacketCluster; then the test plays our controller and writes the
/// endpoint `127.0.0.1:port` (the management apiserver) and `status.ready`.
async fn adopted_and_provisioned(kc: &Path, port: u16) {
    // The core Cluster controller reads our CRD's contract label and adopts the PacketCluster.
    eventually(WAIT, "the Cluster owning the PacketCluster", || async {
        let pc = get_json(kc, &format!("packetcluster/{CLUSTER}"), NS)
            .await
            .unwrap_or_default();
        (has_owner(&pc, "Cluster", CLUSTER)
            && label(&pc, "cluster.x-k8s.io/cluster-name") == Some(CLUSTER))
        .then_some(())
        .ok_or_else(|| pc["metadata"].to_string())
    })
    .await;

    // Play our infrastructure controller.
    let endpoint = json!({"spec": {"controlPlaneEndpoint": {"host": "127.0.0.1", "port": port}}});
    merge_patch(kc, &[], &endpoint).await;
    merge_patch(
        kc,
        &["--subresource=status"],
        &json!({"status": {"ready": true}}),
    )
    .await;
}

/// The Cluster, read in v1beta2 and v1beta1, shows the provisioned infrastructure.
async fn cluster_reads_alike_in_both_versions(kc: &Path, port: u16) {
    // The Cluster sees it, in both API versions (served through the conversion webhook).
    let cluster_v1beta2 = eventually(WAIT, "the Cluster's infrastructure provisioned", || async {
        let c = get_json(
            kc,
            &format!("clusters.v1beta2.cluster.x-k8s.io/{CLUSTER}"),
            NS,
        )
        .await
        .unwrap_or_default();
        (c["status"]["initialization"]["infrastructureProvisioned"] == json!(true))
            .then(|| c.clone())
            .ok_or_else(|| c["status"].to_string())
    })
    .await;
    assert_eq!(
        cluster_v1beta2["spec"]["infrastructureRef"],
        json!({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "PacketCluster", "name": CLUSTER}),
        "v1beta2 references carry apiGroup, not apiVersion"
    );
    assert_eq!(
        cluster_v1beta2["spec"]["controlPlaneEndpoint"],
        json!({"host": "127.0.0.1", "port": port}),
        "the endpoint is copied from our PacketCluster"
    );
    let cluster_v1beta1 = get_json(
        kc,
        &format!("clusters.v1beta1.cluster.x-k8s.io/{CLUSTER}"),
        NS,
    )
    .await
    .unwrap();
    assert_eq!(
        cluster_v1beta1["status"]["infrastructureReady"],
        json!(true)
    );
    assert_eq!(
        cluster_v1beta1["spec"]["infrastructureRef"]["apiVersion"],
        json!("infrastructure.cluster.x-k8s.io/v1beta1")
    );
}

/// KCP's first Machine clones our template; the bootstrap provider writes its data.
async fn control_plane_machine_gets_bootstrap_data(kc: &Path) {
    // KCP creates the first control-plane Machine; the Machine controller clones our template
    // into a PacketMachine it owns and labels.
    let packet_machine = eventually(
        WAIT,
        "a control-plane PacketMachine owned by a Machine",
        || async {
            let list = get_json(kc, "packetmachines", NS).await.unwrap_or_default();
            list["items"]
                .as_array()
                .and_then(|items| {
                    items.iter().find(|m| {
                        label(m, "cluster.x-k8s.io/control-plane").is_some()
                            && m["metadata"]["ownerReferences"]
                                .as_array()
                                .is_some_and(|r| r.iter().any(|r| r["kind"] == "Machine"))
                    })
                })
                .cloned()
                .ok_or_else(|| list.to_string())
        },
    )
    .await;
    assert_eq!(
        label(&packet_machine, "cluster.x-k8s.io/cluster-name"),
        Some(CLUSTER)
    );
    assert_eq!(
        packet_machine["spec"]["machineType"],
        json!("c3.small.x86"),
        "cloned from the template"
    );
    assert_eq!(
        packet_machine["metadata"]["annotations"]["cluster.x-k8s.io/cloned-from-name"],
        json!("metal-cpem-control-plane")
    );

    // The kubeadm bootstrap provider writes the init configuration's bootstrap data.
    let config = eventually(
        WAIT,
        "a control-plane KubeadmConfig with bootstrap data",
        || async {
            let list = get_json(kc, "kubeadmconfigs.v1beta2.bootstrap.cluster.x-k8s.io", NS)
                .await
                .unwrap_or_default();
            list["items"]
                .as_array()
                .and_then(|items| {
                    items.iter().find(|c| {
                        label(c, "cluster.x-k8s.io/control-plane").is_some()
                            && c["status"]["dataSecretName"].is_string()
                    })
                })
                .cloned()
                .ok_or_else(|| list.to_string())
        },
    )
    .await;
    let secret_name = config["status"]["dataSecretName"].as_str().unwrap();
    let secret = get_json(kc, &format!("secret/{secret_name}"), NS)
        .await
        .unwrap();
    assert_eq!(secret["type"], json!("cluster.x-k8s.io/secret"));
    assert_eq!(
        label(&secret, "cluster.x-k8s.io/cluster-name"),
        Some(CLUSTER)
    );
    let value = secret["data"]["value"]
        .as_str()
        .expect("bootstrap data in data.value");
    let userdata = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .unwrap(),
    )
    .unwrap();
    assert!(
        userdata.starts_with("## template: jinja\n#cloud-config")
            && userdata.contains("kubeadm init"),
        "cloud-init that runs kubeadm init: {userdata}"
    );
}

/// The MachineDeployment's Machine clones our worker template.
async fn worker_machine_clones_our_template(kc: &Path) {
    // The worker side: the MachineDeployment's Machine clones our worker template too.
    eventually(
        WAIT,
        "a worker PacketMachine owned by a Machine",
        || async {
            let list = get_json(kc, "packetmachines", NS).await.unwrap_or_default();
            list["items"]
                .as_array()
                .is_some_and(|items| {
                    items.iter().any(|m| {
                        label(m, "cluster.x-k8s.io/deployment-name") == Some("metal-cpem-worker-a")
                            && m["spec"]["machineType"] == "m3.large.x86"
                    })
                })
                .then_some(())
                .ok_or_else(|| list.to_string())
        },
    )
    .await;
}

/// The worker's KubeadmConfig waits for the control plane (the contract: join data needs an
/// initialized control plane); once the workload cluster has `kube-system/kubeadm-config`, KCP
/// reports the control plane initialized and the bootstrap provider writes the join data.
async fn workers_get_bootstrap_data_once_the_control_plane_is_initialized(kc: &Path) {
    let worker_config = || async {
        let list = get_json(kc, "kubeadmconfigs.v1beta2.bootstrap.cluster.x-k8s.io", NS)
            .await
            .unwrap_or_default();
        list["items"]
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|c| label(c, "cluster.x-k8s.io/deployment-name").is_some())
            })
            .cloned()
            .ok_or_else(|| list.to_string())
    };
    let waiting = eventually(WAIT, "the worker's KubeadmConfig", worker_config).await;
    assert!(
        waiting["status"]["dataSecretName"].is_null(),
        "no join data before the control plane is initialized: {}",
        waiting["status"]
    );

    let configmap = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
        "data": {"ClusterConfiguration": ""}});
    kubectl_ok(kc, &["create", "-f", "-"], Some(&configmap.to_string())).await;
    eventually(WAIT, "the KubeadmControlPlane initialized", || async {
        let kcp = get_json(
            kc,
            "kubeadmcontrolplanes.v1beta2.controlplane.cluster.x-k8s.io/metal-cpem-control-plane",
            NS,
        )
        .await
        .unwrap_or_default();
        (kcp["status"]["initialization"]["controlPlaneInitialized"] == json!(true))
            .then_some(())
            .ok_or_else(|| kcp["status"].to_string())
    })
    .await;
    let config = eventually(WAIT, "join data for the worker", || async {
        let c = worker_config().await?;
        c["status"]["dataSecretName"]
            .is_string()
            .then(|| c.clone())
            .ok_or_else(|| c["status"].to_string())
    })
    .await;
    let secret_name = config["status"]["dataSecretName"].as_str().unwrap();
    let secret = get_json(kc, &format!("secret/{secret_name}"), NS)
        .await
        .unwrap();
    let userdata = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(secret["data"]["value"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(
        userdata.contains("kubeadm join"),
        "cloud-init that runs kubeadm join: {userdata}"
    );
}

/// Merge-patches our PacketCluster with kubectl (`extra` adds e.g. `--subresource=status`).
async fn merge_patch(kc: &Path, extra: &[&str], body: &Value) {
    let body = body.to_string();
    let target = format!("packetcluster/{CLUSTER}");
    let mut args = vec!["patch", &target, "-n", NS, "--type=merge", "-p", &body];
    args.extend_from_slice(extra);
    kubectl_ok(kc, &args, None).await;
}
