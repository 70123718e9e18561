//! The CRDs serving v1beta1 and v1beta2: the v1beta1 entry is exactly today's CRD version,
//! v1beta2 is stored, both contract labels and the webhook conversion are set, and the
//! result passes the structural and apiextensions checks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a test failure with its message"
)]

#[path = "support/crd_checks.rs"]
mod crd_checks;

use capp_api::v1beta2::crds_multiversion;
use k8s_openapi::ByteString;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::WebhookClientConfig;
use serde_json::{Value, json};

fn client_config() -> WebhookClientConfig {
    WebhookClientConfig {
        url: Some("https://127.0.0.1:9443/convert".into()),
        ca_bundle: Some(ByteString(b"-----BEGIN CERTIFICATE-----\n".to_vec())),
        service: None,
    }
}

fn multi() -> Vec<Value> {
    crds_multiversion(&client_config())
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect()
}

fn version<'a>(crd: &'a Value, name: &str) -> &'a Value {
    crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("{} has no {name}", crd["metadata"]["name"]))
}

#[test]
fn the_v1beta1_version_is_byte_identical_to_the_single_version_crds() {
    let single = capp_api::crds();
    let multi = crds_multiversion(&client_config());
    assert_eq!(multi.len(), single.len());
    for (one, both) in single.iter().zip(&multi) {
        assert_eq!(both.metadata.name, one.metadata.name);
        assert_eq!(both.spec.names, one.spec.names);
        let mut v1beta1 = both.spec.versions[0].clone();
        assert!(!v1beta1.storage, "v1beta1 is served, not stored");
        v1beta1.storage = true;
        assert_eq!(
            serde_saphyr::to_string(&v1beta1).unwrap(),
            serde_saphyr::to_string(&one.spec.versions[0]).unwrap(),
            "{:?}",
            one.metadata.name
        );
    }
}

#[test]
fn v1beta2_is_the_storage_version_with_both_contract_labels_and_a_webhook() {
    for crd in multi() {
        let versions: Vec<(&str, bool, bool)> = crd["spec"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap(),
                    v["served"].as_bool().unwrap(),
                    v["storage"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            versions,
            [("v1beta1", true, false), ("v1beta2", true, true)]
        );
        assert_eq!(
            crd["metadata"]["labels"]["cluster.x-k8s.io/v1beta1"],
            "v1beta1"
        );
        assert_eq!(
            crd["metadata"]["labels"]["cluster.x-k8s.io/v1beta2"],
            "v1beta2"
        );
        assert_eq!(
            crd["spec"]["conversion"],
            json!({"strategy": "Webhook", "webhook": {
                "clientConfig": {"url": "https://127.0.0.1:9443/convert",
                                 "caBundle": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
                "conversionReviewVersions": ["v1"]}})
        );
    }
}

#[test]
fn the_v1beta2_status_has_the_contract_shape() {
    let crds = multi();
    for plural in ["packetclusters", "packetmachines"] {
        let crd = crds
            .iter()
            .find(|c| c["spec"]["names"]["plural"] == plural)
            .unwrap();
        let status = &version(crd, "v1beta2")["schema"]["openAPIV3Schema"]["properties"]["status"]
            ["properties"];
        for gone in ["ready", "failureReason", "failureMessage", "v1beta2"] {
            assert!(
                status.get(gone).is_none(),
                "{plural} v1beta2 status has {gone}"
            );
        }
        assert_eq!(
            status["initialization"]["properties"]["provisioned"]["type"],
            "boolean"
        );
        assert_eq!(
            status["conditions"]["x-kubernetes-list-map-keys"],
            json!(["type"])
        );
        assert!(
            status["conditions"]["items"]["required"]
                .as_array()
                .unwrap()
                .contains(&json!("lastTransitionTime"))
        );
        let old = &status["deprecated"]["properties"]["v1beta1"]["properties"];
        for kept in ["conditions", "failureReason", "failureMessage"] {
            assert!(
                old.get(kept).is_some(),
                "{plural}: deprecated.v1beta1.{kept}"
            );
        }
    }
    let cluster = crds
        .iter()
        .find(|c| c["spec"]["names"]["plural"] == "packetclusters")
        .unwrap();
    let fds = &version(cluster, "v1beta2")["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
        ["failureDomains"];
    assert_eq!(fds["type"], "array");
    assert_eq!(fds["x-kubernetes-list-map-keys"], json!(["name"]));
    assert_eq!(fds["items"]["required"], json!(["name"]));
}

#[test]
fn the_v1beta2_spec_is_the_v1beta1_spec_but_for_a_plain_provider_id() {
    for crd in multi() {
        let spec = |name: &str| {
            let mut s =
                version(&crd, name)["schema"]["openAPIV3Schema"]["properties"]["spec"].clone();
            // Only the machine's providerID documents a different (plain string) shape.
            for pointer in [
                "/properties/providerID",
                "/properties/template/properties/spec/properties/providerID",
            ] {
                if let Some(provider_id) = s.pointer_mut(pointer) {
                    assert_eq!(provider_id["type"], "string");
                    let provider_id = provider_id.as_object_mut().unwrap();
                    provider_id.remove("description");
                    provider_id.remove("nullable");
                }
            }
            s
        };
        assert_eq!(
            spec("v1beta1"),
            spec("v1beta2"),
            "{}",
            crd["metadata"]["name"]
        );
    }
}

#[test]
fn the_multiversion_crds_are_structural_and_pass_apiextensions_validation() {
    crd_checks::assert_structural_and_valid(&multi());
}

#[test]
fn every_v1beta2_printer_column_points_at_a_field_that_exists() {
    for crd in multi() {
        let v = version(&crd, "v1beta2");
        let root = &v["schema"]["openAPIV3Schema"];
        for column in v["additionalPrinterColumns"].as_array().unwrap() {
            let path = column["jsonPath"].as_str().unwrap();
            if path.starts_with(".metadata.") {
                continue;
            }
            // `[?(@.type=="Ready")]` filters list items: drop the filter, step into items.
            let mut plain = String::new();
            let mut depth = 0;
            for c in path.chars() {
                match c {
                    '[' => {
                        depth += 1;
                        if depth == 1 {
                            plain.push_str("[]");
                        }
                    }
                    ']' => depth -= 1,
                    _ if depth == 0 => plain.push(c),
                    _ => {}
                }
            }
            let mut node = root;
            for part in plain.trim_start_matches('.').split('.') {
                node = &node["properties"][part.trim_end_matches("[]")];
                if part.ends_with("[]") {
                    assert_eq!(node["type"], "array", "{path}");
                    node = &node["items"];
                }
            }
            assert!(
                node.is_object(),
                "{}: column {path} points nowhere",
                crd["metadata"]["name"]
            );
        }
    }
}

#[test]
fn the_v1beta2_only_crds_are_the_v1beta2_version_without_conversion() {
    let only: Vec<Value> = capp_api::v1beta2::crds_v1beta2_only()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    let multi = multi();
    assert_eq!(only.len(), multi.len());
    for (one, both) in only.iter().zip(&multi) {
        assert_eq!(
            one["metadata"], both["metadata"],
            "same name and both labels"
        );
        assert_eq!(
            one["spec"]["versions"],
            json!([version(both, "v1beta2")]),
            "{}: only v1beta2, exactly as in the two-version CRD",
            one["metadata"]["name"]
        );
        assert!(one["spec"].get("conversion").is_none());
    }
    crd_checks::assert_structural_and_valid(&only);
}
