//! Requests a real kube-apiserver refuses (or answers differently) that capp-testenv once
//! accepted: names, server-side apply bodies, create and update preconditions, owner
//! references, immutable Secrets and ConfigMaps, RBAC writes, and the refusal of features it
//! does not emulate. Each test names the apiserver function whose rule it checks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use capp_testenv::TestEnv;
use serde_json::{Value, json};

/// Sends one request as the admin and returns the status code and the JSON body.
async fn send(
    env: &TestEnv,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    support::send(
        &env.client().unwrap(),
        method,
        path,
        content_type,
        body.as_bytes(),
    )
    .await
}

async fn post(env: &TestEnv, path: &str, body: &Value) -> (u16, Value) {
    send(env, "POST", path, "application/json", &body.to_string()).await
}

async fn put(env: &TestEnv, path: &str, body: &Value) -> (u16, Value) {
    send(env, "PUT", path, "application/json", &body.to_string()).await
}

async fn merge(env: &TestEnv, path: &str, body: &Value) -> (u16, Value) {
    send(
        env,
        "PATCH",
        path,
        "application/merge-patch+json",
        &body.to_string(),
    )
    .await
}

async fn apply(env: &TestEnv, path: &str, manager: &str, body: &Value) -> (u16, Value) {
    let sep = if path.contains('?') { '&' } else { '?' };
    send(
        env,
        "PATCH",
        &format!("{path}{sep}fieldManager={manager}"),
        "application/apply-patch+yaml",
        &body.to_string(),
    )
    .await
}

async fn get(env: &TestEnv, path: &str) -> Value {
    let (code, body) = send(env, "GET", path, "application/json", "").await;
    assert_eq!(code, 200, "GET {path}: {body}");
    body
}

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

// ---------------------------------------------------------------- names

#[tokio::test]
async fn a_subdomain_name_with_a_part_longer_than_63_characters_is_accepted() {
    // `IsDNS1123Subdomain` checks the whole name against the regex and 253 characters; unlike
    // a hostname, no dot-separated part is capped at 63.
    let env = support::start().await;
    let name = format!("{}.example", "a".repeat(70));
    let (code, body) = post(&env, CMS, &cm(&name)).await;
    assert_eq!(code, 201, "{body}");
}

// ---------------------------------------------------------------- server-side apply

#[tokio::test]
async fn an_apply_carrying_managed_fields_is_a_bad_request() {
    // `structuredManagerFieldManager.Apply` (fieldmanager/internal/structuredmerge.go).
    let env = support::start().await;
    let mut body = cm("a");
    body["metadata"]["managedFields"] = json!([{"manager": "me", "operation": "Apply"}]);
    let (code, status) = apply(&env, &format!("{CMS}/a"), "me", &body).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["message"], "metadata.managedFields must be nil");
}

#[tokio::test]
async fn an_apply_whose_api_version_is_not_the_url_version_is_a_bad_request() {
    // Same function: the patch's group/version must be the endpoint's.
    let env = support::start().await;
    let mut crd = support::widget_crd();
    let mut v2 = crd["spec"]["versions"][0].clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(false);
    crd["spec"]["versions"].as_array_mut().unwrap().push(v2);
    env.install_crds(&[crd]).await.unwrap();
    let body = json!({"apiVersion": "example.com/v2", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 2}});
    let (code, status) = apply(
        &env,
        "/apis/example.com/v1/namespaces/default/widgets/w",
        "me",
        &body,
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "Incorrect version specified in apply patch. Specified patch version: example.com/v2, expected: example.com/v1"
    );
}

// ---------------------------------------------------------------- preconditions

#[tokio::test]
async fn a_create_carrying_a_resource_version_is_refused_as_the_storage_layer_refuses_it() {
    // etcd3 `store.Create`: `storage.ErrResourceVersionSetOnCreate`, which no error
    // interpretation turns into a typed status, so the client sees a 500.
    let env = support::start().await;
    let mut body = cm("a");
    body["metadata"]["resourceVersion"] = json!("42");
    let (code, status) = post(&env, CMS, &body).await;
    assert_eq!(code, 500, "{status}");
    assert_eq!(
        status["message"],
        "resourceVersion should not be set on objects to be created"
    );
    // An apply that creates is refused the same way.
    let (code, status) = apply(&env, &format!("{CMS}/b"), "me", &{
        let mut b = cm("b");
        b["metadata"]["resourceVersion"] = json!("42");
        b
    })
    .await;
    assert_eq!(code, 500, "{status}");
}

#[tokio::test]
async fn a_put_carrying_a_stale_uid_is_a_conflict() {
    // `defaultUpdatedObjectInfo.Preconditions` turns the body's uid into a storage precondition;
    // `InterpretUpdateError` makes its failure a 409.
    let env = support::start().await;
    let (_, created) = post(&env, CMS, &cm("a")).await;
    let mut body = created.clone();
    body["metadata"]["uid"] = json!("0b7a1c1e-0000-4000-8000-000000000000");
    let (code, status) = put(&env, &format!("{CMS}/a"), &body).await;
    assert_eq!(code, 409, "{status}");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains(
            "Precondition failed: UID in precondition: 0b7a1c1e-0000-4000-8000-000000000000"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn an_apply_carrying_a_uid_for_a_missing_object_is_a_conflict() {
    // `patcher.applyPatch` (endpoints/handlers/patch.go): "uid mismatch".
    let env = support::start().await;
    let mut body = cm("gone");
    body["metadata"]["uid"] = json!("0b7a1c1e-0000-4000-8000-000000000000");
    let (code, status) = apply(&env, &format!("{CMS}/gone"), "me", &body).await;
    assert_eq!(code, 409, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .ends_with("uid mismatch: the provided object specified uid 0b7a1c1e-0000-4000-8000-000000000000, and no existing object was found"),
        "{status}"
    );
}

#[tokio::test]
async fn a_patch_changing_the_uid_is_invalid() {
    // `ValidateObjectMetaUpdate`: metadata.uid is immutable.
    let env = support::start().await;
    post(&env, CMS, &cm("a")).await;
    let (code, status) = merge(
        &env,
        &format!("{CMS}/a"),
        &json!({"metadata": {"uid": "0b7a1c1e-0000-4000-8000-000000000000"}}),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "metadata.uid");
}

// ---------------------------------------------------------------- metadata

#[tokio::test]
async fn empty_metadata_lists_are_omitted_as_go_serialises_them() {
    // ObjectMeta's lists are `omitempty`: an empty list is not stored or returned.
    let env = support::start().await;
    let mut body = cm("a");
    body["metadata"]["finalizers"] = json!([]);
    body["metadata"]["ownerReferences"] = json!([]);
    let (code, created) = post(&env, CMS, &body).await;
    assert_eq!(code, 201, "{created}");
    let meta = &get(&env, &format!("{CMS}/a")).await["metadata"];
    assert!(meta.get("finalizers").is_none(), "{meta}");
    assert!(meta.get("ownerReferences").is_none(), "{meta}");
    // Removing the last finalizer leaves no empty list either.
    merge(
        &env,
        &format!("{CMS}/a"),
        &json!({"metadata": {"finalizers": ["x.io/f"]}}),
    )
    .await;
    merge(
        &env,
        &format!("{CMS}/a"),
        &json!({"metadata": {"finalizers": []}}),
    )
    .await;
    let meta = &get(&env, &format!("{CMS}/a")).await["metadata"];
    assert!(meta.get("finalizers").is_none(), "{meta}");
}

#[tokio::test]
async fn two_controller_owner_references_are_invalid() {
    // `ValidateOwnerReferences` (apimachinery/pkg/api/validation/objectmeta.go).
    let env = support::start().await;
    let owner = |name: &str, uid: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": uid, "controller": true});
    let mut body = cm("child");
    body["metadata"]["ownerReferences"] = json!([
        owner("one", "00000000-0000-4000-8000-000000000001"),
        owner("two", "00000000-0000-4000-8000-000000000002"),
    ]);
    let (code, status) = post(&env, CMS, &body).await;
    assert_eq!(code, 422, "{status}");
    let cause = &status["details"]["causes"][0];
    assert_eq!(cause["field"], "metadata.ownerReferences");
    assert!(
        cause["message"].as_str().unwrap().ends_with(
            "Only one reference can have Controller set to true. Found \"true\" in references for ConfigMap/one and ConfigMap/two"
        ),
        "{cause}"
    );
}

// ---------------------------------------------------------------- Secrets and ConfigMaps

#[tokio::test]
async fn an_immutable_config_map_keeps_its_data_and_its_immutability() {
    // `ValidateConfigMapUpdate` (pkg/apis/core/validation).
    let env = support::start().await;
    let mut body = cm("frozen");
    body["immutable"] = json!(true);
    let (code, _) = post(&env, CMS, &body).await;
    assert_eq!(code, 201);
    let (code, status) = merge(
        &env,
        &format!("{CMS}/frozen"),
        &json!({"data": {"k": "new"}}),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    let (code, status) = merge(&env, &format!("{CMS}/frozen"), &json!({"immutable": false})).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "immutable");
    // Labels may still change.
    let (code, status) = merge(
        &env,
        &format!("{CMS}/frozen"),
        &json!({"metadata": {"labels": {"a": "b"}}}),
    )
    .await;
    assert_eq!(code, 200, "{status}");
}

#[tokio::test]
async fn an_immutable_secret_keeps_its_data() {
    // `ValidateSecretUpdate`.
    let env = support::start().await;
    let path = "/api/v1/namespaces/default/secrets";
    let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "immutable": true, "data": {"k": "dg=="}});
    let (code, _) = post(&env, path, &body).await;
    assert_eq!(code, 201);
    let (code, status) = merge(
        &env,
        &format!("{path}/s"),
        &json!({"stringData": {"k": "w"}}),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "data");
}

#[tokio::test]
async fn config_map_and_secret_keys_must_be_config_keys() {
    // `IsConfigMapKey` through `ValidateConfigMap` and `ValidateSecret`.
    let env = support::start().await;
    let mut body = cm("bad");
    body["data"] = json!({"bad key": "v"});
    let (code, status) = post(&env, CMS, &body).await;
    assert_eq!(code, 422, "{status}");
    let cause = &status["details"]["causes"][0];
    assert_eq!(cause["field"], "data[bad key]");
    assert_eq!(
        cause["message"],
        "Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
    );
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"../x": "v"}});
    let (code, status) = post(&env, "/api/v1/namespaces/default/secrets", &secret).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "data[../x]");
}

// ---------------------------------------------------------------- RBAC writes

#[tokio::test]
async fn a_role_binding_cannot_change_its_role_ref() {
    // `ValidateRoleBindingUpdate` (pkg/apis/rbac/validation).
    let env = support::start().await;
    let path = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings";
    let binding = |role: &str| {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "b"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [{"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"}],
        })
    };
    let (code, _) = post(&env, path, &binding("one")).await;
    assert_eq!(code, 201);
    let (code, status) = merge(
        &env,
        &format!("{path}/b"),
        &json!({"roleRef": {"name": "two"}}),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    let cause = &status["details"]["causes"][0];
    assert_eq!(cause["field"], "roleRef");
    assert!(
        cause["message"]
            .as_str()
            .unwrap()
            .ends_with("cannot change roleRef"),
        "{cause}"
    );
}

// ---------------------------------------------------------------- garbage collection

#[tokio::test]
async fn an_owner_reference_resolves_by_coordinates_not_by_uid_alone() {
    // `GarbageCollector.isDangling`: the owner is looked up in the dependent's namespace; an
    // object elsewhere with the same uid does not keep the dependent alive.
    let env = support::start().await;
    post(
        &env,
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}),
    )
    .await;
    let (_, owner) = post(&env, "/api/v1/namespaces/other/configmaps", &cm("owner")).await;
    let uid = owner["metadata"]["uid"].as_str().unwrap();
    let mut child = cm("child");
    child["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]);
    let (code, body) = post(&env, CMS, &child).await;
    assert_eq!(code, 201, "{body}");
    let (code, _) = send(&env, "GET", &format!("{CMS}/child"), "application/json", "").await;
    assert_eq!(
        code, 404,
        "the owner is not in the dependent's namespace: collected"
    );
    // The same reference inside the owner's namespace keeps the dependent.
    let (code, _) = post(&env, "/api/v1/namespaces/other/configmaps", &child).await;
    assert_eq!(code, 201);
    get(&env, "/api/v1/namespaces/other/configmaps/child").await;
}

#[tokio::test]
async fn with_a_gc_delay_dependents_outlive_their_owner_for_a_moment() {
    use capp_testenv::Config;
    use std::time::Duration;
    let env = TestEnv::start(Config::default().with_gc_delay(Duration::from_millis(300)))
        .await
        .unwrap();
    let (_, owner) = post(&env, CMS, &cm("owner")).await;
    let mut child = cm("child");
    child["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]);
    post(&env, CMS, &child).await;
    let (code, _) = send(
        &env,
        "DELETE",
        &format!("{CMS}/owner"),
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = send(&env, "GET", &format!("{CMS}/child"), "application/json", "").await;
    assert_eq!(code, 200, "the collector has not run yet");
    tokio::time::sleep(Duration::from_millis(900)).await;
    let (code, _) = send(&env, "GET", &format!("{CMS}/child"), "application/json", "").await;
    assert_eq!(code, 404, "the collector ran in the background");
}

// ---------------------------------------------------------------- RBAC resourceNames

#[tokio::test]
async fn resource_names_grant_a_list_or_watch_selecting_that_name() {
    // `RequestInfoFactory.NewRequestInfo` names a list or watch after its exact
    // `metadata.name` field selector.
    use capp_testenv::{Config, Identity};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, ListParams};
    let env = TestEnv::start(Config::default().with_rbac(true))
        .await
        .unwrap();
    post(&env, CMS, &cm("mine")).await;
    post(&env, CMS, &cm("theirs")).await;
    post(&env, "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", &json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "one"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["mine"], "verbs": ["get", "list", "watch"]}],
    })).await;
    post(&env, "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", &json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "one"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "one"},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
    })).await;
    let alice = env.client_for(&Identity::user("alice", &[])).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(alice, "default");
    let listed = api
        .list(&ListParams::default().fields("metadata.name=mine"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(
        api.list(&ListParams::default()).await.is_err(),
        "an unselected list is denied"
    );
    assert!(
        api.list(&ListParams::default().fields("metadata.name=theirs"))
            .await
            .is_err(),
        "another name is denied"
    );
}

// ---------------------------------------------------------------- what is refused loudly

#[tokio::test]
async fn a_multi_version_crd_with_a_conversion_webhook_is_refused_loudly() {
    let env = support::start().await;
    let mut crd = support::widget_crd();
    let mut v2 = crd["spec"]["versions"][0].clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(false);
    crd["spec"]["versions"].as_array_mut().unwrap().push(v2);
    crd["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": ["v1"],
        "clientConfig": {"url": "https://127.0.0.1:9443/convert"},
    }});
    let (code, status) = post(
        &env,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &crd,
    )
    .await;
    assert_eq!(code, 422, "{status}");
    let cause = &status["details"]["causes"][0];
    assert_eq!(cause["field"], "spec.conversion.strategy");
    let message = cause["message"].as_str().unwrap();
    assert!(
        message.contains("does not call conversion webhooks"),
        "{message}"
    );
    assert!(message.contains("install one version"), "{message}");
    assert!(message.contains("capp-envtest"), "{message}");

    // One version with a webhook has nothing to convert: accepted. Adding a second version
    // by an update is refused the same way.
    let mut one = crd.clone();
    one["spec"]["versions"].as_array_mut().unwrap().truncate(1);
    let (code, created) = post(
        &env,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &one,
    )
    .await;
    assert_eq!(code, 201, "{created}");
    let mut two = created.clone();
    two["spec"]["versions"] = crd["spec"]["versions"].clone();
    let name = created["metadata"]["name"].as_str().unwrap();
    let (code, status) = put(
        &env,
        &format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"),
        &two,
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "spec.conversion.strategy"
    );
}

#[tokio::test]
async fn an_admission_webhook_configuration_is_refused_loudly() {
    let env = support::start().await;
    let config = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "v"},
        "webhooks": [{
            "name": "check.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "clientConfig": {"url": "https://127.0.0.1:9443/validate"},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
        }],
    });
    let (code, status) = post(
        &env,
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
        &config,
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("does not call admission webhooks")
    );
}

#[tokio::test]
async fn a_user_cannot_grant_or_bind_permissions_they_do_not_hold() {
    // `ConfirmNoEscalation` and `BindingAuthorized` (pkg/registry/rbac/validation).
    use capp_testenv::{Config, Identity};
    let env = TestEnv::start(Config::default().with_rbac(true))
        .await
        .unwrap();
    let rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/default";
    // alice may manage roles and bindings, and read configmaps, in default.
    post(&env, &format!("{rbac}/roles"), &json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "admin-ish"},
        "rules": [
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create", "update", "patch", "get"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
        ],
    })).await;
    post(&env, &format!("{rbac}/rolebindings"), &json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "alice"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "admin-ish"},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
    })).await;
    // The admin creates a role granting secrets, which alice does not hold.
    post(&env, &format!("{rbac}/roles"), &json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "secrets"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    })).await;
    let alice = env.client_for(&Identity::user("alice", &[])).unwrap();
    let send_as = |path: String, body: Value| {
        let alice = alice.clone();
        async move {
            support::send(
                &alice,
                "POST",
                &path,
                "application/json",
                body.to_string().as_bytes(),
            )
            .await
        }
    };
    // A role within what she holds is fine; one granting secrets is refused.
    let (code, body) = send_as(format!("{rbac}/roles"), json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "cm-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    })).await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = send_as(format!("{rbac}/roles"), json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "sneaky"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    })).await;
    assert_eq!(code, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("is attempting to grant RBAC permissions not currently held"),
        "{body}"
    );
    // Binding the secrets role to herself is refused too; binding the configmap role is fine.
    let binding = |role: &str| {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": role},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
        })
    };
    let (code, body) = send_as(format!("{rbac}/rolebindings"), binding("secrets")).await;
    assert_eq!(code, 403, "{body}");
    let (code, body) = send_as(format!("{rbac}/rolebindings"), binding("cm-reader")).await;
    assert_eq!(code, 201, "{body}");
    // A patch that widens her role is checked the same way.
    let patch = json!({"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]});
    let req = http::Request::patch(format!("{rbac}/roles/cm-reader"))
        .header("Content-Type", "application/merge-patch+json")
        .body(patch.to_string().into_bytes())
        .unwrap();
    let resp = alice.send(req.map(kube::client::Body::from)).await.unwrap();
    assert_eq!(resp.status(), 403);
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(
        String::from_utf8_lossy(&bytes).contains("not currently held"),
        "refused by the escalation check, not by authorization"
    );
}

// ---------------------------------------------------------------- events

#[tokio::test]
async fn events_k8s_io_and_core_events_are_one_store() {
    // kube-apiserver stores both resources in `/registry/events`, converting field by field.
    let env = support::start().await;
    let recorded = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "pm.1", "namespace": "default"},
        "eventTime": "2026-12-02T10:00:00.000000Z",
        "reportingController": "capp", "reportingInstance": "capp-0",
        "action": "Reconcile", "reason": "Created", "type": "Normal",
        "note": "Created device",
        "regarding": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "PacketMachine", "name": "pm", "namespace": "default"},
    });
    let (code, body) = post(
        &env,
        "/apis/events.k8s.io/v1/namespaces/default/events",
        &recorded,
    )
    .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        body["note"], "Created device",
        "answered in the requested version"
    );
    let as_core = get(&env, "/api/v1/namespaces/default/events/pm.1").await;
    assert_eq!(as_core["message"], "Created device");
    assert_eq!(as_core["involvedObject"]["kind"], "PacketMachine");
    assert_eq!(as_core["reportingComponent"], "capp");
    let listed = get(&env, "/api/v1/namespaces/default/events").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    // A core event shows through events.k8s.io, and an update through either is one object.
    let (code, _) = merge(
        &env,
        "/api/v1/namespaces/default/events/pm.1",
        &json!({"message": "Updated"}),
    )
    .await;
    assert_eq!(code, 200);
    let new = get(
        &env,
        "/apis/events.k8s.io/v1/namespaces/default/events/pm.1",
    )
    .await;
    assert_eq!(new["note"], "Updated");
    assert!(new.get("message").is_none(), "{new}");
    assert_eq!(
        get(&env, "/apis/events.k8s.io/v1/namespaces/default/events").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

// ---------------------------------------------------------------- versions

#[tokio::test]
async fn each_version_prunes_and_defaults_with_its_own_schema_on_write_and_read() {
    // apiextensions: objects are stored in the storage version (converted, then pruned and
    // defaulted with its schema) and converted, pruned and defaulted again on every read.
    let env = support::start().await;
    let version = |name: &str, storage: bool, field: &str, default: &str| {
        json!({
            "name": name, "served": true, "storage": storage,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "default": {}, "properties": {
                    field: {"type": "string", "default": default},
                    "shared": {"type": "string"},
                }},
            }}},
        })
    };
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [version("v1", true, "old", "o"), version("v2", false, "new", "n")]},
    });
    env.install_crds(&[crd]).await.unwrap();
    let base = "/apis/example.com/{v}/namespaces/default/gadgets";
    let path = |v: &str| base.replace("{v}", v);
    let (code, created) = post(
        &env,
        &path("v2"),
        &json!({
            "apiVersion": "example.com/v2", "kind": "Gadget", "metadata": {"name": "g"},
            "spec": {"new": "set", "shared": "s"},
        }),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    // Stored as v1: `new` is not in v1's schema and is pruned; v1's default applies.
    let v1 = get(&env, &format!("{}/g", path("v1"))).await;
    assert_eq!(v1["spec"], json!({"old": "o", "shared": "s"}), "{v1}");
    // Read as v2: v1's field is pruned, v2's default applies (the written value was lost in
    // storage, as on a real server without a conversion webhook).
    let v2 = get(&env, &format!("{}/g", path("v2"))).await;
    assert_eq!(v2["spec"], json!({"new": "n", "shared": "s"}), "{v2}");
}

// ---------------------------------------------------------------- admission policies

#[tokio::test]
async fn a_validating_admission_policy_denies_through_its_binding() {
    // `validating.dispatcher` (k8s.io/apiserver/pkg/admission/plugin/policy/validating).
    let env = support::start().await;
    let vap = "/apis/admissionregistration.k8s.io/v1";
    let (code, body) = post(&env, &format!("{vap}/validatingadmissionpolicies"), &json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "small-configmaps"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}]},
            "validations": [
                {"expression": "size(object.data) <= 2", "messageExpression": "'too many keys: ' + string(size(object.data))"},
                {"expression": "!has(object.metadata.labels) || !('forbidden' in object.metadata.labels)", "message": "the forbidden label is forbidden", "reason": "Forbidden"},
                {"expression": "request.operation != 'UPDATE' || oldObject.data.k == object.data.k || request.dryRun", "message": "k is immutable"},
            ],
        },
    })).await;
    assert_eq!(code, 201, "{body}");
    // Without a binding, nothing is enforced.
    let mut big = cm("big");
    big["data"] = json!({"a": "1", "b": "2", "c": "3"});
    assert_eq!(post(&env, CMS, &big).await.0, 201);
    let (code, body) = post(&env, &format!("{vap}/validatingadmissionpolicybindings"), &json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "small-configmaps-binding"},
        "spec": {"policyName": "small-configmaps", "validationActions": ["Deny"]},
    })).await;
    assert_eq!(code, 201, "{body}");
    let mut bigger = cm("bigger");
    bigger["data"] = json!({"a": "1", "b": "2", "c": "3"});
    let (code, status) = post(&env, CMS, &bigger).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "ValidatingAdmissionPolicy 'small-configmaps' with binding 'small-configmaps-binding' denied request: too many keys: 3"
    );
    let mut labelled = cm("labelled");
    labelled["metadata"]["labels"] = json!({"forbidden": "yes"});
    let (code, status) = post(&env, CMS, &labelled).await;
    assert_eq!(code, 403, "{status}");
    // oldObject and request.dryRun: an update of k is denied unless it is a dry run.
    assert_eq!(post(&env, CMS, &cm("ok")).await.0, 201);
    let (code, status) = merge(
        &env,
        &format!("{CMS}/ok"),
        &json!({"data": {"k": "changed"}}),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .ends_with("k is immutable")
    );
    let (code, status) = merge(
        &env,
        &format!("{CMS}/ok?dryRun=All"),
        &json!({"data": {"k": "changed"}}),
    )
    .await;
    assert_eq!(code, 200, "{status}");
    // Other kinds are not matched.
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "1", "b": "2", "c": "3"}});
    assert_eq!(
        post(&env, "/api/v1/namespaces/default/secrets", &secret)
            .await
            .0,
        201
    );
}

// ---------------------------------------------------------------- scale

#[tokio::test]
async fn the_scale_subresource_reads_and_writes_replicas() {
    // `customresource.ScaleREST` and the apps `ScaleREST`s.
    let env = support::start().await;
    let mut crd = support::widget_crd();
    crd["spec"]["versions"][0]["subresources"]["scale"] = json!({
        "specReplicasPath": ".spec.size", "statusReplicasPath": ".status.observed",
    });
    env.install_crds(&[crd]).await.unwrap();
    let widgets = "/apis/example.com/v1/namespaces/default/widgets";
    post(&env, widgets, &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 2}})).await;
    let scale = get(&env, &format!("{widgets}/w/scale")).await;
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 2);
    let (code, scaled) = merge(
        &env,
        &format!("{widgets}/w/scale"),
        &json!({"spec": {"replicas": 5}}),
    )
    .await;
    assert_eq!(code, 200, "{scaled}");
    assert_eq!(scaled["spec"]["replicas"], 5);
    assert_eq!(get(&env, &format!("{widgets}/w")).await["spec"]["size"], 5);
    // A stale resourceVersion in a PUT is a conflict; negative replicas are invalid.
    let mut outdated = scaled.clone();
    outdated["metadata"]["resourceVersion"] = json!("1");
    outdated["spec"]["replicas"] = json!(1);
    assert_eq!(
        put(&env, &format!("{widgets}/w/scale"), &outdated).await.0,
        409
    );
    let (code, _) = merge(
        &env,
        &format!("{widgets}/w/scale"),
        &json!({"spec": {"replicas": -1}}),
    )
    .await;
    assert_eq!(code, 422);
    // A resource without a scale subresource has no such path.
    let (code, _) = send(
        &env,
        "GET",
        &format!("{CMS}/x/scale"),
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 404);
}
