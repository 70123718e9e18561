use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use proptest::prelude::*;

use super::*;
use crate::models::Device;

fn raw(status: u16, content_type: Option<&str>, body: &[u8]) -> RawResponse {
    let mut headers = HeaderMap::new();
    if let Some(ct) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
    }
    RawResponse {
        status: StatusCode::from_u16(status).unwrap(),
        headers,
        body: Bytes::copy_from_slice(body),
    }
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

#[test]
fn a_device_body_decodes() {
    let r = raw(
        200,
        Some("application/json; charset=utf-8"),
        br#"{"id":"d1","hostname":"h"}"#,
    );
    let d: Device = decode("findDeviceById", &r, now()).unwrap();
    assert_eq!(d.id, "d1");
}

#[test]
fn both_error_shapes_give_their_messages() {
    let r = raw(422, Some("application/json"), br#"{"errors":["a","b"]}"#);
    let e = decode::<Device>("createDevice", &r, now()).unwrap_err();
    assert_eq!(e.api().unwrap().messages(), ["a", "b"]);
    let r = raw(
        401,
        Some("application/json"),
        br#"{"error":"Invalid authentication token"}"#,
    );
    let e = decode::<Device>("findDeviceById", &r, now()).unwrap_err();
    assert!(e.is_unauthorized());
    assert_eq!(
        e.api().unwrap().messages(),
        ["Invalid authentication token"]
    );
}

#[test]
fn an_html_error_page_is_an_api_error_with_a_snippet() {
    let r = raw(502, Some("text/html"), b"<html>502 Bad Gateway</html>");
    let e = decode::<Device>("findDeviceById", &r, now()).unwrap_err();
    assert!(e.is_server_error());
    assert!(e.is_retryable());
    assert!(!e.api().unwrap().body_was_json());
}

#[test]
fn a_truncated_success_body_is_a_decode_error() {
    let r = raw(200, Some("application/json"), br#"{"id":"d1","hostna"#);
    assert!(matches!(
        decode::<Device>("findDeviceById", &r, now()),
        Err(Error::Decode { .. })
    ));
}

#[test]
fn a_success_with_a_non_json_content_type_is_a_content_type_error() {
    let r = raw(200, Some("text/html"), br#"{"id":"d1"}"#);
    assert!(matches!(
        decode::<Device>("findDeviceById", &r, now()),
        Err(Error::ContentType { .. })
    ));
}

#[test]
fn retry_after_seconds_win_over_rate_limit_reset() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("7"));
    h.insert("x-ratelimit-reset", HeaderValue::from_static("1800000030"));
    assert_eq!(retry_after(&h, now()), Some(Duration::from_secs(7)));
    h.remove("retry-after");
    assert_eq!(retry_after(&h, now()), Some(Duration::from_secs(30)));
    h.insert("x-ratelimit-reset", HeaderValue::from_static("1700000000"));
    assert_eq!(
        retry_after(&h, now()),
        Some(Duration::ZERO),
        "a reset in the past means now"
    );
    let later = now() + Duration::from_millis(29_250);
    h.insert("x-ratelimit-reset", HeaderValue::from_static("1800000030"));
    assert_eq!(
        retry_after(&h, later),
        Some(Duration::from_millis(750)),
        "measured from the exact time, not whole seconds"
    );
    h.insert("x-ratelimit-reset", HeaderValue::from_static("12"));
    assert_eq!(
        retry_after(&h, now()),
        Some(Duration::from_secs(12)),
        "small values are delays"
    );
    h.insert("x-ratelimit-reset", HeaderValue::from_static("soon"));
    assert_eq!(retry_after(&h, now()), None);
}

#[test]
fn a_429_carries_its_retry_after_and_request_id() {
    let mut r = raw(
        429,
        Some("application/json"),
        br#"{"errors":["Too many requests"]}"#,
    );
    r.headers
        .insert("retry-after", HeaderValue::from_static("3"));
    r.headers
        .insert("x-request-id", HeaderValue::from_static("req-1"));
    let e = decode::<Device>("findDeviceById", &r, now()).unwrap_err();
    assert!(e.is_rate_limited());
    assert_eq!(e.api().unwrap().retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(e.api().unwrap().request_id(), Some("req-1"));
}

fn status_strategy() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(200u16),
        Just(201),
        Just(204),
        Just(401),
        Just(404),
        Just(422),
        Just(429),
        Just(503),
        100u16..600
    ]
}

fn content_type_strategy() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("text/html".to_owned())),
        Just(Some("application/problem+json".to_owned())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

const DEVICE_JSON: &str = r#"{"id":"9b8f","hostname":"h","state":"active","tags":["a"],"ip_addresses":[{"address_family":4,"public":true,"address":"1.2.3.4"}],"meta":{"next":null}}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_with_any_status_give_a_value_or_an_error(
        status in status_strategy(),
        content_type in content_type_strategy(),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut r = raw(status, None, &body);
        if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
            r.headers.insert(header::CONTENT_TYPE, ct);
        }
        let result = decode::<Device>("findDeviceById", &r, now());
        if !(200..300).contains(&status) {
            prop_assert!(result.is_err());
        }
    }

    #[test]
    fn every_truncation_of_a_valid_body_is_handled(cut in 0usize..DEVICE_JSON.len()) {
        let r = raw(200, Some("application/json"), &DEVICE_JSON.as_bytes()[..cut]);
        let is_decode_error = matches!(decode::<Device>("findDeviceById", &r, now()), Err(Error::Decode { .. }));
        prop_assert!(is_decode_error);
        let e = raw(500, Some("application/json"), &br#"{"errors":["Oh snap, something went wrong!"]}"#[..cut.min(44)]);
        prop_assert!(decode::<Device>("findDeviceById", &e, now()).is_err());
    }

    #[test]
    fn json_of_the_wrong_shape_is_an_error_not_a_panic(value in arb_json()) {
        let body = serde_json::to_vec(&value).unwrap();
        let r = raw(200, Some("application/json"), &body);
        let _ = decode::<Device>("findDeviceById", &r, now());
        let _ = decode::<crate::models::IpReservation>("findIPAddressById", &r, now());
        let e = raw(422, Some("application/json"), &body);
        prop_assert!(decode::<Device>("createDevice", &e, now()).unwrap_err().api().is_some());
    }

    #[test]
    fn rate_limit_headers_never_panic(retry in "[ -~]{0,24}", reset in "[ -~]{0,24}") {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&retry) { h.insert("retry-after", v); }
        if let Ok(v) = HeaderValue::from_str(&reset) { h.insert("x-ratelimit-reset", v); }
        let _ = retry_after(&h, now());
        let _ = retry_after(&h, UNIX_EPOCH);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z_]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()),
                    Just("state".to_owned()),
                    Just("tags".to_owned()),
                    Just("ip_addresses".to_owned()),
                    Just("errors".to_owned()),
                    Just("error".to_owned()),
                    Just("metro".to_owned()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
