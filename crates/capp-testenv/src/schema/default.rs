//! Structural defaulting, as `pkg/apiserver/schema/defaulting` does it.

use serde_json::Value;

use super::node::Node;

/// Drops `null` values of non-nullable fields that have no default: the real server prunes
/// them before defaulting (`PruneNonNullableNullsWithoutDefaults`), so `spec.x: null` reads
/// as if `x` were absent. Array items are left alone (they cannot be removed).
pub(crate) fn prune_non_nullable_nulls(value: &mut Value, node: &Node) {
    match value {
        Value::Object(map) => {
            map.retain(|k, v| {
                let Some(child) = node.child(k) else {
                    return true;
                };
                !(v.is_null() && child.default.is_none() && !child.nullable)
            });
            for (k, v) in map.iter_mut() {
                if let Some(child) = node.child(k) {
                    prune_non_nullable_nulls(v, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_node) = node.items.as_deref() {
                for item in items {
                    prune_non_nullable_nulls(item, item_node);
                }
            }
        }
        _ => {}
    }
}

/// Applies `default`s: missing properties of existing objects, and `null` values of
/// non-nullable fields (properties, `additionalProperties` values, array items), recursing
/// into every value afterwards (defaults inside defaults included). Objects that do not exist
/// are not created, exactly like the real server.
pub(crate) fn apply_defaults(value: &mut Value, node: &Node) {
    match value {
        Value::Object(map) => {
            for (k, prop) in &node.properties {
                let Some(default) = &prop.default else {
                    continue;
                };
                match map.get_mut(k) {
                    None => {
                        map.insert(k.clone(), default.clone());
                    }
                    Some(v) if v.is_null() && !prop.nullable => *v = default.clone(),
                    Some(_) => {}
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = node.properties.get(k) {
                    apply_defaults(v, prop);
                } else if let Some(add) = node.additional.as_deref() {
                    if v.is_null()
                        && !add.nullable
                        && let Some(default) = &add.default
                    {
                        *v = default.clone();
                    }
                    apply_defaults(v, add);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_node) = node.items.as_deref() {
                for item in items {
                    if item.is_null()
                        && !item_node.nullable
                        && let Some(default) = &item_node.default
                    {
                        *item = default.clone();
                    }
                    apply_defaults(item, item_node);
                }
            }
        }
        _ => {}
    }
}
