//! Wire compatibility with the Go provider (cluster-api-provider-packet v0.9.0): every
//! property path of its CRDs exists in ours with the same type, format, enum values, default
//! and no stricter required-ness; names, scope and printer columns carry over.
//!
//! Reads `../shared/specs/capp-v0.9.0/`; skips loudly without it, fails under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a test failure with its message"
)]

#[path = "support/shared.rs"]
mod shared;

use std::collections::BTreeSet;

use serde_json::Value;

/// Differences from the Go schema that are deliberate, each with its reason. Paths are
/// schema paths below `openAPIV3Schema`, `[]` standing for array items.
/// `<path> required` names a property that is required in ours but not in Go.
const DOCUMENTED_DIFFERENCES: &[(&str, &str)] = &[(
    "status.addresses[].type",
    "ours has the enum of Cluster API's MachineAddressType (Hostname, ExternalIP, \
         InternalIP, ExternalDNS, InternalDNS): the Go field was unconstrained, but Cluster API \
         copies the value into Machine.status.addresses, whose CRD has exactly this enum, and \
         only the provider writes it",
)];

fn documented(path: &str) -> bool {
    DOCUMENTED_DIFFERENCES.iter().any(|(p, _)| *p == path)
}

fn load_go_crd(file: &str) -> Option<Value> {
    let dir = shared::specs_dir("capp-v0.9.0")?;
    let text = std::fs::read_to_string(dir.join(file)).expect("Go CRD readable");
    Some(serde_saphyr::from_str(&text).expect("Go CRD is YAML"))
}

fn ours(plural: &str) -> Value {
    capp_api::crds()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .find(|c| c["spec"]["names"]["plural"] == plural)
        .unwrap_or_else(|| panic!("no CRD {plural}"))
}

fn schema(crd: &Value) -> &Value {
    &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
}

fn str_set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect()
}

/// Walks the Go schema node `go` against ours, collecting every incompatibility.
fn compare(go: &Value, ours: &Value, path: &str, problems: &mut Vec<String>, checked: &mut usize) {
    *checked += 1;
    let at = if path.is_empty() { "<root>" } else { path };
    if go["type"] != ours["type"] {
        problems.push(format!(
            "{at}: type {} in Go, {} in ours",
            go["type"], ours["type"]
        ));
    }
    if go.get("format").is_some() && go.get("format") != ours.get("format") {
        problems.push(format!(
            "{at}: format {} in Go, {} in ours",
            go["format"], ours["format"]
        ));
    }
    let (go_enum, our_enum) = (str_set(&go["enum"]), str_set(&ours["enum"]));
    if go_enum != our_enum && !documented(path) {
        problems.push(format!(
            "{at}: enum {go_enum:?} in Go, {our_enum:?} in ours"
        ));
    }
    if go.get("default") != ours.get("default") {
        problems.push(format!(
            "{at}: default {:?} in Go, {:?} in ours",
            go.get("default"),
            ours.get("default")
        ));
    }
    let (go_req, our_req) = (str_set(&go["required"]), str_set(&ours["required"]));
    for stricter in our_req.difference(&go_req) {
        let key = if path.is_empty() {
            format!("{stricter} required")
        } else {
            format!("{path}.{stricter} required")
        };
        if documented(&key) {
            continue;
        }
        problems.push(format!(
            "{at}: {stricter} is required in ours but optional in Go"
        ));
    }
    if let Some(props) = go["properties"].as_object() {
        for (name, go_prop) in props {
            let sub = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            match ours["properties"].get(name) {
                Some(our_prop) => compare(go_prop, our_prop, &sub, problems, checked),
                None => problems.push(format!("{sub}: missing in ours")),
            }
        }
    }
    for nested in ["items", "additionalProperties"] {
        if go[nested].is_object() {
            let sub = format!("{path}[]");
            if ours[nested].is_object() {
                compare(&go[nested], &ours[nested], &sub, problems, checked);
            } else {
                problems.push(format!("{sub}: {nested} missing in ours"));
            }
        }
    }
}

fn assert_superset(go_file: &str, plural: &str) {
    let Some(go) = load_go_crd(go_file) else {
        return;
    };
    let ours = ours(plural);
    let mut problems = Vec::new();
    let mut checked = 0;
    compare(schema(&go), schema(&ours), "", &mut problems, &mut checked);
    assert!(checked > 10, "walked only {checked} nodes of {go_file}");
    assert!(
        problems.is_empty(),
        "{plural} is not a superset of {go_file}:\n{}",
        problems.join("\n")
    );

    for key in ["group", "scope"] {
        assert_eq!(go["spec"][key], ours["spec"][key], "{plural} {key}");
    }
    for key in ["kind", "listKind", "plural", "singular"] {
        assert_eq!(
            go["spec"]["names"][key], ours["spec"]["names"][key],
            "{plural} names.{key}"
        );
    }
    for key in ["shortNames", "categories"] {
        let (g, o) = (
            str_set(&go["spec"]["names"][key]),
            str_set(&ours["spec"]["names"][key]),
        );
        assert!(
            g.is_subset(&o),
            "{plural} names.{key}: {g:?} not within {o:?}"
        );
    }
    let (gv, ov) = (&go["spec"]["versions"][0], &ours["spec"]["versions"][0]);
    for key in ["name", "served", "storage", "subresources"] {
        assert_eq!(gv[key], ov[key], "{plural} version {key}");
    }
}

#[test]
fn packet_cluster_is_a_superset_of_the_go_crd() {
    assert_superset(
        "infrastructure.cluster.x-k8s.io_packetclusters.yaml",
        "packetclusters",
    );
}

#[test]
fn packet_machine_is_a_superset_of_the_go_crd() {
    assert_superset(
        "infrastructure.cluster.x-k8s.io_packetmachines.yaml",
        "packetmachines",
    );
}

#[test]
fn packet_machine_template_is_a_superset_of_the_go_crd() {
    assert_superset(
        "infrastructure.cluster.x-k8s.io_packetmachinetemplates.yaml",
        "packetmachinetemplates",
    );
}

#[test]
fn packet_cluster_template_clones_a_superset_of_the_go_packet_cluster_spec() {
    let Some(go) = load_go_crd("infrastructure.cluster.x-k8s.io_packetclusters.yaml") else {
        return;
    };
    let ours = ours("packetclustertemplates");
    let mut problems = Vec::new();
    let mut checked = 0;
    compare(
        &schema(&go)["properties"]["spec"],
        &schema(&ours)["properties"]["spec"]["properties"]["template"]["properties"]["spec"],
        "spec.template.spec",
        &mut problems,
        &mut checked,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn go_printer_columns_are_kept_and_the_broken_state_column_is_fixed() {
    for (file, plural) in [
        (
            "infrastructure.cluster.x-k8s.io_packetclusters.yaml",
            "packetclusters",
        ),
        (
            "infrastructure.cluster.x-k8s.io_packetmachines.yaml",
            "packetmachines",
        ),
    ] {
        let Some(go) = load_go_crd(file) else { return };
        let ours = ours(plural);
        let our_columns = ours["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap();
        for column in go["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap()
        {
            let name = &column["name"];
            let mine = our_columns
                .iter()
                .find(|c| &c["name"] == name)
                .unwrap_or_else(|| panic!("{plural}: column {name} missing"));
            if column["jsonPath"] == ".status.instanceState" {
                assert_eq!(mine["jsonPath"], ".status.instanceStatus");
            } else {
                assert_eq!(
                    mine["jsonPath"], column["jsonPath"],
                    "{plural} column {name}"
                );
            }
        }
    }
}

#[test]
fn the_superset_walk_detects_a_changed_enum_and_a_missing_field() {
    // Guards the walk itself: a Go schema with an extra enum value and an extra field.
    let go = serde_json::json!({
        "type": "object",
        "properties": {
            "mode": {"type": "string", "enum": ["A", "B", "C"], "default": "A"},
            "gone": {"type": "string"}
        },
        "required": ["mode"]
    });
    let ours = serde_json::json!({
        "type": "object",
        "properties": {"mode": {"type": "string", "enum": ["A", "B"], "default": "B"}},
        "required": ["mode", "extra"]
    });
    let mut problems = Vec::new();
    let mut checked = 0;
    compare(&go, &ours, "", &mut problems, &mut checked);
    let text = problems.join("\n");
    assert!(text.contains("mode: enum"), "{text}");
    assert!(text.contains("mode: default"), "{text}");
    assert!(text.contains("gone: missing in ours"), "{text}");
    assert!(text.contains("extra is required in ours"), "{text}");
}
