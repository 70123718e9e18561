//! The library API as a test author uses it: start on an ephemeral loopback port, clients and
//! kubeconfigs, CRD installation, inspecting stored objects, and cleanup on shutdown or drop.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::time::Duration;

use capp_testenv::{Config, Gvr, Identity, TestEnv};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;

fn port_of(env: &TestEnv) -> u16 {
    env.url().rsplit(':').next().unwrap().parse().unwrap()
}

async fn refuses_connections(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
}

#[tokio::test]
async fn servers_start_on_their_own_loopback_ports_and_shutdown_removes_every_temporary_file() {
    let (a, b) = tokio::join!(TestEnv::start(Config::default()), support::start());
    let (a, b) = (a.unwrap(), b);
    assert!(a.url().starts_with("https://127.0.0.1:"), "{}", a.url());
    assert_ne!(port_of(&a), 0);
    assert_ne!(port_of(&a), port_of(&b), "each server has its own port");

    // A kubeconfig written where the caller asks works for a kube client and for the caller.
    let own = std::env::temp_dir().join(format!("capp-testenv-own-{}", port_of(&a)));
    a.write_kubeconfig(&own, &Identity::admin()).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&own).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    Api::<ConfigMap>::namespaced(client, "default")
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "via-file"}})).unwrap(),
        )
        .await
        .unwrap();

    // Stored objects can be inspected without a client.
    let cms = Gvr::new("", "v1", "configmaps");
    let stored = a
        .get_object(&cms, Some("default"), "via-file")
        .await
        .expect("stored");
    assert_eq!(stored["metadata"]["name"], "via-file");
    assert!(stored["metadata"]["uid"].is_string());
    env_install_and_list(&a).await;

    let admin = a.kubeconfig_path().to_owned();
    let dir = admin.parent().unwrap().to_owned();
    let sa = a
        .kubeconfig_for(&Identity::service_account("default", "robot"))
        .unwrap();
    assert!(admin.exists() && sa.exists() && sa.starts_with(&dir));
    let port = port_of(&a);
    tokio::time::timeout(Duration::from_secs(10), a.shutdown())
        .await
        .expect("shutdown finishes");
    assert!(!dir.exists(), "the temporary directory is removed");
    assert!(refuses_connections(port).await, "nothing listens any more");
    assert!(
        own.exists(),
        "a kubeconfig written to the caller's path is the caller's to remove"
    );
    std::fs::remove_file(&own).unwrap();

    // Dropping without shutdown cleans up as well.
    let dir = b.kubeconfig_path().parent().unwrap().to_owned();
    let port = port_of(&b);
    assert!(dir.exists());
    drop(b);
    assert!(!dir.exists(), "drop removes the temporary directory");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !refuses_connections(port).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the listener closes after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn env_install_and_list(env: &TestEnv) {
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let widgets = Gvr::new("example.com", "v1", "widgets");
    assert!(
        env.list_objects(&widgets, None).await.is_empty(),
        "the CRD is served as soon as install_crds returns"
    );
    let created = env
        .create_object(
            &widgets,
            Some("default"),
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}),
        )
        .await
        .unwrap();
    assert_eq!(created["spec"]["size"], 1, "created through admission");
    let listed = env.list_objects(&widgets, Some("default")).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["metadata"]["name"], "w");
}
