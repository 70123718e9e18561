//! Retries as the simulator's request log sees them: idempotent calls are retried with
//! backoff on 5xx, 429 and dropped connections; a device-creating POST is sent exactly once;
//! the client-side rate limiter is shared by clones.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed setup step or helper should fail the test"
)]

#[path = "support/sim.rs"]
mod support;

use std::time::{Duration, Instant};

use capp_packet::{CreateDevice, Location, Metal, MetalClient, RateLimit, StatusClass};
use capp_sim::Fault;

fn device_request(machine: &str) -> CreateDevice {
    let mut r = CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
    r.hostname = Some(machine.to_owned());
    r.tags = support::tags(machine);
    r
}

fn statuses(sim: &capp_sim::Simulator, operation: &str) -> Vec<u16> {
    sim.request_log()
        .into_iter()
        .filter(|r| r.operation.as_deref() == Some(operation))
        .map(|r| r.status)
        .collect()
}

/// A simulator that sends `Retry-After` with its 429s (the real API did not; proxies and other
/// implementations may), and a client for it.
async fn start_sending_retry_after() -> (capp_sim::Simulator, MetalClient) {
    support::start_with(
        capp_sim::SimConfig::for_tests().with_faults(capp_sim::FaultConfig {
            send_retry_after: true,
            ..capp_sim::FaultConfig::default()
        }),
    )
    .await
}

#[tokio::test]
async fn a_get_is_retried_through_server_errors_until_it_succeeds() {
    let (sim, client) = support::start().await;
    let d = client
        .create_device(sim.default_project_id(), &device_request("r-0"))
        .await
        .unwrap();
    sim.faults()
        .inject_for("findDeviceById", Fault::Status(503), 1);
    sim.faults()
        .inject_for("findDeviceById", Fault::Status(502), 1);
    let read = client.get_device(&d.id).await.unwrap();
    assert_eq!(read.id, d.id);
    assert_eq!(statuses(&sim, "findDeviceById"), [503, 502, 200]);
    let stats = client.stats();
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.count("findDeviceById", StatusClass::ServerError), 2);
    assert_eq!(stats.count("findDeviceById", StatusClass::Success), 1);
}

#[tokio::test]
async fn a_dropped_connection_on_a_list_is_retried() {
    let (sim, client) = support::start().await;
    sim.faults().inject_for("findMetros", Fault::Drop, 1);
    assert!(!client.list_metros().await.unwrap().is_empty());
    assert_eq!(statuses(&sim, "findMetros"), [0, 200]);
    assert_eq!(
        client.stats().count("findMetros", StatusClass::Transport),
        1
    );
}

#[tokio::test]
async fn retries_stop_after_the_configured_attempts() {
    let (sim, client) = support::start().await;
    sim.faults()
        .inject_for("findMetros", Fault::Status(500), 10);
    let e = client.list_metros().await.unwrap_err();
    assert!(e.is_server_error());
    assert_eq!(
        statuses(&sim, "findMetros"),
        [500, 500, 500, 500],
        "4 attempts in total"
    );
}

#[tokio::test]
async fn a_429_is_retried_after_the_servers_retry_after() {
    let (sim, client) = start_sending_retry_after().await;
    sim.faults().inject_for("findMetros", Fault::RateLimited, 1);
    let started = Instant::now();
    client.list_metros().await.unwrap();
    let took = started.elapsed();
    assert_eq!(statuses(&sim, "findMetros"), [429, 200]);
    // The sim says Retry-After >= 1 s; the fast test backoff alone would be 5 ms.
    assert!(took >= Duration::from_millis(950), "waited only {took:?}");
}

#[tokio::test]
async fn a_device_create_is_not_retried_after_a_server_error() {
    let (sim, client) = support::start().await;
    sim.faults()
        .inject_for("createDevice", Fault::Status(500), 1);
    let e = client
        .create_device(sim.default_project_id(), &device_request("once-0"))
        .await
        .unwrap_err();
    assert!(e.is_server_error());
    assert!(
        e.may_have_been_applied(),
        "a 500 may have created the server"
    );
    assert_eq!(statuses(&sim, "createDevice"), [500], "sent exactly once");
    assert_eq!(client.stats().retries, 0);
}

#[tokio::test]
async fn a_device_create_refused_by_the_rate_limit_is_sent_again_and_creates_one_device() {
    // A 429 (or 408) proves the server did not act on the request: sending it again after the
    // server's wait is safe, and a throttled create then simply goes through.
    let (sim, client) = start_sending_retry_after().await;
    sim.faults()
        .inject_for("createDevice", Fault::Status(408), 1);
    sim.faults()
        .inject_for("createDevice", Fault::RateLimited, 1);
    let started = Instant::now();
    let d = client
        .create_device(sim.default_project_id(), &device_request("throttled-0"))
        .await
        .unwrap();
    assert_eq!(statuses(&sim, "createDevice"), [408, 429, 201]);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "the 429's Retry-After was honoured"
    );
    assert_eq!(sim.devices().len(), 1);
    assert_eq!(sim.devices()[0].id, d.id);
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn a_create_to_a_refused_connection_is_tried_again_and_reported_as_not_applied() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metal/v1", listener.local_addr().unwrap());
    drop(listener);
    let client = MetalClient::new(
        capp_packet::ClientConfig::new("t")
            .with_base_url(url)
            .with_retry(support::fast_retry())
            .with_rate_limit(None),
    )
    .unwrap();
    let e = client
        .create_device(
            "5f2f3a5e-7c43-4a8c-9a3b-6f2d8b8c0e01",
            &device_request("refused-0"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, capp_packet::Error::Transport { connect: true, .. }),
        "{e:?}"
    );
    assert!(!e.may_have_been_applied());
    let stats = client.stats();
    assert_eq!(stats.attempts_of("createDevice"), 4, "{stats:?}");
}

#[tokio::test]
async fn a_create_whose_answer_was_cut_is_found_by_tags_instead_of_created_twice() {
    let (sim, client) = support::start().await;
    let project = sim.default_project_id().to_owned();
    let request = device_request("cut-0");
    sim.faults().inject_for("createDevice", Fault::Truncate, 1);
    let e = client.create_device(&project, &request).await.unwrap_err();
    assert!(e.may_have_been_applied(), "{e}");
    assert_eq!(statuses(&sim, "createDevice").len(), 1, "sent exactly once");

    // What the documentation tells the caller to do:
    let found = client
        .devices_with_tags(&project, &request.tags)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(sim.devices().len(), 1, "no duplicate server");
}

#[tokio::test]
async fn a_create_on_a_dropped_connection_is_reported_as_maybe_applied() {
    let (sim, client) = support::start().await;
    sim.faults().inject_for("createDevice", Fault::Drop, 1);
    let e = client
        .create_device(sim.default_project_id(), &device_request("drop-0"))
        .await
        .unwrap_err();
    assert!(e.is_retryable());
    assert!(
        e.may_have_been_applied(),
        "the request was written before the drop: {e}"
    );
    assert_eq!(statuses(&sim, "createDevice"), [0]);
}

#[tokio::test]
async fn a_create_lost_after_the_server_acted_is_adopted_by_tags_not_created_again() {
    // CAPP's "unexpected EOF" on create: the server made the device, the answer never came.
    let (sim, client) = support::start().await;
    let project = sim.default_project_id().to_owned();
    let request = device_request("lost-0");
    sim.faults().inject_for("createDevice", Fault::Lost, 1);
    let e = client.create_device(&project, &request).await.unwrap_err();
    assert!(
        matches!(e, capp_packet::Error::Transport { connect: false, .. }),
        "{e:?}"
    );
    assert!(e.may_have_been_applied(), "{e}");
    assert_eq!(statuses(&sim, "createDevice").len(), 1, "sent exactly once");

    // The documented recovery: look up by the request's tags before creating again.
    let found = client
        .devices_with_tags(&project, &request.tags)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the lost create did make the device");
    assert_eq!(found[0].hostname, "lost-0");

    // A create dropped before the server acted leaves nothing: then creating again is right.
    let other = device_request("dropped-0");
    sim.faults().inject_for("createDevice", Fault::Drop, 1);
    let e = client.create_device(&project, &other).await.unwrap_err();
    assert!(e.may_have_been_applied(), "the client cannot tell: {e}");
    assert!(
        client
            .devices_with_tags(&project, &other.tags)
            .await
            .unwrap()
            .is_empty()
    );
    client.create_device(&project, &other).await.unwrap();
    assert_eq!(
        sim.devices().len(),
        2,
        "one device per machine, no duplicate"
    );
}

#[tokio::test]
async fn clones_share_one_rate_limiter() {
    let (sim, _) = support::start().await;
    let config = support::config_for(&sim).with_rate_limit(Some(RateLimit {
        per_second: 20.0,
        burst: 2,
    }));
    let client = MetalClient::new(config).unwrap();
    let started = Instant::now();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.list_metros().await.map(|m| m.len()) })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let took = started.elapsed();
    // 2 at once, then 8 more at 20/s: at least 0.4 s for the ten together.
    assert!(took >= Duration::from_millis(380), "{took:?}");
    let stats = client.stats();
    // Normally exactly 8 wait; a very slow scheduler lets the bucket refill in between, so only
    // the time bound above is exact.
    assert!((1..=8).contains(&stats.throttled), "{stats:?}");
    assert_eq!(sim.operation_count("findMetros"), 10);
}

#[tokio::test]
async fn a_429_seen_by_one_clone_holds_back_the_others() {
    let (sim, _) = support::start().await;
    let config = support::config_for(&sim)
        .with_retry(capp_packet::RetryPolicy::never())
        .with_rate_limit(Some(RateLimit {
            per_second: 1000.0,
            burst: 100,
        }));
    let first = MetalClient::new(config).unwrap();
    let second = first.clone();
    sim.faults().inject_for("findMetros", Fault::RateLimited, 1);
    let e = first.list_metros().await.unwrap_err();
    let wait = e.api().unwrap().retry_after().unwrap();

    let started = Instant::now();
    second.get_project(sim.default_project_id()).await.unwrap();
    let took = started.elapsed();
    assert!(
        took + Duration::from_millis(100) >= wait,
        "waited {took:?} of {wait:?}"
    );
    assert_eq!(second.stats().throttled, 1);
}

#[tokio::test]
async fn the_client_works_behind_the_metal_trait_object() {
    let (sim, client) = support::start().await;
    let metal: std::sync::Arc<dyn Metal> = std::sync::Arc::new(client);
    let project = metal.get_project(sim.default_project_id()).await.unwrap();
    assert_eq!(project.id, sim.default_project_id());
}
