//! Each error class the simulator produces (401, 403, 404, 422, 429 with headers, 5xx,
//! capacity, a vanished device) is recognised by the client's predicates.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed setup step or helper should fail the test"
)]

#[path = "support/sim.rs"]
mod support;

use std::time::Duration;

use capp_packet::{ClientConfig, CreateDevice, Location, Metal, MetalClient, RetryPolicy};
use capp_sim::{Fault, FaultConfig};

fn device_request() -> CreateDevice {
    let mut r = CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
    r.tags = support::tags("err-0");
    r
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_not_retried() {
    let (sim, _) = support::start().await;
    let client = MetalClient::new(
        ClientConfig::new("not-the-token")
            .with_base_url(sim.base_url())
            .with_retry(support::fast_retry())
            .with_rate_limit(None),
    )
    .unwrap();
    let e = client
        .get_project(sim.default_project_id())
        .await
        .unwrap_err();
    assert!(e.is_unauthorized(), "{e}");
    assert!(!e.is_retryable());
    assert_eq!(sim.operation_count("findProjectById"), 1);
}

#[tokio::test]
async fn a_project_of_another_account_is_forbidden() {
    let (sim, client) = support::start().await;
    let e = client
        .list_devices(sim.foreign_project_id())
        .await
        .unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    assert!(!e.is_not_found());
}

#[tokio::test]
async fn an_unknown_device_is_not_found() {
    let (_sim, client) = support::start().await;
    let e = client
        .get_device("00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(!e.may_have_been_applied());
}

#[tokio::test]
async fn an_invalid_create_is_unprocessable_and_names_the_field() {
    let (sim, client) = support::start().await;
    let mut r = device_request();
    r.plan = "no.such.plan".into();
    let e = client
        .create_device(sim.default_project_id(), &r)
        .await
        .unwrap_err();
    assert!(e.is_unprocessable(), "{e}");
    assert!(!e.is_capacity_unavailable());
    assert!(!e.may_have_been_applied());
    assert!(e.to_string().contains("422"), "{e}");
}

#[tokio::test]
async fn a_429_is_rate_limited_with_the_servers_wait() {
    // A server (a proxy, another implementation) that sends Retry-After.
    let (sim, _) = support::start_with(capp_sim::SimConfig::for_tests().with_faults(FaultConfig {
        send_retry_after: true,
        ..FaultConfig::default()
    }))
    .await;
    let client =
        MetalClient::new(support::config_for(&sim).with_retry(RetryPolicy::never())).unwrap();
    sim.faults().inject(Fault::RateLimited);
    let e = client.list_metros().await.unwrap_err();
    assert!(e.is_rate_limited(), "{e}");
    assert!(e.is_retryable());
    assert!(!e.may_have_been_applied());
    let wait = e
        .api()
        .unwrap()
        .retry_after()
        .expect("the sim sends Retry-After");
    assert!(
        wait >= Duration::from_secs(1) && wait <= Duration::from_secs(2),
        "{wait:?}"
    );
}

#[tokio::test]
async fn a_request_rate_above_the_servers_limit_gives_429s() {
    let faults = FaultConfig {
        rate_limit: Some(3),
        ..FaultConfig::default()
    };
    let (sim, _) = support::start_with(capp_sim::SimConfig::for_tests().with_faults(faults)).await;
    let client =
        MetalClient::new(support::config_for(&sim).with_retry(RetryPolicy::never())).unwrap();
    // 12 calls within milliseconds: even if a one-second window ends among them, at most
    // 3 + 3 get through.
    let mut limited = 0;
    for _ in 0..12 {
        if let Err(e) = client.list_metros().await {
            assert!(e.is_rate_limited(), "{e}");
            limited += 1;
        }
    }
    assert!(limited >= 6, "{limited} of 12 calls were limited");
}

#[tokio::test]
async fn server_errors_are_retryable_and_may_have_been_applied() {
    let (sim, _) = support::start().await;
    let client =
        MetalClient::new(support::config_for(&sim).with_retry(RetryPolicy::never())).unwrap();
    for status in [500, 502, 503, 504] {
        sim.faults()
            .inject_for("findMetros", Fault::Status(status), 1);
        let e = client.list_metros().await.unwrap_err();
        assert!(e.is_server_error(), "{status}: {e}");
        assert!(e.is_retryable(), "{status}");
        assert!(e.may_have_been_applied(), "{status}");
        assert!(!e.is_capacity_unavailable(), "{status}");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(status));
    }
}

/// Asserts what a caller relies on for a capacity shortage, whatever its status.
fn assert_capacity(e: &capp_packet::Error, status: u16) {
    assert!(e.is_capacity_unavailable(), "{e}");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(status), "{e}");
    assert!(!e.is_retryable(), "capacity is not a fast retry: {e}");
    assert!(!e.may_have_been_applied(), "nothing was created: {e}");
    assert!(!e.is_already_exists(), "{e}");
}

#[tokio::test]
async fn every_capacity_shortage_the_sim_sends_is_a_capacity_error() {
    let (sim, client) = support::start().await;
    let project = sim.default_project_id().to_owned();

    // Metro form: 422 "There aren't available servers in that metro".
    sim.set_capacity("da", "c3.small.x86", 0);
    let e = client
        .create_device(&project, &device_request())
        .await
        .unwrap_err();
    assert_capacity(&e, 422);

    // Facility form: 422 "The facility da11 has no provisionable ... servers ...".
    let mut in_facility = device_request();
    in_facility.location = Location::Facility(vec!["da11".into()]);
    let e = client
        .create_device(&project, &in_facility)
        .await
        .unwrap_err();
    assert_capacity(&e, 422);

    // No free hardware reservation: 503 "There are no available hardware reservations ...".
    // The project's only c3.small.x86 reservation is in sv15, not da.
    sim.set_capacity("da", "c3.small.x86", 10);
    let mut reserved = device_request();
    reserved.hardware_reservation_id = Some("next-available".into());
    let e = client.create_device(&project, &reserved).await.unwrap_err();
    assert_capacity(&e, 503);

    // Injected shortage on a metro that has servers.
    sim.faults()
        .inject_for("createDevice", Fault::NoCapacity, 1);
    let e = client
        .create_device(&project, &device_request())
        .await
        .unwrap_err();
    assert_capacity(&e, 422);

    assert!(sim.devices().is_empty());
    assert_eq!(
        sim.operation_count("createDevice"),
        4,
        "each create was sent exactly once"
    );
    // And the shortage ends: the same request then succeeds.
    client
        .create_device(&project, &device_request())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_body_cut_short_by_the_server_is_a_clean_retryable_error() {
    let (sim, _) = support::start().await;
    let client =
        MetalClient::new(support::config_for(&sim).with_retry(RetryPolicy::never())).unwrap();
    sim.faults().inject_for("findMetros", Fault::Truncate, 1);
    let e = client.list_metros().await.unwrap_err();
    assert!(
        matches!(e, capp_packet::Error::Transport { connect: false, .. }),
        "{e:?}"
    );
    assert!(e.is_retryable(), "{e}");
    assert!(e.may_have_been_applied(), "{e}");
    assert!(!e.is_capacity_unavailable() && e.status().is_none(), "{e}");

    // With retries (the default for a GET) the caller never sees it.
    let (sim, client) = support::start().await;
    sim.faults().inject_for("findMetros", Fault::Truncate, 1);
    assert!(!client.list_metros().await.unwrap().is_empty());
    assert_eq!(sim.operation_count("findMetros"), 2);
}

#[tokio::test]
async fn a_success_whose_body_is_not_json_is_a_decode_error_not_retried() {
    let (sim, client) = support::start().await;
    sim.faults().inject_for("findMetros", Fault::Garbage, 1);
    let e = client.list_metros().await.unwrap_err();
    assert!(matches!(e, capp_packet::Error::Decode { .. }), "{e:?}");
    assert!(!e.is_retryable(), "{e}");
    assert!(e.may_have_been_applied(), "{e}");
    assert_eq!(sim.operation_count("findMetros"), 1);
}

#[tokio::test]
async fn a_dropped_connection_is_a_transport_error() {
    let (sim, _) = support::start().await;
    let client =
        MetalClient::new(support::config_for(&sim).with_retry(RetryPolicy::never())).unwrap();
    sim.faults().inject_for("findMetros", Fault::Drop, 1);
    let e = client.list_metros().await.unwrap_err();
    assert!(matches!(e, capp_packet::Error::Transport { .. }), "{e:?}");
    assert!(e.is_retryable(), "{e}");
    assert!(e.status().is_none(), "{e}");
}

#[tokio::test]
async fn a_429_with_only_x_ratelimit_reset_is_waited_out() {
    // The real API never sent Retry-After: X-RateLimit-Reset (unix seconds) is the only hint.
    // That is the simulator's default too.
    let faults = FaultConfig {
        rate_limit: Some(1),
        ..FaultConfig::default()
    };
    let (sim, client) =
        support::start_with(capp_sim::SimConfig::for_tests().with_faults(faults)).await;
    let probe =
        MetalClient::new(support::config_for(&sim).with_retry(RetryPolicy::never())).unwrap();
    // The one-second window opened when the sim started: one call passes, the next is refused.
    probe.list_metros().await.unwrap();
    let e = probe.list_metros().await.unwrap_err();
    assert!(e.is_rate_limited(), "{e}");
    let wait = e
        .api()
        .unwrap()
        .retry_after()
        .expect("X-RateLimit-Reset gives the wait");
    // The window ends within 1 s; the header rounds that up to a whole unix second.
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(2),
        "{wait:?}"
    );

    // Still in the same window. The fast test backoff (5 to 40 ms, 4 attempts) would stay
    // inside it and fail; the client waits until the reset and gets through.
    sim.clear_request_log();
    client.list_metros().await.unwrap();
    let statuses: Vec<u16> = sim.request_log().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
}

#[tokio::test]
async fn a_device_whose_provisioning_failed_answers_forbidden() {
    let (sim, client) = support::start().await;
    sim.faults().fail_next_provisioning(1);
    let d = client
        .create_device(sim.default_project_id(), &device_request())
        .await
        .unwrap();
    sim.finish_provisioning();
    let e = client.get_device(&d.id).await.unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    assert_eq!(sim.vanished_devices(), [d.id]);
}

#[tokio::test]
async fn an_id_that_would_change_the_url_is_refused_before_any_request() {
    let (sim, client) = support::start().await;
    let e = client.get_device("../projects/x").await.unwrap_err();
    assert!(
        matches!(
            e,
            capp_packet::Error::InvalidArgument {
                field: "device_id",
                ..
            }
        ),
        "{e}"
    );
    assert!(sim.request_log().is_empty());
}
