//! A hundred machines waiting for a create slot and one reconcile slot: every machine is
//! still reconciled, and machines added meanwhile within seconds.
//!
//! The 1,000-machine bench stopped at about 120 Ready: kube-runtime's runner, once at its
//! concurrency limit, parks every due object in a hash set and takes the next one in hash
//! order, not in the order they came due. While more objects come due than the slots can
//! serve, the same part of the set is served over and over and the rest never is (machines
//! never reconciled, machines whose provisioning poll never ran, so no view refresh, so no
//! create slot freed). Machines waiting for a create slot must therefore not come due on a
//! short timer: they are woken by the gate. With the old 2-minute safety net (0.24 s here)
//! this test failed twice out of two runs: 5, then 41 machines never reconciled in 60 s.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use std::time::{Duration, Instant};

use capp_api::PacketMachine;
use capp_api::conditions::INSTANCE_READY;
use capp_api::core::CoreVersion;
use capp_reconcile::create_gate::{CREATES_IN_FLIGHT, WAITING_FOR_CREATE_SLOT_REASON};
use capp_reconcile::machine::CONTROLLER;
use capp_sim::{ClockMode, SimConfig, Timings};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::json;
use support::{BOOT, NS, PATIENCE, World, reason};

/// The controllers' timeline compression.
const SCALE: f64 = 0.002;
/// Machines beyond the project's create slots, waiting for one.
const WAITING: usize = 100;
/// Machines added once the others wait.
const LATE: usize = 5;
/// How soon a new machine must be reconciled: a few seconds of work for one slot.
const PROMPTLY: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_waiting_for_a_create_slot_do_not_starve_new_machines() {
    // Provisioning outlasts the test (500 minutes on the compressed timeline): the six
    // created devices hold the create slots and every other machine waits.
    let sim = SimConfig::default()
        .with_clock(ClockMode::Real)
        .with_timings(Timings {
            queued: Duration::from_millis(600),
            provisioning: Duration::from_secs(60),
            deprovisioning: Duration::from_millis(500),
        });
    let world = World::start_with(CoreVersion::V1Beta2, sim).await;
    world.bootstrap_secret("boot", BOOT).await;
    let controllers = world
        .controllers_with(|c| {
            // One slot: the runner is at its limit whenever two objects are due at once.
            c.packetmachine_concurrency = 1;
            // A timeline compressed 500x: a 2-minute timer is 0.24 s.
            c.time_scale = SCALE;
            // The resync, not compressed as far.
            c.sync_period = Duration::from_secs(6);
        })
        .await;
    let slots = usize::try_from(CREATES_IN_FLIGHT).unwrap();
    let uid = world.cluster("held", json!({})).await;
    for m in 0..slots + WAITING {
        world
            .machine(
                "held",
                &uid,
                &format!("held-m{m}"),
                false,
                Some("boot"),
                json!({}),
            )
            .await;
    }
    let api = Api::<PacketMachine>::namespaced(world.client.clone(), NS);
    let waiting = |items: &[PacketMachine]| {
        items
            .iter()
            .filter(|pm| reason(pm, INSTANCE_READY) == WAITING_FOR_CREATE_SLOT_REASON)
            .count()
    };
    let all_waiting = within(PATIENCE, || async {
        let items = api.list(&ListParams::default()).await.unwrap().items;
        (waiting(&items) == WAITING).then_some(())
    })
    .await;
    let items = api.list(&ListParams::default()).await.unwrap().items;
    assert!(
        all_waiting.is_some(),
        "{} of {WAITING} machines reported waiting for a create slot, {} never reconciled",
        waiting(&items),
        items.iter().filter(|pm| pm.status.is_none()).count()
    );
    assert_eq!(
        world.sim.devices().len(),
        slots,
        "creates held at the limit"
    );

    // New machines arrive while the others wait: each is reconciled within seconds.
    let late_uid = world.cluster("late", json!({})).await;
    let started = Instant::now();
    let before = controllers.ctx.metrics.reconcile_count(CONTROLLER);
    for m in 0..LATE {
        world
            .machine(
                "late",
                &late_uid,
                &format!("late-m{m}"),
                false,
                Some("boot"),
                json!({}),
            )
            .await;
    }
    let late_done = within(PROMPTLY, || async {
        let items = api.list(&ListParams::default()).await.unwrap().items;
        let late: Vec<_> = items
            .iter()
            .filter(|pm| pm.name_any().starts_with("late-"))
            .collect();
        (late.len() == LATE && late.iter().all(|pm| pm.status.is_some())).then_some(())
    })
    .await;
    let reconciles = controllers.ctx.metrics.reconcile_count(CONTROLLER) - before;
    let items = api.list(&ListParams::default()).await.unwrap().items;
    let never: Vec<_> = items
        .iter()
        .filter(|pm| pm.status.is_none())
        .map(ResourceExt::name_any)
        .collect();
    eprintln!(
        "late machines reconciled: {}; {reconciles} PacketMachine reconciles in {:?}",
        late_done.is_some(),
        started.elapsed()
    );
    assert!(
        late_done.is_some(),
        "{never:?} never reconciled within {PROMPTLY:?} while {WAITING} machines waited for a \
         create slot ({reconciles} reconciles in that time): the waiting machines starve the \
         controller"
    );
    controllers.stop().await;
    world.shutdown().await;
}

/// Polls `check` until it answers `Some`, for at most `patience`.
async fn within<T, F, Fut>(patience: Duration, check: F) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    tokio::time::timeout(patience, async {
        loop {
            if let Some(found) = check().await {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .ok()
}
