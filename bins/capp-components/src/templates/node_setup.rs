//! Node preparation in cluster templates, generated from capp-bootstrap's machine-config
//! matrix ([`capp_bootstrap::MachineConfigMatrix::default_matrix`]).
//!
//! A KubeadmConfigSpec is shared by every machine of a control plane or a MachineDeployment,
//! whatever its OS and Kubernetes version, and CABPK copies its `files` and
//! `preKubeadmCommands` into the userdata unchanged. So the template carries, per role:
//!
//! - `/etc/capp/node-setup/node-setup.sh`: the dispatcher ([`DISPATCHER`]); on the node it
//!   derives the Equinix Metal OS slug from `/etc/os-release`, selects the matrix entry
//!   exactly as `MachineConfigMatrix::select` does, fills in the version-dependent values and
//!   runs the entry's script;
//! - `/etc/capp/node-setup/matrix.tsv`: the matrix's `machineParams` for that role (image,
//!   kubelet and control-plane patterns, entry, runtime package, script file);
//! - one `*.sh.in` per distinct script: each entry's Handlebars template rendered here with
//!   placeholders ([`PLACEHOLDERS`]) for the values only the node knows;
//! - one `preKubeadmCommands` line: `node-setup.sh control-plane|worker {{ .kubernetesVersion }}`
//!   (the provider renders `{{ .kubernetesVersion }}` from the Machine, so a version upgrade
//!   of the MachineDeployment or KubeadmControlPlane installs the new kubelet).
//!
//! Every file is written with `encoding: base64`: the scripts pass through clusterctl's
//! variable substitution (which rewrites `${...}`, `$$` and `\\`), the provider's Go
//! template (`{{`) and cloud-init's Jinja (`{{`, `{%`, `{#`) untouched, by construction.

use base64::Engine as _;
use capp_bootstrap::MachineConfigMatrix;
use serde_json::{Value, json};

use crate::{Error, Result};

/// Where the node-setup files are written on the node.
pub const NODE_SETUP_DIR: &str = "/etc/capp/node-setup";

/// The dispatcher script (static; see the module documentation).
pub const DISPATCHER: &str = include_str!("scripts/node-setup.sh");

/// The placeholders the matrix templates are rendered with, and the context key each stands
/// for. The dispatcher replaces them on the node (`sed`), with values it validated.
pub const PLACEHOLDERS: [(&str, &str); 10] = [
    ("entry", "@CAPP_ENTRY@"),
    ("image", "@CAPP_IMAGE@"),
    ("runtime_package", "@CAPP_RUNTIME_PACKAGE@"),
    ("role", "@CAPP_ROLE@"),
    ("kubernetes.version", "@CAPP_KUBERNETES_VERSION@"),
    ("kubernetes.tag", "@CAPP_KUBERNETES_TAG@"),
    ("kubernetes.minor_tag", "@CAPP_KUBERNETES_MINOR_TAG@"),
    ("kubernetes.major", "@CAPP_KUBERNETES_MAJOR@"),
    ("kubernetes.minor", "@CAPP_KUBERNETES_MINOR@"),
    ("kubernetes.patch", "@CAPP_KUBERNETES_PATCH@"),
];

/// The node kind a KubeadmConfigSpec is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A KubeadmControlPlane's machines (first and joining control-plane nodes).
    ControlPlane,
    /// A MachineDeployment's machines.
    Worker,
}

impl NodeKind {
    /// The dispatcher's first argument.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::ControlPlane => "control-plane",
            NodeKind::Worker => "worker",
        }
    }
}

/// What a KubeadmConfigSpec gets: `files` entries and the `preKubeadmCommands` line.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSetup {
    /// KubeadmConfigSpec `files` entries (base64-encoded).
    pub files: Vec<Value>,
    /// The `preKubeadmCommands` entry running the dispatcher.
    pub command: String,
}

/// A `files` entry of a KubeadmConfigSpec holding `content`, base64-encoded.
#[must_use]
pub fn base64_file(path: &str, permissions: &str, content: &str) -> Value {
    json!({
        "path": path,
        "owner": "root:root",
        "permissions": permissions,
        "encoding": "base64",
        "content": base64::engine::general_purpose::STANDARD.encode(content),
    })
}

fn placeholder(key: &str) -> &'static str {
    PLACEHOLDERS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("", |(_, p)| p)
}

/// The context the matrix templates are rendered with here: placeholders for what only the
/// node knows, `control_plane` as a literal. Keys only capp-bootstrap's own pipeline has
/// (`cluster.*`, `kubeadm.*`, `node.*`, `vars.*`) are absent, so a template using them fails
/// to render (strict mode) instead of producing a wrong script.
fn deferred_context(kind: NodeKind) -> Value {
    json!({
        "entry": placeholder("entry"),
        "image": placeholder("image"),
        "runtime_package": placeholder("runtime_package"),
        "role": placeholder("role"),
        "control_plane": kind == NodeKind::ControlPlane,
        "kubernetes": {
            "version": placeholder("kubernetes.version"),
            "tag": placeholder("kubernetes.tag"),
            "minor_tag": placeholder("kubernetes.minor_tag"),
            "major": placeholder("kubernetes.major"),
            "minor": placeholder("kubernetes.minor"),
            "patch": placeholder("kubernetes.patch"),
        },
    })
}

/// Whether `word` can be written into the table and `sed` replacements as is.
fn is_plain(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+:=-".contains(c))
}

fn invalid(entry: &str, reason: impl Into<String>) -> Error {
    Error::NodeSetup {
        entry: entry.to_owned(),
        reason: reason.into(),
    }
}

/// The node setup of `kind` from `matrix`.
///
/// Fails, naming the entry, when an entry's template needs a value only known to
/// capp-bootstrap's own pipeline (`cluster.*`, `kubeadm.*`, `node.*`, `vars.*`), or when a
/// name, image or runtime package holds characters other than letters, digits and `._+:=-` (words `shell_quote` leaves bare).
pub fn node_setup(matrix: &MachineConfigMatrix, kind: NodeKind) -> Result<NodeSetup> {
    let context = deferred_context(kind);
    // (script text, file name), so entries sharing a template share one file.
    let mut scripts: Vec<(String, String)> = Vec::new();
    let mut table = String::new();
    let mut files = Vec::new();
    for entry in matrix.entries() {
        let name = &entry.name;
        if !is_plain(name) {
            return Err(invalid(
                name,
                "the entry name must be letters, digits and ._+:=-",
            ));
        }
        let params: Vec<_> = entry
            .params
            .iter()
            .filter(|p| p.control_plane.is_some() == (kind == NodeKind::ControlPlane))
            .collect();
        if params.is_empty() {
            continue;
        }
        let script = matrix.render_template(name, &context).map_err(|e| {
            invalid(
                name,
                format!(
                    "its userdata template cannot be rendered into a cluster template ({e}); \
                         templates there may use entry, image, runtime_package, role, \
                         control_plane and kubernetes.* only"
                ),
            )
        })?;
        let known = scripts
            .iter()
            .find(|(text, _)| *text == script)
            .map(|(_, file)| file.clone());
        let file = if let Some(file) = known {
            file
        } else {
            let file = format!("{name}.sh.in");
            files.push(base64_file(
                &format!("{NODE_SETUP_DIR}/{file}"),
                "0600",
                &script,
            ));
            scripts.push((script, file.clone()));
            file
        };
        for p in params {
            for word in [&p.image, &p.container_runtime] {
                if !is_plain(word) {
                    return Err(invalid(
                        name,
                        format!("`{word}` must be letters, digits and ._+:=-"),
                    ));
                }
            }
            let control_plane = p
                .control_plane
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            let row = [
                p.image.clone(),
                p.kubelet.to_string(),
                control_plane,
                name.clone(),
                p.container_runtime.clone(),
                file.clone(),
            ];
            table.push_str(&row.join("\t"));
            table.push('\n');
        }
    }
    if table.is_empty() {
        return Err(invalid(
            "(all)",
            format!("no matrix entry serves {} nodes", kind.as_str()),
        ));
    }
    let mut all = vec![
        base64_file(
            &format!("{NODE_SETUP_DIR}/node-setup.sh"),
            "0700",
            DISPATCHER,
        ),
        base64_file(&format!("{NODE_SETUP_DIR}/matrix.tsv"), "0600", &table),
    ];
    all.extend(files);
    Ok(NodeSetup {
        files: all,
        command: format!(
            "/bin/bash {NODE_SETUP_DIR}/node-setup.sh {} {{{{ .kubernetesVersion }}}}",
            kind.as_str()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(file: &Value) -> String {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(file["content"].as_str().unwrap_or_default())
            .unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn the_default_matrix_gives_one_shared_script_and_a_row_per_params() {
        let matrix = MachineConfigMatrix::default_matrix().unwrap();
        let setup = node_setup(&matrix, NodeKind::Worker).unwrap();
        let paths: Vec<_> = setup.files.iter().map(|f| f["path"].clone()).collect();
        // The three entries share one template (a YAML anchor), hence one script.
        assert_eq!(
            paths,
            [
                "/etc/capp/node-setup/node-setup.sh",
                "/etc/capp/node-setup/matrix.tsv",
                "/etc/capp/node-setup/ubuntu_22_04.sh.in",
            ]
        );
        let table = decoded(&setup.files[1]);
        assert_eq!(table.lines().count(), 12, "{table}");
        assert!(
            table.contains("debian_12\t1.34.x\t-\tdebian_12\tcontainerd\tubuntu_22_04.sh.in\n")
        );
        let cp = node_setup(&matrix, NodeKind::ControlPlane).unwrap();
        assert!(decoded(&cp.files[1]).contains("ubuntu_24_04\t1.31.x\t1.31.x\tubuntu_24_04\t"));
        assert_eq!(
            cp.command,
            "/bin/bash /etc/capp/node-setup/node-setup.sh control-plane {{ .kubernetesVersion }}"
        );
        let script = decoded(&setup.files[2]);
        assert!(
            script.contains("https://pkgs.k8s.io/core:/stable:/@CAPP_KUBERNETES_MINOR_TAG@/deb/")
        );
    }

    #[test]
    fn a_template_needing_cluster_values_is_refused_with_the_entry_name() {
        let matrix = MachineConfigMatrix::from_yaml(
            "items:\n- name: needs-cluster\n  machineParams:\n  - image: debian_12\n    versions: {kubelet: 1.31.x}\n    containerRuntime: containerd\n  userdata: 'echo {{cluster.name}}'\n",
        )
        .unwrap();
        let err = node_setup(&matrix, NodeKind::Worker)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs-cluster"), "{err}");
        assert!(err.contains("kubernetes.*"), "{err}");
    }

    #[test]
    fn a_runtime_package_with_shell_characters_is_refused() {
        let matrix = MachineConfigMatrix::from_yaml(
            "items:\n- name: odd\n  machineParams:\n  - image: debian_12\n    versions: {kubelet: 1.31.x}\n    containerRuntime: 'containerd;reboot'\n  userdata: 'echo {{runtime_package}}'\n",
        )
        .unwrap();
        let err = node_setup(&matrix, NodeKind::Worker)
            .unwrap_err()
            .to_string();
        assert!(err.contains("containerd;reboot"), "{err}");
    }
}
