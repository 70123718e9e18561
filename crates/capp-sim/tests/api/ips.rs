//! Elastic IPs: reservations, assignment to devices, unassignment and cleanup.

use serde_json::json;

use super::support::*;

async fn reserve(api: &Api, project: &str, body: serde_json::Value) -> serde_json::Value {
    let resp = api.post(&format!("/projects/{project}/ips"), body).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    resp.json()
}

#[tokio::test]
async fn an_elastic_ip_assigned_to_a_device_shows_on_the_device_and_the_reservation() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let dev = create_device(&api, &p, device_body("cp")).await;
    let eip = reserve(
        &api,
        &p,
        json!({"type": "public_ipv4", "quantity": 1, "metro": "da", "tags": ["cluster-api-provider-packet:cluster-id:demo"]}),
    )
    .await;
    assert_eq!(eip["cidr"], 32);
    assert_eq!(eip["netmask"], "255.255.255.255");
    assert_eq!(eip["assignments"], json!([]));
    let address = eip["address"].as_str().unwrap();

    let resp = api
        .post(&format!("/devices/{dev}/ips"), json!({"address": address}))
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    let assignment = resp.json();
    assert_eq!(assignment["address"], address);
    assert_eq!(assignment["management"], false);
    assert_eq!(
        assignment["assigned_to"]["href"],
        format!("/metal/v1/devices/{dev}")
    );

    let device_ips = api.get(&format!("/devices/{dev}/ips")).await.json();
    let addresses: Vec<&str> = device_ips["ip_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert!(addresses.contains(&address), "{addresses:?}");
    let listed = api
        .get(&format!("/projects/{p}/ips?include=assignments"))
        .await
        .json();
    assert_eq!(
        listed["ip_addresses"][0]["assignments"][0]["address"],
        address
    );
    assert_eq!(listed["meta"]["total"], 1);
    assert_eq!(
        sim.ip_reservations()[0].assigned_to,
        std::slice::from_ref(&dev)
    );

    let again = api
        .post(&format!("/devices/{dev}/ips"), json!({"address": address}))
        .await;
    assert_eq!(again.status, 422);
}

#[tokio::test]
async fn unassigning_frees_the_address_and_deleting_the_device_releases_it_too() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let a = create_device(&api, &p, device_body("a")).await;
    let b = create_device(&api, &p, device_body("b")).await;
    let eip = reserve(
        &api,
        &p,
        json!({"type": "public_ipv4", "quantity": 1, "metro": "da"}),
    )
    .await;
    let address = eip["address"].as_str().unwrap();
    let assignment = api
        .post(&format!("/devices/{a}/ips"), json!({"address": address}))
        .await
        .json();
    let unassign = api
        .delete(&format!("/ips/{}", assignment["id"].as_str().unwrap()))
        .await;
    assert_eq!(unassign.status, 204);
    assert!(sim.ip_reservations()[0].assigned_to.is_empty());

    let to_b = api
        .post(&format!("/devices/{b}/ips"), json!({"address": address}))
        .await;
    assert_eq!(to_b.status, 201);
    assert_eq!(api.delete(&format!("/devices/{b}")).await.status, 204);
    assert!(sim.ip_reservations()[0].assigned_to.is_empty());
    let reservation_id = eip["id"].as_str().unwrap();
    assert_eq!(
        api.delete(&format!("/ips/{reservation_id}")).await.status,
        204
    );
    assert!(sim.ip_reservations().is_empty());
    assert_eq!(api.get(&format!("/ips/{reservation_id}")).await.status, 404);
}

#[tokio::test]
async fn a_reservation_in_another_metro_cannot_be_assigned() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let dev = create_device(&api, &p, device_body("a")).await;
    let eip = reserve(
        &api,
        &p,
        json!({"type": "public_ipv4", "quantity": 1, "metro": "sv"}),
    )
    .await;
    let resp = api
        .post(
            &format!("/devices/{dev}/ips"),
            json!({"address": eip["address"]}),
        )
        .await;
    assert_eq!(resp.status, 422);
    assert!(resp.text().contains("metro sv"), "{}", resp.text());
}

#[tokio::test]
async fn large_requests_need_approval_and_fail_when_approval_is_refused() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    let refused = api
        .post(
            &format!("/projects/{p}/ips"),
            json!({"type": "public_ipv4", "quantity": 16, "metro": "da", "fail_on_approval_required": true}),
        )
        .await;
    assert_eq!(refused.status, 422);
    let pending = reserve(
        &api,
        &p,
        json!({"type": "public_ipv4", "quantity": 16, "metro": "da"}),
    )
    .await;
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["cidr"], 28);
}

#[tokio::test]
async fn reservations_of_one_project_are_listed_with_type_filters_and_pages() {
    let (sim, api) = start().await;
    let p = sim.default_project_id().to_owned();
    for _ in 0..3 {
        reserve(
            &api,
            &p,
            json!({"type": "public_ipv4", "quantity": 1, "metro": "da"}),
        )
        .await;
    }
    reserve(
        &api,
        &p,
        json!({"type": "private_ipv4", "quantity": 4, "metro": "da"}),
    )
    .await;
    let public = api
        .get(&format!("/projects/{p}/ips?types=public_ipv4&per_page=2"))
        .await
        .json();
    assert_eq!(public["meta"]["total"], 3);
    assert_eq!(public["ip_addresses"].as_array().unwrap().len(), 2);
    let all = api.get(&format!("/projects/{p}/ips")).await.json();
    assert_eq!(all["ip_addresses"].as_array().unwrap().len(), 4);
    let addresses: std::collections::BTreeSet<&str> = all["ip_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["network"].as_str().unwrap())
        .collect();
    assert_eq!(addresses.len(), 4, "blocks must not overlap");
}
