//! Checks that a CRD `openAPIV3Schema` is structural, by the apiextensions rules.
//!
//! A real API server refuses a `CustomResourceDefinition` whose schema is not *structural*
//! (KEP-1002, `k8s.io/apiextensions-apiserver`), and that refusal is the most common way a
//! provider fails on day one. This module re-implements those rules over plain JSON so that
//! tests (and the `capp-testenv` API server) can reject the same CRDs a real apiserver rejects:
//!
//! - `pkg/apis/apiextensions/validation` (`ValidateCustomResourceDefinitionOpenAPISchema` and
//!   the OpenAPI v3 standard validator): unsupported keywords (`$ref`, `definitions`, ...),
//!   `uniqueItems`, `additionalProperties` versus `properties`, list and map types, list map
//!   keys, `x-kubernetes-validations` shape, the status-subresource root restriction;
//! - `pkg/apiserver/schema` (`ValidateStructural`): every node typed, nothing but value
//!   validations inside `allOf`/`anyOf`/`oneOf`/`not`, the two `x-kubernetes-int-or-string`
//!   patterns, embedded resources, root `metadata` restricted to `name` and `generateName`,
//!   and every field named in a value validation also specified structurally;
//! - `pkg/apiserver/schema/defaulting` (`ValidateDefaults`): defaults are pruned and valid.
//!
//! Messages follow the apiserver's `field.Error` wording (`Required value: ...`,
//! `Forbidden: ...`, `Invalid value: ...`), and paths its `field.Path` notation
//! (`spec.versions[0].schema.openAPIV3Schema.properties[foo].type`).
//!
//! # Caveats
//!
//! - CEL rules are checked for shape only (non-empty rule, message without line breaks, a
//!   supported `reason`, `oldSelf` only where old and new values correlate); they are not
//!   compiled, and cost estimation is not done.
//! - `pattern` regular expressions and `format` names are not compiled or checked.
//! - Defaults are checked against type, `enum`, `nullable`, `required`, lengths, bounds and
//!   unknown fields; `pattern`, `multipleOf` and `allOf`/`anyOf`/`oneOf`/`not` are not applied.
//! - `null` inside `enum` without `nullable: true` is rejected here. The apiserver accepts
//!   such a schema, but that enum member can never validate, so it is always a mistake.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

/// Which apiextensions rule a [`Violation`] breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// A node (root, object field, array items) does not specify a `type`, and neither
    /// `x-kubernetes-int-or-string` nor `x-kubernetes-preserve-unknown-fields` allows that.
    TypeRequired,
    /// `type` is not one of `array`, `boolean`, `integer`, `number`, `object`, `string`
    /// (including `type: null`, which must be written as `nullable: true`).
    TypeUnsupported,
    /// The root of the schema is not `type: object`, or is `nullable`.
    Root,
    /// A node with `type: array` has no `items`, or `items` is a list of schemas.
    Items,
    /// `type`, `title`, `description`, `default`, `nullable`, `additionalProperties` or an
    /// `x-kubernetes-*` extension is set inside `allOf`, `anyOf`, `oneOf` or `not`.
    ValueValidation,
    /// A property or items schema is used inside a value validation (`allOf`, ...) without a
    /// counterpart in the structural part of the schema.
    Completeness,
    /// `additionalProperties` is set together with `properties`, set to `false`, or used at the
    /// root of a resource.
    AdditionalProperties,
    /// A keyword the apiserver does not support: `$ref`, `$schema`, `definitions`,
    /// `dependencies`, `id`, `patternProperties` or `additionalItems`.
    UnsupportedKeyword,
    /// A key that `JSONSchemaProps` does not have, or a keyword with a value of the wrong JSON
    /// type (`required: "name"`).
    Malformed,
    /// `uniqueItems: true` (quadratic validation cost).
    UniqueItems,
    /// `enum` contains `null` but the node is not `nullable: true`.
    Enum,
    /// The schema of `metadata`, `apiVersion` or `kind` at a resource root says more than the
    /// apiserver allows (root `metadata` may only restrict `name` and `generateName`).
    Metadata,
    /// `x-kubernetes-int-or-string` is combined with `x-kubernetes-preserve-unknown-fields` or
    /// `x-kubernetes-embedded-resource`.
    IntOrString,
    /// `x-kubernetes-embedded-resource` is used on a non-object, with `additionalProperties`,
    /// without properties or preserve-unknown-fields, or inside resource metadata.
    EmbeddedResource,
    /// `x-kubernetes-preserve-unknown-fields` is set to `false` (it must be `true` or absent).
    PreserveUnknownFields,
    /// `x-kubernetes-list-type` is unsupported, on a non-array, or a `set` of non-atomic items.
    ListType,
    /// `x-kubernetes-map-type` is unsupported or on a non-object.
    MapType,
    /// `x-kubernetes-list-map-keys` is missing for a `map` list, or names keys that are not
    /// scalar item properties, are duplicated, nullable, or neither required nor defaulted.
    ListMapKeys,
    /// A `default` is set where defaults are forbidden, has unknown (unpruned) fields, or does
    /// not validate against its own schema.
    Default,
    /// An `x-kubernetes-validations` entry is malformed (empty rule, message with line breaks,
    /// unsupported reason, `oldSelf` on an uncorrelatable part of the schema).
    Validations,
    /// The status subresource is enabled and the root schema uses keywords other than the ones
    /// the apiserver allows there.
    StatusSubresource,
    /// The CustomResourceDefinition is missing a version schema, or sets
    /// `spec.preserveUnknownFields: true`.
    Crd,
}

/// One reason a schema is not structural (or otherwise rejected by the apiserver).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Field path in the apiserver's notation, for example
    /// `spec.versions[0].schema.openAPIV3Schema.properties[foo].type`.
    pub path: String,
    /// The rule that is broken.
    pub rule: Rule,
    /// The apiserver's error body, for example `Required value: must not be empty for
    /// specified object fields`.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Checks one CRD version's `openAPIV3Schema` (as JSON).
///
/// Paths in the returned violations start at `openAPIV3Schema`. Violations are sorted by
/// their text, as the apiserver sorts its errors.
pub fn check(schema: &Value) -> Result<(), Vec<Violation>> {
    finish(check_schema(schema, "openAPIV3Schema", false))
}

/// Checks every version schema of a whole `CustomResourceDefinition` (as JSON).
///
/// Paths start at the CRD (`spec.versions[0].schema.openAPIV3Schema...`). A version without a
/// schema is a violation, as it is for `apiextensions.k8s.io/v1`.
pub fn check_crd(crd: &Value) -> Result<(), Vec<Violation>> {
    let mut out = Vec::new();
    let spec = crd.get("spec");
    if spec.and_then(|s| s.get("preserveUnknownFields")) == Some(&Value::Bool(true)) {
        out.push(violation(
            "spec.preserveUnknownFields".to_owned(),
            Rule::Crd,
            invalid(
                &Value::Bool(true),
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in \
                 spec.versions[*].schema instead",
            ),
        ));
    }
    let versions = spec
        .and_then(|s| s.get("versions"))
        .and_then(Value::as_array);
    match versions {
        None => out.push(violation(
            "spec.versions".to_owned(),
            Rule::Crd,
            required("must have exactly one version marked as storage version"),
        )),
        Some(versions) => {
            for (i, version) in versions.iter().enumerate() {
                let base = format!("spec.versions[{i}].schema.openAPIV3Schema");
                let status = version
                    .get("subresources")
                    .and_then(|s| s.get("status"))
                    .is_some_and(|s| !s.is_null());
                match version.get("schema").and_then(|s| s.get("openAPIV3Schema")) {
                    Some(schema) if !schema.is_null() => {
                        out.extend(check_schema(schema, &base, status));
                    }
                    _ => out.push(violation(base, Rule::Crd, required("schemas are required"))),
                }
            }
        }
    }
    finish(out)
}

fn finish(mut out: Vec<Violation>) -> Result<(), Vec<Violation>> {
    if out.is_empty() {
        return Ok(());
    }
    out.sort_by_key(ToString::to_string);
    out.dedup();
    Err(out)
}

fn check_schema(schema: &Value, base: &str, status_subresource: bool) -> Vec<Violation> {
    let mut c = Checker::default();
    if !schema.is_object() {
        c.push(base, Rule::Malformed, invalid(schema, "must be an object"));
        return c.out;
    }
    if status_subresource {
        c.status_root(schema, base);
    }
    if flag(schema, "nullable") {
        c.push(
            &child(base, "nullable"),
            Rule::Root,
            forbidden("nullable cannot be true at the root"),
        );
    }
    let ctx = Ctx {
        allow_defaults: true,
        ..Ctx::default()
    };
    c.openapi(schema, base, &ctx, true);
    c.invariants(schema, Level::Root, base);
    c.completeness(schema, base);
    c.defaults(schema, base, true);
    c.out
}

/// Keys of `JSONSchemaProps`.
const KNOWN_KEYS: &[&str] = &[
    "id",
    "$schema",
    "$ref",
    "description",
    "type",
    "format",
    "title",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "enum",
    "maxProperties",
    "minProperties",
    "required",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "properties",
    "additionalProperties",
    "patternProperties",
    "dependencies",
    "additionalItems",
    "definitions",
    "externalDocs",
    "example",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
];

/// Keys allowed at the root when the status subresource is enabled, with the Go field names
/// the apiserver prints.
const STATUS_ROOT_KEYS: &[(&str, &str)] = &[
    ("description", "Description"),
    ("type", "Type"),
    ("format", "Format"),
    ("title", "Title"),
    ("maximum", "Maximum"),
    ("exclusiveMaximum", "ExclusiveMaximum"),
    ("minimum", "Minimum"),
    ("exclusiveMinimum", "ExclusiveMinimum"),
    ("maxLength", "MaxLength"),
    ("minLength", "MinLength"),
    ("pattern", "Pattern"),
    ("maxItems", "MaxItems"),
    ("minItems", "MinItems"),
    ("uniqueItems", "UniqueItems"),
    ("multipleOf", "MultipleOf"),
    ("required", "Required"),
    ("items", "Items"),
    ("properties", "Properties"),
    ("externalDocs", "ExternalDocs"),
    ("example", "Example"),
    (
        "x-kubernetes-preserve-unknown-fields",
        "XPreserveUnknownFields",
    ),
    ("x-kubernetes-validations", "XValidations"),
];

const OPENAPI_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

const VALIDATION_REASONS: &[&str] = &[
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

/// Inherited state of the OpenAPI walk (the Go `specStandardValidatorV3`).
#[derive(Clone, Debug, Default)]
struct Ctx {
    allow_defaults: bool,
    disallow_defaults_reason: Option<String>,
    inside_resource_meta: bool,
    /// Path of the first ancestor whose old and new values cannot be correlated.
    uncorrelatable: Option<String>,
}

impl Ctx {
    fn forbid_defaults(&self, reason: String) -> Self {
        Self {
            allow_defaults: false,
            disallow_defaults_reason: Some(reason),
            ..self.clone()
        }
    }

    fn uncorrelatable_at(&self, path: &str) -> Self {
        let mut clone = self.clone();
        if clone.uncorrelatable.is_none() {
            clone.uncorrelatable = Some(path.to_owned());
        }
        clone
    }
}

#[derive(Debug, Default)]
struct Checker {
    out: Vec<Violation>,
}

fn violation(path: String, rule: Rule, message: String) -> Violation {
    Violation {
        path,
        rule,
        message,
    }
}

fn child(path: &str, name: &str) -> String {
    format!("{path}.{name}")
}

fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn required(detail: &str) -> String {
    if detail.is_empty() {
        "Required value".to_owned()
    } else {
        format!("Required value: {detail}")
    }
}

fn forbidden(detail: &str) -> String {
    format!("Forbidden: {detail}")
}

fn invalid(value: &Value, detail: &str) -> String {
    format!("Invalid value: {}: {detail}", render(value))
}

fn not_supported(value: &str, supported: &[&str]) -> String {
    let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
    format!(
        "Unsupported value: {value:?}: supported values: {}",
        list.join(", ")
    )
}

/// Renders a value the way Go's `field.Invalid` does (strings quoted, the rest as JSON).
fn render(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn ty(s: &Value) -> &str {
    s.get("type").and_then(Value::as_str).unwrap_or("")
}

fn flag(s: &Value, name: &str) -> bool {
    s.get(name) == Some(&Value::Bool(true))
}

fn props(s: &Value) -> Option<&Map<String, Value>> {
    s.get("properties").and_then(Value::as_object)
}

fn list<'a>(s: &'a Value, name: &str) -> &'a [Value] {
    s.get(name)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn present(s: &Value, name: &str) -> bool {
    s.get(name).is_some_and(|v| !v.is_null())
}

/// `additionalProperties` as a schema, when it is one.
fn additional_schema(s: &Value) -> Option<&Value> {
    s.get("additionalProperties").filter(|v| v.is_object())
}

/// `items` as a single schema, when it is one.
fn items_schema(s: &Value) -> Option<&Value> {
    s.get("items").filter(|v| v.is_object())
}

fn is_scalar_type(t: &str) -> bool {
    !matches!(t, "array" | "object")
}

mod openapi;
mod structure;
mod values;

#[cfg(test)]
mod tests;
