//! What cloud-init would do with a device's userdata, as far as kubeadm is concerned.
//!
//! The twin does not run commands. It reads the userdata the way cloud-init on an Equinix
//! Metal image would: the `## template: jinja` header renders the document against the
//! instance data first; `write_files` fills a virtual filesystem; `runcmd` is walked in order
//! until the first `kubeadm init` or `kubeadm join`. On the way, capp-bootstrap's
//! `metal-identity.sh` is honoured for its effect (the device id and private IPv4 replace the
//! `__CAPP_METAL_*__` placeholders in the kubeadm configuration, and `--kubelet-extra-args`
//! appends `--provider-id`/`--node-ip` to `/etc/default/kubelet`).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use capp_sim::ActiveDevice;
use serde_json::{Map, Value, json};

/// The header cloud-init looks for on the first line to render userdata with Jinja.
pub const JINJA_HEADER: &str = "## template: jinja";

/// Where the Equinix Metal CCM (and capp-bootstrap's identity script) put the device id.
pub const PROVIDER_ID_PREFIX: &str = "equinixmetal://";

/// Instructions a userdata template may execute (a loop of a million iterations is refused).
const JINJA_FUEL: u64 = 200_000;

const DEVICE_ID_PLACEHOLDER: &str = "__CAPP_METAL_DEVICE_ID__";
const NODE_IP_PLACEHOLDER: &str = "__CAPP_METAL_NODE_IP__";
const KUBELET_DEFAULTS: &str = "/etc/default/kubelet";

/// Which kubeadm phase the userdata runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Init,
    Join,
}

/// The kubeadm run a booted device would perform.
#[derive(Debug, Clone)]
pub(crate) struct KubeadmRun {
    pub(crate) phase: Phase,
    /// The kubeadm command line (`kubeadm`, `init`, `--config`, ...).
    pub(crate) argv: Vec<String>,
    /// Path given to `--config`.
    pub(crate) config_path: String,
    /// Content of that file after jinja and the identity script.
    pub(crate) config: String,
    /// The virtual filesystem after `write_files` and the commands before kubeadm.
    pub(crate) files: BTreeMap<String, String>,
    /// Kubelet flags found in `/etc/default/kubelet` (`KUBELET_EXTRA_ARGS`), name → value.
    pub(crate) kubelet_defaults: BTreeMap<String, String>,
}

/// Why the userdata does not lead to a kubeadm run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotKubeadm {
    /// A format the twin does not emulate (Ignition).
    Unsupported(String),
    /// Not a kubeadm bootstrap at all, or one the twin cannot read.
    Invalid(String),
}

/// Reads a device's userdata up to its kubeadm command.
pub(crate) fn read(device: &ActiveDevice) -> Result<KubeadmRun, NotKubeadm> {
    let userdata = device.userdata.trim_start_matches('\u{feff}');
    let trimmed = userdata.trim_start();
    if trimmed.is_empty() {
        return Err(NotKubeadm::Invalid("the device has no userdata".to_owned()));
    }
    if trimmed.starts_with('{') {
        let is_ignition = serde_json::from_str::<Value>(trimmed)
            .ok()
            .is_some_and(|v| v.get("ignition").is_some());
        return Err(if is_ignition {
            NotKubeadm::Unsupported(
                "Ignition userdata is not supported by the twin: only #cloud-config is read"
                    .to_owned(),
            )
        } else {
            NotKubeadm::Invalid("userdata is JSON but not an Ignition config".to_owned())
        });
    }
    let rendered;
    let document = match userdata.split_once('\n') {
        Some((first, rest)) if first.trim_end() == JINJA_HEADER => {
            rendered = render_jinja(rest, device)?;
            rendered.as_str()
        }
        _ => userdata,
    };
    if !document.starts_with("#cloud-config") {
        let first = document.lines().next().unwrap_or_default();
        return Err(NotKubeadm::Invalid(format!(
            "userdata starts with {first:?}, not #cloud-config; the twin only reads cloud-config"
        )));
    }
    let config: Value = serde_saphyr::from_str(document)
        .map_err(|e| NotKubeadm::Invalid(format!("cloud-config is not valid YAML: {e}")))?;
    let mut files = write_files(&config)?;
    let mut kubelet_defaults = BTreeMap::new();
    for command in runcmd(&config)? {
        for argv in command {
            let Some(program) = argv.first() else {
                continue;
            };
            if program.ends_with("metal-identity.sh") && files.contains_key(program.as_str()) {
                identity_script(device, &argv, &mut files, &mut kubelet_defaults);
            } else if program == "kubeadm" || program.ends_with("/kubeadm") {
                return kubeadm_command(&argv, files, kubelet_defaults);
            }
        }
    }
    Err(NotKubeadm::Invalid(
        "runcmd runs neither `kubeadm init` nor `kubeadm join`".to_owned(),
    ))
}

/// The instance data cloud-init's Ec2 datasource (which Equinix Metal images use against the
/// metadata service's EC2-style tree) exposes to Jinja: `v1.*` and `ds.meta_data.*`, with
/// hyphenated keys also under their underscore alias, as cloud-init provides them.
pub(crate) fn instance_data(device: &ActiveDevice) -> Value {
    let meta = &device.metadata;
    let text = |key: &str| meta.get(key).and_then(Value::as_str).unwrap_or_default();
    let address = |public: bool, family: u64| {
        meta.pointer("/network/addresses")
            .and_then(Value::as_array)
            .and_then(|list| {
                list.iter().find(|a| {
                    a.get("public").and_then(Value::as_bool) == Some(public)
                        && a.get("address_family").and_then(Value::as_u64) == Some(family)
                })
            })
            .and_then(|a| a.get("address"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut ds = Map::new();
    let mut put = |key: &str, value: Value| {
        ds.insert(key.replace('-', "_"), value.clone());
        ds.insert(key.to_owned(), value);
    };
    put("instance-id", json!(device.id));
    put("hostname", json!(device.hostname));
    put("local-hostname", json!(device.hostname));
    put("plan", json!(text("plan")));
    put("facility", json!(text("facility")));
    put("tags", json!(device.tags.join("\n")));
    put(
        "operating-system",
        meta.pointer("/operating_system/slug")
            .cloned()
            .unwrap_or(Value::Null),
    );
    put("public-ipv4", json!(address(true, 4)));
    put("public-ipv6", json!(address(true, 6)));
    put("local-ipv4", json!(address(false, 4)));
    json!({
        "v1": {
            "instance_id": device.id,
            "local_hostname": device.hostname,
            "availability_zone": text("facility"),
            "region": text("metro"),
            "cloud_name": "aws",
            "platform": "ec2",
        },
        "ds": {"meta_data": Value::Object(ds)},
    })
}

fn render_jinja(template: &str, device: &ActiveDevice) -> Result<String, NotKubeadm> {
    let mut env = minijinja::Environment::new();
    // cloud-init keeps the text as written (no trailing-newline trimming, no autoescape).
    env.set_keep_trailing_newline(true);
    // Deviation: cloud-init substitutes `CI_MISSING_JINJA_VAR/<name>` and warns; the twin
    // refuses, naming the variable, which is what an operator would have to fix anyway.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Userdata is input from anyone who can create a device: bound the work a template may do.
    env.set_fuel(Some(JINJA_FUEL));
    let context = minijinja::Value::from_serialize(instance_data(device));
    env.render_str(template, context).map_err(|e| {
        NotKubeadm::Invalid(format!(
            "cloud-init could not render the jinja userdata: {e} (defined: v1.instance_id, \
             v1.local_hostname, v1.availability_zone, v1.region, ds.meta_data.*)"
        ))
    })
}

fn write_files(config: &Value) -> Result<BTreeMap<String, String>, NotKubeadm> {
    let mut files = BTreeMap::new();
    let Some(list) = config.get("write_files") else {
        return Ok(files);
    };
    let list = list.as_array().ok_or_else(|| {
        NotKubeadm::Invalid("write_files must be a list of {path, content}".to_owned())
    })?;
    for (i, file) in list.iter().enumerate() {
        let path = file
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| NotKubeadm::Invalid(format!("write_files[{i}] has no path")))?;
        let raw = file
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let content = match file.get("encoding").and_then(Value::as_str) {
            None | Some("text/plain") => raw.to_owned(),
            Some("b64" | "base64") => STANDARD
                .decode(raw.split_whitespace().collect::<String>())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    NotKubeadm::Invalid(format!(
                        "write_files[{i}] ({path}) is not valid base64 text"
                    ))
                })?,
            Some(other) => {
                return Err(NotKubeadm::Invalid(format!(
                    "write_files[{i}] ({path}) uses encoding {other:?}; the twin reads text/plain and b64"
                )));
            }
        };
        let append = file.get("append").and_then(Value::as_bool) == Some(true);
        let entry = files.entry(path.to_owned()).or_insert_with(String::new);
        if !append {
            entry.clear();
        }
        entry.push_str(&content);
    }
    Ok(files)
}

/// `runcmd` entries as simple commands (argv lists): a string entry is split like a shell
/// would on `&&`, `||` and `;`, then on whitespace, with quotes removed.
fn runcmd(config: &Value) -> Result<Vec<Vec<Vec<String>>>, NotKubeadm> {
    let Some(list) = config.get("runcmd") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| NotKubeadm::Invalid("runcmd must be a list".to_owned()))?;
    Ok(list
        .iter()
        .map(|entry| match entry {
            Value::String(line) => line
                .split("&&")
                .flat_map(|part| part.split("||"))
                .flat_map(|part| part.split(';'))
                .map(split_words)
                .collect(),
            Value::Array(words) => vec![
                words
                    .iter()
                    .map(|w| match w {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect(),
            ],
            _ => Vec::new(),
        })
        .collect())
}

fn split_words(command: &str) -> Vec<String> {
    command
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"').to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The effect of capp-bootstrap's `metal-identity.sh` (see its header comment).
fn identity_script(
    device: &ActiveDevice,
    argv: &[String],
    files: &mut BTreeMap<String, String>,
    kubelet_defaults: &mut BTreeMap<String, String>,
) {
    let node_ip = device
        .private_ipv4()
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    for (path, content) in files.iter_mut() {
        if path.starts_with("/run/kubeadm/") {
            *content = content
                .replace(DEVICE_ID_PLACEHOLDER, &device.id)
                .replace(NODE_IP_PLACEHOLDER, &node_ip);
        }
    }
    if argv.get(1).map(String::as_str) == Some("--kubelet-extra-args") {
        kubelet_defaults.insert(
            "provider-id".to_owned(),
            format!("{PROVIDER_ID_PREFIX}{}", device.id),
        );
        files.insert(
            KUBELET_DEFAULTS.to_owned(),
            format!(
                "KUBELET_EXTRA_ARGS=\"--provider-id={PROVIDER_ID_PREFIX}{} --node-ip={node_ip}\"\n",
                device.id
            ),
        );
        kubelet_defaults.insert("node-ip".to_owned(), node_ip);
    }
}

fn kubeadm_command(
    argv: &[String],
    files: BTreeMap<String, String>,
    kubelet_defaults: BTreeMap<String, String>,
) -> Result<KubeadmRun, NotKubeadm> {
    let phase = match argv.get(1).map(String::as_str) {
        Some("init") => Phase::Init,
        Some("join") => Phase::Join,
        other => {
            return Err(NotKubeadm::Invalid(format!(
                "runcmd runs `kubeadm {}`; the twin emulates `kubeadm init` and `kubeadm join`",
                other.unwrap_or_default()
            )));
        }
    };
    let mut config_path = None;
    let mut words = argv.iter().skip(2);
    while let Some(word) = words.next() {
        if word == "--config" {
            config_path = words.next().cloned();
        } else if let Some(path) = word.strip_prefix("--config=") {
            config_path = Some(path.to_owned());
        }
    }
    let verb = if phase == Phase::Init { "init" } else { "join" };
    let config_path = config_path.ok_or_else(|| {
        NotKubeadm::Invalid(format!(
            "`kubeadm {verb}` runs without --config; the twin reads kubeadm's intent only from a configuration file"
        ))
    })?;
    let config = files.get(&config_path).cloned().ok_or_else(|| {
        NotKubeadm::Invalid(format!(
            "unable to read config from {config_path:?}: open {config_path}: no such file or directory"
        ))
    })?;
    Ok(KubeadmRun {
        phase,
        argv: argv.to_vec(),
        config_path,
        config,
        files,
        kubelet_defaults,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(userdata: &str) -> ActiveDevice {
        ActiveDevice {
            id: "0b1c6f3e-5d2a-4c1b-9e8f-0123456789ab".to_owned(),
            project_id: "p".to_owned(),
            hostname: "cp-0".to_owned(),
            userdata: userdata.to_owned(),
            tags: vec![],
            addresses: vec![capp_sim::DeviceAddress {
                address: "127.150.0.1".parse().unwrap(),
                cidr: 31,
                public: false,
                management: true,
            }],
            metadata: json!({"facility": "da11", "metro": "da", "network": {"addresses": [
                {"public": false, "address_family": 4, "address": "127.150.0.1"}]}}),
        }
    }

    #[test]
    fn jinja_userdata_resolves_instance_data_like_cloud_init() {
        let ud = "## template: jinja\n#cloud-config\nwrite_files:\n- path: /run/kubeadm/kubeadm-join-config.yaml\n  content: |\n    id: equinixmetal://{{ v1.instance_id }}\n    ip: {{ ds.meta_data.local_ipv4 }}\n    name: {{ ds.meta_data['local-hostname'] }}\nruncmd:\n  - 'kubeadm join --config /run/kubeadm/kubeadm-join-config.yaml  && echo success > /run/cluster-api/bootstrap-success.complete'\n";
        let run = read(&device(ud)).unwrap();
        assert_eq!(run.phase, Phase::Join);
        assert_eq!(
            run.config,
            "id: equinixmetal://0b1c6f3e-5d2a-4c1b-9e8f-0123456789ab\nip: 127.150.0.1\nname: cp-0\n"
        );
    }

    #[test]
    fn an_undefined_jinja_variable_is_named_in_the_refusal() {
        let ud = "## template: jinja\n#cloud-config\nruncmd: ['echo {{ v1.nope }}']\n";
        let NotKubeadm::Invalid(reason) = read(&device(ud)).unwrap_err() else {
            panic!("not Invalid");
        };
        assert!(reason.contains("jinja"), "{reason}");
    }

    proptest::proptest! {
        /// Userdata comes from whoever creates a device: no input may panic the twin.
        #[test]
        fn no_userdata_panics_the_reader(
            header in proptest::sample::select(vec!["", "#cloud-config\n", "## template: jinja\n#cloud-config\n"]),
            body in "(write_files|runcmd|path|content|encoding|kubeadm|init|join|--config|/run/kubeadm/kubeadm.yaml|b64|\\{\\{|\\}\\}|\\[|\\]|-|:| |\n|'|\"|&&|;|x){0,60}",
        ) {
            let ud = format!("{header}{body}");
            if let Ok(run) = read(&device(&ud)) {
                let _ = crate::kubeadm::parse(&run.config_path, &run.config);
            }
        }

        /// Nor may any kubeadm configuration text.
        #[test]
        fn no_kubeadm_config_panics_the_parser(
            text in "(apiVersion: |kind: |kubeadm.k8s.io/v1beta4|kubeadm.k8s.io/v1beta3|InitConfiguration|JoinConfiguration|ClusterConfiguration|bootstrapTokens:|- token: |ttl: |discovery:|nodeRegistration:|kubeletExtraArgs:|---|\n|  | |x|1){0,60}",
        ) {
            let _ = crate::kubeadm::parse("/run/kubeadm/kubeadm.yaml", &text);
        }
    }

    #[test]
    fn a_runaway_template_is_refused_instead_of_hanging_the_twin() {
        let ud = "## template: jinja\n#cloud-config\n{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}\n";
        let NotKubeadm::Invalid(reason) = read(&device(ud)).unwrap_err() else {
            panic!("not Invalid");
        };
        assert!(reason.contains("jinja"), "{reason}");
    }

    #[test]
    fn ignition_is_reported_unsupported_and_scripts_are_not_kubeadm() {
        let err = read(&device(r#"{"ignition":{"version":"3.4.0"}}"#)).unwrap_err();
        assert!(matches!(err, NotKubeadm::Unsupported(r) if r.contains("Ignition")));
        let err = read(&device("#!/bin/bash\necho hi\n")).unwrap_err();
        assert!(matches!(err, NotKubeadm::Invalid(r) if r.contains("#!/bin/bash")));
    }

    #[test]
    fn the_identity_script_fills_the_placeholders_before_kubeadm_reads_them() {
        let ud = "#cloud-config\nwrite_files:\n- path: /opt/capp/bin/metal-identity.sh\n  content: '#!/bin/bash'\n- path: /run/kubeadm/kubeadm.yaml\n  encoding: b64\n  content: cHJvdmlkZXI6IGVxdWluaXhtZXRhbDovL19fQ0FQUF9NRVRBTF9ERVZJQ0VfSURfXwo=\nruncmd:\n- set -e\n- [/opt/capp/bin/metal-identity.sh, --kubelet-extra-args]\n- [kubeadm, init, --config, /run/kubeadm/kubeadm.yaml, --upload-certs]\n";
        let run = read(&device(ud)).unwrap();
        assert_eq!(run.phase, Phase::Init);
        assert_eq!(
            run.config,
            "provider: equinixmetal://0b1c6f3e-5d2a-4c1b-9e8f-0123456789ab\n"
        );
        assert_eq!(run.kubelet_defaults["node-ip"], "127.150.0.1");
    }

    #[test]
    fn kubeadm_without_its_config_file_is_refused_with_kubeadms_words() {
        let ud = "#cloud-config\nruncmd:\n- kubeadm join --config /run/kubeadm/missing.yaml\n";
        let NotKubeadm::Invalid(reason) = read(&device(ud)).unwrap_err() else {
            panic!("not Invalid");
        };
        assert!(reason.contains("no such file or directory"), "{reason}");
    }
}
