//! Decoding of the Kubernetes protobuf envelope for the few kinds kubectl creates through its
//! typed (protobuf) clients: `kubectl create configmap|secret|namespace|serviceaccount|role|
//! rolebinding|clusterrole|clusterrolebinding` and `kubectl auth can-i`.
//!
//! The body is `k8s\0` followed by a `runtime.Unknown` message (type meta, raw object bytes).
//! The raw bytes are decoded with hand-written field tables (the Go types' protobuf tags) into
//! the same JSON the object would have been sent as. Responses stay JSON, which clients accept.

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// How one field is decoded.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Msg(&'static [Field]),
    RepStr,
    RepMsg(&'static [Field]),
    MapStr,
    MapBytes,
}

type Field = (u64, &'static str, Kind);

const OWNER_REFERENCE: &[Field] = &[
    (1, "kind", Kind::Str),
    (3, "name", Kind::Str),
    (4, "uid", Kind::Str),
    (5, "apiVersion", Kind::Str),
    (6, "controller", Kind::Bool),
    (7, "blockOwnerDeletion", Kind::Bool),
];

const OBJECT_META: &[Field] = &[
    (1, "name", Kind::Str),
    (2, "generateName", Kind::Str),
    (3, "namespace", Kind::Str),
    (5, "uid", Kind::Str),
    (6, "resourceVersion", Kind::Str),
    (11, "labels", Kind::MapStr),
    (12, "annotations", Kind::MapStr),
    (13, "ownerReferences", Kind::RepMsg(OWNER_REFERENCE)),
    (14, "finalizers", Kind::RepStr),
];

const LOCAL_OBJECT_REFERENCE: &[Field] = &[(1, "name", Kind::Str)];
const OBJECT_REFERENCE: &[Field] = &[
    (1, "kind", Kind::Str),
    (2, "namespace", Kind::Str),
    (3, "name", Kind::Str),
];

const CONFIG_MAP: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::MapStr),
    (3, "binaryData", Kind::MapBytes),
    (4, "immutable", Kind::Bool),
];

const SECRET: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::MapBytes),
    (3, "type", Kind::Str),
    (4, "stringData", Kind::MapStr),
    (5, "immutable", Kind::Bool),
];

const NAMESPACE: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(&[(1, "finalizers", Kind::RepStr)])),
];

const SERVICE_ACCOUNT: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "secrets", Kind::RepMsg(OBJECT_REFERENCE)),
    (3, "imagePullSecrets", Kind::RepMsg(LOCAL_OBJECT_REFERENCE)),
    (4, "automountServiceAccountToken", Kind::Bool),
];

const POLICY_RULE: &[Field] = &[
    (1, "verbs", Kind::RepStr),
    (2, "apiGroups", Kind::RepStr),
    (3, "resources", Kind::RepStr),
    (4, "resourceNames", Kind::RepStr),
    (5, "nonResourceURLs", Kind::RepStr),
];

const ROLE: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "rules", Kind::RepMsg(POLICY_RULE)),
];

const SUBJECT: &[Field] = &[
    (1, "kind", Kind::Str),
    (2, "apiGroup", Kind::Str),
    (3, "name", Kind::Str),
    (4, "namespace", Kind::Str),
];

const ROLE_REF: &[Field] = &[
    (1, "apiGroup", Kind::Str),
    (2, "kind", Kind::Str),
    (3, "name", Kind::Str),
];

const BINDING: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "subjects", Kind::RepMsg(SUBJECT)),
    (3, "roleRef", Kind::Msg(ROLE_REF)),
];

const RESOURCE_ATTRIBUTES: &[Field] = &[
    (1, "namespace", Kind::Str),
    (2, "verb", Kind::Str),
    (3, "group", Kind::Str),
    (4, "version", Kind::Str),
    (5, "resource", Kind::Str),
    (6, "subresource", Kind::Str),
    (7, "name", Kind::Str),
];

const SELF_SUBJECT_ACCESS_REVIEW: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (
        2,
        "spec",
        Kind::Msg(&[
            (1, "resourceAttributes", Kind::Msg(RESOURCE_ATTRIBUTES)),
            (
                2,
                "nonResourceAttributes",
                Kind::Msg(&[(1, "path", Kind::Str), (2, "verb", Kind::Str)]),
            ),
        ]),
    ),
];

const SELF_SUBJECT_RULES_REVIEW: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(&[(1, "namespace", Kind::Str)])),
];

fn table(api_version: &str, kind: &str) -> Option<&'static [Field]> {
    Some(match (api_version, kind) {
        ("v1", "ConfigMap") => CONFIG_MAP,
        ("v1", "Secret") => SECRET,
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ServiceAccount") => SERVICE_ACCOUNT,
        ("rbac.authorization.k8s.io/v1", "Role" | "ClusterRole") => ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => BINDING,
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => SELF_SUBJECT_ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => SELF_SUBJECT_RULES_REVIEW,
        _ => return None,
    })
}

/// A protobuf wire value.
enum Wire<'a> {
    Varint(u64),
    Len(&'a [u8]),
}

/// Reads `(field number, value)` pairs; `None` on malformed input.
fn fields(mut buf: &[u8]) -> Option<Vec<(u64, Wire<'_>)>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let value = match key & 7 {
            0 => Wire::Varint(varint(&mut buf)?),
            2 => {
                let n = usize::try_from(varint(&mut buf)?).ok()?;
                let (v, rest) = (buf.get(..n)?, buf.get(n..)?);
                buf = rest;
                Wire::Len(v)
            }
            1 => {
                buf = buf.get(8..)?;
                continue;
            }
            5 => {
                buf = buf.get(4..)?;
                continue;
            }
            _ => return None,
        };
        out.push((key >> 3, value));
    }
    Some(out)
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn string(bytes: &[u8]) -> Option<Value> {
    std::str::from_utf8(bytes)
        .ok()
        .map(|s| Value::String(s.to_owned()))
}

fn map_entry(bytes: &[u8], as_bytes: bool) -> Option<(String, Value)> {
    let mut key = String::new();
    let mut value = json!("");
    for (n, w) in fields(bytes)? {
        match (n, w) {
            (1, Wire::Len(b)) => std::str::from_utf8(b).ok()?.clone_into(&mut key),
            (2, Wire::Len(b)) if as_bytes => {
                value = json!(base64::engine::general_purpose::STANDARD.encode(b));
            }
            (2, Wire::Len(b)) => value = string(b)?,
            _ => {}
        }
    }
    Some((key, value))
}

fn message(bytes: &[u8], schema: &[Field]) -> Option<Value> {
    let mut out = Map::new();
    for (n, w) in fields(bytes)? {
        let Some(&(_, name, kind)) = schema.iter().find(|f| f.0 == n) else {
            continue;
        };
        let entry = out.entry(name);
        match (kind, w) {
            (Kind::Str, Wire::Len(b)) if !b.is_empty() => {
                entry.or_insert(string(b)?);
            }
            (Kind::Bool, Wire::Varint(v)) => {
                entry.or_insert(json!(v != 0));
            }
            (Kind::Msg(s), Wire::Len(b)) => {
                let m = message(b, s)?;
                if m.as_object().is_some_and(|o| !o.is_empty()) {
                    entry.or_insert(m);
                }
            }
            (Kind::RepStr, Wire::Len(b)) => {
                if let Value::Array(a) = entry.or_insert(json!([])) {
                    a.push(string(b)?);
                }
            }
            (Kind::RepMsg(s), Wire::Len(b)) => {
                let m = message(b, s)?;
                if let Value::Array(a) = entry.or_insert(json!([])) {
                    a.push(m);
                }
            }
            (Kind::MapStr | Kind::MapBytes, Wire::Len(b)) => {
                let (k, v) = map_entry(b, matches!(kind, Kind::MapBytes))?;
                if let Value::Object(m) = entry.or_insert(json!({})) {
                    m.insert(k, v);
                }
            }
            _ => {}
        }
    }
    Some(Value::Object(out))
}

/// Decodes a `application/vnd.kubernetes.protobuf` body into JSON, for the supported kinds.
/// Returns `Err` with a message for malformed bodies or kinds without a field table.
pub(crate) fn decode(body: &[u8]) -> Result<Value, String> {
    let unknown = body
        .strip_prefix(b"k8s\0")
        .ok_or("the protobuf body lacks the k8s envelope")?;
    let bad = || "the protobuf body is malformed".to_owned();
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (n, w) in fields(unknown).ok_or_else(bad)? {
        match (n, w) {
            (1, Wire::Len(tm)) => {
                for (m, v) in fields(tm).ok_or_else(bad)? {
                    if let Wire::Len(s) = v {
                        let s = std::str::from_utf8(s).map_err(|_| bad())?.to_owned();
                        if m == 1 {
                            api_version = s;
                        } else if m == 2 {
                            kind = s;
                        }
                    }
                }
            }
            (2, Wire::Len(r)) => raw = r,
            _ => {}
        }
    }
    let schema = table(&api_version, &kind).ok_or_else(|| {
        format!("protobuf is only understood for a few kinds, not {api_version} {kind}; send JSON")
    })?;
    let mut obj = message(raw, schema).ok_or_else(bad)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_create_configmap_bodies_decode_to_json() {
        // Captured from `kubectl create configmap cmx --from-literal=alpha=beta -n default`.
        let body = b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x2b\x0a\x1a\x0a\x03cmx\x12\x00\x1a\x07default\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12\x0d\x0a\x05alpha\x12\x04beta\x1a\x00\x22\x00";
        let v = decode(body).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cmx", "namespace": "default"}, "data": {"alpha": "beta"}})
        );
    }

    #[test]
    fn secret_data_is_base64_and_unknown_kinds_or_garbage_are_errors() {
        let body = b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x22\x0a\x12\x0a\x02sx\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12\x0a\x0a\x04user\x12\x02pw\x1a\x00\x1a\x00\x22\x00";
        let v = decode(body).unwrap();
        assert_eq!(v["data"]["user"], "cHc=");
        assert!(decode(b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09Something").is_err());
        assert!(decode(b"k8s\0\xff\xff\xff").is_err());
        assert!(decode(b"nope").is_err());
    }
}
