//! Devices: create (both forms), get, list with pagination, update, delete, lifecycle.

use serde_json::json;

use super::support::*;

#[tokio::test]
async fn a_created_device_is_queued_then_active_and_can_be_found_again() {
    let (sim, api) = start().await;
    let project = sim.default_project_id().to_owned();
    let resp = api
        .post(
            &format!("/projects/{project}/devices"),
            device_body("node-1"),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let created = resp.json();
    assert_eq!(created["state"], "queued");
    assert_eq!(created["hostname"], "node-1");
    assert_eq!(created["metro"]["code"], "da");
    assert_eq!(created["facility"]["code"], "da11");
    assert_eq!(created["plan"]["slug"], "c3.small.x86");
    assert_eq!(created["ip_addresses"], json!([]));
    let id = created["id"].as_str().unwrap();

    let got = api.get(&format!("/devices/{id}")).await;
    assert_eq!(got.status, 200);
    let got = got.json();
    assert_eq!(got["state"], "active");
    let addresses = got["ip_addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 3);
    assert_eq!(addresses[0]["address_family"], 4);
    assert_eq!(addresses[0]["public"], true);
    assert_eq!(addresses[0]["cidr"], 31);
    assert_eq!(addresses[1]["address_family"], 6);
    assert_eq!(addresses[1]["cidr"], 127);
    assert_eq!(addresses[2]["public"], false);
    assert_eq!(addresses[2]["cidr"], 31);
    assert_eq!(addresses[2]["parent_block"]["cidr"], 25);
    assert!(addresses.iter().all(|a| a["gateway"].is_string()));
    assert_eq!(sim.devices().len(), 1);
}

#[tokio::test]
async fn the_facility_form_places_the_device_in_the_first_facility_with_capacity() {
    let (sim, api) = start().await;
    sim.set_capacity("sv", "m3.small.x86", 0);
    let project = sim.default_project_id();
    let body = json!({
        "facility": ["sv15", "ny5"],
        "plan": "m3.small.x86",
        "operating_system": "debian_12",
    });
    let resp = api
        .post(&format!("/projects/{project}/devices"), body)
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["facility"]["code"], "ny5");
    assert_eq!(resp.json()["metro"]["code"], "ny");
}

#[tokio::test]
async fn listing_devices_pages_through_every_device_with_meta_links() {
    let (sim, api) = start().await;
    let project = sim.default_project_id().to_owned();
    for n in 0..25 {
        create_device(&api, &project, device_body(&format!("n{n}"))).await;
    }
    let first = api
        .get(&format!("/projects/{project}/devices?per_page=10"))
        .await
        .json();
    assert_eq!(first["devices"].as_array().unwrap().len(), 10);
    assert_eq!(first["meta"]["total"], 25);
    assert_eq!(first["meta"]["current_page"], 1);
    assert_eq!(first["meta"]["last_page"], 3);
    assert!(first["meta"].get("previous").is_none());
    let next = first["meta"]["next"]["href"].as_str().unwrap();
    assert!(next.contains("page=2"), "{next}");

    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let body = api
            .get(&format!(
                "/projects/{project}/devices?per_page=10&page={page}"
            ))
            .await
            .json();
        for d in body["devices"].as_array().unwrap() {
            seen.push(d["hostname"].as_str().unwrap().to_owned());
        }
        if body["meta"]["current_page"] == body["meta"]["last_page"] {
            assert!(body["meta"].get("next").is_none());
            break;
        }
        page += 1;
    }
    let expected: Vec<String> = (0..25).map(|n| format!("n{n}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_default_page_size_is_ten() {
    let (sim, api) = start().await;
    let project = sim.default_project_id().to_owned();
    for n in 0..12 {
        create_device(&api, &project, device_body(&format!("n{n}"))).await;
    }
    let body = api
        .get(&format!("/projects/{project}/devices"))
        .await
        .json();
    assert_eq!(body["devices"].as_array().unwrap().len(), 10);
    assert_eq!(body["meta"]["last_page"], 2);
}

#[tokio::test]
async fn the_tag_filter_returns_only_devices_with_that_exact_tag() {
    let (sim, api) = start().await;
    let project = sim.default_project_id().to_owned();
    let mut tagged = device_body("a");
    tagged["tags"] = json!(["capp:cluster-id:one", "role:cp"]);
    let mut other = device_body("b");
    other["tags"] = json!(["capp:cluster-id:two"]);
    create_device(&api, &project, tagged).await;
    create_device(&api, &project, other).await;
    let body = api
        .get(&format!(
            "/projects/{project}/devices?tag=capp%3Acluster-id%3Aone"
        ))
        .await
        .json();
    let names: Vec<&str> = body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a"]);
    assert_eq!(body["meta"]["total"], 1);
}

#[tokio::test]
async fn spot_options_are_kept_and_shown_on_the_device() {
    let (sim, api) = start().await;
    let project = sim.default_project_id().to_owned();
    let mut body = device_body("spot-1");
    body["spot_instance"] = json!(true);
    body["spot_price_max"] = json!(0.25);
    body["termination_time"] = json!("2027-01-01T00:00:00Z");
    let resp = api
        .post(&format!("/projects/{project}/devices"), body)
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let id = resp.json()["id"].as_str().unwrap().to_owned();
    let got = api.get(&format!("/devices/{id}")).await.json();
    assert_eq!(got["spot_instance"], true);
    assert_eq!(got["spot_price_max"], 0.25);
    assert_eq!(got["termination_time"], "2027-01-01T00:00:00Z");
    let on_demand = create_device(&api, &project, device_body("on-demand")).await;
    let got = api.get(&format!("/devices/{on_demand}")).await.json();
    assert_eq!(got["spot_instance"], false);
    assert!(got.get("spot_price_max").is_none(), "{got}");
}

#[tokio::test]
async fn deleting_a_provisioning_device_without_force_is_rejected() {
    let (sim, api) = start_with(SimConfig::for_tests().with_timings(capp_sim::Timings {
        queued: std::time::Duration::ZERO,
        provisioning: std::time::Duration::from_secs(60),
        deprovisioning: std::time::Duration::from_secs(10),
    }))
    .await;
    let project = sim.default_project_id().to_owned();
    let id = create_device(&api, &project, device_body("p")).await;
    let resp = api.delete(&format!("/devices/{id}")).await;
    assert_eq!(resp.status, 422);
    assert_eq!(
        resp.json(),
        json!({"errors": ["Cannot delete a device while it is provisioning"]})
    );
    let forced = api
        .delete(&format!("/devices/{id}?force_delete=true"))
        .await;
    assert_eq!(forced.status, 204);
    assert!(forced.body.is_empty());
    assert_eq!(
        api.get(&format!("/devices/{id}")).await.json()["state"],
        "deprovisioning"
    );
    sim.advance(std::time::Duration::from_secs(10));
    assert_eq!(api.get(&format!("/devices/{id}")).await.status, 404);
    assert!(sim.devices().is_empty());
}

#[tokio::test]
async fn provisioning_percentage_grows_on_the_simulated_clock() {
    let (sim, api) = start_with(SimConfig::for_tests().with_timings(capp_sim::Timings {
        queued: std::time::Duration::from_secs(5),
        provisioning: std::time::Duration::from_secs(70),
        deprovisioning: std::time::Duration::ZERO,
    }))
    .await;
    let project = sim.default_project_id().to_owned();
    let id = create_device(&api, &project, device_body("p")).await;
    let path = format!("/devices/{id}");
    let get = || api.get(&path);
    assert_eq!(get().await.json()["state"], "queued");
    sim.advance(std::time::Duration::from_secs(5));
    let early = get().await.json();
    assert_eq!(early["state"], "provisioning");
    assert_eq!(early["provisioning_percentage"], 0.0);
    sim.advance(std::time::Duration::from_secs(40));
    let later = get().await.json();
    let pct = later["provisioning_percentage"].as_f64().unwrap();
    // 40 of 70 seconds: 4 of the 7 provisioning events, the real API's 57.14 %.
    assert!((pct - 400.0 / 7.0).abs() < 1e-9, "{pct}");
    let events = later["provisioning_events"].as_array().unwrap();
    assert_eq!(events.len(), 7);
    let reached = events
        .iter()
        .filter(|e| e.get("created_at").is_some())
        .count();
    assert_eq!(reached, 4);
    assert_eq!(events[3]["body"], "Connected to magic install system");
    sim.advance(std::time::Duration::from_secs(30));
    let done = get().await.json();
    assert_eq!(done["state"], "active");
    assert!(done.get("provisioning_percentage").is_none());
}

#[tokio::test]
async fn updating_a_device_changes_tags_description_and_hostname() {
    let (sim, api) = start().await;
    let project = sim.default_project_id().to_owned();
    let id = create_device(&api, &project, device_body("old")).await;
    let resp = api
        .put(
            &format!("/devices/{id}"),
            json!({"hostname": "new", "description": "d", "tags": ["x"]}),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    assert_eq!(body["hostname"], "new");
    assert_eq!(body["description"], "d");
    assert_eq!(body["tags"], json!(["x"]));
    assert_eq!(sim.device(&id).unwrap().tags, ["x"]);
}

#[tokio::test]
async fn a_failed_on_demand_device_vanishes_and_answers_403() {
    let (sim, api) = start_with(SimConfig::for_tests().with_timings(capp_sim::Timings {
        queued: std::time::Duration::ZERO,
        provisioning: std::time::Duration::from_secs(60),
        deprovisioning: std::time::Duration::ZERO,
    }))
    .await;
    let project = sim.default_project_id().to_owned();
    sim.faults().fail_next_provisioning(1);
    let id = create_device(&api, &project, device_body("doomed")).await;
    assert_eq!(
        api.get(&format!("/devices/{id}")).await.json()["state"],
        "provisioning"
    );
    sim.advance(std::time::Duration::from_secs(60));
    let resp = api.get(&format!("/devices/{id}")).await;
    assert_eq!(resp.status, 403);
    assert_eq!(
        resp.json(),
        json!({"errors": ["You are not authorized to view this device"]})
    );
    assert!(sim.devices().is_empty());
    assert_eq!(sim.vanished_devices(), [id]);
}

#[tokio::test]
async fn on_the_real_clock_a_device_becomes_active_after_its_provisioning_time() {
    let config = SimConfig::default().with_timings(capp_sim::Timings {
        queued: std::time::Duration::from_millis(50),
        provisioning: std::time::Duration::from_millis(150),
        deprovisioning: std::time::Duration::ZERO,
    });
    let (sim, api) = start_with(config).await;
    let project = sim.default_project_id().to_owned();
    let id = create_device(&api, &project, device_body("real")).await;
    assert_ne!(
        api.get(&format!("/devices/{id}")).await.json()["state"],
        "active"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        api.get(&format!("/devices/{id}")).await.json()["state"],
        "active"
    );
}

#[tokio::test]
async fn shutting_down_or_dropping_the_handle_stops_the_server() {
    let (sim, api) = start().await;
    assert_eq!(api.get("/plans").await.status, 200);
    sim.shutdown().await;
    assert!(
        api.try_send(http::Method::GET, "/plans", None, None)
            .await
            .is_err()
    );

    let (sim, api) = start().await;
    drop(sim);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        api.try_send(http::Method::GET, "/plans", None, None)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_invalid_configuration_is_refused_at_start_with_the_fix() {
    let empty = Simulator::start(SimConfig::for_tests().with_token("")).await;
    assert!(matches!(empty, Err(capp_sim::Error::Config(ref m)) if m.contains("non-empty")));
    let bad_project = Simulator::start(SimConfig::for_tests().with_project_id("p1")).await;
    assert!(matches!(bad_project, Err(capp_sim::Error::Config(ref m)) if m.contains("UUID")));
    let bad_rate = Simulator::start(SimConfig::for_tests().with_faults(capp_sim::FaultConfig {
        server_error_rate: 2.0,
        ..capp_sim::FaultConfig::default()
    }))
    .await;
    assert!(
        matches!(bad_rate, Err(capp_sim::Error::Config(ref m)) if m.contains("between 0.0 and 1.0"))
    );
}

#[tokio::test]
async fn validation_errors_name_the_field_and_the_fix() {
    let (sim, api) = start().await;
    let path = format!("/projects/{}/devices", sim.default_project_id());
    let cases = [
        (
            json!({"metro": "da", "operating_system": "ubuntu_24_04"}),
            "Plan can't be blank",
        ),
        (
            json!({"metro": "da", "plan": "c3.small.x86"}),
            "Operating system can't be blank",
        ),
        (
            json!({"plan": "c3.small.x86", "operating_system": "ubuntu_24_04"}),
            "Facility can't be blank",
        ),
        (
            json!({"metro": "zz", "plan": "c3.small.x86", "operating_system": "ubuntu_24_04"}),
            "zz is not a valid metro",
        ),
        (
            json!({"facility": ["ny9"], "plan": "c3.small.x86", "operating_system": "ubuntu_24_04"}),
            "ny9 is not a valid facility",
        ),
        (
            json!({"metro": "da", "plan": "c3.small.x86", "operating_system": "ubuntu_24_04", "tags": "a"}),
            "tags must be an array of strings",
        ),
        (
            json!({"metro": "da", "plan": "c3.small.x86", "operating_system": "custom_ipxe"}),
            "ipxe_script_url is required",
        ),
        (
            json!({"metro": "da", "plan": "c3.small.x86", "operating_system": "ubuntu_24_04",
            "hardware_reservation_id": "123a45b6"}),
            "123a45b6 is not a valid hardware reservation",
        ),
        (
            json!({"metro": "da", "plan": "c3.small.x86", "operating_system": "ubuntu_24_04",
            "ip_addresses": [{"address_family": 4, "public": true}]}),
            "must include a private IPv4",
        ),
    ];
    for (body, message) in cases {
        let resp = api.post(&path, body.clone()).await;
        assert_eq!(resp.status, 422, "{body}");
        let text = resp.json()["errors"][0].as_str().unwrap().to_owned();
        assert!(text.contains(message), "{body}: {text}");
    }
    assert!(sim.devices().is_empty());
}

#[tokio::test]
async fn concurrent_creates_give_distinct_devices_and_count_capacity_exactly() {
    let (sim, api) = start().await;
    let project = sim.default_project_id().to_owned();
    sim.set_capacity("da", "c3.small.x86", 40);
    let mut tasks = Vec::new();
    for n in 0..50 {
        let (api, path) = (api.clone(), format!("/projects/{project}/devices"));
        tasks.push(tokio::spawn(async move {
            // Duplicate hostnames are allowed, as on the real API.
            let resp = api.post(&path, device_body("same-name")).await;
            (n, resp.status)
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap().1);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 40);
    assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 10);
    let devices = sim.devices();
    let ids: std::collections::BTreeSet<_> = devices.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), 40);
    assert_eq!(sim.capacity_left("da", "c3.small.x86"), 0);
    let addresses: std::collections::BTreeSet<_> =
        devices.iter().flat_map(|d| d.addresses.clone()).collect();
    assert_eq!(
        addresses.len(),
        40 * 3,
        "every management address is unique"
    );
}

#[tokio::test]
async fn the_same_seed_gives_the_same_ids_and_addresses() {
    async fn run(seed: u64) -> Vec<(String, Vec<String>)> {
        let (sim, api) = start_with(SimConfig::for_tests().with_seed(seed)).await;
        let project = sim.default_project_id().to_owned();
        for n in 0..3 {
            create_device(&api, &project, device_body(&format!("n{n}"))).await;
        }
        sim.devices()
            .into_iter()
            .map(|d| (d.id, d.addresses))
            .collect()
    }
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    assert_ne!(a[0].0, run(8).await[0].0);
}

#[tokio::test]
async fn devices_never_share_an_address_whatever_block_size_they_ask_for() {
    let (sim, api) = start().await;
    let project = sim.default_project_id().to_owned();
    // Mixed sizes used to overlap (a /29 and the next device's /31); 300 devices used to run
    // the IPv6 /56s of one metro into the next metro's.
    for n in 0..300u32 {
        let mut body = device_body(&format!("net-{n}"));
        let cidr = [31, 29, 30, 28][usize::try_from(n % 4).unwrap()];
        body["ip_addresses"] = json!([
            {"address_family": 4, "public": true, "cidr": cidr},
            {"address_family": 4, "public": false, "cidr": 59 - cidr},
            {"address_family": 6, "public": true}
        ]);
        create_device(&api, &project, body).await;
    }
    let mut ny = device_body("other-metro");
    ny["metro"] = json!("ny");
    create_device(&api, &project, ny).await;

    // Every assigned block as (family, first, last).
    let mut blocks: Vec<(u8, u128, u128, String)> = Vec::new();
    for d in sim.devices() {
        let json = sim.device_json(&d.id).unwrap();
        for a in json["ip_addresses"].as_array().unwrap() {
            let network: std::net::IpAddr = a["network"].as_str().unwrap().parse().unwrap();
            let cidr = u32::try_from(a["cidr"].as_u64().unwrap()).unwrap();
            let (family, first, bits) = match network {
                std::net::IpAddr::V4(v4) => (4, u128::from(u32::from(v4)), 32),
                std::net::IpAddr::V6(v6) => (6, u128::from(v6), 128),
            };
            let last = first + ((1u128 << (bits - cidr)) - 1);
            blocks.push((
                family,
                first,
                last,
                format!("{} {}/{cidr}", d.hostname, network),
            ));
        }
    }
    assert_eq!(blocks.len(), 301 * 3);
    blocks.sort();
    for pair in blocks.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(a.0 != b.0 || a.2 < b.1, "{} overlaps {}", a.3, b.3);
    }
}
