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
        if let Err(violations) = capp_testenv::schema::structural::check_crd(&json) {
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
    assert!(capp_testenv::schema::structural::check_crd(&crd).is_ok());
    let violations = capp_testenv::schema::structural::check_crd(&broken).unwrap_err();
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

/// Collects the paths of properties without a description.
fn undocumented(node: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    if let Some(props) = node["properties"].as_object() {
        for (name, prop) in props {
            let at = format!("{path}.{name}");
            if prop["description"]
                .as_str()
                .is_none_or(|d| d.trim().is_empty())
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
    for list in ["allOf", "anyOf", "oneOf"] {
        for (i, branch) in node[list].as_array().into_iter().flatten().enumerate() {
            undocumented(branch, &format!("{path}<{list}{i}>"), out);
        }
    }
}

fn root_schema(crd: &serde_json::Value) -> &serde_json::Value {
    &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
}

#[test]
fn every_field_of_every_generated_crd_has_a_description() {
    let mut missing = Vec::new();
    for crd in capi_types::crds() {
        let name = crd.metadata.name.clone().unwrap();
        let json = serde_json::to_value(&crd).unwrap();
        let root = root_schema(&json);
        if root["description"].as_str().is_none_or(str::is_empty) {
            missing.push(format!("{name}: <root>"));
        }
        let mut here = Vec::new();
        undocumented(root, "", &mut here);
        missing.extend(here.into_iter().map(|p| format!("{name}: {p}")));
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
}

#[test]
fn the_description_check_notices_a_nested_field_without_one() {
    let schema = serde_json::json!({"properties": {"spec": {"description": "d", "properties": {
        "items": {"description": "d", "items": {"properties": {"x": {"type": "string"}}}}
    }}}});
    let mut missing = Vec::new();
    undocumented(&schema, "", &mut missing);
    assert_eq!(missing, [".spec.items[].x"]);
}

#[test]
fn printer_columns_point_at_fields_that_exist() {
    for crd in capi_types::crds() {
        let name = crd.metadata.name.clone().unwrap();
        let json = serde_json::to_value(&crd).unwrap();
        let root = root_schema(&json);
        for column in json["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let path = column["jsonPath"].as_str().unwrap();
            if path.starts_with(".metadata.") {
                continue;
            }
            let found = path
                .trim_start_matches('.')
                .split('.')
                .try_fold(root, |node, part| node["properties"].get(part));
            assert!(
                found.is_some(),
                "{name}: column {} points at missing {path}",
                column["name"]
            );
        }
    }
}

/// Collects the paths of nodes marked `x-kubernetes-preserve-unknown-fields: true`.
fn preserved(node: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    if node["x-kubernetes-preserve-unknown-fields"] == true {
        out.push(path.to_owned());
    }
    for (name, prop) in node["properties"].as_object().into_iter().flatten() {
        preserved(prop, &format!("{path}.{name}"), out);
    }
    for nested in ["items", "additionalProperties"] {
        if node[nested].is_object() {
            preserved(&node[nested], &format!("{path}[]"), out);
        }
    }
}

#[test]
fn unknown_fields_are_preserved_only_where_documented() {
    // The free-form places listed in the crate docs: ClusterClass variable values (free-form
    // upstream too), `extraEnvs[].valueFrom` and `discovery.file.kubeConfig` (kept verbatim).
    let documented = [
        "variables[].value",
        "variables.overrides[].value",
        "extraEnvs[].valueFrom",
        "joinConfiguration.discovery.file.kubeConfig",
    ];
    let mut all = Vec::new();
    for crd in capi_types::crds() {
        let json = serde_json::to_value(&crd).unwrap();
        let mut here = Vec::new();
        preserved(root_schema(&json), "", &mut here);
        all.extend(here);
    }
    assert!(
        all.len() >= 20,
        "expected the documented places, found {all:?}"
    );
    let stray: Vec<_> = all
        .iter()
        .filter(|p| !documented.iter().any(|d| p.ends_with(d)))
        .collect();
    assert!(
        stray.is_empty(),
        "undocumented preserve-unknown-fields: {stray:?}"
    );
}
