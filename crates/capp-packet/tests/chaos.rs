//! The whole create / find / list / delete cycle against a simulator that fails often: random
//! 5xx and dropped connections, creates whose answer is lost after the server acted, a rate
//! limit. The client's predicates are enough for a caller to end with exactly one device per
//! machine and nothing left over.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed setup step or helper should fail the test"
)]

#[path = "support/sim.rs"]
mod support;

use capp_packet::{CreateDevice, Location, Metal, MetalClient};
use capp_sim::{Fault, FaultConfig, SimConfig};

const MACHINES: usize = 10;
/// Bound on reconcile rounds per machine, so a broken predicate fails instead of hanging.
const ROUNDS: usize = 50;

fn request(machine: &str) -> CreateDevice {
    let mut r = CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
    r.hostname = Some(machine.to_owned());
    // The machine's own tag first: it is the one the server filters on.
    r.tags = vec![
        format!("capp:machine-uid:{machine}"),
        "capp:cluster-id:chaos".to_owned(),
    ];
    r
}

/// What a controller does for one machine: adopt by tags, else create; decide only with the
/// error predicates. Returns the device id.
async fn ensure_device(client: &MetalClient, project: &str, machine: &str) -> String {
    let request = request(machine);
    for _ in 0..ROUNDS {
        let found = match client.devices_with_tags(project, &request.tags).await {
            Ok(found) => found,
            Err(e) if e.is_retryable() => continue,
            Err(e) => panic!("lookup of {machine} failed for good: {e}"),
        };
        match found.as_slice() {
            [device] => return device.id.clone(),
            [] => {}
            many => panic!("{} devices for {machine}", many.len()),
        }
        match client.create_device(project, &request).await {
            Ok(device) => return device.id,
            // Look again before creating again: the server may have made it.
            Err(e) if e.may_have_been_applied() || e.is_retryable() => {}
            Err(e) => panic!("create of {machine} failed for good: {e}"),
        }
    }
    panic!("{machine} did not converge in {ROUNDS} rounds")
}

async fn ensure_deleted(client: &MetalClient, device_id: &str) {
    for _ in 0..ROUNDS {
        match client.delete_device(device_id, true).await {
            Ok(()) => return,
            Err(e) if e.is_not_found() => return,
            Err(e) if e.is_retryable() => {}
            Err(e) => panic!("delete of {device_id} failed for good: {e}"),
        }
    }
    panic!("{device_id} was not deleted in {ROUNDS} rounds");
}

#[tokio::test]
async fn a_failing_api_still_ends_with_one_device_per_machine_and_nothing_left() {
    let faults = FaultConfig {
        server_error_rate: 0.25,
        drop_rate: 0.1,
        ..FaultConfig::default()
    };
    let config = SimConfig::for_tests().with_seed(42).with_faults(faults);
    let (sim, _) = support::start_with(config).await;
    // Small pages so every list crosses several pages while failing.
    let client = MetalClient::new(support::config_for(&sim).with_per_page(3)).unwrap();
    let project = sim.default_project_id().to_owned();
    // Three creates are lost after the server made the device (CAPP's "unexpected EOF").
    sim.faults().inject_for("createDevice", Fault::Lost, 3);

    let mut ids = Vec::new();
    for n in 0..MACHINES {
        ids.push(ensure_device(&client, &project, &format!("m-{n}")).await);
    }
    // Reconciling again (a controller restart) adopts, never creates.
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(
            &ensure_device(&client, &project, &format!("m-{n}")).await,
            id
        );
    }

    let devices = sim.devices();
    assert_eq!(devices.len(), MACHINES, "no duplicate and no orphan");
    let mut hostnames: Vec<_> = devices.iter().map(|d| d.hostname.clone()).collect();
    hostnames.sort();
    hostnames.dedup();
    assert_eq!(hostnames.len(), MACHINES);
    let lost = sim
        .request_log()
        .iter()
        .filter(|r| r.fault.as_deref() == Some("lost"))
        .count();
    assert_eq!(lost, 3, "the lost creates happened");

    let listed = loop {
        match client.list_devices(&project).await {
            Ok(listed) => break listed,
            Err(e) => assert!(e.is_retryable(), "{e}"),
        }
    };
    assert_eq!(listed.len(), MACHINES);

    for id in &ids {
        ensure_deleted(&client, id).await;
    }
    sim.advance(std::time::Duration::from_secs(3600));
    for id in &ids {
        let gone = loop {
            match client.get_device(id).await {
                Err(e) if e.is_retryable() => {}
                other => break other,
            }
        };
        assert!(
            matches!(&gone, Err(e) if e.is_not_found()),
            "{id}: {gone:?}"
        );
    }
    assert!(sim.devices().is_empty(), "{:?}", sim.devices());
    let stats = client.stats();
    assert!(stats.retries > 0, "the faults were felt: {stats:?}");
}
