//! A reconcile cannot hold a controller concurrency slot forever: the 1,000-machine bench
//! stalled with every thread parked and no error logged. The Kubernetes client has no read
//! timeout by default (kube's `Config::read_timeout` is `None`), so one request whose answer
//! never comes parked a reconcile, and ten of them parked the controller.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

use std::sync::Arc;
use std::time::Duration;

use capp_api::PacketMachine;
use capp_api::core::CoreVersion;
use capp_packet::{ClientConfig, Metal, MetalClient};
use capp_reconcile::core::CoreApi;
use capp_reconcile::metrics::Metrics;
use capp_reconcile::{Accounts, Config, Context};
use serde_json::json;
use tokio::net::TcpListener;

/// A "Kubernetes API server" that accepts connections and reads requests but never answers.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_whose_kubernetes_request_never_answers_times_out() {
    let (url, server) = silent_server().await;
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let metal: Arc<dyn Metal> = Arc::new(
        MetalClient::new(ClientConfig::new("unused").with_base_url("http://127.0.0.1:9/")).unwrap(),
    );
    let factory: capp_reconcile::MetalFactory =
        Arc::new(move |_: &str| Err(capp_packet::Error::Config("no other account".to_owned())));
    let limit = Duration::from_secs(1);
    let ctx = Arc::new(Context::new(
        client,
        Accounts::new(metal, factory),
        None,
        CoreApi::new(CoreVersion::V1Beta2),
        Config {
            reconcile_timeout: limit,
            ..Config::default()
        },
        Arc::new(Metrics::default()),
    ));
    // Owned by a Machine: the reconcile's first step GETs it from the silent server.
    let pm: PacketMachine = serde_json::from_value(json!({
        "apiVersion": capp_api::API_VERSION, "kind": "PacketMachine",
        "metadata": {"name": "m", "namespace": "default", "uid": "pm-uid",
            "labels": {"cluster.x-k8s.io/cluster-name": "c"},
            "ownerReferences": [{"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
                "name": "m", "uid": "machine-uid", "controller": true}]},
        "spec": {"os": "ubuntu_24_04", "machineType": "c3.small.x86"},
    }))
    .unwrap();
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        capp_reconcile::machine::reconcile(Arc::new(pm), ctx),
    )
    .await
    .expect("the reconcile hung: nothing bounds a Kubernetes request that never answers");
    let error = outcome.expect_err("nothing answered, the reconcile cannot succeed");
    assert_eq!(error.reason(), "ReconcileTimeout", "{error}");
    assert!(!error.is_terminal(), "a timeout is retried");
    assert!(
        started.elapsed() < limit * 5,
        "cancelled near the limit, took {:?}",
        started.elapsed()
    );
    server.abort();
}
