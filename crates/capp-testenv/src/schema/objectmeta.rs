//! Validation of `x-kubernetes-embedded-resource` objects: their `apiVersion` and `kind`, and
//! the ObjectMeta syntax of their `metadata` (upstream `objectmeta.Validate` with
//! `ValidateObjectMeta` and path-segment names), worded as `k8s.io/apimachinery` words it.
//!
//! Unlike the OpenAPI validation this is not ratcheted: the real server checks embedded
//! resources in full on every create and update.

use serde_json::{Map, Value};

use super::FieldCause;
use super::errors::{self, child, index, key};
use super::node::Node;
use crate::names::{dns1035_label, dns1123_label, label_value, path_segment_name, qualified_name};

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
