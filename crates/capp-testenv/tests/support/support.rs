//! Shared helpers for the integration tests (included with `#[path]`, not a test target).

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};

use capp_testenv::{Config, TestEnv};
use serde_json::{Value, json};

/// Starts a server with the default configuration (HTTPS, no RBAC).
pub(crate) async fn start() -> TestEnv {
    TestEnv::start(Config::default())
        .await
        .expect("the test server starts")
}

/// Whether an external requirement is present; otherwise skip loudly, or fail under CI=true.
pub(crate) fn require(what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is required under CI=true but is missing"
    );
    eprintln!("SKIPPED: {what} is missing; this test did not run");
    false
}

/// The kubectl binary, if installed.
pub(crate) fn kubectl_path() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.is_file())
    })
}

/// `../shared/specs/<rel>`, if present.
pub(crate) fn shared_spec(rel: &str) -> Option<PathBuf> {
    let p = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/specs"
    ))
    .join(rel);
    p.exists().then_some(p)
}

/// A namespaced `Widget` CRD in `example.com` with a status subresource, printer columns,
/// a schema with a minimum and a CEL rule.
pub(crate) fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"], "categories": ["all"]},
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": {
                                "size": {"type": "integer", "minimum": 1, "default": 1},
                                "color": {"type": "string", "enum": ["red", "blue"]},
                                "labels": {"type": "array", "items": {"type": "string"}}
                            }
                        },
                        "status": {
                            "type": "object",
                            "properties": {
                                "ready": {"type": "boolean"},
                                "observed": {"type": "integer"},
                                "conditions": {"type": "array", "items": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": true
                                }}
                            }
                        }
                    }
                }}
            }]
        }
    })
}

/// Sends one raw request through `client` and returns the status code and the JSON body
/// (`null` when the body is not JSON).
pub(crate) async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    ct: &str,
    body: &[u8],
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", ct)
        .body(body.to_vec())
        .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .expect("the server answers");
    let code = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}
