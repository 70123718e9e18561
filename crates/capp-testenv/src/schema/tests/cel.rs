//! CEL rules: evaluation, rules after schema errors, ratcheted failures.

use super::*;

// ---------------------------------------------------------------------------------------------
// CEL

pub(super) fn immutable_name() -> CrdSchema {
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
            // (`'...' + string(self.replicas)` would be refused: the size of string(int) is
            // unknown to the cost estimator, so the concatenation is over budget.)
            "messageExpression": "'replicas must be at most 5, got %d'.format([self.replicas])",
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
    // Bounded: a regex over every item of an unbounded list of unbounded strings is over
    // the cost budget.
    let s = compile(&props(&json!({"hosts": {
        "type": "array",
        "maxItems": 10,
        "items": {"type": "string", "maxLength": 253},
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
            .starts_with(r#"Invalid value: {"Rule":"self.a ===","Message":"","MessageExpression":"","Reason":null,"FieldPath":"","OptionalOldSelf":null}: compilation failed: "#),
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
// CEL rules after schema errors

pub(super) const NOT_CHECKED: &str = "Invalid value: null: some validation rules were not checked because \
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
