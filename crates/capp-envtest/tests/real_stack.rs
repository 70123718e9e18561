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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use capp_envtest::{Binaries, CapiManagers, ControlPlane, ControlPlaneOptions, kubectl};
use common::{eventually, kubectl_ok, require_kubectl};
use real_stack::{METAL_TOKEN, PROVISION_SECONDS, RunDir, SSH_KEY, Sim, start_manager};
use serde_json::{Value, json};

/// How long one step (machines running, nodes joined, deletion) may take on a loaded machine.
const WAIT: u64 = 240;
/// The namespace and ServiceAccount the components create for the manager.
const SYSTEM_NS: &str = "cluster-api-provider-packet-system";
const MANAGER_SA: &str = "cluster-api-provider-packet-manager";
/// A Kubernetes version the templates' machine-config matrix and the twin accept.
const KUBERNETES_VERSION: &str = "v1.33.2";

/// Everything a flow runs: the real management cluster, the simulator and the manager's
/// kubeconfig. Dropped in reverse order of start.
struct Stack {
    sim: Sim,
    capi: CapiManagers,
    cp: ControlPlane,
    /// The ServiceAccount's kubeconfig (a TokenRequest token).
    manager_kubeconfig: PathBuf,
    /// Last: its Drop keeps the logs when a flow fails.
    dir: RunDir,
}

impl Stack {
    fn admin(&self) -> &Path {
        self.cp.kubeconfig_path()
    }
}

/// Starts the stack, applies the components and mints the ServiceAccount's token. `None`
/// after a loud skip message without the upstream binaries or kubectl.
async fn stack(flow: &str) -> Option<Stack> {
    let bins = Binaries::require()?;
    if !require_kubectl() {
        return None;
    }
    let dir = RunDir::create(flow);
    let sim = Sim::start(&dir, PROVISION_SECONDS);
    let cp = ControlPlane::start(&bins, ControlPlaneOptions::default())
        .await
        .expect("etcd, kube-apiserver and kube-controller-manager start");
    eprintln!("{flow}: control plane logs in {}", cp.dir().display());
    let capi = CapiManagers::start(&cp, &bins)
        .await
        .expect("the CAPI managers start");
    let admin = cp.kubeconfig_path();

    // The components, with their variables substituted as `clusterctl init` would.
    let components = capp_components::to_yaml(
        &capp_components::components::components(&capp_components::Release::default()).unwrap(),
    )
    .unwrap();
    let values = BTreeMap::from([("PACKET_API_KEY".to_owned(), METAL_TOKEN.to_owned())]);
    let components = capp_components::variables::substitute(&components, &values).unwrap();
    let file = dir.write("infrastructure-components.yaml", &components);
    kubectl_ok(admin, &["apply", "-f", file.to_str().unwrap()], None).await;
    kubectl_ok(
        admin,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/packetclusters.infrastructure.cluster.x-k8s.io",
            "crd/packetmachines.infrastructure.cluster.x-k8s.io",
            "crd/packetmachinetemplates.infrastructure.cluster.x-k8s.io",
            "crd/packetclustertemplates.infrastructure.cluster.x-k8s.io",
        ],
        None,
    )
    .await;

    let token = kubectl_ok(
        admin,
        &[
            "create",
            "token",
            MANAGER_SA,
            "-n",
            SYSTEM_NS,
            "--duration=2h",
        ],
        None,
    )
    .await;
    let manager_kubeconfig = cp
        .kubeconfig_with_token("capp-manager", token.trim())
        .expect("the ServiceAccount kubeconfig is written");
    Some(Stack {
        sim,
        capi,
        cp,
        manager_kubeconfig,
        dir,
    })
}

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
        extra,
    )
}

/// Waits until the namespace holds exactly `n` Machines, then `kubectl wait`s until every one
/// is Running; returns them.
async fn machines_running(stack: &Stack, ns: &str, n: usize) -> Vec<Value> {
    let admin = stack.admin();
    eventually(WAIT, &format!("{n} Running Machines"), || async {
        let list = machines(admin, ns).await;
        if list.len() == n && list.iter().all(|m| m["status"]["phase"] == "Running") {
            Ok(())
        } else {
            Err(summary(&list))
        }
    })
    .await;
    // What a user runs; the poll above keeps it within kubectl's own time limit.
    let timeout = "--timeout=60s";
    let out = kubectl(
        admin,
        &[
            "wait",
            "--for=jsonpath={.status.phase}=Running",
            "machines.cluster.x-k8s.io",
            "--all",
            "-n",
            ns,
            timeout,
        ],
        None,
    )
    .await
    .unwrap();
    let list = machines(admin, ns).await;
    assert!(
        out.success,
        "kubectl wait for Running Machines failed: {}\nMachines: {}",
        out.stderr,
        summary(&list)
    );
    list
}

async fn machines(admin: &Path, ns: &str) -> Vec<Value> {
    let out = kubectl_ok(
        admin,
        &["get", "machines.cluster.x-k8s.io", "-n", ns, "-o", "json"],
        None,
    )
    .await;
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"].as_array().cloned().unwrap_or_default()
}

fn summary(machines: &[Value]) -> String {
    machines
        .iter()
        .map(|m| {
            format!(
                "{} phase={} providerID={}",
                m["metadata"]["name"], m["status"]["phase"], m["spec"]["providerID"]
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The workload cluster's kubeconfig, from the `<cluster>-kubeconfig` Secret.
async fn workload_kubeconfig(stack: &Stack, ns: &str, cluster: &str) -> PathBuf {
    let secret = format!("secret/{cluster}-kubeconfig");
    let value = eventually(WAIT, &format!("{secret} exists"), || async {
        let out = kubectl(
            stack.admin(),
            &["get", &secret, "-n", ns, "-o", "jsonpath={.data.value}"],
            None,
        )
        .await
        .unwrap();
        if out.success && !out.stdout.is_empty() {
            Ok(out.stdout)
        } else {
            Err(out.stderr)
        }
    })
    .await;
    let yaml = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .expect("the kubeconfig is base64");
    stack.dir.write(
        &format!("{cluster}-workload.kubeconfig"),
        &String::from_utf8(yaml).unwrap(),
    )
}

/// Waits until the workload cluster has exactly `n` Nodes, all Ready.
async fn nodes_ready(workload: &Path, n: usize) {
    eventually(
        WAIT,
        &format!("{n} Ready Nodes in the workload cluster"),
        || async {
            let out = kubectl(workload, &["get", "nodes", "-o", "json"], None)
                .await
                .unwrap();
            if !out.success {
                return Err(out.stderr);
            }
            let list: Value = serde_json::from_str(&out.stdout).unwrap();
            let items = list["items"].as_array().cloned().unwrap_or_default();
            let ready = items
                .iter()
                .filter(|node| {
                    node["status"]["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
                .count();
            if items.len() == n && ready == n {
                Ok(())
            } else {
                Err(format!("{} Nodes, {ready} Ready", items.len()))
            }
        },
    )
    .await;
}

/// Nothing duplicated or lost: the simulator holds exactly one live device per Machine, and
/// each Machine's providerID names a distinct one of them.
fn one_device_per_machine(sim: &Sim, machines: &[Value]) {
    let devices = sim.live_devices();
    let device_ids: BTreeSet<String> = devices
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    let hostnames: BTreeSet<&str> = devices
        .iter()
        .map(|d| d["hostname"].as_str().unwrap())
        .collect();
    let provider_ids: BTreeSet<String> = machines
        .iter()
        .map(|m| {
            m["spec"]["providerID"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("equinixmetal://")
                .to_owned()
        })
        .collect();
    assert_eq!(
        devices.len(),
        machines.len(),
        "one device per Machine; devices: {devices:?}; machines: {}",
        summary(machines)
    );
    assert_eq!(
        hostnames.len(),
        devices.len(),
        "distinct hostnames: {devices:?}"
    );
    assert_eq!(
        provider_ids, device_ids,
        "every Machine's providerID names its own device"
    );
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

    let timeout = format!("--timeout={WAIT}s");
    kubectl_ok(
        stack.admin(),
        &[
            "delete",
            &format!("cluster.cluster.x-k8s.io/{cluster}"),
            "-n",
            ns,
            &timeout,
        ],
        None,
    )
    .await;
    eventually(WAIT, "the simulator holds no devices", || async {
        let state = stack.sim.state();
        let devices = state["devices"].as_array().cloned().unwrap_or_default();
        if devices.is_empty() {
            Ok(())
        } else {
            Err(format!("{devices:?}"))
        }
    })
    .await;
    let state = stack.sim.state();
    assert_eq!(
        state["ip_reservations"], reservations_before,
        "deleting the cluster releases every IP reservation it made"
    );
    assert!(
        state["ip_reservations"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "the simulator holds no IP reservations: {}",
        state["ip_reservations"]
    );
    assert!(
        machines(stack.admin(), ns).await.is_empty(),
        "no Machine is left"
    );
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
        &[],
    );

    let (ns, cluster) = ("e2e", "e2e");
    let values: BTreeMap<String, String> = [
        ("CLUSTER_NAME", cluster),
        ("NAMESPACE", ns),
        ("KUBERNETES_VERSION", KUBERNETES_VERSION),
        // Metro `am`: flow 2 uses `fr`, so the twins' loopback addresses cannot collide
        // when the flows run in parallel.
        ("METRO", "am"),
        ("PROJECT_ID", &stack.sim.project),
        ("CONTROLPLANE_NODE_TYPE", "c3.small.x86"),
        ("WORKER_NODE_TYPE", "c3.small.x86"),
        ("CONTROL_PLANE_MACHINE_COUNT", "1"),
        ("WORKER_MACHINE_COUNT", "2"),
        ("SSH_KEY", SSH_KEY),
        ("PACKET_API_KEY", METAL_TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let template =
        capp_components::templates::render(capp_components::templates::Flavor::Default).unwrap();
    let template = capp_components::variables::substitute(&template, &values).unwrap();
    let file = stack.dir.write("cluster-template.yaml", &template);
    // The template keeps the control-plane Elastic IP when the cluster goes (`Retain`, the
    // Go provider's behaviour); the flow releases it, as `examples/cluster.yaml` does.
    let mut docs = capp_envtest::load_yaml_documents(&file).expect("the template parses");
    for doc in &mut docs {
        if doc["kind"] == "PacketCluster" {
            doc["spec"]["elasticIPReclaimPolicy"] = json!("Delete");
        }
    }
    let file = stack.dir.write(
        "cluster.json",
        &json!({"apiVersion": "v1", "kind": "List", "items": docs}).to_string(),
    );
    let admin = stack.admin().to_owned();
    kubectl_ok(&admin, &["create", "namespace", ns], None).await;
    kubectl_ok(&admin, &["apply", "-f", file.to_str().unwrap()], None).await;

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
