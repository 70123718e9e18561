//! REST semantics seen through `kube::Client`: CRUD, resourceVersions, generation, status
//! subresource, patches, server-side apply, finalizers, garbage collection, selectors, paging
//! and watches.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use serde_json::json;

fn cm(name: &str, labels: &serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .unwrap()
}

fn widgets(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    Api::namespaced_with(client, ns, &ar)
}

fn widget(name: &str, spec: &serde_json::Value) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec})).unwrap()
}

fn api_code(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn created_objects_get_server_fields_and_duplicates_are_rejected() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    let created = api
        .create(&PostParams::default(), &cm("a", &json!({})))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.uid.as_ref().unwrap().len(), 36);
    assert!(meta.creation_timestamp.is_some());
    assert!(
        meta.resource_version
            .as_ref()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let (code, reason) = api_code(
        api.create(&PostParams::default(), &cm("a", &json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    let (code, _) = api_code(api.get("missing").await.unwrap_err());
    assert_eq!(code, 404);
}

#[tokio::test]
async fn built_in_specs_that_go_declares_as_structs_are_never_absent() {
    let env = support::start().await;
    let client = env.client().unwrap();
    let leases: Api<DynamicObject> = Api::namespaced_with(
        client,
        "default",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("coordination.k8s.io", "v1", "Lease"),
            "leases",
        ),
    );
    let bare: DynamicObject = serde_json::from_value(
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}}),
    )
    .unwrap();
    let created = leases.create(&PostParams::default(), &bare).await.unwrap();
    assert_eq!(
        created.data["spec"],
        json!({}),
        "as the real server answers"
    );
    let read = leases.get("l").await.unwrap();
    assert_eq!(read.data["spec"], json!({}));
}

#[tokio::test]
async fn generate_name_produces_unique_names() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    let mut o: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "gen-"}})).unwrap();
    let a = api.create(&PostParams::default(), &o).await.unwrap();
    o.metadata.name = None;
    let b = api.create(&PostParams::default(), &o).await.unwrap();
    let (a, b) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert!(a.starts_with("gen-") && a.len() == 9, "{a}");
    assert_ne!(a, b);
}

#[tokio::test]
async fn namespaced_objects_need_an_existing_namespace() {
    let env = support::start().await;
    let client = env.client().unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "nope");
    let (code, _) = api_code(
        api.create(&PostParams::default(), &cm("a", &json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 404);
    let names: Vec<String> = Api::<Namespace>::all(client)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for ns in ["default", "kube-system", "kube-public"] {
        assert!(names.contains(&ns.to_owned()), "{names:?}");
    }
}

#[tokio::test]
async fn a_stale_resource_version_is_a_conflict_and_resource_versions_increase() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    let first = api
        .create(&PostParams::default(), &cm("a", &json!({})))
        .await
        .unwrap();
    let mut update = first.clone();
    update.data = Some([("k".to_owned(), "w".to_owned())].into());
    let second = api
        .replace("a", &PostParams::default(), &update)
        .await
        .unwrap();
    let rv = |c: &ConfigMap| {
        c.metadata
            .resource_version
            .clone()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(rv(&second) > rv(&first));
    let (code, reason) = api_code(
        api.replace("a", &PostParams::default(), &update)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
}

#[tokio::test]
async fn invalid_names_and_labels_are_422_with_field_causes() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    let err = api
        .create(
            &PostParams::default(),
            &cm("Bad_Name", &json!({"ok": "-bad-"})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected API error")
    };
    assert_eq!(status.code, 422);
    assert_eq!(status.reason, "Invalid");
    assert!(
        status.message.contains("metadata.name"),
        "{}",
        status.message
    );
    assert!(
        status.message.contains("metadata.labels"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn secrets_string_data_is_folded_into_data() {
    let env = support::start().await;
    let api: Api<Secret> = Api::namespaced(env.client().unwrap(), "default");
    let s: Secret =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"token": "abc"}}))
            .unwrap();
    let s = api.create(&PostParams::default(), &s).await.unwrap();
    assert_eq!(s.data.unwrap()["token"].0, b"abc");
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    assert!(s.string_data.is_none());
}

#[tokio::test]
async fn generation_moves_on_spec_changes_only_and_status_goes_through_the_subresource() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let api = widgets(env.client().unwrap(), "default");
    let mut w = widget("w", &json!({"size": 2}));
    w.data["status"] = json!({"ready": true});
    let created = api.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(
        created.data.get("status").is_none(),
        "status is dropped on create"
    );

    let labelled = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        labelled.metadata.generation,
        Some(1),
        "metadata changes keep the generation"
    );

    let with_status = api
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}, "spec": {"size": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(with_status.data["status"]["ready"], json!(true));
    assert_eq!(
        with_status.data["spec"]["size"],
        json!(2),
        "/status ignores spec"
    );
    assert_eq!(with_status.metadata.generation, Some(1));

    let resized = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 3}, "status": {"ready": false}})),
        )
        .await
        .unwrap();
    assert_eq!(resized.metadata.generation, Some(2));
    assert_eq!(
        resized.data["status"]["ready"],
        json!(true),
        "the main endpoint ignores status"
    );
}

#[tokio::test]
async fn custom_resource_updates_require_a_resource_version() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let api = widgets(env.client().unwrap(), "default");
    let mut w = api
        .create(&PostParams::default(), &widget("w", &json!({"size": 2})))
        .await
        .unwrap();
    w.metadata.resource_version = None;
    let (code, _) = api_code(
        api.replace("w", &PostParams::default(), &w)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
}

#[tokio::test]
async fn json_patch_test_failures_and_merge_and_strategic_patches_behave() {
    let env = support::start().await;
    let client = env.client().unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &cm("a", &json!({"x": "1"})))
        .await
        .unwrap();
    let ok = json_patch::Patch(
        serde_json::from_value(json!([
            {"op": "test", "path": "/data/k", "value": "v"},
            {"op": "replace", "path": "/data/k", "value": "w"}
        ]))
        .unwrap(),
    );
    let patched = api
        .patch("a", &PatchParams::default(), &Patch::<()>::Json(ok))
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["k"], "w");
    let failing = json_patch::Patch(
        serde_json::from_value(json!([
            {"op": "test", "path": "/data/k", "value": "v"},
            {"op": "replace", "path": "/data/k", "value": "z"}
        ]))
        .unwrap(),
    );
    let (code, _) = api_code(
        api.patch("a", &PatchParams::default(), &Patch::<()>::Json(failing))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    let merged = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": null, "n": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        merged.data.unwrap().into_iter().collect::<Vec<_>>(),
        [("n".to_owned(), "1".to_owned())]
    );

    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [
            {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}
        ]}}}
    })).unwrap();
    deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let smp =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}}});
    let d = deployments
        .patch("d", &PatchParams::default(), &Patch::Strategic(smp))
        .await
        .unwrap();
    let containers = d.spec.unwrap().template.spec.unwrap().containers;
    assert_eq!(
        containers.len(),
        2,
        "strategic merge keeps containers by name"
    );
    assert_eq!(containers[1].image.as_deref(), Some("b:2"));
    assert_eq!(d.metadata.generation, Some(2));
}

#[tokio::test]
async fn server_side_apply_tracks_managers_removes_dropped_fields_and_reports_conflicts() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    let apply = |data: serde_json::Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": data});
    let first = api
        .patch(
            "a",
            &PatchParams::apply("one"),
            &Patch::Apply(apply(json!({"x": "1", "y": "2"}))),
        )
        .await
        .unwrap();
    let managers: Vec<_> = first
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .map(|m| (m.manager.unwrap(), m.operation.unwrap()))
        .collect();
    assert_eq!(managers, [("one".to_owned(), "Apply".to_owned())]);
    let dropped = api
        .patch(
            "a",
            &PatchParams::apply("one"),
            &Patch::Apply(apply(json!({"x": "1"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        dropped.data.unwrap().keys().collect::<Vec<_>>(),
        ["x"],
        "fields the applier drops are removed"
    );
    let (code, reason) = api_code(
        api.patch(
            "a",
            &PatchParams::apply("two"),
            &Patch::Apply(apply(json!({"x": "9"}))),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    let forced = api
        .patch(
            "a",
            &PatchParams::apply("two").force(),
            &Patch::Apply(apply(json!({"x": "9"}))),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["x"], "9");
}

#[tokio::test]
async fn finalizers_hold_deletion_until_the_last_one_is_removed() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    let mut c = cm("a", &json!({}));
    c.metadata.finalizers = Some(vec!["example.com/hold".to_owned()]);
    api.create(&PostParams::default(), &c).await.unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let held = api.get("a").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(held.metadata.deletion_grace_period_seconds, Some(0));
    let (code, _) = api_code(
        api.patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(code, 422, "no new finalizers while deleting");
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(api_code(api.get("a").await.unwrap_err()).0, 404);
}

async fn owner_and_child(api: &Api<ConfigMap>, block: bool) -> (ConfigMap, ConfigMap) {
    let owner = api
        .create(&PostParams::default(), &cm("owner", &json!({})))
        .await
        .unwrap();
    let mut child = cm("child", &json!({}));
    child.metadata.owner_references = Some(vec![serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid, "blockOwnerDeletion": block
    })).unwrap()]);
    let child = api.create(&PostParams::default(), &child).await.unwrap();
    (owner, child)
}

#[tokio::test]
async fn background_deletion_collects_dependents() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    owner_and_child(&api, false).await;
    api.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    assert_eq!(api_code(api.get("child").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    owner_and_child(&api, true).await;
    api.patch(
        "child",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/hold"]}})),
    )
    .await
    .unwrap();
    api.delete("owner", &DeleteParams::foreground())
        .await
        .unwrap();
    let owner = api.get("owner").await.unwrap();
    assert!(
        owner
            .metadata
            .finalizers
            .unwrap()
            .contains(&"foregroundDeletion".to_owned())
    );
    assert!(
        api.get("child")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    );
    api.patch(
        "child",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(api_code(api.get("child").await.unwrap_err()).0, 404);
    assert_eq!(api_code(api.get("owner").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_and_drops_their_owner_reference() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    owner_and_child(&api, false).await;
    api.delete("owner", &DeleteParams::orphan()).await.unwrap();
    assert_eq!(api_code(api.get("owner").await.unwrap_err()).0, 404);
    let child = api.get("child").await.unwrap();
    assert!(
        child
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_contents() {
    let env = support::start().await;
    let client = env.client().unwrap();
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "tmp"}})).unwrap(),
    )
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "tmp");
    api.create(&PostParams::default(), &cm("a", &json!({})))
        .await
        .unwrap();
    nss.delete("tmp", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_code(nss.get("tmp").await.unwrap_err()).0, 404);
    assert_eq!(api_code(api.get("a").await.unwrap_err()).0, 404);
    let (code, _) = api_code(
        nss.delete("default", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403);
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists_across_namespaces() {
    let env = support::start().await;
    let client = env.client().unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(
        &PostParams::default(),
        &cm("web", &json!({"app": "web", "tier": "fe"})),
    )
    .await
    .unwrap();
    api.create(&PostParams::default(), &cm("db", &json!({"app": "db"})))
        .await
        .unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), "kube-system")
        .create(&PostParams::default(), &cm("sys", &json!({"app": "web"})))
        .await
        .unwrap();
    let names = |l: kube::core::ObjectList<ConfigMap>| {
        l.items
            .into_iter()
            .map(|c| c.metadata.name.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            api.list(&ListParams::default().labels("app in (web,db),!tier"))
                .await
                .unwrap()
        ),
        ["db"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().labels("tier"))
                .await
                .unwrap()
        ),
        ["web"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().labels("app notin (db)"))
                .await
                .unwrap()
        ),
        ["web"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().fields("metadata.name=db"))
                .await
                .unwrap()
        ),
        ["db"]
    );
    let all: Api<ConfigMap> = Api::all(client);
    assert_eq!(
        names(
            all.list(&ListParams::default().labels("app=web"))
                .await
                .unwrap()
        ),
        ["web", "sys"],
        "sorted by namespace, then name"
    );
    assert_eq!(
        names(
            all.list(&ListParams::default().fields("metadata.namespace!=default"))
                .await
                .unwrap()
        ),
        ["sys"]
    );
}

#[tokio::test]
async fn lists_page_with_limit_and_continue() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), &json!({})))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut lp = ListParams::default().limit(2);
    loop {
        let page = api.list(&lp).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|c| c.metadata.name.unwrap()));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    assert_eq!(seen, ["c0", "c1", "c2", "c3", "c4"]);
}

#[tokio::test]
async fn watches_stream_added_modified_and_deleted_from_a_resource_version() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    let list = api.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    let mut stream = api
        .watch(&WatchParams::default().timeout(60), &rv)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &cm("a", &json!({})))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(30), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        kinds.push(match ev {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("{e:?}"),
        });
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn a_watch_from_a_compacted_resource_version_gets_410_gone() {
    let env = capp_testenv::TestEnv::start(capp_testenv::Config::default().with_watch_history(3))
        .await
        .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    let old = api
        .create(&PostParams::default(), &cm("a", &json!({})))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    for i in 0..5 {
        api.patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": i.to_string()}})),
        )
        .await
        .unwrap();
    }
    let mut stream = api
        .watch(&WatchParams::default().timeout(5), &old)
        .await
        .unwrap()
        .boxed();
    let ev = tokio::time::timeout(Duration::from_secs(30), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let WatchEvent::Error(e) = ev else {
        panic!("expected an ERROR event, got {ev:?}")
    };
    assert_eq!(e.code, 410);
}

#[tokio::test]
async fn watches_send_bookmarks_when_asked_and_end_after_timeout_seconds() {
    let env = capp_testenv::TestEnv::start(
        capp_testenv::Config::default().with_bookmark_interval(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    api.create(&PostParams::default(), &cm("a", &json!({})))
        .await
        .unwrap();
    let current = env.resource_version().await.to_string();
    let watch = async |params: WatchParams| {
        let started = std::time::Instant::now();
        let events: Vec<_> = tokio::time::timeout(
            Duration::from_secs(30),
            api.watch(&params, "0").await.unwrap().try_collect(),
        )
        .await
        .expect("timeoutSeconds ends the stream")
        .unwrap();
        (events, started.elapsed())
    };
    // WatchParams asks for bookmarks (allowWatchBookmarks=true) unless disabled.
    let (events, took) = watch(WatchParams::default().timeout(2)).await;
    assert!(
        took >= Duration::from_millis(1500),
        "the stream stays open until timeoutSeconds: {took:?}"
    );
    let bookmarks: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            WatchEvent::Bookmark(b) => Some(b.metadata.resource_version.clone()),
            _ => None,
        })
        .collect();
    assert!(!bookmarks.is_empty(), "{events:?}");
    assert!(
        bookmarks.iter().all(|rv| *rv == current),
        "bookmarks carry the current resourceVersion {current}: {bookmarks:?}"
    );
    assert!(
        matches!(&events[0], WatchEvent::Added(c) if c.metadata.name.as_deref() == Some("a")),
        "{events:?}"
    );

    let (events, _) = watch(WatchParams::default().timeout(1).disable_bookmarks()).await;
    assert!(
        !events.iter().any(|e| matches!(e, WatchEvent::Bookmark(_))),
        "no bookmarks unless asked for: {events:?}"
    );
}

#[tokio::test]
async fn type_specific_and_crd_selectable_field_selectors_filter_lists() {
    use k8s_openapi::api::core::v1::Event;
    let env = support::start().await;
    let client = env.client().unwrap();
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    for (name, target) in [("e1", "a"), ("e2", "b")] {
        let e: Event = serde_json::from_value(json!({
            "metadata": {"name": name},
            "involvedObject": {"kind": "ConfigMap", "name": target, "namespace": "default"},
            "reason": "Test", "type": "Normal"
        }))
        .unwrap();
        events.create(&PostParams::default(), &e).await.unwrap();
    }
    let found = events
        .list(&ListParams::default().fields("involvedObject.name=b,type=Normal"))
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].metadata.name.as_deref(), Some("e2"));

    let mut crd = support::widget_crd();
    crd["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": ".spec.color"}]);
    env.install_crds(&[crd]).await.unwrap();
    let api = widgets(client, "default");
    api.create(
        &PostParams::default(),
        &widget("r", &json!({"color": "red"})),
    )
    .await
    .unwrap();
    api.create(
        &PostParams::default(),
        &widget("b", &json!({"color": "blue"})),
    )
    .await
    .unwrap();
    let reds = api
        .list(&ListParams::default().fields("spec.color=red"))
        .await
        .unwrap();
    assert_eq!(
        reds.items
            .iter()
            .map(|w| w.metadata.name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["r"]
    );
    let (code, _) = api_code(
        api.list(&ListParams::default().fields("spec.size=1"))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 400, "fields that are not selectable are refused");
}

#[tokio::test]
async fn server_side_apply_accepts_yaml_bodies_and_ignores_status_on_the_main_endpoint() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let client = env.client().unwrap();
    let yaml = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: from-yaml\nspec:\n  size: 3\nstatus:\n  ready: true\n";
    let req = http::Request::patch(
        "/apis/example.com/v1/namespaces/default/widgets/from-yaml?fieldManager=yaml-applier",
    )
    .header("Content-Type", "application/apply-patch+yaml")
    .body(yaml.as_bytes().to_vec())
    .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    let code = resp.status();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(
        code,
        201,
        "apply creates: {}",
        String::from_utf8_lossy(&body)
    );
    let w = widgets(client, "default").get("from-yaml").await.unwrap();
    assert_eq!(w.data["spec"]["size"], 3);
    assert!(
        w.data.get("status").is_none(),
        "status is ignored on the main endpoint"
    );
    let managers: Vec<String> = w
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, ["yaml-applier"]);
}

#[tokio::test]
async fn delete_collection_preconditions_and_dry_run_deletes_behave() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    for (name, app) in [("a", "x"), ("b", "x"), ("c", "y")] {
        api.create(&PostParams::default(), &cm(name, &json!({"app": app})))
            .await
            .unwrap();
    }
    let dry = DeleteParams {
        dry_run: true,
        ..DeleteParams::default()
    };
    api.delete("c", &dry).await.unwrap();
    assert!(
        api.get_opt("c").await.unwrap().is_some(),
        "a dry-run delete keeps the object"
    );
    let stale = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some("not-the-uid".into()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    assert_eq!(api_code(api.delete("c", &stale).await.unwrap_err()).0, 409);

    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("app=x"),
    )
    .await
    .unwrap();
    let left: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(left, ["c"]);
}

#[tokio::test]
async fn label_filtered_watches_see_objects_enter_and_leave_the_selection() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    api.create(&PostParams::default(), &cm("a", &json!({"team": "blue"})))
        .await
        .unwrap();
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = api
        .watch(
            &WatchParams::default()
                .labels("team=red")
                .timeout(60)
                .disable_bookmarks(),
            &rv,
        )
        .await
        .unwrap()
        .boxed();
    let relabel = |team: &str| Patch::Merge(json!({"metadata": {"labels": {"team": team}}}));
    api.patch("a", &PatchParams::default(), &relabel("red"))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .unwrap();
    api.patch("a", &PatchParams::default(), &relabel("green"))
        .await
        .unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(30), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        kinds.push(match ev {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            other => panic!("{other:?}"),
        });
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn a_watch_resumed_from_a_resource_version_sees_only_later_events() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    api.create(&PostParams::default(), &cm("a", &json!({})))
        .await
        .unwrap();
    let mut rvs = Vec::new();
    for v in ["1", "2", "3"] {
        let patched = api
            .patch(
                "a",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"k": v}})),
            )
            .await
            .unwrap();
        rvs.push(patched.metadata.resource_version.unwrap());
    }
    // Resuming from the second change replays exactly the third, then streams live changes.
    let mut stream = api
        .watch(&WatchParams::default().timeout(30), &rvs[1])
        .await
        .unwrap()
        .boxed();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(20), stream.try_next())
            .await
            .expect("an event arrives")
            .unwrap()
            .expect("the stream is open")
    };
    let WatchEvent::Modified(replayed) = next().await else {
        panic!("expected the replayed MODIFIED event")
    };
    assert_eq!(replayed.metadata.resource_version.as_ref(), Some(&rvs[2]));
    assert_eq!(replayed.data.unwrap()["k"], "3");
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let WatchEvent::Deleted(deleted) = next().await else {
        panic!("expected DELETED, with no synthetic ADDED before it")
    };
    assert!(
        deleted
            .metadata
            .resource_version
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > rvs[2].parse::<u64>().unwrap()
    );
}

#[tokio::test]
async fn a_compacted_resource_version_is_a_410_error_event_with_an_expired_status() {
    let env = capp_testenv::TestEnv::start(capp_testenv::Config::default().with_watch_history(2))
        .await
        .unwrap();
    let client = env.client().unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let old = api
        .create(&PostParams::default(), &cm("a", &json!({})))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    for i in 0..3 {
        api.create(&PostParams::default(), &cm(&format!("b{i}"), &json!({})))
            .await
            .unwrap();
    }
    // The real server answers a watch with 200 and one ERROR event carrying the 410 Status,
    // then ends the stream.
    let req = http::Request::get(format!(
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={old}"
    ))
    .body(Vec::new())
    .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = tokio::time::timeout(
        Duration::from_secs(20),
        http_body_util::BodyExt::collect(resp.into_body()),
    )
    .await
    .expect("the stream ends after the error")
    .unwrap()
    .to_bytes();
    let lines: Vec<serde_json::Value> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["type"], "ERROR");
    let status = &lines[0]["object"];
    assert_eq!(
        (&status["kind"], &status["code"], &status["reason"]),
        (&json!("Status"), &json!(410), &json!("Expired")),
        "{status}"
    );
}

#[tokio::test]
async fn server_side_apply_on_a_custom_resource_removes_dropped_fields_and_reports_conflicts_with_causes()
 {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let api = widgets(env.client().unwrap(), "default");
    let apply = |spec: serde_json::Value| {
        Patch::Apply(
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}),
        )
    };
    api.patch(
        "w",
        &PatchParams::apply("alice"),
        &apply(json!({"size": 2, "color": "red"})),
    )
    .await
    .unwrap();
    let dropped = api
        .patch(
            "w",
            &PatchParams::apply("alice"),
            &apply(json!({"size": 2})),
        )
        .await
        .unwrap();
    assert!(
        dropped.data["spec"].get("color").is_none(),
        "a field alice stopped applying is removed: {}",
        dropped.data["spec"]
    );
    assert_eq!(dropped.metadata.generation, Some(2));

    let err = api
        .patch("w", &PatchParams::apply("bob"), &apply(json!({"size": 5})))
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error, got {err:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    let causes = status.details.unwrap().causes;
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].field, ".spec.size");
    assert!(
        causes[0].message.contains("conflict with \"alice\""),
        "{causes:?}"
    );
    assert_eq!(
        api.get("w").await.unwrap().data["spec"]["size"],
        2,
        "a conflicting apply changes nothing"
    );

    let forced = api
        .patch(
            "w",
            &PatchParams::apply("bob").force(),
            &apply(json!({"size": 5})),
        )
        .await
        .unwrap();
    assert_eq!(forced.data["spec"]["size"], 5);
    let owners = |mgr: &str| -> String {
        forced
            .metadata
            .managed_fields
            .clone()
            .unwrap()
            .into_iter()
            .find(|m| m.manager.as_deref() == Some(mgr))
            .and_then(|m| m.fields_v1)
            .map(|f| f.0.to_string())
            .unwrap_or_default()
    };
    assert!(owners("bob").contains("f:size"), "{}", owners("bob"));
    assert!(
        !owners("alice").contains("f:size"),
        "force takes size away from alice: {}",
        owners("alice")
    );
    // Once bob owns size, alice dropping it no longer removes it.
    let after = api
        .patch("w", &PatchParams::apply("alice"), &apply(json!({})))
        .await
        .unwrap();
    assert_eq!(after.data["spec"]["size"], 5);
}

#[tokio::test]
async fn a_server_side_apply_conflict_on_a_config_map_names_the_field_and_its_manager() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    let apply = |data: serde_json::Value| {
        Patch::Apply(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": data}),
        )
    };
    api.patch(
        "a",
        &PatchParams::apply("one"),
        &apply(json!({"x": "1", "y": "2"})),
    )
    .await
    .unwrap();
    let err = api
        .patch("a", &PatchParams::apply("two"), &apply(json!({"x": "9"})))
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error, got {err:?}")
    };
    assert_eq!(status.code, 409);
    let causes = status.details.unwrap().causes;
    assert_eq!(
        causes
            .iter()
            .map(|c| (c.reason.as_str(), c.field.as_str()))
            .collect::<Vec<_>>(),
        [("FieldManagerConflict", ".data.x")],
        "{causes:?}"
    );
    let forced = api
        .patch(
            "a",
            &PatchParams::apply("two").force(),
            &apply(json!({"x": "9"})),
        )
        .await
        .unwrap();
    let data = forced.data.unwrap();
    assert_eq!(
        (data["x"].as_str(), data["y"].as_str()),
        ("9", "2"),
        "force takes x; one still owns y"
    );
    // The first applier dropping x no longer removes it: two owns it now.
    let kept = api
        .patch("a", &PatchParams::apply("one"), &apply(json!({"y": "2"})))
        .await
        .unwrap();
    assert_eq!(kept.data.unwrap()["x"], "9");
}

/// A cluster-scoped `Zone` CRD with an immutable `spec.region` (a CEL transition rule), a
/// cross-field CEL rule and a defaulted field.
fn zone_crd() -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "zones.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "zones", "singular": "zone", "kind": "Zone"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object",
                        "required": ["region"],
                        "x-kubernetes-validations": [
                            {"rule": "self.min <= self.max", "message": "min must not exceed max"}
                        ],
                        "properties": {
                            "region": {
                                "type": "string",
                                "x-kubernetes-validations": [
                                    {"rule": "self == oldSelf", "message": "region is immutable"}
                                ]
                            },
                            "min": {"type": "integer", "default": 0},
                            "max": {"type": "integer", "default": 10}
                        }
                    }}
                }}
            }]
        }
    })
}

#[tokio::test]
async fn cel_rules_including_transition_rules_are_enforced_on_create_and_update() {
    let env = support::start().await;
    env.install_crds(&[zone_crd()]).await.unwrap();
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Zone"),
        "zones",
    );
    let api: Api<DynamicObject> = Api::all_with(env.client().unwrap(), &ar);
    let zone = |spec: serde_json::Value| -> DynamicObject {
        serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Zone", "metadata": {"name": "z"}, "spec": spec})).unwrap()
    };
    let causes = |e: kube::Error| match e {
        kube::Error::Api(s) if s.code == 422 => s
            .details
            .unwrap()
            .causes
            .into_iter()
            .map(|c| (c.field, c.message))
            .collect::<Vec<_>>(),
        other => panic!("expected 422, got {other:?}"),
    };

    let bad = causes(
        api.create(
            &PostParams::default(),
            &zone(json!({"region": "ams", "min": 5, "max": 1})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].0, "spec");
    assert!(bad[0].1.contains("min must not exceed max"), "{bad:?}");

    let created = api
        .create(&PostParams::default(), &zone(json!({"region": "ams"})))
        .await
        .unwrap();
    assert_eq!(
        (&created.data["spec"]["min"], &created.data["spec"]["max"]),
        (&json!(0), &json!(10)),
        "defaults are applied before the rules run"
    );

    let moved = causes(
        api.patch(
            "z",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"region": "fra"}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0].0, "spec.region");
    assert!(moved[0].1.contains("region is immutable"), "{moved:?}");
    let mut replaced = api.get("z").await.unwrap();
    replaced.data["spec"]["region"] = json!("fra");
    assert!(
        !causes(
            api.replace("z", &PostParams::default(), &replaced)
                .await
                .unwrap_err()
        )
        .is_empty(),
        "PUT is checked too"
    );
    let widened = api
        .patch(
            "z",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"max": 20}})),
        )
        .await
        .unwrap();
    assert_eq!(widened.data["spec"]["region"], "ams");
    assert_eq!(widened.data["spec"]["max"], 20);
}

#[tokio::test]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario: a snapshot across pages, the watch that follows it, and its expiry"
)]
async fn paged_lists_show_the_first_pages_snapshot_and_expire_with_the_history() {
    use kube::api::VersionMatch;
    let env = capp_testenv::TestEnv::start(capp_testenv::Config::default().with_watch_history(20))
        .await
        .unwrap();
    let client = env.client().unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), &json!({})))
            .await
            .unwrap();
    }
    let names = |l: &kube::core::ObjectList<ConfigMap>| {
        l.items
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect::<Vec<_>>()
    };
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(names(&first), ["c0", "c1"]);
    let snapshot_rv = first.metadata.resource_version.clone().unwrap();
    let token = first.metadata.continue_.clone().unwrap();

    // Changes between pages: one before the cursor, one on a later page, one deletion.
    api.create(&PostParams::default(), &cm("a", &json!({})))
        .await
        .unwrap();
    api.patch(
        "c2",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"changed": "yes"}}})),
    )
    .await
    .unwrap();
    api.delete("c3", &DeleteParams::default()).await.unwrap();

    let mut seen = names(&first);
    let mut lp = ListParams::default().limit(2).continue_token(&token);
    loop {
        let page = api.list(&lp).await.unwrap();
        assert_eq!(
            page.metadata.resource_version.as_ref(),
            Some(&snapshot_rv),
            "every page reports the snapshot's resourceVersion"
        );
        for c in &page.items {
            if c.metadata.name.as_deref() == Some("c2") {
                assert!(
                    c.metadata
                        .labels
                        .as_ref()
                        .is_none_or(|l| !l.contains_key("changed"))
                );
            }
        }
        seen.extend(names(&page));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    assert_eq!(
        seen,
        ["c0", "c1", "c2", "c3", "c4"],
        "the snapshot, not a mix"
    );

    // A watch from the snapshot's resourceVersion delivers exactly what the list missed.
    let mut stream = api
        .watch(&WatchParams::default().timeout(30), &snapshot_rv)
        .await
        .unwrap()
        .boxed();
    let mut missed = Vec::new();
    while missed.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(20), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        missed.push(match ev {
            WatchEvent::Added(c) => format!("ADDED {}", c.metadata.name.unwrap()),
            WatchEvent::Modified(c) => format!("MODIFIED {}", c.metadata.name.unwrap()),
            WatchEvent::Deleted(c) => format!("DELETED {}", c.metadata.name.unwrap()),
            other => panic!("{other:?}"),
        });
    }
    assert_eq!(missed, ["ADDED a", "MODIFIED c2", "DELETED c3"]);

    // resourceVersionMatch=Exact lists the state at that resourceVersion.
    let exact = api
        .list(
            &ListParams::default()
                .at(&snapshot_rv)
                .matching(VersionMatch::Exact),
        )
        .await
        .unwrap();
    assert_eq!(names(&exact), ["c0", "c1", "c2", "c3", "c4"]);
    let now = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(names(&now), ["a", "c0", "c1", "c2", "c4"]);

    // Once the history no longer reaches back, both are 410 Expired responses.
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    for i in 0..25 {
        let s: Secret =
            serde_json::from_value(json!({"metadata": {"name": format!("s{i}")}})).unwrap();
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    let (code, reason) = api_code(
        api.list(&ListParams::default().limit(2).continue_token(&token))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (410, "Expired"));
    let (code, reason) = api_code(
        api.list(
            &ListParams::default()
                .at(&snapshot_rv)
                .matching(VersionMatch::Exact),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (410, "Expired"));
    for query in [
        "resourceVersionMatch=Exact",
        "resourceVersionMatch=Exact&resourceVersion=0",
        "resourceVersionMatch=Sometimes&resourceVersion=1",
    ] {
        let req = http::Request::get(format!("/api/v1/namespaces/default/configmaps?{query}"))
            .body(Vec::new())
            .unwrap();
        let resp = env
            .client()
            .unwrap()
            .send(req.map(kube::client::Body::from))
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{query}");
    }
}

#[tokio::test]
async fn foreground_deletion_deletes_non_blocking_dependents_without_waiting_for_them() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    owner_and_child(&api, false).await;
    api.patch(
        "child",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/hold"]}})),
    )
    .await
    .unwrap();
    api.delete("owner", &DeleteParams::foreground())
        .await
        .unwrap();
    assert_eq!(
        api_code(api.get("owner").await.unwrap_err()).0,
        404,
        "no blocking dependent: the owner goes at once"
    );
    let child = api.get("child").await.unwrap();
    assert!(
        child.metadata.deletion_timestamp.is_some(),
        "the dependent is being deleted, held by its own finalizer"
    );
}

#[tokio::test]
async fn a_dependent_with_two_owners_survives_until_both_are_deleted() {
    let env = support::start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client().unwrap(), "default");
    let (owner, _) = owner_and_child(&api, false).await;
    let second = api
        .create(&PostParams::default(), &cm("second", &json!({})))
        .await
        .unwrap();
    api.patch(
        "child",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid},
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "second", "uid": second.metadata.uid}
        ]}})),
    )
    .await
    .unwrap();
    api.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    let child = api.get("child").await.unwrap();
    assert!(child.metadata.deletion_timestamp.is_none());
    api.delete("second", &DeleteParams::background())
        .await
        .unwrap();
    assert_eq!(api_code(api.get("child").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn no_op_writes_keep_the_resource_version_and_emit_no_events() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let client = env.client().unwrap();
    let api = widgets(client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &widget("w", &json!({"size": 2})))
        .await
        .unwrap();
    let rv = created.metadata.resource_version.clone();
    let mut stream = api
        .watch(
            &WatchParams::default().timeout(30).disable_bookmarks(),
            rv.as_deref().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    let same = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(same.metadata.resource_version, rv);
    let status = json!({"status": {"ready": true}});
    let first = api
        .patch_status("w", &PatchParams::default(), &Patch::Merge(status.clone()))
        .await
        .unwrap();
    let again = api
        .patch_status("w", &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version, first.metadata.resource_version,
        "a controller writing the same status again changes nothing"
    );
    // The only event after the creation is the first status write.
    api.delete("w", &DeleteParams::default()).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.last() != Some(&"DELETED") {
        let ev = tokio::time::timeout(Duration::from_secs(20), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        kinds.push(match ev {
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            other => panic!("{other:?}"),
        });
    }
    assert_eq!(kinds, ["MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn strategic_merge_on_a_custom_resource_is_415_and_terminating_namespaces_take_nothing_new() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let client = env.client().unwrap();
    let api = widgets(client.clone(), "default");
    api.create(&PostParams::default(), &widget("w", &json!({"size": 2})))
        .await
        .unwrap();
    let (code, reason) = api_code(
        api.patch(
            "w",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 3}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (415, "UnsupportedMediaType"));

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "going"}})).unwrap(),
        )
        .await
        .unwrap();
    let held = widgets(client.clone(), "going");
    let mut w = widget("held", &json!({}));
    w.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    held.create(&PostParams::default(), &w).await.unwrap();
    namespaces
        .delete("going", &DeleteParams::default())
        .await
        .unwrap();
    let ns = namespaces.get("going").await.unwrap();
    assert_eq!(
        ns.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    let (code, _) = api_code(
        Api::<ConfigMap>::namespaced(client, "going")
            .create(&PostParams::default(), &cm("late", &json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403, "a terminating namespace takes nothing new");
    held.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(
        namespaces.get_opt("going").await.unwrap().is_none(),
        "the namespace goes once its contents are gone"
    );
}
