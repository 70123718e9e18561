//! The generated CRDs: golden YAML, structural-schema rules, names and labels Cluster API
//! relies on, printer columns that point at real fields, and a description on every field.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a test failure with its message"
)]

#[path = "support/crd_checks.rs"]
mod crd_checks;

use capp_api::crds;
use capp_testenv::schema::structural;
use serde_json::Value;

fn crds_json() -> Vec<Value> {
    crds()
        .iter()
        .map(|c| serde_json::to_value(c).expect("CRD serialises"))
        .collect()
}

fn crd_json(plural: &str) -> Value {
    crds_json()
        .into_iter()
        .find(|c| c["spec"]["names"]["plural"] == plural)
        .unwrap_or_else(|| panic!("no CRD {plural}"))
}

fn root_schema(crd: &Value) -> &Value {
    &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
}

#[test]
fn every_generated_crd_matches_its_golden_yaml_byte_for_byte() {
    crd_checks::check_crd_goldens(&crds());
}

#[test]
fn every_generated_crd_is_structural() {
    for crd in crds_json() {
        if let Err(violations) = structural::check_crd(&crd) {
            let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!(
                "{} is not structural:\n{}",
                crd["metadata"]["name"],
                text.join("\n")
            );
        }
    }
}

#[test]
fn the_structural_check_would_notice_a_broken_crd() {
    // Guards the test above against checking nothing: the same CRD with one untyped field.
    let mut crd = crd_json("packetmachines");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["os"]
        .as_object_mut()
        .expect("os schema")
        .remove("type");
    let violations = structural::check_crd(&crd).expect_err("untyped field is rejected");
    assert_eq!(
        violations[0].path,
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[os].type"
    );
}

#[test]
fn crds_carry_the_names_labels_and_subresources_cluster_api_expects() {
    let expected = [
        ("packetclusters", "PacketCluster", "pcl", true),
        ("packetmachines", "PacketMachine", "pma", true),
        (
            "packetmachinetemplates",
            "PacketMachineTemplate",
            "pmt",
            false,
        ),
        (
            "packetclustertemplates",
            "PacketClusterTemplate",
            "pclt",
            false,
        ),
    ];
    for (plural, kind, short, has_status) in expected {
        let crd = crd_json(plural);
        assert_eq!(
            crd["metadata"]["name"],
            format!("{plural}.infrastructure.cluster.x-k8s.io"),
            "CRD name must be CalculateCRDName(group, kind)"
        );
        assert_eq!(
            crd["metadata"]["labels"]["cluster.x-k8s.io/v1beta1"],
            "v1beta1"
        );
        let names = &crd["spec"]["names"];
        assert_eq!(names["kind"], kind);
        assert_eq!(names["listKind"], format!("{kind}List"));
        assert_eq!(names["shortNames"], serde_json::json!([short]));
        assert_eq!(names["categories"], serde_json::json!(["cluster-api"]));
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1beta1");
        assert_eq!(version["served"], true);
        assert_eq!(version["storage"], true);
        assert_eq!(
            version["subresources"]["status"].is_object(),
            has_status,
            "{kind} status"
        );
        let root = root_schema(&crd);
        assert_eq!(root["properties"]["apiVersion"]["type"], "string");
        assert_eq!(root["properties"]["kind"]["type"], "string");
        assert_eq!(root["properties"]["metadata"]["type"], "object");
    }
}

/// Resolves a simple `.a.b.c` JSON path against a CRD schema.
fn schema_at<'a>(root: &'a Value, json_path: &str) -> Option<&'a Value> {
    json_path
        .trim_start_matches('.')
        .split('.')
        .try_fold(root, |node, part| node["properties"].get(part))
}

#[test]
fn printer_columns_point_at_fields_that_exist() {
    for crd in crds_json() {
        let root = root_schema(&crd);
        for column in crd["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap()
        {
            let path = column["jsonPath"].as_str().unwrap();
            if path.starts_with(".metadata.") {
                continue;
            }
            assert!(
                schema_at(root, path).is_some(),
                "{} column {} points at missing {path}",
                crd["metadata"]["name"],
                column["name"]
            );
        }
    }
}

#[test]
fn the_machine_state_column_shows_the_instance_status() {
    // The Go provider's column read .status.instanceState, which does not exist.
    let crd = crd_json("packetmachines");
    let columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap();
    let state = columns
        .iter()
        .find(|c| c["name"] == "State")
        .expect("State column");
    assert_eq!(state["jsonPath"], ".status.instanceStatus");
}

/// Collects paths of properties without a description.
fn undocumented(node: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(props) = node["properties"].as_object() {
        for (name, prop) in props {
            let at = format!("{path}.{name}");
            let described = prop["description"]
                .as_str()
                .is_some_and(|d| !d.trim().is_empty());
            if !described && at != ".metadata" {
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
fn every_field_has_a_description() {
    for crd in crds_json() {
        let root = root_schema(&crd);
        assert!(
            root["description"].as_str().is_some_and(|d| d.len() > 20),
            "kind description"
        );
        let mut missing = Vec::new();
        undocumented(root, "", &mut missing);
        assert!(
            missing.is_empty(),
            "{}: undocumented {missing:?}",
            crd["metadata"]["name"]
        );
    }
}

fn rules(node: &Value) -> Vec<(&str, &str)> {
    node["x-kubernetes-validations"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| (r["rule"].as_str().unwrap(), r["message"].as_str().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn immutability_is_declared_where_the_go_webhooks_enforced_it() {
    let cluster = crd_json("packetclusters");
    let spec = &root_schema(&cluster)["properties"]["spec"];
    assert_eq!(
        rules(&spec["properties"]["projectID"]),
        [("self == oldSelf", "projectID is immutable")]
    );
    assert_eq!(
        rules(&spec["properties"]["vipManager"]),
        [("self == oldSelf", "vipManager is immutable")]
    );
    assert!(
        rules(&spec["properties"]["metro"]).is_empty(),
        "metro stays mutable"
    );

    let machine = crd_json("packetmachines");
    let spec_rules = rules(&root_schema(&machine)["properties"]["spec"]);
    assert_eq!(spec_rules.len(), 1);
    assert!(spec_rules[0].0.contains("oldSelf"));

    // Templates: no transition rule anywhere (neither on spec.template.spec nor the embedded
    // PacketCluster/PacketMachine rules); the admission policy (capp_api::policy) keeps them
    // immutable and lets Cluster API's topology dry run through.
    for plural in ["packetmachinetemplates", "packetclustertemplates"] {
        let crd = crd_json(plural);
        let text = serde_json::to_string(&root_schema(&crd)).unwrap();
        assert!(!text.contains("oldSelf"), "{plural} has a transition rule");
        let template = &root_schema(&crd)["properties"]["spec"]["properties"]["template"];
        assert!(
            template["properties"]["spec"]["properties"]
                .as_object()
                .is_some_and(|p| p.len() > 3),
            "{plural}: the embedded spec schema is still there"
        );
    }
}

#[test]
fn vip_manager_keeps_the_go_enum_and_default() {
    let crd = crd_json("packetclusters");
    let vip = &root_schema(&crd)["properties"]["spec"]["properties"]["vipManager"];
    assert_eq!(vip["default"], "CPEM");
    assert_eq!(vip["enum"], serde_json::json!(["CPEM", "KUBE_VIP", "EMLB"]));
}

#[test]
fn no_schema_node_keeps_unknown_fields_and_spec_is_not_required() {
    // Every field is typed, so the API server prunes what it does not know; and, as in the Go
    // CRDs, an object without `spec` is accepted.
    fn preserving(node: &Value, path: &str, out: &mut Vec<String>) {
        if node.get("x-kubernetes-preserve-unknown-fields").is_some() {
            out.push(path.to_owned());
        }
        for (name, prop) in node["properties"].as_object().into_iter().flatten() {
            preserving(prop, &format!("{path}.{name}"), out);
        }
        for nested in ["items", "additionalProperties"] {
            if node[nested].is_object() {
                preserving(&node[nested], &format!("{path}[]"), out);
            }
        }
    }
    for crd in crds_json() {
        let root = root_schema(&crd);
        let mut found = Vec::new();
        preserving(root, "", &mut found);
        assert!(found.is_empty(), "{}: {found:?}", crd["metadata"]["name"]);
        assert!(
            root.get("required").is_none(),
            "{}: root requires {}",
            crd["metadata"]["name"],
            root["required"]
        );
    }
}

#[test]
fn an_api_server_style_crd_validation_accepts_every_generated_crd() {
    // capp-testenv's apiextensions validation: names, versions, printer columns, and each
    // schema compiled (structural, patterns, defaults, CEL rules compile).
    for crd in crds_json() {
        if let Err(causes) = capp_testenv::schema::validate_crd(&crd) {
            let text: Vec<String> = causes.iter().map(ToString::to_string).collect();
            panic!("{} rejected: {text:#?}", crd["metadata"]["name"]);
        }
    }
}

#[test]
fn the_cluster_api_crds_from_capi_types_pass_the_same_validation() {
    // capi-types cannot depend on capp-testenv (which depends on it), so its CRDs, which
    // test environments install next to ours, are checked here.
    let all = capi_types::crds();
    assert_eq!(all.len(), 8);
    for crd in all {
        let json = serde_json::to_value(&crd).unwrap();
        if let Err(causes) = capp_testenv::schema::validate_crd(&json) {
            let text: Vec<String> = causes.iter().map(ToString::to_string).collect();
            panic!("{} rejected: {text:#?}", json["metadata"]["name"]);
        }
    }
}
