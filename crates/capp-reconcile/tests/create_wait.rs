//! A machine waiting for a create slot costs no Metal call while it waits, however long:
//! its device is known absent and nothing else creates it, so its reconciles (its resyncs,
//! wake-ups, its own status writes) read the cached device view. At 200 machines under the project's
//! create limit the waits last minutes: a regression here multiplies the list calls.

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
use capp_reconcile::create_gate::{CREATES_IN_FLIGHT, WAITING_FOR_CREATE_SLOT_REASON};
use serde_json::json;
use support::{BOOT, TIME_SCALE, World, reason, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_waiting_for_a_create_slot_send_no_list_while_they_wait() {
    let limit = u32::try_from(CREATES_IN_FLIGHT).unwrap();
    let world = World::start_with(
        CoreVersion::V1Beta2,
        sim_config().with_create_limit(Some(limit)),
    )
    .await;
    // The project's create slots are taken by devices that never finish provisioning.
    world.sim.faults().stick_next_provisioning(limit);
    let controllers = world.controllers().await;
    world.bootstrap_secret("boot", BOOT).await;
    let busy = world.cluster("busy", json!({})).await;
    for i in 0..limit {
        let name = format!("busy-md-{i}");
        world
            .machine("busy", &busy, &name, false, Some("boot"), json!({}))
            .await;
    }
    for i in 0..limit {
        world
            .machine_until(&format!("busy-md-{i}"), "created", |pm| {
                pm.device_id().is_some()
            })
            .await;
    }
    let idle = world.cluster("idle", json!({})).await;
    for name in ["idle-md-0", "idle-md-1"] {
        world
            .machine("idle", &idle, name, false, Some("boot"), json!({}))
            .await;
    }
    for name in ["idle-md-0", "idle-md-1"] {
        world
            .machine_until(name, "waiting for a create slot", |pm| {
                reason(pm, INSTANCE_READY) == WAITING_FOR_CREATE_SLOT_REASON
            })
            .await;
    }
    // Two and a half resync periods (10 minutes each on the compressed timeline): a
    // waiting machine comes back on each.
    let resync = Duration::from_secs(600).mul_f64(TIME_SCALE);
    tokio::time::sleep(resync.mul_f64(2.5)).await;

    let idle_lists: Vec<String> = world
        .sim
        .request_log()
        .into_iter()
        .filter(|r| {
            r.operation.as_deref() == Some("findProjectDevices") && r.query.contains("idle")
        })
        .map(|r| r.query)
        .collect();
    assert!(
        idle_lists.len() <= 2,
        "the waiting machines' cluster was listed {} times (the lookups before waiting are \
         at most one per machine): {idle_lists:?}",
        idle_lists.len()
    );
    assert_eq!(
        world.sim.operation_count("createDevice"),
        u64::from(limit),
        "no create while the slots are taken"
    );
    for name in ["idle-md-0", "idle-md-1"] {
        let pm = world.packet_machine(name).await;
        assert_eq!(
            reason(&pm, INSTANCE_READY),
            WAITING_FOR_CREATE_SLOT_REASON,
            "{name} still waits"
        );
    }
    controllers.stop().await;
    world.shutdown().await;
}
