//! Shared CRD checks: golden files (each generated CRD matches
//! `tests/golden/<group>_<plural>.yaml` byte for byte, or is rewritten under `UPDATE_GOLDEN=1`),
//! structural schemas and the API server's CRD validation.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// Compares every CRD with its golden YAML (or rewrites them under `UPDATE_GOLDEN=1`) and
/// panics naming every drifted file.
#[allow(dead_code, reason = "not every test binary uses it")]
pub(crate) fn check_crd_goldens(crds: &[CustomResourceDefinition]) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
    let update = std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1");
    let mut stale = Vec::new();
    for crd in crds {
        let name = crd.metadata.name.clone().expect("CRD has a name");
        let (plural, group) = name.split_once('.').expect("plural.group");
        let path = format!("{dir}/{group}_{plural}.yaml");
        let rendered = serde_saphyr::to_string(crd).expect("CRD renders as YAML");
        if update {
            std::fs::write(&path, &rendered).expect("golden file written");
            continue;
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}; run with UPDATE_GOLDEN=1 to create it"));
        if golden != rendered {
            stale.push(path);
        }
    }
    assert!(
        stale.is_empty(),
        "CRDs drifted from {stale:?}; review and run with UPDATE_GOLDEN=1"
    );
}

/// Panics naming the CRD unless every one is structural and passes the API server's CRD
/// validation (capp-testenv's port of apiextensions' rules).
#[allow(dead_code, reason = "not every test binary uses it")]
pub(crate) fn assert_structural_and_valid(crds: &[serde_json::Value]) {
    for crd in crds {
        if let Err(violations) = capp_testenv::schema::structural::check_crd(crd) {
            let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!(
                "{} is not structural:\n{}",
                crd["metadata"]["name"],
                text.join("\n")
            );
        }
        if let Err(causes) = capp_testenv::schema::validate_crd(crd) {
            let text: Vec<String> = causes.iter().map(ToString::to_string).collect();
            panic!("{} rejected: {text:#?}", crd["metadata"]["name"]);
        }
    }
}
