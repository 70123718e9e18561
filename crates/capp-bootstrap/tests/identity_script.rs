//! Runs the metadata identity script written to nodes (`METAL_IDENTITY_SCRIPT`) with bash,
//! jq and sed against a realistic Equinix Metal metadata document served by a stub `curl`,
//! inside a temporary directory (its paths are overridable for exactly this purpose).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed unwrap is a failed test"
)]

#[path = "support/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use capp_bootstrap::kubeadm::kubeadm_config;
use capp_bootstrap::userdata::METAL_IDENTITY_SCRIPT;
use capp_bootstrap::{KubeadmInput, NodeIdentity, NodeRole};

/// Metadata as the service returns it (fields from `metal-api.md` §6), trimmed.
const METADATA: &str = r#"{
  "id": "6f0c2b4e-1111-4222-8333-944455556666",
  "hostname": "golden-worker-a-1",
  "plan": "c3.small.x86",
  "metro": "da",
  "network": {
    "bonding": {"mode": 4},
    "addresses": [
      {"address_family": 4, "public": true, "management": true, "address": "147.75.1.2", "cidr": 31},
      {"address_family": 6, "public": true, "management": true, "address": "2604:1380::1", "cidr": 127},
      {"address_family": 4, "public": false, "management": true, "address": "10.70.1.5", "cidr": 31}
    ]
  }
}"#;

struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new(name: &str, metadata: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("capp-identity-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("metadata.json"), metadata).unwrap();
        let curl = dir.join("bin/curl");
        std::fs::write(&curl, "#!/bin/sh\ncat \"$CAPP_FAKE_METADATA\"\n").unwrap();
        Command::new("chmod").arg("+x").arg(&curl).status().unwrap();
        std::fs::write(dir.join("identity.sh"), METAL_IDENTITY_SCRIPT).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap()
        );
        Command::new("bash")
            .arg(self.path("identity.sh"))
            .args(args)
            .env("PATH", path)
            .env("CAPP_FAKE_METADATA", self.path("metadata.json"))
            .env("CAPP_METADATA_URL", "http://127.0.0.1:9/metadata")
            .env("CAPP_KUBEADM_CONFIG", self.path("kubeadm.yaml"))
            .env("CAPP_RUN_DIR", self.path("run"))
            .env("CAPP_KUBELET_DEFAULTS", self.path("default/kubelet"))
            .output()
            .unwrap()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tools_available() -> bool {
    tools::bash_available()
        && tools::available("jq", "jq", &["--version"])
        && tools::available("sed", "sed", &["--version"])
}

fn worker_kubeadm_config() -> String {
    kubeadm_config(&KubeadmInput {
        kubernetes_version: "1.33.4".parse().unwrap(),
        cluster: &tools::fake_cluster(),
        role: &NodeRole::Worker,
        discovery: &tools::fake_discovery(),
        identity: &NodeIdentity::FromMetadata,
    })
    .unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_script_fills_provider_id_and_private_node_ip_into_the_kubeadm_configuration() {
    if !tools_available() {
        return;
    }
    let sandbox = Sandbox::new("fill", METADATA);
    let original = worker_kubeadm_config();
    std::fs::write(sandbox.path("kubeadm.yaml"), &original).unwrap();
    let out = sandbox.run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let expected = original
        .replace(
            "__CAPP_METAL_DEVICE_ID__",
            "6f0c2b4e-1111-4222-8333-944455556666",
        )
        .replace("__CAPP_METAL_NODE_IP__", "10.70.1.5");
    assert_eq!(read(&sandbox.path("kubeadm.yaml")), expected);
    assert!(expected.contains("value: equinixmetal://6f0c2b4e-1111-4222-8333-944455556666\n"));
    assert!(expected.contains("value: 10.70.1.5\n"));
    assert_eq!(
        read(&sandbox.path("run/metal-identity.env")),
        "CAPP_DEVICE_ID=6f0c2b4e-1111-4222-8333-944455556666\nCAPP_NODE_IP=10.70.1.5\n"
    );
    assert!(
        !sandbox.path("default/kubelet").exists(),
        "only with --kubelet-extra-args"
    );
}

#[test]
fn with_kubelet_extra_args_the_flags_are_appended_to_existing_ones() {
    if !tools_available() {
        return;
    }
    let sandbox = Sandbox::new("defaults", METADATA);
    std::fs::create_dir_all(sandbox.path("default")).unwrap();
    std::fs::write(
        sandbox.path("default/kubelet"),
        "# managed by the image\nKUBELET_EXTRA_ARGS=\"--v=2\"\nOTHER=1\n",
    )
    .unwrap();
    let out = sandbox.run(&["--kubelet-extra-args"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        read(&sandbox.path("default/kubelet")),
        "# managed by the image\nOTHER=1\nKUBELET_EXTRA_ARGS=\"--v=2 --provider-id=equinixmetal://6f0c2b4e-1111-4222-8333-944455556666 --node-ip=10.70.1.5\"\n"
    );
    // No kubeadm configuration of ours on this node (a CABPK payload): nothing else changes.
    assert!(!sandbox.path("kubeadm.yaml").exists());
}

#[test]
fn metadata_without_a_private_ipv4_fails_and_leaves_the_configuration_alone() {
    if !tools_available() {
        return;
    }
    let public_only = METADATA.replace(
        r#"{"address_family": 4, "public": false, "management": true, "address": "10.70.1.5", "cidr": 31}"#,
        r#"{"address_family": 6, "public": false, "management": true, "address": "fd00::5", "cidr": 127}"#,
    );
    let sandbox = Sandbox::new("noip", &public_only);
    let original = worker_kubeadm_config();
    std::fs::write(sandbox.path("kubeadm.yaml"), &original).unwrap();
    let out = sandbox.run(&["--kubelet-extra-args"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no private IPv4 address"));
    assert_eq!(read(&sandbox.path("kubeadm.yaml")), original);
    assert!(!sandbox.path("default/kubelet").exists());
}

#[test]
fn a_hostile_device_id_is_refused_before_it_reaches_sed() {
    if !tools_available() {
        return;
    }
    let hostile = METADATA.replace(
        "6f0c2b4e-1111-4222-8333-944455556666",
        "x/g; s/.*/pwned/; s/y",
    );
    let sandbox = Sandbox::new("hostile", &hostile);
    let original = worker_kubeadm_config();
    std::fs::write(sandbox.path("kubeadm.yaml"), &original).unwrap();
    let out = sandbox.run(&[]);
    assert!(!out.status.success());
    assert_eq!(read(&sandbox.path("kubeadm.yaml")), original);
}
