//! Composition of the Packet additions with payloads from other CAPI bootstrap providers:
//! CABPK-style cloud-config (Jinja header, 4-space `write_files`, indented block `runcmd` or
//! flow `runcmd: ['kubeadm init ... && echo success > <sentinel>']`) and CABPK-style
//! Ignition (spec 3.x and 2.x).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed unwrap is a failed test"
)]

#[path = "support/tools.rs"]
mod tools;

use base64::Engine as _;
use capp_bootstrap::compose::{ADDITIONS_SCRIPT_PATH, ADDITIONS_UNIT};
use capp_bootstrap::userdata::METAL_IDENTITY_SCRIPT_PATH;
use capp_bootstrap::{
    BootstrapFormat, Error, METAL_USERDATA_LIMIT, PacketAdditions, RunCmd, WriteFile, compose,
};
use serde_json::Value;

/// A worker payload as CABPK renders it (`bootstrap/kubeadm/internal/cloudinit`), with pre-
/// and post-kubeadm commands, users and NTP.
const CABPK_WORKER: &str = r#"## template: jinja
#cloud-config

write_files:
-   path: /etc/sysctl.d/99-custom.conf
    owner: root:root
    permissions: '0644'
    content: |
      vm.max_map_count = 262144
-   path: /etc/capp-test/flags
    owner: root:root
    permissions: '0640'
    content: |
      yes
      0755
-   path: /run/kubeadm/kubeadm-join-config.yaml
    owner: root:root
    permissions: '0640'
    content: |
      ---
      apiVersion: kubeadm.k8s.io/v1beta4
      discovery:
        bootstrapToken:
          apiServerEndpoint: 203.0.113.10:6443
          caCertHashes:
          - sha256:0000000000000000000000000000000000000000000000000000000000fa4e00
          token: fake00.fakefakefakefake
      kind: JoinConfiguration
      nodeRegistration:
        kubeletExtraArgs:
        - name: cloud-provider
          value: external
        - name: provider-id
          value: equinixmetal://{{ v1.instance_id }}
        name: '{{ ds.meta_data.hostname }}'
-   path: /run/cluster-api/placeholder
    owner: root:root
    permissions: '0640'
    content: "This placeholder file is used to create the /run/cluster-api sub directory in a way that is compatible with both Linux and Windows (mkdir -p /run/cluster-api does not work with Windows)"
runcmd:
  - "swapoff -a"
  - "sed -ri '/\\sswap\\s/s/^#?/#/' /etc/fstab"
  - kubeadm join --config /run/kubeadm/kubeadm-join-config.yaml  && echo success > /run/cluster-api/bootstrap-success.complete
  - "echo 'post kubeadm: on'"
ntp:
  enabled: true
  servers:
    - 0.pool.ntp.org
users:
  - name: capi
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE fake@example"
"#;

/// A CABPK-style Ignition payload (Flatcar), spec 3.1.
const CABPK_IGNITION_V3: &str = r#"{"ignition":{"config":{"replace":{"verification":{}}},"proxy":{},"security":{"tls":{}},"timeouts":{},"version":"3.1.0"},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAAFAKE fake@example"]}]},"storage":{"files":[{"group":{},"overwrite":true,"path":"/etc/kubeadm.sh","user":{},"contents":{"source":"data:,%23!%2Fbin%2Fbash%0Aset%20-e%0Akubeadm%20join%20--config%20%2Fetc%2Fkubeadm.yml%0Amkdir%20-p%20%2Frun%2Fcluster-api%20%26%26%20echo%20success%20%3E%20%2Frun%2Fcluster-api%2Fbootstrap-success.complete%0A","verification":{}},"mode":448},{"group":{},"overwrite":true,"path":"/etc/kubeadm.yml","user":{},"contents":{"source":"data:,---%0AapiVersion%3A%20kubeadm.k8s.io%2Fv1beta4%0Akind%3A%20JoinConfiguration%0A","verification":{}},"mode":416}]},"systemd":{"units":[{"contents":"[Unit]\nDescription=kubeadm\nAfter=network.target\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/etc/kubeadm.sh\n\n[Install]\nWantedBy=multi-user.target\n","enabled":true,"name":"kubeadm.service"}]}}"#;

fn additions() -> PacketAdditions {
    let mut additions = PacketAdditions::metal_kubelet_identity(BootstrapFormat::CloudConfig);
    additions
        .files
        .push(WriteFile::text("/etc/capp/role", "0644", "on\n"));
    additions
        .commands
        .push(RunCmd::Shell("echo packet additions done".to_owned()));
    additions.packages.push("yes".to_owned());
    additions
}

/// Whether `needle`'s lines appear in `haystack` in order (the original text is untouched).
fn lines_are_a_subsequence(needle: &str, haystack: &str) -> bool {
    let mut rest = haystack.lines();
    needle.lines().all(|line| rest.any(|l| l == line))
}

fn list(v: &Value, key: &str) -> Vec<Value> {
    v.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_cabpk_cloud_config_keeps_every_original_line_and_header() {
    let composed = compose(
        CABPK_WORKER,
        BootstrapFormat::CloudConfig,
        &additions(),
        METAL_USERDATA_LIMIT,
    )
    .unwrap();
    assert!(
        composed.starts_with("## template: jinja\n#cloud-config\n"),
        "{composed}"
    );
    assert!(
        lines_are_a_subsequence(CABPK_WORKER, &composed),
        "{composed}"
    );
    // Our commands come first so that they run before kubeadm join.
    let identity = composed.find(METAL_IDENTITY_SCRIPT_PATH).unwrap();
    let runcmd = composed.find("runcmd:\n").unwrap();
    let swapoff = composed.find("  - \"swapoff -a\"").unwrap();
    assert!(runcmd < identity || composed[runcmd..].contains(METAL_IDENTITY_SCRIPT_PATH));
    assert!(
        composed[runcmd..swapoff].contains("--kubelet-extra-args"),
        "{composed}"
    );
}

#[test]
fn pyyaml_reads_the_composed_cloud_config_as_the_original_plus_the_additions() {
    if !tools::pyyaml_available() {
        return;
    }
    let extra = additions();
    let composed = compose(
        CABPK_WORKER,
        BootstrapFormat::CloudConfig,
        &extra,
        METAL_USERDATA_LIMIT,
    )
    .unwrap();
    let docs = tools::pyyaml_load(&[CABPK_WORKER.to_owned(), composed], false);
    let (original, merged) = (&docs[0], &docs[1]);
    let ours = serde_json::to_value(&extra.files).unwrap();
    let ours_cmds = serde_json::to_value(&extra.commands).unwrap();

    let mut files = list(original, "write_files");
    files.extend(ours.as_array().unwrap().iter().cloned());
    assert_eq!(
        list(merged, "write_files"),
        files,
        "files: original order, ours appended"
    );

    let mut cmds: Vec<Value> = ours_cmds.as_array().unwrap().clone();
    cmds.extend(list(original, "runcmd"));
    assert_eq!(
        list(merged, "runcmd"),
        cmds,
        "commands: ours first, original order kept"
    );

    assert_eq!(
        list(merged, "packages"),
        vec![Value::from("curl"), Value::from("jq"), Value::from("yes")],
        "the package `yes` stays a string"
    );
    for key in ["ntp", "users"] {
        assert_eq!(merged[key], original[key], "{key} untouched");
    }
    // The original's unquoted-looking content is still what it was.
    assert_eq!(
        list(merged, "write_files")[1]["content"],
        Value::from("yes\n0755\n")
    );
    assert_eq!(
        list(merged, "write_files")[0]["permissions"],
        Value::from("0644")
    );
}

#[test]
fn the_composed_cloud_config_passes_cloud_init_schema_validation() {
    if !tools::cloud_init_available() {
        return;
    }
    let composed = compose(
        CABPK_WORKER,
        BootstrapFormat::CloudConfig,
        &additions(),
        METAL_USERDATA_LIMIT,
    )
    .unwrap();
    // cloud-init renders the Jinja header away before it validates; `schema` does not, so
    // validate what follows the header (the `{{ }}` expressions are plain strings to YAML).
    let body = composed.strip_prefix("## template: jinja\n").unwrap();
    let path = std::env::temp_dir().join(format!("capp-compose-{}.yaml", std::process::id()));
    std::fs::write(&path, body).unwrap();
    let result = tools::cloud_init_schema(&path);
    std::fs::remove_file(&path).unwrap();
    result.unwrap();
}

#[test]
fn a_payload_without_runcmd_or_write_files_gets_new_lists_at_the_end() {
    let payload = "#cloud-config\nhostname: node-0\nbootcmd:\n- echo boot\n";
    let extra = PacketAdditions {
        files: vec![WriteFile::text("/etc/x", "0644", "x\n")],
        commands: vec![RunCmd::argv(&["echo", "hi"])],
        packages: vec![],
    };
    let composed = compose(
        payload,
        BootstrapFormat::CloudConfig,
        &extra,
        METAL_USERDATA_LIMIT,
    )
    .unwrap();
    assert_eq!(
        composed,
        "#cloud-config\nhostname: node-0\nbootcmd:\n- echo boot\nwrite_files:\n- path: /etc/x\n  owner: root:root\n  permissions: \"0644\"\n  content: |\n    x\nruncmd:\n- - echo\n  - hi\n"
    );
}

/// A control-plane init payload with the CAPI sentinel in a one-line flow-style `runcmd`: the
/// list CABPK's `controlplane_init.go` renders when there are no pre- or post-kubeadm
/// commands, in the flow layout other providers and hand-written payloads use.
const CABPK_INIT_FLOW: &str = r#"## template: jinja
#cloud-config

write_files:
-   path: /etc/kubernetes/pki/ca.crt
    owner: root:root
    permissions: '0640'
    content: |
      -----BEGIN CERTIFICATE-----
      RkFLRSBDRVJUSUZJQ0FURQ==
      -----END CERTIFICATE-----
-   path: /run/kubeadm/kubeadm.yaml
    owner: root:root
    permissions: '0640'
    content: |
      ---
      apiVersion: kubeadm.k8s.io/v1beta4
      kind: ClusterConfiguration
      clusterName: demo
      controlPlaneEndpoint: 203.0.113.10:6443
      kubernetesVersion: v1.33.4
      ---
      apiVersion: kubeadm.k8s.io/v1beta4
      kind: InitConfiguration
      nodeRegistration:
        name: '{{ ds.meta_data.local_hostname }}'
        kubeletExtraArgs:
        - name: cloud-provider
          value: external
-   path: /run/cluster-api/placeholder
    owner: root:root
    permissions: '0640'
    content: "This placeholder file is used to create the /run/cluster-api sub directory in a way that is compatible with both Linux and Windows (mkdir -p /run/cluster-api does not work with Windows)"
runcmd: ['kubeadm init --config /run/kubeadm/kubeadm.yaml && echo success > /run/cluster-api/bootstrap-success.complete']
"#;

/// Removes the first occurrence of each of `inserted` from `composed`.
fn without(composed: &str, inserted: &[&str]) -> String {
    let mut text = composed.to_owned();
    for piece in inserted {
        let at = text
            .find(piece)
            .unwrap_or_else(|| panic!("{piece} not in {text}"));
        text.replace_range(at..at + piece.len(), "");
    }
    text
}

#[test]
fn a_flow_style_cabpk_runcmd_gets_the_additions_first_and_keeps_every_original_byte() {
    let extra = PacketAdditions::metal_kubelet_identity(BootstrapFormat::CloudConfig);
    let composed = compose(
        CABPK_INIT_FLOW,
        BootstrapFormat::CloudConfig,
        &extra,
        METAL_USERDATA_LIMIT,
    )
    .unwrap();
    let ours = r#"["/opt/capp/bin/metal-identity.sh","--kubelet-extra-args"], "#;
    assert!(
        composed.contains(&format!("runcmd: [{ours}'kubeadm init --config")),
        "{composed}"
    );
    // Taking out exactly what was inserted gives back the original, byte for byte.
    let files_start = composed
        .find("\n- path: /opt/capp/bin/metal-identity.sh\n")
        .unwrap()
        + 1;
    let files_added = &composed[files_start..composed.find("runcmd: [").unwrap()];
    let packages_added = "packages:\n- curl\n- jq\n";
    assert!(composed.ends_with(packages_added), "{composed}");
    assert_eq!(
        without(&composed, &[ours, files_added, packages_added]),
        CABPK_INIT_FLOW
    );
}

#[test]
fn pyyaml_cloud_init_schema_and_shellify_accept_the_composed_flow_style_payload() {
    let extra = PacketAdditions::metal_kubelet_identity(BootstrapFormat::CloudConfig);
    let composed = compose(
        CABPK_INIT_FLOW,
        BootstrapFormat::CloudConfig,
        &extra,
        METAL_USERDATA_LIMIT,
    )
    .unwrap();
    if tools::pyyaml_available() {
        let docs = tools::pyyaml_load(&[CABPK_INIT_FLOW.to_owned(), composed.clone()], false);
        let (original, merged) = (&docs[0], &docs[1]);
        let mut cmds = serde_json::to_value(&extra.commands)
            .unwrap()
            .as_array()
            .unwrap()
            .clone();
        cmds.extend(list(original, "runcmd"));
        assert_eq!(list(merged, "runcmd"), cmds, "ours first, then CABPK's");
        let mut files = list(original, "write_files");
        files.extend(
            serde_json::to_value(&extra.files)
                .unwrap()
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
        assert_eq!(list(merged, "write_files"), files);
    }
    if tools::cloud_init_available() {
        let body = composed.strip_prefix("## template: jinja\n").unwrap();
        let path =
            std::env::temp_dir().join(format!("capp-compose-flow-{}.yaml", std::process::id()));
        std::fs::write(&path, body).unwrap();
        let result = tools::cloud_init_schema(&path);
        std::fs::remove_file(&path).unwrap();
        result.unwrap();
    }
    // The `sh` script cloud-init writes for `runcmd`: the identity script first, then CABPK's
    // kubeadm line with its sentinel, unchanged.
    if let Some(python) = tools::cloud_init_modules_available() {
        let docs = tools::pyyaml_load(&[composed], false);
        let runcmd = serde_json::to_string(&docs[0]["runcmd"]).unwrap();
        let out = std::process::Command::new(python)
            .args([
                "-c",
                "import json, sys\nfrom cloudinit import util\nsys.stdout.write(util.shellify(json.loads(sys.argv[1])))",
                &runcmd,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "#!/bin/sh\n'/opt/capp/bin/metal-identity.sh' '--kubelet-extra-args'\nkubeadm init --config /run/kubeadm/kubeadm.yaml && echo success > /run/cluster-api/bootstrap-success.complete\n"
        );
    }
}

#[test]
fn flow_lists_with_quotes_comments_brackets_and_trailing_commas_are_extended_in_place() {
    let extra = PacketAdditions {
        files: vec![],
        commands: vec![RunCmd::argv(&["echo", "first"])],
        packages: vec!["yes".to_owned()],
    };
    for (payload, expected) in [
        (
            "#cloud-config\nruncmd: []\npackages: []\n",
            "#cloud-config\nruncmd: [[\"echo\",\"first\"]]\npackages: [\"yes\"]\n",
        ),
        (
            // A multi-line flow list with `]`, `,` and `#` inside quotes, an apostrophe in a
            // plain scalar, a comment and a trailing comma.
            "#cloud-config\nruncmd: [\n  'echo \"a]\" ''b,c''',  # first\n  \"echo [x] # y\",\n  echo it's,\n]\npackages: [jq, curl,]  # tools\n",
            "#cloud-config\nruncmd: [[\"echo\",\"first\"], \n  'echo \"a]\" ''b,c''',  # first\n  \"echo [x] # y\",\n  echo it's,\n]\npackages: [jq, curl, \"yes\"]  # tools\n",
        ),
    ] {
        let composed = compose(payload, BootstrapFormat::CloudConfig, &extra, 4096).unwrap();
        assert_eq!(composed, expected);
    }
}

#[test]
fn a_flow_list_that_is_not_closed_is_refused() {
    let payload = "#cloud-config\nruncmd: ['kubeadm join'\nhostname: x\n";
    let err = compose(
        payload,
        BootstrapFormat::CloudConfig,
        &additions(),
        METAL_USERDATA_LIMIT,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidBootstrapPayload { .. }),
        "{err}"
    );
}

#[test]
fn an_existing_file_is_never_overwritten() {
    let mut extra = additions();
    extra.files.push(WriteFile::text(
        "/run/cluster-api/placeholder",
        "0644",
        "mine",
    ));
    let err = compose(
        CABPK_WORKER,
        BootstrapFormat::CloudConfig,
        &extra,
        METAL_USERDATA_LIMIT,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::CompositionConflict { name, .. } if name == "/run/cluster-api/placeholder"),
        "{err}"
    );
}

#[test]
fn jinja_delimiters_in_additions_are_refused_for_jinja_payloads() {
    let mut extra = additions();
    extra
        .commands
        .push(RunCmd::Shell("echo {{ v1.instance_id }}".to_owned()));
    let err = compose(
        CABPK_WORKER,
        BootstrapFormat::CloudConfig,
        &extra,
        METAL_USERDATA_LIMIT,
    )
    .unwrap_err();
    assert!(err.to_string().contains("Jinja"), "{err}");
    // Without the Jinja header the same text is just text.
    let plain = CABPK_WORKER.strip_prefix("## template: jinja\n").unwrap();
    assert!(
        compose(
            plain,
            BootstrapFormat::CloudConfig,
            &extra,
            METAL_USERDATA_LIMIT
        )
        .is_ok()
    );
}

#[test]
fn a_payload_that_is_not_cloud_config_is_rejected() {
    for payload in ["#!/bin/bash\necho hi\n", "runcmd:\n- x\n", ""] {
        let err = compose(
            payload,
            BootstrapFormat::CloudConfig,
            &additions(),
            METAL_USERDATA_LIMIT,
        )
        .unwrap_err();
        assert!(err.to_string().contains("#cloud-config"), "{err}");
    }
}

#[test]
fn a_composed_payload_over_the_limit_is_an_error_not_a_truncation() {
    let err = compose(
        CABPK_WORKER,
        BootstrapFormat::CloudConfig,
        &additions(),
        4096,
    )
    .unwrap_err();
    match err {
        Error::UserdataTooLarge { size, limit } => {
            assert!(size > 4096);
            assert_eq!(limit, 4096);
        }
        other => panic!("unexpected {other}"),
    }
}

fn decode_data_url(source: &str) -> String {
    let b64 = source.strip_prefix("data:;base64,").unwrap();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn an_ignition_v3_payload_gains_files_and_a_unit_and_keeps_everything_else() {
    let extra = PacketAdditions::metal_kubelet_identity(BootstrapFormat::Ignition);
    let composed = compose(
        CABPK_IGNITION_V3,
        BootstrapFormat::Ignition,
        &extra,
        METAL_USERDATA_LIMIT,
    )
    .unwrap();
    let original: Value = serde_json::from_str(CABPK_IGNITION_V3).unwrap();
    let merged: Value = serde_json::from_str(&composed).unwrap();

    assert_eq!(
        merged["ignition"], original["ignition"],
        "version and config untouched"
    );
    assert_eq!(merged["passwd"], original["passwd"]);
    let files = merged["storage"]["files"].as_array().unwrap();
    let original_files = original["storage"]["files"].as_array().unwrap();
    assert_eq!(
        &files[..original_files.len()],
        &original_files[..],
        "original files first, unchanged"
    );
    let added: Vec<&str> = files[original_files.len()..]
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(added, [METAL_IDENTITY_SCRIPT_PATH, ADDITIONS_SCRIPT_PATH]);
    let script = &files[original_files.len() + 1];
    assert_eq!(script["mode"], 0o700);
    assert_eq!(script["user"]["name"], "root");
    assert!(
        script.get("filesystem").is_none(),
        "3.x has no filesystem field"
    );
    assert_eq!(
        decode_data_url(script["contents"]["source"].as_str().unwrap()),
        format!(
            "#!/bin/bash\n# Written by capp-bootstrap: Equinix Metal node additions.\nset -euo pipefail\n{METAL_IDENTITY_SCRIPT_PATH} --kubelet-extra-args\n"
        )
    );

    let units = merged["systemd"]["units"].as_array().unwrap();
    assert_eq!(units[0], original["systemd"]["units"][0]);
    assert_eq!(units[1]["name"], ADDITIONS_UNIT);
    assert_eq!(units[1]["enabled"], true);
    let contents = units[1]["contents"].as_str().unwrap();
    assert!(
        contents.contains("Before=kubeadm.service kubelet.service\n"),
        "{contents}"
    );
    assert!(
        contents.contains("RequiredBy=kubeadm.service\n"),
        "{contents}"
    );
    assert!(
        contents.contains(&format!("ExecStart={ADDITIONS_SCRIPT_PATH}\n")),
        "{contents}"
    );
}

#[test]
fn an_ignition_v2_payload_gets_v2_shaped_files() {
    let payload = r#"{"ignition":{"version":"2.3.0"},"systemd":{"units":[{"name":"kubeadm.service","enabled":true}]}}"#;
    let extra = PacketAdditions {
        files: vec![WriteFile::binary("/opt/blob", "0600", vec![0, 1, 2, 255])],
        commands: vec![],
        packages: vec![],
    };
    let composed = compose(
        payload,
        BootstrapFormat::Ignition,
        &extra,
        METAL_USERDATA_LIMIT,
    )
    .unwrap();
    let merged: Value = serde_json::from_str(&composed).unwrap();
    assert_eq!(merged["ignition"]["version"], "2.3.0");
    let file = &merged["storage"]["files"][0];
    assert_eq!(file["filesystem"], "root");
    assert_eq!(file["mode"], 0o600);
    assert_eq!(file["contents"]["source"], "data:;base64,AAEC/w==");
    assert_eq!(
        merged["systemd"]["units"].as_array().unwrap().len(),
        1,
        "no commands, no unit"
    );
}

#[test]
fn ignition_payloads_refuse_packages_conflicts_and_unknown_versions() {
    let mut with_packages = PacketAdditions::metal_kubelet_identity(BootstrapFormat::Ignition);
    with_packages.packages.push("jq".to_owned());
    let err = compose(
        CABPK_IGNITION_V3,
        BootstrapFormat::Ignition,
        &with_packages,
        METAL_USERDATA_LIMIT,
    )
    .unwrap_err();
    assert!(err.to_string().contains("packages"), "{err}");

    let conflict = PacketAdditions {
        files: vec![WriteFile::text("/etc/kubeadm.sh", "0700", "#!/bin/sh\n")],
        ..PacketAdditions::default()
    };
    let err = compose(
        CABPK_IGNITION_V3,
        BootstrapFormat::Ignition,
        &conflict,
        METAL_USERDATA_LIMIT,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::CompositionConflict { name, .. } if name == "/etc/kubeadm.sh"),
        "{err}"
    );

    for payload in [
        r#"{"ignition":{"version":"1.0.0"}}"#,
        r#"{"storage":{}}"#,
        "not json",
    ] {
        let err = compose(
            payload,
            BootstrapFormat::Ignition,
            &PacketAdditions::default(),
            METAL_USERDATA_LIMIT,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidBootstrapPayload {
                    format: "ignition",
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn the_secret_format_key_selects_the_composition() {
    assert_eq!(
        BootstrapFormat::from_secret_format(None).unwrap(),
        BootstrapFormat::CloudConfig
    );
    assert_eq!(
        BootstrapFormat::from_secret_format(Some("")).unwrap(),
        BootstrapFormat::CloudConfig
    );
    assert_eq!(
        BootstrapFormat::from_secret_format(Some("ignition")).unwrap(),
        BootstrapFormat::Ignition
    );
    assert!(BootstrapFormat::from_secret_format(Some("mime")).is_err());
}

#[test]
fn cloud_init_renders_the_jinja_of_composed_payloads_and_validates_the_result() {
    // What cloud-init really does with a `## template: jinja` payload: render it with the
    // instance data, then read the YAML. The additions must survive the rendering unchanged
    // (the identity script is bash with `${..}` and `[[ .. ]]`), CABPK's own `{{ }}` must
    // still be rendered, and the rendered document must pass the schema.
    let Some(python) = tools::cloud_init_modules_available() else {
        return;
    };
    let extra = PacketAdditions::metal_kubelet_identity(BootstrapFormat::CloudConfig);
    for (name, payload) in [("block", CABPK_WORKER), ("flow", CABPK_INIT_FLOW)] {
        let composed = compose(
            payload,
            BootstrapFormat::CloudConfig,
            &extra,
            METAL_USERDATA_LIMIT,
        )
        .unwrap();
        let out = std::process::Command::new(&python)
            .args([
                "-c",
                "import sys\nfrom cloudinit.handlers.jinja_template import render_jinja_payload\n\
                 data = {'v1': {'instance_id': 'i-0123'}, 'ds': {'meta_data': {'hostname': 'cp-0', 'local_hostname': 'cp-0'}}}\n\
                 sys.stdout.write(render_jinja_payload(sys.stdin.read(), 'user-data', data))",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(composed.as_bytes())?;
                child.wait_with_output()
            })
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rendered = String::from_utf8(out.stdout).unwrap();
        assert!(
            rendered.starts_with("#cloud-config\n"),
            "{name}: {rendered}"
        );
        assert!(!rendered.contains("{{"), "{name}: Jinja left unrendered");
        assert!(
            rendered.contains("cp-0") || rendered.contains("i-0123"),
            "{name}: CABPK's template variables were not rendered"
        );
        let doc = &tools::pyyaml_load(std::slice::from_ref(&rendered), false)[0];
        let identity = list(doc, "write_files")
            .into_iter()
            .find(|f| f["path"] == METAL_IDENTITY_SCRIPT_PATH)
            .unwrap();
        assert_eq!(
            identity["content"],
            capp_bootstrap::userdata::METAL_IDENTITY_SCRIPT,
            "{name}: Jinja changed the identity script"
        );
        assert_eq!(
            list(doc, "runcmd")[0],
            serde_json::json!([METAL_IDENTITY_SCRIPT_PATH, "--kubelet-extra-args"]),
            "{name}"
        );
        if tools::cloud_init_available() {
            let path = std::env::temp_dir().join(format!(
                "capp-compose-jinja-{name}-{}.yaml",
                std::process::id()
            ));
            std::fs::write(&path, &rendered).unwrap();
            let result = tools::cloud_init_schema(&path);
            std::fs::remove_file(&path).unwrap();
            result.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
