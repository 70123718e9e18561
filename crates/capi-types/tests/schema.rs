//! Field-by-field comparison of the generated CRDs with the upstream CAPI v1.10 CRDs: ours
//! never invents a wire field, every upstream field is modelled (or explicitly preserved),
//! and names, scope, subresources and printer columns match.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns may panic: a panic is a test failure"
)]

#[path = "support/upstream.rs"]
mod upstream;

use std::collections::BTreeSet;

use serde_json::Value;

/// (our CRD name, upstream file)
const PAIRS: [(&str, &str); 8] = [
    (
        "clusters.cluster.x-k8s.io",
        "cluster.x-k8s.io_clusters.yaml",
    ),
    (
        "machines.cluster.x-k8s.io",
        "cluster.x-k8s.io_machines.yaml",
    ),
    (
        "machinesets.cluster.x-k8s.io",
        "cluster.x-k8s.io_machinesets.yaml",
    ),
    (
        "machinedeployments.cluster.x-k8s.io",
        "cluster.x-k8s.io_machinedeployments.yaml",
    ),
    (
        "kubeadmconfigs.bootstrap.cluster.x-k8s.io",
        "bootstrap.cluster.x-k8s.io_kubeadmconfigs.yaml",
    ),
    (
        "kubeadmconfigtemplates.bootstrap.cluster.x-k8s.io",
        "bootstrap.cluster.x-k8s.io_kubeadmconfigtemplates.yaml",
    ),
    (
        "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io",
        "controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml",
    ),
    (
        "kubeadmcontrolplanetemplates.controlplane.cluster.x-k8s.io",
        "controlplane.cluster.x-k8s.io_kubeadmcontrolplanetemplates.yaml",
    ),
];

fn ours(name: &str) -> Value {
    let crd = capi_types::crds()
        .into_iter()
        .find(|c| c.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("crds() has {name}"));
    serde_json::to_value(crd).unwrap()
}

fn upstream_crd(dir: &std::path::Path, file: &str) -> Value {
    upstream::yaml_to_json(&std::fs::read_to_string(dir.join(file)).unwrap())
}

/// Whether `path` lies strictly below a path that is preserve-unknown-fields in `paths`.
fn under_preserved(path: &str, preserved: &BTreeSet<String>) -> bool {
    preserved
        .iter()
        .any(|p| path.len() > p.len() && path.starts_with(p.as_str()) && !p.is_empty())
}

/// Paths where upstream has an `enum` and ours does not (ours accepts more, never less):
/// the v1beta2 conditions use k8s-openapi's `metav1.Condition`, whose schema has no enum.
const LOOSER_ENUMS: [&str; 1] = ["status.v1beta2.conditions[].status"];

/// Paths whose value constraints (lengths, bounds) are looser here: the v1beta2 conditions
/// use k8s-openapi's `metav1.Condition`, whose schema carries none.
const LOOSER_CONSTRAINTS: [&str; 1] = ["status.v1beta2.conditions[]"];

#[test]
fn every_property_of_our_crds_exists_upstream_with_the_same_type_enum_list_type_constraints_and_no_stricter_required()
 {
    let Some(dir) = upstream::upstream_dir("every_property_of_our_crds_exists_upstream") else {
        return;
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, file) in PAIRS {
        let our_paths = upstream::paths(&upstream::schema_of_version(&ours(name), "v1beta1"));
        let their_paths = upstream::paths(&upstream::upstream_schema(&dir, file));
        for (path, mine) in &our_paths {
            checked += 1;
            let Some(theirs) = their_paths.get(path) else {
                problems.push(format!("{name}: {path} does not exist upstream"));
                continue;
            };
            if mine.ty != theirs.ty {
                problems.push(format!(
                    "{name}: {path} is {} here, {} upstream",
                    mine.ty, theirs.ty
                ));
            }
            let looser_enum = mine.enum_values.is_none() && LOOSER_ENUMS.contains(&path.as_str());
            if mine.enum_values != theirs.enum_values && !looser_enum {
                problems.push(format!(
                    "{name}: {path} enum {:?} here, {:?} upstream",
                    mine.enum_values, theirs.enum_values
                ));
            }
            if (&mine.list_or_map_type, &mine.list_map_keys)
                != (&theirs.list_or_map_type, &theirs.list_map_keys)
            {
                problems.push(format!(
                    "{name}: {path} list/map type {:?} {:?} here, {:?} {:?} upstream",
                    mine.list_or_map_type,
                    mine.list_map_keys,
                    theirs.list_or_map_type,
                    theirs.list_map_keys
                ));
            }
            if mine.constraints != theirs.constraints
                && !LOOSER_CONSTRAINTS
                    .iter()
                    .any(|prefix| path.starts_with(prefix))
            {
                problems.push(format!(
                    "{name}: {path} constraints {:?} here, {:?} upstream",
                    mine.constraints, theirs.constraints
                ));
            }
            let extra: Vec<_> = mine.required.difference(&theirs.required).collect();
            if !extra.is_empty() {
                problems.push(format!(
                    "{name}: {path} requires {extra:?}, upstream does not"
                ));
            }
        }
    }
    assert!(checked > 1000, "only {checked} paths compared");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_upstream_property_is_modelled_or_explicitly_preserved() {
    let Some(dir) =
        upstream::upstream_dir("every_upstream_property_is_modelled_or_explicitly_preserved")
    else {
        return;
    };
    let mut problems = Vec::new();
    for (name, file) in PAIRS {
        let our_paths = upstream::paths(&upstream::schema_of_version(&ours(name), "v1beta1"));
        let preserved: BTreeSet<String> = our_paths
            .iter()
            .filter(|(_, info)| info.preserve)
            .map(|(path, _)| path.clone())
            .collect();
        let their_paths = upstream::paths(&upstream::upstream_schema(&dir, file));
        for (path, theirs) in &their_paths {
            // apiVersion, kind and metadata are handled by the API server, not the schema.
            if ["apiVersion", "kind", "metadata"].contains(&path.as_str()) {
                continue;
            }
            if let Some(mine) = our_paths.get(path).filter(|mine| !mine.preserve) {
                // Required fields upstream are required here too, so typed objects cannot
                // be built without them.
                let missing: Vec<_> = theirs.required.difference(&mine.required).collect();
                if !missing.is_empty() {
                    problems.push(format!("{name}: {path} upstream requires {missing:?}"));
                }
            } else if !our_paths.contains_key(path) && !under_preserved(path, &preserved) {
                problems.push(format!(
                    "{name}: upstream {path} is neither modelled nor preserved"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn names_scope_subresources_and_printer_columns_match_upstream() {
    let Some(dir) =
        upstream::upstream_dir("names_scope_subresources_and_printer_columns_match_upstream")
    else {
        return;
    };
    for (name, file) in PAIRS {
        let mine = ours(name);
        let theirs = upstream_crd(&dir, file);
        assert_eq!(mine["metadata"]["name"], theirs["metadata"]["name"]);
        assert_eq!(mine["spec"]["group"], theirs["spec"]["group"], "{name}");
        assert_eq!(mine["spec"]["scope"], theirs["spec"]["scope"], "{name}");
        // Upstream also lists listKind; kube derives the same `<Kind>List` implicitly.
        let mut their_names = theirs["spec"]["names"].clone();
        their_names.as_object_mut().unwrap().remove("listKind");
        assert_eq!(mine["spec"]["names"], their_names, "{name}");
        let my_version = &mine["spec"]["versions"][0];
        let their_version = theirs["spec"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "v1beta1")
            .unwrap();
        assert_eq!(my_version["name"], "v1beta1");
        assert_eq!(my_version["served"], true);
        assert_eq!(my_version["storage"], true);
        // Upstream templates spell "no subresources" as `subresources: {}`.
        let their_subresources = match &their_version["subresources"] {
            Value::Object(map) if map.is_empty() => Value::Null,
            other => other.clone(),
        };
        assert_eq!(my_version["subresources"], their_subresources, "{name}");
        let columns = |v: &Value| -> Vec<(Value, Value, Value, Value)> {
            v["additionalPrinterColumns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    (
                        c["name"].clone(),
                        c["jsonPath"].clone(),
                        c["type"].clone(),
                        c["priority"].clone(),
                    )
                })
                .collect()
        };
        assert_eq!(columns(my_version), columns(their_version), "{name}");
        assert_eq!(
            mine["metadata"]["labels"]["cluster.x-k8s.io/v1beta1"], "v1beta1",
            "{name} carries the v1beta1 contract label"
        );
    }
}

#[test]
fn missing_shared_data_skips_locally_and_fails_in_ci() {
    use upstream::{Missing, decide};
    assert_eq!(decide(true, None), Missing::Run);
    assert_eq!(decide(true, Some("true")), Missing::Run);
    assert_eq!(decide(false, None), Missing::Skip);
    assert_eq!(decide(false, Some("false")), Missing::Skip);
    assert_eq!(decide(false, Some("true")), Missing::Fail);
}
