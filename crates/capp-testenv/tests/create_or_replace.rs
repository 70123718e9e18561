//! `TestEnv::install_crds` and `TestEnv::apply_manifest` share one create-or-replace path:
//! an object that exists is replaced (keeping its identity), one that does not is created,
//! and objects with only a `generateName` are always created.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests fail by panicking"
)]

use capp_testenv::{Config, Gvr, TestEnv};
use serde_json::{Value, json};

fn crd(max: u64) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "things", "singular": "thing", "kind": "Thing"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                    "type": "object",
                    "properties": {"n": {"type": "integer", "maximum": max}}
                }}}}
            }]
        }
    })
}

fn thing(n: u64) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": {"n": n}})
}

#[tokio::test]
async fn install_crds_replaces_an_installed_crd() {
    let env = TestEnv::start(Config::default()).await.unwrap();
    let things = Gvr::new("example.com", "v1", "things");
    env.install_crds(&[crd(5)]).await.unwrap();
    let crds = Gvr::new("apiextensions.k8s.io", "v1", "customresourcedefinitions");
    let uid = env
        .get_object(&crds, None, "things.example.com")
        .await
        .unwrap()["metadata"]["uid"]
        .clone();
    env.create_object(&things, Some("default"), thing(7))
        .await
        .expect_err("maximum 5");
    // The second install replaces the schema in place: same object, new rules.
    env.install_crds(&[crd(10)]).await.unwrap();
    let replaced = env
        .get_object(&crds, None, "things.example.com")
        .await
        .unwrap();
    assert_eq!(replaced["metadata"]["uid"], uid);
    env.create_object(&things, Some("default"), thing(7))
        .await
        .unwrap();
}

#[tokio::test]
async fn apply_manifest_replaces_named_objects_and_creates_generated_ones() {
    let env = TestEnv::start(Config::default()).await.unwrap();
    let cms = Gvr::new("", "v1", "configmaps");
    let manifest = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{k: {value}}}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {{generateName: run-}}\ndata: {{k: {value}}}\n"
        )
    };
    let first = env.apply_manifest(&manifest("one")).await.unwrap();
    let second = env.apply_manifest(&manifest("two")).await.unwrap();
    assert_eq!(first[0]["metadata"]["uid"], second[0]["metadata"]["uid"]);
    assert_eq!(second[0]["data"]["k"], "two");
    assert_ne!(first[1]["metadata"]["name"], second[1]["metadata"]["name"]);
    assert_eq!(
        env.list_objects(&cms, Some("default")).await.len(),
        3 + usize::from(
            env.get_object(&cms, Some("default"), "kube-root-ca.crt")
                .await
                .is_some(),
        )
    );
}
