//! Lossless conversion between `infrastructure.cluster.x-k8s.io/v1beta1` and `v1beta2`
//! (pure functions: no API call, no clock).
//!
//! Each kind converts with `TryFrom` both ways (`v1beta2::PacketCluster::try_from(v1beta1)`
//! and back), and [`review`] answers the API server's `ConversionReview`s with them.
//!
//! # How nothing is lost
//!
//! The field mapping of each kind ([`kinds`]) is the v1beta2 contract's: `ready` ↔
//! `initialization.provisioned`, v1beta1 conditions ↔ `deprecated.v1beta1.conditions`,
//! `v1beta2.conditions` ↔ `conditions`, `failureReason`/`failureMessage` ↔
//! `deprecated.v1beta1.*`, the failure domain map ↔ list, `providerID` optional ↔ plain
//! string. Some values have no place in the other version: a `ready: false` beside
//! `initialization.provisioned: true` (provisioning never goes back, readiness may), the
//! order of a failure domain list, `providerID: ""` versus no `providerID`, an empty
//! `status.deprecated` block, and so on.
//!
//! As Cluster API does (`util/conversion.MarshalData`), those values travel in the
//! annotation [`DATA_ANNOTATION`] (`cluster.x-k8s.io/conversion-data`) of the converted
//! object and are put back, and the annotation removed, when the object converts back. Where
//! Cluster API stores the whole source object, the annotation here holds only what the other
//! version cannot express: a JSON list of entries `{"path": [..], "value": .., "converted": ..}`,
//! one per field the plain mapping gets wrong, with the original `value` (absent when the
//! field was absent) and the value the plain mapping produces (`converted`). On the way back
//! an entry is applied only while the object still holds the `converted` value at that path:
//! if a client changed the field meanwhile, its change wins over the stale saved value.
//!
//! So `v1beta1 → v1beta2 → v1beta1` and `v1beta2 → v1beta1 → v1beta2` return the object
//! unchanged, annotations included (property tests in `tests/conversion_roundtrip.rs`).

use std::collections::BTreeSet;

use kube::Resource;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::{Error, Result};

pub mod kinds;
pub mod review;

/// The annotation that carries, on a converted object, the fields its version cannot hold
/// (same name as Cluster API's `util/conversion.DataAnnotation`).
pub const DATA_ANNOTATION: &str = "cluster.x-k8s.io/conversion-data";

/// The plain, possibly lossy, field mapping of one kind from one version to the other.
/// [`convert`] makes it lossless.
pub trait Project<Target> {
    /// The object in the other version, metadata (annotations included) copied unchanged.
    fn project(&self) -> Target;
}

/// One field the plain mapping does not carry over: where it is, what it was, and what the
/// mapping made of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    /// JSON keys from the object root (`["status", "ready"]`).
    path: Vec<String>,
    /// The original value; absent when the field was absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    value: Option<Value>,
    /// The value the plain mapping produced; absent when it produced no field.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    converted: Option<Value>,
}

/// Deserializes a present field as `Some`, even when it is JSON `null`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Converts `source` to the other version without loss: the plain mapping ([`Project`]),
/// then the fields saved in `source`'s [`DATA_ANNOTATION`] (by an earlier conversion the other
/// way) put back, then what the result cannot hold saved in its own annotation.
///
/// # Errors
///
/// [`Error::Conversion`] when the annotation is not a list of entries written by this module,
/// or when putting its values back yields an object that does not parse.
pub fn convert<Source, Target>(source: &Source) -> Result<Target>
where
    Source: Project<Target> + Resource + Clone + Serialize,
    Target: Project<Source> + Resource + Serialize + DeserializeOwned,
    Source::DynamicType: Default,
{
    let kind = Source::kind(&Default::default()).into_owned();
    let name = source.meta().name.clone().unwrap_or_default();
    let failed = |problem: String| Error::Conversion {
        kind: kind.clone(),
        name: name.clone(),
        problem,
    };

    let mut source = source.clone();
    let saved = take_annotation(source.meta_mut());
    let plain: Target = source.project();
    let back: Source = plain.project();
    let lost = diff(&to_value(&back, &failed)?, &to_value(&source, &failed)?);

    let mut target = plain;
    if let Some(text) = saved {
        let entries: Vec<Entry> = serde_json::from_str(&text).map_err(|e| {
            failed(format!(
                "annotation {DATA_ANNOTATION} is not a list of conversion entries ({e}); \
                 remove the annotation (it only keeps fields the other API version lacks)"
            ))
        })?;
        let mut value = to_value(&target, &failed)?;
        restore(&mut value, &entries).map_err(&failed)?;
        target = serde_json::from_value(value).map_err(|e| {
            failed(format!(
                "the fields saved in annotation {DATA_ANNOTATION} do not fit the object ({e}); \
                 remove the annotation"
            ))
        })?;
    }
    if !lost.is_empty() {
        let text = serde_json::to_string(&lost)
            .map_err(|e| failed(format!("cannot encode {DATA_ANNOTATION}: {e}")))?;
        target
            .meta_mut()
            .annotations
            .get_or_insert_with(Default::default)
            .insert(DATA_ANNOTATION.to_owned(), text);
    }
    Ok(target)
}

/// Removes [`DATA_ANNOTATION`] (and an annotation map it leaves empty), returning its value.
fn take_annotation(
    meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<String> {
    let annotations = meta.annotations.as_mut()?;
    let value = annotations.remove(DATA_ANNOTATION);
    if value.is_some() && annotations.is_empty() {
        meta.annotations = None;
    }
    value
}

fn to_value<T: Serialize>(object: &T, failed: &impl Fn(String) -> Error) -> Result<Value> {
    serde_json::to_value(object).map_err(|e| failed(format!("cannot encode the object: {e}")))
}

/// The object without `apiVersion`, `kind` and `metadata`: what conversion changes.
fn body(object: &Value) -> Map<String, Value> {
    let mut map = object.as_object().cloned().unwrap_or_default();
    for key in ["apiVersion", "kind", "metadata"] {
        map.remove(key);
    }
    map
}

/// The entries that turn `converted` into `original` (both whole objects; metadata ignored).
fn diff(converted: &Value, original: &Value) -> Vec<Entry> {
    let mut out = Vec::new();
    diff_maps(&body(converted), &body(original), &mut Vec::new(), &mut out);
    out
}

fn diff_maps(
    converted: &Map<String, Value>,
    original: &Map<String, Value>,
    path: &mut Vec<String>,
    out: &mut Vec<Entry>,
) {
    let keys: BTreeSet<&String> = converted.keys().chain(original.keys()).collect();
    for key in keys {
        path.push(key.clone());
        match (converted.get(key), original.get(key)) {
            (Some(Value::Object(c)), Some(Value::Object(o))) => diff_maps(c, o, path, out),
            (c, o) if c != o => out.push(Entry {
                path: path.clone(),
                value: o.cloned(),
                converted: c.cloned(),
            }),
            _ => {}
        }
        path.pop();
    }
}

/// Puts saved values back where the object still holds what the plain mapping produced.
fn restore(object: &mut Value, entries: &[Entry]) -> Result<(), String> {
    for entry in entries {
        let Some((last, parents)) = entry.path.split_last() else {
            return Err(format!(
                "annotation {DATA_ANNOTATION} has an entry with an empty path; remove the annotation"
            ));
        };
        if matches!(
            entry.path.first().map(String::as_str),
            Some("apiVersion" | "kind" | "metadata")
        ) {
            return Err(format!(
                "annotation {DATA_ANNOTATION} has an entry for {:?}, which conversion never \
                 changes; remove the annotation",
                entry.path.join(".")
            ));
        }
        let Some(parent) = parent_of(object, parents) else {
            continue;
        };
        if parent.get(last) != entry.converted.as_ref() {
            continue;
        }
        match &entry.value {
            Some(value) => {
                parent.insert(last.clone(), value.clone());
            }
            None => {
                parent.remove(last);
            }
        }
    }
    Ok(())
}

/// The object at `path` below `object`, when every step is an object.
fn parent_of<'a>(object: &'a mut Value, path: &[String]) -> Option<&'a mut Map<String, Value>> {
    let mut node = object;
    for key in path {
        node = node.get_mut(key.as_str())?;
    }
    node.as_object_mut()
}

#[cfg(test)]
mod tests;
