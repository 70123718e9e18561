//! `capp-sim --kubeadm-twin`: devices get loopback addresses, a device whose userdata runs
//! `kubeadm init` serves a workload API on its address without any client polling it, and
//! deleting it stops that API. (The twin's judgement itself is tested in capp-twin.)

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_capp-sim");

/// A kubeadm init without CA files (kubeadm, and the twin, generate the CA) and without a
/// controlPlaneEndpoint (the device's own address serves).
const INIT: &str = "#cloud-config\nwrite_files:\n- path: /run/kubeadm/kubeadm.yaml\n  content: |\n    apiVersion: kubeadm.k8s.io/v1beta4\n    kind: ClusterConfiguration\n    clusterName: cli\n    kubernetesVersion: v1.33.4\nruncmd:\n- kubeadm init --config /run/kubeadm/kubeadm.yaml\n";

/// Kills the child even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn request(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: capp-sim-token\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn help_documents_the_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--kubeadm-twin"), "{text}");
}

#[test]
fn a_kubeadm_init_device_serves_a_workload_api_until_it_is_deleted() {
    let child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--provision-seconds",
            "0",
            "--kubeadm-twin",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Child(child);
    let stdout = child.0.stdout.take().unwrap();
    let mut fields = std::collections::HashMap::new();
    // `kubeadm_twin: on ...` is the last line printed at start.
    for line in BufReader::new(stdout).lines().take(40) {
        let line = line.unwrap();
        if let Some((k, v)) = line.split_once(": ") {
            fields.insert(k.to_owned(), v.to_owned());
        }
        if fields.contains_key("kubeadm_twin") {
            break;
        }
    }
    assert!(fields["kubeadm_twin"].starts_with("on"), "{fields:?}");
    let addr = fields["base_url"]
        .trim_start_matches("http://")
        .trim_end_matches("/metal/v1")
        .to_owned();
    let project = &fields["project_id"];

    // Metro `sg`: capp-twin's own tests bind no address there.
    let body = serde_json::json!({
        "metro": "sg", "plan": "c3.small.x86", "operating_system": "ubuntu_24_04",
        "hostname": "cli-cp-0", "userdata": INIT, "no_ssh_keys": true,
    })
    .to_string();
    let (status, created) = request(
        &addr,
        "POST",
        &format!("/metal/v1/projects/{project}/devices"),
        Some(&body),
    );
    assert_eq!(status, 201, "{created}");
    let id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Nobody polls the device: the binary's tick boots it, and the twin starts the API.
    let mut api = String::new();
    wait_until("the device has a public IPv4", || {
        let (_, device) = request(&addr, "GET", &format!("/metal/v1/devices/{id}"), None);
        let device: serde_json::Value = serde_json::from_str(&device).unwrap();
        let public = device["ip_addresses"].as_array().and_then(|list| {
            list.iter()
                .find(|a| a["public"] == true && a["address_family"] == 4)
        });
        if let Some(ip) = public.and_then(|a| a["address"].as_str()) {
            api = format!("{ip}:6443");
        }
        !api.is_empty()
    });
    assert!(api.starts_with("127."), "a loopback device address: {api}");
    wait_until("the workload API listens", || {
        TcpStream::connect(&api).is_ok()
    });

    let (status, _) = request(&addr, "DELETE", &format!("/metal/v1/devices/{id}"), None);
    assert_eq!(status, 204);
    wait_until("the workload API stops", || {
        TcpStream::connect(&api).is_err()
    });
}
