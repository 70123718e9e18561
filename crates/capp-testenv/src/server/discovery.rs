//! Non-resource paths: health, `/version`, API discovery (legacy and aggregated) and OpenAPI.

use bytes::Bytes;
use http::{HeaderMap, Response, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use super::Server;
use crate::http::{Body, json_response, typed_response, wants_aggregated};
use crate::registry;
use crate::status::ApiError;

impl Server {
    /// Serves a non-resource path, or `None` when the path names resources.
    #[allow(
        clippy::too_many_lines,
        reason = "the discovery route table reads best in one place"
    )]
    pub(super) async fn non_resource(
        &self,
        segs: &[&str],
        path: &str,
        headers: &HeaderMap,
    ) -> Option<Result<Response<Body>, ApiError>> {
        match segs {
            // kube-apiserver's index (`k8s.io/apiserver/pkg/server/routes/index.go`): every
            // registered path, sorted. Cluster API's ClusterCache probes `GET /` before it
            // connects to a workload cluster.
            [] => {
                let state = self.state.lock().await;
                let mut paths: Vec<String> = [
                    "/api",
                    "/api/v1",
                    "/apis",
                    "/healthz",
                    "/livez",
                    "/readyz",
                    "/version",
                    "/openapi/v2",
                    "/openapi/v3",
                ]
                .iter()
                .map(|p| (*p).to_owned())
                .collect();
                for def in state.defs().iter().filter(|d| !d.group.is_empty()) {
                    paths.push(format!("/apis/{}", def.group));
                    paths.push(format!("/apis/{}/{}", def.group, def.version));
                }
                paths.sort();
                paths.dedup();
                Some(Ok(json_response(200, &json!({"paths": paths}), &[])))
            }
            ["healthz" | "readyz" | "livez", ..] => Some(Ok(Response::builder()
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Full::new(Bytes::from_static(b"ok")).boxed_unsync())
                .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed_unsync())))),
            ["version"] => Some(Ok(json_response(200, &version(), &[]))),
            ["api"] => {
                let state = self.state.lock().await;
                if wants_aggregated(headers) {
                    return Some(Ok(typed_response(
                        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
                        &registry::aggregated(state.defs(), true),
                    )));
                }
                Some(Ok(json_response(
                    200,
                    &json!({
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.address}],
                    }),
                    &[],
                )))
            }
            ["apis"] => {
                let state = self.state.lock().await;
                if wants_aggregated(headers) {
                    return Some(Ok(typed_response(
                        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
                        &registry::aggregated(state.defs(), false),
                    )));
                }
                Some(Ok(json_response(
                    200,
                    &registry::group_list(state.defs()),
                    &[],
                )))
            }
            ["api", v] => {
                let state = self.state.lock().await;
                if state
                    .defs()
                    .iter()
                    .any(|d| d.group.is_empty() && d.version == *v)
                {
                    return Some(Ok(json_response(
                        200,
                        &registry::resource_list(state.defs(), "", v),
                        &[],
                    )));
                }
                Some(Err(ApiError::no_route(path)))
            }
            ["apis", g] => {
                let state = self.state.lock().await;
                let groups = registry::groups(state.defs());
                Some(match groups.iter().find(|(name, _)| name == g) {
                    Some((name, versions)) => Ok(json_response(
                        200,
                        &registry::group_json(name, versions),
                        &[],
                    )),
                    None => Err(ApiError::no_route(path)),
                })
            }
            ["apis", g, v] => {
                let state = self.state.lock().await;
                if state
                    .defs()
                    .iter()
                    .any(|d| d.group == *g && d.version == *v)
                {
                    return Some(Ok(json_response(
                        200,
                        &registry::resource_list(state.defs(), g, v),
                        &[],
                    )));
                }
                Some(Err(ApiError::no_route(path)))
            }
            ["openapi", "v2"] => {
                let accept = headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if accept.contains("protobuf") {
                    return Some(Ok(Response::builder()
                        .header(
                            header::CONTENT_TYPE,
                            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                        )
                        .body(Full::new(Bytes::from(crate::openapi::v2_protobuf())).boxed_unsync())
                        .unwrap_or_else(|_| {
                            Response::new(Full::new(Bytes::new()).boxed_unsync())
                        })));
                }
                let state = self.state.lock().await;
                Some(Ok(json_response(
                    200,
                    &crate::openapi::v2(state.defs()),
                    &[],
                )))
            }
            ["openapi", "v3"] => {
                let state = self.state.lock().await;
                Some(Ok(json_response(
                    200,
                    &crate::openapi::v3_root(state.defs()),
                    &[],
                )))
            }
            ["openapi", "v3", rest @ ..] => {
                let state = self.state.lock().await;
                Some(
                    crate::openapi::v3_group_version(state.defs(), rest)
                        .map(|doc| json_response(200, &doc, &[]))
                        .ok_or_else(|| ApiError::no_route(path)),
                )
            }
            _ => None,
        }
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
