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

impl Checker {
    fn push(&mut self, path: &str, rule: Rule, message: String) {
        self.out.push(violation(path.to_owned(), rule, message));
    }

    fn status_root(&mut self, schema: &Value, base: &str) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        if present(schema, "type") && ty(schema) != "object" {
            self.push(
                &child(base, "type"),
                Rule::StatusSubresource,
                invalid(
                    schema.get("type").unwrap_or(&Value::Null),
                    "only \"object\" is allowed as the type at the root of the schema if the \
                     status subresource is enabled",
                ),
            );
        }
        let allowed: BTreeSet<&str> = STATUS_ROOT_KEYS.iter().map(|(k, _)| *k).collect();
        if obj
            .iter()
            .any(|(k, v)| !allowed.contains(k.as_str()) && !is_zero(v))
        {
            let names: Vec<&str> = STATUS_ROOT_KEYS.iter().map(|(_, go)| *go).collect();
            self.push(
                base,
                Rule::StatusSubresource,
                invalid(
                    &Value::String("openAPIV3Schema".to_owned()),
                    &format!(
                        "only [{}] fields are allowed at the root of the schema if the status \
                         subresource is enabled",
                        names.join(" ")
                    ),
                ),
            );
        }
    }

    /// The OpenAPI v3 rules of `ValidateCustomResourceDefinitionOpenAPISchema`.
    #[allow(
        clippy::too_many_lines,
        reason = "mirrors the apiserver function rule by rule, which keeps it reviewable against it"
    )]
    fn openapi(&mut self, s: &Value, path: &str, ctx: &Ctx, is_root: bool) {
        let Some(obj) = s.as_object() else {
            self.push(path, Rule::Malformed, invalid(s, "must be a schema object"));
            return;
        };
        self.keywords(obj, path);
        self.standard(s, path, ctx);

        if flag(s, "uniqueItems") {
            self.push(
                &child(path, "uniqueItems"),
                Rule::UniqueItems,
                forbidden("uniqueItems cannot be set to true since the runtime complexity becomes quadratic"),
            );
        }

        if let Some(ap) = s.get("additionalProperties") {
            let has_props = props(s).is_some_and(|p| !p.is_empty());
            if ap == &Value::Bool(false) {
                self.push(
                    &child(path, "additionalProperties"),
                    Rule::AdditionalProperties,
                    forbidden("additionalProperties cannot be set to false"),
                );
            }
            if has_props && (ap == &Value::Bool(false) || ap.is_object()) {
                self.push(
                    &child(path, "additionalProperties"),
                    Rule::AdditionalProperties,
                    forbidden("additionalProperties and properties are mutual exclusive"),
                );
            }
            if let Some(sub) = additional_schema(s) {
                let sub_ctx = if ctx.inside_resource_meta {
                    ctx.forbid_defaults(
                        "inside additionalProperties applying to object metadata".to_owned(),
                    )
                } else {
                    ctx.clone()
                };
                self.openapi(sub, &child(path, "additionalProperties"), &sub_ctx, false);
            }
        }

        if let Some(p) = props(s) {
            let embedded = flag(s, "x-kubernetes-embedded-resource");
            let map_correlatable = s
                .get("x-kubernetes-map-type")
                .and_then(Value::as_str)
                .is_none_or(|t| t == "granular");
            for (name, sub) in p {
                let mut sub_ctx = if map_correlatable {
                    ctx.clone()
                } else {
                    ctx.uncorrelatable_at(path)
                };
                if (is_root || embedded)
                    && matches!(name.as_str(), "metadata" | "kind" | "apiVersion")
                {
                    sub_ctx.inside_resource_meta = true;
                    if is_root {
                        sub_ctx = sub_ctx.forbid_defaults(format!("in top-level {name}"));
                    }
                }
                self.openapi(sub, &key(&child(path, "properties"), name), &sub_ctx, false);
            }
        }

        if let Some(not) = s.get("not") {
            self.openapi(not, &child(path, "not"), ctx, false);
        }
        for junctor in ["allOf", "oneOf", "anyOf"] {
            for (i, sub) in list(s, junctor).iter().enumerate() {
                self.openapi(sub, &index(&child(path, junctor), i), ctx, false);
            }
        }
        if let Some(defs) = s.get("definitions").and_then(Value::as_object) {
            for (name, sub) in defs {
                self.openapi(sub, &key(&child(path, "definitions"), name), ctx, false);
            }
        }
        if let Some(items) = s.get("items") {
            let list_type = s.get("x-kubernetes-list-type").and_then(Value::as_str);
            let sub_ctx = if list_type == Some("map") {
                ctx.clone()
            } else {
                ctx.uncorrelatable_at(path)
            };
            match items {
                Value::Array(many) => {
                    for (i, sub) in many.iter().enumerate() {
                        self.openapi(sub, &index(&child(path, "items"), i), &sub_ctx, false);
                    }
                }
                one => self.openapi(one, &child(path, "items"), &sub_ctx, false),
            }
        }
        if let Some(deps) = s.get("dependencies").and_then(Value::as_object) {
            for (name, sub) in deps {
                if sub.is_object() {
                    self.openapi(sub, &key(&child(path, "dependencies"), name), ctx, false);
                }
            }
        }

        if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
            self.push(
                &child(path, "x-kubernetes-preserve-unknown-fields"),
                Rule::PreserveUnknownFields,
                invalid(&Value::Bool(false), "must be true or undefined"),
            );
        }
        self.enum_null(s, path);
        self.map_type(s, path);
        self.list_type(s, path);
        self.validations(s, path, ctx);
    }

    /// Unknown keys and keywords with a value of the wrong JSON type.
    fn keywords(&mut self, obj: &Map<String, Value>, path: &str) {
        for (k, v) in obj {
            if !KNOWN_KEYS.contains(&k.as_str()) {
                self.push(
                    &child(path, k),
                    Rule::Malformed,
                    format!("unknown field {k:?}"),
                );
                continue;
            }
            let ok = match k.as_str() {
                "type"
                | "description"
                | "format"
                | "title"
                | "pattern"
                | "id"
                | "$schema"
                | "$ref"
                | "x-kubernetes-list-type"
                | "x-kubernetes-map-type" => v.is_string(),
                "maximum" | "minimum" | "multipleOf" => v.is_number(),
                "maxLength" | "minLength" | "maxItems" | "minItems" | "maxProperties"
                | "minProperties" => v.as_u64().is_some(),
                "exclusiveMaximum"
                | "exclusiveMinimum"
                | "uniqueItems"
                | "nullable"
                | "x-kubernetes-preserve-unknown-fields"
                | "x-kubernetes-embedded-resource"
                | "x-kubernetes-int-or-string" => v.is_boolean(),
                "required" | "x-kubernetes-list-map-keys" => {
                    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                }
                "enum" | "allOf" | "oneOf" | "anyOf" | "x-kubernetes-validations" => v.is_array(),
                "properties" | "patternProperties" | "definitions" | "dependencies" | "not"
                | "externalDocs" => v.is_object(),
                "items" | "additionalProperties" | "additionalItems" => {
                    v.is_object() || v.is_array() || v.is_boolean()
                }
                _ => true,
            };
            if !ok && !v.is_null() {
                self.push(
                    &child(path, k),
                    Rule::Malformed,
                    invalid(v, "has the wrong JSON type"),
                );
            }
        }
    }

    /// The Go `specStandardValidatorV3.validate`.
    fn standard(&mut self, s: &Value, path: &str, ctx: &Ctx) {
        let t = ty(s);
        if t == "null" {
            self.push(
                &child(path, "type"),
                Rule::TypeUnsupported,
                forbidden("type cannot be set to null, use nullable as an alternative"),
            );
        } else if !t.is_empty() && !OPENAPI_TYPES.contains(&t) {
            self.push(
                &child(path, "type"),
                Rule::TypeUnsupported,
                not_supported(t, OPENAPI_TYPES),
            );
        }
        if present(s, "default") && !ctx.allow_defaults {
            let mut detail = "must not be set".to_owned();
            if let Some(reason) = &ctx.disallow_defaults_reason {
                detail.push(' ');
                detail.push_str(reason);
            }
            self.push(&child(path, "default"), Rule::Default, forbidden(&detail));
        }
        for (name, what) in [
            ("id", "id"),
            ("additionalItems", "additionalItems"),
            ("patternProperties", "patternProperties"),
            ("definitions", "definitions"),
            ("dependencies", "dependencies"),
            ("$ref", "$ref"),
            ("$schema", "$schema"),
        ] {
            let set = match s.get(name) {
                None | Some(Value::Null) => false,
                Some(Value::String(v)) => !v.is_empty(),
                Some(Value::Object(m)) => !m.is_empty() || name == "additionalItems",
                Some(_) => true,
            };
            if set {
                self.push(
                    &child(path, name),
                    Rule::UnsupportedKeyword,
                    forbidden(&format!("{what} is not supported")),
                );
            }
        }
        if s.get("items").is_some_and(Value::is_array) {
            self.push(
                &child(path, "items"),
                Rule::Items,
                forbidden("items must be a schema object and not an array"),
            );
        }
        if ctx.inside_resource_meta && flag(s, "x-kubernetes-embedded-resource") {
            self.push(
                &child(path, "x-kubernetes-embedded-resource"),
                Rule::EmbeddedResource,
                forbidden("must not be used inside of resource meta"),
            );
        }
    }

    fn enum_null(&mut self, s: &Value, path: &str) {
        if !flag(s, "nullable") {
            for (i, v) in list(s, "enum").iter().enumerate() {
                if v.is_null() {
                    self.push(
                        &index(&child(path, "enum"), i),
                        Rule::Enum,
                        forbidden("null is only allowed in enum if nullable is true"),
                    );
                }
            }
        }
    }

    fn map_type(&mut self, s: &Value, path: &str) {
        let Some(map_type) = s.get("x-kubernetes-map-type").and_then(Value::as_str) else {
            return;
        };
        let t = ty(s);
        if t.is_empty() {
            self.push(
                &child(path, "type"),
                Rule::MapType,
                required("must be object if x-kubernetes-map-type is specified"),
            );
        } else if t != "object" {
            self.push(
                &child(path, "type"),
                Rule::MapType,
                invalid(
                    &Value::String(t.to_owned()),
                    "must be object if x-kubernetes-map-type is specified",
                ),
            );
        }
        if !matches!(map_type, "atomic" | "granular") {
            self.push(
                &child(path, "x-kubernetes-map-type"),
                Rule::MapType,
                not_supported(map_type, &["atomic", "granular"]),
            );
        }
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one block per apiserver rule, in the apiserver's order"
    )]
    fn list_type(&mut self, s: &Value, path: &str) {
        let list_type = s.get("x-kubernetes-list-type").and_then(Value::as_str);
        let keys: Vec<&str> = list(s, "x-kubernetes-list-map-keys")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let keys_value = s
            .get("x-kubernetes-list-map-keys")
            .cloned()
            .unwrap_or(Value::Null);
        let t = ty(s);
        if let Some(lt) = list_type {
            if t.is_empty() {
                self.push(
                    &child(path, "type"),
                    Rule::ListType,
                    required("must be array if x-kubernetes-list-type is specified"),
                );
            } else if t != "array" {
                self.push(
                    &child(path, "type"),
                    Rule::ListType,
                    invalid(
                        &Value::String(t.to_owned()),
                        "must be array if x-kubernetes-list-type is specified",
                    ),
                );
            } else if lt == "set"
                && let Some(item) = items_schema(s)
            {
                {
                    let item_path = child(path, "items");
                    match ty(item) {
                        "array" => {
                            if let Some(inner) =
                                item.get("x-kubernetes-list-type").and_then(Value::as_str)
                                && inner != "atomic"
                            {
                                self.push(
                                    &child(&item_path, "x-kubernetes-list-type"),
                                    Rule::ListType,
                                    invalid(
                                        &Value::String(inner.to_owned()),
                                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                                    ),
                                );
                            }
                        }
                        "object" => {
                            let mt = item.get("x-kubernetes-map-type").and_then(Value::as_str);
                            if mt != Some("atomic") {
                                self.push(
                                    &child(&item_path, "x-kubernetes-map-type"),
                                    Rule::ListType,
                                    invalid(
                                        &mt.map_or(Value::Null, |m| Value::String(m.to_owned())),
                                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                                    ),
                                );
                            }
                        }
                        _ => {}
                    }
                }
            }
            if !matches!(lt, "atomic" | "set" | "map") {
                self.push(
                    &child(path, "x-kubernetes-list-type"),
                    Rule::ListType,
                    not_supported(lt, &["atomic", "set", "map"]),
                );
            }
        }
        if !keys.is_empty() {
            match list_type {
                None => self.push(
                    &child(path, "x-kubernetes-list-type"),
                    Rule::ListMapKeys,
                    required("must be map if x-kubernetes-list-map-keys is non-empty"),
                ),
                Some("map") => {}
                Some(other) => self.push(
                    &child(path, "x-kubernetes-list-type"),
                    Rule::ListMapKeys,
                    invalid(
                        &Value::String(other.to_owned()),
                        "must be map if x-kubernetes-list-map-keys is non-empty",
                    ),
                ),
            }
        }
        if list_type == Some("map") {
            if keys.is_empty() {
                self.push(
                    &child(path, "x-kubernetes-list-map-keys"),
                    Rule::ListMapKeys,
                    required("must not be empty if x-kubernetes-list-type is map"),
                );
            }
            match s.get("items") {
                None | Some(Value::Null) => self.push(
                    &child(path, "items"),
                    Rule::ListMapKeys,
                    required("must have a schema if x-kubernetes-list-type is map"),
                ),
                Some(items) if !items.is_object() => self.push(
                    &child(path, "items"),
                    Rule::ListMapKeys,
                    invalid(
                        items,
                        "must only have a single schema if x-kubernetes-list-type is map",
                    ),
                ),
                Some(item) if ty(item) != "object" => self.push(
                    &child(&child(path, "items"), "type"),
                    Rule::ListMapKeys,
                    invalid(
                        &Value::String(ty(item).to_owned()),
                        "must be object if parent array's x-kubernetes-list-type is map",
                    ),
                ),
                Some(item) => {
                    let mut seen = BTreeSet::new();
                    let item_props = props(item);
                    for k in &keys {
                        match item_props.and_then(|p| p.get(*k)) {
                            Some(prop) => {
                                if !is_scalar_type(ty(prop)) {
                                    self.push(
                                        &child(&key(&child(&child(path, "items"), "properties"), k), "type"),
                                        Rule::ListMapKeys,
                                        invalid(
                                            &Value::String(ty(item).to_owned()),
                                            "must be a scalar type if parent array's x-kubernetes-list-type is map",
                                        ),
                                    );
                                }
                            }
                            None => self.push(
                                &child(path, "x-kubernetes-list-map-keys"),
                                Rule::ListMapKeys,
                                invalid(
                                    &keys_value,
                                    "entries must all be names of item properties",
                                ),
                            ),
                        }
                        if !seen.insert(*k) {
                            self.push(
                                &child(path, "x-kubernetes-list-map-keys"),
                                Rule::ListMapKeys,
                                invalid(&keys_value, "must not contain duplicate entries"),
                            );
                        }
                    }
                }
            }
        }
        // validateMapListKeysMapSet
        if let (Some(lt @ ("set" | "map")), Some(item)) = (list_type, items_schema(s)) {
            let item_path = child(path, "items");
            if flag(item, "nullable") {
                self.push(
                    &child(&item_path, "nullable"),
                    if lt == "map" {
                        Rule::ListMapKeys
                    } else {
                        Rule::ListType
                    },
                    forbidden(&format!(
                        "cannot be nullable when x-kubernetes-list-type is {lt}"
                    )),
                );
            }
            if lt == "map" {
                let req: BTreeSet<&str> = list(item, "required")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                for k in &keys {
                    let Some(prop) = props(item).and_then(|p| p.get(*k)) else {
                        continue;
                    };
                    let prop_path = key(&child(&item_path, "properties"), k);
                    if !req.contains(k) && !present(prop, "default") {
                        self.push(
                            &child(&prop_path, "default"),
                            Rule::ListMapKeys,
                            required(
                                "this property is in x-kubernetes-list-map-keys, so it must have a \
                                 default or be a required property",
                            ),
                        );
                    }
                    if flag(prop, "nullable") {
                        self.push(
                            &child(&prop_path, "nullable"),
                            Rule::ListMapKeys,
                            forbidden(
                                "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                            ),
                        );
                    }
                }
            }
        }
    }

    fn validations(&mut self, s: &Value, path: &str, ctx: &Ctx) {
        let base = child(path, "x-kubernetes-validations");
        for (i, rule) in list(s, "x-kubernetes-validations").iter().enumerate() {
            let at = index(&base, i);
            let Some(obj) = rule.as_object() else {
                self.push(&at, Rule::Validations, invalid(rule, "must be an object"));
                continue;
            };
            let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
            let (r, msg, msg_expr, field_path) = (
                text("rule"),
                text("message"),
                text("messageExpression"),
                text("fieldPath"),
            );
            let newline = |x: &str| x.contains(['\n', '\r']);
            if r.trim().is_empty() {
                self.push(
                    &child(&at, "rule"),
                    Rule::Validations,
                    required("rule is not specified"),
                );
            } else if !msg.is_empty() && msg.trim().is_empty() {
                self.push(
                    &child(&at, "message"),
                    Rule::Validations,
                    invalid(
                        &Value::String(msg.to_owned()),
                        "message must be non-empty if specified",
                    ),
                );
            } else if newline(msg.trim()) {
                self.push(
                    &child(&at, "message"),
                    Rule::Validations,
                    invalid(
                        &Value::String(msg.to_owned()),
                        "message must not contain line breaks",
                    ),
                );
            } else if newline(r.trim()) && msg.trim().is_empty() {
                self.push(
                    &child(&at, "message"),
                    Rule::Validations,
                    required("message must be specified if rule contains line breaks"),
                );
            }
            if !msg_expr.is_empty() && msg_expr.trim().is_empty() {
                self.push(
                    &child(&at, "messageExpression"),
                    Rule::Validations,
                    required("messageExpression must be non-empty if specified"),
                );
            }
            if let Some(reason) = obj.get("reason").and_then(Value::as_str)
                && !VALIDATION_REASONS.contains(&reason)
            {
                self.push(
                    &child(&at, "reason"),
                    Rule::Validations,
                    not_supported(reason, VALIDATION_REASONS),
                );
            }
            if newline(field_path) {
                self.push(
                    &child(&at, "fieldPath"),
                    Rule::Validations,
                    invalid(
                        &Value::String(field_path.to_owned()),
                        "fieldPath must not contain line breaks",
                    ),
                );
            }
            let optional_old_self = obj.get("optionalOldSelf") == Some(&Value::Bool(true));
            if uses_old_self(r)
                && !optional_old_self
                && let Some(within) = &ctx.uncorrelatable
            {
                self.push(
                    &child(&at, "rule"),
                    Rule::Validations,
                    invalid(
                        &Value::String(r.to_owned()),
                        &format!(
                            "oldSelf cannot be used on the uncorrelatable portion of the schema \
                             within {within}"
                        ),
                    ),
                );
            }
        }
    }

    /// `validateStructuralInvariants` of `pkg/apiserver/schema`.
    #[allow(
        clippy::too_many_lines,
        reason = "mirrors the apiserver function rule by rule, which keeps it reviewable against it"
    )]
    fn invariants(&mut self, s: &Value, lvl: Level, path: &str) {
        if !s.is_object() {
            return;
        }
        let t = ty(s);
        if t == "array" && !present(s, "items") {
            self.push(
                &child(path, "items"),
                Rule::Items,
                required("must be specified"),
            );
        }
        if let Some(item) = items_schema(s) {
            self.invariants(item, Level::Item, &child(path, "items"));
        }
        if let Some(p) = props(s) {
            for (name, sub) in p {
                self.invariants(sub, Level::Field, &key(&child(path, "properties"), name));
            }
        }
        if present(s, "additionalProperties") {
            if lvl == Level::Root {
                self.push(
                    &child(path, "additionalProperties"),
                    Rule::AdditionalProperties,
                    forbidden("must not be used at the root"),
                );
            }
            if let Some(sub) = additional_schema(s) {
                self.invariants(sub, Level::Field, &child(path, "additionalProperties"));
            }
        }

        let int_or_string = flag(s, "x-kubernetes-int-or-string");
        let preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
        let embedded = flag(s, "x-kubernetes-embedded-resource");
        if int_or_string && preserve {
            self.push(
                &child(path, "x-kubernetes-preserve-unknown-fields"),
                Rule::IntOrString,
                invalid(
                    &Value::Bool(true),
                    "must be false if x-kubernetes-int-or-string is true",
                ),
            );
        }
        if int_or_string && embedded {
            self.push(
                &child(path, "x-kubernetes-embedded-resource"),
                Rule::IntOrString,
                invalid(
                    &Value::Bool(true),
                    "must be false if x-kubernetes-int-or-string is true",
                ),
            );
        }

        let skip_any_of = is_int_or_string_any_of(s);
        let skip_first_all_of_any_of = list(s, "allOf")
            .first()
            .is_some_and(is_int_or_string_any_of);
        self.value_validation(s, skip_any_of, skip_first_all_of_any_of, lvl, path);

        let check_metadata = lvl == Level::Root || embedded;
        if embedded && t != "object" {
            if t.is_empty() {
                self.push(
                    &child(path, "type"),
                    Rule::EmbeddedResource,
                    required("must be object if x-kubernetes-embedded-resource is true"),
                );
            } else {
                self.push(
                    &child(path, "type"),
                    Rule::EmbeddedResource,
                    invalid(
                        &Value::String(t.to_owned()),
                        "must be object if x-kubernetes-embedded-resource is true",
                    ),
                );
            }
        } else if t.is_empty() && !int_or_string && !preserve {
            let detail = match lvl {
                Level::Root => "must not be empty at the root",
                Level::Item => "must not be empty for specified array items",
                Level::Field => "must not be empty for specified object fields",
            };
            self.push(&child(path, "type"), Rule::TypeRequired, required(detail));
        }
        if embedded && present(s, "additionalProperties") {
            self.push(
                &child(path, "additionalProperties"),
                Rule::EmbeddedResource,
                forbidden("must not be used if x-kubernetes-embedded-resource is set"),
            );
        }
        if lvl == Level::Root && !t.is_empty() && t != "object" {
            self.push(
                &child(path, "type"),
                Rule::Root,
                invalid(&Value::String(t.to_owned()), "must be object at the root"),
            );
        }
        let p = props(s);
        if check_metadata {
            for meta in ["kind", "apiVersion"] {
                if let Some(sub) = p.and_then(|p| p.get(meta))
                    && ty(sub) != "string"
                {
                    self.push(
                        &child(&key(&child(path, "properties"), meta), "type"),
                        Rule::Metadata,
                        invalid(&Value::String(ty(sub).to_owned()), "must be string"),
                    );
                }
            }
        }
        if let Some(metadata) = p.and_then(|p| p.get("metadata")) {
            self.metadata(
                metadata,
                check_metadata,
                lvl,
                &key(&child(path, "properties"), "metadata"),
            );
        }
        if embedded && !preserve && p.is_none_or(Map::is_empty) {
            self.push(
                &child(path, "properties"),
                Rule::EmbeddedResource,
                required(
                    "must not be empty if x-kubernetes-embedded-resource is true without \
                     x-kubernetes-preserve-unknown-fields",
                ),
            );
        }
    }

    fn metadata(&mut self, s: &Value, check_metadata: bool, lvl: Level, path: &str) {
        if check_metadata && ty(s) != "object" {
            self.push(
                &child(path, "type"),
                Rule::Metadata,
                invalid(&Value::String(ty(s).to_owned()), "must be object"),
            );
        }
        if lvl != Level::Root {
            return;
        }
        // At the root, metadata may only be `type: object` (and a default, checked elsewhere)
        // with at most `name` and `generateName` properties; the apiserver fills in the rest.
        let Some(obj) = s.as_object() else { return };
        let extra = obj.iter().any(|(k, v)| match k.as_str() {
            "type" | "default" => false,
            "properties" => v.as_object().is_some_and(|m| {
                !m.is_empty() && !m.keys().all(|k| k == "name" || k == "generateName")
            }),
            _ => !is_zero(v),
        });
        if extra {
            self.push(
                path,
                Rule::Metadata,
                forbidden(
                    "must not specify anything other than name and generateName, but metadata is \
                     implicitly specified",
                ),
            );
        }
    }

    /// `validateValueValidation`: the junctors of a structural node.
    fn value_validation(
        &mut self,
        v: &Value,
        skip_any_of: bool,
        skip_first_all_of_any_of: bool,
        lvl: Level,
        path: &str,
    ) {
        if !skip_any_of {
            for (i, sub) in list(v, "anyOf").iter().enumerate() {
                self.nested(sub, false, lvl, &index(&child(path, "anyOf"), i));
            }
        }
        for (i, sub) in list(v, "allOf").iter().enumerate() {
            self.nested(
                sub,
                skip_first_all_of_any_of && i == 0,
                lvl,
                &index(&child(path, "allOf"), i),
            );
        }
        for (i, sub) in list(v, "oneOf").iter().enumerate() {
            self.nested(sub, false, lvl, &index(&child(path, "oneOf"), i));
        }
        if let Some(not) = v.get("not") {
            self.nested(not, false, lvl, &child(path, "not"));
        }
    }

    /// `validateNestedValueValidation`: a schema inside `allOf`/`anyOf`/`oneOf`/`not`.
    fn nested(&mut self, v: &Value, skip_any_of: bool, lvl: Level, path: &str) {
        if !v.is_object() {
            return;
        }
        self.value_validation(v, skip_any_of, false, lvl, path);
        if let Some(item) = items_schema(v) {
            self.nested(item, false, lvl, &child(path, "items"));
        }
        if let Some(p) = props(v) {
            for (name, sub) in p {
                self.nested(
                    sub,
                    false,
                    Level::Field,
                    &key(&child(path, "properties"), name),
                );
            }
        }
        let forbid = |c: &mut Self, name: &str, detail: &str| {
            c.push(&child(path, name), Rule::ValueValidation, forbidden(detail));
        };
        if !ty(v).is_empty() {
            forbid(self, "type", "must be empty to be structural");
        }
        if present(v, "additionalProperties") {
            forbid(
                self,
                "additionalProperties",
                "must be undefined to be structural",
            );
        }
        if present(v, "default") {
            forbid(self, "default", "must be undefined to be structural");
        }
        if v.get("title")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty())
        {
            forbid(self, "title", "must be empty to be structural");
        }
        if v.get("description")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty())
        {
            forbid(self, "description", "must be empty to be structural");
        }
        if flag(v, "nullable") {
            forbid(self, "nullable", "must be false to be structural");
        }
        for ext in [
            "x-kubernetes-preserve-unknown-fields",
            "x-kubernetes-embedded-resource",
            "x-kubernetes-int-or-string",
        ] {
            if flag(v, ext) {
                forbid(self, ext, "must be false to be structural");
            }
        }
        if !list(v, "x-kubernetes-list-map-keys").is_empty() {
            forbid(
                self,
                "x-kubernetes-list-map-keys",
                "must be empty to be structural",
            );
        }
        for ext in ["x-kubernetes-list-type", "x-kubernetes-map-type"] {
            if present(v, ext) {
                forbid(self, ext, "must be undefined to be structural");
            }
        }
        if !list(v, "x-kubernetes-validations").is_empty() {
            forbid(
                self,
                "x-kubernetes-validations",
                "must be empty to be structural",
            );
        }
    }

    /// `validateStructuralCompleteness`: whatever a value validation names must exist
    /// structurally.
    fn completeness(&mut self, s: &Value, path: &str) {
        if !s.is_object() {
            return;
        }
        self.completeness_of(s, Some(s), path, path);
        if let Some(item) = items_schema(s) {
            self.completeness(item, &child(path, "items"));
        }
        if let Some(p) = props(s) {
            for (name, sub) in p {
                self.completeness(sub, &key(&child(path, "properties"), name));
            }
        }
        if let Some(sub) = additional_schema(s) {
            self.completeness(sub, &child(path, "additionalProperties"));
        }
    }

    /// The junctors of `v` against structural node `s`.
    fn completeness_of(&mut self, v: &Value, s: Option<&Value>, s_path: &str, v_path: &str) {
        if let Some(not) = v.get("not") {
            self.nested_completeness(not, s, s_path, &child(v_path, "not"));
        }
        for junctor in ["allOf", "anyOf", "oneOf"] {
            for (i, sub) in list(v, junctor).iter().enumerate() {
                self.nested_completeness(sub, s, s_path, &index(&child(v_path, junctor), i));
            }
        }
    }

    fn nested_completeness(&mut self, v: &Value, s: Option<&Value>, s_path: &str, v_path: &str) {
        if !v.is_object() {
            return;
        }
        let Some(s) = s else {
            self.push(
                s_path,
                Rule::Completeness,
                required(&format!("because it is defined in {v_path}")),
            );
            return;
        };
        self.completeness_of(v, Some(s), s_path, v_path);
        if let Some(v_item) = items_schema(v) {
            self.nested_completeness(
                v_item,
                items_schema(s),
                &child(s_path, "items"),
                &child(v_path, "items"),
            );
        }
        if let Some(vp) = props(v) {
            for (name, v_sub) in vp {
                let s_sub_path = key(&child(s_path, "properties"), name);
                let v_sub_path = key(&child(v_path, "properties"), name);
                match props(s).and_then(|p| p.get(name)) {
                    Some(s_sub) => {
                        self.nested_completeness(v_sub, Some(s_sub), &s_sub_path, &v_sub_path);
                    }
                    None => self.push(
                        &s_sub_path,
                        Rule::Completeness,
                        required(&format!("because it is defined in {v_sub_path}")),
                    ),
                }
            }
        }
    }

    /// `ValidateDefaults`: every structural default is pruned and valid for its schema.
    fn defaults(&mut self, s: &Value, path: &str, embedded_root: bool) {
        if !s.is_object() {
            return;
        }
        if let Some(default) = s.get("default").filter(|d| !d.is_null()) {
            let at = child(path, "default");
            if has_unknown_fields(default, s, flag(s, "x-kubernetes-embedded-resource")) {
                self.push(
                    &at,
                    Rule::Default,
                    invalid(default, "must not have unknown fields"),
                );
            }
            let mut errs = Vec::new();
            validate_value(default, s, &at, &mut errs);
            for (p, detail) in errs {
                self.push(&p, Rule::Default, detail);
            }
        }
        if let Some(item) = items_schema(s) {
            self.defaults(item, &child(path, "items"), false);
        }
        if let Some(p) = props(s) {
            for (name, sub) in p {
                // Defaults in top-level metadata are reported by the OpenAPI walk.
                if embedded_root && matches!(name.as_str(), "metadata" | "apiVersion" | "kind") {
                    continue;
                }
                self.defaults(sub, &key(&child(path, "properties"), name), false);
            }
        }
    }
}

/// Whether a JSON value is Go's zero value (what `reflect.DeepEqual(v, zero)` skips).
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

fn is_int_or_string_any_of(s: &Value) -> bool {
    let any_of = list(s, "anyOf");
    any_of.len() == 2
        && any_of[0] == serde_json::json!({"type": "integer"})
        && any_of[1] == serde_json::json!({"type": "string"})
}

/// Whether a CEL rule mentions the `oldSelf` variable (a token, not part of a longer name).
fn uses_old_self(rule: &str) -> bool {
    let bytes = rule.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    rule.match_indices("oldSelf").any(|(at, m)| {
        let before = at.checked_sub(1).and_then(|i| bytes.get(i)).copied();
        let after = bytes.get(at + m.len()).copied();
        before.is_none_or(|b| !ident(b) && b != b'.') && after.is_none_or(|b| !ident(b))
    })
}

/// Whether pruning `value` with schema `s` would drop a field (the apiserver's `Prune`).
fn has_unknown_fields(value: &Value, s: &Value, embedded: bool) -> bool {
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

fn json_type_matches(value: &Value, t: &str) -> bool {
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
fn validate_value(value: &Value, s: &Value, path: &str, errs: &mut Vec<(String, String)>) {
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
fn validate_bounds(value: &Value, s: &Value, path: &str, errs: &mut Vec<(String, String)>) {
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

#[cfg(test)]
mod tests;
