//! The HTTP/1.1 server: accept loop, per-request pipeline (faults, auth, body limits,
//! routing, logging) and graceful shutdown.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::{self, ApiRequest, BodyUse, Matched, Reply};
use crate::clock::Clock;
use crate::faults::{Action, Faults, RateInfo};
use crate::metadata;
use crate::observe::{Observer, RequestRecord};
use crate::state::State;

/// The API prefix every route lives under.
pub(crate) const API_PREFIX: &str = "/metal/v1";

/// The real API's 500 text.
const OH_SNAP: &str = "Oh snap, something went wrong! We've logged the error and will take a look - please reach out to us if you continue having trouble.";

/// Everything a request needs, shared by all connections and the handle.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) clock: Clock,
    pub(crate) faults: Faults,
    pub(crate) observer: Observer,
    pub(crate) fault_rng: Mutex<StdRng>,
    pub(crate) token: String,
    pub(crate) max_body_bytes: usize,
    pub(crate) root_url: String,
    /// The control surface's bearer token (`None`: the surface is off).
    pub(crate) control_token: Option<String>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not derived: the token stays out of any Debug output.
        f.debug_struct("Shared")
            .field("root_url", &self.root_url)
            .field("token", &"[REDACTED]")
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn rng(&self) -> MutexGuard<'_, StdRng> {
        self.fault_rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn fault_rng(seed: u64) -> Mutex<StdRng> {
    Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed_fa17))
}

/// A response body that can be cut short to simulate a truncated transfer.
#[derive(Debug)]
pub(crate) struct SimBody {
    data: Option<Bytes>,
    /// Announced length when truncating (larger than what is sent).
    announced: Option<u64>,
    fail_after_data: bool,
}

impl SimBody {
    fn full(data: impl Into<Bytes>) -> Self {
        Self {
            data: Some(data.into()),
            announced: None,
            fail_after_data: false,
        }
    }

    fn empty() -> Self {
        Self {
            data: None,
            announced: None,
            fail_after_data: false,
        }
    }

    /// Sends the first half of `data` after announcing its full length, then fails.
    fn truncated(data: &Bytes) -> Self {
        let half = data.slice(0..data.len() / 2);
        Self {
            data: Some(half),
            announced: Some(data.len() as u64),
            fail_after_data: true,
        }
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if this.fail_after_data {
            this.fail_after_data = false;
            return Poll::Ready(Some(Err(std::io::Error::other(
                "capp-sim: simulated truncated response",
            ))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && !self.fail_after_data
    }

    fn size_hint(&self) -> SizeHint {
        match (self.announced, &self.data) {
            (Some(n), _) => SizeHint::with_exact(n),
            (None, Some(d)) => SizeHint::with_exact(d.len() as u64),
            (None, None) => SizeHint::with_exact(0),
        }
    }
}

/// The error a service returns to make hyper drop the connection without a response.
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("capp-sim: simulated dropped connection")
    }
}

impl std::error::Error for Dropped {}

/// Runs the accept loop until `shutdown` flips to `true`, then lets open connections finish.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                let mut stop = shutdown.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        async move { handle(&shared, req).await }
                    });
                    let conn = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        () = async { let _ = stop.wait_for(|s| *s).await; } => {
                            conn.as_mut().graceful_shutdown();
                            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                        }
                    }
                });
                // Reap finished connections so the set does not grow without bound.
                while connections.try_join_next().is_some() {}
            }
            () = async { let _ = shutdown.wait_for(|s| *s).await; } => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

pub(crate) type Resp = Response<SimBody>;

async fn handle(shared: &Shared, req: Request<Incoming>) -> Result<Resp, Dropped> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let raw_query = req.uri().query().unwrap_or("").to_owned();
    let mut record = RequestRecord::new(method.as_str(), &path, &raw_query);

    if let Some(rest) = path.strip_prefix(crate::control::CONTROL_PREFIX) {
        let rest = rest.to_owned();
        // Not in the request log: it records what Metal clients did.
        return Ok(crate::control::handle(shared, req, &rest, &method).await);
    }
    if let Some(rest) = path.strip_prefix("/metadata/") {
        let rest = rest.to_owned();
        return Ok(metadata_request(shared, req, &method, &rest, record).await);
    }
    let Some(api_path) = path
        .strip_prefix(API_PREFIX)
        .filter(|p| p.is_empty() || p.starts_with('/'))
    else {
        let response = json_response(404, &json!({"errors": ["Not found"]}));
        return Ok(finish(shared, record, response, None));
    };
    let matched = api::find_route(&method, api_path);
    let operation = match &matched {
        Matched::Route(route, _) => Some(route.operation),
        _ => None,
    };
    record.operation = operation.map(str::to_owned);

    let decision = shared.faults.decide(operation, &mut *shared.rng());
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let early = early_fault(decision.action, operation, decision.send_retry_after);
    let (no_capacity, post_fault) = match early {
        Early::Continue {
            no_capacity,
            post_fault,
        } => {
            if no_capacity {
                record.fault = Some("no capacity".to_owned());
            }
            (no_capacity, post_fault)
        }
        Early::Drop => {
            record.fault = Some("drop".to_owned());
            shared.observer.record(record);
            return Err(Dropped);
        }
        Early::Respond(response, fault) => {
            record.fault = Some(fault);
            return Ok(finish(shared, record, response, None));
        }
    };

    let (route, params, rate) =
        match admit(shared, &req, matched, &method, decision.send_retry_after) {
            Ok(admitted) => admitted,
            Err((response, fault)) => {
                record.fault = fault;
                return Ok(finish(shared, record, *response, None));
            }
        };

    let body = match read_json_body(shared, req, route.body).await {
        Ok(body) => body,
        Err(mut response) => {
            rate_headers(&mut response, rate);
            return Ok(finish(shared, record, response, None));
        }
    };
    record.body.clone_from(&body);

    let request = ApiRequest {
        params,
        query: api::parse_query(&raw_query),
        body,
        now: shared.clock.now(),
        no_capacity,
    };
    let reply = {
        let mut state = shared.state();
        api::dispatch(route, &mut state, &request)
    };
    let mut response = match reply {
        Reply::Json(status, value) => json_response(status, &value),
        Reply::Empty(status) => empty_response(status),
    };
    rate_headers(&mut response, rate);
    if post_fault == Some(Action::Lost) {
        record.status = response.status().as_u16();
        record.fault = Some("lost".to_owned());
        shared.observer.record(record);
        return Err(Dropped);
    }
    if post_fault == Some(Action::Hang) {
        // Recorded (and counted) before the wait: the counters tell a test the effect happened
        // while the client still waits for an answer.
        record.status = response.status().as_u16();
        record.fault = Some("hang".to_owned());
        shared.observer.record(record);
        drop(response);
        tokio::time::sleep(crate::faults::HANG_LIMIT).await;
        return Err(Dropped);
    }
    Ok(finish(shared, record, response, post_fault))
}

/// A request past authentication: its route, path parameters and rate-limit figures.
type Admitted = (&'static api::Route, Vec<String>, Option<RateInfo>);
/// A refused request: the answer, and the fault to log (if any).
type Refused = (Box<Resp>, Option<String>);

/// Authentication, then the per-token request-rate limit (only authenticated requests
/// count, as the API's own limit did). `Err` carries the answer and the fault to log.
fn admit(
    shared: &Shared,
    req: &Request<Incoming>,
    matched: Matched,
    method: &Method,
    send_retry_after: bool,
) -> Result<Admitted, Refused> {
    let authorized = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t == shared.token);
    let verdict = if authorized {
        shared.faults.count_request(&shared.token)
    } else {
        None
    };
    let rate = verdict.map(|v| v.info);
    let (route, params) = authorize(authorized, matched, method).map_err(|mut response| {
        rate_headers(&mut response, rate);
        (response, None)
    })?;
    if let Some(verdict) = verdict.filter(|v| v.exceeded) {
        return Err((
            Box::new(rate_limited(verdict.info, send_retry_after)),
            Some("rate limited".to_owned()),
        ));
    }
    Ok((route, params, rate))
}

/// 401 without the token, 405 for a known path with another method, 404 for unknown paths.
fn authorize(
    authorized: bool,
    matched: Matched,
    method: &Method,
) -> Result<(&'static api::Route, Vec<String>), Box<Resp>> {
    match (authorized, matched) {
        (false, _) => Err(Box::new(json_response(
            401,
            &json!({"error": "Invalid authentication token"}),
        ))),
        (true, Matched::Route(route, params)) => Ok((route, params)),
        (true, Matched::WrongMethod(allowed)) => {
            let mut response = json_response(
                405,
                &json!({"errors": [format!("{method} is not allowed here; use {}", allowed.join(", "))]}),
            );
            set_header(&mut response, header::ALLOW, &allowed.join(", "));
            Err(Box::new(response))
        }
        (true, Matched::NotFound) => Err(Box::new(json_response(
            404,
            &json!({"errors": ["Not found"]}),
        ))),
    }
}

/// The metadata service: GETs of device data, POSTs of phone-home and state events (whose
/// bodies go to the request log).
async fn metadata_request(
    shared: &Shared,
    req: Request<Incoming>,
    method: &Method,
    rest: &str,
    mut record: RequestRecord,
) -> Resp {
    if method == Method::POST {
        let response = match read_json_body(shared, req, BodyUse::Optional).await {
            Ok(body) => {
                record.body = body;
                let reply = metadata::post(&shared.state(), rest);
                text_response(reply.status, reply.content_type, reply.body)
            }
            Err(response) => response,
        };
        return finish(shared, record, response, None);
    }
    finish(shared, record, serve_metadata(shared, method, rest), None)
}

fn serve_metadata(shared: &Shared, method: &Method, rest: &str) -> Resp {
    if method != Method::GET {
        return json_response(
            405,
            &json!({"error": "the metadata service answers GET, and POST to phone-home and events"}),
        );
    }
    let now = shared.clock.now();
    let reply = metadata::handle(&mut shared.state(), rest, now, &shared.root_url);
    text_response(reply.status, reply.content_type, reply.body)
}

/// What the fault decision means before the request is handled.
enum Early {
    /// Handle the request (with these flags).
    Continue {
        no_capacity: bool,
        post_fault: Option<Action>,
    },
    /// Close the connection.
    Drop,
    /// Answer this instead (with a description of the fault for the log).
    Respond(Resp, String),
}

fn early_fault(action: Action, operation: Option<&str>, send_retry_after: bool) -> Early {
    let proceed = |no_capacity, post_fault| Early::Continue {
        no_capacity,
        post_fault,
    };
    match action {
        Action::Handle => proceed(false, None),
        Action::Truncate | Action::Garbage | Action::Lost | Action::Hang => {
            proceed(false, Some(action))
        }
        Action::NoCapacity if operation == Some("createDevice") => proceed(true, None),
        Action::Drop => Early::Drop,
        Action::RateLimited => {
            let info = RateInfo {
                limit: 1,
                remaining: 0,
                reset_unix: unix_now() + 1,
                retry_after: 1,
            };
            Early::Respond(
                rate_limited(info, send_retry_after),
                "rate limited".to_owned(),
            )
        }
        Action::Status(code) => Early::Respond(fault_response(code), format!("status {code}")),
        Action::NoCapacity => Early::Respond(fault_response(503), "status 503".to_owned()),
    }
}

/// The 429 of the request-rate limit (or an injected one).
fn rate_limited(info: RateInfo, send_retry_after: bool) -> Resp {
    let mut response = json_response(
        429,
        &json!({"errors": [format!("Rate limit exceeded; retry after {} seconds", info.retry_after)]}),
    );
    rate_headers(&mut response, Some(info));
    if send_retry_after {
        set_header(
            &mut response,
            header::RETRY_AFTER,
            &info.retry_after.to_string(),
        );
    }
    response
}

/// Reads the body (bounded, whatever the route, so the connection stays usable) and parses
/// it as JSON when the route takes one.
pub(crate) async fn read_json_body(
    shared: &Shared,
    req: Request<Incoming>,
    body_use: BodyUse,
) -> Result<Option<Value>, Resp> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let bytes = match Limited::new(req.into_body(), shared.max_body_bytes)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            let too_big = error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            return Err(if too_big {
                json_response(
                    413,
                    &json!({"errors": [format!("request body exceeds {} bytes", shared.max_body_bytes)]}),
                )
            } else {
                json_response(
                    400,
                    &json!({"errors": ["the request body could not be read"]}),
                )
            });
        }
    };
    if body_use == BodyUse::None || bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if let Some(ct) = &content_type
        && !ct.starts_with("application/json")
    {
        return Err(json_response(
            415,
            &json!({"errors": [format!("Content-Type {ct} is not supported; send application/json")]}),
        ));
    }
    serde_json::from_slice::<Value>(&bytes)
        .map(Some)
        .map_err(|error| {
            json_response(
                422,
                &json!({"errors": [format!("request body is not valid JSON: {error}")]}),
            )
        })
}

/// Records the request and applies a post-handling fault (truncation, garbage).
pub(crate) fn finish(
    shared: &Shared,
    mut record: RequestRecord,
    response: Resp,
    post: Option<Action>,
) -> Resp {
    record.status = response.status().as_u16();
    let response = match post {
        Some(Action::Truncate) => {
            record.fault = Some("truncate".to_owned());
            let (parts, body) = response.into_parts();
            let data = body.data.unwrap_or_default();
            Response::from_parts(parts, SimBody::truncated(&data))
        }
        Some(Action::Garbage) => {
            record.fault = Some("garbage".to_owned());
            record.status = 200;
            let (mut parts, body) = response.into_parts();
            let data = body.data.unwrap_or_else(|| Bytes::from_static(b"{}"));
            let cut = data.slice(0..data.len() / 2);
            let mut garbage = cut.to_vec();
            garbage.extend_from_slice(b"\x00<html>");
            parts.status = StatusCode::OK;
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            Response::from_parts(parts, SimBody::full(garbage))
        }
        _ => response,
    };
    tracing::debug!(
        method = %record.method,
        path = %record.path,
        operation = record.operation.as_deref().unwrap_or("-"),
        status = record.status,
        fault = record.fault.as_deref().unwrap_or("-"),
        "Request"
    );
    shared.observer.record(record);
    response
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn base_response(code: u16, body: SimBody) -> Resp {
    static REQUEST_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut response = Response::new(body);
    *response.status_mut() = status(code);
    let n = REQUEST_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = crate::ids::stable_uuid(&format!("request:{n}"));
    set_header(&mut response, "x-request-id", &id);
    response
}

pub(crate) fn json_response(code: u16, value: &Value) -> Resp {
    let mut response = base_response(code, SimBody::full(value.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn text_response(code: u16, content_type: &'static str, body: String) -> Resp {
    let mut response = base_response(code, SimBody::full(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(crate) fn empty_response(code: u16) -> Resp {
    base_response(code, SimBody::empty())
}

/// What an injected server error looks like: JSON from the API for 500/503, HTML from the
/// intermediary (varnish) for 502/504.
fn fault_response(code: u16) -> Resp {
    let mut response = match code {
        500 => json_response(500, &json!({"errors": [OH_SNAP]})),
        503 => json_response(
            503,
            &json!({"errors": ["Service Unavailable: the API is temporarily overloaded, please retry"]}),
        ),
        502 | 504 => {
            let reason = status(code).canonical_reason().unwrap_or("Error");
            text_response(
                code,
                "text/html; charset=utf-8",
                format!(
                    "<html><body><h1>{code} {reason}</h1>\nThe server is temporarily unable to service your request.\n</body></html>\n"
                ),
            )
        }
        other => json_response(other, &json!({"errors": ["simulated fault"]})),
    };
    set_header(&mut response, "via", "1.1 varnish");
    response
}

fn rate_headers(response: &mut Resp, rate: Option<RateInfo>) {
    if let Some(info) = rate {
        set_header(response, "x-ratelimit-limit", &info.limit.to_string());
        set_header(
            response,
            "x-ratelimit-remaining",
            &info.remaining.to_string(),
        );
        set_header(response, "x-ratelimit-reset", &info.reset_unix.to_string());
    }
}

fn set_header<K: header::IntoHeaderName>(response: &mut Resp, name: K, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
