//! Processes and tools of the dev-mode end-to-end test (`dev_e2e.rs`): the `capp-sim` binary
//! (built by cargo on demand, see [`capp_sim_binary`]), the `capp-manager` binary, the real
//! `kubectl`, and a run directory under `target/tmp` that keeps every log when the test fails.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The bearer token of the simulator's control surface in this test.
pub(crate) const CONTROL_TOKEN: &str = "dev-e2e-control";

/// The run directory: every process writes its log here. Removed when the test passes (unless
/// `DEV_E2E_KEEP_LOGS` is set), kept (and named in the panic message) when it fails.
pub(crate) struct RunDir {
    /// The directory.
    pub(crate) path: PathBuf,
}

impl RunDir {
    /// A fresh directory `target/tmp/dev_e2e-<pid>-<unix seconds>`.
    pub(crate) fn create() -> RunDir {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("dev_e2e-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&path).expect("the run directory can be created");
        eprintln!("dev_e2e: logs of every process in {}", path.display());
        RunDir { path }
    }

    /// A file in the run directory.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Fails the test, naming the run directory.
    pub(crate) fn fail(&self, message: &str) -> ! {
        panic!(
            "{message}\nlogs of every process (simulator, manager runs, API server and CAPI \
             emulation, kubectl) are kept in {}",
            self.path.display()
        )
    }

    /// Fails the test with `message()` unless `ok`.
    pub(crate) fn ensure(&self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.fail(&message());
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("dev_e2e FAILED: logs kept in {}", self.path.display());
        } else if std::env::var_os("DEV_E2E_KEEP_LOGS").is_some() {
            eprintln!(
                "dev_e2e: logs kept in {} (DEV_E2E_KEEP_LOGS)",
                self.path.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub(crate) struct Process {
    child: Child,
    /// What it is, for messages.
    pub(crate) name: String,
}

impl Process {
    /// Spawns `command` with stdout and stderr appended to `log`.
    pub(crate) fn spawn(name: &str, mut command: Command, log: &Path) -> Process {
        let out = std::fs::File::create(log).expect("the log file can be created");
        let err = out.try_clone().expect("the log file can be shared");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} cannot be started: {e}"));
        Process {
            child,
            name: name.to_owned(),
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    pub(crate) fn kill(mut self) -> std::process::ExitStatus {
        let _ = self.child.kill();
        self.child.wait().expect("the killed process is reaped")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `capp-sim` executable of this workspace, built by `cargo build -p capp-sim-bin --bin
/// capp-sim` into the target directory and profile of this test binary.
///
/// Why cargo: `CARGO_BIN_EXE_*` only names binaries of the test's own package, and a bin-only
/// package cannot be a dev-dependency. A binary merely found next to this one could be stale
/// after a narrow `cargo test -p capp-manager`; cargo rebuilds it when its sources changed
/// and answers in about a second when they did not (the README test command has just built
/// it). The test's target directory is `<target>/<profile>/deps/<test>`, so the build uses
/// `--target-dir <target>` and the same profile (cross-compiling with `--target` is not
/// supported here). `CARGO` (set by cargo for the test, else the cargo that compiled it)
/// is the cargo used.
pub(crate) fn capp_sim_binary(run: &RunDir) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps");
    let target_dir = profile_dir
        .parent()
        .expect("the profile directory lives in the target directory");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(other) => other.to_owned(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let started = Instant::now();
    let mut command = Command::new(cargo);
    // Cargo gives this test the variables of its package (`CARGO_PKG_NAME`,
    // `CARGO_MANIFEST_DIR`, ...); build scripts such as ring's track them, so inherited they
    // would rebuild half the graph. The user's cargo settings stay.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let cargo_setting = [
            "HOME",
            "TARGET_DIR",
            "INCREMENTAL",
            "BUILD_",
            "PROFILE_",
            "NET_",
            "HTTP_",
            "REGISTRIES_",
            "REGISTRY_",
            "TERM_",
        ]
        .iter()
        .any(|keep| {
            key.strip_prefix("CARGO_")
                .is_some_and(|rest| rest.starts_with(keep))
        });
        if (key.starts_with("CARGO_") && !cargo_setting) || key == "OUT_DIR" {
            command.env_remove(key.as_ref());
        }
    }
    let out = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--locked",
            "-p",
            "capp-sim-bin",
            "--bin",
            "capp-sim",
            "--message-format=json-render-diagnostics",
            "--profile",
            &profile,
            "--target-dir",
        ])
        .arg(target_dir)
        .stdin(Stdio::null())
        .output()
        .expect("cargo can be run");
    let _ = std::fs::write(run.file("cargo-build-capp-sim.log"), &out.stderr);
    run.ensure(out.status.success(), || {
        format!(
            "cargo build -p capp-sim-bin failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let executable = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "capp-sim")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from));
    let Some(executable) = executable else {
        run.fail("cargo build -p capp-sim-bin named no capp-sim executable");
    };
    eprintln!(
        "dev_e2e: capp-sim is {} (cargo build took {:.1?})",
        executable.display(),
        started.elapsed()
    );
    executable
}

/// The running `capp-sim` process and what it printed at start.
pub(crate) struct Sim {
    /// The process.
    pub(crate) process: Process,
    /// `base_url`, `token`, `project_id`, `control_url`, ... as printed.
    pub(crate) fields: HashMap<String, String>,
}

impl Sim {
    /// Starts `binary` with `args` (plus a free port and the control token) and waits for its
    /// start-up lines in `sim.log`.
    pub(crate) fn start(run: &RunDir, binary: &Path, args: &[&str]) -> Sim {
        let log = run.file("sim.log");
        let mut command = Command::new(binary);
        command
            .args(["--listen", "127.0.0.1:0", "--control-token", CONTROL_TOKEN])
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        let mut process = Process::spawn("capp-sim", command, &log);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let fields: HashMap<String, String> = text
                .lines()
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            if fields.contains_key("control_url") && fields.contains_key("kubeadm_twin") {
                return Sim { process, fields };
            }
            if let Some(status) = process.exited() {
                run.fail(&format!("capp-sim exited at start ({status}):\n{text}"));
            }
            run.ensure(Instant::now() < deadline, || {
                format!("capp-sim did not print its addresses within 30 s:\n{text}")
            });
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One control-surface request: (status, JSON body or `Null`).
    pub(crate) fn control(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        control_at(&self.fields["control_url"], method, path, body)
    }

    /// One Metal API request with the simulator's token: (status, JSON body or `Null`).
    pub(crate) fn metal(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let credential = format!("X-Auth-Token: {}", self.fields["token"]);
        http(&self.fields["base_url"], method, path, body, &credential)
    }

    /// `GET /_sim/v1/state`.
    pub(crate) fn state(&self) -> Value {
        let (status, state) = self.control("GET", "/state", None);
        assert_eq!(status, 200, "GET /_sim/v1/state: {state}");
        state
    }

    /// Metal API requests of one operation so far (`GET /_sim/v1/operations`).
    pub(crate) fn operation_count(&self, operation: &str) -> u64 {
        let (status, body) = self.control("GET", "/operations", None);
        assert_eq!(status, 200, "GET /_sim/v1/operations: {body}");
        body["counts"][operation].as_u64().unwrap_or(0)
    }
}

/// One request to the control surface at `control_url`: (status, JSON body or `Null`).
pub(crate) fn control_at(
    control_url: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    http(
        control_url,
        method,
        path,
        body,
        &format!("Authorization: Bearer {CONTROL_TOKEN}"),
    )
}

/// A plain HTTP/1.1 request to `base` + `path` with the `credential` header line,
/// `Connection: close`; status 0 when the
/// simulator cannot be reached or does not answer.
fn http(
    base: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    credential: &str,
) -> (u16, Value) {
    let rest = base.trim_start_matches("http://");
    let (addr, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let body = body.map(Value::to_string).unwrap_or_default();
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return (0, Value::Null);
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = write!(
        stream,
        "{method} /{prefix}{path} HTTP/1.1\r\nHost: {addr}\r\n{credential}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let json = response
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

/// Devices per `capp:machine-uid:<Machine>` tag in a state snapshot.
pub(crate) fn devices_per_machine(state: &Value) -> BTreeMap<String, Vec<String>> {
    let mut per = BTreeMap::<String, Vec<String>>::new();
    for device in state["devices"].as_array().into_iter().flatten() {
        let id = device["id"].as_str().unwrap_or_default().to_owned();
        for tag in device["tags"].as_array().into_iter().flatten() {
            if let Some(machine) = tag
                .as_str()
                .and_then(|t| t.strip_prefix(capp_reconcile::tags::MACHINE_TAG_PREFIX))
            {
                per.entry(machine.to_owned()).or_default().push(id.clone());
            }
        }
    }
    per
}

/// The real kubectl, with a private `HOME` (discovery cache) and every call logged.
pub(crate) struct Kubectl {
    bin: PathBuf,
    home: PathBuf,
    log: PathBuf,
}

impl Kubectl {
    /// kubectl from `PATH`; `None` after a loud skip message (a failure under `CI=true`).
    pub(crate) fn find(run: &RunDir) -> Option<Kubectl> {
        let bin = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("kubectl"))
                .find(|p| p.is_file())
        });
        if !capp_envtest::require("kubectl is not on PATH", bin.is_some()) {
            return None;
        }
        let home = run.file("kubectl-home");
        std::fs::create_dir_all(&home).expect("kubectl's home can be created");
        Some(Kubectl {
            bin: bin?,
            home,
            log: run.file("kubectl.log"),
        })
    }

    /// Runs `kubectl --kubeconfig <kubeconfig> <args>` and logs the call and its output.
    pub(crate) fn run(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        let started = Instant::now();
        let out = Command::new(&self.bin)
            .env("HOME", &self.home)
            .env_remove("KUBECONFIG")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("kubectl can be run");
        if let Ok(mut log) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
        {
            let _ = writeln!(
                log,
                "$ kubectl {} ({}, {:.1?})\n{}{}",
                args.join(" "),
                out.status,
                started.elapsed(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out
    }

    /// [`Kubectl::run`] that must succeed; returns stdout.
    pub(crate) fn ok(&self, run: &RunDir, kubeconfig: &Path, args: &[&str]) -> String {
        let out = self.run(kubeconfig, args);
        run.ensure(out.status.success(), || {
            format!(
                "kubectl {} failed ({}):\n{}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
