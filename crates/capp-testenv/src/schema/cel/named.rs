//! The Kubernetes format library (`k8s.io/apiserver/pkg/cel/library/format.go`):
//! `format.<name>()` returns a named format, `format.named(name)` an optional one, and
//! `<format>.validate(s)` `optional.none()` for a valid string or `optional.of(errors)`.
//! The name rules are `crate::names`' (one implementation of each apimachinery rule).

use std::sync::Arc;

use cel::common::types::{STRING_TYPE, Type};
use cel::common::value::CowVal;
use cel::objects::{Opaque, OptionalValue};
use cel::{DeclarationError, Env, ExecutionError, Value};

use super::library::{arg, owned, str_arg};
use crate::names;

/// The runtime type name of a format (`apiservercel.FormatType`).
const TYPE_NAME: &str = "kubernetes.NamedFormat";

/// The named formats (`ConstantFormats`).
pub(super) const NAMES: [&str; 14] = [
    "dns1123Label",
    "dns1123Subdomain",
    "dns1035Label",
    "qualifiedName",
    "portName",
    "dns1123LabelPrefix",
    "dns1123SubdomainPrefix",
    "dns1035LabelPrefix",
    "labelValue",
    "uri",
    "uuid",
    "byte",
    "date",
    "datetime",
];

/// A named format, a value of `format.<name>()`.
#[derive(Debug, PartialEq, Eq)]
struct NamedFormat(&'static str);

impl Opaque for NamedFormat {
    fn runtime_type_name(&self) -> &str {
        TYPE_NAME
    }
}

/// The errors `value` has against the format `name` (empty when valid), worded as
/// apimachinery's validators.
fn validate(name: &str, value: &str) -> Vec<String> {
    // `NameIsDNSLabel(s, true)` and friends: a generateName prefix may end with a dash.
    let prefix = |s: &str| -> String {
        if s.len() > 1 && s.ends_with('-') {
            format!("{}a", &s[..s.len() - 1])
        } else {
            s.to_owned()
        }
    };
    match name {
        "dns1123Label" => names::dns1123_label(value),
        "dns1123Subdomain" => names::dns1123_subdomain(value),
        "dns1035Label" => names::dns1035_label(value),
        "qualifiedName" => names::qualified_name(value),
        "portName" => port_name(value),
        "dns1123LabelPrefix" => names::dns1123_label(&prefix(value)),
        "dns1123SubdomainPrefix" => names::dns1123_subdomain(&prefix(value)),
        "dns1035LabelPrefix" => names::dns1035_label(&prefix(value)),
        "labelValue" => names::label_value(value),
        "uri" if !crate::schema::formats::is_uri(value) => {
            vec![format!("parse {value:?}: invalid URI for request")]
        }
        "uuid" if !crate::schema::formats::format_ok("uuid", value) => {
            vec!["does not match the UUID format".to_owned()]
        }
        "byte" if !crate::schema::formats::format_ok("byte", value) => {
            vec!["invalid base64".to_owned()]
        }
        "date" if !crate::schema::formats::format_ok("date", value) => {
            vec!["invalid date".to_owned()]
        }
        "datetime" if !crate::schema::formats::format_ok("date-time", value) => {
            vec!["invalid datetime".to_owned()]
        }
        _ => Vec::new(),
    }
}

/// `validation.IsValidPortName`: at most 15 characters, lowercase alphanumerics and
/// non-consecutive dashes, at least one letter.
fn port_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.is_empty() || value.len() > 15 {
        errs.push("must be no more than 15 characters".to_owned());
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_owned(),
        );
    }
    if value.contains("--") {
        errs.push("must not contain consecutive hyphens".to_owned());
    }
    if !value.is_empty() && (value.starts_with('-') || value.ends_with('-')) {
        errs.push("must not begin or end with a hyphen".to_owned());
    }
    if !value.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_owned());
    }
    errs
}

fn format_type() -> Type {
    Type::new_opaque_type(TYPE_NAME)
}

/// Registers `format.<name>()`, `format.named(name)` and `<format>.validate(s)`.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    macro_rules! constant {
        ($($name:literal),*) => {$(
            env.add_overload(
                concat!("format.", $name),
                concat!("format_", $name),
                vec![],
                |_args| owned(Value::Opaque(Arc::new(NamedFormat($name)))),
            )?;
        )*};
    }
    constant!(
        "dns1123Label",
        "dns1123Subdomain",
        "dns1035Label",
        "qualifiedName",
        "portName",
        "dns1123LabelPrefix",
        "dns1123SubdomainPrefix",
        "dns1035LabelPrefix",
        "labelValue",
        "uri",
        "uuid",
        "byte",
        "date",
        "datetime"
    );
    env.add_overload("format.named", "format_named", vec![STRING_TYPE], named)?;
    env.add_member_overload(
        "validate",
        "format_validate",
        format_type(),
        vec![STRING_TYPE],
        validate_fn,
    )?;
    Ok(())
}

fn optional(value: Option<Value>) -> Value {
    Value::Opaque(Arc::new(match value {
        Some(v) => OptionalValue::of(v),
        None => OptionalValue::none(),
    }))
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "cel's Function signature takes the argument vector by value"
)]
fn named<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let name = str_arg(&args, 0)?;
    let found = NAMES
        .iter()
        .find(|n| **n == name.as_str())
        .map(|n| Value::Opaque(Arc::new(NamedFormat(n))));
    owned(optional(found))
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "cel's Function signature takes the argument vector by value"
)]
fn validate_fn<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let Value::Opaque(format) = arg(&args, 0)? else {
        return Err(ExecutionError::function_error("validate", "not a format"));
    };
    let Some(NamedFormat(name)) = format.downcast_ref::<NamedFormat>() else {
        return Err(ExecutionError::function_error("validate", "not a format"));
    };
    let value = str_arg(&args, 1)?;
    let errors = validate(name, &value);
    let result = (!errors.is_empty()).then(|| {
        Value::List(Arc::new(
            errors
                .into_iter()
                .map(|e| Value::String(Arc::new(e)))
                .collect(),
        ))
    });
    owned(optional(result))
}
