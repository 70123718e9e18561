use serde_json::{Value, json};

use super::{Rule, Violation, check, check_crd};

/// A root schema with one `spec` object holding `field`.
fn with_field(field: &Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {"field": field}}
        }
    })
}

fn violations(schema: &Value) -> Vec<Violation> {
    check(schema).expect_err("schema should be rejected")
}

/// Asserts the schema is rejected for `rule` at exactly `path`, and returns the message.
fn rejects(schema: &Value, rule: Rule, path: &str) -> String {
    let all = violations(schema);
    all.iter()
        .find(|v| v.rule == rule && v.path == path)
        .unwrap_or_else(|| panic!("expected {rule:?} at {path}, got {all:#?}"))
        .message
        .clone()
}

const FIELD: &str = "openAPIV3Schema.properties[spec].properties[field]";

fn at(suffix: &str) -> String {
    format!("{FIELD}{suffix}")
}

#[test]
fn a_typical_controller_gen_schema_is_structural() {
    let schema = json!({
        "description": "PacketMachine is the Schema for the packetmachines API",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["os"],
                "properties": {
                    "os": {"type": "string", "minLength": 1},
                    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "size": {
                        "x-kubernetes-int-or-string": true,
                        "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"pattern": "^[0-9]+$"}]
                    },
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "anything": {"x-kubernetes-preserve-unknown-fields": true},
                    "mode": {"type": "string", "enum": ["CPEM", "KUBE_VIP"], "default": "CPEM"},
                    "optional": {"type": "string", "nullable": true, "enum": ["a", null]},
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "protocol"],
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "protocol": {"type": "string", "default": "TCP"}
                            }
                        }
                    },
                    "template": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": true,
                        "x-kubernetes-preserve-unknown-fields": true
                    },
                    "either": {
                        "type": "object",
                        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                        "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
                        "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}]
                    },
                    "defaulted": {
                        "type": "object",
                        "default": {"x": 1},
                        "properties": {"x": {"type": "integer", "maximum": 5}}
                    }
                },
                "x-kubernetes-validations": [{"rule": "self.os == oldSelf.os", "message": "os is immutable"}]
            },
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
        }
    });
    assert_eq!(check(&schema), Ok(()));
}

#[test]
fn a_field_without_type_is_rejected_with_the_apiserver_message() {
    let schema = with_field(&json!({"description": "no type"}));
    let msg = rejects(&schema, Rule::TypeRequired, &at(".type"));
    assert_eq!(
        msg,
        "Required value: must not be empty for specified object fields"
    );
    let v = violations(&schema);
    assert_eq!(
        v[0].to_string(),
        format!("{FIELD}.type: Required value: must not be empty for specified object fields")
    );
}

#[test]
fn array_items_without_type_and_a_root_without_type_are_rejected() {
    let items = with_field(&json!({"type": "array", "items": {"description": "x"}}));
    let msg = rejects(&items, Rule::TypeRequired, &at(".items.type"));
    assert!(msg.contains("specified array items"));
    let root = json!({"properties": {"a": {"type": "string"}}});
    let msg = rejects(&root, Rule::TypeRequired, "openAPIV3Schema.type");
    assert!(msg.contains("at the root"));
}

#[test]
fn an_unknown_type_name_and_type_null_are_rejected() {
    let msg = rejects(
        &with_field(&json!({"type": "map"})),
        Rule::TypeUnsupported,
        &at(".type"),
    );
    assert!(msg.starts_with("Unsupported value: \"map\""), "{msg}");
    let msg = rejects(
        &with_field(&json!({"type": "null"})),
        Rule::TypeUnsupported,
        &at(".type"),
    );
    assert!(msg.contains("use nullable as an alternative"));
}

#[test]
fn a_root_that_is_not_an_object_or_is_nullable_is_rejected() {
    rejects(
        &json!({"type": "string"}),
        Rule::Root,
        "openAPIV3Schema.type",
    );
    rejects(
        &json!({"type": "object", "nullable": true}),
        Rule::Root,
        "openAPIV3Schema.nullable",
    );
}

#[test]
fn an_array_without_items_is_rejected() {
    let msg = rejects(
        &with_field(&json!({"type": "array"})),
        Rule::Items,
        &at(".items"),
    );
    assert_eq!(msg, "Required value: must be specified");
}

#[test]
fn an_items_list_instead_of_one_schema_is_rejected() {
    let schema = with_field(&json!({"type": "array", "items": [{"type": "string"}]}));
    rejects(&schema, Rule::Items, &at(".items"));
}

#[test]
fn type_inside_all_of_is_rejected() {
    let schema = with_field(&json!({"type": "string", "allOf": [{"type": "string"}]}));
    let msg = rejects(&schema, Rule::ValueValidation, &at(".allOf[0].type"));
    assert_eq!(msg, "Forbidden: must be empty to be structural");
}

#[test]
fn description_default_nullable_and_extensions_inside_value_validations_are_rejected() {
    let schema = with_field(&json!({
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "anyOf": [{"description": "d", "properties": {"a": {"default": "x"}}}],
        "oneOf": [{"nullable": true, "additionalProperties": {"type": "string"}}],
        "not": {"x-kubernetes-preserve-unknown-fields": true, "x-kubernetes-list-type": "set",
                "x-kubernetes-validations": [{"rule": "true"}], "title": "t"}
    }));
    rejects(&schema, Rule::ValueValidation, &at(".anyOf[0].description"));
    rejects(
        &schema,
        Rule::ValueValidation,
        &at(".anyOf[0].properties[a].default"),
    );
    rejects(&schema, Rule::ValueValidation, &at(".oneOf[0].nullable"));
    rejects(
        &schema,
        Rule::ValueValidation,
        &at(".oneOf[0].additionalProperties"),
    );
    rejects(
        &schema,
        Rule::ValueValidation,
        &at(".not.x-kubernetes-preserve-unknown-fields"),
    );
    rejects(
        &schema,
        Rule::ValueValidation,
        &at(".not.x-kubernetes-list-type"),
    );
    rejects(
        &schema,
        Rule::ValueValidation,
        &at(".not.x-kubernetes-validations"),
    );
    rejects(&schema, Rule::ValueValidation, &at(".not.title"));
}

#[test]
fn int_or_string_patterns_are_only_accepted_in_their_exact_shape() {
    let wrong = with_field(&json!({
        "x-kubernetes-int-or-string": true,
        "anyOf": [{"type": "integer"}, {"type": "number"}]
    }));
    rejects(&wrong, Rule::ValueValidation, &at(".anyOf[0].type"));
    rejects(&wrong, Rule::ValueValidation, &at(".anyOf[1].type"));
}

#[test]
fn int_or_string_with_preserve_unknown_fields_or_embedded_resource_is_rejected() {
    let schema = with_field(&json!({
        "x-kubernetes-int-or-string": true,
        "x-kubernetes-preserve-unknown-fields": true
    }));
    rejects(
        &schema,
        Rule::IntOrString,
        &at(".x-kubernetes-preserve-unknown-fields"),
    );
    let schema = with_field(&json!({
        "type": "object",
        "x-kubernetes-int-or-string": true,
        "x-kubernetes-embedded-resource": true,
        "x-kubernetes-preserve-unknown-fields": true
    }));
    rejects(
        &schema,
        Rule::IntOrString,
        &at(".x-kubernetes-embedded-resource"),
    );
}

#[test]
fn a_property_only_named_in_a_value_validation_is_rejected() {
    let schema = with_field(&json!({
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "allOf": [{"properties": {"b": {"minLength": 1}}}]
    }));
    let msg = rejects(&schema, Rule::Completeness, &at(".properties[b]"));
    assert_eq!(
        msg,
        format!("Required value: because it is defined in {FIELD}.allOf[0].properties[b]")
    );
}

#[test]
fn additional_properties_next_to_properties_is_rejected() {
    let schema = with_field(&json!({
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "additionalProperties": {"type": "string"}
    }));
    let msg = rejects(
        &schema,
        Rule::AdditionalProperties,
        &at(".additionalProperties"),
    );
    assert_eq!(
        msg,
        "Forbidden: additionalProperties and properties are mutual exclusive"
    );
}

#[test]
fn additional_properties_false_is_rejected() {
    let schema = with_field(&json!({"type": "object", "additionalProperties": false}));
    let msg = rejects(
        &schema,
        Rule::AdditionalProperties,
        &at(".additionalProperties"),
    );
    assert!(msg.contains("cannot be set to false"));
}

#[test]
fn additional_properties_at_the_root_is_rejected() {
    let schema = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let msg = rejects(
        &schema,
        Rule::AdditionalProperties,
        "openAPIV3Schema.additionalProperties",
    );
    assert_eq!(msg, "Forbidden: must not be used at the root");
}

#[test]
fn each_unsupported_keyword_is_rejected() {
    for (kw, value) in [
        ("$ref", json!("#/definitions/Foo")),
        ("$schema", json!("http://json-schema.org/draft-04/schema#")),
        ("id", json!("foo")),
        ("definitions", json!({"Foo": {"type": "string"}})),
        ("dependencies", json!({"a": ["b"]})),
        ("patternProperties", json!({"^a": {"type": "string"}})),
        ("additionalItems", json!(false)),
    ] {
        let mut field = json!({"type": "object"});
        field[kw] = value;
        let msg = rejects(
            &with_field(&field),
            Rule::UnsupportedKeyword,
            &at(&format!(".{kw}")),
        );
        assert_eq!(msg, format!("Forbidden: {kw} is not supported"));
    }
}

#[test]
fn unknown_keys_and_mistyped_keywords_are_rejected() {
    let schema = with_field(&json!({"type": "string", "x-kubernetes-foo": true}));
    let msg = rejects(&schema, Rule::Malformed, &at(".x-kubernetes-foo"));
    assert_eq!(msg, "unknown field \"x-kubernetes-foo\"");
    let schema = with_field(&json!({"type": "object", "required": "a"}));
    rejects(&schema, Rule::Malformed, &at(".required"));
}

#[test]
fn unique_items_true_is_rejected() {
    let schema =
        with_field(&json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true}));
    let msg = rejects(&schema, Rule::UniqueItems, &at(".uniqueItems"));
    assert!(msg.contains("quadratic"));
}

#[test]
fn null_in_enum_is_rejected_unless_nullable() {
    let schema = with_field(&json!({"type": "string", "enum": ["a", null]}));
    rejects(&schema, Rule::Enum, &at(".enum[1]"));
    let ok = with_field(&json!({"type": "string", "enum": ["a", null], "nullable": true}));
    assert_eq!(check(&ok), Ok(()));
}

#[test]
fn nullable_is_allowed_on_fields() {
    let ok = with_field(
        &json!({"type": "object", "nullable": true, "properties": {"a": {"type": "string", "nullable": true}}}),
    );
    assert_eq!(check(&ok), Ok(()));
}

#[test]
fn root_metadata_restricting_more_than_name_and_generate_name_is_rejected() {
    let mut schema = with_field(&json!({"type": "string"}));
    schema["properties"]["metadata"] =
        json!({"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}});
    assert_eq!(check(&schema), Ok(()), "name may be restricted");
    schema["properties"]["metadata"] =
        json!({"type": "object", "properties": {"labels": {"type": "object"}}});
    let msg = rejects(
        &schema,
        Rule::Metadata,
        "openAPIV3Schema.properties[metadata]",
    );
    assert!(msg.contains("must not specify anything other than name and generateName"));
}

#[test]
fn root_metadata_not_an_object_and_non_string_kind_are_rejected() {
    let mut schema = with_field(&json!({"type": "string"}));
    schema["properties"]["metadata"] = json!({"type": "string"});
    schema["properties"]["kind"] = json!({"type": "integer"});
    rejects(
        &schema,
        Rule::Metadata,
        "openAPIV3Schema.properties[metadata].type",
    );
    rejects(
        &schema,
        Rule::Metadata,
        "openAPIV3Schema.properties[kind].type",
    );
}

#[test]
fn embedded_resource_that_is_not_an_object_is_rejected() {
    let schema = with_field(&json!({
        "type": "string",
        "x-kubernetes-embedded-resource": true,
        "x-kubernetes-preserve-unknown-fields": true
    }));
    let msg = rejects(&schema, Rule::EmbeddedResource, &at(".type"));
    assert!(msg.contains("must be object if x-kubernetes-embedded-resource is true"));
}

#[test]
fn embedded_resource_without_properties_or_preserve_and_with_additional_properties_is_rejected() {
    let schema = with_field(&json!({"type": "object", "x-kubernetes-embedded-resource": true}));
    rejects(&schema, Rule::EmbeddedResource, &at(".properties"));
    let schema = with_field(&json!({
        "type": "object",
        "x-kubernetes-embedded-resource": true,
        "additionalProperties": {"type": "string"}
    }));
    rejects(
        &schema,
        Rule::EmbeddedResource,
        &at(".additionalProperties"),
    );
}

#[test]
fn embedded_resource_metadata_and_kind_are_checked() {
    let schema = with_field(&json!({
        "type": "object",
        "x-kubernetes-embedded-resource": true,
        "properties": {"kind": {"type": "boolean"}, "metadata": {"type": "string"}}
    }));
    rejects(&schema, Rule::Metadata, &at(".properties[kind].type"));
    rejects(&schema, Rule::Metadata, &at(".properties[metadata].type"));
}

#[test]
fn embedded_resource_inside_resource_meta_is_rejected() {
    let mut schema = with_field(&json!({"type": "string"}));
    schema["properties"]["kind"] =
        json!({"type": "string", "x-kubernetes-embedded-resource": true});
    rejects(
        &schema,
        Rule::EmbeddedResource,
        "openAPIV3Schema.properties[kind].x-kubernetes-embedded-resource",
    );
}

#[test]
fn preserve_unknown_fields_false_is_rejected() {
    let schema =
        with_field(&json!({"type": "object", "x-kubernetes-preserve-unknown-fields": false}));
    let msg = rejects(
        &schema,
        Rule::PreserveUnknownFields,
        &at(".x-kubernetes-preserve-unknown-fields"),
    );
    assert_eq!(msg, "Invalid value: false: must be true or undefined");
}

#[test]
fn list_type_on_a_non_array_or_with_an_unknown_value_is_rejected() {
    let schema = with_field(&json!({"type": "string", "x-kubernetes-list-type": "set"}));
    rejects(&schema, Rule::ListType, &at(".type"));
    let schema = with_field(&json!({
        "type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "bag"
    }));
    rejects(&schema, Rule::ListType, &at(".x-kubernetes-list-type"));
}

#[test]
fn a_set_of_granular_objects_is_rejected() {
    let schema = with_field(&json!({
        "type": "array", "x-kubernetes-list-type": "set",
        "items": {"type": "object", "properties": {"a": {"type": "string"}}}
    }));
    rejects(&schema, Rule::ListType, &at(".items.x-kubernetes-map-type"));
}

#[test]
fn map_type_on_a_non_object_or_with_an_unknown_value_is_rejected() {
    let schema = with_field(&json!({"type": "string", "x-kubernetes-map-type": "atomic"}));
    rejects(&schema, Rule::MapType, &at(".type"));
    let schema = with_field(&json!({"type": "object", "x-kubernetes-map-type": "fine"}));
    rejects(&schema, Rule::MapType, &at(".x-kubernetes-map-type"));
}

fn map_list(keys: &Value, item: &Value) -> Value {
    with_field(&json!({
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": keys,
        "items": item
    }))
}

#[test]
fn a_map_list_without_keys_is_rejected() {
    let schema = with_field(&json!({
        "type": "array", "x-kubernetes-list-type": "map",
        "items": {"type": "object", "properties": {"a": {"type": "string"}}}
    }));
    rejects(
        &schema,
        Rule::ListMapKeys,
        &at(".x-kubernetes-list-map-keys"),
    );
}

#[test]
fn map_keys_without_list_type_map_are_rejected() {
    let schema = with_field(&json!({
        "type": "array", "x-kubernetes-list-map-keys": ["a"],
        "items": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}
    }));
    rejects(&schema, Rule::ListMapKeys, &at(".x-kubernetes-list-type"));
}

#[test]
fn a_map_list_key_that_is_neither_required_nor_defaulted_is_rejected() {
    let schema = map_list(
        &json!(["name"]),
        &json!({"type": "object", "properties": {"name": {"type": "string"}}}),
    );
    let msg = rejects(
        &schema,
        Rule::ListMapKeys,
        &at(".items.properties[name].default"),
    );
    assert!(msg.contains("must have a default or be a required property"));
}

#[test]
fn map_list_keys_that_are_missing_non_scalar_duplicated_or_nullable_are_rejected() {
    let schema = map_list(
        &json!(["a", "b", "b", "c"]),
        &json!({
            "type": "object",
            "required": ["a", "b", "c"],
            "properties": {
                "a": {"type": "object"},
                "b": {"type": "string"},
                "c": {"type": "string", "nullable": true}
            }
        }),
    );
    rejects(&schema, Rule::ListMapKeys, &at(".items.properties[a].type"));
    rejects(
        &schema,
        Rule::ListMapKeys,
        &at(".items.properties[c].nullable"),
    );
    let all = violations(&schema);
    assert!(
        all.iter().any(|v| v.message.contains("duplicate entries")),
        "{all:#?}"
    );
    let schema = map_list(
        &json!(["z"]),
        &json!({"type": "object", "properties": {"a": {"type": "string"}}}),
    );
    let msg = rejects(
        &schema,
        Rule::ListMapKeys,
        &at(".x-kubernetes-list-map-keys"),
    );
    assert!(msg.contains("entries must all be names of item properties"));
}

#[test]
fn a_map_list_of_non_objects_is_rejected() {
    let schema = map_list(&json!(["a"]), &json!({"type": "string"}));
    rejects(&schema, Rule::ListMapKeys, &at(".items.type"));
}

#[test]
fn a_default_with_unknown_fields_is_rejected() {
    let schema = with_field(&json!({
        "type": "object", "default": {"a": "x", "b": "y"},
        "properties": {"a": {"type": "string"}}
    }));
    let msg = rejects(&schema, Rule::Default, &at(".default"));
    assert!(msg.ends_with("must not have unknown fields"), "{msg}");
}

#[test]
fn a_default_that_does_not_validate_is_rejected() {
    let schema =
        with_field(&json!({"type": "string", "enum": ["CPEM", "EMLB"], "default": "KUBE"}));
    let msg = rejects(&schema, Rule::Default, &at(".default"));
    assert!(msg.starts_with("Unsupported value: \"KUBE\""), "{msg}");
    let schema = with_field(&json!({"type": "integer", "default": "three"}));
    rejects(&schema, Rule::Default, &at(".default"));
    let schema = with_field(&json!({
        "type": "object", "required": ["a"], "default": {},
        "properties": {"a": {"type": "string"}}
    }));
    rejects(&schema, Rule::Default, &at(".default.a"));
}

#[test]
fn a_default_in_top_level_metadata_is_rejected() {
    let mut schema = with_field(&json!({"type": "string"}));
    schema["properties"]["metadata"] = json!({
        "type": "object",
        "properties": {"name": {"type": "string", "default": "x"}}
    });
    let msg = rejects(
        &schema,
        Rule::Default,
        "openAPIV3Schema.properties[metadata].properties[name].default",
    );
    assert_eq!(msg, "Forbidden: must not be set in top-level metadata");
}

#[test]
fn malformed_cel_rules_are_rejected() {
    let schema = with_field(&json!({
        "type": "string",
        "x-kubernetes-validations": [
            {"rule": "  "},
            {"rule": "self.size() > 1", "message": "two\nlines"},
            {"rule": "self.size() > 1", "reason": "Whatever"}
        ]
    }));
    rejects(
        &schema,
        Rule::Validations,
        &at(".x-kubernetes-validations[0].rule"),
    );
    rejects(
        &schema,
        Rule::Validations,
        &at(".x-kubernetes-validations[1].message"),
    );
    rejects(
        &schema,
        Rule::Validations,
        &at(".x-kubernetes-validations[2].reason"),
    );
}

#[test]
fn old_self_inside_an_atomic_list_is_rejected() {
    let schema = with_field(&json!({
        "type": "array",
        "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}
    }));
    let msg = rejects(
        &schema,
        Rule::Validations,
        &at(".items.x-kubernetes-validations[0].rule"),
    );
    assert!(
        msg.contains(&format!(
            "uncorrelatable portion of the schema within {FIELD}"
        )),
        "{msg}"
    );
    let fine = with_field(&json!({
        "type": "array",
        "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelfish"}]}
    }));
    assert_eq!(check(&fine), Ok(()));
}

fn crd(schema: &Value, status: bool) -> Value {
    let mut version = json!({
        "name": "v1beta1", "served": true, "storage": true,
        "schema": {"openAPIV3Schema": schema}
    });
    if status {
        version["subresources"] = json!({"status": {}});
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.example.com"},
        "spec": {"group": "example.com", "versions": [version]}
    })
}

#[test]
fn a_crd_reports_paths_from_the_crd_root() {
    let bad = crd(&with_field(&json!({"description": "untyped"})), false);
    let v = check_crd(&bad).expect_err("rejected");
    assert_eq!(
        v[0].path,
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[field].type"
    );
    assert_eq!(
        check_crd(&crd(&with_field(&json!({"type": "string"})), true)),
        Ok(())
    );
}

#[test]
fn a_crd_version_without_schema_is_rejected() {
    let mut c = crd(&json!({}), false);
    c["spec"]["versions"][0]
        .as_object_mut()
        .unwrap()
        .remove("schema");
    let v = check_crd(&c).expect_err("rejected");
    assert_eq!(v[0].rule, Rule::Crd);
    assert_eq!(
        v[0].to_string(),
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
    );
}

#[test]
fn a_crd_with_spec_preserve_unknown_fields_true_is_rejected() {
    let mut c = crd(&with_field(&json!({"type": "string"})), false);
    c["spec"]["preserveUnknownFields"] = json!(true);
    let v = check_crd(&c).expect_err("rejected");
    assert_eq!(v[0].rule, Rule::Crd);
    assert_eq!(v[0].path, "spec.preserveUnknownFields");
    assert!(
        v[0].message
            .contains("x-kubernetes-preserve-unknown-fields"),
        "{}",
        v[0]
    );
}

#[test]
fn the_status_subresource_restricts_root_keywords() {
    let mut schema = with_field(&json!({"type": "string"}));
    schema["anyOf"] = json!([{"required": ["spec"]}]);
    let v = check_crd(&crd(&schema, true)).expect_err("rejected");
    assert!(
        v.iter().any(|v| v.rule == Rule::StatusSubresource),
        "{v:#?}"
    );
    assert_eq!(check_crd(&crd(&schema, false)), Ok(()));
}

#[test]
fn violations_are_sorted_and_deduplicated() {
    let schema = with_field(&json!({
        "type": "object",
        "properties": {"b": {}, "a": {}}
    }));
    let v = violations(&schema);
    let texts: Vec<String> = v.iter().map(ToString::to_string).collect();
    let mut sorted = texts.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(texts, sorted);
    assert_eq!(texts.len(), 2);
}

/// Every CRD under `shared/specs/<sub>`, or `None` (loudly) without the shared data outside CI.
fn shared_crds(sub: &str) -> Option<Vec<Value>> {
    let dir = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/specs"
    ))
    .join(sub);
    if !dir.is_dir() {
        let message = format!("shared reference data not found at {}", dir.display());
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{message} (required when CI=true)"
        );
        eprintln!("SKIPPED: {message}");
        return None;
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        out.extend(
            docs.into_iter()
                .filter(|d| d["kind"] == "CustomResourceDefinition"),
        );
    }
    Some(out)
}

#[test]
fn crds_that_real_api_servers_accept_pass_the_checker() {
    // Upstream Cluster API v1.10 and the Go Packet provider's CRDs are installed on real
    // clusters every day; rejecting any of them would make the checker (and capp-testenv)
    // stricter than Kubernetes.
    for sub in ["capi-v1.10", "capp-v0.9.0"] {
        let Some(crds) = shared_crds(sub) else { return };
        assert!(crds.len() >= 3, "{sub}: only {} CRDs found", crds.len());
        for crd in crds {
            if let Err(v) = check_crd(&crd) {
                let text: Vec<String> = v.iter().map(ToString::to_string).collect();
                panic!("{} rejected:\n{}", crd["metadata"]["name"], text.join("\n"));
            }
        }
    }
}

mod never_panics {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::{check, check_crd};

    const KEYS: &[&str] = &[
        "type",
        "properties",
        "items",
        "additionalProperties",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "enum",
        "default",
        "nullable",
        "required",
        "metadata",
        "kind",
        "apiVersion",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
        "x-kubernetes-validations",
        "rule",
        "message",
        "name",
        "maxLength",
        "maximum",
        "object",
        "array",
        "string",
        "integer",
        "spec",
        "versions",
    ];

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop::sample::select(KEYS).prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                    Value::Object(
                        kv.into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect::<Map<_, _>>(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_json_never_panics_the_checker(schema in json()) {
            let _ = check(&schema);
            let crd = serde_json::json!({"spec": {"versions": [{"schema": {"openAPIV3Schema": schema}}]}});
            let _ = check_crd(&crd);
        }
    }
}
