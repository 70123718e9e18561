//! Builders for [`FieldCause`]s worded like `k8s.io/apimachinery/pkg/util/validation/field`.
//!
//! The real server renders a `field.Error` as `<Type>: <bad value>: <detail>` where the bad
//! value is printed with Go's `%q` for strings and `%v` for numbers and booleans; `Required`,
//! `Forbidden` and `TooLong` omit the value.

use serde_json::Value;

use super::FieldCause;

fn cause(reason: &str, field: &str, message: String) -> FieldCause {
    FieldCause {
        reason: reason.to_owned(),
        field: field.to_owned(),
        message,
    }
}

/// Renders a JSON value the way Go's `field.Error.ErrorBody` prints a bad value.
pub(crate) fn render(value: &Value) -> String {
    match value {
        Value::Null => "\"null\"".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => render_number(n),
        Value::String(s) => quote(s),
        Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

/// Renders a number like Go's `%v` of the `int64` or `float64` the JSON decoder produced.
pub(crate) fn render_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "only integral values well inside the i64 range reach the cast"
        )]
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => (f as i64).to_string(),
        Some(f) => f.to_string(),
        None => n.to_string(),
    }
}

/// Go's `strconv.Quote`, close enough: JSON string escaping.
pub(crate) fn quote(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// `field.Required(path, detail)`: `Required value` or `Required value: <detail>`.
pub(crate) fn required(field: &str, detail: &str) -> FieldCause {
    let message = if detail.is_empty() {
        "Required value".to_owned()
    } else {
        format!("Required value: {detail}")
    };
    cause("FieldValueRequired", field, message)
}

/// `field.Invalid(path, value, detail)` with a JSON bad value.
pub(crate) fn invalid_value(field: &str, value: &Value, detail: &str) -> FieldCause {
    invalid_rendered(field, &render(value), detail)
}

/// `field.Invalid(path, value, detail)` with an already rendered bad value.
pub(crate) fn invalid_rendered(field: &str, rendered: &str, detail: &str) -> FieldCause {
    cause(
        "FieldValueInvalid",
        field,
        with_detail(format!("Invalid value: {rendered}"), detail),
    )
}

/// `field.Invalid(path, field.OmitValueType{}, detail)`: `Invalid value: <detail>`.
pub(crate) fn invalid_omitted(field: &str, detail: &str) -> FieldCause {
    cause(
        "FieldValueInvalid",
        field,
        with_detail("Invalid value".to_owned(), detail),
    )
}

/// The cause the server reports instead of CEL errors when schema validation already failed
/// with a blocking error: `field.Invalid(nil, nil, ...)`, filed under the object itself (an
/// empty field here, `<nil>` once admitted). `field.Error.ErrorBody`
/// (k8s.io/apimachinery pkg/util/validation/field/errors.go) renders the nil bad value with
/// `json.Marshal`: `null`, unquoted (servers before 1.34 printed `"null"`).
pub(crate) fn rules_not_checked() -> FieldCause {
    invalid_rendered(
        "",
        "null",
        "some validation rules were not checked because the object was invalid; \
         correct the existing errors to complete validation",
    )
}

/// `field.Duplicate(path, field.OmitValueType{})`: `Duplicate value`.
pub(crate) fn duplicate_omitted(field: &str) -> FieldCause {
    cause("FieldValueDuplicate", field, "Duplicate value".to_owned())
}

/// `field.TypeInvalid(path, value, detail)`.
pub(crate) fn type_invalid(field: &str, rendered: &str, detail: &str) -> FieldCause {
    cause(
        "FieldValueTypeInvalid",
        field,
        with_detail(format!("Invalid value: {rendered}"), detail),
    )
}

/// `field.NotSupported(path, value, supported)`.
pub(crate) fn not_supported(field: &str, value: &Value, supported: &[Value]) -> FieldCause {
    let values: Vec<String> = supported
        .iter()
        .map(|v| match v {
            Value::String(s) => quote(s),
            other => quote(&other.to_string()),
        })
        .collect();
    let mut message = format!("Unsupported value: {}", render(value));
    if !values.is_empty() {
        message.push_str(": supported values: ");
        message.push_str(&values.join(", "));
    }
    cause("FieldValueNotSupported", field, message)
}

/// `field.Forbidden(path, detail)`.
pub(crate) fn forbidden(field: &str, detail: &str) -> FieldCause {
    cause(
        "FieldValueForbidden",
        field,
        with_detail("Forbidden".to_owned(), detail),
    )
}

/// `field.Duplicate(path, value)`.
pub(crate) fn duplicate_rendered(field: &str, rendered: &str) -> FieldCause {
    cause(
        "FieldValueDuplicate",
        field,
        format!("Duplicate value: {rendered}"),
    )
}

/// `field.TooLong(path, value, max)` (Kubernetes 1.31+ wording).
pub(crate) fn too_long(field: &str, max: u64) -> FieldCause {
    let unit = if max == 1 { "byte" } else { "bytes" };
    cause(
        "FieldValueTooLong",
        field,
        format!("Too long: may not be more than {max} {unit}"),
    )
}

/// `field.TooMany(path, actual, max)`.
pub(crate) fn too_many(field: &str, actual: usize, max: u64) -> FieldCause {
    let unit = if max == 1 { "item" } else { "items" };
    cause(
        "FieldValueTooMany",
        field,
        format!("Too many: {actual}: must have at most {max} {unit}"),
    )
}

fn with_detail(mut head: String, detail: &str) -> String {
    if !detail.is_empty() {
        head.push_str(": ");
        head.push_str(detail);
    }
    head
}

/// Appends a property name to a field path (`spec` + `replicas` = `spec.replicas`).
pub(crate) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Appends an array index to a field path (`spec.items` + 0 = `spec.items[0]`).
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Appends a map key the way `field.Path.Key` does (`spec.labels` + `a` = `spec.labels[a]`).
pub(crate) fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}
