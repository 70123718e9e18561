//! Device lifecycle through the real HTTP client against capp-sim: create (metro and facility
//! form), get, list across pages, find by tags, update, delete.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests: a failed setup step or helper should fail the test"
)]

#[path = "support/sim.rs"]
mod support;

use capp_packet::{
    BillingCycle, CreateDevice, DeviceState, Location, Metal, MetalClient, UpdateDevice, Userdata,
};
use capp_sim::{SimConfig, Timings};

fn request(machine: &str) -> CreateDevice {
    let mut r = CreateDevice::new(Location::Metro("da".into()), "c3.small.x86", "ubuntu_24_04");
    r.hostname = Some(machine.to_owned());
    r.billing_cycle = Some(BillingCycle::Hourly);
    r.tags = support::tags(machine);
    r.userdata = Some(Userdata::new("#cloud-config\nruncmd: [echo hi]\n"));
    r
}

#[tokio::test]
async fn a_created_device_can_be_read_back_and_becomes_active() {
    let (sim, client) = support::start().await;
    let project = sim.default_project_id().to_owned();
    let created = client
        .create_device(&project, &request("m-0"))
        .await
        .unwrap();
    assert_eq!(created.hostname, "m-0");
    assert_eq!(
        created.state,
        DeviceState::Queued,
        "the create answer says queued"
    );
    assert!(created.has_tags(&support::tags("m-0")));

    sim.finish_provisioning();
    let read = client.get_device(&created.id).await.unwrap();
    assert_eq!(read.state, DeviceState::Active);
    assert_eq!(read.metro.as_ref().map(|m| m.code.as_str()), Some("da"));
    assert_eq!(
        read.plan.as_ref().map(|p| p.slug.as_str()),
        Some("c3.small.x86")
    );
    assert!(
        read.address(4, false).is_some(),
        "an active device has a private IPv4"
    );
    assert_eq!(
        sim.device(&created.id).unwrap().userdata,
        "#cloud-config\nruncmd: [echo hi]\n"
    );
}

#[tokio::test]
async fn a_facility_form_create_lands_in_that_facility() {
    let (sim, client) = support::start().await;
    let project = sim.default_project_id().to_owned();
    let mut r = request("f-0");
    r.location = Location::Facility(vec!["da11".into()]);
    let created = client.create_device(&project, &r).await.unwrap();
    assert_eq!(sim.device(&created.id).unwrap().facility, "da11");
    let sent = sim
        .request_log()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    let body = sent.body.unwrap();
    assert_eq!(body["facility"], serde_json::json!(["da11"]));
    assert!(
        body.get("metro").is_none(),
        "never both metro and facility: {body}"
    );
}

#[tokio::test]
async fn listing_reads_every_page_and_says_so_in_the_request_log() {
    let (sim, _) = support::start().await;
    // The real API's `per_page` parameter, set small so 7 devices need 4 pages.
    let client = MetalClient::new(support::config_for(&sim).with_per_page(2)).unwrap();
    let project = sim.default_project_id().to_owned();
    for i in 0..7 {
        client
            .create_device(&project, &request(&format!("p-{i}")))
            .await
            .unwrap();
    }
    sim.clear_request_log();

    let devices = client.list_devices(&project).await.unwrap();
    let mut names: Vec<_> = devices.iter().map(|d| d.hostname.clone()).collect();
    names.sort();
    assert_eq!(names, (0..7).map(|i| format!("p-{i}")).collect::<Vec<_>>());

    let pages: Vec<String> = sim
        .request_log()
        .into_iter()
        .filter(|r| r.operation.as_deref() == Some("findProjectDevices"))
        .map(|r| r.query)
        .collect();
    assert_eq!(pages.len(), 4, "{pages:?}");
    for (i, query) in pages.iter().enumerate() {
        assert!(
            query.contains(&format!("page={}", i + 1)) && query.contains("per_page=2"),
            "{query}"
        );
    }
}

#[tokio::test]
async fn the_default_page_size_is_the_api_maximum_so_one_call_lists_everything() {
    let (sim, client) = support::start().await;
    let project = sim.default_project_id().to_owned();
    for i in 0..12 {
        client
            .create_device(&project, &request(&format!("d-{i}")))
            .await
            .unwrap();
    }
    sim.clear_request_log();
    assert_eq!(client.list_devices(&project).await.unwrap().len(), 12);
    let log = sim.request_log();
    assert_eq!(log.len(), 1);
    assert!(log[0].query.contains("per_page=1000"), "{}", log[0].query);
}

#[tokio::test]
async fn a_project_with_more_devices_than_the_api_maximum_page_is_listed_in_two_calls() {
    // 1001 devices: one more than the largest page the API serves (per_page=1000).
    let (sim, client) =
        support::start_with(SimConfig::for_tests().with_default_capacity(1100)).await;
    let project = sim.default_project_id().to_owned();
    for i in 0..1001 {
        client
            .create_device(&project, &request(&format!("big-{i}")))
            .await
            .unwrap();
    }
    sim.clear_request_log();

    let devices = client.list_devices(&project).await.unwrap();
    assert_eq!(devices.len(), 1001);
    let mut ids: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1001, "no device is listed twice");

    let pages: Vec<String> = sim.request_log().into_iter().map(|r| r.query).collect();
    assert_eq!(
        pages.len(),
        2,
        "two calls at the maximum page size: {pages:?}"
    );
    assert!(
        pages.iter().all(|q| q.contains("per_page=1000")),
        "{pages:?}"
    );
    assert!(pages[1].contains("page=2"), "{pages:?}");
}

#[tokio::test]
async fn devices_with_tags_finds_exactly_the_machine_across_pages() {
    let (sim, _) = support::start().await;
    let client = MetalClient::new(support::config_for(&sim).with_per_page(1)).unwrap();
    let project = sim.default_project_id().to_owned();
    for i in 0..3 {
        client
            .create_device(&project, &request(&format!("t-{i}")))
            .await
            .unwrap();
    }
    sim.clear_request_log();
    let found = client
        .devices_with_tags(&project, &support::tags("t-2"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].hostname, "t-2");
    // The shared cluster tag went to the server (3 matches, one per page), the rest was
    // checked client-side.
    let log = sim.request_log();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(
        log[0].query.contains("tag=capp%3Acluster-id%3Ademo"),
        "{}",
        log[0].query
    );

    let none = client
        .devices_with_tags(&project, &support::tags("nobody"))
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn updating_tags_and_description_changes_only_those() {
    let (sim, client) = support::start().await;
    let project = sim.default_project_id().to_owned();
    let d = client
        .create_device(&project, &request("u-0"))
        .await
        .unwrap();
    let update = UpdateDevice {
        description: Some("control plane 0".into()),
        tags: Some(vec!["capp:cluster-id:demo".into(), "extra".into()]),
        ..UpdateDevice::default()
    };
    let updated = client.update_device(&d.id, &update).await.unwrap();
    assert_eq!(updated.description.as_deref(), Some("control plane 0"));
    assert_eq!(updated.tags, ["capp:cluster-id:demo", "extra"]);
    assert_eq!(updated.hostname, "u-0");
    let body = sim.request_log().last().unwrap().body.clone().unwrap();
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "only set fields are sent: {body}"
    );
}

#[tokio::test]
async fn deleting_a_provisioning_device_needs_force() {
    let config = SimConfig::for_tests().with_timings(Timings::default());
    let (sim, client) = support::start_with(config).await;
    let project = sim.default_project_id().to_owned();
    let d = client
        .create_device(&project, &request("del-0"))
        .await
        .unwrap();
    sim.advance(std::time::Duration::from_secs(3));
    assert_eq!(
        client.get_device(&d.id).await.unwrap().state,
        DeviceState::Provisioning
    );

    let refused = client.delete_device(&d.id, false).await.unwrap_err();
    assert!(refused.is_unprocessable(), "{refused}");
    assert!(!refused.is_retryable());

    client.delete_device(&d.id, true).await.unwrap();
    let log = sim.request_log();
    assert!(log.last().unwrap().query.contains("force_delete=true"));
    sim.advance(std::time::Duration::from_secs(60));
    let gone = client.get_device(&d.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert!(sim.devices().is_empty());
}

#[tokio::test]
async fn a_clone_shares_counters_with_the_original() {
    let (sim, client) = support::start().await;
    let clone = client.clone();
    clone.get_project(sim.default_project_id()).await.unwrap();
    client.list_metros().await.unwrap();
    let stats = client.stats();
    assert_eq!(stats.attempts_of("findProjectById"), 1);
    assert_eq!(stats.attempts_of("findMetros"), 1);
    assert_eq!(stats.total(), 2);
}
