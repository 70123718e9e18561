//! Pruning of unknown fields, as `pkg/apiserver/schema/pruning` does it.

use serde_json::Value;

use super::errors;
use super::node::Node;

/// Prunes a whole resource. The root keeps `apiVersion` and `kind` (when strings) and
/// `metadata` (when an object) whatever the schema says; the server coerces metadata itself.
pub(crate) fn prune_root(obj: &mut Value, root: &Node, pruned: &mut Vec<String>) {
    prune_value(obj, Some(root), "", pruned);
}

/// Prunes `value` against `node` (`None`: no schema, everything below is unknown), recording
/// the path of every dropped field below `path`.
pub(crate) fn prune_value(
    value: &mut Value,
    node: Option<&Node>,
    path: &str,
    pruned: &mut Vec<String>,
) {
    if let Some(n) = node
        && n.preserve_unknown
    {
        prune_known(value, n, path, pruned);
        return;
    }
    match value {
        Value::Object(map) => {
            let Some(n) = node else {
                for k in map.keys() {
                    pruned.push(errors::child(path, k));
                }
                map.clear();
                return;
            };
            // One pass in key order, so paths are reported in document order.
            let mut unknown = Vec::new();
            for (k, v) in map.iter_mut() {
                if n.embedded && is_kept_meta_field(k, v) {
                    if k == "metadata" {
                        coerce_metadata(v, &errors::child(path, k), pruned);
                    }
                    continue;
                }
                if n.properties.contains_key(k) || n.additional.is_some() {
                    prune_value(v, n.child(k), &errors::child(path, k), pruned);
                } else {
                    pruned.push(errors::child(path, k));
                    unknown.push(k.clone());
                }
            }
            for k in unknown {
                map.remove(&k);
            }
        }
        Value::Array(items) => {
            let item_node = node.and_then(|n| n.items.as_deref());
            for (i, item) in items.iter_mut().enumerate() {
                prune_value(item, item_node, &errors::index(path, i), pruned);
            }
        }
        _ => {}
    }
}

/// Under `x-kubernetes-preserve-unknown-fields`: unknown fields stay, known ones are still
/// pruned by their own schema (upstream `skipPrune`; array items keep the preserving
/// behaviour, as upstream).
fn prune_known(value: &mut Value, node: &Node, path: &str, pruned: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if node.embedded && is_kept_meta_field(k, v) {
                    if k == "metadata" {
                        coerce_metadata(v, &errors::child(path, k), pruned);
                    }
                    continue;
                }
                if let Some(child) = node.child(k) {
                    prune_value(v, Some(child), &errors::child(path, k), pruned);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_node) = node.items.as_deref() {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_known(item, item_node, &errors::index(path, i), pruned);
                }
            }
        }
        _ => {}
    }
}

/// `apiVersion`/`kind` strings and the `metadata` object of a resource root or embedded
/// resource are never pruned.
fn is_kept_meta_field(key: &str, value: &Value) -> bool {
    match key {
        "apiVersion" | "kind" => value.is_string(),
        "metadata" => value.is_object(),
        _ => false,
    }
}

/// Coerces the `metadata` of a resource or embedded resource into an ObjectMeta, as upstream
/// `objectmeta.Coerce` does for every write: unknown fields are dropped and reported like
/// pruned ones (`metadata.foo`); known fields of the wrong type are dropped silently.
fn coerce_metadata(meta: &mut Value, path: &str, pruned: &mut Vec<String>) {
    let Some(map) = meta.as_object_mut() else {
        return;
    };
    let mut dropped = Vec::new();
    for (k, v) in map.iter() {
        let well_formed = match k.as_str() {
            "name" | "generateName" | "namespace" | "selfLink" | "uid" | "resourceVersion" => {
                v.is_string()
            }
            "generation" | "deletionGracePeriodSeconds" => v.is_i64() || v.is_u64(),
            "creationTimestamp" | "deletionTimestamp" => {
                v.is_null()
                    || v.as_str()
                        .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok())
            }
            "labels" | "annotations" => v
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string)),
            "finalizers" => v.as_array().is_some_and(|l| l.iter().all(Value::is_string)),
            "ownerReferences" | "managedFields" => {
                v.as_array().is_some_and(|l| l.iter().all(Value::is_object))
            }
            _ => {
                pruned.push(errors::child(path, k));
                false
            }
        };
        if !well_formed {
            dropped.push(k.clone());
        }
    }
    for k in dropped {
        map.remove(&k);
    }
}
