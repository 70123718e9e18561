//! `capp-manager dev --apply examples/cluster.yaml`, the README's first command, as a person
//! runs it: the real binary reports the example cluster ready (every Machine Running, three
//! Nodes in the workload cluster), the kubeconfigs it wrote work with real `kubectl`, and
//! Ctrl-C (SIGINT) stops everything with exit code 0. The same with `--upstream` (the real
//! kube-apiserver and Cluster API managers; skipped loudly without `upstream/build`'s binaries,
//! failed under `CI=true`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the example cluster may take to become ready (about 10 s on an idle machine with
/// one-second provisioning; CI shares two cores with other tests).
const READY_BOUND: Duration = Duration::from_secs(150);
/// Both tests serve the example cluster on the same loopback Elastic IP (the simulator hands
/// out addresses in the same order in every process), so they run one at a time, also under
/// `cargo test` (nextest: the `loopback-metro-da` group in `.config/nextest.toml`).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long the shutdown may take after SIGINT.
const STOP_BOUND: Duration = Duration::from_secs(30);

/// Kills the process if the test fails before stopping it, and prints its log.
struct Running {
    child: Option<Child>,
    dir: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(self.dir.join("dev.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!(
                "capp-manager dev log ({}), last lines:",
                self.dir.join("dev.log").display()
            );
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cluster.yaml")
}

/// Waits for a stdout line satisfying `pred`, returning everything read so far.
fn wait_for_line(
    lines: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    bound: Duration,
    pred: impl Fn(&str) -> bool,
    what: &str,
) -> String {
    let deadline = Instant::now() + bound;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if pred(&line) {
                    return line;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => panic!(
                "no line {what} within {bound:?}; stdout so far:\n{}",
                seen.join("\n")
            ),
        }
    }
}

fn kubectl_lines(kubectl: &Path, kubeconfig: &Path, args: &[&str]) -> Vec<String> {
    let out = Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Starts `capp-manager dev --apply examples/cluster.yaml --dir DIR` on free ports with
/// one-second provisioning (and the `extra` flags); stdout lines arrive on the receiver.
fn spawn_dev(dir: &Path, extra: &[&std::ffi::OsStr]) -> (Running, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_capp-manager"))
        .env_remove("KUBECONFIG")
        .env_remove("RUST_LOG")
        .arg("dev")
        .arg("--apply")
        .arg(example())
        .arg("--dir")
        .arg(dir)
        .args([
            "--listen-kube=127.0.0.1:0",
            "--listen-metal=127.0.0.1:0",
            "--provision-seconds=1",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let running = Running {
        child: Some(child),
        dir: dir.to_owned(),
    };
    (running, lines)
}

/// Sends SIGINT and returns the exit status and the last stdout lines.
fn interrupt(running: &mut Running, lines: &mpsc::Receiver<String>) -> (ExitStatus, Vec<String>) {
    let interrupted = Instant::now();
    let mut child = running.child.take().unwrap();
    let pid = child.id();
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -INT {pid}");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if interrupted.elapsed() > STOP_BOUND {
            running.child = Some(child);
            panic!("capp-manager dev still running {STOP_BOUND:?} after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("stopped {:?} after SIGINT", interrupted.elapsed());
    // The pipe closes at exit: read what is left.
    let mut rest = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        rest.push(line);
    }
    (status, rest)
}

#[test]
fn dev_apply_brings_the_example_cluster_up_kubectl_sees_it_and_ctrl_c_exits_0() {
    let _serial = one_at_a_time();
    let dir = std::env::temp_dir().join(format!("capp-manager-dev-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let (mut running, lines) = spawn_dev(&dir, &[]);

    let mut seen = Vec::new();
    let ready = wait_for_line(
        &lines,
        &mut seen,
        READY_BOUND,
        |l| l.starts_with("ready: cluster default/demo "),
        "reporting the cluster ready",
    );
    assert!(
        ready.contains("3/3 Machines Running, 3 Nodes"),
        "{ready}\n{}",
        seen.join("\n")
    );
    eprintln!("ready after {:?}: {ready}", started.elapsed());
    // Usage lines name the kubeconfigs; both exist and only their owner can read them.
    let management = dir.join("kubeconfig");
    let workload = dir.join("default-demo.kubeconfig");
    let output = seen.join("\n");
    assert!(
        output.contains(&format!("export KUBECONFIG={}", management.display())),
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "kubectl --kubeconfig {} get nodes",
            workload.display()
        )),
        "{output}"
    );
    for path in [&management, &workload] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o077, 0, "{} is private", path.display());
    }

    let kubectl = capp_envtest::kubectl_path();
    if capp_envtest::require("kubectl (for `kubectl get machines`)", kubectl.is_some()) {
        let kubectl = kubectl.unwrap();
        let machines = kubectl_lines(
            &kubectl,
            &management,
            &[
                "get",
                "machines",
                "-n",
                "default",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name} {.status.phase}{\"\\n\"}{end}",
            ],
        );
        assert_eq!(machines.len(), 3, "{machines:?}");
        assert!(
            machines.iter().all(|m| m.ends_with(" Running")),
            "{machines:?}"
        );
        let nodes = kubectl_lines(&kubectl, &workload, &["get", "nodes", "-o", "name"]);
        assert_eq!(nodes.len(), 3, "{nodes:?}");
    }

    // Ctrl-C: everything stops, exit code 0.
    let (status, rest) = interrupt(&mut running, &lines);
    assert!(status.success(), "exit 0 after SIGINT, got {status:?}");
    assert!(rest.iter().any(|l| l == "Stopped"), "{rest:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--upstream`: the same cluster comes up with the real kube-apiserver, etcd and Cluster API
/// v1.14 managers in place of the embedded server and the emulation, and shuts down cleanly.
#[test]
fn dev_upstream_brings_the_example_cluster_up_with_the_real_cluster_api_managers() {
    let Some(bins) = capp_envtest::Binaries::require() else {
        return;
    };
    let _serial = one_at_a_time();
    let bin_dir = bins.path("kube-apiserver").parent().unwrap().to_owned();
    let dir =
        std::env::temp_dir().join(format!("capp-manager-dev-upstream-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let (mut running, lines) = spawn_dev(&dir, &["--upstream".as_ref(), bin_dir.as_os_str()]);
    let mut seen = Vec::new();
    // kube-apiserver and the managers take up to a minute to start on a busy machine.
    let ready = wait_for_line(
        &lines,
        &mut seen,
        READY_BOUND + Duration::from_secs(180),
        |l| l.starts_with("ready: cluster default/demo "),
        "reporting the cluster ready",
    );
    assert!(
        ready.contains("3/3 Machines Running, 3 Nodes"),
        "{ready}\n{}",
        seen.join("\n")
    );
    let output = seen.join("\n");
    assert!(
        output.contains("(kube-apiserver + etcd; Cluster API core"),
        "{output}"
    );
    eprintln!("ready after {:?}: {ready}", started.elapsed());
    let (status, rest) = interrupt(&mut running, &lines);
    assert!(status.success(), "exit 0 after SIGINT, got {status:?}");
    assert!(rest.iter().any(|l| l == "Stopped"), "{rest:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
