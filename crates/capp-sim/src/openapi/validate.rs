//! The schema walker behind [`Spec::validate_value`](super::Spec::validate_value).

use serde_json::Value;

use super::{Spec, Violation};

/// Deepest schema nesting followed before giving up (guards against `$ref` cycles that do
/// not consume data).
const MAX_DEPTH: usize = 128;

pub(super) struct Validator<'a> {
    pub(super) spec: &'a Spec,
    pub(super) allow_nulls: bool,
}

impl Validator<'_> {
    pub(super) fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        if depth > MAX_DEPTH {
            push(out, path, "schema nesting is too deep (a $ref cycle?)");
            return;
        }
        let Some(obj) = schema.as_object() else {
            // `true`/`{}` schemas accept anything; `false` nothing.
            if schema == &Value::Bool(false) {
                push(out, path, "no value is allowed here");
            }
            return;
        };
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            match self.spec.resolve(reference) {
                Some(target) => self.check(target, value, path, depth + 1, out),
                None => push(out, path, &format!("unresolvable $ref {reference}")),
            }
            return;
        }

        if value.is_null() {
            let nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);
            if nullable || self.allow_nulls {
                return;
            }
            // A typeless schema (say `{}` or a pure allOf) may still accept null through its
            // branches; a typed one never does.
            if obj.contains_key("type") {
                push(
                    out,
                    path,
                    "null is not allowed: the spec does not mark this field nullable (omit it instead)",
                );
                return;
            }
        }

        if let Some(t) = obj.get("type").and_then(Value::as_str)
            && !type_matches(t, value)
        {
            push(
                out,
                path,
                &format!("expected type {t}, got {}", describe(value)),
            );
            return;
        }

        if let Some(options) = obj.get("enum").and_then(Value::as_array)
            && !options.iter().any(|o| enum_equal(o, value))
        {
            let list: Vec<String> = options.iter().map(Value::to_string).collect();
            push(
                out,
                path,
                &format!(
                    "{value} is not one of the allowed values [{}]",
                    list.join(", ")
                ),
            );
        }

        if let Some(format) = obj.get("format").and_then(Value::as_str)
            && let Some(problem) = format_problem(format, value)
        {
            push(out, path, &problem);
        }

        self.check_numbers(obj, value, path, out);
        self.check_strings(obj, value, path, out);
        self.check_arrays(obj, value, path, depth, out);
        self.check_objects(obj, value, path, depth, out);
        self.check_combinators(obj, value, path, depth, out);
    }

    #[allow(
        clippy::unused_self,
        reason = "kept a method for symmetry with the other checks"
    )]
    fn check_numbers(
        &self,
        obj: &serde_json::Map<String, Value>,
        value: &Value,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let Some(n) = value.as_f64() else { return };
        if let Some(min) = obj.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            push(out, path, &format!("{value} is below the minimum {min}"));
        }
        if let Some(max) = obj.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            push(out, path, &format!("{value} is above the maximum {max}"));
        }
    }

    #[allow(
        clippy::unused_self,
        reason = "kept a method for symmetry with the other checks"
    )]
    fn check_strings(
        &self,
        obj: &serde_json::Map<String, Value>,
        value: &Value,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let Some(s) = value.as_str() else { return };
        let len = s.chars().count() as u64;
        if let Some(min) = obj.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            push(
                out,
                path,
                &format!("string is shorter than minLength {min}"),
            );
        }
        if let Some(max) = obj.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            push(out, path, &format!("string is longer than maxLength {max}"));
        }
    }

    fn check_arrays(
        &self,
        obj: &serde_json::Map<String, Value>,
        value: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        let Some(items) = value.as_array() else {
            return;
        };
        if let Some(min) = obj.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            push(
                out,
                path,
                &format!("array has fewer than minItems {min} items"),
            );
        }
        if let Some(max) = obj.get("maxItems").and_then(Value::as_u64)
            && (items.len() as u64) > max
        {
            push(
                out,
                path,
                &format!("array has more than maxItems {max} items"),
            );
        }
        if obj.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            for (i, a) in items.iter().enumerate() {
                if items[..i].contains(a) {
                    push(
                        out,
                        &format!("{path}[{i}]"),
                        "duplicate item in a uniqueItems array",
                    );
                }
            }
        }
        if let Some(item_schema) = obj.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &format!("{path}[{i}]"), depth + 1, out);
            }
        }
    }

    fn check_objects(
        &self,
        obj: &serde_json::Map<String, Value>,
        value: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        let Some(map) = value.as_object() else { return };
        let properties = obj.get("properties").and_then(Value::as_object);
        if let Some(required) = obj.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(name) {
                    push(out, path, &format!("required property {name:?} is missing"));
                }
            }
        }
        for (key, child) in map {
            let child_path = format!("{path}.{key}");
            match properties.and_then(|p| p.get(key)) {
                Some(prop_schema) => self.check(prop_schema, child, &child_path, depth + 1, out),
                None => match obj.get("additionalProperties") {
                    Some(Value::Bool(false)) => push(
                        out,
                        &child_path,
                        "unknown property: the schema forbids additional properties",
                    ),
                    Some(extra @ Value::Object(_)) => {
                        self.check(extra, child, &child_path, depth + 1, out);
                    }
                    _ => {}
                },
            }
        }
    }

    fn check_combinators(
        &self,
        obj: &serde_json::Map<String, Value>,
        value: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
            for branch in all {
                self.check(branch, value, path, depth + 1, out);
            }
        }
        if let Some(any) = obj.get("anyOf").and_then(Value::as_array) {
            let results: Vec<Vec<Violation>> = any
                .iter()
                .map(|b| self.branch(b, value, path, depth))
                .collect();
            if !results.iter().any(Vec::is_empty) {
                push(
                    out,
                    path,
                    &format!("matches none of anyOf [{}]", summary(any, &results)),
                );
            }
        }
        if let Some(one) = obj.get("oneOf").and_then(Value::as_array) {
            let results: Vec<Vec<Violation>> = one
                .iter()
                .map(|b| self.branch(b, value, path, depth))
                .collect();
            let matched: Vec<String> = one
                .iter()
                .zip(&results)
                .filter(|(_, r)| r.is_empty())
                .map(|(b, _)| branch_name(b))
                .collect();
            match matched.len() {
                1 => {}
                0 => push(
                    out,
                    path,
                    &format!("matches none of oneOf [{}]", summary(one, &results)),
                ),
                _ => {
                    let hint = if matched.iter().any(|m| m == "DeviceCreateInMetroInput")
                        && matched.iter().any(|m| m == "DeviceCreateInFacilityInput")
                    {
                        " (send metro or facility, not both)"
                    } else {
                        ""
                    };
                    push(
                        out,
                        path,
                        &format!(
                            "matches {} branches of oneOf ({}); exactly one is allowed{hint}",
                            matched.len(),
                            matched.join(", ")
                        ),
                    );
                }
            }
        }
        if let Some(not) = obj.get("not")
            && self.branch(not, value, path, depth).is_empty()
        {
            push(out, path, "matches a schema it must not match (`not`)");
        }
    }

    fn branch(&self, schema: &Value, value: &Value, path: &str, depth: usize) -> Vec<Violation> {
        let mut v = Vec::new();
        self.check(schema, value, path, depth + 1, &mut v);
        v
    }
}

fn push(out: &mut Vec<Violation>, path: &str, message: &str) {
    out.push(Violation {
        path: path.to_owned(),
        message: message.to_owned(),
    });
}

fn branch_name(schema: &Value) -> String {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map_or_else(|| "inline schema".to_owned(), str::to_owned)
}

fn summary(branches: &[Value], results: &[Vec<Violation>]) -> String {
    branches
        .iter()
        .zip(results)
        .map(|(b, r)| {
            let first = r.first().map_or_else(String::new, |v| format!(": {v}"));
            format!("{}{first}", branch_name(b))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn type_matches(t: &str, value: &Value) -> bool {
    match t {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64()
                || value.is_u64()
                || value
                    .as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        "array" => value.is_array(),
        "object" => value.is_object(),
        // Unknown type names are a spec problem, not the value's.
        _ => true,
    }
}

fn enum_equal(option: &Value, value: &Value) -> bool {
    if option == value {
        return true;
    }
    // 4 and 4.0 are the same number.
    matches!((option.as_f64(), value.as_f64()), (Some(a), Some(b)) if (a - b).abs() < f64::EPSILON)
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            format!("string {short:?}")
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Loose format checks; `None` when the value is fine or the format is not checked.
fn format_problem(format: &str, value: &Value) -> Option<String> {
    match (format, value) {
        ("uuid", Value::String(s)) => {
            (!crate::ids::is_uuid(s)).then(|| format!("{s:?} is not a UUID"))
        }
        ("date-time", Value::String(s)) => s
            .parse::<jiff::Timestamp>()
            .is_err()
            .then(|| format!("{s:?} is not an RFC 3339 date-time")),
        ("date", Value::String(s)) => s
            .parse::<jiff::civil::Date>()
            .is_err()
            .then(|| format!("{s:?} is not a date (YYYY-MM-DD)")),
        ("ipv4", Value::String(s)) => s
            .parse::<std::net::Ipv4Addr>()
            .is_err()
            .then(|| format!("{s:?} is not an IPv4 address")),
        ("email", Value::String(s)) => {
            (!s.contains('@')).then(|| format!("{s:?} is not an email address"))
        }
        ("int32", Value::Number(n)) => n
            .as_f64()
            .is_some_and(|f| f < f64::from(i32::MIN) || f > f64::from(i32::MAX))
            .then(|| format!("{n} does not fit in int32")),
        ("int64", Value::Number(n)) => (n.as_i64().is_none()
            && n.as_f64()
                .is_some_and(|f| f.fract() == 0.0 && n.as_u64().is_some()))
        .then(|| format!("{n} does not fit in int64")),
        _ => None,
    }
}
