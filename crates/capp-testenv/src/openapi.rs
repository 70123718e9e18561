//! Just enough OpenAPI for kubectl.
//!
//! `/openapi/v3` lists one document per group/version. Each document has the resource paths
//! with their operations, every PATCH operation tagged with `x-kubernetes-group-version-kind`
//! and declaring the `fieldValidation` query parameter. That is what kubectl's
//! `QueryParamVerifierV3` looks for: when it finds it, kubectl validates server-side
//! (`fieldValidation=Strict`) instead of downloading schemas to validate client-side, so
//! `kubectl apply` works without `--validate=false`. Custom resources also get their
//! `openAPIV3Schema` as a component schema; built-in kinds get none, so kubectl computes
//! strategic merge patches from its compiled-in Go types (its documented fallback).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::registry::{ResourceDef, groups};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn query_param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn schema_name(d: &ResourceDef) -> String {
    let mut rev: Vec<&str> = d.group.split('.').collect();
    rev.reverse();
    let g = if d.group.is_empty() {
        "io.k8s.api.core".to_owned()
    } else {
        rev.join(".")
    };
    format!("{g}.{}.{}", d.version, d.kind)
}

fn operations(d: &ResourceDef, item: bool) -> Value {
    let gvk = json!({"group": d.group, "version": d.version, "kind": d.kind});
    let schema_ref = json!({"$ref": format!("#/components/schemas/{}", schema_name(d))});
    let content = json!({"application/json": {"schema": schema_ref}});
    let op = |action: &str, params: Vec<Value>| {
        json!({
            "operationId": format!("{action}{}", d.kind),
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            "parameters": params,
            "responses": {"200": {"description": "OK", "content": content}},
        })
    };
    let mut ops = Map::new();
    if item {
        ops.insert("get".into(), op("get", vec![]));
        ops.insert(
            "put".into(),
            op(
                "put",
                vec![
                    query_param("dryRun"),
                    query_param("fieldManager"),
                    query_param("fieldValidation"),
                ],
            ),
        );
        ops.insert(
            "patch".into(),
            op(
                "patch",
                vec![
                    query_param("dryRun"),
                    query_param("fieldManager"),
                    query_param("fieldValidation"),
                    query_param("force"),
                ],
            ),
        );
        ops.insert(
            "delete".into(),
            op(
                "delete",
                vec![query_param("dryRun"), query_param("propagationPolicy")],
            ),
        );
    } else {
        ops.insert(
            "get".into(),
            op(
                "list",
                vec![
                    query_param("labelSelector"),
                    query_param("fieldSelector"),
                    query_param("limit"),
                    query_param("continue"),
                    query_param("watch"),
                ],
            ),
        );
        ops.insert(
            "post".into(),
            op(
                "post",
                vec![
                    query_param("dryRun"),
                    query_param("fieldManager"),
                    query_param("fieldValidation"),
                ],
            ),
        );
    }
    Value::Object(ops)
}

/// The per-group/version OpenAPI v3 document.
fn document(defs: &[Arc<ResourceDef>], group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for d in defs
        .iter()
        .filter(|d| d.group == group && d.version == version)
    {
        let base = format!("/{}", gv_path(group, version));
        let (collection, item) = if d.namespaced {
            (
                format!("{base}/namespaces/{{namespace}}/{}", d.plural),
                format!("{base}/namespaces/{{namespace}}/{}/{{name}}", d.plural),
            )
        } else {
            (
                format!("{base}/{}", d.plural),
                format!("{base}/{}/{{name}}", d.plural),
            )
        };
        paths.insert(collection, operations(d, false));
        paths.insert(item.clone(), operations(d, true));
        if d.status_subresource {
            paths.insert(format!("{item}/status"), operations(d, true));
        }
        if let Some(raw) = &d.raw_schema {
            let mut s = raw.clone();
            if let Some(m) = s.as_object_mut() {
                m.insert(
                    "x-kubernetes-group-version-kind".into(),
                    json!([{"group": d.group, "version": d.version, "kind": d.kind}]),
                );
            }
            schemas.insert(schema_name(d), s);
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// `/openapi/v3`: the index of group/version documents.
pub(crate) fn v3_root(defs: &[Arc<ResourceDef>]) -> Value {
    let mut paths = Map::new();
    for (group, versions) in groups(defs) {
        for v in versions {
            let doc = document(defs, &group, &v);
            let p = gv_path(&group, &v);
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={:016X}", fnv(&doc.to_string()))}),
            );
        }
    }
    json!({"paths": paths})
}

/// `/openapi/v3/<api/v1 | apis/group/version>`.
pub(crate) fn v3_group_version(defs: &[Arc<ResourceDef>], rest: &[&str]) -> Option<Value> {
    let (group, version) = match rest {
        ["api", v] => (String::new(), (*v).to_owned()),
        ["apis", g, v] => ((*g).to_owned(), (*v).to_owned()),
        _ => return None,
    };
    defs.iter()
        .any(|d| d.group == group && d.version == version)
        .then(|| document(defs, &group, &version))
}

/// `/openapi/v2`: a Swagger 2.0 document with the same paths (no schemas).
pub(crate) fn v2(defs: &[Arc<ResourceDef>]) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for (group, versions) in groups(defs) {
        for v in versions {
            let doc = document(defs, &group, &v);
            if let Some(p) = doc["paths"].as_object() {
                paths.extend(p.clone());
            }
            if let Some(s) = doc["components"]["schemas"].as_object() {
                definitions.extend(s.clone());
            }
        }
    }
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": paths, "definitions": definitions})
}

/// `/openapi/v2` as protobuf (the gnostic `openapi_v2.Document` kubectl asks for): an empty
/// document (swagger, info, no paths or definitions). kubectl only falls back to it for
/// client-side validation of kinds it cannot find in `/openapi/v3` (a CRD created earlier in
/// the same `kubectl apply`), and skips validation of kinds the document does not describe —
/// which is what the server-side validation then covers.
pub(crate) fn v2_protobuf() -> Vec<u8> {
    fn field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
        out.push(tag << 3 | 2);
        // All our fields are shorter than 128 bytes, so the length is one varint byte.
        out.push(u8::try_from(bytes.len()).unwrap_or(0));
        out.extend_from_slice(bytes);
    }
    let mut info = Vec::new();
    field(&mut info, 1, b"Kubernetes");
    field(&mut info, 2, b"v1.33.0");
    let mut doc = Vec::new();
    field(&mut doc, 1, b"2.0");
    field(&mut doc, 2, &info);
    field(&mut doc, 8, &[]);
    doc
}
