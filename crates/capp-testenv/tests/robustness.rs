//! Bad input gets a `Status` error, never a dropped connection or a crashed server: malformed
//! bodies, wrong shapes, unknown media types and paths, bad selectors and extreme parameters.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use support::send;

use serde_json::Value;

#[tokio::test]
#[allow(
    clippy::too_many_lines,
    reason = "a table of malformed requests and their answers"
)]
async fn malformed_requests_get_status_errors_and_the_server_keeps_serving() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let c = env.client().unwrap();
    let cms = "/api/v1/namespaces/default/configmaps";
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, String, &str, Vec<u8>, u16)> = vec![
        (
            "POST",
            cms.into(),
            "application/json",
            b"{not json".to_vec(),
            400,
        ),
        (
            "POST",
            cms.into(),
            "application/json",
            b"[1,2]".to_vec(),
            400,
        ),
        (
            "POST",
            cms.into(),
            "application/json",
            deep.into_bytes(),
            400,
        ),
        (
            "POST",
            cms.into(),
            "application/json",
            br#"{"kind":"Secret","metadata":{"name":"a"}}"#.to_vec(),
            400,
        ),
        (
            "POST",
            cms.into(),
            "application/json",
            br#"{"metadata":"nope"}"#.to_vec(),
            422,
        ),
        (
            "POST",
            cms.into(),
            "application/json",
            br#"{"metadata":{"name":"a","labels":{"k":1}}}"#.to_vec(),
            422,
        ),
        (
            "POST",
            cms.into(),
            "application/vnd.kubernetes.protobuf",
            b"k8s\0\xff\xff".to_vec(),
            415,
        ),
        (
            "POST",
            cms.into(),
            "application/yaml",
            b"a: [b".to_vec(),
            400,
        ),
        (
            "POST",
            "/api/v1/namespaces/missing/configmaps".into(),
            "application/json",
            br#"{"metadata":{"name":"a"}}"#.to_vec(),
            404,
        ),
        (
            "PATCH",
            format!("{cms}/nope"),
            "application/merge-patch+json",
            b"{}".to_vec(),
            404,
        ),
        (
            "PATCH",
            format!("{cms}/nope"),
            "text/plain",
            b"{}".to_vec(),
            415,
        ),
        (
            "PUT",
            format!("{cms}/nope"),
            "application/json",
            br#"{"metadata":{"name":"nope"}}"#.to_vec(),
            404,
        ),
        (
            "GET",
            format!("{cms}?labelSelector=a%20in%20b"),
            "",
            Vec::new(),
            400,
        ),
        (
            "GET",
            format!("{cms}?fieldSelector=spec.x%3D1"),
            "",
            Vec::new(),
            400,
        ),
        (
            "GET",
            format!("{cms}?continue=garbage"),
            "",
            Vec::new(),
            400,
        ),
        (
            "GET",
            format!("{cms}?watch=true&resourceVersion=abc"),
            "",
            Vec::new(),
            400,
        ),
        (
            "GET",
            "/apis/nope.example.com/v1/things".into(),
            "",
            Vec::new(),
            404,
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps/a/b/c/d".into(),
            "",
            Vec::new(),
            404,
        ),
        (
            "POST",
            format!("{cms}/named"),
            "application/json",
            b"{}".to_vec(),
            405,
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default".into(),
            "application/json",
            b"{}".to_vec(),
            403,
        ),
        (
            "DELETE",
            format!("{cms}/x"),
            "application/json",
            br#"{"propagationPolicy":"Sideways"}"#.to_vec(),
            404,
        ),
    ];
    for (method, path, ct, body, want) in cases {
        let (code, status) = send(&c, method, &path, ct, &body).await;
        assert_eq!(code, want, "{method} {path}: {status}");
        assert_eq!(status["kind"], "Status", "{method} {path}: {status}");
    }

    // A JSON patch that is not a list of operations, and one that replaces the whole object.
    send(
        &c,
        "POST",
        cms,
        "application/json",
        br#"{"metadata":{"name":"p"}}"#,
    )
    .await;
    let (code, _) = send(
        &c,
        "PATCH",
        &format!("{cms}/p"),
        "application/json-patch+json",
        b"{}",
    )
    .await;
    assert!(code == 400 || code == 422, "{code}");
    let (code, _) = send(
        &c,
        "PATCH",
        &format!("{cms}/p"),
        "application/json-patch+json",
        br#"[{"op":"replace","path":"","value":7}]"#,
    )
    .await;
    assert_eq!(code, 400);
    let (code, _) = send(
        &c,
        "PATCH",
        &format!("{cms}/p"),
        "application/apply-patch+yaml",
        b"metadata: [",
    )
    .await;
    assert_eq!(code, 400);
    let (code, _) = send(
        &c,
        "PATCH",
        &format!("{cms}/p?fieldManager=m"),
        "application/apply-patch+yaml",
        b"data: {a: b}",
    )
    .await;
    assert_eq!(code, 400, "apply without apiVersion/kind");

    // Extreme watch parameters are accepted without harm.
    let req = http::Request::get(format!(
        "{cms}?watch=true&timeoutSeconds=18446744073709551615"
    ))
    .body(Vec::new())
    .unwrap();
    let resp = c.send(req.map(kube::client::Body::from)).await.unwrap();
    assert_eq!(resp.status(), 200);
    drop(resp);

    let (code, v) = send(&c, "GET", "/version", "", &[]).await;
    assert_eq!((code, v["major"].as_str()), (200, Some("1")));
}

/// A small deterministic generator, so a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[usize::try_from(self.next() % items.len() as u64).unwrap()]
    }

    fn bytes(&mut self, max: u64) -> Vec<u8> {
        let len = self.next() % max;
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

/// Paths the random requests go to, valid and not.
const PATHS: &[&str] = &[
    "/api/v1/namespaces/default/configmaps",
    "/api/v1/namespaces/default/configmaps/x",
    "/api/v1/namespaces/default/secrets/x",
    "/api/v1/namespaces",
    "/api/v1/namespaces/default",
    "/apis/example.com/v1/namespaces/default/widgets",
    "/apis/example.com/v1/namespaces/default/widgets/w",
    "/apis/example.com/v1/namespaces/default/widgets/w/status",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/apis/apps/v1/namespaces/default/deployments/d",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/api/v1/namespaces/%zz/configmaps",
    "/api/v1/namespaces/default/configmaps/%ff%fe",
    "/api/v1/namespaces/default/configmaps/a%2Fb",
    "/apis//v1//",
    "/openapi/v3/apis/example.com/v1",
    "/apis/example.com/v1",
];
/// Query strings, mostly malformed.
const QUERIES: &[&str] = &[
    "",
    "?watch=true&timeoutSeconds=0",
    "?labelSelector=%zz",
    "?labelSelector=a+in+(",
    "?fieldSelector=metadata.name%3D%3D%3D",
    "?limit=-1",
    "?limit=99999999999999999999999",
    "?continue=%00%01",
    "?resourceVersion=-5",
    "?dryRun=Sometimes",
    "?fieldValidation=Loose",
    "?fieldManager=",
    "?propagationPolicy=Sideways",
    "?gracePeriodSeconds=x",
    "?force=maybe",
    "?a&&&=b=c",
];
/// Content types, right and wrong.
const TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/vnd.kubernetes.protobuf",
    "text/plain",
    "",
    "application/json; charset=utf-16",
];
/// HTTP methods.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Valid documents that random mutations start from.
const SEEDS: &[&str] = &[
    r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"b"}}"#,
    r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":2}}"#,
    r#"[{"op":"add","path":"/metadata/labels","value":{"a":"b"}}]"#,
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    r#"{"metadata":{"finalizers":["a/b"],"ownerReferences":[{"uid":1}]}}"#,
];

#[tokio::test]
async fn random_bodies_content_types_queries_and_paths_never_break_the_server() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let c = env.client().unwrap();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..400 {
        let method = rng.pick(METHODS);
        let path = format!("{}{}", rng.pick(PATHS), rng.pick(QUERIES));
        let ct = rng.pick(TYPES);
        // Random bytes, a valid document, or a valid document with bytes flipped.
        let body = match rng.next() % 3 {
            0 => rng.bytes(512),
            1 => rng.pick(SEEDS).as_bytes().to_vec(),
            _ => {
                let mut b = rng.pick(SEEDS).as_bytes().to_vec();
                for _ in 0..3 {
                    let at = usize::try_from(rng.next() % b.len() as u64).unwrap();
                    b[at] = rng.next().to_le_bytes()[0];
                }
                b
            }
        };
        let Ok(req) = http::Request::builder()
            .method(method)
            .uri(&path)
            .header("Content-Type", ct)
            .body(body.clone())
        else {
            continue;
        };
        let resp = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            c.send(req.map(kube::client::Body::from)),
        )
        .await
        .unwrap_or_else(|_| panic!("case {i}: {method} {path} hangs"))
        .unwrap_or_else(|e| panic!("case {i}: {method} {path} {ct}: no answer: {e}"));
        let code = resp.status().as_u16();
        *answered.entry(code).or_default() += 1;
        assert!(
            code < 500,
            "case {i}: {method} {path} {ct} {:?}: {code}",
            String::from_utf8_lossy(&body)
        );
        if code >= 400 {
            let bytes = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            assert_eq!(v["kind"], "Status", "case {i}: {method} {path}: {v}");
        }
    }
    eprintln!("answers by status code: {answered:?}");
    assert!(
        answered.values().sum::<usize>() > 350,
        "most cases were sent: {answered:?}"
    );
    let (code, v) = send(&c, "GET", "/version", "", &[]).await;
    assert_eq!((code, v["major"].as_str()), (200, Some("1")));
}

#[tokio::test]
async fn a_huge_body_is_refused_with_413() {
    let env = support::start().await;
    let c = env.client().unwrap();
    let huge = format!(
        r#"{{"metadata":{{"name":"big"}},"data":{{"a":"{}"}}}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    let (code, status) = send(
        &c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        huge.as_bytes(),
    )
    .await;
    assert_eq!(code, 413, "{status}");
    assert_eq!(status["kind"], "Status");
    let (code, _) = send(
        &c,
        "GET",
        "/api/v1/namespaces/default/configmaps/big",
        "",
        &[],
    )
    .await;
    assert_eq!(code, 404, "nothing was stored");
}

/// Replaces random nodes of a JSON document with values of the wrong shape.
fn mutate(v: &mut Value, rng: &mut XorShift) {
    let replacements = [
        serde_json::json!(null),
        serde_json::json!(-1),
        serde_json::json!(1.5),
        serde_json::json!("x"),
        serde_json::json!(true),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!([{"type": "object"}]),
        serde_json::json!({"type": "nope", "x-kubernetes-validations": [{"rule": "self.a >"}]}),
        serde_json::json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}]}),
        serde_json::json!({"type": "string", "pattern": "(", "default": 7}),
    ];
    let children: usize = match v {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    };
    if children == 0 || rng.next().is_multiple_of(8) {
        *v = replacements[usize::try_from(rng.next() % replacements.len() as u64).unwrap()].clone();
        return;
    }
    let at = usize::try_from(rng.next() % children as u64).unwrap();
    let child = match v {
        Value::Object(m) => m.values_mut().nth(at),
        Value::Array(a) => a.get_mut(at),
        _ => None,
    };
    if let Some(c) = child {
        mutate(c, rng);
    }
}

#[tokio::test]
async fn mutated_crds_and_custom_resources_get_status_errors_never_a_crash() {
    let env = support::start().await;
    env.install_crds(&[support::widget_crd()]).await.unwrap();
    let c = env.client().unwrap();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let widgets = "/apis/example.com/v1/namespaces/default/widgets";
    let widget = serde_json::json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 2, "color": "red", "labels": ["a"]},
        "status": {"ready": true, "conditions": [{"type": "Ready", "status": "True"}]}
    });
    let mut created = 0;
    for i in 0..300 {
        let (path, mut doc) = if i % 2 == 0 {
            let mut crd = support::widget_crd();
            crd["metadata"]["name"] = serde_json::json!(format!("gizmos{i}.example.com"));
            crd["spec"]["names"] =
                serde_json::json!({"plural": format!("gizmos{i}"), "kind": format!("Gizmo{i}")});
            (crds, crd)
        } else {
            (widgets, widget.clone())
        };
        for _ in 0..=(rng.next() % 3) {
            mutate(&mut doc, &mut rng);
        }
        let body = serde_json::to_vec(&doc).unwrap();
        let (code, status) = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            send(&c, "POST", path, "application/json", &body),
        )
        .await
        .unwrap_or_else(|_| panic!("case {i} hangs: {doc}"));
        assert!(code < 500, "case {i}: {code} {status} for {doc}");
        if code == 201 {
            created += 1;
            if path == widgets {
                // Delete it again so that later cases are creates, not conflicts.
                send(
                    &c,
                    "DELETE",
                    &format!("{widgets}/w"),
                    "application/json",
                    b"{}",
                )
                .await;
            }
        } else {
            assert_eq!(status["kind"], "Status", "case {i}: {status}");
        }
    }
    assert!(created > 0, "some mutations are harmless and get stored");
    let (code, _) = send(&c, "GET", widgets, "", &[]).await;
    assert_eq!(code, 200, "the server still serves");
}
