//! BGP: project config, device sessions and neighbour data.

use serde_json::json;

use super::support::*;

#[tokio::test]
async fn a_bgp_session_needs_the_project_config_and_a_second_one_is_rejected() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let dev = create_device(&api, &p, device_body("cp")).await;
    assert_eq!(
        api.get(&format!("/projects/{p}/bgp-config")).await.json(),
        json!({})
    );
    let early = api
        .post(
            &format!("/devices/{dev}/bgp/sessions"),
            json!({"address_family": "ipv4"}),
        )
        .await;
    assert_eq!(early.status, 422);

    let request = api
        .post(
            &format!("/projects/{p}/bgp-configs"),
            json!({"deployment_type": "local", "asn": 65000, "md5": "", "use_case": "kubernetes-load-balancer"}),
        )
        .await;
    assert_eq!(request.status, 204);
    let config = api.get(&format!("/projects/{p}/bgp-config")).await.json();
    assert_eq!(config["status"], "enabled");
    assert_eq!(config["asn"], 65000);

    let created = api
        .post(
            &format!("/devices/{dev}/bgp/sessions"),
            json!({"address_family": "ipv4"}),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["address_family"], "ipv4");
    let duplicate = api
        .post(
            &format!("/devices/{dev}/bgp/sessions"),
            json!({"address_family": "ipv4"}),
        )
        .await;
    assert_eq!(duplicate.status, 422);
    assert!(
        duplicate.text().contains("already has session"),
        "{}",
        duplicate.text()
    );
    assert_eq!(sim.bgp_session_count(), 1);
}

#[tokio::test]
async fn neighbour_data_names_the_peers_and_the_private_address() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let dev = create_device(&api, &p, device_body("cp")).await;
    api.post(
        &format!("/projects/{p}/bgp-configs"),
        json!({"deployment_type": "local", "asn": 65001, "md5": "Secret12345"}),
    )
    .await;
    api.post(
        &format!("/devices/{dev}/bgp/sessions"),
        json!({"address_family": "ipv4", "default_route": true}),
    )
    .await;
    let device = api.get(&format!("/devices/{dev}")).await.json();
    let private = device["ip_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["public"] == false)
        .unwrap()["address"]
        .clone();
    let body = api
        .get(&format!("/devices/{dev}/bgp/neighbors"))
        .await
        .json();
    let n = &body["bgp_neighbors"][0];
    assert_eq!(n["address_family"], 4);
    assert_eq!(n["customer_as"], 65001);
    assert_eq!(n["customer_ip"], private);
    assert_eq!(n["peer_as"], 65530);
    assert_eq!(n["peer_ips"], json!(["169.254.255.1", "169.254.255.2"]));
    assert_eq!(n["md5_enabled"], true);
    assert_eq!(n["md5_password"], "Secret12345");
    assert_eq!(n["routes_out"][0]["route"], "0.0.0.0/0");
    let sessions = api
        .get(&format!("/devices/{dev}/bgp/sessions"))
        .await
        .json();
    assert_eq!(sessions["bgp_sessions"][0]["status"], "up,up");
}

#[tokio::test]
async fn a_weak_md5_password_is_rejected_naming_the_rule() {
    let (sim, api) = start().await;
    let p = sim.default_project_id();
    let resp = api
        .post(
            &format!("/projects/{p}/bgp-configs"),
            json!({"deployment_type": "local", "asn": 65000, "md5": "short"}),
        )
        .await;
    assert_eq!(resp.status, 422);
    assert!(
        resp.text().contains("md5 must be 10 to 20"),
        "{}",
        resp.text()
    );
}
