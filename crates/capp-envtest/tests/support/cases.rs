//! The differential suite's cases: each one runs the same requests against a [`Target`] in a
//! fresh namespace and returns what it observed, normalized.

use futures::StreamExt as _;
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::{Value, json};

use crate::target::{
    Target, apply, configmaps, delete, gadgets, managed_fields, normalize, obj, observe,
    observe_kubectl, outcome, poll_get, resource,
};

/// Every case, in run order.
pub(crate) const CASES: &[&str] = &[
    "create-get-list",
    "create-existing",
    "get-missing",
    "update-stale-resource-version",
    "merge-and-json-patch",
    "json-patch-test-failure",
    "delete-then-get",
    "label-and-field-selectors",
    "managed-fields-of-updates",
    "ssa-two-managers-conflict",
    "ssa-shared-field",
    "status-subresource",
    "finalizers-and-deletion",
    "gc-background",
    "gc-foreground",
    "watch-from-version",
    "schema-type-enum-bounds",
    "schema-prune-and-default",
    "cel-rule",
    "cel-transition-rule",
    "rbac-denied",
    "rbac-role-binding",
    "kubectl-get-table",
    "kubectl-apply-server-side-conflict",
    "kubectl-create-invalid",
    "kubectl-forbidden",
];

fn cm(name: &str, data: Value) -> Value {
    let mut o = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    o["data"] = data;
    o
}

fn gadget(name: &str, spec: Value) -> Value {
    let mut o =
        json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": name}});
    o["spec"] = spec;
    o
}

/// Runs `case` against `t` in namespace `ns`.
pub(crate) async fn run(case: &str, t: &Target, ns: &str) -> Vec<Value> {
    let cms = t.api(&configmaps(), ns);
    let gs = t.api(&gadgets(), ns);
    let pp = PostParams::default();
    let mut out = Vec::new();
    match case {
        "create-get-list" => {
            out.push(observe(
                "create",
                cms.create(&pp, &obj(cm("a", json!({"k": "v"})))).await,
            ));
            out.push(observe("get", cms.get("a").await));
            let list = names(&cms, &ListParams::default()).await;
            out.push(observe("list names", list));
        }
        "create-existing" => {
            out.push(outcome(
                "create",
                &cms.create(&pp, &obj(cm("a", json!({})))).await,
            ));
            out.push(observe(
                "create again",
                cms.create(&pp, &obj(cm("a", json!({})))).await,
            ));
        }
        "get-missing" => {
            out.push(observe("get", cms.get("nope").await));
            out.push(observe("get gadget", gs.get("nope").await));
        }
        "update-stale-resource-version" => {
            let created = cms
                .create(&pp, &obj(cm("a", json!({"k": "1"}))))
                .await
                .unwrap();
            let mut first = created.clone();
            first.data["data"]["k"] = json!("2");
            out.push(observe("update", cms.replace("a", &pp, &first).await));
            let mut stale = created;
            stale.data["data"]["k"] = json!("3");
            out.push(observe(
                "update with the old resourceVersion",
                cms.replace("a", &pp, &stale).await,
            ));
        }
        "merge-and-json-patch" => {
            cms.create(&pp, &obj(cm("a", json!({"k": "1", "drop": "x"}))))
                .await
                .unwrap();
            let merge = Patch::Merge(
                json!({"data": {"k": "2", "drop": null}, "metadata": {"labels": {"l": "v"}}}),
            );
            out.push(observe(
                "merge patch",
                cms.patch("a", &PatchParams::default(), &merge).await,
            ));
            let ops: json_patch::Patch = serde_json::from_value(json!([
                {"op": "add", "path": "/data/n", "value": "new"},
                {"op": "replace", "path": "/metadata/labels/l", "value": "w"}
            ]))
            .unwrap();
            out.push(observe(
                "json patch",
                cms.patch("a", &PatchParams::default(), &Patch::<()>::Json(ops))
                    .await,
            ));
        }
        "json-patch-test-failure" => {
            cms.create(&pp, &obj(cm("a", json!({"k": "1"}))))
                .await
                .unwrap();
            let ops: json_patch::Patch = serde_json::from_value(json!([
                {"op": "test", "path": "/data/k", "value": "2"},
                {"op": "replace", "path": "/data/k", "value": "3"}
            ]))
            .unwrap();
            out.push(observe(
                "json patch with a failing test",
                cms.patch("a", &PatchParams::default(), &Patch::<()>::Json(ops))
                    .await,
            ));
            let ops: json_patch::Patch =
                serde_json::from_value(json!([{"op": "remove", "path": "/data/missing"}])).unwrap();
            out.push(observe(
                "json patch removing a missing key",
                cms.patch("a", &PatchParams::default(), &Patch::<()>::Json(ops))
                    .await,
            ));
        }
        "delete-then-get" => {
            cms.create(&pp, &obj(cm("a", json!({})))).await.unwrap();
            out.push(observe(
                "delete",
                cms.delete("a", &DeleteParams::default())
                    .await
                    .map(|e| e.either(normalize_obj, |s| json!({"status": s.code}))),
            ));
            out.push(observe("get", cms.get("a").await));
            out.push(observe(
                "delete again",
                cms.delete("a", &DeleteParams::default()).await.map(|_| ()),
            ));
        }
        "label-and-field-selectors" => {
            for (name, tier, zone) in [
                ("a", "web", "x"),
                ("b", "db", "x"),
                ("c", "web", "y"),
                ("d", "cache", ""),
            ] {
                let mut o = cm(name, json!({}));
                o["metadata"]["labels"] = json!({"tier": tier});
                if !zone.is_empty() {
                    o["metadata"]["labels"]["zone"] = json!(zone);
                }
                cms.create(&pp, &obj(o)).await.unwrap();
            }
            for selector in [
                "tier=web",
                "tier!=web",
                "tier in (web,db),zone=x",
                "!zone",
                "zone",
                "tier notin (cache)",
            ] {
                let list = names(&cms, &ListParams::default().labels(selector)).await;
                out.push(observe(&format!("labels {selector}"), list));
            }
            for selector in [
                "metadata.name=b",
                "metadata.name!=b",
                "metadata.namespace!=default",
                "spec.nope=1",
            ] {
                let list = names(&cms, &ListParams::default().fields(selector)).await;
                out.push(observe(&format!("fields {selector}"), list));
            }
            out.push(observe(
                "bad label selector",
                cms.list(&ListParams::default().labels("tier in web"))
                    .await
                    .map(|l| l.items.len()),
            ));
        }
        "managed-fields-of-updates" => {
            let created = cms.create(&pp, &obj(cm("a", json!({"k": "v"})))).await;
            out.push(managed_fields("create", created));
            let merge =
                Patch::Merge(json!({"metadata": {"labels": {"l": "v"}}, "data": {"n": "1"}}));
            let params = PatchParams {
                field_manager: Some("patcher".to_owned()),
                ..PatchParams::default()
            };
            out.push(managed_fields(
                "merge patch by another manager",
                cms.patch("a", &params, &merge).await,
            ));
        }
        "ssa-two-managers-conflict" => {
            let body = |v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"shared": v}});
            out.push(observe(
                "alpha applies",
                apply(&cms, "a", "alpha", false, &body("1")).await,
            ));
            out.push(observe(
                "beta applies a different value",
                apply(&cms, "a", "beta", false, &body("2")).await,
            ));
            out.push(observe(
                "beta forces",
                apply(&cms, "a", "beta", true, &body("2")).await,
            ));
            let mut alpha_other = body("1");
            alpha_other["data"] = json!({"own": "x"});
            out.push(observe(
                "alpha applies without the field it lost",
                apply(&cms, "a", "alpha", false, &alpha_other).await,
            ));
        }
        "ssa-shared-field" => {
            let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"shared": "same"}});
            out.push(observe(
                "alpha applies",
                apply(&cms, "a", "alpha", false, &body).await,
            ));
            out.push(observe(
                "beta applies the same value",
                apply(&cms, "a", "beta", false, &body).await,
            ));
            let mut none = body.clone();
            none["data"] = json!({});
            out.push(observe(
                "alpha drops the field (beta still owns it)",
                apply(&cms, "a", "alpha", false, &none).await,
            ));
            out.push(observe(
                "beta drops it too (removed)",
                apply(&cms, "a", "beta", false, &none).await,
            ));
        }
        "status-subresource" => {
            let mut g = gadget("g", json!({"size": 2}));
            g["status"] = json!({"ready": true});
            out.push(observe(
                "create with status (dropped)",
                gs.create(&pp, &obj(g)).await,
            ));
            let status = Patch::Merge(
                json!({"status": {"ready": true, "observed": 1}, "spec": {"size": 9}}),
            );
            out.push(observe(
                "patch status (spec ignored)",
                gs.patch_status("g", &PatchParams::default(), &status).await,
            ));
            let spec = Patch::Merge(json!({"spec": {"size": 3}, "status": {"ready": false}}));
            out.push(observe(
                "patch main resource (status ignored)",
                gs.patch("g", &PatchParams::default(), &spec).await,
            ));
            out.push(observe("get status", gs.get_status("g").await));
        }
        "finalizers-and-deletion" => {
            let mut o = cm("a", json!({}));
            o["metadata"]["finalizers"] = json!(["example.com/hold"]);
            cms.create(&pp, &obj(o)).await.unwrap();
            out.push(observe(
                "delete (held)",
                cms.delete("a", &DeleteParams::default())
                    .await
                    .map(|e| e.either(normalize_obj, |s| json!({"status": s.code}))),
            ));
            out.push(observe("get while held", cms.get("a").await));
            let add = Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}),
            );
            out.push(observe(
                "add a finalizer while deleting",
                cms.patch("a", &PatchParams::default(), &add).await,
            ));
            let data = Patch::Merge(json!({"data": {"k": "v"}}));
            out.push(observe(
                "update while deleting",
                cms.patch("a", &PatchParams::default(), &data).await,
            ));
            let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
            out.push(outcome(
                "remove the finalizers",
                &cms.patch("a", &PatchParams::default(), &release).await,
            ));
            out.push(observe("gone", poll_get(&cms, "a", Result::is_err).await));
        }
        "gc-background" => {
            let owner = cms.create(&pp, &obj(cm("owner", json!({})))).await.unwrap();
            let mut child = cm("child", json!({}));
            child["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}]);
            cms.create(&pp, &obj(child)).await.unwrap();
            out.push(delete(&cms, "owner", &DeleteParams::background()).await);
            out.push(observe(
                "child collected",
                poll_get(&cms, "child", Result::is_err).await,
            ));
        }
        "gc-foreground" => {
            let owner = cms.create(&pp, &obj(cm("owner", json!({})))).await.unwrap();
            let mut child = cm("child", json!({}));
            child["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid, "blockOwnerDeletion": true}]);
            child["metadata"]["finalizers"] = json!(["example.com/hold"]);
            cms.create(&pp, &obj(child)).await.unwrap();
            out.push(delete(&cms, "owner", &DeleteParams::foreground()).await);
            out.push(observe("owner waits for its child", cms.get("owner").await));
            out.push(observe(
                "child being deleted",
                poll_get(&cms, "child", |r| {
                    r.as_ref()
                        .is_ok_and(|o| o.metadata.deletion_timestamp.is_some())
                })
                .await,
            ));
            let release = Patch::Merge(json!({"metadata": {"finalizers": null}}));
            out.push(outcome(
                "release the child",
                &cms.patch("child", &PatchParams::default(), &release).await,
            ));
            out.push(observe(
                "owner collected",
                poll_get(&cms, "owner", Result::is_err).await,
            ));
        }
        "watch-from-version" => {
            let created = cms
                .create(&pp, &obj(cm("a", json!({"k": "0"}))))
                .await
                .unwrap();
            let from = created.metadata.resource_version.clone().unwrap();
            for n in 1..=2 {
                cms.patch(
                    "a",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"data": {"k": n.to_string()}})),
                )
                .await
                .unwrap();
            }
            cms.delete("a", &DeleteParams::default()).await.unwrap();
            let stream = cms
                .watch(&WatchParams::default().timeout(5), &from)
                .await
                .unwrap();
            let events: Vec<Value> = tokio::time::timeout(
                std::time::Duration::from_secs(20),
                stream.take(3).collect::<Vec<_>>(),
            )
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|e| match e {
                Ok(WatchEvent::Added(o)) => json!({"ADDED": o.data}),
                Ok(WatchEvent::Modified(o)) => json!({"MODIFIED": o.data}),
                Ok(WatchEvent::Deleted(o)) => json!({"DELETED": o.data}),
                Ok(WatchEvent::Bookmark(_)) => json!("BOOKMARK"),
                Ok(WatchEvent::Error(s)) => json!({"ERROR": s.code}),
                Err(e) => json!({"error": e.to_string()}),
            })
            .collect();
            out.push(json!({"step": "events after the create", "events": events}));
            let gone = cms
                .watch(&WatchParams::default().timeout(3), "1")
                .await
                .unwrap();
            let first: Vec<Value> = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                gone.take(1).collect::<Vec<_>>(),
            )
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|e| match e {
                Ok(WatchEvent::Error(s)) => json!({"ERROR": s.code, "reason": s.reason}),
                Ok(_) => json!("an event"),
                Err(e) => json!({"error": e.to_string()}),
            })
            .collect();
            out.push(json!({"step": "watch from a compacted version", "events": first}));
        }
        "schema-type-enum-bounds" => {
            for (step, spec) in [
                ("wrong type", json!({"size": "big"})),
                ("enum", json!({"color": "green"})),
                ("minimum", json!({"size": 0})),
                (
                    "maximum and maxLength",
                    json!({"size": 101, "label": "far-too-long-label"}),
                ),
            ] {
                out.push(observe(step, gs.create(&pp, &obj(gadget("g", spec))).await));
            }
        }
        "schema-prune-and-default" => {
            out.push(observe(
                "create with unknown fields",
                gs.create(&pp, &obj(gadget("g", json!({"size": 2, "unknown": 1}))))
                    .await,
            ));
            out.push(observe(
                "create with an empty spec",
                gs.create(&pp, &obj(gadget("h", json!({})))).await,
            ));
        }
        "cel-rule" => {
            out.push(observe(
                "big and blue",
                gs.create(&pp, &obj(gadget("g", json!({"size": 60, "color": "blue"}))))
                    .await,
            ));
            out.push(outcome(
                "big and red",
                &gs.create(&pp, &obj(gadget("g", json!({"size": 60, "color": "red"}))))
                    .await,
            ));
            let blue = Patch::Merge(json!({"spec": {"color": "blue"}}));
            out.push(observe(
                "turn it blue",
                gs.patch("g", &PatchParams::default(), &blue).await,
            ));
        }
        "cel-transition-rule" => {
            gs.create(&pp, &obj(gadget("g", json!({"serial": "s-1"}))))
                .await
                .unwrap();
            let change = Patch::Merge(json!({"spec": {"serial": "s-2"}}));
            out.push(observe(
                "change serial",
                gs.patch("g", &PatchParams::default(), &change).await,
            ));
            let same = Patch::Merge(json!({"spec": {"serial": "s-1", "size": 2}}));
            out.push(observe(
                "keep serial",
                gs.patch("g", &PatchParams::default(), &same).await,
            ));
        }
        "rbac-denied" => {
            let alice = t.alice_api(&configmaps(), ns);
            out.push(observe(
                "list",
                alice
                    .list(&ListParams::default())
                    .await
                    .map(|l| l.items.len()),
            ));
            out.push(observe("get", alice.get("a").await));
            out.push(observe(
                "create",
                alice.create(&pp, &obj(cm("a", json!({})))).await,
            ));
            let cluster = kube::Api::<kube::api::DynamicObject>::all_with(
                t.alice.clone(),
                &resource("", "v1", "Namespace", "namespaces"),
            );
            out.push(observe(
                "list namespaces",
                cluster
                    .list(&ListParams::default())
                    .await
                    .map(|l| l.items.len()),
            ));
        }
        "rbac-role-binding" => {
            cms.create(&pp, &obj(cm("a", json!({})))).await.unwrap();
            let roles = t.api(
                &resource("rbac.authorization.k8s.io", "v1", "Role", "roles"),
                ns,
            );
            let bindings = t.api(
                &resource(
                    "rbac.authorization.k8s.io",
                    "v1",
                    "RoleBinding",
                    "rolebindings",
                ),
                ns,
            );
            roles.create(&pp, &obj(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]}))).await.unwrap();
            bindings.create(&pp, &obj(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "alice-reads"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]}))).await.unwrap();
            let alice = t.alice_api(&configmaps(), ns);
            let mut got = alice.get("a").await;
            for _ in 0..100 {
                if got.is_ok() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                got = alice.get("a").await;
            }
            out.push(outcome("get once bound", &got));
            out.push(observe(
                "delete (not granted)",
                alice
                    .delete("a", &DeleteParams::default())
                    .await
                    .map(|_| ()),
            ));
            out.push(observe(
                "get a secret (not granted)",
                t.alice_api(&resource("", "v1", "Secret", "secrets"), ns)
                    .get("a")
                    .await,
            ));
        }
        "kubectl-get-table" => {
            for (name, size, color) in [("g1", 3, "red"), ("g2", 7, "blue")] {
                gs.create(
                    &pp,
                    &obj(gadget(name, json!({"size": size, "color": color}))),
                )
                .await
                .unwrap();
            }
            out.push(observe_kubectl(
                "get",
                &t.kubectl(&["get", "gadgets", "-n", ns], None).await,
            ));
            out.push(observe_kubectl(
                "get -o wide sorted",
                &t.kubectl(
                    &[
                        "get",
                        "gadgets",
                        "-n",
                        ns,
                        "-o",
                        "wide",
                        "--sort-by=.spec.size",
                    ],
                    None,
                )
                .await,
            ));
            out.push(observe_kubectl(
                "get missing",
                &t.kubectl(&["get", "gadget", "nope", "-n", ns], None).await,
            ));
            out.push(observe_kubectl(
                "jsonpath",
                &t.kubectl(
                    &[
                        "get",
                        "gadgets",
                        "-n",
                        ns,
                        "-o",
                        "jsonpath={.items[*].spec.color}",
                    ],
                    None,
                )
                .await,
            ));
        }
        "kubectl-apply-server-side-conflict" => {
            let manifest = |v: &str| {
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: {ns}\ndata:\n  k: \"{v}\"\n"
                )
            };
            out.push(observe_kubectl(
                "alpha",
                &t.kubectl(
                    &["apply", "--server-side", "--field-manager=alpha", "-f", "-"],
                    Some(&manifest("1")),
                )
                .await,
            ));
            out.push(observe_kubectl(
                "beta conflicts",
                &t.kubectl(
                    &["apply", "--server-side", "--field-manager=beta", "-f", "-"],
                    Some(&manifest("2")),
                )
                .await,
            ));
            out.push(observe_kubectl(
                "beta forces",
                &t.kubectl(
                    &[
                        "apply",
                        "--server-side",
                        "--field-manager=beta",
                        "--force-conflicts",
                        "-f",
                        "-",
                    ],
                    Some(&manifest("2")),
                )
                .await,
            ));
            out.push(observe_kubectl(
                "client-side apply over it",
                &t.kubectl(&["apply", "-f", "-"], Some(&manifest("3"))).await,
            ));
            out.push(observe_kubectl(
                "read",
                &t.kubectl(
                    &[
                        "get",
                        "configmap",
                        "a",
                        "-n",
                        ns,
                        "-o",
                        "jsonpath={.data.k}",
                    ],
                    None,
                )
                .await,
            ));
        }
        "kubectl-create-invalid" => {
            let manifest = format!(
                "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n  namespace: {ns}\nspec:\n  size: 0\n  color: green\n"
            );
            out.push(observe_kubectl(
                "create",
                &t.kubectl(&["create", "-f", "-"], Some(&manifest)).await,
            ));
            let unknown = format!(
                "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n  namespace: {ns}\nspec:\n  size: 2\n  bogus: 1\n"
            );
            out.push(observe_kubectl(
                "create with an unknown field (strict)",
                &t.kubectl(&["create", "--validate=strict", "-f", "-"], Some(&unknown))
                    .await,
            ));
        }
        "kubectl-forbidden" => {
            out.push(observe_kubectl(
                "get configmaps",
                &t.kubectl_as_alice(&["get", "configmaps", "-n", ns]).await,
            ));
            out.push(observe_kubectl(
                "auth can-i",
                &t.kubectl_as_alice(&["auth", "can-i", "list", "configmaps", "-n", ns])
                    .await,
            ));
        }
        other => panic!("unknown case {other}"),
    }
    out
}

fn normalize_obj(o: kube::api::DynamicObject) -> Value {
    normalize(serde_json::to_value(o).unwrap())
}

/// The names a list returns, in order.
async fn names(
    api: &kube::Api<kube::api::DynamicObject>,
    params: &ListParams,
) -> Result<Vec<Option<String>>, kube::Error> {
    let list = api.list(params).await?;
    Ok(list.items.into_iter().map(|o| o.metadata.name).collect())
}
