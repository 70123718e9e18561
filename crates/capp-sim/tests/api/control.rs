//! The control surface under `/_sim/v1` over real HTTP: its own token, the state snapshot,
//! failing and sticking one device, capacity, one-shot faults (the ambiguous create) and the
//! clock; and that it matches what the library handle sees.

use std::time::Duration;

use bytes::Bytes;
use capp_sim::{ClockMode, Timings};
use http::Method;
use serde_json::{Value, json};

use super::support::*;

const CONTROL: &str = "ctl-s3cret";

async fn start_controlled(config: SimConfig) -> (Simulator, Api, Control) {
    let (sim, api) = start_with(config.with_control_token(CONTROL)).await;
    let control = Control {
        api: api.clone(),
        bearer: Some(CONTROL.to_owned()),
    };
    (sim, api, control)
}

/// A raw client for the control surface (paths relative to `/_sim/v1`).
struct Control {
    api: Api,
    bearer: Option<String>,
}

impl Control {
    /// `Api` sends `X-Auth-Token`; the control surface wants `Authorization: Bearer`.
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let addr = self.api.root.trim_start_matches("http://").to_owned();
        let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("/_sim/v1{path}"))
            .header("host", &addr)
            .header("content-type", "application/json");
        if let Some(b) = &self.bearer {
            builder = builder.header("authorization", format!("Bearer {b}"));
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = builder.body(http_body_util::Full::new(body)).unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        Resp {
            status,
            headers,
            body,
        }
    }
}

#[tokio::test]
async fn the_surface_is_off_without_a_control_token_and_refuses_every_other_token() {
    let (_sim, api) = start().await;
    let off = Control {
        api: api.clone(),
        bearer: Some(CONTROL.to_owned()),
    };
    assert_eq!(off.send(Method::GET, "/state", None).await.status, 404);

    let (sim, api, control) = start_controlled(SimConfig::for_tests()).await;
    assert!(sim.control_url().unwrap().ends_with("/_sim/v1"));
    for bearer in [None, Some(sim.token().to_owned()), Some("nope".to_owned())] {
        let stranger = Control {
            api: api.clone(),
            bearer,
        };
        let resp = stranger.send(Method::GET, "/state", None).await;
        assert_eq!(resp.status, 401, "{}", resp.text());
    }
    // Nor does the control token open the Metal API.
    let resp = api
        .with_token(CONTROL)
        .get(&format!("/projects/{}", sim.default_project_id()))
        .await;
    assert_eq!(resp.status, 401);
    let resp = control.send(Method::GET, "/nothing", None).await;
    assert_eq!(resp.status, 404);
    let resp = control.send(Method::DELETE, "/state", None).await;
    assert_eq!(resp.status, 405);
    // Control traffic is not Metal traffic: only the Metal request is in the log.
    let log = sim.request_log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].path.starts_with("/metal/v1/"), "{log:?}");
}

#[tokio::test]
async fn a_lost_create_armed_over_http_is_one_device_in_the_snapshot() {
    let (sim, api, control) = start_controlled(SimConfig::for_tests()).await;
    let p = sim.default_project_id().to_owned();
    let resp = control
        .send(
            Method::POST,
            "/faults",
            Some(json!({"fault": "lost", "operation": "createDevice"})),
        )
        .await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let cut = api
        .try_send(
            Method::POST,
            &format!("/projects/{p}/devices"),
            Some(Bytes::from(device_body("ambiguous").to_string())),
            Some("application/json"),
        )
        .await;
    assert!(cut.is_err(), "the connection is cut: {cut:?}");

    let state = control.send(Method::GET, "/state", None).await;
    assert_eq!(state.status, 200);
    let state = state.json();
    let devices = state["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "the create took effect: {state}");
    assert_eq!(devices[0]["hostname"], "ambiguous");
    assert_eq!(devices[0]["state"], "active");
    // The HTTP snapshot is the library's, serialised.
    assert_eq!(state, serde_json::to_value(sim.snapshot()).unwrap());

    // Bad rules name the field.
    for (body, field) in [
        (json!({"fault": "explode"}), "fault"),
        (
            json!({"fault": "lost", "operation": "makeCoffee"}),
            "operation",
        ),
        (json!({"fault": "lost", "times": 0}), "times"),
        (json!({}), "fault"),
    ] {
        let resp = control.send(Method::POST, "/faults", Some(body)).await;
        assert_eq!(resp.status, 422);
        assert!(resp.text().contains(field), "{}", resp.text());
    }
    control
        .send(
            Method::POST,
            "/faults",
            Some(json!({"fault": "status:503"})),
        )
        .await;
    assert_eq!(sim.faults().pending_injections(), 1);
    assert_eq!(
        control.send(Method::DELETE, "/faults", None).await.status,
        204
    );
    assert_eq!(sim.faults().pending_injections(), 0);
}

#[tokio::test]
async fn one_chosen_device_can_be_failed_or_stuck_and_the_snapshot_shows_it() {
    let config = SimConfig::for_tests().with_timings(Timings {
        queued: Duration::from_secs(5),
        provisioning: Duration::from_secs(30),
        deprovisioning: Duration::from_secs(5),
    });
    let (sim, api, control) = start_controlled(config).await;
    let p = sim.default_project_id().to_owned();
    let doomed = create_device(&api, &p, device_body("doomed")).await;
    let stuck = create_device(&api, &p, device_body("stuck")).await;
    let fine = create_device(&api, &p, device_body("fine")).await;

    let resp = control
        .send(Method::POST, &format!("/devices/{doomed}/fail"), None)
        .await;
    assert_eq!(resp.status, 204, "{}", resp.text());
    let resp = control
        .send(Method::POST, &format!("/devices/{stuck}/stick"), None)
        .await;
    assert_eq!(resp.status, 204);
    let resp = control
        .send(
            Method::POST,
            "/devices/11111111-2222-4333-8444-555555555555/fail",
            None,
        )
        .await;
    assert_eq!(resp.status, 404);

    let resp = control
        .send(
            Method::POST,
            "/clock/advance",
            Some(json!({"seconds": 3600})),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let state = control.send(Method::GET, "/state", None).await.json();
    let by_id = |id: &str| {
        state["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
    };
    assert!(by_id(&doomed).is_none(), "an on-demand failure vanishes");
    assert_eq!(state["vanished_devices"], json!([doomed]));
    assert_eq!(by_id(&stuck).unwrap()["state"], "provisioning");
    assert_eq!(by_id(&fine).unwrap()["state"], "active");
    assert!(
        !by_id(&fine).unwrap()["addresses"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let resp = control
        .send(Method::POST, &format!("/devices/{fine}/stick"), None)
        .await;
    assert_eq!(resp.status, 409, "an active device cannot be stuck");
    assert!(resp.text().contains("active"), "{}", resp.text());
}

#[tokio::test]
async fn capacity_and_the_clock_are_steerable_over_http() {
    let config = SimConfig::for_tests()
        .with_clock(ClockMode::Real)
        .with_timings(Timings::default());
    let (sim, api, control) = start_controlled(config).await;
    let p = sim.default_project_id().to_owned();
    let resp = control
        .send(
            Method::PUT,
            "/capacity",
            Some(json!({"metro": "da", "plan": "c3.small.x86", "servers": 0})),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["left"], 0);
    let refused = api
        .post(&format!("/projects/{p}/devices"), device_body("full"))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert_eq!(sim.capacity_left("da", "c3.small.x86"), 0);
    for (body, field) in [
        (
            json!({"metro": "xx", "plan": "c3.small.x86", "servers": 1}),
            "metro",
        ),
        (
            json!({"metro": "da", "plan": "c9.huge", "servers": 1}),
            "plan",
        ),
        (json!({"metro": "da", "plan": "c3.small.x86"}), "servers"),
    ] {
        let resp = control.send(Method::PUT, "/capacity", Some(body)).await;
        assert_eq!(resp.status, 422);
        assert!(resp.text().contains(field), "{}", resp.text());
    }

    // A clock ten thousand times as fast provisions a device (10 s) within milliseconds.
    control
        .send(
            Method::PUT,
            "/capacity",
            Some(json!({"metro": "da", "plan": "c3.small.x86", "servers": 5})),
        )
        .await;
    let dev = create_device(&api, &p, device_body("fast")).await;
    let resp = control
        .send(Method::PUT, "/clock/scale", Some(json!({"scale": 10000})))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["scale"], 10000.0);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        sim.device(&dev).unwrap().state,
        capp_sim::DeviceState::Active
    );
    let resp = control
        .send(Method::PUT, "/clock/scale", Some(json!({"scale": -1})))
        .await;
    assert_eq!(resp.status, 422);
    assert!(resp.text().contains("scale"), "{}", resp.text());
    let resp = control
        .send(Method::PUT, "/clock/scale", Some(json!({"scale": 0})))
        .await;
    let frozen = resp.json()["now"].clone();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let clock = control.send(Method::GET, "/clock", None).await.json();
    assert_eq!(clock["now"], frozen, "scale 0 stops the clock");
    assert!(sim.clock_scale().abs() < f64::EPSILON);
}
