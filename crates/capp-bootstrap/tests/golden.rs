//! Golden userdata for every default matrix entry × Kubernetes minor × role, compared byte for
//! byte (`UPDATE_GOLDEN=1` regenerates), validated by `cloud-init schema` and read back by
//! PyYAML (YAML 1.1, as cloud-init reads it) with the intended types.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed unwrap is a failed test"
)]

#[path = "support/tools.rs"]
mod tools;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use capp_bootstrap::{
    FileContent, KubernetesVersion, MachineConfigMatrix, RenderedUserdata, UserdataRequest,
    render_userdata,
};
use serde_json::Value;

/// One patch release per supported minor; fixed so the golden files are stable.
const VERSIONS: [&str; 4] = ["1.31.4", "1.32.4", "1.33.4", "1.34.1"];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Renders every default entry × version × role, with the golden file name of each.
fn render_all() -> Vec<(String, RenderedUserdata)> {
    let matrix = MachineConfigMatrix::default_matrix().unwrap();
    let mut out = Vec::new();
    for entry in matrix.entries() {
        let image = &entry.params[0].image;
        for version in VERSIONS {
            let version: KubernetesVersion = version.parse().unwrap();
            for role in tools::fake_roles() {
                let name = format!(
                    "{}-v{}.{}-{}.yaml",
                    entry.name,
                    version.major,
                    version.minor,
                    role.name()
                );
                let request = UserdataRequest::new(
                    image.clone(),
                    version,
                    role,
                    tools::fake_cluster(),
                    tools::fake_discovery(),
                );
                let rendered = render_userdata(&matrix, &request).unwrap();
                assert_eq!(rendered.entry, entry.name);
                out.push((name, rendered));
            }
        }
    }
    out
}

#[test]
fn golden_userdata_matches_byte_for_byte() {
    let rendered = render_all();
    assert_eq!(rendered.len(), 3 * 4 * 3, "3 images × 4 minors × 3 roles");
    let dir = golden_dir();
    let update = std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1");
    if update {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    let mut mismatches = Vec::new();
    for (name, userdata) in &rendered {
        let path = dir.join(name);
        if update {
            std::fs::write(&path, userdata.as_str()).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == userdata.as_str() => {}
            Ok(_) => mismatches.push(format!("{name} differs")),
            Err(e) => mismatches.push(format!("{name}: {e}")),
        }
    }
    // No stale golden files either: the set of files is exactly the set rendered.
    let expected_names: BTreeSet<_> = rendered.iter().map(|(n, _)| n.clone()).collect();
    let on_disk: BTreeSet<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| Path::new(n).extension().is_some_and(|e| e == "yaml"))
        .collect();
    for stale in on_disk.difference(&expected_names) {
        mismatches.push(format!("{stale} is not rendered by any entry (stale)"));
    }
    assert!(
        mismatches.is_empty(),
        "golden files out of date (run with UPDATE_GOLDEN=1 and review the diff):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn every_golden_userdata_passes_cloud_init_schema_validation() {
    if !tools::cloud_init_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("capp-bootstrap-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<_> = render_all()
        .into_iter()
        .map(|(name, userdata)| {
            let path = dir.join(&name);
            std::fs::write(&path, userdata.as_str()).unwrap();
            (name, path)
        })
        .collect();
    // One `cloud-init schema` process per file, a few at a time (each takes ~0.3 s).
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(files.len().div_ceil(4))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(name, path)| {
                            tools::cloud_init_schema(path)
                                .err()
                                .map(|out| format!("{name}:\n{out}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        failures.is_empty(),
        "cloud-init schema rejected:\n{}",
        failures.join("\n")
    );
}

/// Asserts every scalar under `value` is a string, except integers at keys in `int_keys`.
fn assert_strings(value: &Value, path: &str, int_keys: &[&str], file: &str) {
    match value {
        Value::String(_) => {}
        Value::Number(_) if int_keys.iter().any(|k| path.ends_with(k)) => {}
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert_strings(item, &format!("{path}[{i}]"), int_keys, file);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                assert_strings(item, &format!("{path}.{key}"), int_keys, file);
            }
        }
        other => panic!("{file}: {path} was read by PyYAML as {other}, not a string"),
    }
}

#[test]
fn pyyaml_reads_every_golden_userdata_with_the_intended_types() {
    if !tools::pyyaml_available() {
        return;
    }
    let rendered = render_all();
    let texts: Vec<String> = rendered
        .iter()
        .map(|(_, u)| u.as_str().to_owned())
        .collect();
    let parsed = tools::pyyaml_load(&texts, false);
    let mut kubeadm_texts = Vec::new();
    for ((name, userdata), doc) in rendered.iter().zip(&parsed) {
        // The whole document reads back exactly as the typed structure we serialised: every
        // path, owner, mode ("0600", not 384) and content is the same string.
        let intended = serde_json::to_value(&userdata.cloud_config).unwrap();
        assert_eq!(
            doc, &intended,
            "{name}: PyYAML reads something else than intended"
        );
        assert_strings(doc, "", &[], name);
        let kubeadm = userdata
            .cloud_config
            .write_files
            .iter()
            .find(|f| f.path == "/run/kubeadm/kubeadm.yaml")
            .unwrap();
        let FileContent::Text(text) = &kubeadm.content else {
            panic!("{name}: kubeadm configuration is not text")
        };
        kubeadm_texts.push(text.clone());
    }
    // The kubeadm configuration inside is YAML too: every value a string except ports.
    let kubeadm_docs = tools::pyyaml_load(&kubeadm_texts, true);
    for ((name, _), docs) in rendered.iter().zip(&kubeadm_docs) {
        let docs = docs.as_array().unwrap();
        assert!(!docs.is_empty(), "{name}");
        for doc in docs {
            assert_strings(doc, "", &[".bindPort"], name);
            let api = doc["apiVersion"].as_str().unwrap();
            assert_eq!(api, "kubeadm.k8s.io/v1beta4", "{name}: 1.31+ uses v1beta4");
        }
    }
}

#[test]
fn golden_userdata_never_skips_ca_verification_nor_carries_the_metal_token() {
    for (name, userdata) in render_all() {
        let text = userdata.as_str();
        assert!(!text.contains("unsafe"), "{name}");
        if !name.ends_with("control-plane-init.yaml") {
            assert!(
                text.contains(tools::FAKE_CA_HASH),
                "{name}: joins discover by CA hash"
            );
        }
        assert!(!text.contains("metal-api-token"), "{name}");
        assert!(
            text.trim_end().ends_with(
                "- mkdir -p /run/cluster-api && echo success > /run/cluster-api/bootstrap-success.complete"
            ),
            "{name}: the sentinel is not the last command"
        );
        let private_keys = text.matches("PRIVATE KEY-----\n").count();
        if name.ends_with("control-plane-init.yaml") {
            assert!(private_keys >= 4, "{name}: init needs the CA keys");
        } else {
            assert_eq!(private_keys, 0, "{name}: joins must not carry private keys");
        }
    }
}

#[test]
fn every_generated_script_is_valid_bash() {
    if !tools::bash_available() {
        return;
    }
    let mut failures = Vec::new();
    for (name, userdata) in render_all() {
        for file in &userdata.cloud_config.write_files {
            let FileContent::Text(text) = &file.content else {
                continue;
            };
            if text.starts_with("#!/bin/bash")
                && let Err(message) = tools::bash_syntax(text)
            {
                failures.push(format!("{name} {}: {message}", file.path));
            }
        }
        // The runcmd list becomes one `sh` script; it must parse as well.
        let runcmd: Vec<String> = userdata
            .cloud_config
            .runcmd
            .iter()
            .map(capp_bootstrap::RunCmd::to_shell)
            .collect();
        if let Err(message) = tools::bash_syntax(&runcmd.join("\n")) {
            failures.push(format!("{name} runcmd: {message}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
