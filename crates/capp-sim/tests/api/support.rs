//! A tiny raw HTTP client for the tests (no dependency on capp-packet) and shared helpers.

// Helpers are test code even though they are not `#[test]` functions.
#![allow(clippy::expect_used, clippy::manual_assert, reason = "test helpers")]

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

pub(crate) use capp_sim::{SimConfig, Simulator};

/// A response as the tests look at it.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Resp {
    /// The body as JSON (panics with the body text if it is not).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as JSON if there is one.
    pub(crate) fn json_opt(&self) -> Option<Value> {
        if self.body.is_empty() {
            None
        } else {
            Some(self.json())
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An API client bound to one simulator.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    pub(crate) root: String,
    pub(crate) token: Option<String>,
}

impl Api {
    pub(crate) fn new(sim: &Simulator) -> Self {
        Self {
            root: sim.root_url(),
            token: Some(sim.token().to_owned()),
        }
    }

    pub(crate) fn without_token(&self) -> Self {
        Self {
            token: None,
            ..self.clone()
        }
    }

    pub(crate) fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// `path` is relative to `/metal/v1` unless it starts with `/metadata` or `//`.
    pub(crate) async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        content_type: Option<&str>,
    ) -> Result<Resp, Box<dyn std::error::Error + Send + Sync>> {
        let full_path = if path.starts_with("/metadata") {
            path.to_owned()
        } else if let Some(raw) = path.strip_prefix("//") {
            format!("/{raw}")
        } else {
            format!("/metal/v1{path}")
        };
        let addr = self.root.trim_start_matches("http://").to_owned();
        let stream = TcpStream::connect(&addr).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut builder = Request::builder()
            .method(method)
            .uri(full_path)
            .header("host", addr);
        if let Some(token) = &self.token {
            builder = builder.header("x-auth-token", token);
        }
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        let request = builder.body(Full::new(body.unwrap_or_default()))?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub(crate) async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let bytes = body.map(|b| Bytes::from(b.to_string()));
        let ct = bytes.as_ref().map(|_| "application/json");
        self.try_send(method.clone(), path, bytes, ct)
            .await
            .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"))
    }

    pub(crate) async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body)).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None).await
    }
}

/// Starts a simulator for tests: manual clock, instant lifecycle.
pub(crate) async fn start() -> (Simulator, Api) {
    start_with(SimConfig::for_tests()).await
}

/// A public key for tests (a project starts without one, and creates need one).
pub(crate) const TEST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKcappSimTestKeyForTestsOnly000000000000000 tests";

/// Starts a simulator with `config` whose project has one SSH key ([`TEST_KEY`]).
pub(crate) async fn start_with(config: SimConfig) -> (Simulator, Api) {
    let sim = Simulator::start(config).await.expect("simulator starts");
    sim.add_project_ssh_key("tests", TEST_KEY)
        .expect("the test key is a valid OpenSSH key");
    let api = Api::new(&sim);
    (sim, api)
}

/// Starts a simulator with `config` and no SSH key anywhere.
pub(crate) async fn start_keyless(config: SimConfig) -> (Simulator, Api) {
    let sim = Simulator::start(config).await.expect("simulator starts");
    let api = Api::new(&sim);
    (sim, api)
}

/// A valid metro-form create body.
pub(crate) fn device_body(hostname: &str) -> Value {
    serde_json::json!({
        "metro": "da",
        "plan": "c3.small.x86",
        "operating_system": "ubuntu_24_04",
        "hostname": hostname,
        "billing_cycle": "hourly",
        "tags": ["capp:cluster-id:demo"],
        "userdata": "#cloud-config\n",
    })
}

/// Creates a device and returns its id.
pub(crate) async fn create_device(api: &Api, project: &str, body: Value) -> String {
    let resp = api
        .post(&format!("/projects/{project}/devices"), body)
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    resp.json()["id"].as_str().expect("id").to_owned()
}

/// Turns on local BGP for project `p` (as CAPP and CPEM request it) and opens an
/// `address_family` session (`ipv4` or `ipv6`) on `device`.
pub(crate) async fn bgp_session(api: &Api, p: &str, device: &str, address_family: &str) {
    api.post(
        &format!("/projects/{p}/bgp-configs"),
        serde_json::json!({"deployment_type": "local", "asn": 65000}),
    )
    .await;
    let resp = api
        .post(
            &format!("/devices/{device}/bgp/sessions"),
            serde_json::json!({"address_family": address_family}),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.text());
}

/// Path of the shared reference data, if present; `None` (after a loud message) when it is
/// missing outside CI, a panic under `CI=true`.
pub(crate) fn shared_path(relative: &str) -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/"))
        .join(relative);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true and the shared reference data is missing: {}",
            path.display()
        );
    }
    eprintln!(
        "SKIPPING: {} is missing (set up ../shared to run this test; it fails under CI=true)",
        path.display()
    );
    None
}
