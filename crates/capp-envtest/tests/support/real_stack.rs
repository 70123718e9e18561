//! Support for `real_stack.rs`: our own binaries (`capp-sim`, `capp-manager`) as processes next
//! to the upstream tier, a run directory for their logs, and the simulator's control surface.

#![allow(dead_code, reason = "each flow uses a different subset")]

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

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
/// (variables at their defaults, text logs), `POD_NAMESPACE`/`POD_NAME`, the API token, and a
/// kubeconfig for the ServiceAccount.
pub(crate) fn start_manager(
    dir: &RunDir,
    name: &str,
    kubeconfig: &Path,
    sim: &Sim,
    extra: &[&str],
) -> Child {
    let mut args: Vec<String> = vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--metal-api-url={}", sim.base_url),
        "--leader-elect".to_owned(),
        "--metrics-bind-address=0".to_owned(),
        format!("--health-probe-bind-address=127.0.0.1:{}", free_port()),
        // The components still ship v1beta1-only CRDs: no conversion webhook needed yet.
        "--webhook-port=0".to_owned(),
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
