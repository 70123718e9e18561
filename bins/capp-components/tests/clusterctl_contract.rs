//! The clusterctl provider contract, checked mechanically on the generated repository
//! (`docs/book/src/developer/providers/contracts/clusterctl.md`, `cmd/clusterctl`):
//! file names and layout, the provider label on every object, a single Namespace holding
//! every namespaced object, the `manager` container, the variable syntax, the metadata
//! schema (upstream CAPI v1.10's `Metadata` CRD from `../shared`), the CRD names clusterctl
//! computes, and RBAC made of exactly `capp_reconcile::rbac::rules()`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

#[path = "support/repo.rs"]
mod repo;
#[path = "../../../crates/capp-api/tests/support/shared.rs"]
mod shared;

use std::collections::BTreeSet;

use capp_components::{NAMESPACE, PROVIDER_LABEL, PROVIDER_LABEL_KEY, Release, Version};
use capp_testenv::schema::CrdSchema;
use repo::Repo;
use serde_json::Value;

fn components() -> Vec<Value> {
    capp_components::components::components(&Release::default()).unwrap()
}

/// The kinds of the components that are cluster-scoped.
const CLUSTER_SCOPED: [&str; 6] = [
    "Namespace",
    "CustomResourceDefinition",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ClusterRole",
    "ClusterRoleBinding",
];

#[test]
fn the_repository_has_the_layout_clusterctl_reads() {
    let repo = Repo::write("contract", "v0.3.1");
    let mut expected = BTreeSet::from([
        "clusterctl.yaml".to_owned(),
        "infrastructure-packet/v0.3.1/infrastructure-components.yaml".to_owned(),
        "infrastructure-packet/v0.3.1/metadata.yaml".to_owned(),
    ]);
    // The cluster templates (checked in detail by tests/templates.rs).
    expected.extend(
        capp_components::templates::FLAVORS
            .iter()
            .map(|f| format!("infrastructure-packet/v0.3.1/{}", f.file_name())),
    );
    assert_eq!(repo.files(), expected);
    let config: Value = serde_saphyr::from_str(&repo.read("clusterctl.yaml")).unwrap();
    let provider = &config["providers"][0];
    assert_eq!(provider["name"], "packet");
    assert_eq!(provider["type"], "InfrastructureProvider");
    // repository_local.go: file:// + an absolute path ending in <label>/<version>/<file>.
    let url = provider["url"].as_str().unwrap();
    let path = url.strip_prefix("file://").expect("file URL");
    assert!(path.starts_with('/'), "{url} is not absolute");
    assert!(
        path.ends_with("/infrastructure-packet/v0.3.1/infrastructure-components.yaml"),
        "{url}"
    );
    assert!(std::path::Path::new(path).is_file(), "{url} does not exist");
}

#[test]
fn every_object_carries_the_provider_label() {
    for object in components() {
        assert_eq!(
            object["metadata"]["labels"][PROVIDER_LABEL_KEY], PROVIDER_LABEL,
            "{} {} lacks the provider label",
            object["kind"], object["metadata"]["name"]
        );
    }
    assert_eq!(
        PROVIDER_LABEL,
        format!("infrastructure-{}", capp_components::PROVIDER_NAME)
    );
}

#[test]
fn one_namespace_holds_every_namespaced_object() {
    let objects = components();
    let namespaces: Vec<_> = objects
        .iter()
        .filter(|o| o["kind"] == "Namespace")
        .collect();
    assert_eq!(
        namespaces.len(),
        1,
        "clusterctl accepts zero or one Namespace"
    );
    assert_eq!(namespaces[0]["metadata"]["name"], NAMESPACE);
    for object in &objects {
        let kind = object["kind"].as_str().unwrap();
        let namespace = &object["metadata"]["namespace"];
        if CLUSTER_SCOPED.contains(&kind) {
            assert!(namespace.is_null(), "cluster-scoped {kind} has a namespace");
        } else {
            assert_eq!(
                namespace, NAMESPACE,
                "{kind} {}",
                object["metadata"]["name"]
            );
        }
        for subject in object["subjects"].as_array().into_iter().flatten() {
            assert_eq!(subject["namespace"], NAMESPACE, "{kind} subject");
        }
    }
}

#[test]
fn the_deployment_runs_one_container_named_manager() {
    let objects = components();
    let deployments: Vec<_> = objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .collect();
    assert_eq!(deployments.len(), 1);
    let containers = deployments[0]["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "manager");
    assert_eq!(
        containers[0]["image"],
        format!("ghcr.io/capp-rs/capp-manager:{}", Version::current())
    );
}

#[test]
fn variables_use_only_the_braced_forms_with_uppercase_names() {
    let repo = Repo::write("contract", "v0.1.0");
    let text = repo.read("infrastructure-packet/v0.1.0/infrastructure-components.yaml");
    let refs = capp_components::variables::references(&text).expect("well-formed variables");
    let names: BTreeSet<_> = refs.iter().map(|r| r.name.as_str()).collect();
    assert!(names.contains("PACKET_API_KEY"));
    let syntax = regex::Regex::new(r"^\$\{[A-Z][A-Z0-9_]*(:=[^${}]*)?\}$").unwrap();
    for r in &refs {
        assert!(syntax.is_match(&r.text), "{}", r.text);
    }
    // Every `$` of the file belongs to a reference (clusterctl substitutes bare $NAME too).
    let dollars = text.matches('$').count();
    assert_eq!(dollars, refs.len());
    // Only the token has no default: `clusterctl init` then asks for exactly that one.
    let required: Vec<_> = refs
        .iter()
        .filter(|r| r.default.is_none())
        .map(|r| &r.name)
        .collect();
    assert_eq!(required, ["PACKET_API_KEY"]);
}

#[test]
fn metadata_validates_against_the_upstream_metadata_schema() {
    let Some(dir) = shared::specs_dir("capi-v1.10") else {
        return;
    };
    let crd_text =
        std::fs::read_to_string(dir.join("clusterctl.cluster.x-k8s.io_metadata.yaml")).unwrap();
    let crd: Value = serde_saphyr::from_str(&crd_text).unwrap();
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha3");
    let schema = CrdSchema::compile(&version["schema"]["openAPIV3Schema"]).unwrap();

    let repo = Repo::write("contract", "v0.2.0");
    let text = repo.read("infrastructure-packet/v0.2.0/metadata.yaml");
    let mut metadata: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(
        metadata["apiVersion"],
        "clusterctl.cluster.x-k8s.io/v1alpha3"
    );
    assert_eq!(metadata["kind"], "Metadata");
    let admitted = schema.admit(&mut metadata.clone(), None).unwrap();
    assert!(
        admitted.pruned.is_empty(),
        "unknown fields: {:?}",
        admitted.pruned
    );
    // getProviderContract: the installed version must match a series; its contract must be
    // one clusterctl v1.10+ accepts and the one the CRDs' labels declare.
    let series = metadata["releaseSeries"].as_array_mut().unwrap();
    let matching: Vec<_> = series
        .iter()
        .filter(|s| s["major"] == 0 && s["minor"] == 2)
        .collect();
    assert_eq!(matching.len(), 1, "{text}");
    for s in series.iter() {
        let contract = s["contract"].as_str().unwrap();
        assert!(["v1beta1", "v1beta2"].contains(&contract));
        for crd in capp_components::components::crds().unwrap() {
            assert_eq!(
                crd["metadata"]["labels"][format!("cluster.x-k8s.io/{contract}")],
                contract
            );
        }
    }
}

/// `flect.Pluralize` for the kinds in question (lowercase nouns): the English rules flect
/// applies to words ending in s/x/z/ch/sh and consonant + y, and `+s` otherwise.
fn pluralize(word: &str) -> String {
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|s| word.ends_with(s))
    {
        format!("{word}es")
    } else if word.ends_with('y')
        && !word.ends_with("ay")
        && !word.ends_with("ey")
        && !word.ends_with("oy")
    {
        format!("{}ies", &word[..word.len() - 1])
    } else {
        format!("{word}s")
    }
}

#[test]
fn crd_names_are_the_names_clusterctl_computes() {
    for crd in capp_components::components::crds().unwrap() {
        // contract.CalculateCRDName(group, kind) = flect.Pluralize(lower(kind)) + "." + group
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap();
        let group = crd["spec"]["group"].as_str().unwrap();
        let expected = format!("{}.{group}", pluralize(&kind.to_lowercase()));
        assert_eq!(crd["metadata"]["name"], expected);
        assert!(
            crd["metadata"]["annotations"]
                .get("clusterctl.cluster.x-k8s.io/skip-crd-name-preflight-check")
                .is_none()
        );
    }
}

#[test]
fn rbac_is_exactly_the_controllers_rules_without_wildcards() {
    let objects = components();
    let rules_of = |kind: &str| -> Vec<Value> {
        objects
            .iter()
            .filter(|o| o["kind"] == kind)
            .flat_map(|o| o["rules"].as_array().unwrap().clone())
            .collect()
    };
    let mut granted = rules_of("ClusterRole");
    let lease_rules = rules_of("Role");
    assert!(
        lease_rules
            .iter()
            .all(|r| r["apiGroups"][0] == "coordination.k8s.io")
    );
    granted.extend(lease_rules);
    let expected: Vec<Value> = capp_reconcile::rbac::rules()
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    let sort = |mut v: Vec<Value>| {
        v.sort_by_key(ToString::to_string);
        v
    };
    assert_eq!(sort(granted.clone()), sort(expected));
    for rule in granted {
        for field in ["apiGroups", "resources", "verbs"] {
            assert!(
                !rule[field].as_array().unwrap().iter().any(|v| v == "*"),
                "wildcard in {rule}"
            );
        }
    }
}

#[test]
fn docs_clusterctl_md_lists_every_variable() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/clusterctl.md"
    ))
    .unwrap();
    let text = capp_components::to_yaml(&components()).unwrap();
    for r in capp_components::variables::references(&text).unwrap() {
        let default = r.default.as_deref().unwrap_or("(required)");
        let row = format!("| `{}` | ", r.name);
        let line = docs
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("docs/clusterctl.md lacks a row for {}", r.name));
        assert!(
            line.contains(default),
            "{line} does not state the default {default}"
        );
    }
}
