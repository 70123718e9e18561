//! Events on the objects, end to end against capp-testenv and capp-sim, read as `kubectl
//! describe` reads them (core `v1` Events by involvedObject): a machine's way to Ready, a
//! failed provision and a capacity shortage.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use capp_api::core::CoreVersion;
use k8s_openapi::api::core::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::json;
use support::{BOOT, NS, PATIENCE, World};

/// Waits for an event of `reason` on the object `kind`/`name` and returns it.
async fn event(world: &World, kind: &str, name: &str, reason: &str) -> Event {
    let api: Api<Event> = Api::namespaced(world.client.clone(), NS);
    let mut seen = Vec::new();
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            let events = api.list(&ListParams::default()).await.unwrap().items;
            seen = events
                .iter()
                .filter(|e| {
                    e.involved_object.kind.as_deref() == Some(kind)
                        && e.involved_object.name.as_deref() == Some(name)
                })
                .map(|e| e.reason.clone().unwrap_or_default())
                .collect();
            if let Some(e) = events.into_iter().find(|e| {
                e.involved_object.kind.as_deref() == Some(kind)
                    && e.involved_object.name.as_deref() == Some(name)
                    && e.reason.as_deref() == Some(reason)
            }) {
                return e;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {reason} event on {kind} {name}; seen: {seen:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_on_its_way_to_ready_is_told_in_events() {
    let world = World::start(CoreVersion::V1Beta2).await;
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    world.bootstrap_secret("boot", BOOT).await;
    world
        .machine("prod", &uid, "prod-md-0", false, Some("boot"), json!({}))
        .await;
    let pm = world
        .machine_until(
            "prod-md-0",
            "ready",
            capp_api::PacketMachine::is_provisioned,
        )
        .await;
    let device_id = pm.device_id().unwrap();

    let endpoint = event(&world, "PacketCluster", "prod", "ControlPlaneEndpointSet").await;
    assert_eq!(endpoint.type_.as_deref(), Some("Normal"));
    let host = world
        .packet_cluster("prod")
        .await
        .control_plane_endpoint()
        .unwrap()
        .host
        .clone();
    assert!(
        endpoint.message.as_deref().unwrap().contains(&host),
        "{endpoint:?}"
    );

    let created = event(&world, "PacketMachine", "prod-md-0", "DeviceCreated").await;
    let ready = event(&world, "PacketMachine", "prod-md-0", "DeviceReady").await;
    for e in [&created, &ready] {
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(e.involved_object.uid, pm.uid(), "{e:?}");
        assert_eq!(
            e.involved_object.api_version.as_deref(),
            Some(capp_api::API_VERSION)
        );
        assert!(
            e.message.as_deref().unwrap().contains(device_id),
            "the event names the device: {e:?}"
        );
        assert_eq!(e.reporting_component.as_deref(), Some("capp-manager"));
    }
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_provision_and_a_capacity_shortage_are_warning_events() {
    let world = World::start(CoreVersion::V1Beta1).await;
    world.sim.faults().fail_next_provisioning(1);
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    world.bootstrap_secret("boot", BOOT).await;
    world
        .machine("prod", &uid, "prod-md-0", false, Some("boot"), json!({}))
        .await;
    let failed = event(
        &world,
        "PacketMachine",
        "prod-md-0",
        "InstanceProvisionFailed",
    )
    .await;
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    assert!(
        failed
            .message
            .as_deref()
            .unwrap()
            .contains("failed to provision"),
        "{failed:?}"
    );

    world.sim.set_capacity("da", "c3.small.x86", 0);
    world
        .machine("prod", &uid, "prod-md-1", false, Some("boot"), json!({}))
        .await;
    let short = event(&world, "PacketMachine", "prod-md-1", "InsufficientCapacity").await;
    assert_eq!(short.type_.as_deref(), Some("Warning"));
    assert!(
        short
            .message
            .as_deref()
            .unwrap()
            .contains("There aren't available servers"),
        "the Metal API's message is in the event: {short:?}"
    );
    controllers.stop().await;
    world.shutdown().await;
}
