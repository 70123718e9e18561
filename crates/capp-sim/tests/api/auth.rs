//! Authentication, project visibility and routing errors.

use http::Method;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn requests_without_or_with_a_wrong_token_answer_401_with_the_api_error_body() {
    let (sim, api) = start().await;
    let path = format!("/projects/{}/devices", sim.default_project_id());
    for client in [api.without_token(), api.with_token("nope")] {
        let resp = client.get(&path).await;
        assert_eq!(resp.status, 401);
        assert_eq!(
            resp.json(),
            json!({"error": "Invalid authentication token"})
        );
    }
    assert!(sim.devices().is_empty());
}

#[tokio::test]
async fn a_project_of_another_account_answers_403_and_an_unknown_one_404() {
    let (sim, api) = start().await;
    let foreign = api
        .get(&format!("/projects/{}", sim.foreign_project_id()))
        .await;
    assert_eq!(foreign.status, 403);
    assert_eq!(
        foreign.json(),
        json!({"errors": ["You are not authorized to view this project"]})
    );
    let create = api
        .post(
            &format!("/projects/{}/devices", sim.foreign_project_id()),
            device_body("x"),
        )
        .await;
    assert_eq!(create.status, 403);
    let unknown = api
        .get("/projects/11111111-2222-4333-8444-555555555555")
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json(), json!({"errors": ["Not found"]}));
    let listed = api.get("/projects").await.json();
    assert_eq!(listed["projects"].as_array().unwrap().len(), 1);
    assert_eq!(listed["projects"][0]["id"], sim.default_project_id());
}

#[tokio::test]
async fn unknown_paths_answer_404_and_wrong_methods_405_with_allow() {
    let (_sim, api) = start().await;
    assert_eq!(api.get("/no/such/thing").await.status, 404);
    assert_eq!(api.get("//elsewhere").await.status, 404);
    let resp = api.send(Method::PATCH, "/devices/abc", None).await;
    assert_eq!(resp.status, 405);
    let allow = resp.header("allow").unwrap();
    assert!(allow.contains("GET") && allow.contains("DELETE"), "{allow}");
}

#[tokio::test]
async fn every_response_is_json_with_a_request_id() {
    let (sim, api) = start().await;
    let resp = api
        .get(&format!("/projects/{}", sim.default_project_id()))
        .await;
    assert_eq!(
        resp.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert!(capp_sim::is_uuid(resp.header("x-request-id").unwrap()));
}
