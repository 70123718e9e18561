//! Golden files of every generated CRD (byte for byte; `UPDATE_GOLDEN=1` rewrites them) and
//! the structural-schema check of each one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns may panic: a panic is a test failure"
)]

use std::path::PathBuf;

fn golden_path(crd_name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"))
        .join(format!("{crd_name}.yaml"))
}

#[test]
fn generated_crds_match_their_golden_files() {
    let update = std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1");
    let mut drifted = Vec::new();
    let crds = capi_types::crds();
    assert_eq!(crds.len(), 8);
    for crd in crds {
        let name = crd.metadata.name.clone().expect("CRD name");
        let yaml = serde_saphyr::to_string(&crd).expect("CRD serialises to YAML");
        let path = golden_path(&name);
        if update {
            std::fs::write(&path, &yaml).expect("golden file is writable");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(golden) if golden == yaml => {}
            Ok(_) => drifted.push(format!("{name}: differs from {}", path.display())),
            Err(e) => drifted.push(format!("{name}: cannot read {}: {e}", path.display())),
        }
    }
    assert!(
        drifted.is_empty(),
        "generated CRDs drifted from the golden files (rerun with UPDATE_GOLDEN=1 and review the diff): {drifted:#?}"
    );
}

#[test]
fn golden_files_parse_back_into_the_same_crds() {
    for crd in capi_types::crds() {
        let name = crd.metadata.name.clone().unwrap();
        let Ok(text) = std::fs::read_to_string(golden_path(&name)) else {
            panic!("{name}: golden file missing (run with UPDATE_GOLDEN=1)");
        };
        let parsed: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(parsed, serde_json::to_value(&crd).unwrap(), "{name}");
    }
}

#[test]
fn every_generated_crd_is_structural() {
    for crd in capi_types::crds() {
        let name = crd.metadata.name.clone().unwrap();
        let json = serde_json::to_value(&crd).unwrap();
        if let Err(violations) = capi_types::structural::check_crd(&json) {
            let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!("{name} is not structural: {list:#?}");
        }
    }
}

#[test]
fn the_structural_check_would_catch_a_broken_generated_crd() {
    // Guard against a checker that accepts anything: break one of our CRDs the way an
    // `Option<UnitEnum>` would (null inside enum, no nullable) and drop a type.
    let crd = capi_types::machine::Machine::crd_json();
    let mut broken = crd.clone();
    let phase = &mut broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        ["properties"]["phase"];
    phase["enum"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::Value::Null);
    phase.as_object_mut().unwrap().remove("nullable");
    let infra = &mut broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]["infrastructureRef"];
    infra.as_object_mut().unwrap().remove("type");
    assert!(capi_types::structural::check_crd(&crd).is_ok());
    let violations = capi_types::structural::check_crd(&broken).unwrap_err();
    assert!(violations.len() >= 2, "{violations:?}");
}

trait CrdJson {
    fn crd_json() -> serde_json::Value;
}

impl<K: kube::CustomResourceExt> CrdJson for K {
    fn crd_json() -> serde_json::Value {
        serde_json::to_value(K::crd()).unwrap()
    }
}
