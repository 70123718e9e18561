//! Fidelity to the real API's recorded behaviour where an audit found the simulator too
//! lenient: SSH keys on create, the device-create throttle, the per-token rate limit after
//! authentication, reserved hardware in another location, BGP neighbour data of a device
//! without addresses, and paging parameters out of range.

use std::time::Duration;

use capp_sim::{FaultConfig, Timings};
use http::Method;
use serde_json::json;

use super::support::*;

/// Devices stay `queued` for a minute, then provision for a minute.
fn slow() -> SimConfig {
    SimConfig::for_tests().with_timings(Timings {
        queued: Duration::from_secs(60),
        provisioning: Duration::from_secs(60),
        deprovisioning: Duration::from_secs(10),
    })
}

const OTHER_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyForTheFidelityTestsOnly0000000000000 other";
const INLINE_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIInlineKeyForTheFidelityTestsOnly000000000000 inline";

async fn device_key_ids(api: &Api, device: &str) -> Vec<String> {
    let resp = api.get(&format!("/devices/{device}/ssh-keys")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let mut ids: Vec<String> = resp.json()["ssh_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_project_starts_without_keys_and_a_keyless_create_is_refused_unless_no_ssh_keys() {
    let (sim, api) = start_keyless(SimConfig::for_tests()).await;
    let p = sim.default_project_id().to_owned();
    let keys = api.get(&format!("/projects/{p}/ssh-keys")).await.json();
    assert_eq!(
        keys["ssh_keys"],
        json!([]),
        "the default project has no key"
    );

    let resp = api
        .post(&format!("/projects/{p}/devices"), device_body("n1"))
        .await;
    assert_eq!(resp.status, 422, "{}", resp.text());
    assert_eq!(
        resp.json()["errors"][0],
        "must have at least one SSH key or explicitly send no_ssh_keys option"
    );
    assert!(sim.devices().is_empty(), "nothing was created");

    let mut body = device_body("n1");
    body["no_ssh_keys"] = json!(true);
    let id = create_device(&api, &p, body).await;
    assert!(device_key_ids(&api, &id).await.is_empty());
}

#[tokio::test]
async fn inline_keys_become_project_keys_and_turn_off_attaching_every_project_key() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let other = api
        .post(
            &format!("/projects/{p}/ssh-keys"),
            json!({"label": "other", "key": OTHER_KEY}),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.text());
    let other = other.json()["id"].as_str().unwrap().to_owned();

    // No key field: every project key.
    let all = create_device(&api, &p, device_body("all")).await;
    assert_eq!(device_key_ids(&api, &all).await.len(), 2);

    // An inline key only: just that one, stored as a new project key.
    let mut body = device_body("inline");
    body["ssh_keys"] = json!([{"label": "ci", "key": INLINE_KEY}]);
    let inline = create_device(&api, &p, body.clone()).await;
    let inline_keys = device_key_ids(&api, &inline).await;
    assert_eq!(inline_keys.len(), 1, "only the inline key");
    let project_keys = api.get(&format!("/projects/{p}/ssh-keys")).await.json();
    let stored = project_keys["ssh_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == INLINE_KEY)
        .expect("the inline key is now a project key");
    assert_eq!(stored["id"], inline_keys[0].as_str());
    assert_eq!(stored["label"], "ci");
    // The same inline key again is the existing key, not a second copy.
    let again = create_device(&api, &p, body).await;
    assert_eq!(device_key_ids(&api, &again).await, inline_keys);

    // project_ssh_keys plus an inline key add up.
    let mut body = device_body("both");
    body["project_ssh_keys"] = json!([other]);
    body["ssh_keys"] = json!([{"key": INLINE_KEY}]);
    let both = create_device(&api, &p, body).await;
    let mut expected = vec![other.clone(), inline_keys[0].clone()];
    expected.sort();
    assert_eq!(device_key_ids(&api, &both).await, expected);

    // A bad inline key names the field.
    let mut body = device_body("bad");
    body["ssh_keys"] = json!([{"key": "not a key"}]);
    let resp = api.post(&format!("/projects/{p}/devices"), body).await;
    assert_eq!(resp.status, 422);
    assert!(resp.text().contains("ssh_keys[0].key"), "{}", resp.text());
}

#[tokio::test]
async fn user_ssh_keys_attach_that_users_keys_only() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let mine = sim.add_user_ssh_key("laptop", OTHER_KEY).unwrap();
    let mut body = device_body("u");
    body["user_ssh_keys"] = json!([sim.user_id()]);
    let dev = create_device(&api, &p, body).await;
    assert_eq!(device_key_ids(&api, &dev).await, vec![mine.clone()]);

    let mut body = device_body("stranger");
    body["user_ssh_keys"] = json!(["11111111-2222-4333-8444-555555555555"]);
    let resp = api.post(&format!("/projects/{p}/devices"), body).await;
    assert_eq!(resp.status, 422);
    assert!(resp.text().contains("user_ssh_keys"), "{}", resp.text());

    // By default members' keys come along with the project's.
    let dev = create_device(&api, &p, device_body("default")).await;
    assert!(device_key_ids(&api, &dev).await.contains(&mine));
    assert!(
        sim.add_user_ssh_key("dup", OTHER_KEY).is_err(),
        "already taken"
    );
}

#[tokio::test]
async fn creates_beyond_the_projects_limit_of_devices_in_flight_answer_429() {
    let (sim, api) = start_with(slow()).await;
    let p = sim.default_project_id().to_owned();
    for n in 0..6 {
        create_device(&api, &p, device_body(&format!("n{n}"))).await;
    }
    let resp = api
        .post(&format!("/projects/{p}/devices"), device_body("n6"))
        .await;
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert!(resp.text().contains("at most 6"), "{}", resp.text());
    assert_eq!(sim.devices().len(), 6, "the refused create made nothing");

    // Once they are active, creating works again.
    sim.advance(Duration::from_secs(121));
    create_device(&api, &p, device_body("n6")).await;
}

#[tokio::test]
async fn the_create_limit_is_configurable_and_can_be_turned_off() {
    let (sim, api) = start_with(slow().with_create_limit(Some(1))).await;
    let p = sim.default_project_id().to_owned();
    create_device(&api, &p, device_body("a")).await;
    let resp = api
        .post(&format!("/projects/{p}/devices"), device_body("b"))
        .await;
    assert_eq!(resp.status, 429);

    let (sim, api) = start_with(slow().with_create_limit(None)).await;
    let p = sim.default_project_id().to_owned();
    for n in 0..10 {
        create_device(&api, &p, device_body(&format!("n{n}"))).await;
    }
}

#[tokio::test]
async fn the_rate_limit_counts_only_authenticated_requests() {
    let config = SimConfig::for_tests().with_faults(FaultConfig {
        rate_limit: Some(1),
        ..FaultConfig::default()
    });
    let (sim, api) = start_with(config).await;
    let p = sim.default_project_id().to_owned();
    let path = format!("/projects/{p}");
    // Strangers hammering with a wrong token get 401 and use up nobody's budget.
    for _ in 0..3 {
        let resp = api.with_token("wrong").get(&path).await;
        assert_eq!(resp.status, 401);
        assert!(resp.header("x-ratelimit-limit").is_none());
    }
    let resp = api.get(&path).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("x-ratelimit-remaining"), Some("0"));
    let resp = api.get(&path).await;
    assert_eq!(resp.status, 429);
}

#[tokio::test]
async fn a_hardware_reservation_in_another_metro_or_facility_is_refused_not_moved() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let reservations = api
        .get(&format!("/projects/{p}/hardware-reservations"))
        .await
        .json();
    let sv15 = reservations["hardware_reservations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["facility"]["code"] == "sv15")
        .expect("the c3.small.x86 reservation in sv15")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut body = device_body("r");
    body["hardware_reservation_id"] = json!(sv15);
    let resp = api
        .post(&format!("/projects/{p}/devices"), body.clone())
        .await;
    assert_eq!(resp.status, 422, "{}", resp.text());
    assert!(resp.text().contains("sv15"), "{}", resp.text());

    let mut facility_form = body.clone();
    facility_form.as_object_mut().unwrap().remove("metro");
    facility_form["facility"] = json!(["da11"]);
    let resp = api
        .post(&format!("/projects/{p}/devices"), facility_form)
        .await;
    assert_eq!(resp.status, 422, "{}", resp.text());
    assert!(sim.devices().is_empty());

    body["metro"] = json!("sv");
    let id = create_device(&api, &p, body).await;
    assert_eq!(sim.device(&id).unwrap().facility, "sv15");
}

#[tokio::test]
async fn bgp_neighbours_of_a_device_without_addresses_omit_them() {
    let (sim, api) = start_with(slow()).await;
    let p = sim.default_project_id().to_owned();
    let dev = create_device(&api, &p, device_body("cp")).await;
    bgp_session(&api, &p, &dev, "ipv4").await;
    let neighbours = api
        .get(&format!("/devices/{dev}/bgp/neighbors"))
        .await
        .json();
    let n = &neighbours["bgp_neighbors"][0];
    assert!(
        n.get("customer_ip").is_none(),
        "queued: no address yet: {n}"
    );
    assert_eq!(n["routes_in"], json!([]), "{n}");
    assert!(!n.to_string().contains("\"\""), "no empty strings: {n}");

    sim.advance(Duration::from_secs(61));
    let neighbours = api
        .get(&format!("/devices/{dev}/bgp/neighbors"))
        .await
        .json();
    let n = &neighbours["bgp_neighbors"][0];
    assert!(n["customer_ip"].as_str().unwrap().starts_with("10."), "{n}");
    assert_eq!(n["routes_in"].as_array().unwrap().len(), 1, "{n}");
}

#[tokio::test]
async fn paging_parameters_out_of_range_are_clamped_not_refused() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    for n in 0..3 {
        create_device(&api, &p, device_body(&format!("n{n}"))).await;
    }
    for (query, page, per_page, count) in [
        ("per_page=5000", 1, 1000, 3),
        ("per_page=0", 1, 1, 1),
        ("page=0&per_page=2", 1, 2, 2),
        ("page=-4&per_page=-1", 1, 1, 1),
        ("page=999999999&per_page=2", 100_000, 2, 0),
        ("per_page=ten", 1, 10, 3),
    ] {
        let resp = api
            .send(Method::GET, &format!("/projects/{p}/devices?{query}"), None)
            .await;
        assert_eq!(resp.status, 200, "{query}: {}", resp.text());
        let body = resp.json();
        assert_eq!(body["meta"]["current_page"], page, "{query}");
        assert_eq!(body["devices"].as_array().unwrap().len(), count, "{query}");
        let href = body["meta"]["self"]["href"].as_str().unwrap().to_owned();
        assert!(
            href.contains(&format!("per_page={per_page}")),
            "{query}: {href}"
        );
    }
}
