//! Device identity against capp-testenv and capp-sim: a crash between the create call and
//! the status write yields one device; devices of the Go provider are adopted; a device
//! deleted behind our back is reported; pause stops every Metal call.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::time::Duration;

use capi_types::conditions::PAUSED;
use capp_api::conditions::INSTANCE_READY;
use capp_api::core::CoreVersion;
use capp_packet::{CreateDevice, Location, Metal};
use capp_sim::Fault;
use serde_json::json;
use support::{World, condition, eventually, reason};

const BOOT: &str = "#cloud-config\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_right_after_the_create_call_yields_exactly_one_device() {
    let world = World::start(CoreVersion::V1Beta1).await;
    // Real-time backoff: a retry after an error would come 5 s later.
    let controllers = world.controllers_with(|c| c.time_scale = 1.0).await;
    let uid = world.cluster("prod", json!({})).await;
    world.bootstrap_secret("boot", BOOT).await;
    eventually("the cluster to be provisioned", || async {
        world.packet_cluster("prod").await.is_provisioned()
    })
    .await;
    // The create is carried out but its answer is lost, and the status write that follows
    // fails: nothing about the device reaches the API server, nothing triggers another
    // reconcile, and the controllers die before their backoff ends.
    world
        .sim
        .faults()
        .inject_for("createDevice", Fault::Lost, 1);
    world.env.inject_fault(
        capp_testenv::Fault::new("packetmachines/prod-md-0/status", 500)
            .with_method(http::Method::PATCH),
    );
    world
        .machine("prod", &uid, "prod-md-0", false, Some("boot"), json!({}))
        .await;
    // Kill right after the create, long before any retry.
    tokio::time::timeout(support::PATIENCE, async {
        while world.sim.operation_count("createDevice") == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .unwrap();
    controllers.kill();
    assert_eq!(world.sim.devices().len(), 1);
    assert!(
        world
            .packet_machine("prod-md-0")
            .await
            .spec
            .provider_id
            .is_none()
    );

    let restarted = world.controllers().await;
    let pm = world
        .machine_until(
            "prod-md-0",
            "ready",
            capp_api::PacketMachine::is_provisioned,
        )
        .await;
    assert_eq!(world.sim.devices().len(), 1, "exactly one device");
    assert_eq!(
        world.sim.operation_count("createDevice"),
        1,
        "the create was not sent again"
    );
    assert_eq!(pm.device_id(), Some(world.sim.devices()[0].id.as_str()));
    restarted.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_of_the_go_provider_is_adopted_not_duplicated() {
    let world = World::start(CoreVersion::V1Beta2).await;
    let metal = world.metal();
    let mut go = CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
    go.hostname = Some("prod-md-0".into());
    go.tags = vec![
        "capp:cluster-id:prod".into(),
        "capp:machine-uid:prod-md-0".into(),
        "capp:namespace:default".into(),
        "kubernetes.io/role:node".into(),
    ];
    let existing = metal
        .create_device(world.sim.default_project_id(), &go)
        .await
        .unwrap();
    world.sim.clear_request_log();
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
    assert_eq!(
        pm.device_id(),
        Some(existing.id.as_str()),
        "the Go device is adopted"
    );
    assert_eq!(world.sim.operation_count("createDevice"), 0);
    assert_eq!(world.sim.devices().len(), 1);
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_deleted_behind_our_back_is_reported() {
    let world = World::start(CoreVersion::V1Beta1).await;
    let controllers = world
        .controllers_with(|c| c.sync_period = Duration::from_millis(500))
        .await;
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
    world
        .metal()
        .delete_device(pm.device_id().unwrap(), true)
        .await
        .unwrap();
    let pm = world
        .machine_until("prod-md-0", "reported missing", |pm| {
            matches!(
                reason(pm, INSTANCE_READY).as_str(),
                "InstanceNotFound" | "InstanceTerminated"
            )
        })
        .await;
    assert!(pm.status.as_ref().unwrap().failure_message.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        world.sim.operation_count("createDevice"),
        1,
        "no replacement device"
    );
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_all_metal_calls_and_unpause_resumes() {
    let world = World::start(CoreVersion::V1Beta1).await;
    let controllers = world
        .controllers_with(|c| c.sync_period = Duration::from_millis(300))
        .await;
    let uid = world.cluster("prod", json!({})).await;
    world.bootstrap_secret("boot", BOOT).await;
    eventually("the cluster to be provisioned", || async {
        world.packet_cluster("prod").await.is_provisioned()
    })
    .await;
    world.pause("prod", true).await;
    world
        .machine("prod", &uid, "prod-md-0", false, Some("boot"), json!({}))
        .await;
    let pm = world
        .machine_until("prod-md-0", "paused", |pm| {
            condition(pm, PAUSED).is_some_and(|c| c.status == "True")
        })
        .await;
    assert_eq!(reason(&pm, PAUSED), "Paused");
    world.sim.clear_request_log();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        world.sim.request_log().is_empty(),
        "no Metal call while paused: {:?}",
        world.sim.request_log()
    );
    world.pause("prod", false).await;
    let pm = world
        .machine_until(
            "prod-md-0",
            "ready",
            capp_api::PacketMachine::is_provisioned,
        )
        .await;
    assert_eq!(condition(&pm, PAUSED).unwrap().status, "False");
    controllers.stop().await;
    world.shutdown().await;
}
