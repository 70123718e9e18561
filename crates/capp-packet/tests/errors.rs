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
    let (sim, _) = support::start().await;
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

#[tokio::test]
async fn no_servers_left_in_the_metro_is_a_capacity_error() {
    let (sim, client) = support::start().await;
    sim.set_capacity("da", "c3.small.x86", 0);
    let e = client
        .create_device(sim.default_project_id(), &device_request())
        .await
        .unwrap_err();
    assert!(e.is_capacity_unavailable(), "{e}");
    assert!(!e.is_retryable(), "capacity is not a fast retry");
    assert!(!e.may_have_been_applied(), "nothing was created");
    assert!(sim.devices().is_empty());

    sim.faults()
        .inject_for("createDevice", Fault::NoCapacity, 1);
    sim.set_capacity("da", "c3.small.x86", 10);
    let e = client
        .create_device(sim.default_project_id(), &device_request())
        .await
        .unwrap_err();
    assert!(e.is_capacity_unavailable(), "{e}");
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
