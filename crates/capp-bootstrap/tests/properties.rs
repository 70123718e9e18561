//! Property tests: matrix selection returns exactly one entry or the precise error, and any
//! string survives YAML serialisation as the same string (serde-saphyr parse-back for every
//! case, PyYAML — the YAML 1.1 parser cloud-init uses — for a large sample).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed unwrap is a failed test"
)]

#[path = "support/tools.rs"]
mod tools;

use capp_bootstrap::{
    CloudConfig, Error, KubernetesVersion, MachineConfigMatrix, MachineQuery, RunCmd, WriteFile,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

const IMAGES: [&str; 3] = ["ubuntu_22_04", "ubuntu_24_04", "debian_12"];
const PATTERNS: [&str; 6] = ["1.30.x", "1.31.x", "1.31.2", "1.31.5", "1.32.x", "1.32.0"];
const VERSIONS: [&str; 5] = ["1.30.1", "1.31.2", "1.31.5", "1.32.0", "1.33.3"];
const RUNTIMES: [&str; 2] = ["containerd", "containerd=1.7.12-0ubuntu4"];

#[derive(Debug, Clone)]
struct Params {
    image: usize,
    kubelet: usize,
    control_plane: Option<usize>,
    runtime: usize,
}

fn params() -> impl Strategy<Value = Params> {
    (
        0..IMAGES.len(),
        0..PATTERNS.len(),
        proptest::option::of(0..PATTERNS.len()),
        0..RUNTIMES.len(),
    )
        .prop_map(|(image, kubelet, control_plane, runtime)| Params {
            image,
            kubelet,
            control_plane,
            runtime,
        })
}

fn matrix_yaml(entries: &[Vec<Params>]) -> String {
    use std::fmt::Write as _;
    let mut yaml = String::from("items:\n");
    for (i, params) in entries.iter().enumerate() {
        writeln!(yaml, "- name: entry-{i}\n  machineParams:").unwrap();
        for p in params {
            let (image, kubelet) = (IMAGES[p.image], PATTERNS[p.kubelet]);
            writeln!(
                yaml,
                "  - image: {image}\n    versions:\n      kubelet: {kubelet}"
            )
            .unwrap();
            if let Some(cp) = p.control_plane {
                writeln!(yaml, "      controlPlane: {}", PATTERNS[cp]).unwrap();
            }
            writeln!(yaml, "    containerRuntime: {}", RUNTIMES[p.runtime]).unwrap();
        }
        yaml.push_str("  userdata: echo {{runtime_package}}\n");
    }
    yaml
}

/// The specification of selection, written independently of the implementation.
fn pattern_matches(pattern: &str, version: &str) -> bool {
    match pattern.strip_suffix(".x") {
        Some(minor) => version.starts_with(&format!("{minor}.")),
        None => pattern == version,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn selection_returns_exactly_one_entry_or_a_precise_error(
        entries in proptest::collection::vec(proptest::collection::vec(params(), 1..4), 1..5),
        image in 0..IMAGES.len() + 1,
        kubelet in 0..VERSIONS.len(),
        control_plane in proptest::option::of(0..VERSIONS.len()),
    ) {
        let matrix = MachineConfigMatrix::from_yaml(&matrix_yaml(&entries)).unwrap();
        let image_name = IMAGES.get(image).copied().unwrap_or("flatcar_stable");
        let query = MachineQuery {
            image: image_name.to_owned(),
            kubelet: VERSIONS[kubelet].parse::<KubernetesVersion>().unwrap(),
            control_plane: control_plane.map(|c| VERSIONS[c].parse().unwrap()),
        };
        let matching: Vec<(usize, Vec<&Params>)> = entries
            .iter()
            .enumerate()
            .map(|(i, ps)| {
                (i, ps.iter().filter(|p| {
                    p.image == image
                        && pattern_matches(PATTERNS[p.kubelet], VERSIONS[kubelet])
                        && match (p.control_plane, control_plane) {
                            (None, None) => true,
                            (Some(pat), Some(v)) => pattern_matches(PATTERNS[pat], VERSIONS[v]),
                            _ => false,
                        }
                }).collect())
            })
            .filter(|(_, ps): &(usize, Vec<&Params>)| !ps.is_empty())
            .collect();
        let result = matrix.select(&query);
        match matching.as_slice() {
            [] => {
                let Err(Error::NoMatchingMachineConfig { available, .. }) = result else {
                    panic!("expected no match, got {result:?}")
                };
                let offered: usize = entries.iter().map(Vec::len).sum();
                prop_assert_eq!(available.len(), offered, "every combination is listed");
            }
            [(index, ps)] if ps.iter().all(|p| p.runtime == ps[0].runtime) => {
                let selection = result.unwrap();
                prop_assert_eq!(&selection.entry.name, &format!("entry-{index}"));
                prop_assert_eq!(&selection.params.container_runtime, RUNTIMES[ps[0].runtime]);
            }
            [(index, _)] => {
                let Err(Error::AmbiguousMachineConfig { entries: names, .. }) = result else {
                    panic!("expected ambiguity inside entry-{index}, got {result:?}")
                };
                let prefix = format!("entry-{index} (");
                prop_assert!(names.iter().all(|n| n.starts_with(&prefix)), "{:?}", names);
            }
            several => {
                let Err(Error::AmbiguousMachineConfig { entries: names, .. }) = result else {
                    panic!("expected ambiguity, got {result:?}")
                };
                let expected: Vec<String> = several.iter().map(|(i, _)| format!("entry-{i}")).collect();
                prop_assert_eq!(names, expected);
            }
        }
    }
}

/// Strings that YAML 1.1 readers would turn into something else unless quoted, plus random
/// printable text, whitespace and line structure.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "Y",
            "N",
            "YES",
            "No",
            "True",
            "FALSE",
            "0755",
            "1.30",
            "~",
            "null",
            "Null",
            "012",
            "0x1F",
            "0o17",
            "1e3",
            "1_000",
            "12:30:45",
            "190:20:30",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            ".inf",
            "-.INF",
            ".NaN",
            "=",
            "<<",
            "-",
            "",
            " ",
            "#",
            "- a",
            "a: b",
            "? x",
            "!tag",
            "&a",
            "*a",
            "%x",
            "@x",
            "`x",
            "|",
            ">",
            "'",
            "\"",
            "{",
            "[",
            "x #c",
            "\t",
            "0b101",
            "+12",
            "-0",
            "0.",
            ".5",
            "1:2",
            "---",
            "...",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,40}",
        "[ -~\n\t]{0,60}",
        "\\PC{0,30}",
        "( |\n)?[a-z0-9:#-]{0,10}(\n| )*",
    ]
}

fn document(strings: &[String]) -> CloudConfig {
    CloudConfig {
        packages: strings.to_vec(),
        write_files: strings
            .iter()
            .map(|s| WriteFile::text("/etc/capp/test", "0644", s.clone()))
            .collect(),
        runcmd: strings
            .iter()
            .map(|s| RunCmd::Argv(vec!["echo".to_owned(), s.clone()]))
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_string_reads_back_as_the_same_string(strings in proptest::collection::vec(tricky_string(), 1..6)) {
        let config = document(&strings);
        let yaml = config.to_userdata().unwrap();
        let back: CloudConfig = serde_saphyr::from_str(&yaml).unwrap();
        prop_assert_eq!(back, config);
    }
}

#[test]
fn a_sample_of_random_strings_reads_back_as_strings_in_pyyaml() {
    if !tools::pyyaml_available() {
        return;
    }
    let mut runner = TestRunner::deterministic();
    let strategy = proptest::collection::vec(tricky_string(), 1..6);
    let samples: Vec<Vec<String>> = (0..400)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let texts: Vec<String> = samples
        .iter()
        .map(|s| document(s).to_userdata().unwrap())
        .collect();
    let parsed = tools::pyyaml_load(&texts, false);
    for ((strings, text), doc) in samples.iter().zip(&texts).zip(&parsed) {
        let intended = serde_json::to_value(document(strings)).unwrap();
        assert_eq!(doc, &intended, "PyYAML reads this differently:\n{text}");
    }
}

#[test]
fn the_yaml_1_1_lookalikes_named_in_the_issue_stay_strings_in_pyyaml() {
    if !tools::pyyaml_available() {
        return;
    }
    let named: Vec<String> = ["yes", "no", "on", "off", "0755", "1.30", "~", "null", "012"]
        .iter()
        .map(|&s| s.to_owned())
        .collect();
    let text = document(&named).to_userdata().unwrap();
    let parsed = tools::pyyaml_load(std::slice::from_ref(&text), false);
    let packages: Vec<&str> = parsed[0]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("not a string: {v} in\n{text}"))
        })
        .collect();
    assert_eq!(packages, named);

    // The same holds inside the generated kubeadm configuration: a cluster called `on` in a
    // DNS domain `no` stays a string for a YAML 1.1 reader.
    let matrix = MachineConfigMatrix::default_matrix().unwrap();
    let mut cluster = tools::fake_cluster();
    cluster.name = "on".to_owned();
    cluster.dns_domain = "no".to_owned();
    let [init, ..] = <[_; 3]>::try_from(tools::fake_roles()).unwrap();
    let request = capp_bootstrap::UserdataRequest::new(
        "ubuntu_24_04",
        "1.33.1".parse().unwrap(),
        init,
        cluster,
        tools::fake_discovery(),
    );
    let rendered = capp_bootstrap::render_userdata(&matrix, &request).unwrap();
    let kubeadm = rendered
        .cloud_config
        .write_files
        .iter()
        .find(|f| f.path == "/run/kubeadm/kubeadm.yaml")
        .unwrap();
    let text = String::from_utf8(kubeadm.bytes().to_vec()).unwrap();
    let docs = tools::pyyaml_load(&[text], true);
    assert_eq!(docs[0][1]["clusterName"], "on");
    assert_eq!(docs[0][1]["networking"]["dnsDomain"], "no");
}

/// Lines that look like cloud-config, for throwing arbitrary layouts at `compose`.
fn cloud_config_line() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "runcmd:",
            "write_files:",
            "packages:",
            "runcmd: []",
            "write_files: ~",
            "- echo a",
            "  - echo b",
            "- [echo, c]",
            "-   path: /etc/a",
            "    content: x",
            "- path: /etc/b",
            "  content: |",
            "    line",
            "  - 'quoted: yes'",
            "# comment",
            "",
            "  # indented comment",
            "hostname: node",
            "bootcmd:",
            "- - ls",
            "  -",
            "-",
            "users:",
            "  - name: u",
            "---",
            "key: 'a",
            "  b'",
            "runcmd: #c",
            "runcmd: ['kubeadm init --config /run/kubeadm/kubeadm.yaml && echo success > /run/cluster-api/bootstrap-success.complete']",
            "runcmd: [",
            "  'a ]', \"b, # c\",",
            "  echo it's, # ]",
            "]",
            "packages: [jq, 'yes',]",
            "write_files: [{path: /etc/c, content: '['}]",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn composing_any_cloud_config_either_fails_cleanly_or_only_inserts_text(
        lines in proptest::collection::vec(cloud_config_line(), 0..12),
        jinja in any::<bool>(),
    ) {
        let header = if jinja { "## template: jinja\n#cloud-config\n" } else { "#cloud-config\n" };
        let payload = format!("{header}{}\n", lines.join("\n"));
        let additions = capp_bootstrap::PacketAdditions::metal_kubelet_identity(
            capp_bootstrap::BootstrapFormat::CloudConfig,
        );
        if let Ok(composed) = capp_bootstrap::compose(
            &payload,
            capp_bootstrap::BootstrapFormat::CloudConfig,
            &additions,
            capp_bootstrap::METAL_USERDATA_LIMIT,
        ) {
            // Nothing of the original is removed or rewritten: it is a subsequence of the
            // result (block lists gain lines, flow lists gain items inside their brackets).
            let mut rest = composed.chars();
            for (at, c) in payload.char_indices() {
                prop_assert!(rest.any(|r| r == c), "lost {:?} at byte {} in\n{}", c, at, composed);
            }
            let body = composed.split_once("#cloud-config\n").unwrap().1;
            let doc: serde_json::Value = serde_saphyr::from_str(body).unwrap();
            let runcmd = doc["runcmd"].as_array().unwrap();
            prop_assert_eq!(
                &runcmd[0],
                &serde_json::json!(["/opt/capp/bin/metal-identity.sh", "--kubelet-extra-args"])
            );
        }
    }
}

/// The bootstrap token grammar, written independently: six and sixteen of `[a-z0-9]`.
fn is_token(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_digit() || c.is_ascii_lowercase();
    b.len() == 23 && b[6] == b'.' && b[..6].iter().all(ok) && b[7..].iter().all(ok)
}

fn token_candidate() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{6}\\.[a-z0-9]{16}",
        "[a-zA-Z0-9]{5,7}\\.[a-z0-9_]{15,17}",
        "[a-z0-9.:-]{0,25}",
        "\\PC{0,24}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn only_well_formed_bootstrap_tokens_are_accepted_and_rejected_ones_are_not_echoed(token in token_candidate()) {
        let cluster = tools::fake_cluster();
        let discovery = capp_bootstrap::JoinDiscovery {
            token: token.clone().into(),
            ca_cert_hashes: vec![tools::FAKE_CA_HASH.to_owned()],
        };
        let result = capp_bootstrap::kubeadm::kubeadm_config(&capp_bootstrap::KubeadmInput {
            kubernetes_version: "1.33.0".parse().unwrap(),
            cluster: &cluster,
            role: &capp_bootstrap::NodeRole::Worker,
            discovery: &discovery,
            identity: &capp_bootstrap::NodeIdentity::FromMetadata,
        });
        match result {
            Ok(yaml) => {
                prop_assert!(is_token(&token), "accepted {:?}", token);
                prop_assert!(yaml.contains(&format!("    token: {token}\n")), "{}", yaml);
            }
            Err(err) => {
                prop_assert!(!is_token(&token), "rejected {:?}: {}", token, err);
                // The message is fixed text: the rejected token is never echoed.
                prop_assert_eq!(
                    err.to_string(),
                    "invalid `discovery.token`: not a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}"
                );
            }
        }
    }
}
