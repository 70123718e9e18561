//! Decoding of built-in kinds the way the real server decodes them into Go structs: the object
//! is read into its `k8s_openapi` type, so wrong types are a 400 and fields the type does not
//! have are found (and then pruned, warned about or rejected per `fieldValidation`).

use std::fmt::Write as _;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use k8s_openapi::api::admissionregistration::v1 as admission;
use k8s_openapi::api::{apps, coordination, core, events, rbac, storage};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;

/// A path segment of an unknown field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// An unknown field: its segments and its display path (`spec.template.foo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unknown {
    pub(crate) path: Vec<Seg>,
    pub(crate) display: String,
}

fn roundtrip<T: DeserializeOwned + Serialize>(obj: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(obj.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

/// Decodes a built-in object; returns its unknown fields, `Ok(None)` for kinds this module does
/// not know, or the decoding error.
pub(crate) fn check(
    group: &str,
    plural: &str,
    obj: &Value,
) -> Result<Option<Vec<Unknown>>, String> {
    let Some(typed) = typed(group, plural, obj) else {
        return Ok(None);
    };
    let typed = typed?;
    let mut out = Vec::new();
    diff(obj, &typed, &mut Vec::new(), &mut out);
    Ok(Some(out))
}

/// `obj` decoded into its `k8s_openapi` type and encoded again; `None` for kinds this module
/// does not know.
fn typed(group: &str, plural: &str, obj: &Value) -> Option<Result<Value, String>> {
    Some(match (group, plural) {
        ("", "namespaces") => roundtrip::<core::v1::Namespace>(obj),
        ("", "secrets") => roundtrip::<core::v1::Secret>(obj),
        ("", "configmaps") => roundtrip::<core::v1::ConfigMap>(obj),
        ("", "serviceaccounts") => roundtrip::<core::v1::ServiceAccount>(obj),
        ("", "services") => roundtrip::<core::v1::Service>(obj),
        ("", "events") => roundtrip::<core::v1::Event>(obj),
        ("", "nodes") => roundtrip::<core::v1::Node>(obj),
        ("", "pods") => roundtrip::<core::v1::Pod>(obj),
        ("events.k8s.io", "events") => roundtrip::<events::v1::Event>(obj),
        ("coordination.k8s.io", "leases") => roundtrip::<coordination::v1::Lease>(obj),
        ("storage.k8s.io", "volumeattachments") => roundtrip::<storage::v1::VolumeAttachment>(obj),
        ("apps", "deployments") => roundtrip::<apps::v1::Deployment>(obj),
        ("rbac.authorization.k8s.io", "roles") => roundtrip::<rbac::v1::Role>(obj),
        ("rbac.authorization.k8s.io", "clusterroles") => roundtrip::<rbac::v1::ClusterRole>(obj),
        ("rbac.authorization.k8s.io", "rolebindings") => roundtrip::<rbac::v1::RoleBinding>(obj),
        ("rbac.authorization.k8s.io", "clusterrolebindings") => {
            roundtrip::<rbac::v1::ClusterRoleBinding>(obj)
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            roundtrip::<apiextensions::CustomResourceDefinition>(obj)
        }
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations") => {
            roundtrip::<admission::ValidatingWebhookConfiguration>(obj)
        }
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations") => {
            roundtrip::<admission::MutatingWebhookConfiguration>(obj)
        }
        _ => return None,
    })
}

/// A key no built-in type has, put into an empty object to learn whether it is a map.
const PROBE: &str = "capp-testenv.io/probe";

/// Removes the empty maps of a built-in object, as Go's `omitempty` does when the server
/// encodes the struct it decoded the object into (every map field of the served kinds is
/// `omitempty`: `data`, `labels`, `annotations`, `nodeSelector`, `matchLabels`...): an empty
/// object `{}` whose type is a map goes, one whose type is a struct (`emptyDir: {}`) stays.
/// The type is learnt from `k8s_openapi`: a probe key put into the object survives the typed
/// round trip only in a map (or in raw JSON, which takes values of every type).
pub(crate) fn omit_empty_maps(group: &str, plural: &str, obj: &mut Value) {
    fn empty_objects(v: &Value, pointer: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    if child.as_object().is_some_and(serde_json::Map::is_empty) {
                        out.push(p);
                    } else {
                        empty_objects(child, &p, out);
                    }
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    empty_objects(child, &format!("{pointer}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut empties = Vec::new();
    empty_objects(obj, "", &mut empties);
    for pointer in empties {
        let survives = |probe: Value| {
            let mut probed = obj.clone();
            if let Some(m) = probed.pointer_mut(&pointer).and_then(Value::as_object_mut) {
                m.insert(PROBE.to_owned(), probe);
            }
            typed(group, plural, &probed)
                .and_then(Result::ok)
                .is_some_and(|t| t.pointer(&pointer).and_then(|m| m.get(PROBE)).is_some())
        };
        let (string, object) = (
            survives(Value::String(String::new())),
            survives(Value::Object(serde_json::Map::new())),
        );
        // A map's values have one type; raw JSON (`fieldsV1`, a schema's `default`) takes any
        // value and is kept as sent, as Go keeps a `json.RawMessage`.
        let is_map = string != object;
        let Some((parent, key)) = pointer.rsplit_once('/') else {
            continue;
        };
        let key = key.replace("~1", "/").replace("~0", "~");
        if is_map && let Some(m) = obj.pointer_mut(parent).and_then(Value::as_object_mut) {
            m.remove(&key);
        }
    }
}

fn display(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => {
                let _ = write!(s, "[{i}]");
            }
        }
    }
    s
}

/// Collects paths present (and not null) in `original` but absent from `typed`.
fn diff(original: &Value, typed: &Value, path: &mut Vec<Seg>, out: &mut Vec<Unknown>) {
    match (original, typed) {
        (Value::Object(o), Value::Object(t)) => {
            for (k, v) in o {
                if v.is_null() {
                    continue;
                }
                path.push(Seg::Key(k.clone()));
                match t.get(k) {
                    Some(tv) => diff(v, tv, path, out),
                    None => out.push(Unknown {
                        path: path.clone(),
                        display: display(path),
                    }),
                }
                path.pop();
            }
        }
        (Value::Array(o), Value::Array(t)) if o.len() == t.len() => {
            for (i, (ov, tv)) in o.iter().zip(t).enumerate() {
                path.push(Seg::Index(i));
                diff(ov, tv, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Removes unknown fields from `obj` (last first, so array indexes stay valid).
pub(crate) fn prune(obj: &mut Value, unknown: &[Unknown]) {
    for u in unknown.iter().rev() {
        let Some((Seg::Key(last), parents)) = u.path.split_last() else {
            continue;
        };
        let pointer: String = parents
            .iter()
            .map(|seg| match seg {
                Seg::Key(k) => format!("/{}", k.replace('~', "~0").replace('/', "~1")),
                Seg::Index(i) => format!("/{i}"),
            })
            .collect();
        if let Some(m) = obj.pointer_mut(&pointer).and_then(Value::as_object_mut) {
            m.remove(last);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_fields_of_built_in_kinds_are_found_and_pruned() {
        let mut d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": null},
            "spec": {
                "replicas": 2, "replica": 3,
                "selector": {"matchLabels": {"a": "b"}},
                "template": {"spec": {"containers": [{"name": "c", "image": "i", "imagePolicy": "x"}]}}
            }
        });
        let unknown = check("apps", "deployments", &d).unwrap().unwrap();
        let paths: Vec<&str> = unknown.iter().map(|u| u.display.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.replica",
                "spec.template.spec.containers[0].imagePolicy"
            ]
        );
        prune(&mut d, &unknown);
        assert!(d["spec"].get("replica").is_none());
        assert!(
            d["spec"]["template"]["spec"]["containers"][0]
                .get("imagePolicy")
                .is_none()
        );
        assert_eq!(d["spec"]["replicas"], 2);
    }

    #[test]
    fn wrong_types_are_decoding_errors_and_other_kinds_are_not_checked() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}});
        assert!(check("", "configmaps", &cm).is_err());
        assert_eq!(check("example.com", "widgets", &cm).unwrap(), None);
    }
}
