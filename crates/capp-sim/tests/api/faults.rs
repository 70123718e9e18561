//! Fault injection: dropped and truncated responses, rate limiting, server errors,
//! capacity errors, provisioning failures and stuck provisioning.

use std::time::{Duration, Instant};

use capp_sim::{Fault, FaultConfig, Timings};
use http::Method;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn a_dropped_connection_gives_the_client_an_error_and_the_next_call_works() {
    let (sim, api) = start().await;
    let path = format!("/projects/{}", sim.default_project_id());
    sim.faults().inject(Fault::Drop);
    let dropped = api.try_send(Method::GET, &path, None, None).await;
    assert!(dropped.is_err(), "{dropped:?}");
    assert_eq!(api.get(&path).await.status, 200);
    assert_eq!(sim.status_counts()[&("findProjectById".to_owned(), 0)], 1);
}

#[tokio::test]
async fn a_truncated_create_fails_for_the_client_but_the_device_exists() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    sim.faults().inject_for("createDevice", Fault::Truncate, 1);
    let body = bytes::Bytes::from(device_body("t").to_string());
    let result = api
        .try_send(
            Method::POST,
            &format!("/projects/{p}/devices"),
            Some(body),
            Some("application/json"),
        )
        .await;
    assert!(result.is_err(), "{result:?}");
    // The POST was not idempotent: the server did the work. Look it up by tag.
    let listed = api
        .get(&format!(
            "/projects/{p}/devices?tag=capp%3Acluster-id%3Ademo"
        ))
        .await
        .json();
    assert_eq!(listed["meta"]["total"], 1);
}

#[tokio::test]
async fn a_lost_create_response_leaves_the_device_created() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    sim.faults().inject_for("createDevice", Fault::Lost, 1);
    let body = bytes::Bytes::from(device_body("lost").to_string());
    let result = api
        .try_send(
            Method::POST,
            &format!("/projects/{p}/devices"),
            Some(body),
            Some("application/json"),
        )
        .await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(sim.devices().len(), 1);
    let record = sim.request_log().pop().unwrap();
    assert_eq!(
        (record.status, record.fault.as_deref()),
        (201, Some("lost"))
    );
}

#[tokio::test]
async fn a_garbage_body_is_not_json() {
    let (sim, api) = start().await;
    sim.faults().inject(Fault::Garbage);
    let resp = api.get("/locations/metros").await;
    assert_eq!(resp.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&resp.body).is_err());
}

#[tokio::test]
async fn by_default_a_429_says_when_to_come_back_only_through_x_ratelimit_reset() {
    // As the real API: no recorded client ever saw a Retry-After from it.
    let (sim, api) = start_with(SimConfig::for_tests().with_faults(FaultConfig {
        rate_limit: Some(1),
        ..FaultConfig::default()
    }))
    .await;
    let path = format!("/projects/{}", sim.default_project_id());
    let mut limited = None;
    for _ in 0..4 {
        let resp = api.get(&path).await;
        if resp.status == 429 {
            limited.get_or_insert(resp);
        }
    }
    let limited = limited.expect("a 429 within four fast requests at one per second");
    assert_eq!(limited.header("retry-after"), None);
    assert!(limited.header("x-ratelimit-reset").is_some());
}

#[tokio::test]
async fn requests_above_the_rate_limit_answer_429_with_retry_headers() {
    let (sim, api) = start_with(SimConfig::for_tests().with_faults(FaultConfig {
        rate_limit: Some(3),
        send_retry_after: true,
        ..FaultConfig::default()
    }))
    .await;
    let path = format!("/projects/{}", sim.default_project_id());
    let mut statuses = Vec::new();
    let mut limited = None;
    // Eight requests span at most one window boundary, so one window sees four or more.
    for _ in 0..8 {
        let resp = api.get(&path).await;
        statuses.push(resp.status);
        if resp.status == 429 {
            limited.get_or_insert(resp);
        }
    }
    assert!(
        statuses.iter().take(3).all(|s| *s == 200) || statuses.contains(&429),
        "{statuses:?}"
    );
    let limited = limited.expect("at least one 429 within six fast requests");
    assert_eq!(limited.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(retry, 1);
    let reset: u64 = limited
        .header("x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset >= now && reset <= now + 2, "{reset} vs {now}");
    assert!(
        limited.json()["errors"][0]
            .as_str()
            .unwrap()
            .contains("Rate limit")
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(api.get(&path).await.status, 200);
}

#[tokio::test]
async fn server_errors_drawn_from_a_seed_repeat_with_the_same_seed() {
    async fn run(seed: u64) -> Vec<u16> {
        let (sim, api) = start_with(SimConfig::for_tests().with_seed(seed).with_faults(
            FaultConfig {
                server_error_rate: 0.5,
                ..FaultConfig::default()
            },
        ))
        .await;
        let path = format!("/projects/{}", sim.default_project_id());
        let mut out = Vec::new();
        for _ in 0..20 {
            out.push(api.get(&path).await.status);
        }
        out
    }
    let a = run(42).await;
    assert_eq!(a, run(42).await);
    assert!(a.contains(&200) && a.iter().any(|s| *s >= 500), "{a:?}");
}

#[tokio::test]
async fn intermediary_errors_come_as_html_and_api_errors_as_json() {
    let (sim, api) = start().await;
    sim.faults().inject(Fault::Status(502));
    let gateway = api.get("/plans").await;
    assert_eq!(gateway.status, 502);
    assert!(
        gateway
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    sim.faults().inject(Fault::Status(500));
    let oh_snap = api.get("/plans").await;
    assert!(
        oh_snap.json()["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("Oh snap")
    );
}

#[tokio::test]
async fn injected_latency_delays_only_the_targeted_call() {
    let (sim, api) = start().await;
    sim.faults()
        .inject_for("findMetros", Fault::Latency(Duration::from_millis(300)), 1);
    let started = Instant::now();
    api.get("/plans").await;
    assert!(started.elapsed() < Duration::from_millis(300));
    let started = Instant::now();
    api.get("/locations/metros").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn running_out_of_capacity_gives_the_real_messages_for_each_form() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    sim.set_capacity("da", "c3.small.x86", 1);
    create_device(&api, &p, device_body("first")).await;
    assert_eq!(sim.capacity_left("da", "c3.small.x86"), 0);
    let full = api
        .post(&format!("/projects/{p}/devices"), device_body("second"))
        .await;
    assert_eq!(full.status, 422);
    assert_eq!(
        full.json(),
        json!({"errors": ["There aren't available servers in that metro"]})
    );
    let facility = api
        .post(
            &format!("/projects/{p}/devices"),
            json!({"facility": ["da11"], "plan": "c3.small.x86", "operating_system": "ubuntu_24_04"}),
        )
        .await;
    assert_eq!(facility.status, 422);
    assert_eq!(
        facility.json(),
        json!({"errors": ["The facility da11 has no provisionable c3.small.x86 servers matching your criteria"]})
    );
    sim.faults()
        .inject_for("createDevice", Fault::NoCapacity, 1);
    let mut elsewhere = device_body("third");
    elsewhere["metro"] = json!("ny");
    let injected = api
        .post(&format!("/projects/{p}/devices"), elsewhere.clone())
        .await;
    assert_eq!(injected.status, 422);
    assert_eq!(
        injected.json(),
        json!({"errors": ["There aren't available servers in that metro"]})
    );
    assert_eq!(
        api.post(&format!("/projects/{p}/devices"), elsewhere)
            .await
            .status,
        201
    );
    assert_eq!(sim.devices().len(), 2);
}

#[tokio::test]
async fn a_failed_device_on_reserved_hardware_stays_failed_and_blocks_the_reservation() {
    let (sim, api) = start_with(SimConfig::for_tests().with_timings(Timings {
        provisioning: Duration::from_secs(60),
        ..Timings::instant()
    }))
    .await;
    let p = sim.default_project_id().to_owned();
    let hw = api
        .get(&format!(
            "/projects/{p}/hardware-reservations?provisionable=only"
        ))
        .await
        .json();
    let c3 = hw["hardware_reservations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["plan"]["slug"] == "c3.small.x86")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"metro": "sv", "plan": "c3.small.x86", "operating_system": "ubuntu_24_04",
        "hardware_reservation_id": c3});
    let dev = create_device(&api, &p, body.clone()).await;
    assert!(sim.fail_device(&dev));
    let failed = api.get(&format!("/devices/{dev}")).await.json();
    assert_eq!(failed["state"], "failed");
    let busy = api
        .post(&format!("/projects/{p}/devices"), body.clone())
        .await;
    assert_eq!(busy.status, 422);
    assert_eq!(
        busy.json(),
        json!({"errors": ["Server is not provisionable"]})
    );
    let next = json!({"metro": "sv", "plan": "c3.small.x86", "operating_system": "ubuntu_24_04",
        "hardware_reservation_id": "next-available"});
    let none = api
        .post(&format!("/projects/{p}/devices"), next.clone())
        .await;
    assert_eq!(none.status, 503);
    assert_eq!(
        none.json(),
        json!({"errors": ["There are no available hardware reservations for selected plan and facility"]})
    );
    assert_eq!(api.delete(&format!("/devices/{dev}")).await.status, 204);
    assert!(sim.devices().is_empty());
    assert_eq!(
        api.post(&format!("/projects/{p}/devices"), next)
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn a_stuck_device_stays_provisioning() {
    let (sim, api) = start_with(SimConfig::for_tests().with_timings(Timings {
        provisioning: Duration::from_secs(60),
        ..Timings::instant()
    }))
    .await;
    let p = sim.default_project_id().to_owned();
    sim.faults().stick_next_provisioning(1);
    let stuck = create_device(&api, &p, device_body("stuck")).await;
    let fine = create_device(&api, &p, device_body("fine")).await;
    sim.advance(Duration::from_secs(3600));
    sim.finish_provisioning();
    assert_eq!(
        api.get(&format!("/devices/{stuck}")).await.json()["state"],
        "provisioning"
    );
    assert_eq!(
        api.get(&format!("/devices/{fine}")).await.json()["state"],
        "active"
    );
}

#[tokio::test]
async fn the_request_log_records_operations_bodies_and_statuses_but_no_token() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    create_device(&api, &p, device_body("logged")).await;
    api.get("/nope").await;
    let log = sim.request_log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].operation.as_deref(), Some("createDevice"));
    assert_eq!(log[0].status, 201);
    assert_eq!(log[0].body.as_ref().unwrap()["hostname"], "logged");
    assert_eq!(log[1].status, 404);
    assert_eq!(sim.operation_count("createDevice"), 1);
    assert!(!format!("{log:?}").contains(sim.token()));
    assert!(!format!("{sim:?}").contains(sim.token()));
}
