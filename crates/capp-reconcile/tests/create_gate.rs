//! The per-project create gate against capp-sim's create limit: machines beyond the limit
//! wait (reason `WaitingForCreateSlot`) instead of sending creates Metal refuses.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use capp_api::PacketMachine;
use capp_api::conditions::INSTANCE_READY;
use capp_api::core::CoreVersion;
use capp_reconcile::create_gate::{CREATES_IN_FLIGHT, WAITING_FOR_CREATE_SLOT_REASON};
use kube::api::Api;
use serde_json::json;
use support::{BOOT, NS, World, eventually, reason, sim_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_machines_in_one_project_wait_for_create_slots_instead_of_a_429_storm() {
    let limit = u32::try_from(CREATES_IN_FLIGHT).unwrap();
    let world = World::start_with(
        CoreVersion::V1Beta2,
        sim_config().with_create_limit(Some(limit)),
    )
    .await;
    let controllers = world.controllers().await;
    world.bootstrap_secret("boot", BOOT).await;
    // Two clusters in the same project: the gate counts the project, not one cluster's view.
    let mut names = Vec::new();
    for cluster in ["alpha", "beta"] {
        let uid = world.cluster(cluster, json!({})).await;
        for i in 0..5 {
            let name = format!("{cluster}-md-{i}");
            world
                .machine(cluster, &uid, &name, false, Some("boot"), json!({}))
                .await;
            names.push(name);
        }
    }
    let api = Api::<PacketMachine>::namespaced(world.client.clone(), NS);
    eventually("a machine waiting for a create slot", || {
        let api = api.clone();
        async move {
            api.list(&kube::api::ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .any(|pm| reason(pm, INSTANCE_READY) == WAITING_FOR_CREATE_SLOT_REASON)
        }
    })
    .await;
    for name in &names {
        world
            .machine_until(name, "ready", PacketMachine::is_provisioned)
            .await;
    }
    let devices = world.sim.devices();
    assert_eq!(devices.len(), names.len(), "one device per machine");
    let creates = world.sim.operation_count("createDevice");
    let refused: u64 = world
        .sim
        .status_counts()
        .iter()
        .filter(|((op, status), _)| op == "createDevice" && *status == 429)
        .map(|(_, n)| n)
        .sum();
    assert!(
        creates <= names.len() as u64 + 2,
        "{creates} createDevice calls for {} machines ({refused} refused with 429)",
        names.len()
    );
    assert!(
        refused <= 2,
        "{refused} creates refused by the create limit"
    );
    // Waiting reads the cached views: the lists are the lookups and the polls of the
    // machines, not one per wait.
    let lists = world.sim.operation_count("findProjectDevices");
    eprintln!("Metal calls: {:?}", world.sim.operation_counts());
    assert!(
        lists <= 2 * names.len() as u64,
        "{lists} device lists for {} machines",
        names.len()
    );
    controllers.stop().await;
    world.shutdown().await;
}
