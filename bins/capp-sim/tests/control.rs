//! The `capp-sim` executable steered from outside its process, as a kill test harness does:
//! an ambiguous create (applied, then the connection cut) armed over the control surface,
//! sent with the real capp-packet client, and found in the state snapshot; a hung create seen
//! through the operation counters while its client still waits (the moment a kill test
//! kills the client); plus the
//! start-up flags that preset the same controls.

// The helpers below are test code even though they are not `#[test]` functions.
#![allow(clippy::unwrap_used, reason = "test helpers")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use capp_packet::{ClientConfig, CreateDevice, Location, Metal, MetalClient, RetryPolicy};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_capp-sim");
const CONTROL: &str = "kill-test-control";
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKillTestHarnessKeyForTestsOnly000000000000000 kill";

/// Kills the child even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with `args` and reads the `key: value` lines up to `control_url`.
fn spawn(args: &[&str]) -> (Child, HashMap<String, String>) {
    let child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--control-token", CONTROL])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Child(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut fields = HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some((k, v)) = line.split_once(": ") {
            fields.insert(k.to_owned(), v.to_owned());
        }
        if line.starts_with("control_url: ") {
            break;
        }
    }
    assert!(fields.contains_key("control_url"), "{fields:?}");
    (child, fields)
}

/// One control request over a plain socket: (status, body as JSON or `Null`).
fn control(
    fields: &HashMap<String, String>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = &fields["control_url"];
    let rest = url.trim_start_matches("http://");
    let (addr, prefix) = rest.split_once('/').unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} /{prefix}{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {CONTROL}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let json = response
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

fn client(fields: &HashMap<String, String>) -> MetalClient {
    let config = ClientConfig::new(fields["token"].clone())
        .with_base_url(fields["base_url"].clone())
        .with_rate_limit(None)
        .with_retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
        })
        .with_request_timeout(Duration::from_secs(10));
    MetalClient::new(config).unwrap()
}

fn request(hostname: &str) -> CreateDevice {
    let mut request =
        CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
    request.hostname = Some(hostname.to_owned());
    request.tags = vec![format!("capp:machine-uid:{hostname}")];
    request
}

#[tokio::test]
async fn an_ambiguous_create_armed_from_outside_the_process_shows_in_the_snapshot() {
    let (_child, fields) = spawn(&["--provision-seconds", "0", "--ssh-key", KEY]);
    let project = fields["project_id"].clone();

    let (status, body) = control(
        &fields,
        "POST",
        "/faults",
        Some(json!({"fault": "lost", "operation": "createDevice", "times": 1})),
    );
    assert_eq!(status, 204, "{body}");

    let metal = client(&fields);
    let error = metal
        .create_device(&project, &request("cp-0"))
        .await
        .expect_err("the connection is cut after the create took effect");
    assert!(error.may_have_been_applied(), "{error}");

    let (status, state) = control(&fields, "GET", "/state", None);
    assert_eq!(status, 200);
    let devices = state["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "exactly one device: {state}");
    assert_eq!(devices[0]["hostname"], "cp-0");
    assert_eq!(devices[0]["project_id"], project.as_str());

    // The harness's recovery (adopt by tags) finds it, and nothing else was created.
    let found = metal
        .devices_with_tags(&project, &request("cp-0").tags)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, devices[0]["id"].as_str().unwrap());
}

#[tokio::test]
async fn a_hung_create_shows_in_the_counters_while_the_client_still_waits() {
    let (_child, fields) = spawn(&["--provision-seconds", "0", "--ssh-key", KEY]);
    let project = fields["project_id"].clone();
    let (status, counts) = control(&fields, "GET", "/operations", None);
    assert_eq!(status, 200);
    assert_eq!(counts["counts"].get("createDevice"), None, "{counts}");

    let (status, body) = control(
        &fields,
        "POST",
        "/faults",
        Some(json!({"fault": "hang", "operation": "createDevice"})),
    );
    assert_eq!(status, 204, "{body}");
    let metal = client(&fields);
    let create = tokio::spawn(async move { metal.create_device(&project, &request("cp-0")).await });

    // The counter moves once the device exists; the client has no answer yet.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, counts) = control(&fields, "GET", "/operations", None);
        if counts["counts"]["createDevice"] == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no create counted: {counts}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, state) = control(&fields, "GET", "/state", None);
    assert_eq!(state["devices"].as_array().unwrap().len(), 1, "{state}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !create.is_finished(),
        "the client is still waiting for its answer"
    );
    create.abort();

    let (status, body) = control(&fields, "GET", "/clock", None);
    assert_eq!(status, 200, "the simulator still serves: {body}");
    let (status, _) = control(&fields, "POST", "/operations", None);
    assert_eq!(status, 405);
}

#[tokio::test]
async fn start_up_flags_preset_capacity_faults_and_doomed_devices() {
    let (_child, fields) = spawn(&[
        "--provision-seconds",
        "0",
        "--ssh-key",
        KEY,
        "--capacity",
        "sv/c3.small.x86=0",
        "--inject",
        "status:500@findProjectById",
        "--fail-next-provisioning",
        "1",
        "--clock-scale",
        "2.5",
    ]);
    let project = fields["project_id"].clone();
    let metal = client(&fields);

    let mut in_sv = request("sv-0");
    in_sv.location = Location::Metro("sv".into());
    let error = metal.create_device(&project, &in_sv).await.unwrap_err();
    assert!(error.is_capacity_unavailable(), "{error}");

    let doomed = metal
        .create_device(&project, &request("doomed"))
        .await
        .unwrap();
    let (_, state) = control(&fields, "GET", "/state", None);
    assert_eq!(state["vanished_devices"], json!([doomed.id]), "{state}");

    let (_, clock) = control(&fields, "GET", "/clock", None);
    assert_eq!(clock["scale"], 2.5);
    // The injected 500 hits the first findProjectById only.
    let get_project = || {
        let addr = fields["base_url"]
            .trim_start_matches("http://")
            .trim_end_matches("/metal/v1")
            .to_owned();
        let mut stream = TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "GET /metal/v1/projects/{project} HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {}\r\nConnection: close\r\n\r\n",
            fields["token"]
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response[9..12].to_owned()
    };
    assert_eq!(get_project(), "500");
    assert_eq!(get_project(), "200");
}

#[test]
fn bad_control_flags_are_clear_errors() {
    for (args, expected) in [
        (vec!["--capacity", "da=3"], "METRO/PLAN=N"),
        (vec!["--inject", "explode@createDevice"], "is not a fault"),
        (vec!["--clock-scale=-2"], "outside 0..=1000000"),
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--capacity", "xx/c3.small.x86=1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("metro \"xx\" is not in the catalogue"),
        "{err}"
    );
    let out = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--token",
            "same",
            "--control-token",
            "same",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("must differ")
    );
}
