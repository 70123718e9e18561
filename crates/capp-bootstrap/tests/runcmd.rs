//! The `runcmd` list of rendered userdata, turned into a script by cloud-init's own
//! `util.shellify` and run by `sh` against stub commands in a temporary directory: the CAPI
//! sentinel is written only when every step before it succeeded, and the steps run in order.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed unwrap is a failed test"
)]

#[path = "support/tools.rs"]
mod tools;

use std::path::PathBuf;
use std::process::{Command, Output};

use capp_bootstrap::{MachineConfigMatrix, NodeRole, UserdataRequest, render_userdata};

struct Node {
    dir: PathBuf,
}

impl Node {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("capp-runcmd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("path")).unwrap();
        for (file, body) in [
            (
                "bin/node-setup.sh",
                "echo setup >> \"$LOG\"; exit \"${SETUP_EXIT:-0}\"",
            ),
            ("bin/metal-identity.sh", "echo identity >> \"$LOG\""),
            (
                "path/kubeadm",
                "echo \"kubeadm $*\" >> \"$LOG\"; exit \"${KUBEADM_EXIT:-0}\"",
            ),
            ("path/systemctl", "echo \"systemctl $*\" >> \"$LOG\""),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            Command::new("chmod").arg("+x").arg(&path).status().unwrap();
        }
        Self { dir }
    }

    /// cloud-init's script for `runcmd`, with the node paths moved into the sandbox.
    fn script(&self, python: &str, role: NodeRole) -> String {
        let matrix = MachineConfigMatrix::default_matrix().unwrap();
        let request = UserdataRequest::new(
            "ubuntu_24_04",
            "1.33.4".parse().unwrap(),
            role,
            tools::fake_cluster(),
            tools::fake_discovery(),
        );
        let rendered = render_userdata(&matrix, &request).unwrap();
        let runcmd = serde_json::to_string(&rendered.cloud_config.runcmd).unwrap();
        let out = Command::new(python)
            .args([
                "-c",
                "import json, sys\nfrom cloudinit import util\nsys.stdout.write(util.shellify(json.loads(sys.argv[1])))",
                &runcmd,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = self.dir.display().to_string();
        String::from_utf8(out.stdout)
            .unwrap()
            .replace("/opt/capp/bin/", &format!("{dir}/bin/"))
            .replace("/run/cluster-api", &format!("{dir}/run/cluster-api"))
    }

    fn run(&self, script: &str, env: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.dir.join("path").display(),
            std::env::var("PATH").unwrap()
        );
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .env("PATH", path)
            .env("LOG", self.dir.join("log"));
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn sentinel(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("run/cluster-api/bootstrap-success.complete")).ok()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_successful_bootstrap_runs_every_step_in_order_and_writes_the_sentinel() {
    let Some(python) = tools::cloud_init_modules_available() else {
        return;
    };
    let node = Node::new("ok");
    let script = node.script(&python, NodeRole::Worker);
    assert!(script.starts_with("#!/bin/sh\nset -e\n"), "{script}");
    let out = node.run(&script, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        node.log(),
        "setup\nidentity\nkubeadm join --config /run/kubeadm/kubeadm.yaml\n"
    );
    assert_eq!(node.sentinel().as_deref(), Some("success\n"));
}

#[test]
fn a_failing_setup_script_stops_the_bootstrap_before_kubeadm_and_the_sentinel() {
    let Some(python) = tools::cloud_init_modules_available() else {
        return;
    };
    let node = Node::new("setup-fails");
    let script = node.script(&python, NodeRole::Worker);
    let out = node.run(&script, &[("SETUP_EXIT", "1")]);
    assert!(!out.status.success());
    assert_eq!(node.log(), "setup\n");
    assert_eq!(node.sentinel(), None);
}

#[test]
fn a_failing_kubeadm_init_leaves_no_sentinel() {
    let Some(python) = tools::cloud_init_modules_available() else {
        return;
    };
    let node = Node::new("init-fails");
    let [init, ..] = <[_; 3]>::try_from(tools::fake_roles()).unwrap();
    let script = node.script(&python, init);
    let out = node.run(&script, &[("KUBEADM_EXIT", "1")]);
    assert!(!out.status.success());
    assert_eq!(
        node.log(),
        "setup\nidentity\nsystemctl daemon-reload\nsystemctl enable --now capp-control-plane-endpoint.service\nkubeadm init --config /run/kubeadm/kubeadm.yaml --upload-certs\n"
    );
    assert_eq!(node.sentinel(), None);
}

#[test]
fn a_joining_control_plane_binds_the_endpoint_only_after_kubeadm_join_succeeded() {
    let Some(python) = tools::cloud_init_modules_available() else {
        return;
    };
    let join = || tools::fake_roles().swap_remove(1);
    assert_eq!(join().name(), "control-plane-join");

    let node = Node::new("join-ok");
    let out = node.run(&node.script(&python, join()), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        node.log(),
        "setup\nidentity\nkubeadm join --config /run/kubeadm/kubeadm.yaml\nsystemctl daemon-reload\nsystemctl enable --now capp-control-plane-endpoint.service\n"
    );
    assert_eq!(node.sentinel().as_deref(), Some("success\n"));

    let node = Node::new("join-fails");
    let out = node.run(&node.script(&python, join()), &[("KUBEADM_EXIT", "1")]);
    assert!(!out.status.success());
    assert_eq!(
        node.log(),
        "setup\nidentity\nkubeadm join --config /run/kubeadm/kubeadm.yaml\n"
    );
    assert_eq!(node.sentinel(), None);
}
