use serde_json::{Value, json};

use super::*;

const NOW: &str = "2026-11-21T08:00:00Z";

fn opts(manager: &str) -> ApplyOptions<'static> {
    ApplyOptions {
        manager: manager.to_owned(),
        now: NOW.to_owned(),
        status_subresource: true,
        ..ApplyOptions::default()
    }
}

fn cm(data: Value) -> Value {
    let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}});
    obj["data"] = data;
    obj
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["manager"].as_str().unwrap().to_owned(),
                e["operation"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn json_patch_applies_operations_and_fails_a_false_test() {
    let doc = json!({"metadata": {"finalizers": ["a"]}});
    let ok = json_patch(
        &doc,
        &json!([
            {"op": "test", "path": "/metadata/finalizers", "value": ["a"]},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "b"}
        ]),
    )
    .unwrap();
    assert_eq!(ok, json!({"metadata": {"finalizers": ["a", "b"]}}));
    let err = json_patch(
        &doc,
        &json!([{"op": "test", "path": "/metadata/finalizers", "value": null}]),
    );
    assert!(matches!(err, Err(PatchError::Failed(_))), "{err:?}");
    assert!(matches!(
        json_patch(&doc, &json!({"op": "add"})),
        Err(PatchError::Invalid(_))
    ));
    let unknown_op = json_patch(&doc, &json!([{"op": "frobnicate", "path": "/a"}]));
    assert!(
        matches!(unknown_op, Err(PatchError::Invalid(_))),
        "{unknown_op:?}"
    );
}

#[test]
fn json_patch_test_of_null_succeeds_on_a_missing_path_as_kube_finalizer_expects() {
    let doc = json!({"metadata": {"name": "m"}});
    let out = json_patch(
        &doc,
        &json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}
        ]),
    )
    .unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["f"]));
    // Once the path exists, the same test fails: that is the helper's optimistic lock.
    let again = json_patch(
        &out,
        &json!([{"op": "test", "path": "/metadata/finalizers", "value": null}]),
    );
    assert!(matches!(again, Err(PatchError::Failed(_))), "{again:?}");
}

#[test]
fn merge_patch_sets_and_removes_fields() {
    let doc = json!({"spec": {"a": 1, "b": {"c": 2}}, "list": [1, 2]});
    let out = merge_patch(
        &doc,
        &json!({"spec": {"a": null, "b": {"d": 3}}, "list": [3]}),
    );
    assert_eq!(out, json!({"spec": {"b": {"c": 2, "d": 3}}, "list": [3]}));
}

#[test]
fn strategic_merge_merges_containers_by_name_and_finalizers_as_a_set() {
    let doc = json!({
        "metadata": {"finalizers": ["a"]},
        "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "side:1"}
        ], "tolerations": [{"key": "x"}]}}}
    });
    let patch = json!({
        "metadata": {"finalizers": ["b", "a"]},
        "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:2"},
            {"name": "sidecar", "$patch": "delete"},
            {"name": "new", "image": "new:1"}
        ], "tolerations": [{"key": "y"}]}}}
    });
    let out = strategic_merge_patch(&doc, &patch, "apps/v1", "Deployment").unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        containers,
        &json!([
            {"name": "app", "image": "app:2", "ports": [{"containerPort": 80}]},
            {"name": "new", "image": "new:1"}
        ])
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "y"}]),
        "no merge key: replaced"
    );
}

#[test]
fn strategic_merge_honours_replace_retain_keys_and_primitive_deletes() {
    let doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y"]},
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
    let patch = json!({
        "metadata": {"labels": {"$patch": "replace", "c": "3"}, "$deleteFromPrimitiveList/finalizers": ["x"]},
        "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}
    });
    let out = strategic_merge_patch(&doc, &patch, "apps/v1", "Deployment").unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"c": "3"}));
    assert_eq!(out["metadata"]["finalizers"], json!(["y"]));
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    assert!(strategic_merge_patch(&doc, &json!([1]), "v1", "ConfigMap").is_err());
}

#[test]
fn apply_creates_and_records_the_applier_as_owner_of_every_applied_field() {
    let out = apply(None, &cm(json!({"a": "1", "b": "2"})), &opts("kubectl")).unwrap();
    assert_eq!(out["data"], json!({"a": "1", "b": "2"}));
    assert_eq!(out["metadata"]["name"], "c");
    let mf = &out["metadata"]["managedFields"][0];
    assert_eq!(mf["manager"], "kubectl");
    assert_eq!(mf["operation"], "Apply");
    assert_eq!(mf["fieldsType"], "FieldsV1");
    assert_eq!(mf["time"], NOW);
    assert_eq!(mf["fieldsV1"], json!({"f:data": {"f:a": {}, "f:b": {}}}));
}

#[test]
fn apply_removes_owned_fields_the_applier_dropped_but_keeps_others() {
    let live = apply(None, &cm(json!({"a": "1", "b": "2"})), &opts("kubectl")).unwrap();
    // Another writer adds c with a plain update.
    let mut updated = live.clone();
    updated["data"]["c"] = json!("3");
    record_update(Some(&live), &mut updated, "controller", None, NOW, None);
    let out = apply(Some(&updated), &cm(json!({"a": "1"})), &opts("kubectl")).unwrap();
    assert_eq!(out["data"], json!({"a": "1", "c": "3"}));
    assert_eq!(
        managers(&out),
        vec![
            ("kubectl".to_owned(), "Apply".to_owned()),
            ("controller".to_owned(), "Update".to_owned())
        ]
    );
}

#[test]
fn apply_conflicts_on_a_field_another_manager_owns_unless_forced() {
    let live = apply(None, &cm(json!({"a": "1"})), &opts("alice")).unwrap();
    let err = apply(Some(&live), &cm(json!({"a": "2"})), &opts("bob")).unwrap_err();
    assert_eq!(
        err,
        ApplyError::Conflict(vec![Conflict {
            manager: "alice".to_owned(),
            field: ".data.a".to_owned()
        }])
    );
    assert!(
        err.to_string().contains("conflict with \"alice\": .data.a"),
        "{err}"
    );
    // Same value: shared ownership, no conflict.
    let shared = apply(Some(&live), &cm(json!({"a": "1"})), &opts("bob")).unwrap();
    assert_eq!(managers(&shared).len(), 2);
    // Forced: bob takes the field over, alice's emptied entry disappears.
    let forced = apply(
        Some(&live),
        &cm(json!({"a": "2"})),
        &ApplyOptions {
            force: true,
            ..opts("bob")
        },
    )
    .unwrap();
    assert_eq!(forced["data"]["a"], "2");
    assert_eq!(
        managers(&forced),
        vec![("bob".to_owned(), "Apply".to_owned())]
    );
}

#[test]
fn status_apply_touches_only_status_and_main_apply_ignores_status() {
    let obj = |spec: Value, status: Value| {
        json!({"apiVersion": "x.io/v1", "kind": "Thing",
        "metadata": {"name": "t"}, "spec": spec, "status": status})
    };
    let live = apply(
        None,
        &obj(json!({"a": 1}), json!({"ready": true})),
        &opts("user"),
    )
    .unwrap();
    assert!(live.get("status").is_none(), "main resource ignores status");
    let status_opts = ApplyOptions {
        subresource: Some("status".to_owned()),
        force: true,
        ..opts("ctrl")
    };
    let out = apply(
        Some(&live),
        &obj(json!({"a": 99}), json!({"ready": true})),
        &status_opts,
    )
    .unwrap();
    assert_eq!(out["spec"], json!({"a": 1}));
    assert_eq!(out["status"], json!({"ready": true}));
    let entry = out["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "ctrl")
        .unwrap()
        .clone();
    assert_eq!(entry["subresource"], "status");
    assert_eq!(entry["fieldsV1"], json!({"f:status": {"f:ready": {}}}));
}

#[test]
fn apply_merges_map_lists_by_schema_keys_and_owns_elements() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "args": {"type": "array", "items": {"type": "string"}}
    }}}});
    let o = |manager: &str| ApplyOptions {
        schema: Some(&schema),
        ..opts(manager)
    };
    let thing = |spec: Value| json!({"apiVersion": "x.io/v1", "kind": "T", "metadata": {"name": "t"}, "spec": spec});
    let live = apply(
        None,
        &thing(json!({"ports": [{"name": "http", "port": 80}], "tags": ["a"], "args": ["x"]})),
        &o("one"),
    )
    .unwrap();
    assert_eq!(
        live["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:spec": {"f:args": {}, "f:ports": {"k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:port": {}}}, "f:tags": {"v:\"a\"": {}}}})
    );
    let out = apply(
        Some(&live),
        &thing(json!({"ports": [{"name": "https", "port": 443}], "tags": ["b"], "args": ["y"]})),
        &o("two"),
    )
    .unwrap_err();
    assert_eq!(
        out,
        ApplyError::Conflict(vec![Conflict {
            manager: "one".to_owned(),
            field: ".spec.args".to_owned()
        }])
    );
    let merged = apply(
        Some(&live),
        &thing(json!({"ports": [{"name": "https", "port": 443}], "tags": ["b"]})),
        &o("two"),
    )
    .unwrap();
    assert_eq!(
        merged["spec"]["ports"],
        json!([{"name": "http", "port": 80}, {"name": "https", "port": 443}])
    );
    assert_eq!(merged["spec"]["tags"], json!(["a", "b"]));
    // "one" stops applying its port: the element it alone owned is removed.
    let dropped = apply(
        Some(&merged),
        &thing(json!({"tags": ["a"], "args": ["x"]})),
        &o("one"),
    )
    .unwrap();
    assert_eq!(
        dropped["spec"]["ports"],
        json!([{"name": "https", "port": 443}])
    );
}

#[test]
fn updates_take_ownership_of_changed_fields_from_appliers() {
    let live = apply(None, &cm(json!({"a": "1", "b": "2"})), &opts("kubectl")).unwrap();
    let mut new = live.clone();
    new["data"]["a"] = json!("changed");
    new["data"].as_object_mut().unwrap().remove("b");
    record_update(Some(&live), &mut new, "editor", None, NOW, None);
    let entries = new["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        1,
        "kubectl lost a (changed) and b (gone): {entries:?}"
    );
    assert_eq!(entries[0]["manager"], "editor");
    assert_eq!(entries[0]["fieldsV1"], json!({"f:data": {"f:a": {}}}));
    // Re-applying a now conflicts with the editor.
    assert!(matches!(
        apply(Some(&new), &cm(json!({"a": "1"})), &opts("kubectl")),
        Err(ApplyError::Conflict(_))
    ));
}

#[test]
fn metadata_finalizers_and_owner_references_are_tracked_per_element() {
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c",
        "finalizers": ["example.com/f"], "labels": {"app": "x"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Secret", "name": "s", "uid": "u1"}]}});
    let out = apply(None, &obj, &opts("m")).unwrap();
    assert_eq!(
        out["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:metadata": {"f:finalizers": {"v:\"example.com/f\"": {}}, "f:labels": {"f:app": {}},
            "f:ownerReferences": {"k:{\"uid\":\"u1\"}": {".": {}, "f:apiVersion": {}, "f:kind": {}, "f:name": {}, "f:uid": {}}}}})
    );
}

#[test]
fn apply_rejects_bodies_without_api_version_or_kind() {
    assert!(matches!(
        apply(None, &json!({"kind": "X"}), &opts("m")),
        Err(ApplyError::Invalid(_))
    ));
    assert!(matches!(
        apply(None, &json!([]), &opts("m")),
        Err(ApplyError::Invalid(_))
    ));
}

/// A CRD-like schema with a granular map, an atomic map, an atomic struct and a nested struct.
fn typed_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "selector": {
                        "type": "object",
                        "x-kubernetes-map-type": "atomic",
                        "additionalProperties": {"type": "string"}
                    },
                    "ref": {
                        "type": "object",
                        "x-kubernetes-map-type": "atomic",
                        "properties": {"name": {"type": "string"}, "kind": {"type": "string"}}
                    },
                    "nested": {
                        "type": "object",
                        "properties": {"inner": {"type": "object", "properties": {"x": {"type": "string"}}}}
                    }
                }
            }
        }
    })
}

fn widget(spec: &Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}, "spec": spec})
}

#[test]
fn an_atomic_map_or_struct_is_one_owned_field_replaced_whole() {
    // structured-merge-diff: `x-kubernetes-map-type: atomic` makes the map one leaf.
    let schema = typed_schema();
    let o = |m: &str| ApplyOptions {
        schema: Some(&schema),
        ..opts(m)
    };
    let live = apply(
        None,
        &widget(&json!({"selector": {"a": "1"}, "ref": {"name": "x", "kind": "K"}})),
        &o("alice"),
    )
    .unwrap();
    let fields = &live["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"];
    assert_eq!(fields["f:selector"], json!({}), "{fields}");
    assert_eq!(fields["f:ref"], json!({}), "{fields}");
    // Bob applying a different key of the atomic map conflicts on the whole map.
    let err = apply(
        Some(&live),
        &widget(&json!({"selector": {"b": "2"}})),
        &o("bob"),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ApplyError::Conflict(vec![Conflict {
            manager: "alice".to_owned(),
            field: ".spec.selector".to_owned()
        }])
    );
    // Alice's own apply replaces it whole, no merge of keys.
    let out = apply(
        Some(&live),
        &widget(&json!({"selector": {"b": "2"}, "ref": {"name": "y"}})),
        &o("alice"),
    )
    .unwrap();
    assert_eq!(out["spec"]["selector"], json!({"b": "2"}));
    assert_eq!(out["spec"]["ref"], json!({"name": "y"}));
    // A granular map still merges key by key across managers.
    let a = apply(
        Some(&out),
        &widget(&json!({"labels": {"a": "1"}})),
        &o("carol"),
    )
    .unwrap();
    let b = apply(
        Some(&a),
        &widget(&json!({"labels": {"b": "2"}})),
        &o("dave"),
    )
    .unwrap();
    assert_eq!(b["spec"]["labels"], json!({"a": "1", "b": "2"}));
}

#[test]
fn containers_a_manager_stops_applying_are_removed_not_left_empty() {
    let schema = typed_schema();
    let o = ApplyOptions {
        schema: Some(&schema),
        ..opts("alice")
    };
    let live = apply(
        None,
        &widget(&json!({"nested": {"inner": {"x": "1"}}, "labels": {"a": "1"}})),
        &o,
    )
    .unwrap();
    let out = apply(Some(&live), &widget(&json!({"labels": {"a": "1"}})), &o).unwrap();
    assert_eq!(
        out["spec"],
        json!({"labels": {"a": "1"}}),
        "no empty nested/inner left"
    );
    // A container applied explicitly empty stays.
    let out = apply(
        Some(&live),
        &widget(&json!({"labels": {"a": "1"}, "nested": {}})),
        &o,
    )
    .unwrap();
    assert_eq!(out["spec"]["nested"], json!({}));
}
