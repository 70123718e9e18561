//! The cloud-config CAPI's kubeadm bootstrap provider (CABPK) writes into the bootstrap
//! Secret for a KubeadmConfigSpec: a port of the text templates of
//! `bootstrap/kubeadm/pkg/cloudinit` (CAPI v1.10+: `controlplane_init.go`,
//! `controlplane_join.go`, `node.go`, `files.go`, `commands.go`, `utils.go`'s `Indent`), for
//! the fields the cluster templates use (`files`, `preKubeadmCommands`,
//! `postKubeadmCommands` and the kubeadm configurations). The byte layout is the one of the
//! CABPK fixtures in `crates/capp-twin/tests/fixtures/` and
//! `crates/capp-bootstrap/tests/fixtures/go-provider/`. `users`, `ntp`, `diskSetup` and
//! `mounts` are refused (the templates set none): this port does not render them.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failure here is a test failure"
)]

use std::fmt::Write as _;

use serde_json::{Value, json};

/// Which bootstrap data CABPK renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The first control-plane node (`kubeadm init`).
    ControlPlaneInit,
    /// Another control-plane node (`kubeadm join --control-plane`).
    ControlPlaneJoin,
    /// A MachineDeployment's node (`kubeadm join`).
    Worker,
}

const HEADER: &str = "## template: jinja\n#cloud-config\n";
const SENTINEL: &str = "echo success > /run/cluster-api/bootstrap-success.complete";
const PLACEHOLDER: &str = "-   path: /run/cluster-api/placeholder\n    owner: root:root\n    permissions: '0640'\n    content: \"This placeholder file is used to create the /run/cluster-api sub directory in a way that is compatible with both Linux and Windows (mkdir -p /run/cluster-api does not work with Windows)\"";

/// `utils.go` `templateYAMLIndent`.
fn indent(i: usize, input: &str) -> String {
    let pad = " ".repeat(i);
    format!(
        "{pad}{}",
        input
            .split('\n')
            .collect::<Vec<_>>()
            .join(&format!("\n{pad}"))
    )
}

/// Go's `%q` for the printable ASCII strings the templates use (JSON's quoting agrees with
/// Go's on those).
fn go_quote(s: &str) -> String {
    assert!(
        s.chars().all(|c| c == ' ' || c.is_ascii_graphic()),
        "this port quotes printable ASCII only: {s:?}"
    );
    serde_json::to_string(s).unwrap()
}

/// `files.go`.
fn files(files: &[Value]) -> String {
    let mut out = "write_files:".to_owned();
    for f in files {
        let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
        write!(out, "\n-   path: {}\n    ", s("path")).unwrap();
        if !s("encoding").is_empty() {
            write!(out, "encoding: \"{}\"\n    ", s("encoding")).unwrap();
        }
        if !s("owner").is_empty() {
            write!(out, "owner: {}\n    ", s("owner")).unwrap();
        }
        if !s("permissions").is_empty() {
            write!(out, "permissions: '{}'\n    ", s("permissions")).unwrap();
        }
        if f["append"] == true {
            out.push_str("append: true\n    ");
        }
        out.push_str("content: |\n");
        out.push_str(&indent(6, &s("content")));
    }
    out
}

/// `commands.go`.
fn commands(list: &Value) -> String {
    let mut out = String::new();
    for command in list.as_array().into_iter().flatten() {
        write!(out, "\n  - {}", go_quote(command.as_str().unwrap())).unwrap();
    }
    out
}

/// A kubeadm configuration document as CABPK marshals it (apiVersion and kind added).
fn kubeadm_doc(kind: &str, fields: &Value, extra: &Value) -> String {
    let mut doc = json!({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": kind});
    for source in [fields, extra] {
        for (k, v) in source.as_object().into_iter().flatten() {
            doc[k] = v.clone();
        }
    }
    serde_saphyr::to_string(&doc).unwrap()
}

/// What CABPK knows besides the spec: the Cluster's name, endpoint and networking.
pub(crate) struct ClusterFacts<'a> {
    /// `Cluster.metadata.name`.
    pub(crate) name: &'a str,
    /// `Cluster.spec.controlPlaneEndpoint`, `host:port`.
    pub(crate) endpoint: &'a str,
    /// The Machine's version.
    pub(crate) version: &'a str,
}

/// The bootstrap data CABPK writes for `spec` (a KubeadmConfigSpec) and `role`.
pub(crate) fn render(spec: &Value, role: Role, facts: &ClusterFacts<'_>) -> String {
    for unsupported in ["users", "ntp", "diskSetup", "mounts", "bootCommands"] {
        assert!(
            spec.get(unsupported).is_none(),
            "this CABPK port does not render `{unsupported}`"
        );
    }
    let written = files(spec["files"].as_array().map_or(&[][..], Vec::as_slice));
    let discovery = json!({"discovery": {"bootstrapToken": {
        "apiServerEndpoint": facts.endpoint,
        "caCertHashes": [format!("sha256:{}", "ab".repeat(32))],
        "token": "abcdef.0123456789abcdef",
    }}});
    let (kubeadm_file, kubeadm_command) = match role {
        Role::ControlPlaneInit => {
            let cluster = kubeadm_doc(
                "ClusterConfiguration",
                &spec["clusterConfiguration"],
                &json!({
                    "clusterName": facts.name,
                    "controlPlaneEndpoint": facts.endpoint,
                    "kubernetesVersion": facts.version,
                }),
            );
            let init = kubeadm_doc("InitConfiguration", &spec["initConfiguration"], &json!({}));
            (
                format!(
                    "-   path: /run/kubeadm/kubeadm.yaml\n    owner: root:root\n    permissions: '0640'\n    content: |\n      ---\n{}\n      ---\n{}",
                    indent(6, &cluster),
                    indent(6, &init)
                ),
                format!("'kubeadm init --config /run/kubeadm/kubeadm.yaml  && {SENTINEL}'"),
            )
        }
        Role::ControlPlaneJoin | Role::Worker => {
            let mut join = spec["joinConfiguration"].clone();
            if role == Role::ControlPlaneJoin {
                join["controlPlane"] = json!({"certificateKey": "0".repeat(64)});
            }
            let join = kubeadm_doc("JoinConfiguration", &join, &discovery);
            let separator = if role == Role::Worker {
                "      ---\n"
            } else {
                ""
            };
            (
                format!(
                    "-   path: /run/kubeadm/kubeadm-join-config.yaml\n    owner: root:root\n    permissions: '0640'\n    content: |\n{separator}{}",
                    indent(6, &join)
                ),
                format!(
                    "kubeadm join --config /run/kubeadm/kubeadm-join-config.yaml  && {SENTINEL}"
                ),
            )
        }
    };
    format!(
        "{HEADER}\n{written}\n{kubeadm_file}\n{PLACEHOLDER}\nruncmd:{}\n  - {kubeadm_command}{}\n",
        commands(&spec["preKubeadmCommands"]),
        commands(&spec["postKubeadmCommands"]),
    )
}
