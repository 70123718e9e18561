//! Parses an `openAPIV3Schema` JSON value into a [`Node`] tree, once per CRD version.
//!
//! Parsing is lenient about shape (the structural check reports shape problems); it never
//! panics on odd input and records every problem it has to give up on as a cause.

use regex::Regex;
use serde_json::{Map, Value};

use super::FieldCause;
use super::cel::CelEnv;
use super::errors;
use super::node::{Bound, ListType, Node, Type};

/// Runs the structural check and turns its violations into causes.
pub(crate) fn structural_causes(schema: &Value) -> Vec<FieldCause> {
    match super::structural::check(schema) {
        Ok(()) => Vec::new(),
        Err(violations) => violations
            .into_iter()
            .map(|v| FieldCause {
                reason: reason_of_message(&v.message).to_owned(),
                field: v.path,
                message: v.message,
            })
            .collect(),
    }
}

/// The `FieldValue*` reason of a `field.Error` body, read from its leading type string.
pub(crate) fn reason_of_message(message: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 8] = [
        ("Required value", "FieldValueRequired"),
        ("Unsupported value", "FieldValueNotSupported"),
        ("Forbidden", "FieldValueForbidden"),
        ("Duplicate value", "FieldValueDuplicate"),
        ("Too long", "FieldValueTooLong"),
        ("Too many", "FieldValueTooMany"),
        ("Not found", "FieldValueNotFound"),
        ("Internal error", "InternalError"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| message.starts_with(prefix))
        .map_or("FieldValueInvalid", |(_, reason)| reason)
}

/// Compiles the root schema. Problems are appended to `causes`.
pub(crate) fn compile_root(schema: &Value, cel: &CelEnv, causes: &mut Vec<FieldCause>) -> Node {
    // The root's rules run once per object (`RootCELContext`).
    let root = Place::Tree {
        cardinality: Some(1),
    };
    let mut node = compile_node(schema, "openAPIV3Schema", cel, causes, root);
    // The resource root always behaves as an embedded resource: apiVersion, kind and metadata
    // survive pruning (upstream clones the root schema with XEmbeddedResource = true).
    node.embedded = true;
    node.resource_root = true;
    node
}

/// Where a schema sits.
#[derive(Clone, Copy)]
enum Place {
    /// Inside `allOf`/`anyOf`/`oneOf`/`not`: value validations only, no CEL rules.
    Junctor,
    /// In the structural tree, where a value of this schema can occur `cardinality` times
    /// in one object (`None` when an enclosing list or map is unbounded:
    /// `CELSchemaContext.MaxCardinality`).
    Tree { cardinality: Option<u64> },
}

fn compile_node(
    schema: &Value,
    path: &str,
    cel: &CelEnv,
    causes: &mut Vec<FieldCause>,
    place: Place,
) -> Node {
    let structural = matches!(place, Place::Tree { .. });
    let mut node = Node {
        schema_path: path.to_owned(),
        ..Node::default()
    };
    let Some(obj) = schema.as_object() else {
        causes.push(errors::invalid_rendered(
            path,
            &errors::quote(json_type_name(schema)),
            "must be an object",
        ));
        return node;
    };

    if let Some(t) = obj.get("type") {
        match t.as_str().and_then(Type::parse) {
            Some(t) => node.ty = Some(t),
            None => causes.push(errors::not_supported(
                &format!("{path}.type"),
                t,
                &["array", "boolean", "integer", "number", "object", "string"]
                    .map(|s| Value::String(s.to_owned())),
            )),
        }
    }
    node.nullable = flag(obj, "nullable");
    node.int_or_string = flag(obj, "x-kubernetes-int-or-string");
    node.preserve_unknown = flag(obj, "x-kubernetes-preserve-unknown-fields");
    node.embedded = flag(obj, "x-kubernetes-embedded-resource");
    node.default = obj.get("default").cloned();
    node.unique_items = flag(obj, "uniqueItems");

    compile_value_validations(&mut node, obj, path, causes);

    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (key, sub) in props {
            let sub_path = errors::key(&format!("{path}.properties"), key);
            let child = compile_node(sub, &sub_path, cel, causes, place);
            node.properties.insert(key.clone(), child);
        }
    }
    match obj.get("additionalProperties") {
        Some(sub @ Value::Object(_)) => {
            let sub_path = format!("{path}.additionalProperties");
            let times = place.times(obj.get("maxProperties"));
            node.additional = Some(Box::new(compile_node(sub, &sub_path, cel, causes, times)));
        }
        Some(Value::Bool(true)) => {
            node.additional = Some(Box::new(Node {
                preserve_unknown: true,
                schema_path: format!("{path}.additionalProperties"),
                ..Node::default()
            }));
        }
        _ => {}
    }
    if let Some(items) = obj.get("items") {
        let sub_path = format!("{path}.items");
        let times = place.times(obj.get("maxItems"));
        node.items = Some(Box::new(compile_node(items, &sub_path, cel, causes, times)));
    }
    compile_junctors(&mut node, obj, path, cel, causes);

    node.list_type = match obj.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => ListType::Set,
        Some("map") => ListType::Map(
            obj.get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|keys| {
                    keys.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => ListType::Atomic,
    };

    if structural && let Some(rules) = obj.get("x-kubernetes-validations") {
        node.rules = cel.compile_rules(
            rules,
            &node,
            path == "openAPIV3Schema",
            &format!("{path}.x-kubernetes-validations"),
            match place {
                Place::Tree { cardinality } => cardinality,
                Place::Junctor => None,
            },
            causes,
        );
    }
    node.has_rules_below = !node.rules.is_empty()
        || node.properties.values().any(|n| n.has_rules_below)
        || node.additional.as_ref().is_some_and(|n| n.has_rules_below)
        || node.items.as_ref().is_some_and(|n| n.has_rules_below);
    node
}

impl Place {
    /// The place of the items or values of a list or map bounded by `max` (`maxItems`,
    /// `maxProperties`): unbounded without it (`childContext`, `extractMaxElements`).
    fn times(self, max: Option<&Value>) -> Place {
        match self {
            Place::Junctor => Place::Junctor,
            Place::Tree { cardinality } => Place::Tree {
                cardinality: cardinality.and_then(|c| {
                    let max = max?.as_i64()?;
                    Some(c.saturating_mul(u64::try_from(max).unwrap_or(0)))
                }),
            },
        }
    }
}

/// `allOf`, `anyOf`, `oneOf` and `not`: value validations only (no CEL rules inside).
fn compile_junctors(
    node: &mut Node,
    obj: &Map<String, Value>,
    path: &str,
    cel: &CelEnv,
    causes: &mut Vec<FieldCause>,
) {
    for (keyword, target) in [
        ("allOf", &mut node.all_of),
        ("anyOf", &mut node.any_of),
        ("oneOf", &mut node.one_of),
    ] {
        if let Some(list) = obj.get(keyword).and_then(Value::as_array) {
            for (i, sub) in list.iter().enumerate() {
                let sub_path = errors::index(&format!("{path}.{keyword}"), i);
                target.push(compile_node(sub, &sub_path, cel, causes, Place::Junctor));
            }
        }
    }
    if let Some(sub) = obj.get("not") {
        let sub_path = format!("{path}.not");
        node.not = Some(Box::new(compile_node(
            sub,
            &sub_path,
            cel,
            causes,
            Place::Junctor,
        )));
    }
}

fn compile_value_validations(
    node: &mut Node,
    obj: &Map<String, Value>,
    path: &str,
    causes: &mut Vec<FieldCause>,
) {
    if let Some(required) = obj.get("required").and_then(Value::as_array) {
        node.required = required
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    node.enumeration = obj.get("enum").and_then(Value::as_array).cloned();
    if let Some(pattern) = obj.get("pattern").and_then(Value::as_str) {
        match Regex::new(pattern) {
            Ok(re) => node.pattern = Some((pattern.to_owned(), re)),
            Err(e) => causes.push(errors::invalid_value(
                &format!("{path}.pattern"),
                &Value::String(pattern.to_owned()),
                &format!("must be a valid regular expression, but isn't: {e}"),
            )),
        }
    }
    node.format = obj.get("format").and_then(Value::as_str).map(str::to_owned);
    node.minimum = obj
        .get("minimum")
        .and_then(Value::as_f64)
        .map(|value| Bound {
            value,
            exclusive: flag(obj, "exclusiveMinimum"),
        });
    node.maximum = obj
        .get("maximum")
        .and_then(Value::as_f64)
        .map(|value| Bound {
            value,
            exclusive: flag(obj, "exclusiveMaximum"),
        });
    node.multiple_of = obj.get("multipleOf").and_then(Value::as_f64);
    node.min_length = obj.get("minLength").and_then(Value::as_u64);
    node.max_length = obj.get("maxLength").and_then(Value::as_u64);
    node.min_items = obj.get("minItems").and_then(Value::as_u64);
    node.max_items = obj.get("maxItems").and_then(Value::as_u64);
    node.min_properties = obj.get("minProperties").and_then(Value::as_u64);
    node.max_properties = obj.get("maxProperties").and_then(Value::as_u64);
}

fn flag(obj: &Map<String, Value>, key: &str) -> bool {
    obj.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The JSON Schema type name of a value, as kube-openapi reports it in type errors.
pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
