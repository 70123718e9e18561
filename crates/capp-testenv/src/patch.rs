//! Patch and apply semantics: JSON patch, JSON merge patch, strategic merge patch and
//! server-side apply with field managers.
//!
//! Everything here is pure: it takes the stored object and the request body as JSON and returns
//! the new object. The server decides preconditions (resourceVersion, subresources) and stores.
//!
//! # Server-side apply
//!
//! [`apply`] follows the structured-merge-diff rules that kube-apiserver uses, on the subset of
//! shapes that occur in practice:
//!
//! - Every applied leaf field is recorded in the applier's `managedFields` entry
//!   (`operation: Apply`, `fieldsType: FieldsV1`, in the real `f:`/`k:`/`v:`/`.` encoding).
//! - Applying a value that differs from the live one on a field owned by another manager is a
//!   [`ApplyError::Conflict`] unless `force` is set, which transfers ownership.
//! - Fields the applier owned before and no longer applies are removed from the object, unless
//!   another manager also owns them; containers those removals leave empty go too.
//! - Maps and structs marked `x-kubernetes-map-type: atomic` in a CRD schema are one owned
//!   field, compared and replaced whole.
//! - Lists are atomic unless the CRD schema says `x-kubernetes-list-type: set` or `map` (with
//!   `x-kubernetes-list-map-keys`); in `metadata`, `finalizers` is a set and `ownerReferences` a
//!   map keyed by `uid`; built-in kinds use the merge keys of their Go types (see [`builtin_list_kind`]).
//! - Plain writes (create, update, patch) are recorded by [`record_update`] as `operation:
//!   Update` entries that take over ownership of the fields they changed.
//!
//! Not emulated: conversion of managed fields between API versions, the `metadata.managedFields`
//! reset protocol (an empty list in a request), apply of `null` as removal, and atomic maps
//! and structs of built-in kinds (only CRD schemas are consulted).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// A failed patch.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum PatchError {
    /// The patch document is not of the expected shape (e.g. a JSON patch that is not an array
    /// of operations); the string says what is wrong.
    #[error("invalid patch: {0}")]
    Invalid(String),
    /// A JSON patch operation could not be applied (failed `test`, missing path, ...).
    #[error("the patch could not be applied: {0}")]
    Failed(String),
}

/// A failed server-side apply.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ApplyError {
    /// The applied configuration is not an object with `apiVersion`, `kind` and
    /// `metadata.name`, or has an invalid shape.
    #[error("invalid apply configuration: {0}")]
    Invalid(String),
    /// Applied values differ from live ones owned by other managers; retry with `force` to take
    /// them over.
    #[error("{}", conflict_message(.0))]
    Conflict(Vec<Conflict>),
}

/// One field on which an apply conflicts with another manager.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Conflict {
    /// The manager that owns the field.
    pub manager: String,
    /// The field, in the apiserver's notation (`.spec.replicas`, `.spec.ports[port=80]`).
    pub field: String,
}

/// The apiserver's message for a conflicting apply.
fn conflict_message(conflicts: &[Conflict]) -> String {
    let n = conflicts.len();
    let mut msg = format!(
        "Apply failed with {n} conflict{}:",
        if n == 1 { "" } else { "s" }
    );
    for c in conflicts {
        let _ = write!(msg, " conflict with {:?}: {};", c.manager, c.field);
    }
    msg.pop();
    msg
}

/// How a list is merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// The list is one value: replaced whole, owned whole.
    Atomic,
    /// A set of scalars: merged by value.
    Set,
    /// A list of objects merged by the named key fields.
    Map(Vec<String>),
}

/// Options of one server-side apply request.
#[derive(Clone, Debug, Default)]
pub(crate) struct ApplyOptions<'a> {
    /// The field manager (`fieldManager` query parameter).
    pub manager: String,
    /// Whether conflicts are resolved by taking ownership (`force=true`).
    pub force: bool,
    /// The subresource written (`Some("status")` for `/status`).
    pub subresource: Option<String>,
    /// Whether the kind has a status subresource: the main resource then ignores `status`, and
    /// the status subresource ignores everything else.
    pub status_subresource: bool,
    /// The timestamp recorded in `managedFields` (RFC 3339).
    pub now: String,
    /// The CRD version's `openAPIV3Schema`, used for list types; `None` for built-in kinds.
    pub schema: Option<&'a Value>,
}

/// Applies an RFC 6902 JSON patch (including `test`) to `doc`, as the apiserver does.
///
/// One deviation from the RFC, matching Go's json-patch which kube-apiserver uses: a `test` of
/// `null` against a missing path succeeds (missing reads as null). kube's `finalizer` helper
/// relies on it (`{"op":"test","path":"/metadata/finalizers","value":null}`).
pub(crate) fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Some(ops) = patch.as_array() else {
        return Err(PatchError::Invalid(
            "a JSON patch must be an array of operations".to_owned(),
        ));
    };
    let mut out = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        let missing_null_test = op.get("op").and_then(Value::as_str) == Some("test")
            && op.get("value").is_some_and(Value::is_null)
            && op
                .get("path")
                .and_then(Value::as_str)
                .is_some_and(|p| out.pointer(p).is_none());
        if missing_null_test {
            continue;
        }
        let op: json_patch::PatchOperation = serde_json::from_value(op.clone())
            .map_err(|e| PatchError::Invalid(format!("operation {i} is not valid: {e}")))?;
        json_patch::patch(&mut out, &json_patch::Patch(vec![op]))
            .map_err(|e| PatchError::Failed(format!("operation {i}: {e}")))?;
    }
    Ok(out)
}

/// Applies an RFC 7386 JSON merge patch to `doc`.
#[must_use]
pub(crate) fn merge_patch(doc: &Value, patch: &Value) -> Value {
    let mut out = doc.clone();
    json_patch::merge(&mut out, patch);
    out
}

/// Applies a strategic merge patch to a built-in object of `api_version`/`kind`.
///
/// Lists with a merge key in the Go types (containers by `name`, ports, env, volumes,
/// conditions by `type`, ...) are merged element by element; `finalizers` merge as a set; other
/// lists are replaced. The directives `$patch: replace|delete|merge`, `$retainKeys`,
/// `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` (ignored: order is kept) are
/// honoured.
pub(crate) fn strategic_merge_patch(
    doc: &Value,
    patch: &Value,
    api_version: &str,
    kind: &str,
) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::Invalid(format!(
            "a strategic merge patch for {api_version} {kind} must be a JSON object"
        )));
    }
    let mut out = doc.clone();
    smp_object(&mut out, patch, &mut Vec::new())?;
    Ok(out)
}

fn smp_object(doc: &mut Value, patch: &Value, names: &mut Vec<String>) -> Result<(), PatchError> {
    let Some(patch_map) = patch.as_object() else {
        *doc = patch.clone();
        return Ok(());
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *doc = strip_directives(patch);
            return Ok(());
        }
        Some("delete") => {
            *doc = Value::Object(Map::new());
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => {
            return Err(PatchError::Invalid(format!(
                "unknown $patch directive {other:?}"
            )));
        }
    }
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let Some(target) = doc.as_object_mut() else {
        return Ok(());
    };
    for (key, pv) in patch_map {
        if key.starts_with("$setElementOrder/") || key == "$patch" || key == "$retainKeys" {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let remove: Vec<&Value> = pv.as_array().into_iter().flatten().collect();
            if let Some(Value::Array(items)) = target.get_mut(field) {
                items.retain(|v| !remove.contains(&v));
            }
            continue;
        }
        if pv.is_null() {
            target.remove(key);
            continue;
        }
        names.push(key.clone());
        match pv {
            Value::Object(_) => {
                let child = target.entry(key.clone()).or_insert(Value::Null);
                if pv.get("$patch").and_then(Value::as_str) == Some("delete") {
                    target.remove(key);
                } else {
                    smp_object(child, pv, names)?;
                }
            }
            Value::Array(items) => {
                let kind = builtin_list_kind(names, items);
                let child = target
                    .entry(key.clone())
                    .or_insert(Value::Array(Vec::new()));
                smp_list(child, items, &kind, names)?;
            }
            _ => {
                target.insert(key.clone(), pv.clone());
            }
        }
        names.pop();
    }
    if let Some(keep) = patch_map.get("$retainKeys").and_then(Value::as_array) {
        let keep: BTreeSet<&str> = keep.iter().filter_map(Value::as_str).collect();
        target.retain(|k, _| keep.contains(k.as_str()));
    }
    Ok(())
}

fn smp_list(
    doc: &mut Value,
    items: &[Value],
    kind: &ListKind,
    names: &mut Vec<String>,
) -> Result<(), PatchError> {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *doc = Value::Array(
            items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .map(strip_directives)
                .collect(),
        );
        return Ok(());
    }
    let existing = match doc {
        Value::Array(existing) => existing,
        other => {
            *other = Value::Array(Vec::new());
            match other {
                Value::Array(existing) => existing,
                _ => return Ok(()),
            }
        }
    };
    match kind {
        ListKind::Atomic => *existing = items.to_vec(),
        ListKind::Set => {
            for item in items {
                if !existing.contains(item) {
                    existing.push(item.clone());
                }
            }
        }
        ListKind::Map(keys) => {
            for item in items {
                let pos = existing.iter().position(|e| same_key(e, item, keys));
                let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                match (pos, delete) {
                    (Some(i), true) => {
                        existing.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => smp_object(&mut existing[i], item, names)?,
                    (None, false) => existing.push(strip_directives(item)),
                }
            }
        }
    }
    Ok(())
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

/// Whether two list elements have the same values for the merge keys present in `b`.
fn same_key(a: &Value, b: &Value, keys: &[String]) -> bool {
    let mut any = false;
    for k in keys {
        if let Some(bv) = b.get(k) {
            any = true;
            if a.get(k) != Some(bv) {
                return false;
            }
        }
    }
    any
}

/// The list kind of the field at `path` (field names from the object root; list elements do
/// not appear in it) for built-in kinds and for `metadata` of every kind.
///
/// `items` disambiguates `ports`, whose key is `containerPort` in Pods and `port` in Services.
#[must_use]
pub(crate) fn builtin_list_kind(path: &[String], items: &[Value]) -> ListKind {
    let last = path.last().map_or("", String::as_str);
    let in_metadata = path.first().is_some_and(|p| p == "metadata") && path.len() == 2;
    let keys: &[&str] = match last {
        "finalizers" if in_metadata => return ListKind::Set,
        "ownerReferences" if in_metadata => &["uid"],
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "hostAliases" => {
            if last == "hostAliases" {
                &["ip"]
            } else {
                &["name"]
            }
        }
        "volumeMounts" | "volumeDevices" => &["mountPath"],
        "ports" => {
            if items.iter().any(|i| i.get("containerPort").is_some()) {
                &["containerPort", "protocol"]
            } else {
                &["port", "protocol"]
            }
        }
        "conditions" | "addresses" => &["type"],
        "taints" => &["key", "effect"],
        _ => return ListKind::Atomic,
    };
    ListKind::Map(keys.iter().map(|k| (*k).to_owned()).collect())
}

/// The list kind a CRD schema declares for a list node.
fn schema_list_kind(schema: &Value) -> ListKind {
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => ListKind::Set,
        Some("map") => ListKind::Map(
            schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => ListKind::Atomic,
    }
}

mod apply;

pub(crate) use apply::{apply, record_update};

#[cfg(test)]
mod tests;
