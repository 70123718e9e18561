//! Converges N PacketMachines with the real `capp-manager` binary (a child process) against
//! capp-testenv and capp-sim in this process, and prints wall time, Metal calls per machine
//! lifecycle by operation, and the manager's peak RSS.
//!
//! The simulator provisions a device in 8 minutes (48 s queued) and deprovisions it in one,
//! under a 20 requests/s rate limit; the timeline is compressed 20x for both the simulator
//! and the manager (`--time-scale 0.05`), which leaves call counts unchanged.
//!
//! ```text
//! cargo bench -p capp-manager --bench converge                 # 200 machines
//! CAPP_BENCH_MACHINES=1000 CAPP_BENCH_STEADY=0 CAPP_BENCH_TIME_SCALE=0.01 \
//!     cargo bench -p capp-manager --bench converge
//! ```
//!
//! `CAPP_BENCH_DEADLINE_SECS` (default 1200) bounds each wait; `CAPP_BENCH_TIME_SCALE`
//! (default 0.05) changes the compression: with 6 devices
//! provisioning at once per project, 1,000 machines need 1,000 / 6 x 8 minutes = 22 hours
//! of device time (67 minutes at 20x), so the memory run compresses 100x.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::too_many_lines,
    clippy::similar_names,
    reason = "a benchmark that prints its figures and fails by panicking"
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use capp_sim::{ClockMode, FaultConfig, SimConfig, Simulator, Timings};
use capp_testenv::TestEnv;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use serde_json::{Value, json};

/// The default compression of the timeline (20x).
const DEFAULT_SCALE: f64 = 0.05;
const PER_CLUSTER: usize = 20;
const NS: &str = "default";

/// The timeline's compression: `CAPP_BENCH_TIME_SCALE`, else [`DEFAULT_SCALE`].
fn scale() -> f64 {
    std::env::var("CAPP_BENCH_TIME_SCALE")
        .ok()
        .map_or(DEFAULT_SCALE, |v| {
            v.parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0 && *s <= 1.0)
                .expect("CAPP_BENCH_TIME_SCALE is a number in (0, 1]")
        })
}

fn scaled(secs: u64) -> Duration {
    Duration::from_secs(secs).mul_f64(scale())
}

/// A `kB` figure of `/proc/<pid>/status` (`VmHWM`: peak RSS; `RssAnon`: heap and stacks;
/// `RssFile`: mapped pages of the binary and libraries).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or_default()
}

fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Polls `count` until it returns `want`; after the deadline, prints the manager's peak RSS
/// so far and fails.
async fn until<F, Fut>(deadline: Instant, pid: u32, what: &str, want: usize, count: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = usize>,
{
    let mut report = Instant::now() + Duration::from_secs(60);
    loop {
        let n = count().await;
        if n == want {
            return;
        }
        if Instant::now() >= report {
            println!(
                "  {what}: {n} of {want} so far (manager RSS {:.1} MiB)",
                mib(status_kib(pid, "VmRSS"))
            );
            report += Duration::from_secs(60);
        }
        if Instant::now() >= deadline {
            println!(
                "{what}: {n}, wanted {want}; manager peak RSS so far: {:.1} MiB",
                mib(peak_rss_kib(pid))
            );
            panic!("{what}: {n}, wanted {want}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The manager child process, killed when the bench ends, panics included.
struct Manager(std::process::Child);

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn create(api: &Api<DynamicObject>, value: Value) -> DynamicObject {
    let obj: DynamicObject = serde_json::from_value(value).unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let machines: usize = std::env::var("CAPP_BENCH_MACHINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let clusters = machines.div_ceil(PER_CLUSTER);
    // Devices the project may have provisioning at once (Equinix's documented 5-6; the
    // simulator's default 6). `CAPP_BENCH_CREATE_LIMIT=0` lifts it.
    let create_limit = match std::env::var("CAPP_BENCH_CREATE_LIMIT") {
        Ok(v) => Some(
            v.parse::<u32>()
                .expect("CAPP_BENCH_CREATE_LIMIT is a number"),
        )
        .filter(|n| *n > 0),
        Err(_) => Some(capp_sim::DEFAULT_CREATE_LIMIT),
    };

    let env = TestEnv::start(capp_testenv::Config::default())
        .await
        .unwrap();
    env.install_crds(&capi_types::v1beta2::crds())
        .await
        .unwrap();
    env.install_crds(&capp_api::crds()).await.unwrap();
    let sim = Simulator::start(
        SimConfig::default()
            .with_clock(ClockMode::Real)
            .with_default_capacity(u32::try_from(machines * 2).unwrap())
            .with_timings(Timings {
                queued: scaled(48),
                provisioning: scaled(432),
                deprovisioning: scaled(60),
            })
            .with_create_limit(create_limit)
            .with_faults(FaultConfig {
                rate_limit: Some(20),
                ..FaultConfig::default()
            }),
    )
    .await
    .unwrap();
    let client = env.client().unwrap();
    let core = |resource: &str, kind: &str| {
        kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("cluster.x-k8s.io", "v1beta2", kind),
            resource,
        )
    };
    let cluster_api =
        Api::<DynamicObject>::namespaced_with(client.clone(), NS, &core("clusters", "Cluster"));
    let machine_api =
        Api::<DynamicObject>::namespaced_with(client.clone(), NS, &core("machines", "Machine"));
    let infra = |resource: &str, kind: &str| {
        kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(capp_api::GROUP, capp_api::VERSION, kind),
            resource,
        )
    };
    let pc_api = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        NS,
        &infra("packetclusters", "PacketCluster"),
    );
    let pm_api = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        NS,
        &infra("packetmachines", "PacketMachine"),
    );
    let secrets = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        NS,
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("", "v1", "Secret"),
            "secrets",
        ),
    );
    create(
        &secrets,
        json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "boot", "namespace": NS},
        "stringData": {"value": "#cloud-config\nruncmd: [kubeadm join]\n"}}),
    )
    .await;
    // The project has an SSH key, as real projects did.
    let project = sim.default_project_id().to_owned();
    let ssh = capp_packet::MetalClient::new(
        capp_packet::ClientConfig::new(sim.token()).with_base_url(sim.base_url()),
    )
    .unwrap();
    capp_packet::Metal::create_project_ssh_key(&ssh, &project, &capp_packet::CreateSshKey {
        label: "bench".into(),
        key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvF3v3w8Qq3vQ8R0mZp2cTtJxH0l6q0m8B9nJ2w1Xy2 bench".into(),
        ..capp_packet::CreateSshKey::default()
    })
    .await
    .unwrap();

    let manager = std::process::Command::new(env!("CARGO_BIN_EXE_capp-manager"))
        .args([
            "--kubeconfig",
            env.kubeconfig_path().to_str().unwrap(),
            "--metal-api-url",
            &sim.base_url(),
            "--metrics-bind-address=0",
            "--health-probe-bind-address=0",
            "--webhook-port=0",
            "--time-scale",
            &scale().to_string(),
            // The 10 minute default on the compressed timeline.
            &format!("--sync-period={}ms", scaled(600).as_millis()),
        ])
        .env("PACKET_API_KEY", sim.token())
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let pid = manager.id();
    let manager = Manager(manager);

    let started = Instant::now();
    for c in 0..clusters {
        let name = format!("c{c}");
        let cluster = create(&cluster_api, json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"infrastructureRef": {"apiGroup": capp_api::GROUP, "kind": "PacketCluster", "name": name}}})).await;
        let uid = cluster.uid().unwrap();
        create(&pc_api, json!({"apiVersion": capp_api::API_VERSION, "kind": "PacketCluster",
            "metadata": {"name": name, "namespace": NS, "labels": {"cluster.x-k8s.io/cluster-name": name},
                "ownerReferences": [{"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "name": name, "uid": uid}]},
            "spec": {"projectID": project, "metro": "da", "elasticIPReclaimPolicy": "Delete"}})).await;
        for m in 0..PER_CLUSTER.min(machines - c * PER_CLUSTER) {
            let mname = format!("{name}-m{m}");
            let mut labels = json!({"cluster.x-k8s.io/cluster-name": name});
            if m == 0 {
                labels["cluster.x-k8s.io/control-plane"] = json!("");
            }
            let machine = create(&machine_api, json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
                "metadata": {"name": mname, "namespace": NS, "labels": labels,
                    "ownerReferences": [{"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "name": name, "uid": uid}]},
                "spec": {"clusterName": name, "bootstrap": {"dataSecretName": "boot"}, "version": "v1.33.1",
                    "infrastructureRef": {"apiGroup": capp_api::GROUP, "kind": "PacketMachine", "name": mname}}})).await;
            create(&pm_api, json!({"apiVersion": capp_api::API_VERSION, "kind": "PacketMachine",
                "metadata": {"name": mname, "namespace": NS, "labels": labels,
                    "ownerReferences": [{"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine", "name": mname,
                        "uid": machine.uid().unwrap(), "controller": true}]},
                "spec": {"os": "ubuntu_24_04", "machineType": "c3.small.x86", "billingCycle": "hourly"}})).await;
        }
    }
    let created = started.elapsed();

    // 20 minutes of wall time, `CAPP_BENCH_DEADLINE_SECS` to change it (a loaded machine).
    let deadline = Instant::now()
        + Duration::from_secs(std::env::var("CAPP_BENCH_DEADLINE_SECS").map_or(1200, |v| {
            v.parse()
                .expect("CAPP_BENCH_DEADLINE_SECS is a number of seconds")
        }));
    until(deadline, pid, "Ready PacketMachines", machines, || async {
        let list = pm_api.list(&ListParams::default()).await.unwrap();
        list.items
            .iter()
            .filter(|pm| pm.data["status"]["ready"] == json!(true))
            .count()
    })
    .await;
    let converged = started.elapsed();
    let rss_ready = peak_rss_kib(pid);
    let (anon_ready, file_ready) = (status_kib(pid, "RssAnon"), status_kib(pid, "RssFile"));
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count);
    // Half a steady hour (compressed), doubled: what Ready machines cost. Skipped with
    // CAPP_BENCH_STEADY=0 (the 1,000-machine run only needs the RSS).
    let steady_run = std::env::var("CAPP_BENCH_STEADY").map_or(true, |v| v != "0");
    let before = sim.operation_counts();
    if steady_run {
        tokio::time::sleep(scaled(1800)).await;
    }
    let after = sim.operation_counts();
    let steady: u64 = 2 * (after.values().sum::<u64>() - before.values().sum::<u64>());

    let deleting = Instant::now();
    pm_api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .unwrap();
    until(deadline, pid, "PacketMachines left", 0, || async {
        pm_api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len()
    })
    .await;
    let deleted = deleting.elapsed();
    assert!(sim.devices().is_empty(), "devices left behind");
    let counts = sim.operation_counts();
    pc_api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .unwrap();
    until(deadline, pid, "PacketClusters left", 0, || async {
        pc_api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len()
    })
    .await;
    let peak = peak_rss_kib(pid);
    drop(manager);

    let cluster_ops = [
        "findIPReservations",
        "requestIPReservation",
        "deleteIPAddress",
        "createProjectSSHKey",
        "findProjectSSHKeys",
    ];
    let per_machine: BTreeMap<&String, f64> = counts
        .iter()
        .filter(|(op, _)| !cluster_ops.contains(&op.as_str()))
        .map(|(op, n)| (op, *n as f64 / machines as f64))
        .collect();
    let total: f64 = per_machine.values().sum();
    let limited: u64 = sim
        .status_counts()
        .iter()
        .filter(|((_, s), _)| *s == 429)
        .map(|(_, n)| n)
        .sum();
    println!(
        "machines: {machines} in {clusters} clusters ({PER_CLUSTER} per cluster), timeline compressed {:.0}x, {}",
        1.0 / scale(),
        create_limit.map_or_else(
            || "no create limit".to_owned(),
            |n| format!("at most {n} devices provisioning at once in the project")
        )
    );
    println!(
        "objects created in {created:.1?}; all Ready after {converged:.1?} (wall); deleted in {deleted:.1?}"
    );
    println!("Metal calls per machine lifecycle (create to deleted): {total:.2}");
    // Where they went: up to all Ready (the rollout, with the resyncs of machines Ready
    // early), the steady half hour, the deletion (cluster-level calls included).
    let sum = |c: &BTreeMap<String, u64>| c.values().sum::<u64>() as f64 / machines as f64;
    println!(
        "  by phase (all calls): until all Ready {:.2}, steady {:.2}, deletion {:.2}",
        sum(&before),
        sum(&after) - sum(&before),
        sum(&counts) - sum(&after)
    );
    for (op, n) in &per_machine {
        println!("  {op}: {n:.2}");
    }
    println!(
        "steady state: {:.2} calls per Ready machine per hour",
        steady as f64 / machines as f64
    );
    println!("429 answers: {limited}");
    println!(
        "manager peak RSS: {:.1} MiB (peak at Ready: {:.1} MiB; RSS then: {:.1} MiB anonymous + {:.1} MiB file-backed, {threads} threads)",
        mib(peak),
        mib(rss_ready),
        mib(anon_ready),
        mib(file_ready),
    );
    sim.shutdown().await;
    env.shutdown().await;
}
