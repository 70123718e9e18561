//! Validation of `x-kubernetes-embedded-resource` objects: their `apiVersion` and `kind`, and
//! the ObjectMeta syntax of their `metadata` (upstream `objectmeta.Validate` with
//! `ValidateObjectMeta` and path-segment names), worded as `k8s.io/apimachinery` words it.
//!
//! Unlike the OpenAPI validation this is not ratcheted: the real server checks embedded
//! resources in full on every create and update.

use serde_json::{Map, Value};

use super::FieldCause;
use super::compile::Node;
use super::errors::{self, child, index, key};

/// Upstream `TotalAnnotationSizeLimitB`: the combined size of all annotation keys and values.
const TOTAL_ANNOTATION_SIZE_LIMIT: u64 = 256 * 1024;

/// Walks `value` along `node` (properties, `additionalProperties` values, array items) and
/// checks every embedded resource below the resource root, as upstream `objectmeta.Validate`
/// does; `additionalProperties` values are addressed as map keys (`spec.templates[a]`).
pub(crate) fn validate(node: &Node, value: &Value, path: &str, causes: &mut Vec<FieldCause>) {
    match value {
        Value::Object(map) => {
            if node.embedded && !node.resource_root {
                embedded_resource(map, path, causes);
            }
            for (k, v) in map {
                if let Some(prop) = node.properties.get(k) {
                    validate(prop, v, &child(path, k), causes);
                } else if let Some(add) = node.additional.as_deref() {
                    validate(add, v, &key(path, k), causes);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_node) = node.items.as_deref() {
                for (i, item) in items.iter().enumerate() {
                    validate(item_node, item, &index(path, i), causes);
                }
            }
        }
        _ => {}
    }
}

/// `objectmeta.validateEmbeddedResource`: `apiVersion` and `kind` are required non-empty
/// strings, the `apiVersion` a valid group/version, and the `metadata` a valid ObjectMeta.
fn embedded_resource(map: &Map<String, Value>, path: &str, causes: &mut Vec<FieldCause>) {
    for k in ["apiVersion", "kind"] {
        if !map.contains_key(k) {
            causes.push(errors::required(&child(path, k), ""));
        }
    }
    if let Some(v) = map.get("apiVersion") {
        let field = child(path, "apiVersion");
        match v.as_str() {
            None => causes.push(errors::invalid_value(&field, v, "must be a string")),
            Some("") => causes.push(errors::invalid_value(&field, v, "must not be empty")),
            // `schema.ParseGroupVersion`: at most one `/`.
            Some(s) if s.matches('/').count() > 1 => {
                causes.push(errors::invalid_value(
                    &field,
                    v,
                    &format!("unexpected GroupVersion string: {s}"),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(v) = map.get("kind") {
        let field = child(path, "kind");
        match v.as_str() {
            None => causes.push(errors::invalid_value(&field, v, "must be a string")),
            Some("") => causes.push(errors::invalid_value(&field, v, "must not be empty")),
            Some(kind) => {
                let errs = dns1035_label(&kind.to_lowercase());
                if !errs.is_empty() {
                    causes.push(errors::invalid_value(
                        &field,
                        v,
                        &format!(
                            "may have mixed case, but should otherwise match: {}",
                            errs.join(",")
                        ),
                    ));
                }
            }
        }
    }
    match map.get("metadata") {
        Some(Value::Object(meta)) => object_meta(meta, &child(path, "metadata"), causes),
        Some(Value::Null) | None => {}
        Some(v) => causes.push(errors::invalid_value(
            &child(path, "metadata"),
            v,
            "must be an object",
        )),
    }
}

/// `ValidateObjectMeta(meta, len(namespace) > 0, ValidatePathSegmentName, path)` on an
/// already coerced ObjectMeta (fields of the wrong type were dropped by pruning). An empty
/// name is accepted (upstream substitutes a fake one); `managedFields` are not checked.
fn object_meta(meta: &Map<String, Value>, path: &str, causes: &mut Vec<FieldCause>) {
    let text = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or("");

    let generate_name = text("generateName");
    for msg in path_segment_name(generate_name, true) {
        causes.push(errors::invalid_value(
            &child(path, "generateName"),
            &Value::from(generate_name),
            &msg,
        ));
    }
    let name = text("name");
    if !name.is_empty() {
        for msg in path_segment_name(name, false) {
            causes.push(errors::invalid_value(
                &child(path, "name"),
                &Value::from(name),
                &msg,
            ));
        }
    }
    let namespace = text("namespace");
    if !namespace.is_empty() {
        for msg in dns1123_label(namespace) {
            causes.push(errors::invalid_value(
                &child(path, "namespace"),
                &Value::from(namespace),
                &msg,
            ));
        }
    }
    if let Some(generation) = meta.get("generation").and_then(Value::as_i64)
        && generation < 0
    {
        causes.push(errors::invalid_value(
            &child(path, "generation"),
            &Value::from(generation),
            "must be greater than or equal to 0",
        ));
    }

    if let Some(labels) = meta.get("labels").and_then(Value::as_object) {
        let field = child(path, "labels");
        for (k, v) in labels {
            for msg in qualified_name(k) {
                causes.push(errors::invalid_value(
                    &field,
                    &Value::from(k.as_str()),
                    &msg,
                ));
            }
            let value = v.as_str().unwrap_or("");
            for msg in label_value(value) {
                causes.push(errors::invalid_value(&field, &Value::from(value), &msg));
            }
        }
    }

    if let Some(annotations) = meta.get("annotations").and_then(Value::as_object) {
        let field = child(path, "annotations");
        let mut total: u64 = 0;
        for (k, v) in annotations {
            // Keys are qualified names, except that case does not matter.
            for msg in qualified_name(&k.to_lowercase()) {
                causes.push(errors::invalid_value(
                    &field,
                    &Value::from(k.as_str()),
                    &msg,
                ));
            }
            let len = k.len() + v.as_str().map_or(0, str::len);
            total = total.saturating_add(len as u64);
        }
        if total > TOTAL_ANNOTATION_SIZE_LIMIT {
            causes.push(errors::too_long(&field, TOTAL_ANNOTATION_SIZE_LIMIT));
        }
    }

    if let Some(refs) = meta.get("ownerReferences").and_then(Value::as_array) {
        owner_references(refs, &child(path, "ownerReferences"), causes);
    }

    if let Some(finalizers) = meta.get("finalizers").and_then(Value::as_array) {
        let field = child(path, "finalizers");
        for f in finalizers.iter().filter_map(Value::as_str) {
            for msg in qualified_name(f) {
                causes.push(errors::invalid_value(&field, &Value::from(f), &msg));
            }
        }
        let has = |name: &str| finalizers.iter().any(|f| f.as_str() == Some(name));
        if has("orphan") && has("foregroundDeletion") {
            // The bad value is the `[]string`, which a 1.33 server prints with Go's `%#v`.
            let items: Vec<String> = finalizers
                .iter()
                .filter_map(Value::as_str)
                .map(errors::quote)
                .collect();
            causes.push(errors::invalid_rendered(
                &field,
                &format!("[]string{{{}}}", items.join(", ")),
                "finalizer orphan and foregroundDeletion cannot be both set",
            ));
        }
    }
}

/// `ValidateOwnerReferences`, without its two checks whose bad value is a Go struct dump
/// (several controllers, a banned owner kind): every reference needs an `apiVersion` with a
/// version, a `kind`, a `name` and a `uid`. The causes are filed under the list itself
/// (`metadata.ownerReferences.name`, no index), as upstream files them.
fn owner_references(refs: &[Value], path: &str, causes: &mut Vec<FieldCause>) {
    for r in refs {
        let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        let api_version = text("apiVersion");
        // `schema.FromAPIVersionAndKind`: an unparsable group/version has no version.
        let version = match api_version.matches('/').count() {
            0 => api_version,
            1 => api_version.split_once('/').map_or("", |(_, v)| v),
            _ => "",
        };
        let checks = [
            (
                "apiVersion",
                api_version,
                version.is_empty(),
                "version must not be empty",
            ),
            (
                "kind",
                text("kind"),
                text("kind").is_empty(),
                "kind must not be empty",
            ),
            (
                "name",
                text("name"),
                text("name").is_empty(),
                "name must not be empty",
            ),
            (
                "uid",
                text("uid"),
                text("uid").is_empty(),
                "uid must not be empty",
            ),
        ];
        for (k, value, bad, msg) in checks {
            if bad {
                causes.push(errors::invalid_value(
                    &child(path, k),
                    &Value::from(value),
                    msg,
                ));
            }
        }
    }
}

/// `path.ValidatePathSegmentName(name, prefix)`: `.` and `..` are not names, `/` and `%`
/// may appear in neither names nor prefixes.
fn path_segment_name(name: &str, prefix: bool) -> Vec<String> {
    if !prefix && let Some(bad) = [".", ".."].into_iter().find(|b| *b == name) {
        return vec![format!("may not be '{bad}'")];
    }
    ["/", "%"]
        .into_iter()
        .filter(|c| name.contains(c))
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

/// `validation.RegexError(msg, fmt, examples...)`.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let quoted: Vec<String> = examples.iter().map(|e| format!("'{e}'")).collect();
    format!(
        "{msg} (e.g. {}, regex used for validation is '{fmt}')",
        quoted.join(",  or ")
    )
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', \
                                  and must start and end with an alphanumeric character";

/// Matches `[a-z0-9]([-a-z0-9]*[a-z0-9])?` (without a length limit).
fn matches_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Matches the subdomain regular expression (without a length limit).
fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// Matches `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn matches_qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// `validation.IsDNS1123Label`.
fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_owned());
        } else {
            errs.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric \
                 characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// `validation.IsDNS1035Label`: like an RFC 1123 label, but starting with a letter.
fn dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !(matches_dns1123_label(value) && value.starts_with(|c: char| c.is_ascii_lowercase())) {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', \
             start with an alphabetic character, and end with an alphanumeric character",
            "[a-z]([-a-z0-9]*[a-z0-9])?",
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// `validation.IsDNS1123Subdomain`.
fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
             characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `validation.IsQualifiedName`: `[prefix/]name`, the prefix a DNS subdomain, the name at
/// most 63 characters.
fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' \
                 (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `validation.IsValidLabelValue`.
fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !value.is_empty() && !matches_qualified_name_part(value) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, \
             '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}
