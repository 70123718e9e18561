//! Garbage in, clean 4xx out: random and truncated bodies, wrong content types, huge and
//! deeply nested bodies never make the simulator panic or hang.

use std::sync::OnceLock;

use bytes::Bytes;
use http::Method;
use proptest::prelude::*;

use super::support::*;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    api: Api,
    project: String,
    device: String,
    _sim: Simulator,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (sim, api, device) = runtime.block_on(async {
            let (sim, api) = start().await;
            let p = sim.default_project_id().to_owned();
            let device = create_device(&api, &p, device_body("victim")).await;
            (sim, api, device)
        });
        Fixture {
            runtime,
            project: sim.default_project_id().to_owned(),
            api,
            device,
            _sim: sim,
        }
    })
}

fn targets(f: &Fixture) -> Vec<(Method, String)> {
    let (p, d) = (&f.project, &f.device);
    vec![
        (Method::POST, format!("/projects/{p}/devices")),
        (Method::PUT, format!("/devices/{d}")),
        (Method::DELETE, format!("/devices/{d}")),
        (Method::POST, format!("/devices/{d}/actions")),
        (Method::POST, format!("/devices/{d}/ips")),
        (Method::POST, format!("/devices/{d}/bgp/sessions")),
        (Method::POST, format!("/projects/{p}/ips")),
        (Method::POST, format!("/projects/{p}/bgp-configs")),
        (Method::POST, format!("/projects/{p}/ssh-keys")),
        (
            Method::PATCH,
            "/ips/00000000-0000-4000-8000-000000000000".to_owned(),
        ),
    ]
}

fn send(f: &Fixture, method: &Method, path: &str, body: Bytes, ct: Option<&str>) -> Resp {
    f.runtime
        .block_on(f.api.try_send(method.clone(), path, Some(body), ct))
        .unwrap_or_else(|e| {
            panic!("{method} {path}: the connection failed ({e}); did the server panic?")
        })
}

fn assert_clean_error(resp: &Resp, context: &str) {
    assert!(
        (200..500).contains(&resp.status),
        "{context}: status {} {}",
        resp.status,
        resp.text()
    );
    if resp.status >= 400 {
        let body = resp.json();
        assert!(body["errors"][0].is_string(), "{context}: {body}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_bytes_get_a_clean_answer(index in 0usize..10, bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let f = fixture();
        let (method, path) = targets(f).swap_remove(index);
        let resp = send(f, &method, &path, Bytes::from(bytes), Some("application/json"));
        assert_clean_error(&resp, &path);
    }

    #[test]
    fn truncated_valid_bodies_get_a_clean_answer(index in 0usize..10, cut in 0usize..200) {
        let f = fixture();
        let (method, path) = targets(f).swap_remove(index);
        let full = serde_json::json!({"metro": "da", "plan": "c3.small.x86", "operating_system": "ubuntu_24_04",
            "hostname": "x", "type": "public_ipv4", "quantity": 1, "address": "10.0.0.1",
            "address_family": "ipv4", "asn": 65000, "deployment_type": "local", "label": "k", "key": "ssh-ed25519 AAAA"}).to_string();
        let body = full.as_bytes()[..cut.min(full.len())].to_vec();
        let resp = send(f, &method, &path, Bytes::from(body), Some("application/json"));
        assert_clean_error(&resp, &path);
    }

    #[test]
    fn json_of_the_wrong_shape_gets_a_clean_answer(index in 0usize..10, value in arb_json()) {
        let f = fixture();
        let (method, path) = targets(f).swap_remove(index);
        let resp = send(f, &method, &path, Bytes::from(value.to_string()), Some("application/json"));
        assert_clean_error(&resp, &path);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_paths_and_queries_get_a_clean_answer(
        prefix in prop_oneof![Just("/projects/"), Just("/devices/"), Just("/ips/"), Just("/metadata/"), Just("/")],
        rest in "[a-zA-Z0-9%/._~-]{0,40}",
        query in "[a-z_=&%0-9,\\[\\]]{0,40}",
    ) {
        let f = fixture();
        let path = format!("{prefix}{rest}?{query}");
        let resp = f.runtime.block_on(f.api.try_send(Method::GET, &path, None, None))
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        prop_assert!((200..500).contains(&resp.status), "{path}: {}", resp.status);
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "[a-z_]{0,12}".prop_map(serde_json::Value::from),
    ];
    let keys = prop_oneof![
        Just("metro".to_owned()),
        Just("facility".to_owned()),
        Just("plan".to_owned()),
        Just("operating_system".to_owned()),
        Just("tags".to_owned()),
        Just("type".to_owned()),
        Just("quantity".to_owned()),
        Just("address".to_owned()),
        Just("hostname".to_owned()),
        Just("ip_addresses".to_owned()),
        Just("force_delete".to_owned()),
        Just("asn".to_owned()),
        "[a-z]{1,6}",
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn a_wrong_content_type_is_415() {
    let f = fixture();
    let path = format!("/projects/{}/devices", f.project);
    let resp = send(
        f,
        &Method::POST,
        &path,
        Bytes::from_static(b"metro=da"),
        Some("application/x-www-form-urlencoded"),
    );
    assert_eq!(resp.status, 415);
    assert!(
        resp.json()["errors"][0]
            .as_str()
            .unwrap()
            .contains("application/json")
    );
}

#[test]
fn a_huge_body_is_413_and_the_server_keeps_serving() {
    let f = fixture();
    let path = format!("/projects/{}/devices", f.project);
    let huge = vec![b'['; 3 * 1024 * 1024];
    let resp = send(
        f,
        &Method::POST,
        &path,
        Bytes::from(huge),
        Some("application/json"),
    );
    assert_eq!(resp.status, 413);
    let ok = f
        .runtime
        .block_on(f.api.get(&format!("/devices/{}", f.device)));
    assert_eq!(ok.status, 200);
}

#[test]
fn deeply_nested_json_is_a_clean_422() {
    let f = fixture();
    let path = format!("/projects/{}/devices", f.project);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let resp = send(
        f,
        &Method::POST,
        &path,
        Bytes::from(deep),
        Some("application/json"),
    );
    assert_eq!(resp.status, 422);
}

#[test]
fn extreme_addresses_and_numbers_are_answered_cleanly() {
    let f = fixture();
    // Its own device: the fuzz tests sharing the fixture may delete the victim meanwhile.
    let device = f
        .runtime
        .block_on(create_device(&f.api, &f.project, device_body("extreme")));
    let ips = format!("/devices/{device}/ips");
    for address in [
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "::/0",
        "8000::/1",
        "0.0.0.0/0",
        "255.255.255.255",
        "1.2.3.4/33",
        "1.2.3.4/-1",
        "",
    ] {
        let body = serde_json::json!({"address": address}).to_string();
        let resp = send(
            f,
            &Method::POST,
            &ips,
            Bytes::from(body),
            Some("application/json"),
        );
        assert_eq!(resp.status, 422, "{address}: {}", resp.text());
    }
    let reserve = format!("/projects/{}/ips", f.project);
    for quantity in [0_u64, 3, 512, u64::MAX] {
        let body = serde_json::json!({"type": "public_ipv4", "quantity": quantity, "metro": "da"});
        let resp = send(
            f,
            &Method::POST,
            &reserve,
            Bytes::from(body.to_string()),
            Some("application/json"),
        );
        assert_eq!(resp.status, 422, "{quantity}: {}", resp.text());
    }
    let list = format!(
        "/projects/{}/devices?page=0&per_page=99999999999999999999",
        f.project
    );
    let resp = f.runtime.block_on(f.api.get(&list));
    // Clamped into range as the real API's paginator did, not refused.
    assert_eq!(resp.status, 200, "{}", resp.text());
    let meta = &resp.json()["meta"];
    assert_eq!(meta["current_page"], 1);
    assert!(
        meta["self"]["href"]
            .as_str()
            .unwrap()
            .contains("per_page=1000"),
        "{meta}"
    );
}
