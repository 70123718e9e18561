//! The `scale` subresource (`autoscaling/v1` `Scale`) of custom resources with
//! `subresources.scale` and of Deployments, ReplicaSets and StatefulSets
//! (`apiextensions-apiserver/pkg/registry/customresource.ScaleREST`, the apps `ScaleREST`s).

use std::sync::Arc;

use http::HeaderMap;
use serde_json::{Value, json};

use super::Server;
use super::resources::Verb;
use crate::http::{Body, content_type, json_response, parse_body};
use crate::registry::{ResourceDef, ScalePaths};
use crate::status::{ApiError, cause};
use crate::store::{RvPrecondition, WriteOpts};

/// `.spec.replicas` as a JSON pointer.
fn pointer(path: &str) -> String {
    path.replace('.', "/")
}

/// The selector string of a built-in workload's `spec.selector.matchLabels`.
fn selector_string(obj: &Value) -> String {
    obj.pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// The `Scale` view of an object.
fn to_scale(paths: &ScalePaths, obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let selector = if paths.label_selector.is_empty() {
        selector_string(obj)
    } else {
        obj.pointer(&pointer(&paths.label_selector))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut status = json!({
        "replicas": obj.pointer(&pointer(&paths.status_replicas)).cloned().unwrap_or(json!(0)),
    });
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer(&pointer(&paths.spec_replicas)).cloned().unwrap_or(json!(0))},
        "status": status,
    })
}

/// Writes `replicas` into a copy of `obj` at the spec replicas path.
fn set_replicas(obj: &mut Value, path: &str, replicas: i64) {
    let mut node = obj;
    for part in path.trim_start_matches('.').split('.') {
        if !node.is_object() {
            *node = json!({});
        }
        node = &mut node[part];
    }
    *node = json!(replicas);
}

impl Server {
    /// GET, PUT and PATCH of `<resource>/<name>/scale`.
    #[allow(
        clippy::too_many_arguments,
        reason = "the parts of the request the handler needs"
    )]
    pub(super) async fn scale(
        self: &Arc<Self>,
        verb: Verb,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        headers: &HeaderMap,
        body: &[u8],
        opts: WriteOpts,
    ) -> Result<http::Response<Body>, ApiError> {
        let Some(paths) = &def.scale else {
            return Err(ApiError::not_found(&def.group, &def.plural, name));
        };
        let mut state = self.state.lock().await;
        let live = state.get(def, ns, name)?;
        let current = to_scale(paths, &live);
        let wanted = match verb {
            Verb::Get => return Ok(json_response(200, &current, &[])),
            Verb::Update => parse_body(&content_type(headers), body)?,
            Verb::Patch => {
                let patch = parse_body("json", body)?;
                match content_type(headers).as_str() {
                    "application/json-patch+json" => crate::patch::json_patch(&current, &patch)
                        .map_err(|e| ApiError::bad_request(e.to_string()))?,
                    _ => crate::patch::merge_patch(&current, &patch),
                }
            }
            _ => return Err(ApiError::method_not_allowed(verb.as_str())),
        };
        let Some(replicas) = wanted["spec"]["replicas"].as_i64() else {
            return Err(ApiError::bad_request(
                "spec.replicas of the Scale must be an integer",
            ));
        };
        if replicas < 0 {
            // `ValidateScale` (pkg/apis/autoscaling/validation).
            return Err(ApiError::invalid(
                "Scale",
                "autoscaling",
                name,
                vec![cause(
                    "FieldValueInvalid",
                    "spec.replicas",
                    format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                )],
            ));
        }
        let mut obj = live;
        set_replicas(&mut obj, &paths.spec_replicas, replicas);
        // The Scale's resourceVersion, when set, is the update's precondition.
        match wanted["metadata"]["resourceVersion"].as_str() {
            Some(rv) if !rv.is_empty() => obj["metadata"]["resourceVersion"] = json!(rv),
            _ => {
                if let Some(m) = obj["metadata"].as_object_mut() {
                    m.remove("resourceVersion");
                }
            }
        }
        let w = state.update(def, ns, name, obj, &opts, None, RvPrecondition::Optional)?;
        Ok(json_response(200, &to_scale(paths, &w.object), &w.warnings))
    }
}
