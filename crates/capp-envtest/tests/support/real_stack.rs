//! Support for `real_stack.rs` and `real_stack_v1beta2.rs`: our own binaries (`capp-sim`,
//! `capp-manager`) as processes next to the upstream tier, a run directory for their logs, the
//! simulator's control surface, and the steps the flows share (the stack with the components
//! applied, the default template, waiting for Machines and Nodes, deleting a cluster).

#![allow(dead_code, reason = "each flow uses a different subset")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use capp_envtest::webhook::LocalConversion;
use capp_envtest::{Binaries, CapiManagers, ControlPlane, ControlPlaneOptions, kubectl};
use serde_json::{Value, json};

use crate::common::{eventually, kubectl_ok, require_kubectl};

/// Overrides the folder holding `capp-sim` and `capp-manager` (default: the Cargo profile
/// folder of this test binary, `target/<profile>/`).
pub(crate) const WORKSPACE_BIN_DIR_ENV: &str = "CAPP_E2E_BIN_DIR";

/// The Metal API token of the simulator (`capp-sim --token`).
pub(crate) const METAL_TOKEN: &str = "capp-e2e-metal-token";
/// The simulator's control-surface token (`capp-sim --control-token`).
const CONTROL_TOKEN: &str = "capp-e2e-control-token";
/// A public key the project holds and the templates reference.
pub(crate) const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2eRealStackE2eKeyRealStackE2eKeyRealStk e2e";

/// A directory under `target/tmp` holding every process log of one flow; removed when the
/// flow passes, kept (and its path printed) when it fails.
pub(crate) struct RunDir {
    path: PathBuf,
}

impl RunDir {
    pub(crate) fn create(flow: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "real-stack-{flow}-{}-{nanos:09}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("the run directory is created");
        eprintln!(
            "{flow}: logs of capp-sim, capp-manager and kubectl in {}",
            path.display()
        );
        Self { path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` in the directory and returns its path.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, contents).expect("the run directory is writable");
        path
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "keeping {} (process logs) because the flow failed",
                self.path.display()
            );
        } else {
            // Best effort: a leftover directory under target/tmp is harmless.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Finds one of our binaries: `$CAPP_E2E_BIN_DIR/<name>`, else `target/<profile>/<name>` next
/// to this test binary (the README test command, `cargo nextest run --workspace`, builds every
/// workspace binary before any test runs). When it is missing there, builds it with
/// `cargo build -p <package> --bin <name>`.
pub(crate) fn workspace_bin(name: &str, package: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(WORKSPACE_BIN_DIR_ENV).filter(|d| !d.is_empty()) {
        let path = Path::new(&dir).join(name);
        assert!(
            path.is_file(),
            "{name} not found in {WORKSPACE_BIN_DIR_ENV}={}",
            path.display()
        );
        return path;
    }
    // target/<profile>/deps/real_stack-<hash> -> target/<profile>/
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let path = profile.join(name);
    if !path.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!(
            "{name} is not built in {}: running cargo build -p {package} --bin {name}",
            profile.display()
        );
        let status = Command::new(cargo)
            .args(["build", "-p", package, "--bin", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build -p {package} failed");
    }
    assert!(path.is_file(), "{name} not found at {}", path.display());
    path
}

/// A child process whose stdout and stderr go to `<run dir>/<name>.log`; killed on drop.
pub(crate) struct Child {
    name: String,
    process: std::process::Child,
    log: PathBuf,
}

impl Child {
    pub(crate) fn spawn(
        dir: &RunDir,
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Self {
        let log = dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("the log file is created");
        let stderr = file.try_clone().expect("the log file handle clones");
        let mut command = Command::new(program);
        command
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("KUBECONFIG")
            .env_remove("PACKET_API_KEY")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name} ({}) starts: {e}", program.display()));
        Self {
            name: name.to_owned(),
            process: child,
            log,
        }
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics (with the log's end) when the process has exited.
    pub(crate) fn assert_running(&mut self) {
        if let Some(status) = self.process.try_wait().ok().flatten() {
            panic!(
                "{} exited ({status}); log ends:\n{}",
                self.name,
                self.tail()
            );
        }
    }

    fn tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGKILL (`Child::kill` sends it on Unix) and reap.
    pub(crate) fn sigkill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- last lines of {} ({}) ---\n{}",
                self.name,
                self.log.display(),
                self.tail()
            );
        }
        self.sigkill();
    }
}

/// A plain HTTP/1.0 request (no chunked answers) to `addr`; returns the status and body.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, String), String> {
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        request.push_str(k);
        request.push_str(": ");
        request.push_str(v);
        request.push_str("\r\n");
    }
    request.push_str("Content-Length: 0\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {response}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// A free loopback port (bound, then released).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `capp-sim --kubeadm-twin` as a process, with its control surface on.
pub(crate) struct Sim {
    pub(crate) process: Child,
    /// `http://127.0.0.1:<port>/metal/v1`.
    pub(crate) base_url: String,
    /// `127.0.0.1:<port>`.
    pub(crate) addr: String,
    /// The project the token sees.
    pub(crate) project: String,
}

impl Sim {
    /// Starts the simulator (devices active `provision_seconds` after their create) and waits
    /// for the start-up lines it prints.
    pub(crate) fn start(dir: &RunDir, provision_seconds: u32) -> Self {
        let args: Vec<String> = [
            "--listen",
            "127.0.0.1:0",
            "--token",
            METAL_TOKEN,
            "--control-token",
            CONTROL_TOKEN,
            "--provision-seconds",
            &provision_seconds.to_string(),
            "--kubeadm-twin",
            "--ssh-key",
            SSH_KEY,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let mut process = Child::spawn(
            dir,
            "capp-sim",
            &workspace_bin("capp-sim", "capp-sim-bin"),
            &args,
            &[],
        );
        let started = Instant::now();
        let fields = loop {
            let text = process.log_text();
            let fields: std::collections::HashMap<String, String> = text
                .lines()
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            if fields.contains_key("kubeadm_twin") {
                break fields;
            }
            process.assert_running();
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "capp-sim printed no start-up lines within 60 s:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(fields["kubeadm_twin"].starts_with("on"), "{fields:?}");
        let base_url = fields["base_url"].clone();
        let addr = base_url
            .trim_start_matches("http://")
            .trim_end_matches("/metal/v1")
            .to_owned();
        Self {
            process,
            base_url,
            addr,
            project: fields["project_id"].clone(),
        }
    }

    /// `GET /_sim/v1/state`.
    pub(crate) fn state(&self) -> Value {
        let bearer = format!("Bearer {CONTROL_TOKEN}");
        let (status, body) = http(
            &self.addr,
            "GET",
            "/_sim/v1/state",
            &[("Authorization", &bearer)],
        )
        .expect("the simulator answers");
        assert_eq!(status, 200, "GET /_sim/v1/state: {body}");
        serde_json::from_str(&body).expect("the state is JSON")
    }

    /// The devices not being deleted (state other than `deprovisioning`).
    pub(crate) fn live_devices(&self) -> Vec<Value> {
        self.state()["devices"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|d| d["state"] != "deprovisioning")
            .collect()
    }
}

/// Seconds from device create to `active` in the simulator.
pub(crate) const PROVISION_SECONDS: u32 = 4;
/// The manager's `--time-scale`: the simulator's provisioning time over the manager's
/// expected one (`capp_reconcile::requeue::EXPECTED_PROVISIONING`, 480 s), so its polls
/// land when the device is due, as they would on Metal.
pub(crate) const TIME_SCALE: f64 = 0.01;

/// `capp-manager` as the Deployment of the components runs it: the Deployment's arguments
/// (variables at their defaults, text logs), `POD_NAMESPACE`/`POD_NAME`, the API token, a
/// kubeconfig for the ServiceAccount, and the conversion webhook on `webhook`'s port with its
/// certificates (cert-manager's Secret in a pod). `extra` adds arguments; `--flag=value` there
/// replaces the default of `--flag`.
pub(crate) fn start_manager(
    dir: &RunDir,
    name: &str,
    kubeconfig: &Path,
    sim: &Sim,
    webhook: &LocalConversion,
    extra: &[&str],
) -> Child {
    let mut args: Vec<String> = vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--metal-api-url={}", sim.base_url),
        "--leader-elect".to_owned(),
        "--metrics-bind-address=0".to_owned(),
        format!("--health-probe-bind-address=127.0.0.1:{}", free_port()),
        "--sync-period=10m".to_owned(),
        "--packetcluster-concurrency=10".to_owned(),
        "--packetmachine-concurrency=10".to_owned(),
        "--log-format=text".to_owned(),
        // The simulator provisions in seconds where Metal takes minutes: compress the
        // manager's requeue periods the same way (the hidden flag the benchmarks use).
        format!("--time-scale={TIME_SCALE}"),
        // Debug: the kept logs of a failed flow show every reconcile.
        "-v".to_owned(),
    ];
    args.extend(webhook.manager_args());
    // An argument of `extra` replaces the default of the same flag (clap refuses a flag
    // given twice), e.g. `--metrics-bind-address=127.0.0.1:<port>`.
    args.retain(|default| {
        let flag = default.split('=').next().unwrap_or_default();
        !extra
            .iter()
            .any(|e| flag.starts_with("--") && e.split('=').next() == Some(flag))
    });
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    Child::spawn(
        dir,
        name,
        &workspace_bin("capp-manager", "capp-manager"),
        &args,
        &[
            ("PACKET_API_KEY", METAL_TOKEN),
            ("POD_NAMESPACE", "cluster-api-provider-packet-system"),
            ("POD_NAME", "capp-controller-manager-e2e"),
        ],
    )
}

/// How long one step (machines running, nodes joined, deletion) may take on a loaded machine.
pub(crate) const WAIT: u64 = 240;
/// The namespace and ServiceAccount the components create for the manager.
pub(crate) const SYSTEM_NS: &str = "cluster-api-provider-packet-system";
pub(crate) const MANAGER_SA: &str = "cluster-api-provider-packet-manager";
/// A Kubernetes version the templates' machine-config matrix and the twin accept.
pub(crate) const KUBERNETES_VERSION: &str = "v1.33.2";

/// Everything a flow runs: the real management cluster, the simulator and the manager's
/// kubeconfig. Dropped in reverse order of start.
pub(crate) struct Stack {
    pub(crate) sim: Sim,
    pub(crate) capi: CapiManagers,
    pub(crate) cp: ControlPlane,
    /// The ServiceAccount's kubeconfig (a TokenRequest token).
    pub(crate) manager_kubeconfig: PathBuf,
    /// The manager's conversion webhook: the API server calls it for v1beta1 reads and writes
    /// (the CRDs store v1beta2), on a local port in place of the components' Service.
    pub(crate) webhook: LocalConversion,
    /// Last: its Drop keeps the logs when a flow fails.
    pub(crate) dir: RunDir,
}

impl Stack {
    pub(crate) fn admin(&self) -> &Path {
        self.cp.kubeconfig_path()
    }
}

/// Starts the stack, applies the components and mints the ServiceAccount's token. `None`
/// after a loud skip message without the upstream binaries or kubectl.
pub(crate) async fn stack(flow: &str) -> Option<Stack> {
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

    // The components, with their variables substituted as `clusterctl init` would, and the
    // CRDs' conversion webhook pointed at the manager's local port with a test CA in place of
    // cert-manager and cluster DNS (envtest's way).
    let webhook = LocalConversion::new().expect("the webhook serving certificates are issued");
    let components = capp_components::to_yaml(&webhook.wire(
        capp_components::components::components(&capp_components::Release::default()).unwrap(),
    ))
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
        webhook,
        dir,
    })
}

/// Waits until the namespace holds exactly `n` Machines, then `kubectl wait`s until every one
/// is Running; returns them.
pub(crate) async fn machines_running(stack: &Stack, ns: &str, n: usize) -> Vec<Value> {
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

pub(crate) async fn machines(admin: &Path, ns: &str) -> Vec<Value> {
    let out = kubectl_ok(
        admin,
        &["get", "machines.cluster.x-k8s.io", "-n", ns, "-o", "json"],
        None,
    )
    .await;
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"].as_array().cloned().unwrap_or_default()
}

pub(crate) fn summary(machines: &[Value]) -> String {
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
pub(crate) async fn workload_kubeconfig(stack: &Stack, ns: &str, cluster: &str) -> PathBuf {
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
pub(crate) async fn nodes_ready(workload: &Path, n: usize) {
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
pub(crate) fn one_device_per_machine(sim: &Sim, machines: &[Value]) {
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

/// Our default cluster template (`capp-components template`: KubeadmControlPlane, CPEM
/// flavor) rendered with clusterctl's variables for `cluster` in `ns` and `metro` (1 control
/// plane Machine, 2 workers, the simulator's project), as documents. The PacketCluster
/// releases its Elastic IP on deletion (`elasticIPReclaimPolicy: Delete`): the template keeps
/// it (`Retain`, the Go provider's behaviour), a flow must leave the simulator empty.
pub(crate) fn default_template(stack: &Stack, ns: &str, cluster: &str, metro: &str) -> Vec<Value> {
    let values: BTreeMap<String, String> = [
        ("CLUSTER_NAME", cluster),
        ("NAMESPACE", ns),
        ("KUBERNETES_VERSION", KUBERNETES_VERSION),
        ("METRO", metro),
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
    let mut docs = capp_envtest::load_yaml_documents(&file).expect("the template parses");
    for doc in &mut docs {
        if doc["kind"] == "PacketCluster" {
            doc["spec"]["elasticIPReclaimPolicy"] = json!("Delete");
        }
    }
    docs
}

/// Creates namespace `ns` and applies `docs` there with `kubectl apply` (as one List).
pub(crate) async fn apply_in_new_namespace(stack: &Stack, ns: &str, docs: Vec<Value>) {
    let file = stack.dir.write(
        &format!("{ns}-cluster.json"),
        &json!({"apiVersion": "v1", "kind": "List", "items": docs}).to_string(),
    );
    kubectl_ok(stack.admin(), &["create", "namespace", ns], None).await;
    kubectl_ok(
        stack.admin(),
        &["apply", "-f", file.to_str().unwrap()],
        None,
    )
    .await;
}

/// `kubectl delete cluster`, then checks that the simulator holds no device, that every IP
/// reservation the cluster made is released (`reservations_before`: the simulator's
/// reservations before the cluster was applied) and that no Machine is left.
pub(crate) async fn delete_cluster_leaves_the_simulator_empty(
    stack: &Stack,
    ns: &str,
    cluster: &str,
    reservations_before: &Value,
) {
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
        &state["ip_reservations"], reservations_before,
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
}
