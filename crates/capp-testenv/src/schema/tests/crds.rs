//! Structural schemas and whole CRDs.

use super::cel::immutable_name;
use super::*;

// ---------------------------------------------------------------------------------------------
// structural schemas and whole CRDs

#[test]
fn a_schema_with_an_untyped_field_is_not_structural() {
    let err = CrdSchema::compile(&resource(&props(&json!({"a": {"description": "no type"}}))))
        .unwrap_err();
    assert!(
        err.iter().any(
            |c| c.field == "openAPIV3Schema.properties[spec].properties[a].type"
                && c.reason == "FieldValueRequired"
        ),
        "{err:#?}"
    );
}

fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"]},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": resource(&props(&json!({"a": {"type": "string"}})))},
                "additionalPrinterColumns": [{"name": "A", "type": "string", "jsonPath": ".spec.a"}],
                "subresources": {"status": {}},
            }],
        },
    })
}

#[test]
fn a_well_formed_crd_validates() {
    assert_eq!(validate_crd(&crd()), Ok(()));
}

#[test]
fn a_crd_with_bad_names_scope_and_storage_is_rejected_with_every_cause() {
    let mut c = crd();
    c["metadata"]["name"] = json!("widgets.other.com");
    c["spec"]["names"]["plural"] = json!("Widgets");
    c["spec"]["scope"] = json!("Global");
    c["spec"]["versions"][0]["storage"] = json!(false);
    let causes = validate_crd(&c).unwrap_err();
    let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "spec.names.plural",
            "metadata.name",
            "spec.scope",
            "spec.versions"
        ],
        "{causes:#?}"
    );
    assert_eq!(
        causes[2].message,
        r#"Unsupported value: "Global": supported values: "Cluster", "Namespaced""#
    );
    assert!(
        causes[3]
            .message
            .ends_with("must have exactly one version marked as storage version")
    );
}

#[test]
fn a_crd_whose_version_schema_is_not_structural_is_rejected_at_the_crd_path() {
    // One version: kube-apiserver reports its schema under `spec.validation`.
    let mut c = crd();
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["a"] =
        json!({"description": "untyped"});
    let causes = validate_crd(&c).unwrap_err();
    assert!(
        causes
            .iter()
            .any(|c| c.field
                == "spec.validation.openAPIV3Schema.properties[spec].properties[a].type"),
        "{causes:#?}"
    );
}

#[test]
fn a_crd_with_a_non_compiling_rule_is_rejected() {
    let mut c = crd();
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] =
        json!([{"rule": "self.a.("}]);
    let causes = validate_crd(&c).unwrap_err();
    assert_eq!(
        only(&causes).field,
        "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    );
}

#[test]
fn a_compiled_schema_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>(_: &T) {}
    let s = immutable_name();
    assert_send_sync(&s);
    let shared = std::sync::Arc::new(s);
    let handle = {
        let shared = std::sync::Arc::clone(&shared);
        std::thread::spawn(move || {
            update(&shared, &json!({"name": "a"}), &json!({"name": "b"})).is_err()
        })
    };
    assert!(handle.join().unwrap());
}

#[test]
fn kubernetes_list_and_regex_library_functions_are_available() {
    let rules = json!([
        {"rule": "self.ports.isSorted()", "message": "ports must be sorted"},
        {"rule": "self.ports.sum() <= 100", "message": "sum too large"},
        {"rule": "self.ports.min() >= 1 && self.ports.max() <= 90", "message": "out of range"},
        {"rule": "self.names.indexOf('b') != 0 && self.names.lastIndexOf('zz') == -1", "message": "index"},
        {"rule": "self.version.find('[0-9]+') == '1' && self.version.findAll('[0-9]+') == ['1', '32', '4']", "message": "version"},
        {"rule": "self.version.findAll('[0-9]+', 2).size() == 2", "message": "limit"},
    ]);
    let s = compile(&json!({
        "type": "object",
        "properties": {
            "ports": {"type": "array", "maxItems": 10, "items": {"type": "integer"}},
            "names": {"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 10}},
            "version": {"type": "string", "maxLength": 20},
        },
        "x-kubernetes-validations": rules,
    }));
    let good = json!({"ports": [1, 2, 3], "names": ["a", "b"], "version": "v1.32.4"});
    assert!(admit(&s, &good).is_ok(), "{:#?}", admit(&s, &good));
    let bad = json!({"ports": [50, 60], "names": ["b", "zz"], "version": "v2.0.0"});
    let messages: Vec<String> = rejected(admit(&s, &bad))
        .into_iter()
        .map(|c| c.message)
        .collect();
    assert_eq!(
        messages,
        vec![
            "Invalid value: sum too large",
            "Invalid value: index",
            "Invalid value: version",
        ]
    );
    let unsorted = json!({"ports": [3, 1], "names": [], "version": "1"});
    let causes = rejected(admit(&s, &unsorted));
    assert_eq!(causes[0].message, "Invalid value: ports must be sorted");
}

#[test]
fn an_update_may_keep_an_invalid_value_it_does_not_change_but_not_introduce_one() {
    let s = compile(&props(&json!({
        "name": {"type": "string", "pattern": "^[a-z]+$"},
        "n": {"type": "integer", "x-kubernetes-validations": [{"rule": "self < 10", "message": "n < 10"}]},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string", "maxLength": 2}},
    })));
    let old = json!({"name": "ABC", "n": 12, "tags": ["abc"]});
    // Unchanged invalid values are ratcheted, as on a real 1.30+ server.
    assert!(
        update(
            &s,
            &old,
            &json!({"name": "ABC", "n": 12, "tags": ["abc", "x"]})
        )
        .is_ok()
    );
    // Changed values are validated in full (the too-long tag keeps the rule on `n` from
    // being evaluated, as upstream).
    let causes = rejected(update(
        &s,
        &old,
        &json!({"name": "ABD", "n": 13, "tags": ["abcd"]}),
    ));
    let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        vec!["spec.name", "spec.tags[0]", "<nil>"],
        "{causes:#?}"
    );
    let causes = rejected(update(
        &s,
        &old,
        &json!({"name": "ABD", "n": 13, "tags": ["ab"]}),
    ));
    let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, vec!["spec.name", "spec.n"], "{causes:#?}");
    // The same object is rejected on create.
    assert_eq!(rejected(admit(&s, &old)).len(), 3);
}

#[test]
fn a_rule_with_an_undeclared_variable_is_rejected_but_macro_variables_are_fine() {
    let err = CrdSchema::compile(&resource(&json!({
        "type": "object",
        // Bounded: nested comprehensions over an unbounded list are over the cost budget.
        "properties": {"l": {"type": "array", "maxItems": 10, "items": {"type": "integer"}}},
        "x-kubernetes-validations": [
            {"rule": "self.l.all(x, x > 0) && self.l.exists(y, self.l.all(z, z >= y))"},
            {"rule": "self.l.map(v, v * 2).filter(w, w > 2).size() >= 0 && math.abs(-1) == 1"},
            {"rule": "size(self.l) < limit"},
        ],
    })))
    .unwrap_err();
    let c = only(&err);
    assert_eq!(
        c.field,
        "openAPIV3Schema.properties[spec].x-kubernetes-validations[2].rule"
    );
    assert_eq!(
        c.message,
        "Invalid value: {\"Rule\":\"size(self.l) \\u003c limit\",\"Message\":\"\",\"MessageExpression\":\"\",\"Reason\":null,\"FieldPath\":\"\",\"OptionalOldSelf\":null}: compilation failed: ERROR: <input>:1:16: undeclared reference to 'limit' (in container '')\n | size(self.l) < limit\n | ...............^"
    );
}

#[test]
fn a_rule_naming_a_field_the_schema_does_not_declare_is_rejected() {
    let compile_rule = |rule: &str| {
        CrdSchema::compile(&json!({
            "type": "object",
            "properties": {
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "properties": {
                        "replicas": {"type": "integer"},
                        "dash-name": {"type": "string"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    },
                },
            },
            "x-kubernetes-validations": [{"rule": rule}],
        }))
    };
    for ok in [
        "self.spec.replicas >= 0",
        "!has(self.spec.dash__dash__name) || self.spec.dash__dash__name != ''",
        "!has(self.spec.labels.app) || self.spec.labels.app != ''",
        "self.metadata.name != '' && self.kind == 'Widget' && has(self.apiVersion)",
        "self.spec.labels.all(k, self.spec.labels[k] != '')",
    ] {
        assert!(
            compile_rule(ok).is_ok(),
            "{ok}: {:?}",
            compile_rule(ok).err()
        );
    }
    for (bad, message) in [
        (
            "self.spec.replcas >= 0",
            "ERROR: <input>:1:10: undefined field 'replcas'",
        ),
        // (the position of a field inside has() is reported at the macro)
        ("has(self.spec.nope)", "undefined field 'nope'"),
        // kube-apiserver declares only the listed fields of a preserve-unknown-fields object.
        (
            "!has(self.spec.free.anything) || true",
            "undefined field 'anything'",
        ),
        (
            "self.metadata.namespace == 'x'",
            "ERROR: <input>:1:14: undefined field 'namespace'",
        ),
    ] {
        let err = compile_rule(bad).unwrap_err();
        let c = only(&err);
        assert_eq!(c.field, "openAPIV3Schema.x-kubernetes-validations[0].rule");
        assert!(
            c.message.starts_with("Invalid value: {\"Rule\":")
                && c.message.contains("compilation failed: ERROR: <input>:")
                && c.message.contains(&format!("{message}\n")),
            "{bad}: {}",
            c.message
        );
    }
}

#[test]
fn an_embedded_resource_needs_api_version_and_kind() {
    let s = compile(&props(&json!({"template": {
        "type": "object",
        "x-kubernetes-embedded-resource": true,
        "x-kubernetes-preserve-unknown-fields": true,
    }})));
    assert!(
        admit(
            &s,
            &json!({"template": {"apiVersion": "v1", "kind": "ConfigMap", "data": {}}})
        )
        .is_ok()
    );
    let causes = rejected(admit(&s, &json!({"template": {"apiVersion": "a/b/c"}})));
    let shown: Vec<String> = causes.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "spec.template.kind: Required value",
            r#"spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#,
        ]
    );
    // One `/` at either end still parses as a group/version; a kind must be a DNS-1035
    // label in any case.
    let causes = rejected(admit(
        &s,
        &json!({"template": {"apiVersion": "/v1", "kind": "Config_Map"}}),
    ));
    let shown: Vec<String> = causes.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "spec.template.kind: Invalid value: \"Config_Map\": may have mixed case, but should \
             otherwise match: a DNS-1035 label must consist of lower case alphanumeric \
             characters or '-', start with an alphabetic character, and end with an \
             alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation \
             is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        ]
    );
}

/// A random JSON value built from a small vocabulary, so that it often hits the schema.
fn random_json(rng: &mut rand::rngs::StdRng, depth: u32) -> Value {
    use rand::Rng as _;
    const KEYS: [&str; 8] = ["a", "n", "l", "m", "name", "v", "apiVersion", "x"];
    let pick = if depth == 0 {
        rng.random_range(0..5)
    } else {
        rng.random_range(0..7)
    };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => json!(rng.random_range(-3_i64..20)),
        3 => json!(f64::from(rng.random_range(-30_i32..30)) / 4.0),
        4 => json!(["", "a", "ABC", "a/b/c", "2024-01-01T00:00:00Z", "é"][rng.random_range(0..6)]),
        5 => Value::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.random_range(0..5))
                .map(|_| {
                    let key = KEYS[rng.random_range(0..KEYS.len())].to_owned();
                    (key, random_json(rng, depth - 1))
                })
                .collect(),
        ),
    }
}

#[test]
fn admitting_arbitrary_json_never_panics_and_accepted_objects_are_stable() {
    use rand::SeedableRng as _;
    let item = json!({
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string", "maxLength": 3}, "v": {"type": "integer", "default": 1}},
        "x-kubernetes-validations": [{"rule": "self.v >= 0 || self.name == 'a'", "message": "neg"}],
    });
    let s = compile(&json!({
        "type": "object",
        "properties": {
            "a": {"type": "string", "enum": ["a", "ABC"], "x-kubernetes-validations": [{"rule": "self == oldSelf"}]},
            "n": {"x-kubernetes-int-or-string": true, "x-kubernetes-validations": [{"rule": "type(self) == int ? self < 10 : self.size() < 3"}]},
            "l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"], "items": item, "maxItems": 3},
            "m": {"type": "object", "additionalProperties": {"type": "number", "nullable": true}},
            "x": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
        },
        "x-kubernetes-validations": [{"rule": "!has(self.a) || has(self.n)", "message": "n with a"}],
    }));
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut accepted = 0;
    for _ in 0..3000 {
        let spec = random_json(&mut rng, 4);
        let old = random_json(&mut rng, 4);
        // Updates against an arbitrary old object: any outcome, but no panic.
        let _ = update(&s, &old, &spec);
        // Creates: what is accepted is stable when admitted again.
        let mut obj = object(&spec);
        if s.admit(&mut obj, None).is_ok() {
            accepted += 1;
            let mut again = obj.clone();
            match s.admit(&mut again, None) {
                Ok(admitted) => {
                    assert!(admitted.pruned.is_empty(), "{obj}: {:?}", admitted.pruned);
                    assert_eq!(again, obj);
                }
                Err(causes) => panic!("{obj} was admitted once but not twice: {causes:#?}"),
            }
        }
    }
    assert!(
        accepted > 100,
        "only {accepted} random objects were accepted"
    );
}

#[test]
fn an_optional_old_self_rule_runs_on_create_with_no_old_value() {
    let s = compile(&props(&json!({"n": {
        "type": "integer",
        "x-kubernetes-validations": [{
            "rule": "oldSelf.hasValue() ? self >= oldSelf.value() : self >= 1",
            "optionalOldSelf": true,
            "message": "n may only grow, from at least 1",
        }],
    }})));
    assert!(admit(&s, &json!({"n": 1})).is_ok());
    assert_cause(
        &rejected(admit(&s, &json!({"n": 0}))),
        "FieldValueInvalid",
        "spec.n",
        "Invalid value: 0: n may only grow, from at least 1",
    );
    assert!(update(&s, &json!({"n": 3}), &json!({"n": 5})).is_ok());
    assert_eq!(
        rejected(update(&s, &json!({"n": 5}), &json!({"n": 3}))).len(),
        1
    );
}

#[test]
fn an_immutable_set_or_map_list_may_be_reordered_but_not_changed() {
    let s = compile(&props(&json!({
        "tags": {
            "type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"},
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}],
        },
        "ports": {
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}},
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}],
        },
    })));
    let old =
        json!({"tags": ["a", "b"], "ports": [{"name": "x", "port": 1}, {"name": "y", "port": 2}]});
    let reordered =
        json!({"tags": ["b", "a"], "ports": [{"name": "y", "port": 2}, {"name": "x", "port": 1}]});
    assert!(update(&s, &old, &reordered).is_ok());
    let changed =
        json!({"tags": ["b", "c"], "ports": [{"name": "y", "port": 3}, {"name": "x", "port": 1}]});
    let fields: Vec<String> = rejected(update(&s, &old, &changed))
        .into_iter()
        .map(|c| c.field)
        .collect();
    assert_eq!(fields, vec!["spec.ports", "spec.tags"]);
}

#[test]
fn a_crd_with_two_versions_of_the_same_name_is_rejected() {
    let mut c = crd();
    let mut second = c["spec"]["versions"][0].clone();
    second["storage"] = json!(false);
    c["spec"]["versions"].as_array_mut().unwrap().push(second);
    let causes = validate_crd(&c).unwrap_err();
    assert_cause(
        &causes,
        "FieldValueInvalid",
        "spec.versions",
        r#"Invalid value: ["v1","v1"]: must contain unique version names"#,
    );
}

#[test]
fn a_rule_field_path_must_name_a_declared_field() {
    let with_path = |fp: &str| {
        CrdSchema::compile(&resource(&json!({
            "type": "object",
            "properties": {
                "a": {"type": "object", "properties": {"b": {"type": "string"}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "x-kubernetes-validations": [{"rule": "true", "fieldPath": fp}],
        })))
    };
    for ok in [
        ".a",
        ".a.b",
        "['a'].b",
        ".labels.anything",
        ".labels['x.y']",
    ] {
        assert!(with_path(ok).is_ok(), "{ok}: {:?}", with_path(ok).err());
    }
    let err = with_path(".a.c").unwrap_err();
    assert_cause(
        &err,
        "FieldValueInvalid",
        "openAPIV3Schema.properties[spec].x-kubernetes-validations[0].fieldPath",
        r#"Invalid value: ".a.c": fieldPath must be a valid path: does not refer to a valid field"#,
    );
}

#[test]
fn a_rule_calling_an_unsupported_kubernetes_library_function_fails_with_a_cause() {
    let s = compile(&json!({
        "type": "object",
        "properties": {"a": {"type": "string"}},
        // `semver` (k8s.io/apiserver/pkg/cel/library/semver.go) is not emulated.
        "x-kubernetes-validations": [{"rule": "!has(self.a) || semver(self.a).major() == 1"}],
    }));
    assert!(admit(&s, &json!({})).is_ok());
    let c = only(&rejected(admit(&s, &json!({"a": "1.2.3"})))).clone();
    assert_eq!(
        (c.reason.as_str(), c.field.as_str()),
        ("FieldValueInvalid", "spec")
    );
    assert!(
        c.message.starts_with(r#"Invalid value: "object": "#)
            && c.message
                .ends_with(" evaluating rule: !has(self.a) || semver(self.a).major() == 1"),
        "{}",
        c.message
    );
}

#[test]
fn url_ip_cidr_and_quantity_predicates_are_available() {
    let s = compile(&json!({
        "type": "object",
        "properties": {
            "url": {"type": "string", "x-kubernetes-validations": [{"rule": "isURL(self)", "message": "url"}]},
            "ip": {"type": "string", "x-kubernetes-validations": [{"rule": "isIP(self)", "message": "ip"}]},
            "cidr": {"type": "string", "x-kubernetes-validations": [{"rule": "isCIDR(self)", "message": "cidr"}]},
            "size": {"type": "string", "x-kubernetes-validations": [{"rule": "isQuantity(self)", "message": "quantity"}]},
        },
    }));
    let good = json!({"url": "https://example.com/x", "ip": "fd00::1", "cidr": "10.0.0.0/8", "size": "1.5Gi"});
    assert!(admit(&s, &good).is_ok(), "{:?}", admit(&s, &good));
    for size in ["100m", "2", "1e3", "+5Ki"] {
        assert!(admit(&s, &json!({"size": size})).is_ok(), "{size}");
    }
    let bad = json!({"url": "not a url", "ip": "10.0.0.300", "cidr": "10.0.0.0/33", "size": "2GB"});
    let messages: Vec<String> = rejected(admit(&s, &bad))
        .into_iter()
        .map(|c| c.message)
        .collect();
    assert_eq!(
        messages,
        vec![
            r#"Invalid value: "10.0.0.0/33": cidr"#,
            r#"Invalid value: "10.0.0.300": ip"#,
            r#"Invalid value: "2GB": quantity"#,
            r#"Invalid value: "not a url": url"#,
        ]
    );
}

#[test]
fn a_rule_comparing_a_field_with_a_literal_of_another_type_is_rejected() {
    let compile_rule = |rule: &str| {
        CrdSchema::compile(&resource(&json!({
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "ratio": {"type": "number"},
                "name": {"type": "string"},
                "on": {"type": "boolean"},
                "port": {"x-kubernetes-int-or-string": true},
                "at": {"type": "string", "format": "date-time"},
            },
            "x-kubernetes-validations": [{"rule": rule}],
        })))
    };
    for ok in [
        "!has(self.replicas) || self.replicas >= 1",
        "!has(self.ratio) || self.ratio < 1 && self.ratio > 0.5",
        "!has(self.name) || self.name != ''",
        "!has(self.on) || self.on == true",
        "!has(self.port) || self.port == 80 || self.port == 'http'",
        "!has(self.at) || self.at < timestamp('2030-01-01T00:00:00Z')",
    ] {
        assert!(
            compile_rule(ok).is_ok(),
            "{ok}: {:?}",
            compile_rule(ok).err()
        );
    }
    for (bad, types) in [
        (
            "self.replicas == 'three'",
            "'_==_' applied to '(int, string)'",
        ),
        ("'x' < self.ratio", "'_<_' applied to '(string, double)'"),
        ("self.on != 1", "'_!=_' applied to '(bool, int)'"),
    ] {
        let err = compile_rule(bad).unwrap_err();
        assert!(
            only(&err)
                .message
                .contains(&format!("found no matching overload for {types}\n")),
            "{bad}: {}",
            err[0].message
        );
    }
}

#[test]
fn resource_and_embedded_metadata_are_coerced_to_object_meta() {
    let s = compile(&props(&json!({"template": {
        "type": "object",
        "x-kubernetes-embedded-resource": true,
        "x-kubernetes-preserve-unknown-fields": true,
    }})));
    let mut obj = object(&json!({"template": {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "x", "labels": {"a": "b"}, "bogus": 1, "finalizers": "not-a-list"},
    }}));
    obj["metadata"]["nonsense"] = json!(true);
    obj["metadata"]["generation"] = json!("one");
    let admitted = s.admit(&mut obj, None).unwrap();
    assert_eq!(
        admitted.pruned,
        vec!["metadata.nonsense", "spec.template.metadata.bogus"]
    );
    assert_eq!(
        obj["metadata"],
        json!({"name": "w", "namespace": "default"})
    );
    assert_eq!(
        obj["spec"]["template"]["metadata"],
        json!({"name": "x", "labels": {"a": "b"}})
    );
}

#[test]
fn a_body_that_is_not_an_object_is_rejected_at_the_root() {
    let s = immutable_name();
    for body in [json!([1]), json!("x"), json!(null), json!(3)] {
        let mut b = body.clone();
        let causes = s.admit(&mut b, None).unwrap_err();
        assert_eq!(causes.len(), 2, "{body}: {causes:#?}");
        assert_eq!(causes[0].field, "<nil>", "{body}");
        assert_eq!(causes[0].reason, "FieldValueTypeInvalid");
        // The schema has a rule, which the type error keeps from being evaluated.
        assert_eq!(causes[1].field, "<nil>", "{body}");
        assert!(causes[1].message.contains("were not checked"), "{body}");
    }
}
