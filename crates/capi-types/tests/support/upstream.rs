//! Test support: loading the upstream CAPI v1.10 CRDs from `../shared`, validating JSON values
//! against an `openAPIV3Schema`, and listing the property paths of a schema.

#![allow(
    dead_code,
    reason = "each test crate uses a different part of this module"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

/// What a test does about missing `../shared` data.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    /// The data is there: run.
    Run,
    /// Not there, not in CI: skip with a loud message.
    Skip,
    /// Not there under `CI=true`: fail.
    Fail,
}

/// Decides [`Missing`] from whether the data exists and the value of `CI`.
pub(crate) fn decide(exists: bool, ci: Option<&str>) -> Missing {
    match (exists, ci) {
        (true, _) => Missing::Run,
        (false, Some("true")) => Missing::Fail,
        (false, _) => Missing::Skip,
    }
}

/// Directory of the upstream CRDs, or `None` (with a loud message) when `../shared` is not
/// there. Under `CI=true` a missing directory fails the test instead.
pub(crate) fn upstream_dir(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/specs/capi-v1.10"
    ));
    match decide(dir.is_dir(), std::env::var("CI").ok().as_deref()) {
        Missing::Run => Some(dir),
        Missing::Fail => panic!(
            "{test}: upstream CRDs missing at {} (required when CI=true)",
            dir.display()
        ),
        Missing::Skip => {
            eprintln!(
                "\n!!!!! SKIPPING {test}: upstream CAPI CRDs not found at {} !!!!!\n",
                dir.display()
            );
            None
        }
    }
}

/// Parses YAML into JSON.
pub(crate) fn yaml_to_json(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("valid YAML")
}

/// The `v1beta1` `openAPIV3Schema` of an upstream CRD file (e.g.
/// `cluster.x-k8s.io_machines.yaml`).
pub(crate) fn upstream_schema(dir: &std::path::Path, file: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(file)).expect("readable upstream CRD");
    let crd = yaml_to_json(&text);
    schema_of_version(&crd, "v1beta1")
}

/// The schema of one version of a CRD given as JSON.
pub(crate) fn schema_of_version(crd: &Value, version: &str) -> Value {
    crd["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["name"] == version)
        .unwrap_or_else(|| panic!("version {version} in CRD"))["schema"]["openAPIV3Schema"]
        .clone()
}

fn type_ok(value: &Value, ty: &str) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => false,
    }
}

/// Validates `value` against an apiextensions `openAPIV3Schema` the way the API server's
/// structural validation does for the keywords CAPI's CRDs use: `type`, `nullable`,
/// `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`, `enum`, `required`,
/// `properties` (unknown fields are errors here, where the server would prune them),
/// `additionalProperties`, `items`, string/array lengths, `minimum`/`maximum` and the
/// `date-time` format. CEL rules are not evaluated. Returns one message per violation.
pub(crate) fn validate(value: &Value, schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate_at(value, schema, "", &mut errors);
    errors
}

fn validate_at(value: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    let here = if path.is_empty() { "<root>" } else { path };
    if value.is_null() {
        if schema["nullable"] != Value::Bool(true) {
            errors.push(format!("{here}: null is not allowed"));
        }
        return;
    }
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true);
    if schema["x-kubernetes-int-or-string"] == Value::Bool(true) {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            errors.push(format!("{here}: expected integer or string, got {value}"));
        }
        return;
    }
    if let Some(ty) = schema["type"].as_str() {
        if !type_ok(value, ty) {
            errors.push(format!("{here}: expected {ty}, got {value}"));
            return;
        }
    } else if !preserve {
        errors.push(format!("{here}: schema has no type (not structural)"));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{here}: {value} is not one of {allowed:?}"));
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if schema["maxLength"].as_u64().is_some_and(|m| len > m) {
            errors.push(format!("{here}: longer than maxLength"));
        }
        if schema["minLength"].as_u64().is_some_and(|m| len < m) {
            errors.push(format!("{here}: shorter than minLength"));
        }
        if schema["format"] == "date-time" && s.parse::<jiff::Timestamp>().is_err() {
            errors.push(format!("{here}: {s:?} is not an RFC 3339 date-time"));
        }
    }
    if let Some(n) = value.as_i64() {
        if schema["minimum"].as_i64().is_some_and(|m| n < m) {
            errors.push(format!("{here}: below minimum"));
        }
        if schema["maximum"].as_i64().is_some_and(|m| n > m) {
            errors.push(format!("{here}: above maximum"));
        }
    }
    if let Some(items) = value.as_array() {
        if schema["maxItems"]
            .as_u64()
            .is_some_and(|m| items.len() as u64 > m)
        {
            errors.push(format!("{here}: more than maxItems"));
        }
        if schema["minItems"]
            .as_u64()
            .is_some_and(|m| (items.len() as u64) < m)
        {
            errors.push(format!("{here}: fewer than minItems"));
        }
        if !schema["items"].is_null() {
            for (i, item) in items.iter().enumerate() {
                validate_at(item, &schema["items"], &format!("{path}[{i}]"), errors);
            }
        }
    }
    if let Some(object) = value.as_object() {
        for key in schema["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap_or_default();
            if !object.contains_key(key) {
                errors.push(format!("{here}: missing required field {key:?}"));
            }
        }
        let properties = schema["properties"].as_object();
        for (key, child) in object {
            let child_path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if path.is_empty() && key == "metadata" {
                // ObjectMeta is validated by the API server itself, not by the CRD schema.
                continue;
            }
            if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
                validate_at(child, child_schema, &child_path, errors);
            } else if schema["additionalProperties"].is_object() {
                validate_at(child, &schema["additionalProperties"], &child_path, errors);
            } else if !preserve {
                errors.push(format!("{child_path}: unknown field"));
            }
        }
    }
}

/// What a schema says about one property path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathInfo {
    /// `type`, or `int-or-string`, or `any` (preserve-unknown-fields without a type).
    pub(crate) ty: String,
    /// `x-kubernetes-preserve-unknown-fields: true`.
    pub(crate) preserve: bool,
    /// `enum` values, JSON-encoded.
    pub(crate) enum_values: Option<Vec<String>>,
    /// `required` property names.
    pub(crate) required: BTreeSet<String>,
    /// `x-kubernetes-list-type` / `x-kubernetes-map-type`.
    pub(crate) list_or_map_type: Option<String>,
    /// `x-kubernetes-list-map-keys`.
    pub(crate) list_map_keys: Option<Vec<String>>,
    /// Value constraints and format: `format`, `minLength`, `maxLength`, `minItems`,
    /// `maxItems`, `minimum`, `maximum`, `pattern` (as `key=value` strings).
    pub(crate) constraints: BTreeSet<String>,
}

/// Every property path of a schema: `spec.template.spec`, `spec.files[]`, `labels{}`.
pub(crate) fn paths(schema: &Value) -> BTreeMap<String, PathInfo> {
    let mut out = BTreeMap::new();
    collect(schema, "", &mut out);
    out
}

fn collect(schema: &Value, path: &str, out: &mut BTreeMap<String, PathInfo>) {
    let ty = if let Some(t) = schema["type"].as_str() {
        t.to_owned()
    } else if schema["x-kubernetes-int-or-string"] == Value::Bool(true) {
        "int-or-string".to_owned()
    } else {
        "any".to_owned()
    };
    out.insert(
        path.to_owned(),
        PathInfo {
            ty,
            preserve: schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true),
            enum_values: schema["enum"]
                .as_array()
                .map(|v| v.iter().map(Value::to_string).collect()),
            required: schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            list_or_map_type: schema["x-kubernetes-list-type"]
                .as_str()
                .or(schema["x-kubernetes-map-type"].as_str())
                .map(str::to_owned),
            list_map_keys: schema["x-kubernetes-list-map-keys"].as_array().map(|keys| {
                keys.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            }),
            constraints: [
                "format",
                "minLength",
                "maxLength",
                "minItems",
                "maxItems",
                "minimum",
                "maximum",
                "pattern",
            ]
            .iter()
            .filter(|key| !schema[**key].is_null())
            .map(|key| format!("{key}={}", schema[*key]))
            .collect(),
        },
    );
    if let Some(properties) = schema["properties"].as_object() {
        for (key, child) in properties {
            let child_path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            collect(child, &child_path, out);
        }
    }
    if schema["items"].is_object() {
        collect(&schema["items"], &format!("{path}[]"), out);
    }
    if schema["additionalProperties"].is_object() {
        collect(&schema["additionalProperties"], &format!("{path}{{}}"), out);
    }
}

/// Every leaf path of a JSON value, in the same notation as [`paths`] for arrays but with
/// map keys spelled out (`metadata.labels.app`), for reporting.
pub(crate) fn value_paths(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    value_paths_at(value, "", &mut out);
    out
}

fn value_paths_at(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                value_paths_at(v, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                value_paths_at(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {
            out.insert(path.to_owned());
        }
    }
}

/// The schema paths (notation of [`paths`]) that a value populates.
pub(crate) fn covered_paths(value: &Value, schema: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    covered_at(value, schema, "", &mut out);
    out
}

fn covered_at(value: &Value, schema: &Value, path: &str, out: &mut BTreeSet<String>) {
    out.insert(path.to_owned());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if let Some(s) = schema["properties"].get(key) {
                    let p = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    covered_at(child, s, &p, out);
                } else if schema["additionalProperties"].is_object() {
                    covered_at(
                        child,
                        &schema["additionalProperties"],
                        &format!("{path}{{}}"),
                        out,
                    );
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                covered_at(item, &schema["items"], &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}
