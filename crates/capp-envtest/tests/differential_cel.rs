//! Differential check of CEL at CRD creation: the same CustomResourceDefinitions (rules with
//! type errors, rules over and under the cost budgets, rules using the Kubernetes CEL
//! libraries) are created on the real kube-apiserver v1.36 and on capp-testenv, and the
//! answers (accepted, or the 422's causes) must be identical after normalising what
//! kube-apiserver randomises (the `selfType<N>` name of object types, Go pointer addresses).
//! Then objects are created against the library rules, and the answers compared the same way.
//!
//! Skips loudly without the upstream binaries; fails instead under `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    clippy::print_stdout,
    reason = "integration tests fail by panicking; the agreement is printed"
)]

use std::time::Duration;

use capp_envtest::{Binaries, ControlPlane, ControlPlaneOptions};
use capp_testenv::{Config, TestEnv};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

fn crds_resource() -> ApiResource {
    ApiResource {
        group: "apiextensions.k8s.io".to_owned(),
        version: "v1".to_owned(),
        api_version: "apiextensions.k8s.io/v1".to_owned(),
        kind: "CustomResourceDefinition".to_owned(),
        plural: "customresourcedefinitions".to_owned(),
    }
}

fn kind_resource(n: usize) -> ApiResource {
    ApiResource {
        group: "cel.example.com".to_owned(),
        version: "v1".to_owned(),
        api_version: "cel.example.com/v1".to_owned(),
        kind: format!("Cel{n}"),
        plural: format!("cel{n}s"),
    }
}

/// A cluster-scoped CRD `cel<n>s.cel.example.com` whose `spec` has `props` and `rules`.
fn crd(n: usize, spec: &Value) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("cel{n}s.cel.example.com")},
        "spec": {
            "group": "cel.example.com",
            "scope": "Cluster",
            "names": {"plural": format!("cel{n}s"), "singular": format!("cel{n}"), "kind": format!("Cel{n}")},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": spec}
                }}
            }]
        }
    })
}

/// The fields of `spec` the rules below use.
fn props() -> Value {
    json!({
        "name": {"type": "string", "maxLength": 63},
        "replicas": {"type": "integer"},
        "items": {"type": "array", "maxItems": 10, "items": {"type": "integer"}},
        "labels": {"type": "object", "maxProperties": 10,
                   "additionalProperties": {"type": "string", "maxLength": 63}},
        "port": {"x-kubernetes-int-or-string": true},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        "untyped": {"x-kubernetes-preserve-unknown-fields": true},
        "memory": {"type": "string", "maxLength": 20},
        "endpoint": {"type": "string", "maxLength": 256},
        "address": {"type": "string", "maxLength": 64},
        "network": {"type": "string", "maxLength": 64}
    })
}

fn with_rule(rule: &str) -> Value {
    json!({"type": "object", "properties": props(), "x-kubernetes-validations": [{"rule": rule}]})
}

fn tags(max_items: Option<u64>, max_length: Option<u64>, rule: &str) -> Value {
    let mut item = json!({"type": "string"});
    if let Some(l) = max_length {
        item["maxLength"] = json!(l);
    }
    let mut tags =
        json!({"type": "array", "items": item, "x-kubernetes-validations": [{"rule": rule}]});
    if let Some(n) = max_items {
        tags["maxItems"] = json!(n);
    }
    json!({"type": "object", "properties": {"tags": tags}})
}

/// The CRD-creation cases: a name and the `spec` schema.
fn crd_cases() -> Vec<(&'static str, Value)> {
    let mut cases = vec![
        ("size-vs-string", with_rule("self.name.size() > 'a'")),
        ("string-plus-int", with_rule("self.name + 1 == 'x'")),
        ("int-startswith", with_rule("self.replicas.startsWith('x')")),
        (
            "int-items-vs-string",
            with_rule("self.items.all(x, x > 'a')"),
        ),
        ("map-keys-vs-int", with_rule("self.labels.exists(k, k > 1)")),
        (
            "map-result-elements",
            with_rule("self.items.map(x, x + 1).exists(y, y == 'z')"),
        ),
        ("range-of-int", with_rule("self.replicas.all(x, true)")),
        ("select-on-string", with_rule("self.name.foo == 'x'")),
        (
            "undefined-preserved-field",
            with_rule("self.free.missing == 1"),
        ),
        ("untyped-field", with_rule("has(self.untyped)")),
        ("not-bool-string", with_rule("self.name")),
        ("not-bool-list", with_rule("self.items.map(x, x * 2)")),
        (
            "int-or-string-dyn",
            with_rule("self.port > 0 || self.port.matches('^[0-9]+%$')"),
        ),
        (
            "type-equality",
            with_rule("type(self.port) == int ? self.port > 0 : self.port == 'x'"),
        ),
        (
            "well-typed",
            with_rule(
                "self.items.filter(x, x > 1).size() < 5 && self.labels.all(k, self.labels[k].size() < 10)",
            ),
        ),
        (
            "unbounded-matches",
            tags(None, None, "self.all(x, x.matches('^[a-z]+$'))"),
        ),
        (
            "bounded-matches",
            tags(Some(100), Some(63), "self.all(x, x.matches('^[a-z]+$'))"),
        ),
        (
            "items-only-bounded",
            tags(Some(100), None, "self.all(x, x.matches('^[a-z]+$'))"),
        ),
        (
            "nested-unbounded",
            tags(None, Some(10), "self.all(x, self.exists(y, x == y))"),
        ),
        (
            "nested-bounded",
            tags(Some(50), Some(10), "self.all(x, self.exists(y, x == y))"),
        ),
        (
            "rule-on-unbounded-items",
            json!({"type": "object", "properties": {"hosts": {"type": "array", "items": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 253}},
                "x-kubernetes-validations": [{"rule": "self.name.matches('^[a-z0-9.-]+$')"}]
            }}}}),
        ),
    ];
    let mut many = serde_json::Map::new();
    for i in 0..20 {
        many.insert(
            format!("f{i}"),
            json!({"type": "array", "maxItems": 90000, "items": {"type": "string", "maxLength": 128},
                   "x-kubernetes-validations": [{"rule": "self.all(x, x.matches('^[a-z]+$'))"}]}),
        );
    }
    cases.push((
        "crd-total-budget",
        json!({"type": "object", "properties": many}),
    ));
    cases.push(("libraries", libraries_spec()));
    cases
}

/// Rules using each Kubernetes library, on one CRD.
fn libraries_spec() -> Value {
    json!({"type": "object", "properties": props(), "x-kubernetes-validations": [
        {"rule": "!has(self.memory) || quantity(self.memory).isLessThan(quantity('1Gi'))", "message": "memory under 1Gi"},
        {"rule": "!has(self.endpoint) || url(self.endpoint).getScheme() == 'https'", "message": "https only"},
        {"rule": "!has(self.address) || !ip(self.address).isLoopback()", "message": "no loopback"},
        {"rule": "!has(self.network) || !has(self.address) || cidr(self.network).containsIP(self.address)", "message": "address in network"},
        {"rule": "!has(self.name) || !format.dns1123Label().validate(self.name).hasValue()", "message": "a DNS label"}
    ]})
}

/// Objects created against the `libraries` CRD.
fn library_objects() -> Vec<Value> {
    [
        json!({"memory": "512Mi", "endpoint": "https://example.com/x", "address": "10.0.0.1", "network": "10.0.0.0/8", "name": "ok"}),
        json!({"memory": "2Gi"}),
        json!({"endpoint": "http://example.com"}),
        json!({"address": "127.0.0.1"}),
        json!({"address": "11.0.0.1", "network": "10.0.0.0/8"}),
        json!({"name": "Not_A_Label"}),
        json!({"memory": "lots"}),
    ]
    .into_iter()
    .collect()
}

/// What a create answered: `ok`, or the code and the sorted causes, normalised.
fn outcome(result: Result<DynamicObject, kube::Error>) -> Value {
    match result {
        Ok(_) => json!("ok"),
        Err(kube::Error::Api(status)) => {
            let mut causes: Vec<String> = status
                .details
                .map(|d| d.causes)
                .unwrap_or_default()
                .into_iter()
                .map(|c| normalise(&format!("{} {}: {}", c.reason, c.field, c.message)))
                .collect();
            causes.sort();
            json!({"code": status.code, "causes": causes})
        }
        Err(other) => json!(format!("error: {other}")),
    }
}

/// Replaces what kube-apiserver randomises: `selfType<N>` and pointer addresses.
fn normalise(s: &str) -> String {
    // Which of equally expensive rules kube-apiserver names varies with Go's map order.
    let self_type = regex_lite("properties[f", &regex_lite("selfType", s));
    let mut out = String::new();
    let mut rest = self_type.as_str();
    while let Some(i) = rest.find("(0x") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(')').map_or(rest.len(), |e| i + e);
        out.push_str("(0xADDRESS");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Drops the digits that follow each `prefix`.
fn regex_lite(prefix: &str, s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i + prefix.len()]);
        rest = rest[i + prefix.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

async fn create(
    client: &kube::Client,
    r: &ApiResource,
    obj: &Value,
) -> Result<DynamicObject, kube::Error> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), r);
    let obj: DynamicObject = serde_json::from_value(obj.clone()).unwrap();
    api.create(&PostParams::default(), &obj).await
}

async fn wait_served(client: &kube::Client, r: &ApiResource) {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), r);
    for _ in 0..300 {
        if api.list(&ListParams::default()).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} was not served within 30s", r.plural);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cel_at_crd_creation_answers_like_the_real_kube_apiserver() {
    let Some(bins) = Binaries::require() else {
        return;
    };
    let cp = ControlPlane::start(
        &bins,
        ControlPlaneOptions::default().with_controller_manager(false),
    )
    .await
    .unwrap();
    let env = TestEnv::start(Config::default()).await.unwrap();
    let servers = [
        ("kube-apiserver", cp.client()),
        ("capp-testenv", env.client().unwrap()),
    ];

    let mut failures = Vec::new();
    let mut identical = 0;
    let cases = crd_cases();
    let mut total = cases.len();
    for (n, (name, spec)) in cases.iter().enumerate() {
        let mut answers = Vec::new();
        for (_, client) in &servers {
            answers.push(outcome(
                create(client, &crds_resource(), &crd(n, spec)).await,
            ));
        }
        if answers[0] == answers[1] {
            identical += 1;
            println!("identical  {name}: {}", answers[0]);
        } else {
            println!(
                "DIFFERENT  {name}\n  kube-apiserver: {}\n  capp-testenv:   {}",
                answers[0], answers[1]
            );
            failures.push(*name);
        }
        if *name == "libraries" {
            for (_, client) in &servers {
                wait_served(client, &kind_resource(n)).await;
            }
            for (i, spec) in library_objects().into_iter().enumerate() {
                total += 1;
                let obj = json!({"apiVersion": "cel.example.com/v1", "kind": format!("Cel{n}"),
                                 "metadata": {"name": format!("o{i}")}, "spec": spec});
                let mut answers = Vec::new();
                for (_, client) in &servers {
                    answers.push(outcome(create(client, &kind_resource(n), &obj).await));
                }
                if answers[0] == answers[1] {
                    identical += 1;
                    println!("identical  libraries object {i}: {}", answers[0]);
                } else {
                    println!(
                        "DIFFERENT  libraries object {i} {spec}\n  kube-apiserver: {}\n  capp-testenv:   {}",
                        answers[0], answers[1]
                    );
                    failures.push("libraries object");
                }
            }
        }
    }
    println!("CEL at CRD creation agreement: {identical}/{total} cases identical");
    assert!(failures.is_empty(), "cases that differ: {failures:?}");
    env.shutdown().await;
    cp.shutdown();
}
