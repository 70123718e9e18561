//! Issue 16, flows 1 and 2: capp end to end on the real upstream stack.
//!
//! Each flow runs etcd, kube-apiserver (RBAC on), kube-controller-manager (garbage collector)
//! and the three real Cluster API v1.14 managers from the upstream tier, `capp-sim
//! --kubeadm-twin` and the real `capp-manager` binary as separate processes. The components
//! (`capp-components` output, variables substituted as clusterctl would) are applied with real
//! kubectl, and the manager runs with the generated ServiceAccount's identity (a TokenRequest
//! token, `kubectl create token`).
//!
//! 1. Standard CAPI path: a cluster from our default template (KubeadmControlPlane with 1
//!    replica, MachineDeployment with 2) on CAPI's kubeadm bootstrap and control-plane
//!    providers.
//! 2. Built-in bootstrap path: `examples/cluster.yaml` (a control-plane Machine and a
//!    MachineDeployment with our `PacketKubeadmConfig` kinds) with `capp-manager
//!    --kubeadm-bootstrap`. The bootstrap kinds' CRDs and RBAC are not in the components: the
//!    test installs `capp_api::bootstrap::crds()` and grants
//!    `capp_reconcile::rbac::bootstrap_rules()` to the ServiceAccount.
//!
//! Both: the manager is SIGKILLed right after the simulator saw the first device create and
//! restarted (nothing duplicated or lost); `kubectl wait` until every Machine is Running and the
//! workload cluster (reached with the `<cluster>-kubeconfig` Secret) has 3 Nodes; the
//! MachineDeployment is scaled to 3 and back to 1; deleting the cluster leaves the simulator
//! without devices or IP reservations. Each flow prints its wall time. Logs of every process
//! are kept on failure (paths printed). See docs/e2e.md.
//!
//! Skips loudly without the upstream binaries or kubectl; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/common.rs"]
mod common;
#[path = "support/real_stack.rs"]
mod real_stack;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{eventually, kubectl_ok};
use real_stack::{
    MANAGER_SA, SYSTEM_NS, Stack, WAIT, apply_in_new_namespace, default_template,
    delete_cluster_leaves_the_simulator_empty, machines_running, nodes_ready,
    one_device_per_machine, stack, start_manager, workload_kubeconfig,
};
use serde_json::{Value, json};

/// SIGKILLs the manager as soon as the simulator holds a device (the first create went
/// through), then starts a new manager process with the same identity.
async fn kill_after_first_create(
    stack: &Stack,
    manager: &mut real_stack::Child,
    extra: &[&str],
) -> real_stack::Child {
    let started = Instant::now();
    loop {
        if !stack.sim.live_devices().is_empty() {
            break;
        }
        manager.assert_running();
        assert!(
            started.elapsed() < Duration::from_secs(WAIT),
            "no device was created within {WAIT}s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    manager.sigkill();
    let at_kill = stack.sim.state()["devices"].as_array().unwrap().len();
    eprintln!("SIGKILLed capp-manager right after a device create ({at_kill} device(s))");
    start_manager(
        &stack.dir,
        "capp-manager-restarted",
        &stack.manager_kubeconfig,
        &stack.sim,
        &stack.webhook,
        extra,
    )
}

/// The common part of both flows once the cluster is applied: the SIGKILL, 3 Running Machines
/// and 3 Nodes, scaling the MachineDeployment to 3 and back to 1, then deleting the cluster.
async fn exercise(
    stack: &Stack,
    mut manager: real_stack::Child,
    manager_args: &[&str],
    ns: &str,
    cluster: &str,
    machine_deployment: &str,
) {
    let reservations_before = stack.sim.state()["ip_reservations"].clone();
    let mut manager = kill_after_first_create(stack, &mut manager, manager_args).await;

    let list = machines_running(stack, ns, 3).await;
    let workload = workload_kubeconfig(stack, ns, cluster).await;
    nodes_ready(&workload, 3).await;
    one_device_per_machine(&stack.sim, &list);
    manager.assert_running();

    let md = format!("machinedeployment.cluster.x-k8s.io/{machine_deployment}");
    for (replicas, machines_total) in [(3, 4), (1, 2)] {
        kubectl_ok(
            stack.admin(),
            &["scale", &md, "-n", ns, &format!("--replicas={replicas}")],
            None,
        )
        .await;
        let list = machines_running(stack, ns, machines_total).await;
        nodes_ready(&workload, machines_total).await;
        eventually(WAIT, "one live device per Machine", || async {
            let live = stack.sim.live_devices().len();
            if live == machines_total {
                Ok(())
            } else {
                Err(format!("{live} live devices"))
            }
        })
        .await;
        one_device_per_machine(&stack.sim, &list);
    }

    delete_cluster_leaves_the_simulator_empty(stack, ns, cluster, &reservations_before).await;
    manager.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_1_the_default_template_on_the_real_cluster_api_managers() {
    let started = Instant::now();
    let Some(mut stack) = stack("flow-1").await else {
        return;
    };
    let manager = start_manager(
        &stack.dir,
        "capp-manager",
        &stack.manager_kubeconfig,
        &stack.sim,
        &stack.webhook,
        &[],
    );

    let (ns, cluster) = ("e2e", "e2e");
    // Metro `am`: flow 2 uses `fr` (the twins' loopback addresses are per metro).
    let docs = default_template(&stack, ns, cluster, "am");
    apply_in_new_namespace(&stack, ns, docs).await;

    exercise(
        &stack,
        manager,
        &[],
        ns,
        cluster,
        &format!("{cluster}-worker-a"),
    )
    .await;
    stack
        .cp
        .check_running()
        .expect("the control plane still runs");
    stack
        .capi
        .check_running()
        .expect("the CAPI managers still run");
    println!(
        "flow 1 (KCP + CABPK on CAPI v1.14): wall time {:?}",
        started.elapsed()
    );
    drop(stack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_2_the_dev_example_with_the_built_in_bootstrap_provider() {
    let started = Instant::now();
    let Some(mut stack) = stack("flow-2").await else {
        return;
    };
    let admin = stack.admin().to_owned();

    // The bootstrap kinds are not in the components: their CRDs and the manager's rights.
    let crds: Vec<Value> = capp_api::bootstrap::crds()
        .into_iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    stack
        .cp
        .install_crds(&crds)
        .await
        .expect("the bootstrap CRDs install");
    let grant = json!({"apiVersion": "v1", "kind": "List", "items": [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "capp-e2e-kubeadm-bootstrap"},
            "rules": capp_reconcile::rbac::bootstrap_rules(),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "capp-e2e-kubeadm-bootstrap"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "capp-e2e-kubeadm-bootstrap"},
            "subjects": [{"kind": "ServiceAccount", "name": MANAGER_SA, "namespace": SYSTEM_NS}],
        },
    ]});
    let file = stack.dir.write("bootstrap-rbac.json", &grant.to_string());
    kubectl_ok(&admin, &["apply", "-f", file.to_str().unwrap()], None).await;

    let args = ["--kubeadm-bootstrap"];
    let manager = start_manager(
        &stack.dir,
        "capp-manager",
        &stack.manager_kubeconfig,
        &stack.sim,
        &stack.webhook,
        &args,
    );

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cluster.yaml");
    let mut docs = capp_envtest::load_yaml_documents(&example).expect("the example parses");
    for doc in &mut docs {
        if doc["kind"] == "PacketCluster" {
            // Metro `fr`: flow 1 uses `am` (see there); the project is the simulator's.
            doc["spec"]["metro"] = json!("fr");
            doc["spec"]["projectID"] = json!(stack.sim.project);
        }
    }
    let ns = docs[0]["metadata"]["namespace"]
        .as_str()
        .unwrap()
        .to_owned();
    let cluster = docs[0]["metadata"]["name"].as_str().unwrap().to_owned();
    let md = docs
        .iter()
        .find(|d| d["kind"] == "MachineDeployment")
        .and_then(|d| d["metadata"]["name"].as_str())
        .expect("the example has a MachineDeployment")
        .to_owned();
    let file = stack.dir.write(
        "cluster.json",
        &json!({"apiVersion": "v1", "kind": "List", "items": docs}).to_string(),
    );
    kubectl_ok(&admin, &["apply", "-f", file.to_str().unwrap()], None).await;

    exercise(&stack, manager, &args, &ns, &cluster, &md).await;
    stack
        .cp
        .check_running()
        .expect("the control plane still runs");
    stack
        .capi
        .check_running()
        .expect("the CAPI managers still run");
    println!(
        "flow 2 (built-in bootstrap, machine-based control plane, CAPI v1.14 core): wall time {:?}",
        started.elapsed()
    );
    drop(stack);
}
