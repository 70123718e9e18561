//! The real `capp-manager` binary as an operator runs it: a missing token, a missing webhook
//! serving certificate and an unreachable API server are one line on stderr and a non-zero
//! exit; SIGTERM while running against
//! capp-testenv and capp-sim exits 0 promptly, releases the leader election Lease and says so
//! in the log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use capp_sim::{SimConfig, Simulator};
use capp_testenv::TestEnv;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::json;

/// How long the manager may take to give up or to stop.
const BOUND: Duration = Duration::from_secs(20);
/// The Lease name (`capp_reconcile::manager::LEASE_NAME`).
const LEASE: &str = capp_reconcile::manager::LEASE_NAME;

fn manager() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_capp-manager"));
    command
        .env_remove("PACKET_API_KEY")
        .env_remove("KUBECONFIG")
        .env_remove("RUST_LOG")
        .args([
            "--metrics-bind-address=0",
            "--health-probe-bind-address=0",
            "--webhook-port=0",
        ]);
    command
}

/// Waits for `child` at most `bound`; kills it and fails past that.
fn wait_bounded(mut child: Child, bound: Duration, what: &str) -> (Output, Duration) {
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return (child.wait_with_output().unwrap(), started.elapsed());
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what}: capp-manager still running after {bound:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A file in the temporary directory, unique to this test process.
fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("capp-manager-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

/// Asserts stderr is exactly one line and returns it.
fn one_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got:\n{stderr}");
    lines[0].to_owned()
}

#[test]
fn a_missing_webhook_certificate_is_one_line_naming_the_flag_and_the_file() {
    let kubeconfig = temp_file(
        "unused-kubeconfig-webhook",
        "apiVersion: v1\nkind: Config\n",
    );
    let cert_dir =
        std::env::temp_dir().join(format!("capp-manager-{}-no-certs", std::process::id()));
    std::fs::create_dir_all(&cert_dir).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_capp-manager"))
        .env("PACKET_API_KEY", "not-a-real-token")
        .env_remove("RUST_LOG")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "--metrics-bind-address=0",
            "--health-probe-bind-address=0",
            "--webhook-port=0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (disabled, _) = wait_bounded(child, BOUND, "webhook disabled");
    let child = Command::new(env!("CARGO_BIN_EXE_capp-manager"))
        .env("PACKET_API_KEY", "not-a-real-token")
        .env_remove("RUST_LOG")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--webhook-cert-dir")
        .arg(&cert_dir)
        .args(["--metrics-bind-address=0", "--health-probe-bind-address=0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out, _) = wait_bounded(child, BOUND, "missing webhook certificate");
    assert!(!out.status.success(), "non-zero exit: {:?}", out.status);
    let line = one_line(&out);
    assert!(
        line.contains("--webhook-cert-dir")
            && line.contains(&cert_dir.join("tls.crt").display().to_string())
            && line.contains("--webhook-port 0"),
        "{line}"
    );
    // With the webhook disabled the same command gets past it (to the unusable kubeconfig).
    let other = String::from_utf8_lossy(&disabled.stderr);
    assert!(!other.contains("--webhook-cert-dir"), "{other}");
}

#[test]
fn a_missing_token_is_one_line_naming_both_ways_to_give_it() {
    let kubeconfig = temp_file("unused-kubeconfig", "apiVersion: v1\nkind: Config\n");
    let child = manager()
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out, _) = wait_bounded(child, BOUND, "missing token");
    assert!(!out.status.success(), "non-zero exit: {:?}", out.status);
    let line = one_line(&out);
    assert!(
        line.contains("PACKET_API_KEY") && line.contains("--packet-api-key-file"),
        "{line}"
    );

    // An empty token file is no token either.
    let empty = temp_file("empty-token", "\n");
    let child = manager()
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--packet-api-key-file")
        .arg(&empty)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out, _) = wait_bounded(child, BOUND, "empty token file");
    assert!(!out.status.success());
    assert!(one_line(&out).contains("PACKET_API_KEY"));
    let _ = std::fs::remove_file(kubeconfig);
    let _ = std::fs::remove_file(empty);
}

#[test]
fn an_unreachable_api_server_is_one_line_and_a_prompt_non_zero_exit() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = temp_file(
        "closed-port-kubeconfig",
        &format!(
            "apiVersion: v1
kind: Config
clusters:
- name: closed
  cluster:
    server: https://127.0.0.1:{port}
    insecure-skip-tls-verify: true
users:
- name: nobody
  user:
    token: not-a-real-token
contexts:
- name: closed
  context:
    cluster: closed
    user: nobody
current-context: closed
"
        ),
    );
    let child = manager()
        .env("PACKET_API_KEY", "capp-sim-token")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out, took) = wait_bounded(child, BOUND, "unreachable API server");
    assert!(!out.status.success(), "non-zero exit: {:?}", out.status);
    let line = one_line(&out);
    assert!(
        line.contains("cannot reach the Kubernetes API server"),
        "{line}"
    );
    assert!(
        !line.contains("not-a-real-token"),
        "no credential in the error: {line}"
    );
    eprintln!("gave up after {took:?}: {line}");
    let _ = std::fs::remove_file(kubeconfig);
}

fn lease_api(client: kube::Client) -> Api<DynamicObject> {
    Api::namespaced_with(
        client,
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("coordination.k8s.io", "v1", "Lease"),
            "leases",
        ),
    )
}

fn holder(lease: &DynamicObject) -> Option<String> {
    lease.data["spec"]["holderIdentity"]
        .as_str()
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
}

#[expect(clippy::too_many_lines, reason = "one process lifecycle, step by step")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_promptly_releases_the_lease_and_logs_the_shutdown() {
    let env = TestEnv::start(capp_testenv::Config::default())
        .await
        .unwrap();
    env.install_crds(&capi_types::v1beta2::crds())
        .await
        .unwrap();
    env.install_crds(&capp_api::crds()).await.unwrap();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let leases = lease_api(env.client().unwrap());

    let log_path = temp_file("sigterm-stderr", "");
    let mut child = Command::new(env!("CARGO_BIN_EXE_capp-manager"))
        .env_remove("RUST_LOG")
        .env("PACKET_API_KEY", sim.token())
        .env("POD_NAME", "capp-manager-test-replica")
        .args([
            "--kubeconfig",
            env.kubeconfig_path().to_str().unwrap(),
            "--metal-api-url",
            &sim.base_url(),
            "--metrics-bind-address=0",
            "--health-probe-bind-address=0",
            "--webhook-port=0",
            "--leader-elect",
            "--leader-election-namespace=default",
        ])
        .stdout(Stdio::null())
        // A file, not a pipe: nobody reads while it runs.
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();

    // Running: it holds the Lease.
    let started = Instant::now();
    loop {
        let lease = leases.get_opt(LEASE).await.unwrap();
        if lease.and_then(|l| holder(&l)).as_deref() == Some("capp-manager-test-replica") {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "capp-manager exited ({status:?}) before holding the Lease:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        if started.elapsed() > BOUND {
            let _ = child.kill();
            panic!("capp-manager did not take the Lease within {BOUND:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // It reconciles: a PacketCluster without its Cluster is waited for, not an error.
    let pc: DynamicObject = serde_json::from_value(json!({
        "apiVersion": capp_api::API_VERSION, "kind": "PacketCluster",
        "metadata": {"name": "prod", "namespace": "default"},
        "spec": {"projectID": sim.default_project_id(), "metro": "da"},
    }))
    .unwrap();
    Api::<DynamicObject>::namespaced_with(
        env.client().unwrap(),
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(capp_api::GROUP, capp_api::VERSION, "PacketCluster"),
            "packetclusters",
        ),
    )
    .create(&PostParams::default(), &pc)
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let sent = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success(), "kill -TERM {pid}");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "capp-manager still running {BOUND:?} after SIGTERM; stderr:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = sent.elapsed();
    let stderr = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(
        status.success(),
        "exit 0 after SIGTERM, got {status:?}; stderr:\n{stderr}"
    );
    assert!(took < Duration::from_secs(10), "stopped promptly: {took:?}");
    for said in ["Shutting down", "Stopped"] {
        assert!(stderr.contains(said), "the log says {said:?}:\n{stderr}");
    }
    let lease = leases.get(LEASE).await.unwrap();
    assert_eq!(holder(&lease), None, "the Lease is released: {lease:?}");
    eprintln!("stopped {took:?} after SIGTERM");
    sim.shutdown().await;
    env.shutdown().await;
}
