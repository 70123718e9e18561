//! Every PacketMachine spec field that shapes the device reaches Equinix Metal, end to end
//! against capp-testenv and capp-sim: hardware reservations (one ID; a comma list tried in
//! order when the first is unusable; `next-available`), spot instances, iPXE and
//! `spec.sshKeys`. Each test looks at what a user would see: the device as Metal shows it,
//! the create requests as Metal received them, and the PacketMachine's conditions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use capp_api::conditions::INSTANCE_READY;
use capp_api::core::CoreVersion;
use capp_packet::Metal;
use serde_json::{Value, json};
use support::{BOOT, World, reason};

/// The bodies of the `createDevice` requests Metal received for `hostname`, oldest first.
fn create_bodies(world: &World, hostname: &str) -> Vec<Value> {
    world
        .sim
        .request_log()
        .into_iter()
        .filter(|r| r.operation.as_deref() == Some("createDevice"))
        .filter_map(|r| r.body)
        .filter(|b| b["hostname"] == hostname)
        .collect()
}

/// The device Metal shows for a Ready PacketMachine.
async fn ready_device(world: &World, name: &str) -> Value {
    let pm = world
        .machine_until(name, "ready", capp_api::PacketMachine::is_provisioned)
        .await;
    world
        .sim
        .device_json(pm.device_id().expect("providerID is set"))
        .expect("the device exists")
}

/// Waits until the machine reports `InvalidSpec`, and returns the condition message.
async fn invalid_spec_message(world: &World, name: &str) -> String {
    let pm = world
        .machine_until(name, "refused as InvalidSpec", |pm| {
            reason(pm, INSTANCE_READY) == "InvalidSpec"
        })
        .await;
    support::condition(&pm, INSTANCE_READY)
        .and_then(|c| c.message.clone())
        .unwrap_or_default()
}

#[expect(clippy::too_many_lines, reason = "three reservation forms, one story")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardware_reservations_one_id_a_list_tried_in_order_and_next_available() {
    let world = World::start(CoreVersion::V1Beta2).await;
    let reservations = world
        .metal()
        .list_hardware_reservations(world.sim.default_project_id())
        .await
        .unwrap();
    let of_plan = |plan: &str| -> Vec<String> {
        reservations
            .iter()
            .filter(|r| r.plan.as_ref().is_some_and(|p| p.slug == plan))
            .map(|r| r.id.clone())
            .collect()
    };
    let large = of_plan("m3.large.x86");
    let small = of_plan("c3.small.x86");
    assert_eq!(
        (large.len(), small.len()),
        (2, 1),
        "the simulator's reserved hardware: {reservations:?}"
    );
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    world.bootstrap_secret("boot", BOOT).await;

    // One ID: the device runs on that reservation.
    world
        .machine(
            "prod",
            &uid,
            "prod-md-0",
            false,
            Some("boot"),
            json!({"machineType": "m3.large.x86", "hardwareReservationID": large[0]}),
        )
        .await;
    let device = ready_device(&world, "prod-md-0").await;
    let id = device["id"].as_str().unwrap();
    assert_eq!(
        world
            .sim
            .device(id)
            .unwrap()
            .hardware_reservation_id
            .as_ref(),
        Some(&large[0]),
        "the device runs on the reservation named"
    );

    // A comma list whose first reservation is taken: tried in order, the second one is used.
    world
        .machine(
            "prod",
            &uid,
            "prod-md-1",
            false,
            Some("boot"),
            json!({"machineType": "m3.large.x86",
                "hardwareReservationID": format!("{}, {}", large[0], large[1])}),
        )
        .await;
    let device = ready_device(&world, "prod-md-1").await;
    let id = device["id"].as_str().unwrap();
    assert_eq!(
        world
            .sim
            .device(id)
            .unwrap()
            .hardware_reservation_id
            .as_ref(),
        Some(&large[1]),
        "the first usable reservation of the list"
    );
    let tried: Vec<Value> = create_bodies(&world, "prod-md-1")
        .iter()
        .map(|b| b["hardware_reservation_id"].clone())
        .collect();
    assert_eq!(
        tried,
        vec![json!(large[0]), json!(large[1])],
        "the list is tried in order, each once"
    );

    // next-available: Metal picks a free reservation of the plan in the location.
    world
        .machine(
            "prod",
            &uid,
            "prod-md-2",
            false,
            Some("boot"),
            json!({"machineType": "c3.small.x86", "metro": "sv",
                "hardwareReservationID": "next-available"}),
        )
        .await;
    let device = ready_device(&world, "prod-md-2").await;
    let id = device["id"].as_str().unwrap();
    assert_eq!(
        world
            .sim
            .device(id)
            .unwrap()
            .hardware_reservation_id
            .as_ref(),
        Some(&small[0])
    );
    assert_eq!(
        create_bodies(&world, "prod-md-2")[0]["hardware_reservation_id"],
        "next-available"
    );
    assert_eq!(world.sim.devices().len(), 3, "one device per machine");
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spot_instance_bids_the_spec_price_and_without_a_price_is_refused() {
    let world = World::start(CoreVersion::V1Beta1).await;
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    world.bootstrap_secret("boot", BOOT).await;
    world
        .machine(
            "prod",
            &uid,
            "prod-spot-0",
            false,
            Some("boot"),
            json!({"spotInstance": true, "spotPriceMax": 0.42,
                "terminationTime": "2027-06-01T00:00:00Z"}),
        )
        .await;
    let device = ready_device(&world, "prod-spot-0").await;
    assert_eq!(device["spot_instance"], true);
    assert_eq!(device["spot_price_max"], 0.42);
    assert_eq!(device["termination_time"], "2027-06-01T00:00:00Z");

    world
        .machine(
            "prod",
            &uid,
            "prod-spot-1",
            false,
            Some("boot"),
            json!({"spotInstance": true}),
        )
        .await;
    let message = invalid_spec_message(&world, "prod-spot-1").await;
    assert!(
        message.contains("spec.spotPriceMax"),
        "the condition names the field: {message}"
    );
    assert!(
        create_bodies(&world, "prod-spot-1").is_empty(),
        "no create without a bid"
    );
    assert_eq!(world.sim.devices().len(), 1);
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipxe_machine_boots_from_its_script_url_and_needs_custom_ipxe() {
    let world = World::start(CoreVersion::V1Beta2).await;
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    world.bootstrap_secret("boot", BOOT).await;
    let url = "http://boot.example.com/capp.ipxe";
    world
        .machine(
            "prod",
            &uid,
            "prod-pxe-0",
            false,
            Some("boot"),
            json!({"os": "custom_ipxe", "ipxeURL": url}),
        )
        .await;
    let device = ready_device(&world, "prod-pxe-0").await;
    assert_eq!(device["ipxe_script_url"], url);
    assert_eq!(device["operating_system"]["slug"], "custom_ipxe");

    world
        .machine(
            "prod",
            &uid,
            "prod-pxe-1",
            false,
            Some("boot"),
            json!({"os": "ubuntu_24_04", "ipxeURL": url}),
        )
        .await;
    let message = invalid_spec_message(&world, "prod-pxe-1").await;
    assert!(
        message.contains("spec.ipxeURL") && message.contains("custom_ipxe"),
        "the condition names the field and the fix: {message}"
    );
    assert!(create_bodies(&world, "prod-pxe-1").is_empty());
    controllers.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_ssh_keys_are_authorized_on_the_device() {
    let world = World::start(CoreVersion::V1Beta2).await;
    let controllers = world.controllers().await;
    let uid = world.cluster("prod", json!({})).await;
    world.bootstrap_secret("boot", BOOT).await;
    let keys = [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0wmN/Cr3JXqmLW7u+g9pTh+wyqDHpSQEIQczXkVx9q alice@laptop",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl bob@laptop",
    ];
    world
        .machine(
            "prod",
            &uid,
            "prod-md-0",
            false,
            Some("boot"),
            json!({"sshKeys": keys}),
        )
        .await;
    let device = ready_device(&world, "prod-md-0").await;
    let sent: Vec<Value> = create_bodies(&world, "prod-md-0")[0]["ssh_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].clone())
        .collect();
    assert_eq!(sent, vec![json!(keys[0]), json!(keys[1])]);
    // The device authorizes exactly the keys it was created with: look them up in the
    // project's keys by the ids the device lists.
    let project_keys = world
        .metal()
        .list_project_ssh_keys(world.sim.default_project_id())
        .await
        .unwrap();
    let authorized: Vec<String> = device["ssh_keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["href"].as_str())
        .filter_map(|href| href.rsplit('/').next())
        .filter_map(|id| project_keys.iter().find(|k| k.id == id))
        .map(|k| k.key.clone())
        .collect();
    for key in keys {
        assert!(
            authorized.iter().any(|k| k == key),
            "{key} is authorized on the device: {authorized:?}"
        );
    }
    assert_eq!(world.sim.operation_count("createDevice"), 1);
    controllers.stop().await;
    world.shutdown().await;
}
