//! The control surface: steering a simulator that runs as a separate process.
//!
//! Dev mode, end-to-end and kill tests start the `capp-sim` binary and cannot call
//! [`Simulator`](crate::Simulator) methods, so the same operations are served over HTTP under
//! [`CONTROL_PREFIX`], behind their own bearer token ([`SimConfig::control_token`]). The
//! Metal token is never accepted there and the control token never on `/metal/v1`: a
//! provider under test cannot steer the cloud it talks to.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /_sim/v1/state` | | 200 [`StateSnapshot`]: devices, vanished devices, IP reservations, BGP sessions |
//! | `GET /_sim/v1/operations` | | 200 `{"counts": {"createDevice": 3, ...}}`: Metal API requests per operationId, faults included |
//! | `POST /_sim/v1/devices/{id}/fail` | | 204; 404 unknown device; 409 no longer provisioning |
//! | `POST /_sim/v1/devices/{id}/stick` | | 204; 404; 409 (as above) |
//! | `PUT /_sim/v1/capacity` | `{"metro":"da","plan":"c3.small.x86","servers":2}` | 200 `{metro, plan, servers, left}` |
//! | `POST /_sim/v1/faults` | `{"fault":"lost","operation":"createDevice","times":1}` | 204 (a [`FaultRule`]) |
//! | `DELETE /_sim/v1/faults` | | 204: every injection and rate cleared |
//! | `GET /_sim/v1/clock` | | 200 `{now, scale}` |
//! | `POST /_sim/v1/clock/advance` | `{"seconds":60}` | 200 `{now, scale}` |
//! | `PUT /_sim/v1/clock/scale` | `{"scale":10}` | 200 `{now, scale}` |
//!
//! Errors are `{"errors":["..."]}` naming the field and the fix: 401 without
//! `Authorization: Bearer <control token>`, 404 for unknown paths (and for every path when
//! the surface is off), 405 for a known path with another method, 422 for a bad body.
//! Control requests are not in the request log: it records what Metal clients did.
//!
//! Each operation here is the one [`Simulator`](crate::Simulator) calls (methods on
//! `Shared`), so the library and the HTTP surface cannot drift apart.
//!
//! [`SimConfig::control_token`]: crate::SimConfig::control_token
//! [`StateSnapshot`]: crate::StateSnapshot
//! [`FaultRule`]: crate::FaultRule

use std::time::Duration;

use http::{Method, Request};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::api::BodyUse;
use crate::api::input::Fields;
use crate::faults::{Fault, FaultRule};
use crate::server::{Resp, Shared, empty_response, json_response, read_json_body};
use crate::state::{ApiError, ApiResult, DeviceState, StateSnapshot};

/// Where the control surface lives (beside `/metal/v1`, never under it).
pub(crate) const CONTROL_PREFIX: &str = "/_sim/v1";

/// Why a device could not be steered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SteerError {
    /// No such device.
    Unknown,
    /// The device exists but is past provisioning.
    NotProvisioning(DeviceState),
}

impl Shared {
    /// Everything the cloud holds now, with lifecycle timers fired first.
    pub(crate) fn snapshot(&self) -> StateSnapshot {
        let now = self.clock.now();
        let mut state = self.state();
        state.tick(now);
        state.state_snapshot(now)
    }

    /// Fails one device's provisioning now.
    pub(crate) fn fail_device(&self, id: &str) -> Result<(), SteerError> {
        let now = self.clock.now();
        let mut state = self.state();
        steerable(&mut state, id, now)?;
        state.fail_device(id, now);
        Ok(())
    }

    /// Keeps one device in `provisioning` forever.
    pub(crate) fn stick_device(&self, id: &str) -> Result<(), SteerError> {
        let now = self.clock.now();
        let mut state = self.state();
        steerable(&mut state, id, now)?;
        state.stick_device(id, now);
        Ok(())
    }

    /// Sets the servers of `plan` in `metro`.
    pub(crate) fn set_capacity(&self, metro: &str, plan: &str, servers: u32) {
        self.state()
            .capacity
            .insert((metro.to_owned(), plan.to_owned()), servers);
    }

    /// [`set_capacity`](Self::set_capacity) for a metro and plan of the catalogue; `Err`
    /// names the unknown one and the fix. Returns the servers left.
    pub(crate) fn set_known_capacity(
        &self,
        metro: &str,
        plan: &str,
        servers: u32,
    ) -> Result<u32, String> {
        if crate::catalog::metro(metro).is_none() {
            return Err(format!(
                "metro {metro:?} is not in the catalogue; use a code such as da, sv, ny, am, fr or sg"
            ));
        }
        if crate::catalog::plan(plan).is_none() {
            return Err(format!(
                "plan {plan:?} is not in the catalogue; use a slug such as c3.small.x86"
            ));
        }
        self.set_capacity(metro, plan, servers);
        Ok(self.state().capacity_left(metro, plan))
    }

    /// Sets the clock's pace; `Err` names the valid range.
    pub(crate) fn set_clock_scale(&self, scale: f64) -> Result<(), String> {
        if !crate::clock::valid_scale(scale) {
            return Err(format!(
                "scale is {scale}; use a pace between 0 and 1000000 (1 is wall time, 0 stops the clock)"
            ));
        }
        self.clock.set_scale(scale);
        Ok(())
    }
}

/// The device's state if it can still be failed or stuck, after firing its timers.
fn steerable(
    state: &mut crate::state::State,
    id: &str,
    now: jiff::Timestamp,
) -> Result<DeviceState, SteerError> {
    state.tick(now);
    match state.devices.get(id).map(|d| d.state) {
        None => Err(SteerError::Unknown),
        Some(s @ (DeviceState::Queued | DeviceState::Provisioning)) => Ok(s),
        Some(other) => Err(SteerError::NotProvisioning(other)),
    }
}

/// Serves one control request (the path after [`CONTROL_PREFIX`]).
pub(crate) async fn handle(
    shared: &Shared,
    req: Request<Incoming>,
    rest: &str,
    method: &Method,
) -> Resp {
    let Some(expected) = shared.control_token.as_deref() else {
        return json_response(404, &json!({"errors": ["Not found"]}));
    };
    let presented = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented != Some(expected) {
        return json_response(
            401,
            &json!({"error": "the control surface needs Authorization: Bearer <control token> (the Metal API token is not accepted here)"}),
        );
    }
    let body = match read_json_body(shared, req, BodyUse::Optional).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let segments: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let outcome = route(shared, method, &segments, body.as_ref());
    tracing::debug!(%method, path = %rest, "Control request");
    match outcome {
        Ok(Some(value)) => json_response(200, &value),
        Ok(None) => empty_response(204),
        Err(error) => json_response(error.status, &json!({"errors": [error.message]})),
    }
}

fn route(
    shared: &Shared,
    method: &Method,
    segments: &[&str],
    body: Option<&Value>,
) -> ApiResult<Option<Value>> {
    let allow =
        |allowed: &str| ApiError::new(405, format!("{method} is not allowed here; use {allowed}"));
    match segments {
        ["state"] => match *method {
            Method::GET => Ok(Some(
                serde_json::to_value(shared.snapshot()).unwrap_or(Value::Null),
            )),
            _ => Err(allow("GET")),
        },
        ["operations"] => match *method {
            Method::GET => Ok(Some(json!({"counts": shared.observer.counts()}))),
            _ => Err(allow("GET")),
        },
        ["devices", id, action @ ("fail" | "stick")] => {
            if *method != Method::POST {
                return Err(allow("POST"));
            }
            let result = if *action == "fail" {
                shared.fail_device(id)
            } else {
                shared.stick_device(id)
            };
            match result {
                Ok(()) => Ok(None),
                Err(SteerError::Unknown) => {
                    Err(ApiError::new(404, format!("device {id} does not exist")))
                }
                Err(SteerError::NotProvisioning(state)) => Err(ApiError::new(
                    409,
                    format!(
                        "device {id} is {state}: only a queued or provisioning device can {action}"
                    ),
                )),
            }
        }
        ["capacity"] => match *method {
            Method::PUT => set_capacity(shared, body).map(Some),
            _ => Err(allow("PUT")),
        },
        ["faults"] => match *method {
            Method::POST => inject(shared, body).map(|()| None),
            Method::DELETE => {
                shared.faults.clear();
                Ok(None)
            }
            _ => Err(allow("POST, DELETE")),
        },
        ["clock"] => match *method {
            Method::GET => Ok(Some(clock_json(shared))),
            _ => Err(allow("GET")),
        },
        ["clock", "advance"] => match *method {
            Method::POST => {
                let fields = Fields::of(body)?;
                let seconds = fields.f64("seconds")?.ok_or_else(|| {
                    ApiError::unprocessable("seconds can't be blank: send {\"seconds\": 60}")
                })?;
                let by = Duration::try_from_secs_f64(seconds).map_err(|_| {
                    ApiError::unprocessable(format!(
                        "seconds must be a non-negative number, got {seconds}"
                    ))
                })?;
                shared.clock.advance(by);
                Ok(Some(clock_json(shared)))
            }
            _ => Err(allow("POST")),
        },
        ["clock", "scale"] => match *method {
            Method::PUT => {
                let fields = Fields::of(body)?;
                let scale = fields.f64("scale")?.ok_or_else(|| {
                    ApiError::unprocessable("scale can't be blank: send {\"scale\": 10}")
                })?;
                shared
                    .set_clock_scale(scale)
                    .map_err(ApiError::unprocessable)?;
                Ok(Some(clock_json(shared)))
            }
            _ => Err(allow("PUT")),
        },
        _ => Err(ApiError::not_found()),
    }
}

fn clock_json(shared: &Shared) -> Value {
    json!({
        "now": crate::clock::format_ts(shared.clock.now()),
        "scale": shared.clock.scale(),
    })
}

fn set_capacity(shared: &Shared, body: Option<&Value>) -> ApiResult<Value> {
    let fields = Fields::of(body)?;
    let metro = fields.required_string(
        "metro",
        "metro can't be blank: send a metro code such as da",
    )?;
    let plan = fields.required_string(
        "plan",
        "plan can't be blank: send a plan slug such as c3.small.x86",
    )?;
    let servers = fields
        .u64("servers")?
        .ok_or_else(|| ApiError::unprocessable("servers can't be blank: send a whole number"))?;
    let servers = u32::try_from(servers)
        .map_err(|_| ApiError::unprocessable("servers must be at most 4294967295"))?;
    let left = shared
        .set_known_capacity(&metro, &plan, servers)
        .map_err(ApiError::unprocessable)?;
    Ok(json!({"metro": metro, "plan": plan, "servers": servers, "left": left}))
}

fn inject(shared: &Shared, body: Option<&Value>) -> ApiResult<()> {
    let fields = Fields::of(body)?;
    let fault: Fault = fields
        .required_string(
            "fault",
            "fault can't be blank: send e.g. {\"fault\": \"lost\", \"operation\": \"createDevice\"}",
        )?
        .parse()
        .map_err(|e: String| ApiError::unprocessable(format!("fault: {e}")))?;
    let operation = fields.string("operation")?;
    if let Some(op) = &operation
        && !crate::api::routes().iter().any(|r| r.operation == op)
    {
        return Err(ApiError::unprocessable(format!(
            "operation {op:?} is not an implemented operationId; use one such as createDevice or findDeviceById"
        )));
    }
    let times = fields.u64("times")?.unwrap_or(1);
    let times = u32::try_from(times)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ApiError::unprocessable("times must be a whole number from 1 to 4294967295")
        })?;
    shared.faults.inject_rule(FaultRule {
        fault,
        operation,
        times,
    });
    Ok(())
}
