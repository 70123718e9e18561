//! The bootstrap kinds' CRDs: golden YAML, structural schemas, the API server's CRD
//! validation, names and contract labels, status subresource, and a description on every
//! field (the same rules `crds.rs` applies to the infrastructure kinds).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a test failure with its message"
)]

#[path = "support/crd_checks.rs"]
mod crd_checks;

use capp_api::bootstrap::crds;
use serde_json::Value;

fn crds_json() -> Vec<Value> {
    crds()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect()
}

#[test]
fn the_bootstrap_crds_match_their_golden_yaml_byte_for_byte() {
    crd_checks::check_crd_goldens(&crds());
}

#[test]
fn the_bootstrap_crds_are_structural_and_pass_the_api_servers_validation() {
    crd_checks::assert_structural_and_valid(&crds_json());
}

#[test]
fn the_bootstrap_crds_carry_the_names_and_both_contract_labels() {
    for (crd, (plural, kind, short, has_status)) in crds_json().iter().zip([
        ("packetkubeadmconfigs", "PacketKubeadmConfig", "pkc", true),
        (
            "packetkubeadmconfigtemplates",
            "PacketKubeadmConfigTemplate",
            "pkct",
            false,
        ),
    ]) {
        assert_eq!(
            crd["metadata"]["name"],
            format!("{plural}.bootstrap.cluster.x-k8s.io")
        );
        let labels = &crd["metadata"]["labels"];
        assert_eq!(labels["cluster.x-k8s.io/v1beta1"], "v1beta1");
        assert_eq!(labels["cluster.x-k8s.io/v1beta2"], "v1beta1");
        let names = &crd["spec"]["names"];
        assert_eq!(names["kind"], kind);
        assert_eq!(names["listKind"], format!("{kind}List"));
        assert_eq!(names["shortNames"], serde_json::json!([short]));
        assert_eq!(names["categories"], serde_json::json!(["cluster-api"]));
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1beta1");
        assert_eq!(version["subresources"]["status"].is_object(), has_status);
    }
    let config = &crds_json()[0];
    let status = &config["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        ["properties"];
    for field in [
        "ready",
        "dataSecretName",
        "initialization",
        "observedGeneration",
        "conditions",
    ] {
        assert!(status[field].is_object(), "status.{field}");
    }
    assert_eq!(
        status["initialization"]["properties"]["dataSecretCreated"]["type"],
        "boolean"
    );
    assert!(
        status["ready"].get("default").is_none(),
        "no default on status.ready"
    );
}

fn undocumented(node: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(props) = node["properties"].as_object() {
        for (name, prop) in props {
            let at = format!("{path}.{name}");
            let described = prop["description"]
                .as_str()
                .is_some_and(|d| !d.trim().is_empty());
            if !described
                && at != ".metadata"
                && !at.ends_with(".metadata.labels")
                && !at.ends_with(".metadata.annotations")
            {
                out.push(at.clone());
            }
            undocumented(prop, &at, out);
        }
    }
    for nested in ["items", "additionalProperties"] {
        if node[nested].is_object() {
            undocumented(&node[nested], &format!("{path}[]"), out);
        }
    }
}

#[test]
fn every_bootstrap_field_has_a_description() {
    for crd in crds_json() {
        let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        let mut missing = Vec::new();
        undocumented(root, "", &mut missing);
        assert!(
            missing.is_empty(),
            "{}: undocumented {missing:?}",
            crd["metadata"]["name"]
        );
    }
}
