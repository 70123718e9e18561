//! Value checks used by the default validation: JSON type, enum, bounds and unknown fields.

use serde_json::Value;

use super::{
    additional_schema, child, flag, index, invalid, items_schema, list, props, render, required, ty,
};

/// Whether a JSON value is Go's zero value (what `reflect.DeepEqual(v, zero)` skips).
pub(super) fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

pub(super) fn is_int_or_string_any_of(s: &Value) -> bool {
    let any_of = list(s, "anyOf");
    any_of.len() == 2
        && any_of[0] == serde_json::json!({"type": "integer"})
        && any_of[1] == serde_json::json!({"type": "string"})
}

/// Whether a CEL rule mentions the `oldSelf` variable (a token, not part of a longer name).
pub(super) fn uses_old_self(rule: &str) -> bool {
    let bytes = rule.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    rule.match_indices("oldSelf").any(|(at, m)| {
        let before = at.checked_sub(1).and_then(|i| bytes.get(i)).copied();
        let after = bytes.get(at + m.len()).copied();
        before.is_none_or(|b| !ident(b) && b != b'.') && after.is_none_or(|b| !ident(b))
    })
}

/// Whether pruning `value` with schema `s` would drop a field (the apiserver's `Prune`).
pub(super) fn has_unknown_fields(value: &Value, s: &Value, embedded: bool) -> bool {
    match value {
        Value::Object(map) => {
            if flag(s, "x-kubernetes-preserve-unknown-fields")
                && props(s).is_none()
                && additional_schema(s).is_none()
            {
                return false;
            }
            let p = props(s);
            let ap = additional_schema(s);
            let preserve = flag(s, "x-kubernetes-preserve-unknown-fields")
                || s.get("additionalProperties") == Some(&Value::Bool(true));
            map.iter().any(|(k, v)| {
                if embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    return false;
                }
                if let Some(sub) = p.and_then(|p| p.get(k)) {
                    has_unknown_fields(v, sub, flag(sub, "x-kubernetes-embedded-resource"))
                } else if let Some(sub) = ap {
                    has_unknown_fields(v, sub, flag(sub, "x-kubernetes-embedded-resource"))
                } else {
                    !preserve
                }
            })
        }
        Value::Array(items) => items_schema(s).is_some_and(|item| {
            items
                .iter()
                .any(|v| has_unknown_fields(v, item, flag(item, "x-kubernetes-embedded-resource")))
        }),
        _ => false,
    }
}

pub(super) fn json_type_matches(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => true,
    }
}

/// Validates a default against the structural schema, collecting `(path, message)` pairs.
pub(super) fn validate_value(
    value: &Value,
    s: &Value,
    path: &str,
    errs: &mut Vec<(String, String)>,
) {
    if value.is_null() {
        if !flag(s, "nullable") && !ty(s).is_empty() {
            errs.push((
                path.to_owned(),
                invalid(value, &format!("must be of type {}", ty(s))),
            ));
        }
        return;
    }
    let t = ty(s);
    if flag(s, "x-kubernetes-int-or-string") {
        if !(json_type_matches(value, "integer") || value.is_string()) {
            errs.push((
                path.to_owned(),
                invalid(value, "must be an integer or a string"),
            ));
            return;
        }
    } else if !t.is_empty() && !json_type_matches(value, t) {
        errs.push((
            path.to_owned(),
            invalid(value, &format!("must be of type {t}")),
        ));
        return;
    }
    let enum_values = list(s, "enum");
    if !enum_values.is_empty() && !enum_values.contains(value) {
        let allowed: Vec<String> = enum_values.iter().map(render).collect();
        errs.push((
            path.to_owned(),
            format!(
                "Unsupported value: {}: supported values: {}",
                render(value),
                allowed.join(", ")
            ),
        ));
    }
    validate_bounds(value, s, path, errs);
    match value {
        Value::Array(items) => {
            if let Some(item) = items_schema(s) {
                for (i, v) in items.iter().enumerate() {
                    validate_value(v, item, &index(path, i), errs);
                }
            }
        }
        Value::Object(map) => {
            for r in list(s, "required").iter().filter_map(Value::as_str) {
                if !map.contains_key(r) {
                    errs.push((child(path, r), required("")));
                }
            }
            let p = props(s);
            let ap = additional_schema(s);
            for (k, v) in map {
                if let Some(sub) = p.and_then(|p| p.get(k)).or(ap) {
                    validate_value(v, sub, &child(path, k), errs);
                }
            }
        }
        _ => {}
    }
}

/// Length and range limits of one value (not recursing).
pub(super) fn validate_bounds(
    value: &Value,
    s: &Value,
    path: &str,
    errs: &mut Vec<(String, String)>,
) {
    let num = |k: &str| s.get(k).and_then(Value::as_u64);
    match value {
        Value::String(text) => {
            let len = text.chars().count() as u64;
            if let Some(max) = num("maxLength")
                && len > max
            {
                errs.push((
                    path.to_owned(),
                    format!("Too long: may not be more than {max} bytes"),
                ));
            }
            if let Some(min) = num("minLength")
                && len < min
            {
                errs.push((
                    path.to_owned(),
                    invalid(value, &format!("should be at least {min} chars long")),
                ));
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            if let Some(max) = s.get("maximum").and_then(Value::as_f64)
                && (x > max || (flag(s, "exclusiveMaximum") && x >= max))
            {
                errs.push((
                    path.to_owned(),
                    invalid(value, &format!("should be less than or equal to {max}")),
                ));
            }
            if let Some(min) = s.get("minimum").and_then(Value::as_f64)
                && (x < min || (flag(s, "exclusiveMinimum") && x <= min))
            {
                errs.push((
                    path.to_owned(),
                    invalid(value, &format!("should be greater than or equal to {min}")),
                ));
            }
        }
        Value::Array(items) => {
            let len = items.len() as u64;
            if let Some(max) = num("maxItems")
                && len > max
            {
                errs.push((
                    path.to_owned(),
                    format!("Too many: {len}: must have at most {max} items"),
                ));
            }
            if let Some(min) = num("minItems")
                && len < min
            {
                errs.push((
                    path.to_owned(),
                    invalid(value, &format!("should have at least {min} items")),
                ));
            }
        }
        _ => {}
    }
}
