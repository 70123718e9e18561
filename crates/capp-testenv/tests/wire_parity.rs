//! Answers the differential suite (crates/capp-envtest/tests/differential.rs) found to differ
//! from kube-apiserver v1.36: what DELETE answers, applies that empty a map, the omitted
//! empty maps of built-in kinds and the managedFields of updates. Each test names the
//! apiserver function whose behaviour it mirrors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use capp_testenv::TestEnv;
use serde_json::{Value, json};

async fn send(env: &TestEnv, method: &str, path: &str, ct: &str, body: &Value) -> (u16, Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    support::send(&env.client().unwrap(), method, path, ct, &bytes).await
}

async fn post(env: &TestEnv, path: &str, body: &Value) -> (u16, Value) {
    send(env, "POST", path, "application/json", body).await
}

async fn delete(env: &TestEnv, path: &str, options: &Value) -> (u16, Value) {
    send(env, "DELETE", path, "application/json", options).await
}

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn cm(name: &str, metadata: &Value) -> Value {
    let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}});
    o["metadata"] = metadata.clone();
    o["metadata"]["name"] = json!(name);
    o
}

// ---------------------------------------------------------------- delete

#[tokio::test]
async fn deleting_an_object_without_finalizers_answers_a_success_status() {
    // `Store.finalizeDelete` (k8s.io/apiserver pkg/registry/generic/registry/store.go): an
    // object removed at once is answered by a Status naming it, its resource in `kind`,
    // unless the registry sets `ReturnDeletedObject` (namespaces, pods, services...).
    let env = support::start().await;
    let (_, created) = post(&env, CMS, &cm("a", &json!({}))).await;
    let (code, body) = delete(&env, &format!("{CMS}/a"), &Value::Null).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": "a", "kind": "configmaps", "uid": created["metadata"]["uid"]},
        })
    );
    // A dry run answers the same and removes nothing.
    post(&env, CMS, &cm("b", &json!({}))).await;
    let (code, body) = delete(
        &env,
        &format!("{CMS}/b?dryRun=All"),
        &json!({"kind": "DeleteOptions", "apiVersion": "v1"}),
    )
    .await;
    assert_eq!((code, body["status"].as_str()), (200, Some("Success")));
    assert_eq!(body["details"]["name"], "b");
}

#[tokio::test]
async fn deleting_an_object_held_by_finalizers_answers_the_object() {
    // `Store.Delete`: while finalizers are pending (its own, or `foregroundDeletion` added by
    // the propagation policy) `updateForGracefulDeletionAndFinalizers` answers the object
    // with its deletionTimestamp.
    let env = support::start().await;
    post(
        &env,
        CMS,
        &cm("held", &json!({"finalizers": ["example.com/hold"]})),
    )
    .await;
    let (code, body) = delete(&env, &format!("{CMS}/held"), &Value::Null).await;
    assert_eq!(
        (code, body["kind"].as_str()),
        (200, Some("ConfigMap")),
        "{body}"
    );
    assert!(body["metadata"]["deletionTimestamp"].is_string(), "{body}");

    post(&env, CMS, &cm("owner", &json!({}))).await;
    let (code, body) = delete(
        &env,
        &format!("{CMS}/owner"),
        &json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}),
    )
    .await;
    assert_eq!(
        (code, body["kind"].as_str()),
        (200, Some("ConfigMap")),
        "{body}"
    );
    assert_eq!(
        body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
}

#[tokio::test]
async fn deleting_a_custom_resource_answers_a_status_with_its_group() {
    // `Store.finalizeDelete` again: custom resources have no `ReturnDeletedObject`, and the
    // details carry the group.
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let path = "/apis/example.com/v1/namespaces/default/widgets";
    let (code, body) = post(
        &env,
        path,
        &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = delete(&env, &format!("{path}/w"), &Value::Null).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "Success");
    assert_eq!(
        body["details"],
        json!({"name": "w", "group": "example.com", "kind": "widgets", "uid": body["details"]["uid"]})
    );
    assert!(body["details"]["uid"].is_string());
}

#[tokio::test]
async fn deleting_a_namespace_answers_the_namespace() {
    // The namespace registry sets `ReturnDeletedObject` (pkg/registry/core/namespace/storage).
    let env = support::start().await;
    post(
        &env,
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tmp"}}),
    )
    .await;
    let (code, body) = delete(&env, "/api/v1/namespaces/tmp", &Value::Null).await;
    assert_eq!(
        (code, body["kind"].as_str()),
        (200, Some("Namespace")),
        "{body}"
    );
}

// ---------------------------------------------------------------- server-side apply

async fn apply(env: &TestEnv, manager: &str, body: &Value) -> (u16, Value) {
    let name = body["metadata"]["name"].as_str().unwrap();
    send(
        env,
        "PATCH",
        &format!("{CMS}/{name}?fieldManager={manager}"),
        "application/apply-patch+yaml",
        body,
    )
    .await
}

#[tokio::test]
async fn applying_an_empty_map_another_manager_once_applied_too_is_no_conflict() {
    // structured-merge-diff `Updater.update` (merge/update.go) finds conflicts in
    // `Compare(live, merged)`: merging `data: {}` into the live map changes nothing, so the
    // first manager's ownership of an empty `data` is no conflict, and the field the second
    // manager stops applying goes.
    let env = support::start().await;
    let shared = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"shared": "same"}});
    let mut none = shared.clone();
    none["data"] = json!({});
    for (manager, body) in [("alpha", &shared), ("beta", &shared), ("alpha", &none)] {
        let (code, out) = apply(&env, manager, body).await;
        assert!(code == 200 || code == 201, "{manager}: {code} {out}");
    }
    let (code, out) = apply(&env, "beta", &none).await;
    assert_eq!(code, 200, "{out}");
    assert_eq!(out["data"].get("shared"), None, "{out}");
    // A different value under the other manager's field still conflicts.
    let mut other = shared.clone();
    other["data"]["shared"] = json!("mine");
    apply(&env, "alpha", &shared).await;
    let (code, out) = apply(&env, "beta", &other).await;
    assert_eq!(code, 409, "{out}");
}

// ---------------------------------------------------------------- omitempty

#[tokio::test]
async fn built_in_kinds_omit_empty_maps_but_keep_empty_structs() {
    // The server decodes a built-in object into its Go struct and encodes it again
    // (`runtime.Encode` with encoding/json): `Data map[string]string
    // json:"data,omitempty"` and `Labels ... json:"labels,omitempty"` vanish when empty, a
    // pointer to an empty struct (`EmptyDir *EmptyDirVolumeSource`) is written as `{}`.
    let env = support::start().await;
    let mut o = cm("a", &json!({"labels": {}, "annotations": {}}));
    o["data"] = json!({});
    let (code, created) = post(&env, CMS, &o).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created.get("data"), None, "{created}");
    assert_eq!(created["metadata"].get("labels"), None, "{created}");
    assert_eq!(created["metadata"].get("annotations"), None, "{created}");
    // Apply's managedFields (raw JSON, `f:k: {}`) keep their empty leaves.
    let (code, applied) = apply(
        &env,
        "m",
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"k": "v"}}),
    )
    .await;
    assert_eq!(code, 201, "{applied}");
    assert_eq!(
        applied["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {"f:k": {}}})
    );
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {
            "nodeSelector": {},
            "containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
            "volumes": [{"name": "v", "emptyDir": {}}],
        },
    });
    let (code, created) = post(&env, "/api/v1/namespaces/default/pods", &pod).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"].get("nodeSelector"), None, "{created}");
    assert_eq!(
        created["spec"]["volumes"][0]["emptyDir"],
        json!({}),
        "{created}"
    );
}

// ---------------------------------------------------------------- managedFields of updates

#[tokio::test]
async fn updates_record_the_maps_a_manager_added_and_entries_are_sorted() {
    // structured-merge-diff's `Compare(old, new)` (merge/update.go `Updater.update`) marks a
    // map the write added as a member (`".": {}`) and a map it only changed not;
    // `sortEncodedManagedFields` (k8s.io/apimachinery pkg/util/managedfields/internal/
    // managedfields.go) orders entries by operation, time, then manager.
    let env = support::start().await;
    let (code, created) = post(
        &env,
        &format!("{CMS}?fieldManager=zeta"),
        &cm("a", &json!({})),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        created["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {".": {}, "f:k": {}}})
    );
    let (code, after_patch) = send(
        &env,
        "PATCH",
        &format!("{CMS}/a?fieldManager=patcher"),
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"l": "v"}}, "data": {"n": "1"}}),
    )
    .await;
    assert_eq!(code, 200, "{after_patch}");
    let entries: Vec<(&str, &Value)> = after_patch["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["manager"].as_str().unwrap(), &e["fieldsV1"]))
        .collect();
    let (patcher, zeta) = (
        json!({"f:data": {"f:n": {}}, "f:metadata": {"f:labels": {".": {}, "f:l": {}}}}),
        json!({"f:data": {".": {}, "f:k": {}}}),
    );
    // Same operation, usually the same second: "patcher" sorts before "zeta".
    if after_patch["metadata"]["managedFields"][0]["time"]
        == after_patch["metadata"]["managedFields"][1]["time"]
    {
        assert_eq!(entries, [("patcher", &patcher), ("zeta", &zeta)]);
    } else {
        assert_eq!(entries, [("zeta", &zeta), ("patcher", &patcher)]);
    }
}
