//! The cluster templates: every flavor matches its golden file byte for byte
//! (`UPDATE_GOLDEN=1` regenerates them), the `template` subcommand and the repository print
//! and write exactly those, and the clusterctl contract holds mechanically: file names
//! `cluster-template[-FLAVOR].yaml`, variables only as `${VAR}` / `${VAR:=default}` with one
//! default per variable, every namespaced object in `${NAMESPACE}`, every reference resolving
//! to an object of the template, `docs/clusterctl.md` listing every variable with its
//! default.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

#[path = "support/repo.rs"]
mod repo;

#[path = "support/cli.rs"]
mod cli;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use capp_components::templates::{FLAVORS, Flavor, render, template};
use cli::{run, stdout};
use repo::Repo;
use serde_json::Value;

fn template_args(flavor: Flavor) -> Vec<&'static str> {
    match flavor.name() {
        "" => vec!["template"],
        name => vec!["template", name],
    }
}

#[test]
fn every_flavor_matches_its_golden_file_and_prints_the_same_every_time() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1");
    let mut drifted = Vec::new();
    for flavor in FLAVORS {
        let printed = stdout(&template_args(flavor));
        assert_eq!(
            printed,
            stdout(&template_args(flavor)),
            "{flavor:?} is not deterministic"
        );
        assert_eq!(printed, render(flavor).unwrap());
        let path = dir.join(flavor.file_name());
        if update {
            std::fs::write(&path, &printed).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(golden) if golden == printed => {}
            Ok(_) => drifted.push(format!("{} drifted from the generator", path.display())),
            Err(e) => drifted.push(format!("{}: {e}", path.display())),
        }
    }
    // No stale golden template without a flavor.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with("cluster-template") && !FLAVORS.iter().any(|f| f.file_name() == name) {
            drifted.push(format!("{name} belongs to no flavor"));
        }
    }
    assert!(
        drifted.is_empty(),
        "review the diff and run with UPDATE_GOLDEN=1:\n{}",
        drifted.join("\n")
    );
}

#[test]
fn the_default_flavor_is_printed_without_an_argument_and_unknown_flavors_are_refused() {
    assert_eq!(stdout(&["template"]), stdout(&["template", "default"]));
    assert_ne!(stdout(&["template"]), stdout(&["template", "kube-vip"]));
    let out = run(&["template", "emlb"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown flavor \"emlb\"")
            && stderr.contains("default, kube-vip, crs-cni, kube-vip-crs-cni, clusterclass"),
        "{stderr}"
    );
}

#[test]
fn help_documents_the_template_subcommand_and_its_flavors() {
    let help = stdout(&["--help"]);
    assert!(help.contains("template"), "{help}");
    let help = stdout(&["template", "--help"]);
    for flavor in [
        "default",
        "kube-vip",
        "crs-cni",
        "kube-vip-crs-cni",
        "clusterclass",
    ] {
        assert!(
            help.contains(flavor),
            "template --help lacks {flavor}:\n{help}"
        );
    }
    assert!(stdout(&["repository", "--help"]).contains("cluster-template"));
}

#[test]
fn the_repository_holds_every_flavor_under_the_name_clusterctl_reads() {
    let repo = Repo::write("templates", "v0.1.0");
    let files = repo.files();
    for flavor in FLAVORS {
        // clusterctl's SimpleProcessor.GetTemplateName: cluster-template[-flavor].yaml.
        let expected = match flavor.name() {
            "" => "cluster-template.yaml".to_owned(),
            name => format!("cluster-template-{name}.yaml"),
        };
        assert_eq!(flavor.file_name(), expected);
        let rel = format!("infrastructure-packet/v0.1.0/{expected}");
        assert!(files.contains(&rel), "{rel} missing from {files:?}");
        assert_eq!(repo.read(&rel), stdout(&template_args(flavor)));
    }
}

/// The kinds of the templates that are cluster-scoped (none: everything lives in the
/// target namespace).
fn is_namespaced(object: &Value) -> bool {
    !matches!(
        object["kind"].as_str(),
        Some("Namespace" | "ClusterRole" | "ClusterRoleBinding")
    )
}

#[test]
fn templates_use_only_braced_variables_with_one_default_each() {
    let syntax = regex::Regex::new(r"^\$\{[A-Z][A-Z0-9_]*(:=[^${}]*)?\}$").unwrap();
    for flavor in FLAVORS {
        let text = render(flavor).unwrap();
        let refs = capp_components::variables::references(&text)
            .unwrap_or_else(|e| panic!("{flavor:?}: {e}"));
        assert_eq!(
            text.matches('$').count(),
            refs.len(),
            "{flavor:?}: a bare $"
        );
        let mut defaults: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        for r in &refs {
            assert!(syntax.is_match(&r.text), "{flavor:?}: {}", r.text);
            let previous = defaults.insert(&r.name, r.default.as_deref());
            assert!(
                previous.is_none() || previous == Some(r.default.as_deref()),
                "{flavor:?}: {} has two different defaults",
                r.name
            );
        }
        // The standard variables clusterctl fills and the Go provider's, so an environment
        // prepared for the Go provider works unchanged.
        for name in [
            "CLUSTER_NAME",
            "NAMESPACE",
            "KUBERNETES_VERSION",
            "CONTROL_PLANE_MACHINE_COUNT",
            "WORKER_MACHINE_COUNT",
            "PROJECT_ID",
            "METRO",
            "CONTROLPLANE_NODE_TYPE",
            "WORKER_NODE_TYPE",
            "NODE_OS",
            "SSH_KEY",
            "POD_CIDR",
            "SERVICE_CIDR",
            "CPEM_VERSION",
        ] {
            assert!(defaults.contains_key(name), "{flavor:?} lacks ${{{name}}}");
        }
        assert_eq!(
            defaults.contains_key("KUBE_VIP_VERSION"),
            flavor.name().contains("kube-vip"),
            "{flavor:?}"
        );
    }
}

/// Every object reference (`*Ref` or `ref` with a `kind`) under `value`, as (kind, name).
fn walk(value: &Value, refs: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if (key.ends_with("Ref") || key == "ref") && v.get("kind").is_some() {
                    refs.push((
                        v["kind"].as_str().unwrap().to_owned(),
                        v["name"].as_str().unwrap().to_owned(),
                    ));
                }
                walk(v, refs);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
        _ => {}
    }
}

#[test]
fn every_namespaced_object_is_in_the_target_namespace_and_every_reference_resolves() {
    for flavor in FLAVORS {
        let objects = template(flavor).unwrap();
        let mut names = BTreeSet::new();
        for object in &objects {
            let kind = object["kind"].as_str().unwrap();
            assert!(is_namespaced(object), "{flavor:?}: cluster-scoped {kind}");
            assert_eq!(
                object["metadata"]["namespace"], "${NAMESPACE}",
                "{flavor:?}: {kind}"
            );
            let name = object["metadata"]["name"].as_str().unwrap().to_owned();
            assert!(
                names.insert((kind.to_owned(), name)),
                "{flavor:?}: duplicate {kind}"
            );
        }
        // Every `*Ref`/`ref` and ClusterResourceSet resource names an object of the template.
        let mut refs = Vec::new();
        for object in &objects {
            walk(&object["spec"], &mut refs);
            if object["kind"] == "ClusterResourceSet" {
                for r in object["spec"]["resources"].as_array().unwrap() {
                    refs.push((
                        r["kind"].as_str().unwrap().to_owned(),
                        r["name"].as_str().unwrap().to_owned(),
                    ));
                }
                // The set selects the Cluster of the template by a label it carries.
                let cluster = objects.iter().find(|o| o["kind"] == "Cluster").unwrap();
                for (k, v) in object["spec"]["clusterSelector"]["matchLabels"]
                    .as_object()
                    .unwrap()
                {
                    assert_eq!(&cluster["metadata"]["labels"][k], v, "{flavor:?}");
                }
            }
        }
        assert!(!refs.is_empty());
        for (kind, name) in refs {
            // ClusterClass machine deployment classes are referenced by `class`, not here.
            assert!(
                names.contains(&(kind.clone(), name.clone())),
                "{flavor:?}: {kind}/{name} is referenced but not in the template"
            );
        }
    }
}

#[test]
fn docs_clusterctl_md_lists_every_template_variable_with_its_default() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/clusterctl.md"
    ))
    .unwrap();
    for flavor in FLAVORS {
        for r in capp_components::variables::references(&render(flavor).unwrap()).unwrap() {
            let default = match r.default.as_deref() {
                None => "(required)".to_owned(),
                Some(d) => format!("`{d}`"),
            };
            let row = format!("| `{}` | ", r.name);
            let line = docs
                .lines()
                .find(|l| l.starts_with(&row))
                .unwrap_or_else(|| panic!("docs/clusterctl.md lacks a row for {}", r.name));
            assert!(
                line.contains(&default),
                "{line} does not state the default {default}"
            );
        }
    }
}
