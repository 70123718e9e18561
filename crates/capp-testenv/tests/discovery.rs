//! Discovery, OpenAPI, the Table format and CRD lifecycle: what kubectl reads before it acts,
//! and how serving follows CustomResourceDefinitions being created and deleted.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::time::Duration;

use capp_testenv::Gvr;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, PostParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

async fn get(client: &kube::Client, path: &str, accept: &str) -> (http::StatusCode, String, Value) {
    let req = http::Request::get(path)
        .header("Accept", accept)
        .body(Vec::new())
        .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        ct,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn widgets(client: kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    Api::namespaced_with(client, "default", &ar)
}

#[tokio::test]
async fn discovery_lists_builtin_groups_and_follows_crds() {
    let env = support::start().await;
    let client = env.client().unwrap();
    let (_, _, api) = get(&client, "/api", "application/json").await;
    assert_eq!(api["versions"], json!(["v1"]));
    let (_, _, core) = get(&client, "/api/v1", "application/json").await;
    let cm = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "configmaps")
        .unwrap();
    assert_eq!(
        (
            cm["kind"].as_str(),
            cm["namespaced"].as_bool(),
            cm["shortNames"][0].as_str()
        ),
        (Some("ConfigMap"), Some(true), Some("cm"))
    );
    let (_, _, groups) = get(&client, "/apis", "application/json").await;
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for g in [
        "apps",
        "coordination.k8s.io",
        "rbac.authorization.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "events.k8s.io",
    ] {
        assert!(names.contains(&g), "{g} missing from {names:?}");
    }
    assert!(!names.contains(&"example.com"));

    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let (status, _, list) = get(&client, "/apis/example.com/v1", "application/json").await;
    assert_eq!(status, 200);
    let w = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "widgets")
        .unwrap();
    assert_eq!(w["kind"], "Widget");
    assert_eq!(w["shortNames"], json!(["wd"]));
    assert_eq!(w["categories"], json!(["all"]));
    assert!(w["verbs"].as_array().unwrap().contains(&json!("watch")));
    assert!(
        list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "widgets/status")
    );

    let (_, ct, agg) = get(
        &client,
        "/apis",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
    )
    .await;
    assert!(ct.contains("as=APIGroupDiscoveryList"), "{ct}");
    assert!(
        agg["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["metadata"]["name"] == "example.com")
    );

    // Deleting the CRD deletes its objects and stops serving it.
    widgets(client.clone()).create(&PostParams::default(), &serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}
    })).unwrap()).await.unwrap();
    Api::<CustomResourceDefinition>::all(client.clone())
        .delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    let (status, _, _) = get(&client, "/apis/example.com/v1", "application/json").await;
    assert_eq!(status, 404);
    assert!(
        env.get_object(
            &Gvr::new("example.com", "v1", "widgets"),
            Some("default"),
            "w"
        )
        .await
        .is_none()
    );
    assert!(
        env.get_object(
            &Gvr::new("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
            None,
            "widgets.example.com"
        )
        .await
        .is_none()
    );
}

#[tokio::test]
async fn installed_crds_report_established_and_names_accepted() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let crd = Api::<CustomResourceDefinition>::all(env.client().unwrap())
        .get("widgets.example.com")
        .await
        .unwrap();
    let status = crd.status.unwrap();
    let conds: Vec<(String, String)> = status
        .conditions
        .unwrap()
        .into_iter()
        .map(|c| (c.type_, c.status))
        .collect();
    assert!(
        conds.contains(&("Established".to_owned(), "True".to_owned())),
        "{conds:?}"
    );
    assert!(
        conds.contains(&("NamesAccepted".to_owned(), "True".to_owned())),
        "{conds:?}"
    );
    assert_eq!(status.accepted_names.unwrap().plural, "widgets");
    assert_eq!(status.stored_versions, Some(vec!["v1".to_owned()]));
}

#[tokio::test]
async fn openapi_v3_advertises_server_side_field_validation_for_patch() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let client = env.client().unwrap();
    let (_, _, root) = get(&client, "/openapi/v3", "application/json").await;
    let url = root["paths"]["apis/example.com/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(root["paths"]["api/v1"].is_object());
    let (_, _, doc) = get(&client, &url, "application/json").await;
    let patch =
        &doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Widget");
    assert!(
        patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation")
    );
    assert!(
        doc["components"]["schemas"]["com.example.v1.Widget"]["properties"]["spec"].is_object()
    );
}

#[tokio::test]
async fn tables_render_printer_columns_and_name_age_for_builtins() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let client = env.client().unwrap();
    widgets(client.clone()).create(&PostParams::default(), &serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 4}
    })).unwrap()).await.unwrap();
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let (_, _, t) = get(
        &client,
        "/apis/example.com/v1/namespaces/default/widgets",
        accept,
    )
    .await;
    assert_eq!(t["kind"], "Table");
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Size", "Ready", "Age"]);
    assert_eq!(t["rows"][0]["cells"][0], "w");
    assert_eq!(t["rows"][0]["cells"][1], 4);
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let (_, _, ns) = get(&client, "/api/v1/namespaces/default", accept).await;
    let cols: Vec<&str> = ns["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Age"]);
}

#[tokio::test]
async fn strict_field_validation_rejects_unknown_fields_and_dry_run_stores_nothing() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let api = widgets(env.client().unwrap());
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1, "sise": 2}
    })).unwrap();
    let client = env.client().unwrap();
    let req = http::Request::post(
        "/apis/example.com/v1/namespaces/default/widgets?fieldValidation=Strict",
    )
    .header("Content-Type", "application/json")
    .body(serde_json::to_vec(&obj).unwrap())
    .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let s: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(s["kind"], "Status");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"spec.sise\""),
        "{s}"
    );

    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let preview = api.create(&dry, &obj).await.unwrap();
    assert!(
        preview.data["spec"].get("sise").is_none(),
        "pruned in the preview"
    );
    assert!(
        api.get_opt("w").await.unwrap().is_none(),
        "dry run stores nothing"
    );

    let created = api.create(&PostParams::default(), &obj).await.unwrap();
    assert!(created.data["spec"].get("sise").is_none());
}

#[tokio::test]
async fn schema_defaults_are_applied_and_invalid_values_are_422() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let api = widgets(env.client().unwrap());
    let created = api.create(&PostParams::default(), &serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}
    })).unwrap()).await.unwrap();
    assert_eq!(created.data["spec"]["size"], 1, "default applied");
    let err = api.create(&PostParams::default(), &serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "x"}, "spec": {"size": 0, "color": "green"}
    })).unwrap()).await.unwrap_err();
    let kube::Error::Api(s) = err else {
        panic!("expected an API error")
    };
    assert_eq!(s.code, 422);
    let fields: Vec<String> = s
        .details
        .unwrap()
        .causes
        .into_iter()
        .map(|c| c.field)
        .collect();
    assert!(
        fields.contains(&"spec.size".to_owned()) && fields.contains(&"spec.color".to_owned()),
        "{fields:?}"
    );
}

#[tokio::test]
async fn shutdown_ends_open_watches_and_removes_temporary_files() {
    let env = support::start().await;
    let kubeconfig = env.kubeconfig_path().to_owned();
    assert!(kubeconfig.exists());
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::default_namespaced(env.client().unwrap());
    let stream = api
        .watch(&kube::api::WatchParams::default(), "0")
        .await
        .unwrap();
    let drained = tokio::spawn(async move { futures::StreamExt::count(stream).await });
    tokio::time::timeout(Duration::from_secs(30), env.shutdown())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), drained)
        .await
        .expect("the watch ends at shutdown")
        .unwrap();
    assert!(!kubeconfig.exists());
}

#[tokio::test]
async fn every_served_crd_version_serves_the_same_objects() {
    let env = support::start().await;
    let mut crd = support::widget_crd();
    let mut alpha = crd["spec"]["versions"][0].clone();
    alpha["name"] = json!("v1alpha1");
    alpha["storage"] = json!(false);
    crd["spec"]["versions"].as_array_mut().unwrap().push(alpha);
    env.install_crds(&[crd]).await.unwrap();
    let client = env.client().unwrap();
    widgets(client.clone()).create(&PostParams::default(), &serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 2}
    })).unwrap()).await.unwrap();
    let (status, _, w) = get(
        &client,
        "/apis/example.com/v1alpha1/namespaces/default/widgets/w",
        "application/json",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(w["apiVersion"], "example.com/v1alpha1");
    assert_eq!(w["spec"]["size"], 2);
    let (_, _, group) = get(&client, "/apis/example.com", "application/json").await;
    assert_eq!(group["preferredVersion"]["version"], "v1");
}

#[tokio::test]
async fn a_crd_whose_kind_is_taken_is_not_established() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let mut other = support::widget_crd();
    other["metadata"]["name"] = json!("gizmos.example.com");
    other["spec"]["names"] = json!({"plural": "gizmos", "singular": "gizmo", "kind": "Widget"});
    let err = env.install_crds(&[other]).await.unwrap_err();
    assert!(
        matches!(err, capp_testenv::Error::CrdNotEstablished { .. }),
        "{err:?}"
    );
    let client = env.client().unwrap();
    let crd = Api::<CustomResourceDefinition>::all(client.clone())
        .get("gizmos.example.com")
        .await
        .unwrap();
    let conds = crd.status.unwrap().conditions.unwrap();
    let names = conds.iter().find(|c| c.type_ == "NamesAccepted").unwrap();
    assert_eq!(
        (names.status.as_str(), names.reason.as_deref()),
        ("False", Some("KindConflict"))
    );
    let (status, _, _) = get(&client, "/apis/example.com/v1/gizmos", "application/json").await;
    assert_eq!(status, 404, "a CRD that is not established is not served");
}

#[tokio::test]
async fn every_built_in_kind_can_be_created_and_read_back() {
    let env = support::start().await;
    let client = env.client().unwrap();
    // Webhook configurations are stored only without webhooks: capp-testenv refuses webhooks
    // it would never call (tests/apiserver_parity.rs).
    let objects = [
        ("/api/v1/namespaces", json!({"metadata": {"name": "other"}})),
        (
            "/api/v1/namespaces/default/secrets",
            json!({"metadata": {"name": "s"}, "data": {"k": "dg=="}}),
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            json!({"metadata": {"name": "c"}, "data": {"k": "v"}}),
        ),
        (
            "/api/v1/namespaces/default/serviceaccounts",
            json!({"metadata": {"name": "sa"}}),
        ),
        (
            "/api/v1/namespaces/default/services",
            json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}),
        ),
        (
            "/api/v1/namespaces/default/events",
            json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}}),
        ),
        ("/api/v1/nodes", json!({"metadata": {"name": "n1"}})),
        (
            "/api/v1/namespaces/default/pods",
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
        ),
        (
            "/apis/events.k8s.io/v1/namespaces/default/events",
            json!({"metadata": {"name": "e2"}, "eventTime": "2026-01-01T00:00:00.000000Z"}),
        ),
        (
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}}),
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
            json!({"metadata": {"name": "r"}, "rules": []}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            json!({"metadata": {"name": "system:cr"}, "rules": []}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            json!({"metadata": {"name": "rb"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            json!({"metadata": {"name": "crb"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:cr"}}),
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            json!({"metadata": {"name": "v"}, "webhooks": []}),
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            json!({"metadata": {"name": "m"}, "webhooks": []}),
        ),
    ];
    for (path, body) in objects {
        let req = http::Request::post(path)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
            .unwrap();
        let resp = client
            .send(req.map(kube::client::Body::from))
            .await
            .unwrap();
        let code = resp.status();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(code, 201, "{path}: {}", String::from_utf8_lossy(&bytes));
        let name = body["metadata"]["name"].as_str().unwrap();
        let (code, _, got) = get(&client, &format!("{path}/{name}"), "application/json").await;
        assert_eq!(code, 200, "{path}/{name}");
        assert_eq!(
            got["metadata"]["uid"].as_str().map(str::len),
            Some(36),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_crd_with_held_objects_terminates_until_they_are_gone() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let client = env.client().unwrap();
    let api = widgets(client.clone());
    let held: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]}, "spec": {"size": 1}
    }))
    .unwrap();
    api.create(&PostParams::default(), &held).await.unwrap();
    let crds = Api::<CustomResourceDefinition>::all(client);
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    let crd = crds.get("widgets.example.com").await.unwrap();
    let conds = crd.status.unwrap().conditions.unwrap();
    assert!(
        conds
            .iter()
            .any(|c| c.type_ == "Terminating" && c.status == "True"),
        "{conds:?}"
    );
    assert!(
        api.get("held")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    );
    let mut another = held.clone();
    another.metadata.name = Some("another".into());
    another.metadata.finalizers = None;
    let err = api
        .create(&PostParams::default(), &another)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 405),
        "{err:?}"
    );
    api.patch(
        "held",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(crds.get_opt("widgets.example.com").await.unwrap().is_none());
}

/// kube-apiserver answers `GET /` with the paths it serves; Cluster API's cluster cache probes
/// it (`GET /?timeout=5s`) before connecting to a workload cluster and gives up on a 404
/// ("cluster is not reachable: the server could not find the requested resource").
#[tokio::test]
async fn the_root_path_lists_the_served_paths() {
    let env = support::start().await;
    let client = env.client().unwrap();
    let (status, _, root) = get(&client, "/?timeout=5s", "application/json").await;
    assert_eq!(status, 200, "{root}");
    let paths: Vec<&str> = root["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for expected in [
        "/api",
        "/api/v1",
        "/apis",
        "/apis/apps/v1",
        "/version",
        "/healthz",
    ] {
        assert!(paths.contains(&expected), "{expected} in {paths:?}");
    }
    assert!(paths.is_sorted(), "{paths:?}");
}

/// Cluster API's Machine controller lists `storage.k8s.io/v1` VolumeAttachments before it
/// deletes a Machine; without the kind it retries forever ("no matches for kind
/// VolumeAttachment").
#[tokio::test]
async fn volume_attachments_are_served_cluster_scoped() {
    let env = support::start().await;
    let client = env.client().unwrap();
    let (status, _, list) = get(
        &client,
        "/apis/storage.k8s.io/v1/volumeattachments",
        "application/json",
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["kind"], "VolumeAttachmentList", "{list}");
    assert_eq!(list["items"], json!([]), "{list}");
    let (_, _, resources) = get(&client, "/apis/storage.k8s.io/v1", "application/json").await;
    let va = resources["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "volumeattachments")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(va["namespaced"], false, "{resources}");
    assert_eq!(va["kind"], "VolumeAttachment", "{resources}");
}
