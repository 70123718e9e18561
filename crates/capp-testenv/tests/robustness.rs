//! Bad input gets a `Status` error, never a dropped connection or a crashed server: malformed
//! bodies, wrong shapes, unknown media types and paths, bad selectors and extreme parameters.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration tests and their helpers fail by panicking"
)]

#[path = "support/support.rs"]
mod support;

use serde_json::Value;

async fn send(
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
