//! The per-device metadata service.

use serde_json::json;

use super::support::*;

#[tokio::test]
async fn metadata_lists_addresses_and_gains_bgp_neighbors_once_a_session_exists() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let dev = create_device(&api, &p, device_body("cp")).await;
    let path = format!("/metadata/{dev}/metadata");
    let meta = api.without_token().get(&path).await;
    assert_eq!(meta.status, 200, "{}", meta.text());
    let meta = meta.json();
    assert_eq!(meta["id"], dev.as_str());
    assert_eq!(meta["hostname"], "cp");
    assert_eq!(meta["metro"], "da");
    assert!(meta.get("bgp_neighbors").is_none());
    let private = meta["network"]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["public"] == false && a["address_family"] == 4)
        .unwrap();
    assert!(private["gateway"].as_str().unwrap().starts_with("10."));

    bgp_session(&api, &p, &dev, "ipv4").await;
    let meta = api.without_token().get(&path).await.json();
    assert_eq!(meta["bgp_neighbors"][0]["peer_as"], 65530);
    assert_eq!(meta["bgp_neighbors"][0]["customer_ip"], private["address"]);
}

#[tokio::test]
async fn userdata_and_ec2_items_are_served_as_plain_text() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let dev = create_device(&api, &p, device_body("cp")).await;
    sim.finish_provisioning();
    let base = sim.metadata_url(&dev);
    assert!(base.ends_with(&format!("/metadata/{dev}")));
    let userdata = api.get(&format!("/metadata/{dev}/userdata")).await;
    assert_eq!(userdata.text(), "#cloud-config\n");
    assert!(
        userdata
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let id = api
        .get(&format!("/metadata/{dev}/2009-04-04/meta-data/instance-id"))
        .await;
    assert_eq!(id.text(), dev);
    let local = api
        .get(&format!("/metadata/{dev}/2009-04-04/meta-data/local-ipv4"))
        .await;
    assert!(local.text().starts_with("10."), "{}", local.text());
}

#[tokio::test]
async fn metadata_of_an_unknown_or_queued_device_is_404() {
    let (sim, api) = start_with(SimConfig::for_tests().with_timings(capp_sim::Timings {
        queued: std::time::Duration::from_secs(30),
        ..capp_sim::Timings::instant()
    }))
    .await;
    let p = sim.default_project_id().to_owned();
    let dev = create_device(&api, &p, device_body("q")).await;
    assert_eq!(
        api.get(&format!("/metadata/{dev}/metadata")).await.status,
        404
    );
    assert_eq!(api.get("/metadata/nope/metadata").await.status, 404);
}

#[tokio::test]
async fn a_device_can_phone_home_and_post_state_events() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let dev = create_device(&api, &p, device_body("cp")).await;
    let meta = api.get(&format!("/metadata/{dev}/metadata")).await.json();
    let events_url = meta["user_state_url"].as_str().unwrap();
    let path = events_url.trim_start_matches(&sim.root_url()).to_owned();
    let resp = api
        .post(
            &path,
            json!({"state": "running", "code": 1000, "message": "booted"}),
        )
        .await;
    assert_eq!(resp.status, 204);
    let posted = sim.request_log().into_iter().last().unwrap();
    assert_eq!(posted.body.unwrap()["message"], "booted");
    assert_eq!(
        api.post("/metadata/nope/phone-home", json!({}))
            .await
            .status,
        404
    );
}
