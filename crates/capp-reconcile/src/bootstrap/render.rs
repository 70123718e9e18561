//! From a PacketKubeadmConfig and its Machine to `#cloud-config` userdata: the matrix
//! selection (with the spec's constraints), capp-bootstrap's pipeline, then the spec's
//! additions (files, commands, kubelet arguments), and the reverse step that reads the join
//! token back from userdata we rendered.

use capp_api::bootstrap::PacketKubeadmConfigSpec;
use capp_bootstrap::cloudinit::{METAL_USERDATA_LIMIT, RunCmd, WriteFile, check_userdata_size};
use capp_bootstrap::userdata::KUBEADM_CONFIG_PATH;
use capp_bootstrap::{
    CloudConfig, MachineConfigMatrix, MachineQuery, UserdataRequest, render_userdata,
};
use capp_pki::BootstrapToken;
use serde_json::Value;

use super::error::BootstrapError;

type Result<T, E = BootstrapError> = std::result::Result<T, E>;

/// Kubelet arguments the provider sets itself (the Equinix Metal cloud provider and the
/// identity script depend on them).
pub const RESERVED_KUBELET_ARGS: [&str; 3] = ["cloud-provider", "provider-id", "node-ip"];

fn not_found(message: String) -> BootstrapError {
    BootstrapError::MachineConfigNotFound { message }
}

fn invalid(field: &str, message: impl Into<String>) -> BootstrapError {
    BootstrapError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Every entry of the matrix, as `name: image kubelet/controlPlane (runtime)`.
fn entries(matrix: &MachineConfigMatrix) -> String {
    matrix
        .entries()
        .iter()
        .flat_map(|e| {
            e.params
                .iter()
                .map(move |p| format!("{}: {p} ({})", e.name, p.container_runtime))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks that exactly one entry serves `query` and that it is the one the spec asks for
/// (entry name, container runtime). Run before the init lock is taken, so that a Machine the
/// matrix cannot serve never holds it.
pub fn check_selection(
    matrix: &MachineConfigMatrix,
    spec: &PacketKubeadmConfigSpec,
    query: &MachineQuery,
) -> Result<()> {
    let selection = match matrix.select(query) {
        Ok(selection) => selection,
        Err(e @ capp_bootstrap::Error::NoMatchingMachineConfig { .. }) => {
            return Err(not_found(e.to_string()));
        }
        Err(source) => return Err(BootstrapError::Render { source }),
    };
    if let Some(wanted) = &spec.machine_config
        && &selection.entry.name != wanted
    {
        return Err(not_found(format!(
            "spec.machineConfig {wanted} does not serve {query} (entry {} does); the matrix has: {}",
            selection.entry.name,
            entries(matrix)
        )));
    }
    if let Some(runtime) = &spec.container_runtime
        && &selection.params.container_runtime != runtime
    {
        return Err(not_found(format!(
            "spec.containerRuntime {runtime}: the entry serving {query} ({}) installs {}; the matrix has: {}",
            selection.entry.name,
            selection.params.container_runtime,
            entries(matrix)
        )));
    }
    Ok(())
}

/// Renders the userdata of one node: the matrix entry's script and kubeadm configuration,
/// with the spec's files, commands and kubelet arguments added.
pub fn render(
    matrix: &MachineConfigMatrix,
    spec: &PacketKubeadmConfigSpec,
    request: &UserdataRequest,
) -> Result<String> {
    check_selection(matrix, spec, &request.query())?;
    let rendered = render_userdata(matrix, request).map_err(|source| match source {
        e @ capp_bootstrap::Error::NoMatchingMachineConfig { .. } => not_found(e.to_string()),
        source => BootstrapError::Render { source },
    })?;
    let plain = spec.files.is_empty()
        && spec.pre_kubeadm_commands.is_empty()
        && spec.post_kubeadm_commands.is_empty()
        && spec.kubelet_extra_args.is_empty();
    if plain {
        return Ok(rendered.into_string());
    }
    let mut cloud = rendered.cloud_config;
    add_files(&mut cloud, spec)?;
    add_commands(&mut cloud, spec);
    if !spec.kubelet_extra_args.is_empty() {
        add_kubelet_args(&mut cloud, spec)?;
    }
    let text = cloud.to_userdata().map_err(|e| match e {
        capp_bootstrap::Error::InvalidInput { reason, .. } => invalid("spec.files", reason),
        source => BootstrapError::Render { source },
    })?;
    check_userdata_size(&text, METAL_USERDATA_LIMIT).map_err(|e| {
        invalid(
            "spec",
            format!(
                "{e}; shorten spec.files or the commands, or move content to the matrix template"
            ),
        )
    })?;
    Ok(text)
}

fn add_files(cloud: &mut CloudConfig, spec: &PacketKubeadmConfigSpec) -> Result<()> {
    for (i, file) in spec.files.iter().enumerate() {
        if cloud.write_files.iter().any(|f| f.path == file.path) {
            return Err(invalid(
                &format!("spec.files[{i}].path"),
                format!(
                    "{} is written by the provider (kubeadm configuration, PKI or scripts); choose another path",
                    file.path
                ),
            ));
        }
        let written = WriteFile::text(
            file.path.clone(),
            file.permissions.as_deref().unwrap_or("0644"),
            file.content.clone(),
        );
        written
            .validate()
            .and_then(|()| written.mode().map(drop))
            .map_err(|e| match e {
                capp_bootstrap::Error::InvalidInput { reason, .. } => {
                    invalid(&format!("spec.files[{i}]"), reason)
                }
                other => invalid(&format!("spec.files[{i}]"), other.to_string()),
            })?;
        // Before the provider's own files, so the setup script sees them.
        cloud.write_files.insert(i, written);
    }
    Ok(())
}

fn add_commands(cloud: &mut CloudConfig, spec: &PacketKubeadmConfigSpec) {
    let kubeadm_at = cloud
        .runcmd
        .iter()
        .position(|c| matches!(c, RunCmd::Argv(args) if args.first().map(String::as_str) == Some("kubeadm")))
        .unwrap_or(cloud.runcmd.len());
    for (offset, line) in spec.pre_kubeadm_commands.iter().enumerate() {
        cloud
            .runcmd
            .insert(kubeadm_at + offset, RunCmd::Shell(line.clone()));
    }
    // The sentinel is the last item; post commands go right before it.
    let sentinel_at = cloud.runcmd.len().saturating_sub(1);
    for (offset, line) in spec.post_kubeadm_commands.iter().enumerate() {
        cloud
            .runcmd
            .insert(sentinel_at + offset, RunCmd::Shell(line.clone()));
    }
}

/// The kubeadm configuration file's documents.
fn kubeadm_documents(cloud: &CloudConfig) -> Result<(usize, Vec<Value>)> {
    let index = cloud
        .write_files
        .iter()
        .position(|f| f.path == KUBEADM_CONFIG_PATH)
        .ok_or_else(|| invalid("userdata", "has no kubeadm configuration file"))?;
    let text = std::str::from_utf8(cloud.write_files[index].bytes())
        .map_err(|_| invalid("userdata", "the kubeadm configuration is not UTF-8"))?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| {
        invalid(
            "userdata",
            format!("the kubeadm configuration does not parse: {e}"),
        )
    })?;
    Ok((index, docs))
}

fn add_kubelet_args(cloud: &mut CloudConfig, spec: &PacketKubeadmConfigSpec) -> Result<()> {
    for name in spec.kubelet_extra_args.keys() {
        if RESERVED_KUBELET_ARGS.contains(&name.as_str())
            || name.starts_with('-')
            || name.is_empty()
        {
            return Err(invalid(
                &format!("spec.kubeletExtraArgs.{name}"),
                format!(
                    "set by the provider or not a flag name; use a kubelet flag name without dashes other than {}",
                    RESERVED_KUBELET_ARGS.join(", ")
                ),
            ));
        }
    }
    let (index, mut docs) = kubeadm_documents(cloud)?;
    for doc in &mut docs {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        if kind != "InitConfiguration" && kind != "JoinConfiguration" {
            continue;
        }
        let Some(args) = doc.pointer_mut("/nodeRegistration/kubeletExtraArgs") else {
            continue;
        };
        match args {
            // v1beta3: a map.
            Value::Object(map) => {
                for (k, v) in &spec.kubelet_extra_args {
                    map.insert(k.clone(), Value::String(v.clone()));
                }
            }
            // v1beta4: a list of {name, value}.
            Value::Array(list) => {
                for (k, v) in &spec.kubelet_extra_args {
                    list.push(serde_json::json!({"name": k, "value": v}));
                }
            }
            _ => {}
        }
    }
    let mut text = String::new();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        // The options capp-bootstrap writes YAML with (YAML 1.1-safe quoting, no folding).
        let mut options = serde_saphyr::SerializerOptions::default();
        options.folded_wrap_chars = usize::MAX;
        let part = serde_saphyr::to_string_with_options(doc, options)
            .map_err(|e| invalid("spec.kubeletExtraArgs", format!("cannot be written: {e}")))?;
        text.push_str(&part);
    }
    let permissions = cloud.write_files[index].permissions.clone();
    cloud.write_files[index] = WriteFile::text(KUBEADM_CONFIG_PATH, &permissions, text);
    Ok(())
}

/// The bootstrap token a join userdata we rendered carries
/// (`JoinConfiguration.discovery.bootstrapToken.token`); `None` for init userdata.
pub fn join_token(userdata: &str) -> Result<Option<BootstrapToken>> {
    let cloud: CloudConfig = serde_saphyr::from_str(userdata).map_err(|e| {
        invalid(
            "bootstrap data Secret",
            format!("is not our cloud-config: {e}"),
        )
    })?;
    let (_, docs) = kubeadm_documents(&cloud)?;
    let token = docs
        .iter()
        .filter(|d| d.get("kind").and_then(Value::as_str) == Some("JoinConfiguration"))
        .find_map(|d| {
            d.pointer("/discovery/bootstrapToken/token")
                .and_then(Value::as_str)
        });
    token
        .map(|t| {
            BootstrapToken::parse(t).map_err(|e| invalid("bootstrap data Secret", e.to_string()))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use capp_api::bootstrap::BootstrapFile;
    use capp_bootstrap::{ApiEndpoint, ClusterSpec, JoinDiscovery, NodeRole};

    use super::*;

    fn worker(os: &str, version: &str) -> UserdataRequest {
        UserdataRequest::new(
            os,
            version.parse().unwrap(),
            NodeRole::Worker,
            ClusterSpec::new(
                "demo",
                ApiEndpoint {
                    host: "203.0.113.10".into(),
                    port: 6443,
                },
            ),
            JoinDiscovery {
                token: "abcdef.0123456789abcdef".to_owned().into(),
                ca_cert_hashes: vec![format!("sha256:{}", "ab".repeat(32))],
            },
        )
    }

    fn matrix() -> MachineConfigMatrix {
        MachineConfigMatrix::default_matrix().unwrap()
    }

    #[test]
    fn spec_additions_land_where_the_spec_says_and_the_token_reads_back() {
        let spec = PacketKubeadmConfigSpec {
            files: vec![BootstrapFile {
                path: "/etc/motd".into(),
                permissions: None,
                content: "managed by capp\n".into(),
            }],
            pre_kubeadm_commands: vec!["echo before".into()],
            post_kubeadm_commands: vec!["echo after".into()],
            kubelet_extra_args: BTreeMap::from([("max-pods".to_owned(), "50".to_owned())]),
            ..PacketKubeadmConfigSpec::default()
        };
        let text = render(&matrix(), &spec, &worker("ubuntu_24_04", "v1.33.1")).unwrap();
        let cloud: CloudConfig = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(cloud.write_files[0].path, "/etc/motd");
        assert_eq!(cloud.write_files[0].permissions, "0644");
        let lines: Vec<String> = cloud.runcmd.iter().map(RunCmd::to_shell).collect();
        let at = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap();
        assert!(at("echo before") + 1 == at("kubeadm join"), "{lines:#?}");
        assert!(at("echo after") == at("kubeadm join") + 1, "{lines:#?}");
        assert!(lines.last().unwrap().contains("bootstrap-success.complete"));
        let (_, docs) = kubeadm_documents(&cloud).unwrap();
        let args = docs[0]
            .pointer("/nodeRegistration/kubeletExtraArgs")
            .unwrap()
            .as_array()
            .unwrap();
        assert!(args.contains(&serde_json::json!({"name": "max-pods", "value": "50"})));
        assert!(args.iter().any(|a| a["name"] == "provider-id"), "kept");
        let token = join_token(&text).unwrap().unwrap();
        assert_eq!(token.id(), "abcdef");
    }

    #[test]
    fn a_spec_that_cannot_work_is_refused_naming_the_field() {
        let reserved = PacketKubeadmConfigSpec {
            kubelet_extra_args: BTreeMap::from([("provider-id".to_owned(), "x".to_owned())]),
            ..PacketKubeadmConfigSpec::default()
        };
        let err = render(&matrix(), &reserved, &worker("ubuntu_24_04", "v1.33.1")).unwrap_err();
        assert!(
            err.to_string()
                .contains("spec.kubeletExtraArgs.provider-id"),
            "{err}"
        );
        let clash = PacketKubeadmConfigSpec {
            files: vec![BootstrapFile {
                path: KUBEADM_CONFIG_PATH.into(),
                permissions: None,
                content: String::new(),
            }],
            ..PacketKubeadmConfigSpec::default()
        };
        let err = render(&matrix(), &clash, &worker("ubuntu_24_04", "v1.33.1")).unwrap_err();
        assert!(err.to_string().contains("spec.files[0].path"), "{err}");
        let mode = PacketKubeadmConfigSpec {
            files: vec![BootstrapFile {
                path: "/etc/x".into(),
                permissions: Some("rwx".into()),
                content: String::new(),
            }],
            ..PacketKubeadmConfigSpec::default()
        };
        let err = render(&matrix(), &mode, &worker("ubuntu_24_04", "v1.33.1")).unwrap_err();
        assert!(err.to_string().contains("spec.files[0]"), "{err}");
    }

    #[test]
    fn the_entry_and_runtime_constraints_are_checked_against_the_selection() {
        let wrong_entry = PacketKubeadmConfigSpec {
            machine_config: Some("debian_12".into()),
            ..PacketKubeadmConfigSpec::default()
        };
        let err = render(&matrix(), &wrong_entry, &worker("ubuntu_24_04", "v1.33.1")).unwrap_err();
        assert_eq!(err.reason(), "MachineConfigNotFound");
        assert!(
            err.to_string().contains("ubuntu_22_04"),
            "lists the entries: {err}"
        );
        let wrong_runtime = PacketKubeadmConfigSpec {
            container_runtime: Some("cri-o".into()),
            ..PacketKubeadmConfigSpec::default()
        };
        let err = render(
            &matrix(),
            &wrong_runtime,
            &worker("ubuntu_24_04", "v1.33.1"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("cri-o"), "{err}");
        let none = render(
            &matrix(),
            &PacketKubeadmConfigSpec::default(),
            &worker("windows_2022", "v1.33.1"),
        )
        .unwrap_err();
        assert_eq!(none.reason(), "MachineConfigNotFound");
        assert!(none.to_string().contains("debian_12"), "{none}");
    }
}
