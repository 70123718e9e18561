//! Value validation, pruning and defaulting.

use super::*;

// ---------------------------------------------------------------------------------------------
// types and nullable

#[test]
fn an_integer_field_rejects_a_string_with_the_apiserver_message() {
    let s = compile(&props(&json!({"replicas": {"type": "integer"}})));
    let causes = rejected(admit(&s, &json!({"replicas": "three"})));
    assert_cause(
        &causes,
        "FieldValueTypeInvalid",
        "spec.replicas",
        r#"Invalid value: "string": spec.replicas in body must be of type integer: "string""#,
    );
    assert_eq!(
        causes[0].to_string(),
        r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#
    );
}

#[test]
fn an_integer_field_accepts_integers_and_integral_floats_but_not_fractions() {
    let s = compile(&props(&json!({"replicas": {"type": "integer"}})));
    assert!(admit(&s, &json!({"replicas": 3})).is_ok());
    assert!(admit(&s, &json!({"replicas": 3.0})).is_ok());
    let causes = rejected(admit(&s, &json!({"replicas": 2.5})));
    assert!(
        only(&causes)
            .message
            .ends_with(r#"must be of type integer: "number""#)
    );
}

#[test]
fn a_number_field_accepts_integers_and_a_boolean_field_rejects_strings() {
    let s = compile(&props(
        &json!({"ratio": {"type": "number"}, "on": {"type": "boolean"}}),
    ));
    assert!(admit(&s, &json!({"ratio": 1, "on": true})).is_ok());
    let causes = rejected(admit(&s, &json!({"on": "true"})));
    assert_eq!(
        only(&causes).message,
        r#"Invalid value: "string": spec.on in body must be of type boolean: "string""#
    );
}

#[test]
fn an_object_field_rejects_an_array() {
    let s = compile(&props(&json!({"inner": {"type": "object"}})));
    let causes = rejected(admit(&s, &json!({"inner": []})));
    assert_eq!(only(&causes).field, "spec.inner");
    assert!(
        causes[0]
            .message
            .contains(r#"must be of type object: "array""#)
    );
}

#[test]
fn int_or_string_accepts_integers_and_strings_but_not_booleans() {
    let s = compile(&props(
        &json!({"port": {"x-kubernetes-int-or-string": true}}),
    ));
    assert!(admit(&s, &json!({"port": 80})).is_ok());
    assert!(admit(&s, &json!({"port": "http"})).is_ok());
    let causes = rejected(admit(&s, &json!({"port": true})));
    assert_cause(
        &causes,
        "FieldValueTypeInvalid",
        "spec.port",
        r#"Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
    );
}

#[test]
fn null_in_a_non_nullable_field_without_default_is_dropped_like_an_absent_field() {
    let s = compile(&props(&json!({"name": {"type": "string"}})));
    let spec = admit(&s, &json!({"name": null})).unwrap();
    assert_eq!(spec, json!({}));
}

#[test]
fn null_in_a_nullable_field_is_kept() {
    let s = compile(&props(
        &json!({"name": {"type": "string", "nullable": true}}),
    ));
    let spec = admit(&s, &json!({"name": null})).unwrap();
    assert_eq!(spec, json!({"name": null}));
}

#[test]
fn null_in_a_non_nullable_field_with_a_default_gets_the_default() {
    let s = compile(&props(&json!({"name": {"type": "string", "default": "x"}})));
    let spec = admit(&s, &json!({"name": null})).unwrap();
    assert_eq!(spec, json!({"name": "x"}));
}

#[test]
fn null_items_of_a_non_nullable_array_are_rejected_as_a_type_error() {
    let s = compile(&props(
        &json!({"list": {"type": "array", "items": {"type": "string"}}}),
    ));
    let causes = rejected(admit(&s, &json!({"list": ["a", null]})));
    assert_cause(
        &causes,
        "FieldValueTypeInvalid",
        "spec.list[1]",
        r#"Invalid value: "null": spec.list[1] in body must be of type string: "null""#,
    );
}

// ---------------------------------------------------------------------------------------------
// required, enum, pattern, format

#[test]
fn a_missing_required_field_is_reported_at_its_full_path() {
    let item =
        json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}});
    let s = compile(&props(&json!({"items": {"type": "array", "items": item}})));
    assert!(admit(&s, &json!({"items": [{"name": "a"}]})).is_ok());
    let causes = rejected(admit(&s, &json!({"items": [{"name": "a"}, {}]})));
    assert_cause(
        &causes,
        "FieldValueRequired",
        "spec.items[1].name",
        "Required value",
    );
}

#[test]
fn a_value_outside_the_enum_is_unsupported_and_the_supported_values_are_listed() {
    let s = compile(&props(
        &json!({"mode": {"type": "string", "enum": ["A", "B"]}}),
    ));
    assert!(admit(&s, &json!({"mode": "B"})).is_ok());
    let causes = rejected(admit(&s, &json!({"mode": "X"})));
    assert_cause(
        &causes,
        "FieldValueNotSupported",
        "spec.mode",
        r#"Unsupported value: "X": supported values: "A", "B""#,
    );
}

#[test]
fn an_integer_enum_compares_numbers_by_value() {
    let s = compile(&props(&json!({"n": {"type": "integer", "enum": [1, 2]}})));
    assert!(admit(&s, &json!({"n": 2.0})).is_ok());
    let causes = rejected(admit(&s, &json!({"n": 3})));
    assert_eq!(
        only(&causes).message,
        r#"Unsupported value: 3: supported values: "1", "2""#
    );
}

#[test]
fn a_string_not_matching_the_pattern_is_invalid() {
    let s = compile(&props(
        &json!({"name": {"type": "string", "pattern": "^[a-z]+$"}}),
    ));
    assert!(admit(&s, &json!({"name": "abc"})).is_ok());
    let causes = rejected(admit(&s, &json!({"name": "ABC"})));
    assert_cause(
        &causes,
        "FieldValueInvalid",
        "spec.name",
        r#"Invalid value: "ABC": spec.name in body should match '^[a-z]+$'"#,
    );
}

#[test]
fn a_pattern_that_is_not_a_regular_expression_does_not_compile() {
    let err = CrdSchema::compile(&resource(&props(
        &json!({"name": {"type": "string", "pattern": "("}}),
    )))
    .unwrap_err();
    assert_eq!(
        only(&err).field,
        "openAPIV3Schema.properties[spec].properties[name].pattern"
    );
}

#[test]
fn formats_are_checked_and_unknown_formats_pass() {
    let s = compile(&props(&json!({
        "at": {"type": "string", "format": "date-time"},
        "id": {"type": "string", "format": "uuid"},
        "ip": {"type": "string", "format": "ipv4"},
        "data": {"type": "string", "format": "byte"},
        "odd": {"type": "string", "format": "no-such-format"},
        "wait": {"type": "string", "format": "duration"},
    })));
    assert!(
        admit(
            &s,
            &json!({
                "at": "2024-05-01T10:00:00Z",
                "id": "123e4567-e89b-12d3-a456-426614174000",
                "ip": "10.0.0.1",
                "data": "aGVsbG8=",
                "odd": "anything",
            })
        )
        .is_ok()
    );
    let causes = rejected(admit(&s, &json!({"at": "yesterday"})));
    assert_cause(
        &causes,
        "FieldValueTypeInvalid",
        "spec.at",
        r#"Invalid value: "yesterday": spec.at in body must be of type date-time: "yesterday""#,
    );
    assert_eq!(
        rejected(admit(&s, &json!({"ip": "10.0.0.300"})))[0].field,
        "spec.ip"
    );
    assert_eq!(
        rejected(admit(&s, &json!({"data": "!!"})))[0].field,
        "spec.data"
    );
    for ok in [
        json!({"wait": "1h30m"}),
        json!({"wait": "3 d"}),
        json!({"at": "2024-05-01T10:00:00"}),
        json!({"at": "2024-05-01T10:00:00.123+02:00"}),
    ] {
        assert!(admit(&s, &ok).is_ok(), "{ok}");
    }
    assert_eq!(
        rejected(admit(&s, &json!({"wait": "soon"})))[0].field,
        "spec.wait"
    );
}

// ---------------------------------------------------------------------------------------------
// numeric bounds, lengths, sizes

#[test]
fn minimum_and_maximum_are_inclusive_unless_exclusive() {
    let s = compile(&props(&json!({
        "a": {"type": "integer", "minimum": 0, "maximum": 10},
        "b": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1, "exclusiveMaximum": true},
    })));
    assert!(admit(&s, &json!({"a": 0, "b": 0.5})).is_ok());
    assert!(admit(&s, &json!({"a": 10})).is_ok());
    assert_cause(
        &rejected(admit(&s, &json!({"a": -1}))),
        "FieldValueInvalid",
        "spec.a",
        "Invalid value: -1: spec.a in body should be greater than or equal to 0",
    );
    assert_cause(
        &rejected(admit(&s, &json!({"a": 11}))),
        "FieldValueInvalid",
        "spec.a",
        "Invalid value: 11: spec.a in body should be less than or equal to 10",
    );
    assert_eq!(
        only(&rejected(admit(&s, &json!({"b": 0})))).message,
        "Invalid value: 0: spec.b in body should be greater than 0"
    );
    assert_eq!(
        only(&rejected(admit(&s, &json!({"b": 1})))).message,
        "Invalid value: 1: spec.b in body should be less than 1"
    );
}

#[test]
fn multiple_of_rejects_values_off_the_step() {
    let s = compile(&props(&json!({"n": {"type": "integer", "multipleOf": 5}})));
    assert!(admit(&s, &json!({"n": 15})).is_ok());
    assert_eq!(
        only(&rejected(admit(&s, &json!({"n": 7})))).message,
        "Invalid value: 7: spec.n in body should be a multiple of 5"
    );
}

#[test]
fn string_lengths_count_characters() {
    let s = compile(&props(
        &json!({"name": {"type": "string", "minLength": 2, "maxLength": 3}}),
    ));
    assert!(admit(&s, &json!({"name": "äöü"})).is_ok());
    assert_cause(
        &rejected(admit(&s, &json!({"name": "abcd"}))),
        "FieldValueTooLong",
        "spec.name",
        "Too long: may not be more than 3 bytes",
    );
    assert_cause(
        &rejected(admit(&s, &json!({"name": "a"}))),
        "FieldValueInvalid",
        "spec.name",
        r#"Invalid value: "a": spec.name in body should be at least 2 chars long"#,
    );
}

#[test]
fn array_sizes_are_bounded() {
    let s = compile(&props(
        &json!({"l": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer"}}}),
    ));
    assert!(admit(&s, &json!({"l": [1, 2]})).is_ok());
    assert_cause(
        &rejected(admit(&s, &json!({"l": [1, 2, 3]}))),
        "FieldValueTooMany",
        "spec.l",
        "Too many: 3: must have at most 2 items",
    );
    assert_cause(
        &rejected(admit(&s, &json!({"l": []}))),
        "FieldValueInvalid",
        "spec.l",
        "Invalid value: 0: spec.l in body should have at least 1 items",
    );
}

#[test]
fn object_sizes_are_bounded() {
    let s = compile(&props(&json!({"m": {
        "type": "object", "minProperties": 1, "maxProperties": 1,
        "additionalProperties": {"type": "string"},
    }})));
    assert!(admit(&s, &json!({"m": {"a": "x"}})).is_ok());
    assert_cause(
        &rejected(admit(&s, &json!({"m": {"a": "x", "b": "y"}}))),
        "FieldValueTooMany",
        "spec.m",
        "Too many: 2: must have at most 1 item",
    );
    assert_eq!(
        only(&rejected(admit(&s, &json!({"m": {}})))).message,
        "Invalid value: 0: spec.m in body should have at least 1 properties"
    );
}

#[test]
fn additional_properties_values_are_validated_by_their_schema() {
    let s = compile(&props(
        &json!({"labels": {"type": "object", "additionalProperties": {"type": "string"}}}),
    ));
    let causes = rejected(admit(&s, &json!({"labels": {"a": "x", "b": 1}})));
    assert_eq!(only(&causes).field, "spec.labels.b");
}

// ---------------------------------------------------------------------------------------------
// list types

#[test]
fn a_set_list_rejects_duplicate_items() {
    let s = compile(&props(
        &json!({"tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}),
    ));
    assert!(admit(&s, &json!({"tags": ["a", "b"]})).is_ok());
    assert_cause(
        &rejected(admit(&s, &json!({"tags": ["a", "b", "a"]}))),
        "FieldValueDuplicate",
        "spec.tags[2]",
        r#"Duplicate value: "a""#,
    );
}

#[test]
fn a_map_list_rejects_items_with_the_same_keys() {
    let item = json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}});
    let s = compile(&props(&json!({"ports": {
        "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"], "items": item,
    }})));
    assert!(
        admit(
            &s,
            &json!({"ports": [{"name": "a", "v": 1}, {"name": "b", "v": 1}]})
        )
        .is_ok()
    );
    assert_cause(
        &rejected(admit(
            &s,
            &json!({"ports": [{"name": "a", "v": 1}, {"name": "a", "v": 2}]}),
        )),
        "FieldValueDuplicate",
        "spec.ports[1]",
        r#"Duplicate value: {"name":"a"}"#,
    );
}

#[test]
fn an_atomic_list_allows_duplicates() {
    let s = compile(&props(
        &json!({"l": {"type": "array", "items": {"type": "string"}}}),
    ));
    assert!(admit(&s, &json!({"l": ["a", "a"]})).is_ok());
}

// ---------------------------------------------------------------------------------------------
// allOf / anyOf / oneOf / not

#[test]
fn any_of_needs_one_passing_schema() {
    let s = compile(&props(
        &json!({"n": {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]}}),
    ));
    assert!(admit(&s, &json!({"n": 11})).is_ok());
    assert!(admit(&s, &json!({"n": -1})).is_ok());
    let causes = rejected(admit(&s, &json!({"n": 5})));
    let shown: Vec<String> = causes.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            r#"<nil>: Invalid value: "": "spec.n" must validate at least one schema (anyOf)"#,
            "spec.n: Invalid value: 5: spec.n in body should be greater than or equal to 10",
        ]
    );
}

#[test]
fn one_of_needs_exactly_one_passing_schema() {
    let s = compile(&props(&json!({"o": {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
    }})));
    assert!(admit(&s, &json!({"o": {"a": "x"}})).is_ok());
    let causes = rejected(admit(&s, &json!({"o": {"a": "x", "b": "y"}})));
    assert_cause(
        &causes,
        "FieldValueInvalid",
        "<nil>",
        r#"Invalid value: "": "spec.o" must validate one and only one schema (oneOf). Found 2 valid alternatives"#,
    );
    let causes = rejected(admit(&s, &json!({"o": {}})));
    assert_eq!(causes.len(), 2, "{causes:#?}");
    assert!(causes[0].message.ends_with("(oneOf). Found none valid"));
    assert_eq!(causes[1].to_string(), "spec.o.a: Required value");
}

#[test]
fn not_rejects_values_matching_its_schema_and_all_of_reports_each_failure() {
    let s = compile(&props(&json!({
        "n": {"type": "integer", "not": {"enum": [13]}},
        "m": {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 5}]},
    })));
    assert!(admit(&s, &json!({"n": 12, "m": 3})).is_ok());
    assert_eq!(
        only(&rejected(admit(&s, &json!({"n": 13})))).message,
        r#"Invalid value: "": "spec.n" must not validate the schema (not)"#
    );
    let causes = rejected(admit(&s, &json!({"m": 9})));
    assert_eq!(causes.len(), 2, "{causes:#?}");
    assert!(
        causes[0]
            .message
            .ends_with("should be less than or equal to 5")
    );
    assert_eq!(
        causes[1].message,
        r#"Invalid value: "": "spec.m" must validate all the schemas (allOf)"#
    );
}

// ---------------------------------------------------------------------------------------------
// pruning

#[test]
fn unknown_fields_are_pruned_and_reported_with_their_paths() {
    let item = json!({"type": "object", "properties": {"name": {"type": "string"}}});
    let s = compile(&props(
        &json!({"items": {"type": "array", "items": item}, "a": {"type": "string"}}),
    ));
    let mut obj = object(&json!({"a": "x", "foo": 1, "items": [{"name": "n", "bar": true}]}));
    obj["status"] = json!({"x": 1});
    let admitted = s.admit(&mut obj, None).unwrap();
    assert_eq!(
        admitted.pruned,
        vec!["spec.foo", "spec.items[0].bar", "status"]
    );
    assert_eq!(obj["spec"], json!({"a": "x", "items": [{"name": "n"}]}));
    assert!(obj.get("status").is_none());
}

#[test]
fn the_root_keeps_api_version_kind_and_metadata_untouched() {
    let s =
        CrdSchema::compile(&json!({"type": "object", "properties": {"spec": {"type": "object"}}}))
            .unwrap();
    let mut obj = object(&json!({}));
    obj["metadata"]["labels"] = json!({"a": "b"});
    let before = obj.clone();
    let admitted = s.admit(&mut obj, None).unwrap();
    assert!(admitted.pruned.is_empty());
    assert_eq!(obj, before);
}

#[test]
fn preserve_unknown_fields_keeps_unknown_fields_but_prunes_inside_known_ones() {
    let s = compile(&json!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}},
    }));
    let mut obj = object(&json!({"free": {"deep": [1, {"x": 2}]}, "known": {"a": "x", "b": "y"}}));
    let admitted = s.admit(&mut obj, None).unwrap();
    assert_eq!(admitted.pruned, vec!["spec.known.b"]);
    assert_eq!(
        obj["spec"],
        json!({"free": {"deep": [1, {"x": 2}]}, "known": {"a": "x"}})
    );
}

#[test]
fn an_embedded_resource_keeps_its_type_meta_and_metadata_but_prunes_other_unknown_fields() {
    let s = compile(&props(&json!({"template": {
        "type": "object",
        "x-kubernetes-embedded-resource": true,
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
    }})));
    let template = json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"l": "v"}},
        "spec": {"a": "x", "b": "y"}, "extra": 1,
    });
    let mut obj = object(&json!({"template": template}));
    let admitted = s.admit(&mut obj, None).unwrap();
    assert_eq!(
        admitted.pruned,
        vec!["spec.template.extra", "spec.template.spec.b"]
    );
    assert_eq!(
        obj["spec"]["template"],
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"l": "v"}}, "spec": {"a": "x"}})
    );
}

#[test]
fn a_valid_object_without_unknown_fields_is_admitted_unchanged() {
    let s = compile(&props(
        &json!({"a": {"type": "string"}, "n": {"type": "integer"}}),
    ));
    let mut obj = object(&json!({"a": "x", "n": 1}));
    let before = obj.clone();
    let admitted = s.admit(&mut obj, None).unwrap();
    assert!(admitted.pruned.is_empty());
    assert_eq!(obj, before);
}

// ---------------------------------------------------------------------------------------------
// defaulting

#[test]
fn missing_properties_of_existing_objects_get_their_defaults() {
    let s = compile(&props(&json!({
        "replicas": {"type": "integer", "default": 1},
        "inner": {"type": "object", "properties": {"x": {"type": "string", "default": "d"}}},
    })));
    assert_eq!(admit(&s, &json!({})).unwrap(), json!({"replicas": 1}));
    assert_eq!(
        admit(&s, &json!({"replicas": 3, "inner": {}})).unwrap(),
        json!({"replicas": 3, "inner": {"x": "d"}})
    );
}

#[test]
fn defaults_apply_inside_array_items_additional_properties_and_defaulted_objects() {
    let item = json!({"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer", "default": 80}}});
    let s = compile(&props(&json!({
        "items": {"type": "array", "items": item},
        "byName": {"type": "object", "additionalProperties": item},
        "policy": {
            "type": "object",
            "default": {},
            "properties": {"mode": {"type": "string", "default": "Auto"}},
        },
    })));
    let spec = admit(
        &s,
        &json!({"items": [{"name": "a"}, {"name": "b", "port": 8080}], "byName": {"x": {}}}),
    )
    .unwrap();
    assert_eq!(
        spec,
        json!({
            "items": [{"name": "a", "port": 80}, {"name": "b", "port": 8080}],
            "byName": {"x": {"port": 80}},
            "policy": {"mode": "Auto"},
        })
    );
}

#[test]
fn a_default_that_does_not_validate_is_rejected_at_compile_time() {
    let err = CrdSchema::compile(&resource(&props(
        &json!({"n": {"type": "integer", "default": "one"}}),
    )))
    .unwrap_err();
    assert_eq!(
        only(&err).field,
        "openAPIV3Schema.properties[spec].properties[n].default"
    );
    assert!(
        err[0].message.starts_with(r#"Invalid value: "one": "#),
        "{}",
        err[0].message
    );
}

#[test]
fn a_default_with_unknown_fields_is_rejected_at_compile_time() {
    let err = CrdSchema::compile(&resource(&props(&json!({"o": {
        "type": "object", "default": {"zzz": 1}, "properties": {"a": {"type": "string"}},
    }}))))
    .unwrap_err();
    assert!(only(&err).message.contains("must not have unknown fields"));
}
