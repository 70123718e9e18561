//! Probes of every implemented operation for the generic refusals (401, 403, 404, 422), run
//! inside the conformance scenario so their undeclared statuses land in its `UNDECLARED`
//! table, and the statuses any operation can answer.

use capp_sim::Simulator;
use http::Method;
use serde_json::json;

use super::conformance::{Checker, spec};
use super::support::*;

/// Statuses every operation can answer, none of which the spec declares for the operations
/// the simulator implements (checked below): an unreadable body (400), a body over
/// `max_body_bytes` (413), a non-JSON `Content-Type` (415), the request-rate limit or an
/// injected 429, and injected server errors (500 and 503 as JSON from the API, 502 and 504 as
/// HTML from an intermediary). docs/simulator.md lists them too.
const ANY_OPERATION: &[u16] = &[400, 413, 415, 429, 500, 502, 503, 504];

/// Sends every implemented operation the requests that get the generic refusals: no token
/// (401), ids that do not exist (404), another account's project or a vanished device (403)
/// and a body that is not JSON (422). Each answer is validated like the scenario's, so every
/// status they produce that the spec does not declare must be in the conformance test's
/// `UNDECLARED` table.
pub(crate) async fn probe_every_operation(c: &mut Checker<'_>, sim: &Simulator, api: &Api) {
    let p = sim.default_project_id().to_owned();
    let unknown = "11111111-2222-4333-8444-555555555555";
    // A device that vanished after a failed provisioning answers 403 wherever it is named.
    let mut doomed = device_body("doomed");
    doomed["tags"] = json!(["probe"]);
    let vanished = create_device(api, &p, doomed).await;
    assert!(sim.fail_device(&vanished));
    for (method, pattern, operation) in Simulator::operations() {
        let method: Method = method.parse().unwrap();
        let with = |id: &str| pattern.replace("{id}", id);
        let has_body = matches!(method, Method::POST | Method::PUT | Method::PATCH);
        let body = has_body.then(|| json!({}));
        let resp = api
            .without_token()
            .send(method.clone(), &with(unknown), body.clone())
            .await;
        c.validate(operation, &resp);
        let mut ids = vec![unknown.to_owned()];
        if pattern.starts_with("/projects/{id}") {
            ids.push(sim.foreign_project_id().to_owned());
        }
        if pattern.starts_with("/devices/{id}") {
            ids.push(vanished.clone());
        }
        for id in ids {
            // Only paths with an id: the others were exercised with success above, and a
            // create with `{}` would only repeat the scenario's validation errors.
            if !pattern.contains("{id}") {
                continue;
            }
            let resp = api.send(method.clone(), &with(&id), body.clone()).await;
            c.validate(operation, &resp);
        }
        if operation == "findProjectDevices" {
            let resp = api
                .get(&format!("/projects/{p}/devices?reserved=maybe"))
                .await;
            assert_eq!(resp.status, 422, "{}", resp.text());
            c.validate(operation, &resp);
        }
        if has_body {
            let resp = api
                .try_send(
                    method.clone(),
                    &with(&p),
                    Some(bytes::Bytes::from_static(b"{not json")),
                    Some("application/json"),
                )
                .await
                .unwrap();
            assert_eq!(resp.status, 422, "{operation}: {}", resp.text());
            c.validate(operation, &resp);
        }
    }
}

#[test]
fn the_statuses_any_operation_can_answer_are_undeclared_everywhere() {
    let Some(spec) = spec() else { return };
    for (_, _, operation) in Simulator::operations() {
        for status in ANY_OPERATION {
            assert!(
                matches!(
                    spec.validate_response(operation, *status, None),
                    Err(capp_sim::Error::NotInSpec(_))
                ),
                "{operation} declares {status}: drop it from ANY_OPERATION's documentation"
            );
        }
    }
}
