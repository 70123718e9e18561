//! The PacketMachine controller under adverse conditions, against capp-testenv and capp-sim:
//! bootstrap data arriving late, no capacity then capacity, a failed provision, a 429 storm.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::time::Duration;

use capp_api::conditions::INSTANCE_READY;
use capp_api::core::CoreVersion;
use capp_sim::FaultConfig;
use serde_json::json;
use support::{BOOT, World, reason, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_waits_for_bootstrap_data_then_is_created() {
    let world = World::start(CoreVersion::V1Beta2).await;
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    world
        .machine("prod", &uid, "prod-md-0", false, None, json!({}))
        .await;
    world
        .machine_until("prod-md-0", "waiting for bootstrap data", |pm| {
            reason(pm, INSTANCE_READY) == "WaitingForBootstrapData"
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        world.sim.operation_count("createDevice"),
        0,
        "nothing is created without bootstrap data"
    );
    world.bootstrap_secret("boot", BOOT).await;
    world.set_bootstrap("prod-md-0", "boot").await;
    let pm = world
        .machine_until(
            "prod-md-0",
            "ready",
            capp_api::PacketMachine::is_provisioned,
        )
        .await;
    let device = world.sim.device(pm.device_id().unwrap()).unwrap();
    assert_eq!(device.userdata, BOOT, "the Secret's value is the userdata");
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_capacity_is_reported_and_retried_until_capacity_returns() {
    let world = World::start(CoreVersion::V1Beta1).await;
    world.sim.set_capacity("da", "c3.small.x86", 0);
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    world.bootstrap_secret("boot", BOOT).await;
    world
        .machine("prod", &uid, "prod-md-0", false, Some("boot"), json!({}))
        .await;
    let pm = world
        .machine_until("prod-md-0", "short of capacity", |pm| {
            reason(pm, INSTANCE_READY) == "InsufficientCapacity"
        })
        .await;
    let message = support::condition(&pm, INSTANCE_READY)
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        message.contains("There aren't available servers"),
        "the Metal message is shown: {message}"
    );
    assert!(
        pm.status.as_ref().unwrap().failure_reason.is_none(),
        "capacity is not terminal"
    );
    world.sim.set_capacity("da", "c3.small.x86", 5);
    world
        .machine_until(
            "prod-md-0",
            "ready",
            capp_api::PacketMachine::is_provisioned,
        )
        .await;
    assert_eq!(world.sim.devices().len(), 1);
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_provision_is_reported_and_never_replaced() {
    let world = World::start(CoreVersion::V1Beta1).await;
    world.sim.faults().fail_next_provisioning(1);
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    world.bootstrap_secret("boot", BOOT).await;
    world
        .machine("prod", &uid, "prod-md-0", false, Some("boot"), json!({}))
        .await;
    let pm = world
        .machine_until("prod-md-0", "failed", |pm| {
            pm.status
                .as_ref()
                .is_some_and(|s| s.failure_reason.is_some())
        })
        .await;
    let status = pm.status.as_ref().unwrap();
    assert_eq!(status.failure_reason.as_deref(), Some("CreateError"));
    assert!(
        status
            .failure_message
            .as_deref()
            .unwrap()
            .contains("failed to provision")
    );
    assert_eq!(reason(&pm, INSTANCE_READY), "InstanceProvisionFailed");
    assert!(!pm.is_provisioned());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        world.sim.operation_count("createDevice"),
        1,
        "no second device after a failure"
    );
    world.delete_packet_machine("prod-md-0").await;
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_storm_converges_without_duplicates() {
    let mut sim = sim_config();
    sim.faults = FaultConfig {
        rate_limit: Some(2),
        ..FaultConfig::default()
    };
    let world = World::start_with(CoreVersion::V1Beta1, sim).await;
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    world.bootstrap_secret("boot", BOOT).await;
    let names: Vec<String> = (0..6).map(|i| format!("prod-md-{i}")).collect();
    for name in &names {
        world
            .machine("prod", &uid, name, false, Some("boot"), json!({}))
            .await;
    }
    for name in &names {
        world
            .machine_until(name, "ready", capp_api::PacketMachine::is_provisioned)
            .await;
    }
    let devices = world.sim.devices();
    assert_eq!(
        devices.len(),
        names.len(),
        "one device per machine: {devices:?}"
    );
    for name in &names {
        assert_eq!(
            devices.iter().filter(|d| &d.hostname == name).count(),
            1,
            "{name}"
        );
    }
    let limited: u64 = world
        .sim
        .status_counts()
        .iter()
        .filter(|((_, status), _)| *status == 429)
        .map(|(_, n)| n)
        .sum();
    assert!(limited > 0, "the storm did rate-limit us");
    controllers.stop().await;
    world.shutdown().await;
}
