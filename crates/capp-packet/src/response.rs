//! Turning a raw HTTP response into a typed value or a typed [`Error`].
//!
//! Everything here is pure (the clock is passed in) so it can be fuzzed: any bytes, any headers,
//! any status give a value or an error, never a panic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, Error, Result, classify_messages};

/// Longest server text kept from a non-JSON error body.
const SNIPPET_CHARS: usize = 200;
/// At most this many messages are kept from an error body.
const MAX_MESSAGES: usize = 16;
/// `X-RateLimit-Reset` values above this are unix timestamps, below it delays in seconds
/// (PACKNGO read it as a unix time; some gateways send a delay).
const EPOCH_THRESHOLD: u64 = 1_000_000_000;

/// A complete response: status, headers and the (size-capped) body.
#[derive(Debug, Clone)]
pub(crate) struct RawResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Decodes a success response's JSON body into `T`; an error status becomes [`Error::Api`].
pub(crate) fn decode<T: DeserializeOwned>(
    operation: &'static str,
    response: &RawResponse,
    now: SystemTime,
) -> Result<T> {
    ensure_success(operation, response, now)?;
    if let Some(content_type) = response.headers.get(header::CONTENT_TYPE) {
        let text = String::from_utf8_lossy(content_type.as_bytes());
        if !is_json(&text) {
            return Err(Error::ContentType {
                operation,
                status: response.status,
                content_type: text.chars().take(SNIPPET_CHARS).collect(),
            });
        }
    }
    serde_json::from_slice(&response.body).map_err(|source| Error::Decode {
        operation,
        status: response.status,
        source,
    })
}

/// Checks for a success status, ignoring the body (204/202 answers).
pub(crate) fn ensure_success(
    operation: &'static str,
    response: &RawResponse,
    now: SystemTime,
) -> Result<()> {
    if response.status.is_success() {
        Ok(())
    } else {
        Err(Error::Api(Box::new(api_error(operation, response, now))))
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Builds the [`ApiError`] of an error response.
pub(crate) fn api_error(
    operation: &'static str,
    response: &RawResponse,
    now: SystemTime,
) -> ApiError {
    let (messages, json_body) = if let Some(messages) = error_messages(&response.body) {
        (messages, true)
    } else {
        let text = String::from_utf8_lossy(&response.body);
        let snippet: String = text.trim().chars().take(SNIPPET_CHARS).collect();
        let messages = if snippet.is_empty() {
            Vec::new()
        } else {
            vec![snippet]
        };
        (messages, false)
    };
    let signals = classify_messages(response.status, &messages);
    let retry_after = if matches!(
        response.status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        retry_after(&response.headers, now)
    } else {
        None
    };
    let request_id = response
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(SNIPPET_CHARS).collect());
    ApiError {
        operation,
        status: response.status,
        messages,
        json_body,
        request_id,
        retry_after,
        signals,
    }
}

/// The messages of the API's error shapes: `{"errors": ["..."]}` and `{"error": "..."}` (and, for
/// robustness, `errors` entries that are objects with `detail`/`message`/`title`/`code`).
/// `None` when the body is not such a JSON object.
pub(crate) fn error_messages(body: &[u8]) -> Option<Vec<String>> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let mut messages = Vec::new();
    if let Some(Value::String(s)) = map.get("error") {
        messages.push(s.clone());
    }
    if let Some(Value::Array(items)) = map.get("errors") {
        for item in items {
            match item {
                Value::String(s) => messages.push(s.clone()),
                Value::Object(o) => {
                    let text = ["detail", "message", "title", "code"]
                        .iter()
                        .find_map(|k| o.get(*k).and_then(Value::as_str));
                    if let Some(text) = text {
                        messages.push(text.to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    if messages.is_empty() && !map.contains_key("error") && !map.contains_key("errors") {
        return None;
    }
    messages.truncate(MAX_MESSAGES);
    for m in &mut messages {
        if m.chars().count() > SNIPPET_CHARS * 5 {
            *m = m.chars().take(SNIPPET_CHARS * 5).collect();
        }
    }
    Some(messages)
}

/// How long the server asked to wait: `Retry-After` (delay-seconds) first, then
/// `X-RateLimit-Reset` (unix seconds, or a delay when small). HTTP-date `Retry-After` values are
/// not used (no Metal component was ever seen to send one).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let number = |name: &str| -> Option<u64> {
        headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok()
    };
    if let Some(seconds) = number("retry-after") {
        return Some(Duration::from_secs(seconds));
    }
    let reset = number("x-ratelimit-reset")?;
    if reset < EPOCH_THRESHOLD {
        return Some(Duration::from_secs(reset));
    }
    // Against the exact current time, not whole seconds: a reset 1 s ahead at x.9 s means a
    // wait of 0.1 s, not 1 s (rounding now down could double a short wait).
    let now = now.duration_since(UNIX_EPOCH).ok()?;
    Some(Duration::from_secs(reset).saturating_sub(now))
}

#[cfg(test)]
mod tests;
