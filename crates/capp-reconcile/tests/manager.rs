//! The manager around the controllers, against capp-testenv and capp-sim: leader election on
//! a Lease, `/healthz`, `/readyz` and `/metrics`, and a graceful stop that releases the Lease.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::time::Duration;

use capp_api::core::CoreVersion;
use capp_reconcile::manager::{LEASE_NAME, ManagerOptions};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use serde_json::json;
use support::{World, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

async fn get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else {
        return (0, String::new());
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

fn free_port() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_reconciles_serves_probes_and_metrics_and_releases_the_lease_on_stop() {
    let world = World::start(CoreVersion::V1Beta1).await;
    let (ctx, _) = world.context(|_| {});
    let (metrics, health) = (free_port(), free_port());
    let (stop, stopped) = oneshot::channel::<()>();
    let manager = tokio::spawn(capp_reconcile::manager::run(
        ctx,
        ManagerOptions {
            metrics_bind_address: Some(metrics),
            health_probe_bind_address: Some(health),
            leader_elect: true,
            leader_election_namespace: "default".into(),
            identity: "replica-a".into(),
        },
        async move {
            let _ = stopped.await;
        },
    ));
    eventually("/readyz to answer 200", || async {
        get(health, "/readyz").await.0 == 200
    })
    .await;
    assert_eq!(get(health, "/healthz").await.0, 200);
    let leases: Api<Lease> = Api::namespaced(world.client.clone(), "default");
    let lease = leases.get(LEASE_NAME).await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("replica-a")
    );

    world.cluster("prod", json!({})).await;
    eventually("the cluster to be provisioned", || async {
        world.packet_cluster("prod").await.is_provisioned()
    })
    .await;
    let (status, body) = get(metrics, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("capp_reconciles_total{controller=\"packetcluster\"}"),
        "{body}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), manager)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let lease = leases.get(LEASE_NAME).await.unwrap();
    let holder = lease.spec.and_then(|s| s.holder_identity);
    assert!(
        holder.as_deref().is_none_or(str::is_empty),
        "the Lease is released: {holder:?}"
    );
    world.shutdown().await;
}
