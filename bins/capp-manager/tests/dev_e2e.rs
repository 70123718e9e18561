//! Issue 15's end-to-end test, as separate processes: the `capp-sim` binary with the
//! workload-cluster twin and its control surface, the `capp-manager` binary (infrastructure
//! controllers and the built-in kubeadm bootstrap provider), and, in this process, the
//! embedded HTTPS API server (capp-testenv) with the Cluster API core emulation. The real
//! `kubectl` applies `examples/cluster.yaml` (one control-plane Machine and a
//! MachineDeployment of two workers), waits until every Machine is Running, finds the three
//! Nodes in the workload cluster through the `demo-kubeconfig` Secret, scales the
//! MachineDeployment to 3 and back to 1, and deletes the Cluster; the simulator then holds
//! none of the cluster's devices or IP reservations.
//!
//! The manager is SIGKILLed once right after the control plane's device was created: the
//! simulator answers that create with the `hang` fault (the device exists, the manager still
//! waits for the answer) and its control surface (`GET /_sim/v1/operations`) tells the test
//! the moment. The restarted manager adopts that device: no Machine ever has two devices (a
//! watcher checks the simulator's state every 100 ms), none is lost.
//!
//! Logs of every process go to `target/tmp/dev_e2e-*` and are kept when the test fails (the
//! panic message names the directory). Without kubectl the test skips loudly (fails under
//! `CI=true`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

#[path = "support/dev.rs"]
mod dev;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capp_testenv::capi::{CoreEmulation, Options};
use capp_testenv::{Gvr, TestEnv};
use dev::{Kubectl, Process, RunDir, Sim, devices_per_machine};
use serde_json::{Value, json};

/// The example's Cluster, namespace, MachineDeployment and metro.
const CLUSTER: &str = "demo";
const NS: &str = "default";
const DEPLOYMENT: &str = "demo-md-0";
const METRO: &str = "da";
/// An SSH key for the simulator's project (a project starts without keys).
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDevE2eTestKeyForTheSimulatedProject0000000000 dev-e2e";
/// Longest wait for one step (Machines Running, Nodes, deletion).
const STEP: Duration = Duration::from_secs(90);
/// The whole test must stay well under this.
const BUDGET: Duration = Duration::from_secs(300);

#[expect(clippy::too_many_lines, reason = "one scenario, step by step")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_cluster_runs_scales_and_deletes_across_a_manager_kill() {
    let run = RunDir::create();
    let Some(kubectl) = Kubectl::find(&run) else {
        return;
    };
    log_in_process(&run.file("apiserver-and-capi-emulation.log"));

    // The simulator: 2 s from create to active, the twin, the control surface.
    let sim_binary = dev::capp_sim_binary(&run);
    // The budget counts the scenario, not cargo building capp-sim (its time is printed).
    let started = Instant::now();
    let mut sim = Sim::start(
        &run,
        &sim_binary,
        &[
            "--kubeadm-twin",
            "--provision-seconds",
            "2",
            "--ssh-key",
            KEY,
        ],
    );
    let spacer = skip_shared_addresses(&run, &sim);

    // The management API server and Cluster API core, in this process.
    let env = TestEnv::start(capp_testenv::Config::default())
        .await
        .unwrap();
    env.install_crds(&capi_types::core_crds()).await.unwrap();
    env.install_crds(&capp_api::crds()).await.unwrap();
    env.install_crds(&capp_api::bootstrap::crds())
        .await
        .unwrap();
    let core = CoreEmulation::start(
        env.client().unwrap(),
        Options::default().with_poll_interval(Duration::from_millis(500)),
    );
    let kubeconfig = env.kubeconfig_path().to_owned();

    // The first create (the control plane's device) takes effect but gets no answer.
    let (status, body) = sim.control(
        "POST",
        "/faults",
        Some(&json!({"fault": "hang", "operation": "createDevice", "times": 1})),
    );
    run.ensure(status == 204, || {
        format!("arming the hang: {status} {body}")
    });
    let creates_before = sim.operation_count("createDevice");
    let manager = start_manager(&run, &sim, &kubeconfig, 1);

    // One device per Machine at every point, watched from a thread.
    let watcher = Watcher::start(&sim);

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cluster.yaml");
    kubectl.ok(
        &run,
        &kubeconfig,
        &["apply", "-f", example.to_str().unwrap()],
    );

    // The moment: the create was counted while the manager still waits for its answer.
    let deadline = Instant::now() + STEP;
    while sim.operation_count("createDevice") == creates_before {
        run.ensure(Instant::now() < deadline, || {
            format!("no device was created within {STEP:?}")
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = manager.kill();
    let before = sim.state();
    let per_machine = devices_per_machine(&before);
    run.ensure(per_machine.len() == 1, || {
        format!("one device, the control plane's, when the manager was killed: {before}")
    });
    let (killed_machine, killed_devices) = per_machine.into_iter().next().unwrap();
    let hung_device = killed_devices[0].clone();
    eprintln!(
        "dev_e2e: SIGKILLed the manager ({status}) right after it created {hung_device} for \
         {killed_machine}, at {:.1?}",
        started.elapsed()
    );
    let recorded = env
        .get_object(
            &Gvr::new(capp_api::GROUP, capp_api::VERSION, "packetmachines"),
            Some(NS),
            &killed_machine,
        )
        .await
        .and_then(|pm| pm.pointer("/spec/providerID").cloned());
    run.ensure(recorded.is_none(), || {
        format!("the killed manager cannot have recorded the device: PacketMachine providerID {recorded:?}")
    });
    let manager = start_manager(&run, &sim, &kubeconfig, 2);

    // Every Machine Running; the workload cluster lists three Nodes.
    wait_machines_running(&run, &kubectl, &kubeconfig, 3).await;
    let provider_id = machine_field(&env, &killed_machine, "/spec/providerID").await;
    run.ensure(
        provider_id.as_deref() == Some(&format!("equinixmetal://{hung_device}")),
        || {
            format!(
                "the restarted manager adopts the device created before the kill \
                 ({hung_device}), got providerID {provider_id:?}"
            )
        },
    );
    let workload = workload_kubeconfig(&run, &kubectl, &kubeconfig);
    wait_nodes(&run, &kubectl, &workload, 3).await;
    eprintln!(
        "dev_e2e: 3 Machines Running, 3 Nodes at {:.1?}",
        started.elapsed()
    );

    // Scale to 3 workers and back to 1: Machines and Nodes follow.
    for (replicas, machines) in [(3, 4), (1, 2)] {
        kubectl.ok(
            &run,
            &kubeconfig,
            &[
                "scale",
                "-n",
                NS,
                &format!("machinedeployment/{DEPLOYMENT}"),
                &format!("--replicas={replicas}"),
            ],
        );
        wait_machines_running(&run, &kubectl, &kubeconfig, machines).await;
        wait_nodes(&run, &kubectl, &workload, machines).await;
        wait_devices(&run, &sim, &spacer, machines).await;
        eprintln!(
            "dev_e2e: scaled to {replicas}: {machines} Machines, Nodes and devices at {:.1?}",
            started.elapsed()
        );
    }

    // Delete the Cluster: the simulator holds none of its devices or IP reservations.
    kubectl.ok(
        &run,
        &kubeconfig,
        &[
            "delete",
            "-n",
            NS,
            &format!("cluster/{CLUSTER}"),
            &format!("--timeout={}s", STEP.as_secs()),
        ],
    );
    wait_devices(&run, &sim, &spacer, 0).await;
    let state = sim.state();
    let reservations: Vec<&str> = state["ip_reservations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str())
        .filter(|id| *id != spacer.reservation)
        .collect();
    run.ensure(reservations.is_empty(), || {
        format!("no IP reservation of the cluster is left: {state}")
    });

    let violations = watcher.stop();
    run.ensure(violations.is_empty(), || {
        format!("a Machine had more than one device: {violations:?}")
    });
    let creates = sim.operation_count("createDevice");
    // The spacer, 1 control plane, 2 workers and 1 scaled up; nothing retried into a duplicate.
    run.ensure(creates == 5, || {
        format!("five creates (four Machines and the address spacer), got {creates}")
    });

    drop(manager);
    let sim_exit = sim.process.exited();
    run.ensure(sim_exit.is_none(), || {
        format!("capp-sim kept running through the test, but exited: {sim_exit:?}")
    });
    core.shutdown().await;
    env.shutdown().await;
    let took = started.elapsed();
    eprintln!("dev_e2e: wall time {took:.1?}");
    run.ensure(took < BUDGET, || {
        format!("the test took {took:?}, over its {BUDGET:?} budget")
    });
}

/// Starts `capp-manager` (run `n`) against the API server and the simulator.
fn start_manager(run: &RunDir, sim: &Sim, kubeconfig: &Path, n: u32) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_capp-manager"));
    command
        .env("PACKET_API_KEY", &sim.fields["token"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "--metal-api-url",
            &sim.fields["base_url"],
            "--kubeadm-bootstrap",
            "--metrics-bind-address=0",
            "--health-probe-bind-address=0",
            // capp-testenv serves the v1beta1-only CRDs and calls no conversion webhook.
            "--webhook-port=0",
            // Requeues and polls on the simulator's short provisioning time: the first poll
            // of a provisioning device comes after half the expected 8 minutes, 4.8 s here.
            "--time-scale",
            "0.02",
        ]);
    let process = Process::spawn(
        &format!("capp-manager run {n}"),
        command,
        &run.file(&format!("manager-{n}.log")),
    );
    eprintln!("dev_e2e: {} is pid {}", process.name, process.pid());
    process
}

/// What the test created to keep its addresses apart from other tests' twins.
struct Spacer {
    reservation: String,
    device: String,
}

/// Other tests run twins in every metro, and every simulator hands out the same loopback
/// addresses in the same order: reserve the first Elastic IPs and management addresses of
/// the metro so this cluster's control-plane endpoint is not another test's.
fn skip_shared_addresses(run: &RunDir, sim: &Sim) -> Spacer {
    let project = &sim.fields["project_id"];
    let (status, reservation) = sim.metal(
        "POST",
        &format!("/projects/{project}/ips"),
        Some(&json!({"type": "public_ipv4", "quantity": 64, "metro": METRO})),
    );
    run.ensure(status == 201, || {
        format!("spacer reservation: {status} {reservation}")
    });
    let (status, device) = sim.metal(
        "POST",
        &format!("/projects/{project}/devices"),
        Some(&json!({
            "metro": METRO, "plan": "c3.small.x86", "operating_system": "ubuntu_24_04",
            "hostname": "address-spacer", "no_ssh_keys": true,
            "ip_addresses": [
                {"address_family": 4, "public": true, "cidr": 28},
                {"address_family": 4, "public": false, "cidr": 28},
            ],
        })),
    );
    run.ensure(status == 201, || {
        format!("spacer device: {status} {device}")
    });
    Spacer {
        reservation: reservation["id"].as_str().unwrap().to_owned(),
        device: device["id"].as_str().unwrap().to_owned(),
    }
}

/// `kubectl wait` until every Machine is Running, once there are `count` of them.
async fn wait_machines_running(run: &RunDir, kubectl: &Kubectl, kubeconfig: &Path, count: usize) {
    let deadline = Instant::now() + STEP;
    loop {
        let phases = kubectl.ok(
            run,
            kubeconfig,
            &[
                "get",
                "machines",
                "-n",
                NS,
                "--no-headers",
                "-o",
                "custom-columns=NAME:.metadata.name,PHASE:.status.phase",
            ],
        );
        if phases.lines().count() == count && !phases.contains("Deleting") {
            // kubectl waits for each Machine in turn with what is left of its timeout.
            let timeout = deadline
                .saturating_duration_since(Instant::now())
                .as_secs()
                .max(1);
            let out = kubectl.run(
                kubeconfig,
                &[
                    "wait",
                    "-n",
                    NS,
                    "machines",
                    "--all",
                    "--for=jsonpath={.status.phase}=Running",
                    &format!("--timeout={timeout}s"),
                ],
            );
            let after = kubectl.ok(
                run,
                kubeconfig,
                &["get", "machines", "-n", NS, "-o", "name"],
            );
            if out.status.success() && after.lines().count() == count {
                return;
            }
        }
        if Instant::now() > deadline {
            let table = kubectl.ok(
                run,
                kubeconfig,
                &["get", "machines", "-n", NS, "-o", "wide"],
            );
            run.fail(&format!(
                "{count} Machines, all Running, not reached within {STEP:?}:\n{table}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The workload cluster's admin kubeconfig, from the `<cluster>-kubeconfig` Secret.
fn workload_kubeconfig(run: &RunDir, kubectl: &Kubectl, kubeconfig: &Path) -> PathBuf {
    let yaml = kubectl.ok(
        run,
        kubeconfig,
        &[
            "get",
            "secret",
            "-n",
            NS,
            &format!("{CLUSTER}-kubeconfig"),
            "-o",
            "go-template={{.data.value | base64decode}}",
        ],
    );
    let path = run.file("workload-kubeconfig");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Waits until `kubectl get nodes` against the workload cluster lists `count` Nodes.
async fn wait_nodes(run: &RunDir, kubectl: &Kubectl, workload: &Path, count: usize) {
    let deadline = Instant::now() + STEP;
    loop {
        let out = kubectl.run(workload, &["get", "nodes", "-o", "name"]);
        if out.status.success() && String::from_utf8_lossy(&out.stdout).lines().count() == count {
            return;
        }
        if Instant::now() > deadline {
            run.fail(&format!(
                "the workload cluster did not list {count} Nodes within {STEP:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until the simulator holds exactly `count` devices besides the spacer.
async fn wait_devices(run: &RunDir, sim: &Sim, spacer: &Spacer, count: usize) {
    let deadline = Instant::now() + STEP;
    loop {
        let state = sim.state();
        let devices = state["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["id"] != spacer.device.as_str())
            .count();
        if devices == count {
            return;
        }
        if Instant::now() > deadline {
            run.fail(&format!(
                "the simulator holds {devices} devices, not {count}, after {STEP:?}: {state}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A field of the Machine `name` (JSON pointer), read in-process.
async fn machine_field(env: &TestEnv, name: &str, pointer: &str) -> Option<String> {
    env.get_object(
        &Gvr::new("cluster.x-k8s.io", "v1beta1", "machines"),
        Some(NS),
        name,
    )
    .await
    .and_then(|m| {
        m.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
}

/// Checks the simulator's state every 100 ms: a Machine with two devices is a violation.
struct Watcher {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<BTreeMap<String, Vec<String>>>>,
}

impl Watcher {
    fn start(sim: &Sim) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let control_url = sim.fields["control_url"].clone();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut violations = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let (status, state) = dev::control_at(&control_url, "GET", "/state", None);
                if status == 200 {
                    let doubled: BTreeMap<String, Vec<String>> = devices_per_machine(&state)
                        .into_iter()
                        .filter(|(_, devices)| devices.len() > 1)
                        .collect();
                    if !doubled.is_empty() {
                        violations.push(doubled);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            violations
        });
        Watcher { stop, thread }
    }

    fn stop(self) -> Vec<BTreeMap<String, Vec<String>>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Logs of this process (the API server, the CAPI emulation) into `path`; this test binary
/// holds one test, so the subscriber is global.
fn log_in_process(path: &Path) {
    let file = Mutex::new(std::fs::File::create(path).unwrap());
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,capp_testenv=debug",
            ))
            .with_ansi(false)
            .with_writer(file)
            .finish(),
    );
}
