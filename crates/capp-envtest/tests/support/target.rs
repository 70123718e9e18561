//! One API server under the differential suite: the real kube-apiserver or capp-testenv,
//! driven through the same clients and the same kubectl.

#![allow(dead_code, reason = "not every helper is used by every case")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use capp_envtest::{KubectlOutput, kubectl};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

/// A server with an admin and a user `alice` (no groups, no bindings).
pub(crate) struct Target {
    pub(crate) name: &'static str,
    pub(crate) admin: kube::Client,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) alice: kube::Client,
    pub(crate) alice_kubeconfig: PathBuf,
}

/// `ApiResource` for a group/version/kind/plural.
pub(crate) fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.to_owned(),
        version: version.to_owned(),
        api_version: if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.to_owned(),
        plural: plural.to_owned(),
    }
}

pub(crate) fn configmaps() -> ApiResource {
    resource("", "v1", "ConfigMap", "configmaps")
}

pub(crate) fn gadgets() -> ApiResource {
    resource("example.com", "v1", "Gadget", "gadgets")
}

impl Target {
    pub(crate) fn api(&self, r: &ApiResource, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.admin.clone(), ns, r)
    }

    pub(crate) fn alice_api(&self, r: &ApiResource, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.alice.clone(), ns, r)
    }

    pub(crate) async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> KubectlOutput {
        kubectl(&self.kubeconfig, args, stdin)
            .await
            .expect("kubectl runs")
    }

    pub(crate) async fn kubectl_as_alice(&self, args: &[&str]) -> KubectlOutput {
        kubectl(&self.alice_kubeconfig, args, None)
            .await
            .expect("kubectl runs")
    }

    /// Creates the Gadget CRD and waits until its objects can be listed.
    pub(crate) async fn install_gadget_crd(&self) {
        let crds = Api::<DynamicObject>::all_with(
            self.admin.clone(),
            &resource(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "customresourcedefinitions",
            ),
        );
        let crd: DynamicObject = serde_json::from_value(gadget_crd()).unwrap();
        crds.create(&PostParams::default(), &crd).await.unwrap();
        let api: Api<DynamicObject> = Api::all_with(self.admin.clone(), &gadgets());
        for _ in 0..300 {
            if api.list(&ListParams::default()).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{}: the Gadget CRD was not served within 30s", self.name);
    }

    pub(crate) async fn create_namespace(&self, ns: &str) {
        let api: Api<DynamicObject> = Api::all_with(
            self.admin.clone(),
            &resource("", "v1", "Namespace", "namespaces"),
        );
        let obj: DynamicObject = serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .unwrap();
        api.create(&PostParams::default(), &obj).await.unwrap();
    }
}

/// A namespaced `Gadget` with a status subresource, a printer column, defaults, an enum, bounds,
/// a CEL rule and a CEL transition rule.
pub(crate) fn gadget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"}
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "x-kubernetes-validations": [
                                {"rule": "self.size <= 50 || self.color == 'red'", "message": "big gadgets must be red"}
                            ],
                            "properties": {
                                "size": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1},
                                "color": {"type": "string", "enum": ["red", "blue"], "default": "blue"},
                                "label": {"type": "string", "maxLength": 10},
                                "serial": {"type": "string", "x-kubernetes-validations": [
                                    {"rule": "self == oldSelf", "message": "serial is immutable"}
                                ]}
                            }
                        },
                        "status": {
                            "type": "object",
                            "properties": {"ready": {"type": "boolean"}, "observed": {"type": "integer"}}
                        }
                    }
                }}
            }]
        }
    })
}

/// A DynamicObject from JSON.
pub(crate) fn obj(v: Value) -> DynamicObject {
    serde_json::from_value(v).expect("a valid object")
}

/// Replaces what legitimately differs between two servers: uids, timestamps, resourceVersions
/// (including inside managedFields and ownerReferences) and the continue token.
pub(crate) fn normalize(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    match k.as_str() {
                        "uid" | "creationTimestamp" | "deletionTimestamp" | "time"
                        | "lastTransitionTime" | "continue"
                            if !val.is_null() =>
                        {
                            *val = json!(format!("<{k}>"));
                        }
                        "resourceVersion" if val.as_str().is_some_and(|s| !s.is_empty()) => {
                            *val = json!("<resourceVersion>");
                        }
                        _ => walk(val),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// One step's observation: the normalized object (without `managedFields`, which the
/// field-management cases observe on their own), or the error's code, reason, message and
/// causes.
pub(crate) fn observe<T: serde::Serialize>(step: &str, result: Result<T, kube::Error>) -> Value {
    match result {
        Ok(value) => {
            let mut v = normalize(serde_json::to_value(value).unwrap());
            if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("managedFields");
            }
            json!({"step": step, "ok": v})
        }
        Err(kube::Error::Api(status)) => json!({
            "step": step,
            "code": status.code,
            "reason": status.reason,
            "message": sorted_message(&status.message, &status.details),
            "details": sorted_causes(normalize(serde_json::to_value(&status.details).unwrap())),
        }),
        Err(e) => json!({"step": step, "error": e.to_string()}),
    }
}

/// The object's `managedFields` (times normalized), for the field-management cases.
pub(crate) fn managed_fields(step: &str, result: Result<DynamicObject, kube::Error>) -> Value {
    match result {
        Ok(o) => {
            let mut entries = normalize(serde_json::to_value(o.metadata.managed_fields).unwrap());
            // Both servers order the entries by operation, then by the second of their write
            // (`sortEncodedManagedFields`), then by manager: two writes straddling a second
            // boundary swap places, so the order is compared without the time.
            if let Some(list) = entries.as_array_mut() {
                list.sort_by_key(|e| (e["operation"].to_string(), e["manager"].to_string()));
            }
            json!({"step": step, "managedFields": entries})
        }
        Err(e) => observe::<()>(step, Err(e)),
    }
}

/// The `[field: message, ...]` list of an Invalid error's message sorted, for the reason
/// [`sorted_causes`] gives: an item starts at `, ` followed by a cause's field (or `<nil>`).
fn sorted_message<T: serde::Serialize>(message: &str, details: &T) -> String {
    let details = serde_json::to_value(details).unwrap();
    let Some((head, list)) = message.split_once(" is invalid: [") else {
        return message.to_owned();
    };
    let Some(list) = list.strip_suffix(']') else {
        return message.to_owned();
    };
    let mut fields: Vec<String> = vec!["<nil>: ".to_owned()];
    for c in details["causes"].as_array().into_iter().flatten() {
        fields.push(format!("{}: ", c["field"].as_str().unwrap_or_default()));
    }
    let mut items: Vec<String> = Vec::new();
    for piece in list.split(", ") {
        match items.last_mut() {
            Some(item) if !fields.iter().any(|f| piece.starts_with(f.as_str())) => {
                item.push_str(", ");
                item.push_str(piece);
            }
            _ => items.push(piece.to_owned()),
        }
    }
    items.sort_unstable();
    format!("{head} is invalid: [{}]", items.join(", "))
}

/// `details.causes` sorted: kube-apiserver lists the causes of one error in an order that
/// changes from run to run (schema properties are visited in Go map order), so the order carries
/// no meaning.
fn sorted_causes(mut details: Value) -> Value {
    if let Some(causes) = details.get_mut("causes").and_then(Value::as_array_mut) {
        causes.sort_by_key(Value::to_string);
    }
    details
}

/// Just the outcome of a step: the HTTP code (200 for success) and reason.
pub(crate) fn outcome<T>(step: &str, result: &Result<T, kube::Error>) -> Value {
    match result {
        Ok(_) => json!({"step": step, "code": 200}),
        Err(kube::Error::Api(status)) => {
            json!({"step": step, "code": status.code, "reason": status.reason})
        }
        Err(e) => json!({"step": step, "error": e.to_string()}),
    }
}

/// A kubectl run as an observation; `AGE` values and durations are normalized, and the
/// `* cause` lines of an error sorted (see [`sorted_causes`]).
pub(crate) fn observe_kubectl(step: &str, out: &KubectlOutput) -> Value {
    let age = regex_lite_age;
    json!({"step": step, "success": out.success, "stdout": age(&out.stdout), "stderr": sorted_cause_lines(&age(&out.stderr))})
}

/// kubectl prints an Invalid error's causes as `* field: message` lines in the server's
/// order, which kube-apiserver varies from run to run: each run of such lines is sorted.
fn sorted_cause_lines(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("* ") {
            run.push(line.trim_end_matches('\n'));
            continue;
        }
        run.sort_unstable();
        out.append(&mut run);
        out.push(line.trim_end_matches('\n'));
    }
    run.sort_unstable();
    out.append(&mut run);
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

/// Replaces kubectl's ages (`5s`, `2m3s`, `<unknown>`) at the end of table lines.
fn regex_lite_age(text: &str) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_end();
            match trimmed.rsplit_once(' ') {
                Some((head, last))
                    if !last.is_empty()
                        && last
                            .chars()
                            .all(|c| c.is_ascii_digit() || "smhd".contains(c))
                        && last.chars().any(|c| c.is_ascii_digit())
                        && last.ends_with(['s', 'm', 'h', 'd']) =>
                {
                    format!("{head} <age>")
                }
                _ => trimmed.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polls a get until `done` holds for its observation (or 60 s pass); returns the last one.
pub(crate) async fn poll_get(
    api: &Api<DynamicObject>,
    name: &str,
    done: impl Fn(&Result<DynamicObject, kube::Error>) -> bool,
) -> Result<DynamicObject, kube::Error> {
    for _ in 0..600 {
        let r = api.get(name).await;
        if done(&r) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api.get(name).await
}

/// Deletes ignoring the answer (cleanup and setup steps).
pub(crate) async fn delete(api: &Api<DynamicObject>, name: &str, dp: &DeleteParams) -> Value {
    outcome("delete", &api.delete(name, dp).await.map(|_| ()))
}

/// A server-side apply as `manager`.
pub(crate) async fn apply(
    api: &Api<DynamicObject>,
    name: &str,
    manager: &str,
    force: bool,
    body: &Value,
) -> Result<DynamicObject, kube::Error> {
    let mut pp = PatchParams::apply(manager);
    pp.force = force;
    api.patch(name, &pp, &Patch::Apply(body)).await
}

/// The kubeconfig path as a `&str`.
pub(crate) fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}
