//! The HTTP(S) front: connection handling, authentication, authorization, routing and the
//! REST handlers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::compat;
use crate::env::Identity;
use crate::registry::{self, ResourceDef};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{DeleteOpts, FieldValidation, PatchType, State, WriteOpts};

/// The response body type.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The largest request body accepted (the real server's limit is 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Shared server state.
pub(crate) struct Server {
    pub(crate) state: tokio::sync::Mutex<State>,
    pub(crate) tokens: Mutex<HashMap<String, Identity>>,
    pub(crate) faults: Mutex<Vec<crate::env::Fault>>,
    pub(crate) rbac: bool,
    pub(crate) bookmark_interval: Duration,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) address: String,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bearer tokens are credentials: never print them.
        f.debug_struct("Server")
            .field("address", &self.address)
            .field("rbac", &self.rbac)
            .field("tokens", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// The parsed location of a resource request.
#[derive(Debug, Default, Clone)]
pub(crate) struct Target {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) resource: String,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) subresource: Option<String>,
    pub(crate) watch_path: bool,
}

/// Decoded query parameters.
pub(crate) type Query = HashMap<String, String>;

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

pub(crate) fn parse_query(q: Option<&str>) -> Query {
    q.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Parses `/api/v1/...` and `/apis/<group>/<version>/...` resource paths.
pub(crate) fn parse_target(segs: &[&str]) -> Option<Target> {
    let (group, version, mut rest) = match segs {
        ["api", v, rest @ ..] if !rest.is_empty() => (String::new(), (*v).to_owned(), rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => ((*g).to_owned(), (*v).to_owned(), rest),
        _ => return None,
    };
    let mut t = Target {
        group,
        version,
        ..Target::default()
    };
    if rest.first() == Some(&"watch") {
        t.watch_path = true;
        rest = &rest[1..];
    }
    match rest {
        ["namespaces", ns, tail @ ..]
            if !tail.is_empty() && !matches!(tail[0], "status" | "finalize") =>
        {
            t.namespace = Some((*ns).to_owned());
            (*tail.first()?).clone_into(&mut t.resource);
            t.name = tail.get(1).map(|s| (*s).to_owned());
            t.subresource = tail.get(2).map(|s| (*s).to_owned());
            if tail.len() > 3 {
                return None;
            }
        }
        [res, tail @ ..] => {
            (*res).clone_into(&mut t.resource);
            t.name = tail.first().map(|s| (*s).to_owned());
            t.subresource = tail.get(1).map(|s| (*s).to_owned());
            if tail.len() > 2 {
                return None;
            }
        }
        [] => return None,
    }
    Some(t)
}

/// A JSON response.
pub(crate) fn json_response(code: u16, body: &Value, warnings: &[String]) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut b = Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .header("Cache-Control", "no-cache, private");
    for w in warnings {
        b = b.header(
            "Warning",
            format!("299 - {}", serde_json::to_string(w).unwrap_or_default()),
        );
    }
    b.body(Full::new(Bytes::from(bytes)).boxed_unsync())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed_unsync()))
}

/// A response with a custom content type.
fn typed_response(content_type: &str, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(bytes)).boxed_unsync())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed_unsync()))
}

/// The error response for an [`ApiError`].
pub(crate) fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status(), &[])
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .next()
                .is_some_and(|first| first.contains("as=Table"))
        })
}

fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let params: Vec<&str> = range.split(';').map(str::trim).collect();
            params.contains(&"as=APIGroupDiscoveryList") && params.contains(&"v=v2")
        })
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Parses a request body as JSON, or YAML for YAML content types.
fn parse_body(ct: &str, body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    if ct.contains("yaml") {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_request("the request body is not valid UTF-8"))?;
        serde_saphyr::from_str::<Value>(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
    } else if ct.contains("protobuf") {
        crate::protobuf::decode(body).map_err(|m| ApiError::new(415, "UnsupportedMediaType", m))
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("error decoding the request body as JSON: {e}"))
        })
    }
}

fn query_flag(q: &Query, k: &str) -> bool {
    matches!(q.get(k).map(String::as_str), Some("true" | "1"))
}

fn write_opts(
    q: &Query,
    headers: &HeaderMap,
    body_opts: Option<&Value>,
) -> Result<WriteOpts, ApiError> {
    let field_validation = match q.get("fieldValidation").map(String::as_str) {
        None | Some("" | "Warn") => FieldValidation::Warn,
        Some("Strict") => FieldValidation::Strict,
        Some("Ignore") => FieldValidation::Ignore,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation {other} is not a valid value: must be one of Ignore, Warn or Strict"
            )));
        }
    };
    let default_manager = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .unwrap_or("unknown")
        .to_owned();
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All")
        || body_opts.is_some_and(|o| {
            o["dryRun"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == "All"))
        });
    Ok(WriteOpts {
        dry_run,
        field_manager: q.get("fieldManager").cloned().unwrap_or(default_manager),
        field_validation,
        force: query_flag(q, "force"),
        applied: false,
    })
}

impl Server {
    /// Handles one HTTP request.
    pub(crate) async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        cert_identity: Option<Identity>,
    ) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let body = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return error_response(&ApiError::new(
                    413,
                    "RequestEntityTooLarge",
                    "the request body is too large or was interrupted",
                ));
            }
        };
        let identity = match self.authenticate(&parts.headers, cert_identity) {
            Ok(i) => i,
            Err(e) => return error_response(&e),
        };
        let identity = match self.impersonate(&parts.headers, identity).await {
            Ok(i) => i,
            Err(e) => return error_response(&e),
        };
        if let Some(e) = self.take_fault(&parts.method, parts.uri.path()) {
            return error_response(&e);
        }
        let resp = self
            .route(
                &parts.method,
                parts.uri.path(),
                parts.uri.query(),
                &parts.headers,
                &body,
                &identity,
            )
            .await;
        let resp = resp.unwrap_or_else(|e| error_response(&e));
        tracing::debug!(method = %parts.method, uri = %parts.uri, user = %identity.username, status = resp.status().as_u16(), "Handled request");
        resp
    }

    /// Uses up an injected fault matching the request, if any.
    fn take_fault(&self, method: &Method, path: &str) -> Option<ApiError> {
        let mut faults = self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        let i = faults.iter().position(|f| {
            f.times > 0
                && f.method.as_ref().is_none_or(|m| m == method)
                && path.contains(&f.path_contains)
        })?;
        faults[i].times -= 1;
        let code = faults[i].code;
        faults.retain(|f| f.times > 0);
        let reason = match code {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            409 => "Conflict",
            410 => "Expired",
            422 => "Invalid",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        Some(ApiError::new(
            code,
            reason,
            format!("injected fault for {method} {path}"),
        ))
    }

    fn authenticate(
        &self,
        headers: &HeaderMap,
        cert: Option<Identity>,
    ) -> Result<Identity, ApiError> {
        if let Some(auth) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let token = auth
                .strip_prefix("Bearer ")
                .map(str::trim)
                .ok_or_else(ApiError::unauthorized)?;
            let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
            return tokens
                .get(token)
                .cloned()
                .ok_or_else(ApiError::unauthorized);
        }
        Ok(cert.unwrap_or_else(Identity::anonymous))
    }

    /// Applies `Impersonate-User` / `Impersonate-Group` (kubectl `--as`, `--as-group`): the
    /// caller needs the `impersonate` verb on `users` (or `serviceaccounts`) and `groups`.
    async fn impersonate(
        &self,
        headers: &HeaderMap,
        caller: Identity,
    ) -> Result<Identity, ApiError> {
        let Some(user) = headers
            .get("Impersonate-User")
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(caller);
        };
        let mut groups: Vec<String> = headers
            .get_all("Impersonate-Group")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let check = |resource: &str, namespace: &str, name: &str| compat::Action {
            verb: "impersonate".to_owned(),
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            ..compat::Action::default()
        };
        let target = if let Some(sa) = user.strip_prefix("system:serviceaccount:") {
            let (ns, name) = sa.split_once(':').unwrap_or((sa, ""));
            self.authorize(&caller, &check("serviceaccounts", ns, name))
                .await?;
            if groups.is_empty() {
                groups = Identity::service_account(ns, name).groups;
            }
            user.to_owned()
        } else {
            self.authorize(&caller, &check("users", "", user)).await?;
            user.to_owned()
        };
        for g in &groups {
            self.authorize(&caller, &check("groups", "", g)).await?;
        }
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".to_owned());
        }
        Ok(Identity {
            username: target,
            groups,
        })
    }

    /// The `status` of a SelfSubjectRulesReview: what RBAC grants the caller in a namespace
    /// (everything when RBAC is off or for `system:masters`).
    async fn rules_review(&self, identity: &Identity, namespace: Option<&str>) -> Value {
        if !self.rbac || identity.groups.iter().any(|g| g == "system:masters") {
            return json!({
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": false,
            });
        }
        let snapshot = self.rbac_snapshot().await;
        let user = crate::rbac::UserInfo {
            username: identity.username.clone(),
            groups: identity.groups.clone(),
        };
        let (mut resource, mut non_resource) = crate::rbac::rules_for(&snapshot, &user, namespace);
        // The default `system:basic-user` grants: asking what one may do.
        resource.push(json!({
            "verbs": ["create"],
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        }));
        // Discovery, OpenAPI and health paths are open to every caller here.
        non_resource.push(json!({"verbs": ["get"], "nonResourceURLs": ["*"]}));
        json!({"resourceRules": resource, "nonResourceRules": non_resource, "incomplete": false})
    }

    /// The stored RBAC objects.
    async fn rbac_snapshot(&self) -> crate::rbac::RbacSnapshot {
        let state = self.state.lock().await;
        let collect = |plural: &str| -> Vec<Value> {
            state
                .objects_of("rbac.authorization.k8s.io", plural, None)
                .map(|(_, v)| v.clone())
                .collect()
        };
        crate::rbac::RbacSnapshot {
            roles: collect("roles"),
            cluster_roles: collect("clusterroles"),
            role_bindings: collect("rolebindings"),
            cluster_role_bindings: collect("clusterrolebindings"),
        }
    }

    async fn authorize(
        &self,
        identity: &Identity,
        action: &compat::Action,
    ) -> Result<(), ApiError> {
        if !self.rbac || identity.groups.iter().any(|g| g == "system:masters") {
            return Ok(());
        }
        let caller = compat::Caller {
            username: identity.username.clone(),
            groups: identity.groups.clone(),
        };
        let snapshot = self.rbac_snapshot().await;
        let ok = compat::authorize(&snapshot, &caller, action);
        if ok {
            return Ok(());
        }
        Err(compat::forbidden(&caller, action))
    }

    #[allow(
        clippy::too_many_lines,
        reason = "the route table reads best in one place"
    )]
    async fn route(
        self: &Arc<Self>,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
        identity: &Identity,
    ) -> Result<Response<Body>, ApiError> {
        let q = parse_query(query);
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        // Non-resource paths.
        match segs.as_slice() {
            ["healthz" | "readyz" | "livez", ..] => {
                return Ok(Response::builder()
                    .header(header::CONTENT_TYPE, "text/plain")
                    .body(Full::new(Bytes::from_static(b"ok")).boxed_unsync())
                    .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed_unsync())));
            }
            ["version"] => return Ok(json_response(200, &version(), &[])),
            ["api"] => {
                let state = self.state.lock().await;
                if wants_aggregated(headers) {
                    return Ok(typed_response(
                        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
                        &registry::aggregated(state.defs(), true),
                    ));
                }
                return Ok(json_response(
                    200,
                    &json!({
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.address}],
                    }),
                    &[],
                ));
            }
            ["apis"] => {
                let state = self.state.lock().await;
                if wants_aggregated(headers) {
                    return Ok(typed_response(
                        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
                        &registry::aggregated(state.defs(), false),
                    ));
                }
                return Ok(json_response(200, &registry::group_list(state.defs()), &[]));
            }
            ["api", v] => {
                let state = self.state.lock().await;
                if state
                    .defs()
                    .iter()
                    .any(|d| d.group.is_empty() && d.version == *v)
                {
                    return Ok(json_response(
                        200,
                        &registry::resource_list(state.defs(), "", v),
                        &[],
                    ));
                }
                return Err(ApiError::no_route(path));
            }
            ["apis", g] => {
                let state = self.state.lock().await;
                let groups = registry::groups(state.defs());
                return match groups.iter().find(|(name, _)| name == g) {
                    Some((name, versions)) => Ok(json_response(
                        200,
                        &registry::group_json(name, versions),
                        &[],
                    )),
                    None => Err(ApiError::no_route(path)),
                };
            }
            ["apis", g, v] => {
                let state = self.state.lock().await;
                if state
                    .defs()
                    .iter()
                    .any(|d| d.group == *g && d.version == *v)
                {
                    return Ok(json_response(
                        200,
                        &registry::resource_list(state.defs(), g, v),
                        &[],
                    ));
                }
                return Err(ApiError::no_route(path));
            }
            ["openapi", "v2"] => {
                let accept = headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if accept.contains("protobuf") {
                    return Ok(Response::builder()
                        .header(
                            header::CONTENT_TYPE,
                            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                        )
                        .body(Full::new(Bytes::from(crate::openapi::v2_protobuf())).boxed_unsync())
                        .unwrap_or_else(|_| {
                            Response::new(Full::new(Bytes::new()).boxed_unsync())
                        }));
                }
                let state = self.state.lock().await;
                return Ok(json_response(200, &crate::openapi::v2(state.defs()), &[]));
            }
            ["openapi", "v3"] => {
                let state = self.state.lock().await;
                return Ok(json_response(
                    200,
                    &crate::openapi::v3_root(state.defs()),
                    &[],
                ));
            }
            ["openapi", "v3", rest @ ..] => {
                let state = self.state.lock().await;
                return crate::openapi::v3_group_version(state.defs(), rest)
                    .map(|doc| json_response(200, &doc, &[]))
                    .ok_or_else(|| ApiError::no_route(path));
            }
            _ => {}
        }
        let Some(t) = parse_target(&segs) else {
            return Err(ApiError::no_route(path));
        };
        let def = {
            let state = self.state.lock().await;
            state.find_def(&t.group, &t.version, &t.resource)
        };
        let Some(def) = def else {
            return Err(ApiError::no_route(path));
        };
        if let Some(sub) = &t.subresource
            && !(sub == "status" && (def.status_subresource || def.plural == "namespaces"))
        {
            return Err(ApiError::no_route(path));
        }
        let ns = if def.namespaced {
            t.namespace.clone().unwrap_or_default()
        } else {
            String::new()
        };
        if !def.namespaced && t.namespace.is_some() {
            return Err(ApiError::no_route(path));
        }
        let is_watch = t.watch_path || query_flag(&q, "watch");
        let verb = match (method, &t.name) {
            (&Method::GET | &Method::HEAD, _) if is_watch => "watch",
            (&Method::GET | &Method::HEAD, None) => "list",
            (&Method::GET | &Method::HEAD, Some(_)) => "get",
            (&Method::POST, None) => "create",
            (&Method::PUT, Some(_)) => "update",
            (&Method::PATCH, Some(_)) => "patch",
            (&Method::DELETE, Some(_)) => "delete",
            (&Method::DELETE, None) => "deletecollection",
            _ => return Err(ApiError::method_not_allowed(method.as_str())),
        };
        let action = compat::Action {
            verb: verb.to_owned(),
            api_group: def.group.clone(),
            resource: def.plural.clone(),
            subresource: t.subresource.clone().unwrap_or_default(),
            namespace: ns.clone(),
            name: t.name.clone().unwrap_or_default(),
        };
        // Like the default `system:basic-user` binding: anyone may ask what they may do.
        if def.plural != "selfsubjectaccessreviews" && def.plural != "selfsubjectrulesreviews" {
            self.authorize(identity, &action).await?;
        }
        if def.review {
            if verb != "create" {
                return Err(ApiError::method_not_allowed(method.as_str()));
            }
            let review = parse_body(&content_type(headers), body)?;
            return self.review(&def, identity, review).await;
        }
        let table = wants_table(headers);
        let name = t.name.clone().unwrap_or_default();
        let sub = t.subresource.as_deref();
        match verb {
            "watch" => {
                let mut q = q;
                if let Some(n) = &t.name {
                    q.insert("fieldSelector".into(), format!("metadata.name={n}"));
                }
                crate::watch::watch(self.clone(), def, t.namespace.clone(), &q, table).await
            }
            "list" => self.list(&def, t.namespace.as_deref(), &q, table).await,
            "get" => {
                let state = self.state.lock().await;
                let obj = state.get(&def, &ns, &name)?;
                if table {
                    let include = q
                        .get("includeObject")
                        .map_or("PartialObjectMetadata", String::as_str);
                    return Ok(json_response(
                        200,
                        &crate::table::table(
                            &def,
                            &[obj],
                            &json!({"resourceVersion": state.rv().to_string()}),
                            include,
                        ),
                        &[],
                    ));
                }
                Ok(json_response(200, &obj, &[]))
            }
            "create" => {
                let obj = parse_body(&content_type(headers), body)?;
                let opts = write_opts(&q, headers, None)?;
                let mut state = self.state.lock().await;
                let w = state.create(&def, &ns, obj, &opts)?;
                Ok(json_response(201, &w.object, &w.warnings))
            }
            "update" => {
                let obj = parse_body(&content_type(headers), body)?;
                let opts = write_opts(&q, headers, None)?;
                let mut state = self.state.lock().await;
                let w = state.update(&def, &ns, &name, obj, &opts, sub, true)?;
                Ok(json_response(200, &w.object, &w.warnings))
            }
            "patch" => {
                let ct = content_type(headers);
                let ptype = match ct.as_str() {
                    "application/json-patch+json" => PatchType::Json,
                    "application/merge-patch+json" => PatchType::Merge,
                    "application/strategic-merge-patch+json" => PatchType::Strategic,
                    "application/apply-patch+yaml"
                    | "application/apply-patch+json"
                    | "application/apply-patch+cbor" => PatchType::Apply,
                    other => return Err(ApiError::unsupported_media_type(other)),
                };
                let patch_body = parse_body(
                    if ptype == PatchType::Apply {
                        "yaml"
                    } else {
                        "json"
                    },
                    body,
                )?;
                let mut opts = write_opts(&q, headers, None)?;
                if ptype == PatchType::Apply {
                    opts.field_manager = q.get("fieldManager").cloned().unwrap_or_default();
                } else if opts.force {
                    return Err(ApiError::bad_request(
                        "force is only allowed for apply patches",
                    ));
                }
                let mut state = self.state.lock().await;
                let w = state.patch(&def, &ns, &name, ptype, &patch_body, &opts, sub)?;
                Ok(json_response(
                    if w.created { 201 } else { 200 },
                    &w.object,
                    &w.warnings,
                ))
            }
            "delete" => {
                let opts = delete_opts(&q, &parse_body("json", body)?);
                let mut state = self.state.lock().await;
                let obj = state.delete(&def, &ns, &name, &opts)?;
                Ok(json_response(200, &obj, &[]))
            }
            "deletecollection" => {
                let opts = delete_opts(&q, &parse_body("json", body)?);
                let matcher = matcher(&q, &def)?;
                let mut state = self.state.lock().await;
                let page = state.list(
                    &def,
                    t.namespace.as_deref(),
                    &|o| matcher(o),
                    None,
                    None,
                    None,
                )?;
                let mut deleted = Vec::new();
                for item in &page.items {
                    let item_ns = item["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let item_name = item["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    if let Ok(o) = state.delete(&def, &item_ns, &item_name, &opts) {
                        deleted.push(o);
                    }
                }
                Ok(json_response(
                    200,
                    &json!({
                        "kind": def.list_kind, "apiVersion": def.api_version(),
                        "metadata": {"resourceVersion": state.rv().to_string()}, "items": deleted,
                    }),
                    &[],
                ))
            }
            _ => Err(ApiError::method_not_allowed(method.as_str())),
        }
    }

    /// Answers a SelfSubjectAccessReview or SubjectAccessReview (never stored).
    async fn review(
        &self,
        def: &ResourceDef,
        identity: &Identity,
        mut review: Value,
    ) -> Result<Response<Body>, ApiError> {
        if !review.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        let spec = review["spec"].clone();
        if def.plural == "selfsubjectrulesreviews" {
            review["status"] = self
                .rules_review(identity, spec["namespace"].as_str())
                .await;
            review["apiVersion"] = json!(def.api_version());
            review["kind"] = json!(def.kind);
            return Ok(json_response(201, &review, &[]));
        }
        let subject = if def.plural == "selfsubjectaccessreviews" {
            identity.clone()
        } else {
            let user = spec["user"].as_str().unwrap_or_default().to_owned();
            let groups: Vec<String> = spec["groups"]
                .as_array()
                .map(|g| {
                    g.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if user.is_empty() && groups.is_empty() {
                return Err(ApiError::invalid(
                    &def.kind,
                    &def.group,
                    "",
                    vec![crate::status::cause(
                        "FieldValueRequired",
                        "spec.user",
                        "Required value: at least one of user or group must be specified",
                    )],
                ));
            }
            Identity {
                username: user,
                groups,
            }
        };
        let ra = &spec["resourceAttributes"];
        let allowed = if ra.is_object() {
            let s = |k: &str| ra[k].as_str().unwrap_or_default().to_owned();
            let action = compat::Action {
                verb: s("verb"),
                api_group: s("group"),
                resource: s("resource"),
                subresource: s("subresource"),
                namespace: s("namespace"),
                name: s("name"),
            };
            self.authorize(&subject, &action).await.is_ok()
        } else {
            // Non-resource URLs (discovery, OpenAPI, health) are open to everyone here.
            true
        };
        review["apiVersion"] = json!(def.api_version());
        review["kind"] = json!(def.kind);
        review["status"] = json!({"allowed": allowed});
        Ok(json_response(201, &review, &[]))
    }

    async fn list(
        &self,
        def: &Arc<ResourceDef>,
        ns: Option<&str>,
        q: &Query,
        table: bool,
    ) -> Result<Response<Body>, ApiError> {
        let matcher = matcher(q, def)?;
        let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok());
        let exact = exact_resource_version(q)?;
        let state = self.state.lock().await;
        let page = state.list(
            def,
            ns,
            &|o| matcher(o),
            limit,
            q.get("continue").map(String::as_str),
            exact,
        )?;
        let mut list_meta = json!({"resourceVersion": page.rv.to_string()});
        if let Some(c) = &page.continue_token {
            list_meta["continue"] = json!(c);
            list_meta["remainingItemCount"] = json!(page.remaining);
        }
        if table {
            let include = q
                .get("includeObject")
                .map_or("PartialObjectMetadata", String::as_str);
            return Ok(json_response(
                200,
                &crate::table::table(def, &page.items, &list_meta, include),
                &[],
            ));
        }
        Ok(json_response(
            200,
            &json!({
                "kind": def.list_kind,
                "apiVersion": def.api_version(),
                "metadata": list_meta,
                "items": page.items,
            }),
            &[],
        ))
    }
}

/// The resourceVersion a list must show exactly (`resourceVersionMatch=Exact`), if asked for.
/// `NotOlderThan` (and no match) is served from the current state, which is never older.
fn exact_resource_version(q: &Query) -> Result<Option<u64>, ApiError> {
    let rv = q
        .get("resourceVersion")
        .map(String::as_str)
        .unwrap_or_default();
    match q.get("resourceVersionMatch").map(String::as_str) {
        None | Some("") => Ok(None),
        Some(_) if rv.is_empty() => Err(ApiError::bad_request(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        )),
        Some("NotOlderThan") => Ok(None),
        Some("Exact") => match rv.parse::<u64>() {
            Ok(0) => Err(ApiError::bad_request(
                "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            )),
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(ApiError::bad_request(format!(
                "invalid resourceVersion \"{rv}\": must be an integer"
            ))),
        },
        Some(other) => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
}

/// Builds the label+field selector predicate from the query.
pub(crate) fn matcher(
    q: &Query,
    def: &ResourceDef,
) -> Result<impl Fn(&Value) -> bool + Send + Sync + 'static, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?;
    let fields = FieldSelector::parse(
        q.get("fieldSelector").map_or("", String::as_str),
        &def.selectable,
    )?;
    Ok(move |o: &Value| labels.matches(o) && fields.matches(o))
}

fn delete_opts(q: &Query, body: &Value) -> DeleteOpts {
    let orphan = body["orphanDependents"]
        .as_bool()
        .or_else(|| q.get("orphanDependents").map(|v| v == "true"));
    let propagation = body["propagationPolicy"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| q.get("propagationPolicy").cloned())
        .or_else(|| {
            orphan.map(|o| {
                if o {
                    "Orphan".to_owned()
                } else {
                    "Background".to_owned()
                }
            })
        });
    DeleteOpts {
        propagation,
        uid: body["preconditions"]["uid"].as_str().map(str::to_owned),
        resource_version: body["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_owned),
        dry_run: q.get("dryRun").is_some_and(|v| v == "All")
            || body["dryRun"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == "All")),
    }
}

/// The `/version` document.
fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-capp-testenv",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-11-21T00:00:00Z",
        "goVersion": "n/a (capp-testenv is written in Rust)",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if std::env::consts::ARCH == "x86_64" { "amd64" } else { std::env::consts::ARCH }),
    })
}

/// Accept loop: serves connections until `shutdown` flips to true.
pub(crate) async fn serve(
    listener: TcpListener,
    server: Arc<Server>,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                conns.spawn(serve_connection(stream, server.clone(), tls.clone()));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    server: Arc<Server>,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    let Some(cfg) = tls else {
        let svc = hyper::service::service_fn(move |req| {
            let server = server.clone();
            async move { Ok::<_, Infallible>(server.handle(req, None).await) }
        });
        let _ = builder
            .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
            .await;
        return;
    };
    let Ok(tls_stream) = tokio_rustls::TlsAcceptor::from(cfg).accept(stream).await else {
        return;
    };
    let identity = tls_stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| crate::tls::identity_from_cert(c.as_ref()));
    let svc = hyper::service::service_fn(move |req| {
        let server = server.clone();
        let identity = identity.clone();
        async move { Ok::<_, Infallible>(server.handle(req, identity).await) }
    });
    let _ = builder
        .serve_connection(hyper_util::rt::TokioIo::new(tls_stream), svc)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_paths_are_parsed_like_the_apiserver() {
        let t = parse_target(&["api", "v1", "namespaces", "default", "configmaps", "a"]).unwrap();
        assert_eq!(
            (
                t.namespace.as_deref(),
                t.resource.as_str(),
                t.name.as_deref()
            ),
            (Some("default"), "configmaps", Some("a"))
        );
        let t = parse_target(&["api", "v1", "namespaces", "foo", "status"]).unwrap();
        assert_eq!(
            (
                t.resource.as_str(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("namespaces", Some("foo"), Some("status"))
        );
        let t = parse_target(&["api", "v1", "namespaces", "foo"]).unwrap();
        assert_eq!(
            (t.resource.as_str(), t.name.as_deref()),
            ("namespaces", Some("foo"))
        );
        let t = parse_target(&[
            "apis",
            "apps",
            "v1",
            "watch",
            "namespaces",
            "x",
            "deployments",
        ])
        .unwrap();
        assert!(t.watch_path);
        assert_eq!(t.resource, "deployments");
        assert!(parse_target(&["apis", "apps"]).is_none());
    }

    #[test]
    fn query_strings_are_percent_decoded() {
        let q = parse_query(Some("labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=1"));
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["watch"], "1");
    }
}
