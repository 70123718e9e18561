//! The HTTP(S) front: connection handling, authentication, impersonation and authorization.
//! Discovery and OpenAPI are served by [`discovery`], resource requests by [`resources`].

mod discovery;
mod resources;
mod scale;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::{HeaderMap, Method, Request, Response, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::fault::Fault;
use crate::http::{Body, MAX_BODY, error_response, parse_query};
use crate::identity::Identity;
use crate::rbac::{self, Attributes};
use crate::status::ApiError;
use crate::store::State;

/// Shared server state.
pub(crate) struct Server {
    pub(crate) state: Arc<tokio::sync::Mutex<State>>,
    pub(crate) tokens: Mutex<HashMap<String, Identity>>,
    pub(crate) faults: Mutex<Vec<Fault>>,
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
        let check = |resource: &str, namespace: &str, name: &str| {
            Attributes::resource("impersonate", "", resource, "", namespace, name)
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
        if !self.rbac || identity.is_superuser() {
            return json!({
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": false,
            });
        }
        let snapshot = self.rbac_snapshot().await;
        let (mut resource, mut non_resource) = rbac::rules_for(&snapshot, identity, namespace);
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
    pub(crate) async fn rbac_snapshot(&self) -> rbac::RbacSnapshot {
        let state = self.state.lock().await;
        let collect = |plural: &str| -> Vec<Value> {
            state
                .objects_of("rbac.authorization.k8s.io", plural, None)
                .map(|(_, v)| v.clone())
                .collect()
        };
        rbac::RbacSnapshot {
            roles: collect("roles"),
            cluster_roles: collect("clusterroles"),
            role_bindings: collect("rolebindings"),
            cluster_role_bindings: collect("clusterrolebindings"),
        }
    }

    async fn authorize(&self, identity: &Identity, attrs: &Attributes) -> Result<(), ApiError> {
        if !self.rbac || identity.is_superuser() {
            return Ok(());
        }
        let snapshot = self.rbac_snapshot().await;
        if rbac::authorize(&snapshot, identity, attrs).is_allowed() {
            return Ok(());
        }
        Err(
            ApiError::forbidden(rbac::forbidden_message(identity, attrs)).with_details(
                &attrs.api_group,
                &attrs.resource,
                attrs.name.as_deref().unwrap_or_default(),
            ),
        )
    }

    /// The parts of the server a watch stream needs.
    fn watch_context(&self) -> crate::watch::WatchContext {
        crate::watch::WatchContext {
            state: self.state.clone(),
            shutdown: self.shutdown.clone(),
            bookmark_interval: self.bookmark_interval,
        }
    }

    /// Routes a request to the non-resource or the resource handlers.
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
        if let Some(resp) = self.non_resource(&segs, path, headers).await {
            return resp;
        }
        self.resource_request(method, path, &segs, q, headers, body, identity)
            .await
    }
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
}
