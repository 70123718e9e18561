//! The `/metal/v1` API: routing table, request context, pagination and the handlers.
//!
//! Every route carries the spec's operationId; the handlers run synchronously under the
//! state lock (no `.await` inside), so each request sees and leaves a consistent state.

use http::Method;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::state::render::Include;
use crate::state::{ApiError, ApiResult, State};

mod bgp;
mod catalog;
mod devices;
pub(crate) mod input;
mod ips;
mod projects;

/// What a handler answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// A JSON body with this status.
    Json(u16, Value),
    /// No body (204, 202).
    Empty(u16),
}

/// One API request as the handlers see it.
#[derive(Debug)]
pub(crate) struct ApiRequest {
    /// Path parameters (the `{id}`s), in order.
    pub(crate) params: Vec<String>,
    /// Decoded query pairs.
    pub(crate) query: Vec<(String, String)>,
    /// The parsed JSON body (`None` when the request had none).
    pub(crate) body: Option<Value>,
    /// The simulated now.
    pub(crate) now: Timestamp,
    /// An injected `Fault::NoCapacity`: `createDevice` answers its capacity error.
    pub(crate) no_capacity: bool,
}

impl ApiRequest {
    pub(crate) fn param(&self, i: usize) -> &str {
        self.params.get(i).map_or("", String::as_str)
    }

    /// The last value of a query parameter (also accepts the `name[]` spelling).
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        let bracketed = format!("{name}[]");
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name || *k == bracketed)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a multi-valued query parameter: `a=x&a=y`, `a[]=x` and `a=x,y`.
    pub(crate) fn query_all(&self, name: &str) -> Vec<String> {
        let bracketed = format!("{name}[]");
        self.query
            .iter()
            .filter(|(k, _)| k == name || *k == bracketed)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub(crate) fn include(&self) -> Include {
        Include::parse(Some(&self.query_all("include").join(",")))
    }

    /// A boolean query flag (`true`/`false`/`1`/`0`); absent is `false`.
    pub(crate) fn flag(&self, name: &str) -> ApiResult<bool> {
        match self.query(name) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1" | "") => Ok(true),
            Some(other) => Err(ApiError::unprocessable(format!(
                "{name} must be true or false, got {other:?}"
            ))),
        }
    }
}

type Handler = fn(&mut State, &ApiRequest) -> ApiResult<Reply>;

/// Whether a route needs a JSON request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyUse {
    /// Ignored if sent.
    None,
    /// Parsed when present (DELETE /devices accepts `{"force_delete":true}` too).
    Optional,
    /// Must be present and valid JSON.
    Required,
}

/// One row of the routing table.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) method: Method,
    pub(crate) pattern: &'static str,
    pub(crate) operation: &'static str,
    pub(crate) body: BodyUse,
    handler: Handler,
}

macro_rules! route {
    ($m:ident, $p:literal, $op:literal, $body:ident, $h:path) => {
        Route {
            method: Method::$m,
            pattern: $p,
            operation: $op,
            body: BodyUse::$body,
            handler: $h,
        }
    };
}

/// Every implemented operation (paths relative to `/metal/v1`).
#[allow(clippy::too_many_lines, reason = "one table row per operation")]
pub(crate) fn routes() -> &'static [Route] {
    static ROUTES: std::sync::OnceLock<Vec<Route>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| {
        vec![
            route!(GET, "/projects", "findProjects", None, projects::list),
            route!(
                GET,
                "/projects/{id}",
                "findProjectById",
                None,
                projects::get
            ),
            route!(
                GET,
                "/projects/{id}/devices",
                "findProjectDevices",
                None,
                devices::list
            ),
            route!(
                POST,
                "/projects/{id}/devices",
                "createDevice",
                Required,
                devices::create
            ),
            route!(GET, "/devices/{id}", "findDeviceById", None, devices::get),
            route!(
                PUT,
                "/devices/{id}",
                "updateDevice",
                Required,
                devices::update
            ),
            route!(
                DELETE,
                "/devices/{id}",
                "deleteDevice",
                Optional,
                devices::delete
            ),
            route!(
                POST,
                "/devices/{id}/actions",
                "performAction",
                Required,
                devices::action
            ),
            route!(
                GET,
                "/devices/{id}/userdata",
                "findDeviceUserdataByID",
                None,
                devices::userdata
            ),
            route!(
                GET,
                "/devices/{id}/customdata",
                "findDeviceCustomdata",
                None,
                devices::customdata
            ),
            route!(
                GET,
                "/devices/{id}/ssh-keys",
                "findDeviceSSHKeys",
                None,
                devices::ssh_keys
            ),
            route!(
                GET,
                "/devices/{id}/ips",
                "findIPAssignments",
                None,
                ips::device_list
            ),
            route!(
                POST,
                "/devices/{id}/ips",
                "createIPAssignment",
                Required,
                ips::assign
            ),
            route!(
                GET,
                "/devices/{id}/bgp/sessions",
                "findBgpSessions",
                None,
                bgp::device_sessions
            ),
            route!(
                POST,
                "/devices/{id}/bgp/sessions",
                "createBgpSession",
                Required,
                bgp::create_session
            ),
            route!(
                GET,
                "/devices/{id}/bgp/neighbors",
                "getBgpNeighborData",
                None,
                bgp::neighbors
            ),
            route!(
                GET,
                "/projects/{id}/ips",
                "findIPReservations",
                None,
                ips::list
            ),
            route!(
                POST,
                "/projects/{id}/ips",
                "requestIPReservation",
                Required,
                ips::request
            ),
            route!(GET, "/ips/{id}", "findIPAddressById", None, ips::get),
            route!(PATCH, "/ips/{id}", "updateIPAddress", Optional, ips::update),
            route!(DELETE, "/ips/{id}", "deleteIPAddress", None, ips::delete),
            route!(
                GET,
                "/projects/{id}/bgp-config",
                "findBgpConfigByProject",
                None,
                bgp::config
            ),
            route!(
                POST,
                "/projects/{id}/bgp-configs",
                "requestBgpConfig",
                Required,
                bgp::request_config
            ),
            route!(
                GET,
                "/projects/{id}/bgp/sessions",
                "findProjectBgpSessions",
                None,
                bgp::project_sessions
            ),
            route!(
                GET,
                "/bgp/sessions/{id}",
                "findBgpSessionById",
                None,
                bgp::get_session
            ),
            route!(
                DELETE,
                "/bgp/sessions/{id}",
                "deleteBgpSession",
                None,
                bgp::delete_session
            ),
            route!(
                GET,
                "/locations/metros",
                "findMetros",
                None,
                catalog::metros
            ),
            route!(
                GET,
                "/locations/metros/{id}",
                "getMetro",
                None,
                catalog::metro
            ),
            route!(
                GET,
                "/facilities",
                "findFacilities",
                None,
                catalog::facilities
            ),
            route!(GET, "/plans", "findPlans", None, catalog::plans),
            route!(
                GET,
                "/projects/{id}/plans",
                "findPlansByProject",
                None,
                catalog::project_plans
            ),
            route!(
                GET,
                "/operating-systems",
                "findOperatingSystems",
                None,
                catalog::operating_systems
            ),
            route!(
                GET,
                "/projects/{id}/hardware-reservations",
                "findProjectHardwareReservations",
                None,
                catalog::hardware_reservations
            ),
            route!(
                GET,
                "/hardware-reservations/{id}",
                "findHardwareReservationById",
                None,
                catalog::hardware_reservation
            ),
            route!(
                GET,
                "/projects/{id}/ssh-keys",
                "findProjectSSHKeys",
                None,
                catalog::project_ssh_keys
            ),
            route!(
                POST,
                "/projects/{id}/ssh-keys",
                "createProjectSSHKey",
                Required,
                catalog::create_project_ssh_key
            ),
            route!(GET, "/ssh-keys", "findSSHKeys", None, catalog::ssh_keys),
            route!(
                GET,
                "/ssh-keys/{id}",
                "findSSHKeyById",
                None,
                catalog::ssh_key
            ),
            route!(
                DELETE,
                "/ssh-keys/{id}",
                "deleteSSHKey",
                None,
                catalog::delete_ssh_key
            ),
        ]
    })
}

/// Result of matching a path against the table.
#[derive(Debug)]
pub(crate) enum Matched {
    /// A route and its path parameters.
    Route(&'static Route, Vec<String>),
    /// The path exists with other methods.
    WrongMethod(Vec<&'static str>),
    /// No such path.
    NotFound,
}

/// Matches `path` (relative to `/metal/v1`, no query) and `method`.
pub(crate) fn find_route(method: &Method, path: &str) -> Matched {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let mut other_methods = Vec::new();
    for route in routes() {
        if route.pattern.matches('/').count() != segments.len() {
            continue;
        }
        let pattern = route.pattern.split('/').skip(1);
        let mut params = Vec::new();
        let fits = pattern.zip(&segments).all(|(p, s)| {
            if p == "{id}" {
                params.push(percent_decode(s));
                !s.is_empty()
            } else {
                p == *s
            }
        });
        if !fits {
            continue;
        }
        if route.method == method {
            return Matched::Route(route, params);
        }
        other_methods.push(route.method.as_str());
    }
    if other_methods.is_empty() {
        Matched::NotFound
    } else {
        Matched::WrongMethod(other_methods)
    }
}

/// Runs a matched route.
pub(crate) fn dispatch(route: &Route, state: &mut State, request: &ApiRequest) -> Reply {
    state.tick(request.now);
    match (route.handler)(state, request) {
        Ok(reply) => reply,
        Err(error) => error_reply(&error),
    }
}

/// `{"errors":[message]}` with the error's status.
pub(crate) fn error_reply(error: &ApiError) -> Reply {
    Reply::Json(error.status, json!({ "errors": [error.message] }))
}

/// Decodes `%XX` escapes and `+` (as a space) in a query or path component.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                if let Ok(b) = u8::from_str_radix(hex, 16) {
                    out.push(b);
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits and decodes a raw query string.
pub(crate) fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}

/// Page through `items` with the request's `page`/`per_page`, producing `{key: [...], meta}`.
///
/// `base` is the collection's href (`/metal/v1/projects/<id>/devices`); the meta links keep
/// every other query parameter of the request.
pub(crate) fn paginate(
    request: &ApiRequest,
    items: Vec<Value>,
    key: &str,
    base: &str,
    default_per_page: usize,
) -> Value {
    let page = page_param(request, "page", 1, 100_000);
    let per_page = page_param(request, "per_page", default_per_page, 1000);
    let total = items.len();
    let last_page = total.div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page);
    let slice: Vec<Value> = items.into_iter().skip(start).take(per_page).collect();
    let others = request
        .query
        .iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
        .fold(String::new(), |mut acc, (k, v)| {
            acc.push('&');
            acc.push_str(&encode(k));
            acc.push('=');
            acc.push_str(&encode(v));
            acc
        });
    let link = |p: usize| json!({ "href": format!("{base}?page={p}&per_page={per_page}{others}") });
    let mut meta = json!({
        "first": link(1),
        "last": link(last_page),
        "self": link(page),
        "total": total,
        "current_page": page,
        "last_page": last_page,
    });
    if let Some(meta) = meta.as_object_mut() {
        // Absent links are omitted, not null: the spec's `Href` is not nullable.
        if page > 1 {
            meta.insert("previous".to_owned(), link((page - 1).min(last_page)));
        }
        if page < last_page {
            meta.insert("next".to_owned(), link(page + 1));
        }
    }
    json!({ key: slice, "meta": meta })
}

/// `page` or `per_page` clamped into `1..=max`, as the real API's paginator did rather than
/// refusing the request: above the spec's maximum gives the maximum (so asking for 5000
/// devices per page gets 1000), below 1 gives 1, and a value that is not a number gives the
/// default. (Inference from the spec's `minimum`/`maximum` and the API being a Rails app
/// whose paginators clamp; no recorded 422 for paging exists.)
fn page_param(request: &ApiRequest, name: &str, default: usize, max: usize) -> usize {
    match request.query(name).map(str::trim) {
        None | Some("") => default,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) => usize::try_from(n.max(1)).unwrap_or(max).min(max),
            // Digits beyond i64 are still "too big".
            Err(_) if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) => max,
            Err(_) => default,
        },
    }
}

/// Minimal percent-encoding for query components in meta links.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' | b':' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_parameters_and_report_other_methods() {
        match find_route(&Method::GET, "/devices/abc/bgp/neighbors") {
            Matched::Route(r, p) => {
                assert_eq!(r.operation, "getBgpNeighborData");
                assert_eq!(p, ["abc"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            find_route(&Method::PATCH, "/devices/abc"),
            Matched::WrongMethod(_)
        ));
        assert!(matches!(
            find_route(&Method::GET, "/nope"),
            Matched::NotFound
        ));
    }

    #[test]
    fn query_strings_are_decoded() {
        let q = parse_query("tag=capp%3Acluster-id%3Ademo&a+b=c%2");
        assert_eq!(q[0], ("tag".to_owned(), "capp:cluster-id:demo".to_owned()));
        assert_eq!(q[1], ("a b".to_owned(), "c%2".to_owned()));
    }
}
