//! Unit tests for CRD schema admission: one accept and one reject per keyword, pruning,
//! defaulting, CEL rules and the exact wording of the apiserver's messages.

use serde_json::{Value, json};

use super::{Admitted, CrdSchema, FieldCause, validate_crd};

/// A resource schema whose `spec` is `spec_schema`.
fn resource(spec_schema: &Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
        },
    })
}

fn compile(spec_schema: &Value) -> CrdSchema {
    match CrdSchema::compile(&resource(spec_schema)) {
        Ok(s) => s,
        Err(causes) => panic!("schema did not compile: {causes:#?}"),
    }
}

fn object(spec: &Value) -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": spec,
    })
}

/// Admits `spec` on create; returns the admitted spec or the causes.
fn admit(schema: &CrdSchema, spec: &Value) -> Result<Value, Vec<FieldCause>> {
    let mut obj = object(spec);
    schema.admit(&mut obj, None)?;
    Ok(obj["spec"].clone())
}

/// Admits `spec` as an update of `old_spec`.
fn update(schema: &CrdSchema, old_spec: &Value, spec: &Value) -> Result<Value, Vec<FieldCause>> {
    let mut obj = object(spec);
    let old = object(old_spec);
    schema.admit(&mut obj, Some(&old))?;
    Ok(obj["spec"].clone())
}

fn rejected(result: Result<Value, Vec<FieldCause>>) -> Vec<FieldCause> {
    match result {
        Ok(v) => panic!("expected a rejection, got {v}"),
        Err(c) => c,
    }
}

fn only(causes: &[FieldCause]) -> &FieldCause {
    assert_eq!(causes.len(), 1, "expected exactly one cause: {causes:#?}");
    &causes[0]
}

fn assert_cause(causes: &[FieldCause], reason: &str, field: &str, message: &str) {
    let c = only(causes);
    assert_eq!(
        (c.reason.as_str(), c.field.as_str(), c.message.as_str()),
        (reason, field, message)
    );
}

fn props(p: &Value) -> Value {
    json!({"type": "object", "properties": p})
}

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

// ---------------------------------------------------------------------------------------------
// CEL

fn immutable_name() -> CrdSchema {
    compile(&props(&json!({"name": {
        "type": "string",
        "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "name is immutable"}],
    }})))
}

#[test]
fn an_immutability_rule_rejects_a_change_on_update() {
    let causes = rejected(update(
        &immutable_name(),
        &json!({"name": "a"}),
        &json!({"name": "b"}),
    ));
    assert_cause(
        &causes,
        "FieldValueInvalid",
        "spec.name",
        r#"Invalid value: "b": name is immutable"#,
    );
}

#[test]
fn an_immutability_rule_allows_an_unchanged_value_and_creation() {
    let s = immutable_name();
    assert!(update(&s, &json!({"name": "a"}), &json!({"name": "a"})).is_ok());
    assert!(admit(&s, &json!({"name": "a"})).is_ok());
    // No old value at that path: the transition rule is skipped.
    assert!(update(&s, &json!({}), &json!({"name": "a"})).is_ok());
}

#[test]
fn a_rule_without_message_reports_the_failed_rule() {
    let s = compile(&json!({
        "type": "object",
        "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.min <= self.max"}],
    }));
    assert!(admit(&s, &json!({"min": 1, "max": 2})).is_ok());
    assert_cause(
        &rejected(admit(&s, &json!({"min": 3, "max": 2}))),
        "FieldValueInvalid",
        "spec",
        "Invalid value: failed rule: self.min <= self.max",
    );
}

#[test]
fn rules_with_has_treat_optional_fields_correctly() {
    let s = compile(&json!({
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "x-kubernetes-validations": [{"rule": "!has(self.a) || has(self.b)", "message": "b is required when a is set"}],
    }));
    assert!(admit(&s, &json!({})).is_ok());
    assert!(admit(&s, &json!({"a": "x", "b": "y"})).is_ok());
    assert_eq!(
        only(&rejected(admit(&s, &json!({"a": "x"})))).message,
        "Invalid value: b is required when a is set"
    );
}

#[test]
fn reason_field_path_and_message_expression_shape_the_cause() {
    let s = compile(&json!({
        "type": "object",
        "properties": {"replicas": {"type": "integer"}},
        "x-kubernetes-validations": [{
            "rule": "self.replicas <= 5",
            "messageExpression": "'replicas must be at most 5, got ' + string(self.replicas)",
            "reason": "FieldValueForbidden",
            "fieldPath": ".replicas",
        }],
    }));
    assert_cause(
        &rejected(admit(&s, &json!({"replicas": 7}))),
        "FieldValueForbidden",
        "spec.replicas",
        "Forbidden: replicas must be at most 5, got 7",
    );
}

#[test]
fn standard_macros_and_string_functions_are_available() {
    let s = compile(&props(&json!({"hosts": {
        "type": "array",
        "items": {"type": "string"},
        "x-kubernetes-validations": [
            {"rule": "self.all(h, h.matches('^[a-z.]+$') && !h.startsWith('.'))", "message": "bad host"},
            {"rule": "size(self) <= 3 && self.exists(h, h.endsWith('.com'))", "message": "need a .com"},
            {"rule": "self.map(h, h.lowerAscii()) == self", "message": "lowercase only"},
        ],
    }})));
    assert!(admit(&s, &json!({"hosts": ["a.com", "b.org"]})).is_ok());
    let causes = rejected(admit(&s, &json!({"hosts": [".b.org"]})));
    let messages: Vec<&str> = causes.iter().map(|c| c.message.as_str()).collect();
    assert_eq!(
        messages,
        vec!["Invalid value: bad host", "Invalid value: need a .com"]
    );
}

#[test]
fn a_rule_that_does_not_compile_is_rejected_with_its_path() {
    let err = CrdSchema::compile(&resource(&json!({
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.a ==="}],
    })))
    .unwrap_err();
    let c = only(&err);
    assert_eq!(
        c.field,
        "openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    );
    assert!(
        c.message
            .starts_with(r#"Invalid value: "self.a ===": compilation failed: "#),
        "{}",
        c.message
    );
}

#[test]
fn an_unsupported_rule_reason_is_rejected() {
    let err = CrdSchema::compile(&resource(&json!({
        "type": "object",
        "x-kubernetes-validations": [{"rule": "true", "reason": "Nope"}],
    })))
    .unwrap_err();
    assert_eq!(only(&err).reason, "FieldValueNotSupported");
}

#[test]
fn a_rule_reading_a_missing_field_reports_no_such_key() {
    let s = compile(&json!({
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "x-kubernetes-validations": [{"rule": "self.a == 'x'"}],
    }));
    assert_eq!(
        only(&rejected(admit(&s, &json!({})))).message,
        r#"Invalid value: "object": no such key: a evaluating rule: self.a == 'x'"#
    );
}

#[test]
fn transition_rules_in_map_list_items_correlate_by_key_and_atomic_items_cannot_use_them() {
    let rule = json!([{"rule": "self.v == oldSelf.v", "message": "v is immutable"}]);
    let item = json!({
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string"}, "v": {"type": "integer"}},
        "x-kubernetes-validations": rule,
    });
    let s = compile(&props(&json!({
        "m": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"], "items": item},
    })));
    let old = json!({"m": [{"name": "x", "v": 1}, {"name": "y", "v": 2}]});
    // Reordered map items keep their values: accepted.
    assert!(
        update(
            &s,
            &old,
            &json!({"m": [{"name": "y", "v": 2}, {"name": "x", "v": 1}]})
        )
        .is_ok()
    );
    // A changed value in a map item is caught at the item's new index.
    let causes = rejected(update(&s, &old, &json!({"m": [{"name": "y", "v": 3}]})));
    assert_cause(
        &causes,
        "FieldValueInvalid",
        "spec.m[0]",
        "Invalid value: v is immutable",
    );
    // A new key has no old item: the rule is skipped.
    assert!(update(&s, &old, &json!({"m": [{"name": "z", "v": 9}]})).is_ok());
    // Items of an atomic list never correlate, so such a rule is refused up front.
    let err = CrdSchema::compile(&resource(&props(
        &json!({"a": {"type": "array", "items": item}}),
    )))
    .unwrap_err();
    assert!(
        err[0]
            .message
            .contains("oldSelf cannot be used on the uncorrelatable portion"),
        "{err:#?}"
    );
}

#[test]
fn rules_see_integers_timestamps_escaped_names_and_the_root_metadata_name() {
    let s = CrdSchema::compile(&json!({
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('w')", "message": "name must start with w"}],
        "properties": {
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "dash-name": {"type": "integer"},
                    "port": {"x-kubernetes-int-or-string": true},
                },
                "x-kubernetes-validations": [
                    {"rule": "!has(self.at) || self.at < timestamp('2030-01-01T00:00:00Z')", "message": "too late"},
                    {"rule": "!has(self.dash__dash__name) || self.dash__dash__name + 1 > 1", "message": "positive"},
                    {"rule": "!has(self.port) || type(self.port) == int || self.port == 'http'", "message": "port"},
                ],
            },
        },
    }))
    .unwrap();
    let mut ok = object(&json!({"at": "2024-01-01T00:00:00Z", "dash-name": 1, "port": 80}));
    assert!(s.admit(&mut ok, None).is_ok());
    let mut bad = object(&json!({"at": "2031-01-01T00:00:00Z", "dash-name": 0, "port": "https"}));
    bad["metadata"]["name"] = json!("x");
    let causes = s.admit(&mut bad, None).unwrap_err();
    let messages: Vec<String> = causes.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec![
            "<nil>: Invalid value: name must start with w",
            "spec: Invalid value: too late",
            "spec: Invalid value: positive",
            "spec: Invalid value: port",
        ]
    );
}

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
    let mut c = crd();
    c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["a"] =
        json!({"description": "untyped"});
    let causes = validate_crd(&c).unwrap_err();
    assert!(
        causes.iter().any(|c| c.field
            == "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[a].type"),
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
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
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
            "ports": {"type": "array", "items": {"type": "integer"}},
            "names": {"type": "array", "items": {"type": "string"}},
            "version": {"type": "string"},
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
        "properties": {"l": {"type": "array", "items": {"type": "integer"}}},
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
        r#"Invalid value: "size(self.l) < limit": compilation failed: ERROR: <input>:1:16: undeclared reference to 'limit' (in container '')"#
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
        "!has(self.spec.free.anything) || true",
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
        (
            "self.metadata.namespace == 'x'",
            "ERROR: <input>:1:14: undefined field 'namespace'",
        ),
    ] {
        let err = compile_rule(bad).unwrap_err();
        let c = only(&err);
        assert_eq!(c.field, "openAPIV3Schema.x-kubernetes-validations[0].rule");
        assert!(
            c.message
                .starts_with(&format!("Invalid value: {bad:?}: compilation failed: "))
                && c.message.ends_with(message),
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
        "x-kubernetes-validations": [{"rule": "!has(self.a) || url(self.a).getHost() == 'x'"}],
    }));
    assert!(admit(&s, &json!({})).is_ok());
    let c = only(&rejected(admit(&s, &json!({"a": "https://x"})))).clone();
    assert_eq!(
        (c.reason.as_str(), c.field.as_str()),
        ("FieldValueInvalid", "spec")
    );
    assert!(
        c.message.starts_with(r#"Invalid value: "object": "#)
            && c.message
                .ends_with(" evaluating rule: !has(self.a) || url(self.a).getHost() == 'x'"),
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
                .ends_with(&format!("found no matching overload for {types}")),
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

// ---------------------------------------------------------------------------------------------
// CEL rules after schema errors

const NOT_CHECKED: &str = "Invalid value: \"null\": some validation rules were not checked because \
                           the object was invalid; correct the existing errors to complete validation";

/// A spec with an integer `replicas` checked by a rule on `spec`, a sibling `other` subtree
/// given by the test, and a rule on `other` that always fails.
fn rules_and(other: &Value) -> CrdSchema {
    compile(&json!({
        "type": "object",
        "properties": {
            "replicas": {"type": "integer"},
            "other": other,
            "tag": {"type": "string", "x-kubernetes-validations": [{"rule": "self != 'bad'", "message": "tag must not be bad"}]},
        },
        "x-kubernetes-validations": [{"rule": "!has(self.replicas) || self.replicas <= 5", "message": "at most 5 replicas"}],
    }))
}

fn summary(causes: &[FieldCause]) -> Vec<(String, String, String)> {
    causes
        .iter()
        .map(|c| (c.reason.clone(), c.field.clone(), c.message.clone()))
        .collect()
}

#[test]
fn a_type_error_skips_the_rules_and_adds_one_not_checked_cause_instead_of_a_cel_error() {
    let s = rules_and(&json!({"type": "string"}));
    let causes = rejected(admit(&s, &json!({"replicas": "5", "tag": "bad"})));
    assert_eq!(
        summary(&causes),
        vec![
            (
                "FieldValueTypeInvalid".to_owned(),
                "spec.replicas".to_owned(),
                r#"Invalid value: "string": spec.replicas in body must be of type integer: "string""#
                    .to_owned()
            ),
            ("FieldValueInvalid".to_owned(), "<nil>".to_owned(), NOT_CHECKED.to_owned()),
        ]
    );
}

#[test]
fn required_enum_length_size_and_format_errors_anywhere_in_the_object_block_every_rule() {
    let examples = [
        (
            json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}),
            json!({}),
            "FieldValueRequired",
        ),
        (
            json!({"type": "string", "enum": ["a", "b"]}),
            json!("c"),
            "FieldValueNotSupported",
        ),
        (
            json!({"type": "string", "maxLength": 2}),
            json!("abc"),
            "FieldValueTooLong",
        ),
        (
            json!({"type": "array", "items": {"type": "string"}, "maxItems": 1}),
            json!(["a", "b"]),
            "FieldValueTooMany",
        ),
        (
            json!({"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 1}),
            json!({"a": "x", "b": "y"}),
            "FieldValueTooMany",
        ),
        (
            json!({"type": "string", "format": "uuid"}),
            json!("nope"),
            "FieldValueTypeInvalid",
        ),
    ];
    for (other_schema, other, reason) in examples {
        let s = rules_and(&other_schema);
        // Both rules fail on this object, yet neither is evaluated.
        let causes = rejected(admit(
            &s,
            &json!({"replicas": 9, "tag": "bad", "other": other}),
        ));
        let got = summary(&causes);
        assert_eq!(got.len(), 2, "{other_schema}: {got:#?}");
        assert_eq!(got[0].0, reason, "{other_schema}: {got:#?}");
        assert!(
            got[0].1.starts_with("spec.other"),
            "{other_schema}: {got:#?}"
        );
        assert_eq!(
            got[1],
            (
                "FieldValueInvalid".to_owned(),
                "<nil>".to_owned(),
                NOT_CHECKED.to_owned()
            ),
            "{other_schema}"
        );
    }
}

#[test]
fn pattern_minimum_min_length_min_items_and_duplicate_errors_still_let_the_rules_run() {
    let examples = [
        (
            json!({"type": "string", "pattern": "^[a-z]+$"}),
            json!("ABC"),
        ),
        (json!({"type": "integer", "minimum": 3}), json!(1)),
        (json!({"type": "integer", "multipleOf": 2}), json!(3)),
        (json!({"type": "string", "minLength": 3}), json!("ab")),
        (
            json!({"type": "array", "items": {"type": "string"}, "minItems": 2}),
            json!(["a"]),
        ),
        (
            json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}),
            json!(["a", "a"]),
        ),
    ];
    for (other_schema, other) in examples {
        let s = rules_and(&other_schema);
        let causes = rejected(admit(
            &s,
            &json!({"replicas": 9, "tag": "bad", "other": other}),
        ));
        let got = summary(&causes);
        assert!(
            got.iter().all(|c| c.2 != NOT_CHECKED),
            "{other_schema}: {got:#?}"
        );
        assert!(
            got[0].1.starts_with("spec.other"),
            "{other_schema}: {got:#?}"
        );
        let rule_errors: Vec<&str> = got[1..].iter().map(|c| c.2.as_str()).collect();
        assert_eq!(
            rule_errors,
            vec![
                "Invalid value: at most 5 replicas",
                r#"Invalid value: "bad": tag must not be bad"#
            ],
            "{other_schema}"
        );
    }
}

#[test]
fn a_schema_without_rules_never_reports_unchecked_rules() {
    let s = compile(&props(&json!({"replicas": {"type": "integer"}})));
    assert_cause(
        &rejected(admit(&s, &json!({"replicas": "5"}))),
        "FieldValueTypeInvalid",
        "spec.replicas",
        r#"Invalid value: "string": spec.replicas in body must be of type integer: "string""#,
    );
}

#[test]
fn an_unchanged_invalid_value_kept_by_ratcheting_does_not_block_the_rules_on_update() {
    let s = rules_and(&json!({"type": "string", "enum": ["a", "b"]}));
    let old = json!({"replicas": 1, "other": "c"});
    // `other` is still outside its enum, but unchanged: ratcheting drops that error, so the
    // rules run and report the new replica count.
    let causes = rejected(update(&s, &old, &json!({"replicas": 9, "other": "c"})));
    assert_cause(
        &causes,
        "FieldValueInvalid",
        "spec",
        "Invalid value: at most 5 replicas",
    );
    // Changing it to another invalid value is an error again, and blocks the rules.
    let causes = rejected(update(&s, &old, &json!({"replicas": 9, "other": "d"})));
    let got = summary(&causes);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].0, "FieldValueNotSupported");
    assert_eq!(got[1].2, NOT_CHECKED);
}

#[test]
fn a_default_failing_its_schema_is_reported_without_evaluating_its_rules() {
    let err = CrdSchema::compile(&resource(&props(&json!({"name": {
        "type": "string",
        "pattern": "^[a-z]+$",
        "default": "ABC",
        "x-kubernetes-validations": [{"rule": "self.size() < 2", "message": "short"}],
    }}))))
    .unwrap_err();
    let c = only(&err);
    assert!(c.message.contains("should match '^[a-z]+$'"), "{c:#?}");
    assert!(!c.message.contains("short"), "{c:#?}");
}

// ---------------------------------------------------------------------------------------------
// ObjectMeta of embedded resources

fn embedded_template() -> CrdSchema {
    compile(&json!({
        "type": "object",
        "properties": {
            "template": {
                "type": "object",
                "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true,
            },
            "templates": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": true,
                    "x-kubernetes-preserve-unknown-fields": true,
                },
            },
            "n": {"type": "integer"},
        },
        "x-kubernetes-validations": [{"rule": "!has(self.n) || self.n < 5", "message": "n < 5"}],
    }))
}

fn template(metadata: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata})
}

fn shown(causes: &[FieldCause]) -> Vec<String> {
    causes.iter().map(ToString::to_string).collect()
}

#[test]
fn embedded_metadata_with_valid_names_labels_annotations_and_finalizers_is_accepted() {
    let s = embedded_template();
    let meta = json!({
        "name": "Any:Name_is@fine", "generateName": "gen-", "namespace": "team-a",
        "labels": {"app.kubernetes.io/name": "web", "tier": "", "A_b": "x.Y-z"},
        "annotations": {"Example.COM/Note": "any text at all / %"},
        "finalizers": ["example.com/cleanup", "kubernetes"],
        "generation": 3,
    });
    assert!(admit(&s, &json!({"template": template(&meta)})).is_ok());
}

#[test]
fn embedded_metadata_names_and_namespaces_are_checked_with_the_apiserver_messages() {
    let s = embedded_template();
    let meta =
        json!({"name": "a/b%", "generateName": "x/", "namespace": "Team_A", "generation": -1});
    let causes = rejected(admit(&s, &json!({"template": template(&meta)})));
    assert_eq!(
        shown(&causes),
        vec![
            r#"spec.template.metadata.generateName: Invalid value: "x/": may not contain '/'"#,
            r#"spec.template.metadata.name: Invalid value: "a/b%": may not contain '/'"#,
            r#"spec.template.metadata.name: Invalid value: "a/b%": may not contain '%'"#,
            "spec.template.metadata.namespace: Invalid value: \"Team_A\": a lowercase RFC 1123 \
             label must consist of lower case alphanumeric characters or '-', and must start and \
             end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for \
             validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            "spec.template.metadata.generation: Invalid value: -1: must be greater than or equal to 0",
        ]
    );
    let causes = rejected(admit(
        &s,
        &json!({"template": template(&json!({"name": "..", "namespace": "a.b"}))}),
    ));
    assert_eq!(
        shown(&causes),
        vec![
            r#"spec.template.metadata.name: Invalid value: "..": may not be '..'"#,
            r#"spec.template.metadata.namespace: Invalid value: "a.b": must not contain dots"#,
        ]
    );
}

#[test]
fn embedded_metadata_labels_annotations_and_finalizers_must_be_qualified_names() {
    let s = embedded_template();
    let meta = json!({
        "labels": {"bad key": "-x"},
        "annotations": {"a/b/c": "v"},
        "finalizers": ["Example_com/x"],
    });
    let causes = rejected(admit(&s, &json!({"template": template(&meta)})));
    assert_eq!(
        shown(&causes),
        vec![
            "spec.template.metadata.labels: Invalid value: \"bad key\": name part must consist \
             of alphanumeric characters, '-', '_' or '.', and must start and end with an \
             alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used \
             for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "spec.template.metadata.labels: Invalid value: \"-x\": a valid label must be an \
             empty string or consist of alphanumeric characters, '-', '_' or '.', and must \
             start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or \
             '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            "spec.template.metadata.annotations: Invalid value: \"a/b/c\": a qualified name \
             must consist of alphanumeric characters, '-', '_' or '.', and must start and end \
             with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex \
             used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an \
             optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
            "spec.template.metadata.finalizers: Invalid value: \"Example_com/x\": prefix part \
             a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
             characters, '-' or '.', and must start and end with an alphanumeric character \
             (e.g. 'example.com', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ]
    );
    let long = "x".repeat(64);
    let causes = rejected(admit(
        &s,
        &json!({"template": template(&json!({"labels": {long.clone(): "v"}, "finalizers": ["orphan", "foregroundDeletion"]}))}),
    ));
    assert_eq!(
        shown(&causes),
        vec![
            format!(
                "spec.template.metadata.labels: Invalid value: \"{long}\": name part must be no \
                 more than 63 characters"
            ),
            r#"spec.template.metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and foregroundDeletion cannot be both set"#.to_owned(),
        ]
    );
}

#[test]
fn embedded_resources_in_additional_properties_are_addressed_by_key() {
    let s = embedded_template();
    let causes = rejected(admit(
        &s,
        &json!({"templates": {"a": template(&json!({"name": "x/y"}))}}),
    ));
    assert_eq!(
        shown(&causes),
        vec![r#"spec.templates[a].metadata.name: Invalid value: "x/y": may not contain '/'"#]
    );
}

#[test]
fn embedded_metadata_is_checked_on_every_update_even_when_unchanged() {
    let s = embedded_template();
    let spec = json!({"template": template(&json!({"name": "x/y"})), "n": 1});
    let causes = rejected(update(
        &s,
        &spec,
        &json!({"template": spec["template"], "n": 2}),
    ));
    assert_eq!(
        shown(&causes),
        vec![r#"spec.template.metadata.name: Invalid value: "x/y": may not contain '/'"#]
    );
}

#[test]
fn an_invalid_embedded_label_lets_the_rules_run_but_too_large_annotations_block_them() {
    let s = embedded_template();
    let causes = rejected(admit(
        &s,
        &json!({"template": template(&json!({"labels": {"a": "-"}})), "n": 9}),
    ));
    assert_eq!(causes.len(), 2, "{causes:#?}");
    assert_eq!(causes[1].to_string(), "spec: Invalid value: n < 5");

    let big = "v".repeat(256 * 1024);
    let causes = rejected(admit(
        &s,
        &json!({"template": template(&json!({"annotations": {"a": big}})), "n": 9}),
    ));
    assert_eq!(
        shown(&causes),
        vec![
            "spec.template.metadata.annotations: Too long: may not be more than 262144 bytes"
                .to_owned(),
            format!("<nil>: {NOT_CHECKED}"),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// ratcheted CEL failures become warnings

fn lowercase_name() -> CrdSchema {
    compile(&props(&json!({
        "name": {
            "type": "string",
            "x-kubernetes-validations": [
                {"rule": "self.lowerAscii() == self", "message": "name must be lowercase"},
                {"rule": "self != 'frozen' || oldSelf != 'frozen'", "message": "frozen stays frozen"},
            ],
        },
        "replicas": {"type": "integer"},
    })))
}

fn admitted_update(schema: &CrdSchema, old_spec: &Value, spec: &Value) -> Admitted {
    let mut obj = object(spec);
    let old = object(old_spec);
    match schema.admit(&mut obj, Some(&old)) {
        Ok(admitted) => admitted,
        Err(causes) => panic!("expected the update to be admitted: {causes:#?}"),
    }
}

#[test]
fn a_rule_failing_on_an_unchanged_value_is_a_warning_on_update() {
    let s = lowercase_name();
    let old = json!({"name": "UPPER", "replicas": 1});
    let admitted = admitted_update(&s, &old, &json!({"name": "UPPER", "replicas": 2}));
    assert_eq!(
        admitted.warnings,
        vec![r#"spec.name: Invalid value: "UPPER": name must be lowercase"#]
    );
    // Changing the value makes the failure an error again.
    let causes = rejected(update(&s, &old, &json!({"name": "OTHER", "replicas": 2})));
    assert_eq!(
        shown(&causes),
        vec![r#"spec.name: Invalid value: "OTHER": name must be lowercase"#]
    );
    // On create there is nothing to ratchet against.
    assert_eq!(
        shown(&rejected(admit(&s, &json!({"name": "UPPER"})))),
        vec![r#"spec.name: Invalid value: "UPPER": name must be lowercase"#]
    );
}

#[test]
fn a_transition_rule_failing_on_an_unchanged_value_is_still_an_error() {
    let s = lowercase_name();
    let old = json!({"name": "frozen", "replicas": 1});
    let causes = rejected(update(&s, &old, &json!({"name": "frozen", "replicas": 2})));
    assert_eq!(
        shown(&causes),
        vec![r#"spec.name: Invalid value: "frozen": frozen stays frozen"#]
    );
}

#[test]
fn a_valid_update_has_no_warnings() {
    let s = lowercase_name();
    let admitted = admitted_update(
        &s,
        &json!({"name": "a", "replicas": 1}),
        &json!({"name": "b", "replicas": 2}),
    );
    assert!(admitted.warnings.is_empty(), "{:?}", admitted.warnings);
}

#[test]
fn embedded_owner_references_need_a_version_kind_name_and_uid() {
    let s = embedded_template();
    let good = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": "1"});
    assert!(
        admit(
            &s,
            &json!({"template": template(&json!({"ownerReferences": [good]}))})
        )
        .is_ok()
    );
    let bad = json!({"apiVersion": "apps/", "kind": "", "name": "d"});
    let causes = rejected(admit(
        &s,
        &json!({"template": template(&json!({"ownerReferences": [good, bad]}))}),
    ));
    assert_eq!(
        shown(&causes),
        vec![
            r#"spec.template.metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty"#,
            r#"spec.template.metadata.ownerReferences.kind: Invalid value: "": kind must not be empty"#,
            r#"spec.template.metadata.ownerReferences.uid: Invalid value: "": uid must not be empty"#,
        ]
    );
}
