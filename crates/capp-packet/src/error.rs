//! The crate's error type and the predicates callers decide with.
//!
//! Callers never look at message text: every decision a caller needs is a predicate here
//! (`is_not_found`, `is_rate_limited`, `is_capacity_unavailable`, `may_have_been_applied`, ...).
//! Status codes and the structured `{"errors":[...]}` / `{"error":"..."}` body drive them. Where the
//! real API's only signal was the message text (capacity shortages, a BGP session that already
//! exists), the text is matched in exactly one place, [`classify_messages`], next to the evidence.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed transport-level cause (hyper, I/O, TLS).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong talking to the Metal API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status (4xx/5xx, or an unexpected 1xx/3xx).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The request could not be sent, or the connection broke before a complete response.
    #[error("{operation} request failed before a complete response arrived")]
    Transport {
        /// The API operation (OpenAPI operationId).
        operation: &'static str,
        /// Whether the failure happened while connecting, i.e. nothing was sent.
        connect: bool,
        /// The transport's error.
        #[source]
        source: BoxError,
    },
    /// No complete response arrived within the per-request timeout.
    #[error("{operation} timed out after {timeout:?}")]
    Timeout {
        /// The API operation.
        operation: &'static str,
        /// The configured per-request timeout.
        timeout: Duration,
    },
    /// The response body was bigger than [`ClientConfig::max_body_bytes`](crate::ClientConfig).
    #[error("response body of {operation} exceeds the {limit}-byte limit")]
    BodyTooLarge {
        /// The API operation.
        operation: &'static str,
        /// The configured cap.
        limit: usize,
    },
    /// A success response whose `Content-Type` is not JSON.
    #[error("response of {operation} has content type {content_type:?}, expected application/json")]
    ContentType {
        /// The API operation.
        operation: &'static str,
        /// The status of the response.
        status: StatusCode,
        /// The content type the server sent.
        content_type: String,
    },
    /// A success response that is not JSON of the expected shape (truncated, garbage, wrong type).
    #[error("response of {operation} is not the expected JSON")]
    Decode {
        /// The API operation.
        operation: &'static str,
        /// The status of the response.
        status: StatusCode,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A request body could not be encoded (a non-finite float, for instance).
    #[error("could not encode the {operation} request body")]
    Encode {
        /// The API operation.
        operation: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// An argument cannot be sent (an id with characters that would change the URL path).
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The argument's name.
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The client configuration is unusable (bad base URL, zero rate, ...).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// A paginated list kept announcing more pages beyond the safety limit.
    #[error("listing with {operation} did not end after {pages} pages")]
    Pagination {
        /// The API operation.
        operation: &'static str,
        /// Pages read before giving up.
        pages: u64,
    },
}

/// The details of an error answer from the API.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiError {
    pub(crate) operation: &'static str,
    pub(crate) status: StatusCode,
    pub(crate) messages: Vec<String>,
    pub(crate) json_body: bool,
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) signals: Signals,
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("operation", &self.operation)
            .field("status", &self.status)
            .field("messages", &self.messages)
            .field("request_id", &self.request_id)
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "equinix metal api answered {} to {}",
            self.status, self.operation
        )?;
        if !self.messages.is_empty() {
            write!(f, ": {}", self.messages.join("; "))?;
        }
        Ok(())
    }
}

impl ApiError {
    /// Builds an API error from the parts of a response. `messages` are the server's texts.
    ///
    /// Mostly for tests of code that consumes [`Error`]; the client builds these itself.
    #[must_use]
    pub fn new(operation: &'static str, status: StatusCode, messages: Vec<String>) -> Self {
        let signals = classify_messages(status, &messages);
        Self {
            operation,
            status,
            messages,
            json_body: true,
            request_id: None,
            retry_after: None,
            signals,
        }
    }

    /// The API operation (OpenAPI operationId) that failed.
    #[must_use]
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The server's messages, for display to a person only: decide with the predicates.
    #[must_use]
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    /// Whether the body was the API's JSON error shape (false: an intermediary's page, or
    /// garbage).
    #[must_use]
    pub fn body_was_json(&self) -> bool {
        self.json_body
    }

    /// The `X-Request-Id` header, to quote to Equinix support.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// How long the server asked to wait (`Retry-After` or `X-RateLimit-Reset`), uncapped.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl Error {
    /// The API error details, when the server answered with an error status.
    #[must_use]
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status, when a response arrived.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api(e) => Some(e.status),
            Self::ContentType { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn status_is(&self, code: StatusCode) -> bool {
        self.api().is_some_and(|e| e.status == code)
    }

    /// 404: the resource does not exist (or no longer exists).
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.status_is(StatusCode::NOT_FOUND)
    }

    /// 403: the token may not see the resource. The real API also answered 403 for a device
    /// whose provisioning failed and that Equinix removed, so callers reading a device they
    /// created should treat it like [`is_not_found`](Self::is_not_found).
    #[must_use]
    pub fn is_forbidden(&self) -> bool {
        self.status_is(StatusCode::FORBIDDEN)
    }

    /// 401: the token is missing or invalid. Not retryable: fix the credentials.
    #[must_use]
    pub fn is_unauthorized(&self) -> bool {
        self.status_is(StatusCode::UNAUTHORIZED)
    }

    /// 429: the API's rate limit was hit. [`ApiError::retry_after`] says how long to wait when
    /// the server said so.
    #[must_use]
    pub fn is_rate_limited(&self) -> bool {
        self.status_is(StatusCode::TOO_MANY_REQUESTS)
    }

    /// 409: the request conflicts with the resource's current state.
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        self.status_is(StatusCode::CONFLICT)
    }

    /// 422: the server understood the request but refused it (validation, a device that is
    /// still provisioning, over quota, ...). Usually terminal for the same input, except
    /// [`is_capacity_unavailable`](Self::is_capacity_unavailable).
    #[must_use]
    pub fn is_unprocessable(&self) -> bool {
        self.status_is(StatusCode::UNPROCESSABLE_ENTITY)
    }

    /// 5xx from the server or an intermediary.
    #[must_use]
    pub fn is_server_error(&self) -> bool {
        self.api().is_some_and(|e| e.status.is_server_error())
    }

    /// No server (or hardware reservation) is available for the plan and location now.
    /// Transient on a scale of minutes to hours: retry slowly, or try another location.
    #[must_use]
    pub fn is_capacity_unavailable(&self) -> bool {
        self.api().is_some_and(|e| e.signals.capacity)
    }

    /// The thing being created already exists (the API answers 422 for a second BGP session of
    /// a device; 409 elsewhere). Creating it is then effectively done.
    #[must_use]
    pub fn is_already_exists(&self) -> bool {
        self.is_conflict() || self.api().is_some_and(|e| e.signals.already_exists)
    }

    /// The address of a `createIPAssignment` is assigned to a device already (422). Which
    /// device holds it, the one in the request or another, the answer does not say: look at
    /// the devices' addresses.
    #[must_use]
    pub fn is_already_assigned(&self) -> bool {
        self.api().is_some_and(|e| e.signals.already_assigned)
    }

    /// Whether sending the same request again later may succeed: 408, 429, 500, 502, 503, 504
    /// (except capacity shortages, see [`is_capacity_unavailable`](Self::is_capacity_unavailable)),
    /// timeouts and transport failures other than a rejected server certificate
    /// ([`is_certificate_rejected`](Self::is_certificate_rejected)). The client retries these
    /// itself for idempotent calls.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api(e) => {
                !e.signals.capacity
                    && matches!(
                        e.status,
                        StatusCode::REQUEST_TIMEOUT
                            | StatusCode::TOO_MANY_REQUESTS
                            | StatusCode::INTERNAL_SERVER_ERROR
                            | StatusCode::BAD_GATEWAY
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::GATEWAY_TIMEOUT
                    )
            }
            // A server certificate the client does not trust stays untrusted: retrying only
            // repeats the handshake (the caller fixes `base_url` or the trusted roots).
            Self::Transport { source, .. } => !is_certificate_rejection(source.as_ref()),
            Self::Timeout { .. } => true,
            _ => false,
        }
    }

    /// Whether the connection failed because the server's TLS certificate was rejected
    /// (untrusted issuer, wrong name, expired, ...).
    #[must_use]
    pub fn is_certificate_rejected(&self) -> bool {
        matches!(self, Self::Transport { source, .. } if is_certificate_rejection(source.as_ref()))
    }

    /// Whether the request may have taken effect on the server despite this error.
    ///
    /// `false` only when it provably did not: nothing was sent (connection refused, bad
    /// argument), or the server rejected it (4xx, a capacity shortage). `true` for 5xx, timeouts,
    /// connections broken mid-exchange, and undecodable success responses.
    ///
    /// This is what a caller of a non-idempotent call such as
    /// [`Metal::create_device`](crate::Metal::create_device) needs: when `true`, look the
    /// device up by its tags before creating again.
    #[must_use]
    pub fn may_have_been_applied(&self) -> bool {
        match self {
            Self::Api(e) => e.status.is_server_error() && !e.signals.capacity,
            Self::Transport { connect, .. } => !connect,
            Self::Timeout { .. }
            | Self::BodyTooLarge { .. }
            | Self::ContentType { .. }
            | Self::Decode { .. }
            | Self::Pagination { .. } => true,
            Self::Encode { .. } | Self::InvalidArgument { .. } | Self::Config(_) => false,
        }
    }
}

/// What the message texts of an error answer say beyond the status code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Signals {
    /// No servers or reservations available for the plan and location.
    pub(crate) capacity: bool,
    /// The resource being created already exists.
    pub(crate) already_exists: bool,
    /// The address being assigned is assigned already.
    pub(crate) already_assigned: bool,
}

/// Whether a transport error's cause chain holds a rustls certificate rejection. rustls errors
/// reach us wrapped in `std::io::Error`, whose `source()` skips the wrapped error, so each
/// `io::Error` is also looked into with `get_ref`.
fn is_certificate_rejection(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if matches!(
            e.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_))
        ) {
            return true;
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

/// The ONLY place in the project where API message text is interpreted.
///
/// The real API gave no structured code for these cases, only a status and text, so the text
/// is matched here (case-insensitively) and nowhere else; everything downstream uses
/// [`Error::is_capacity_unavailable`], [`Error::is_already_exists`] and
/// [`Error::is_already_assigned`]. Evidence for each
/// phrase (see `shared/reference/metal-api.md` §5):
///
/// - capacity, metro create: `{"errors":["There aren't available servers in that metro"]}`
///   (packngo PR #246, status not recorded);
/// - capacity, facility create: "The facility nrt1 has no provisionable c2.large.arm servers
///   matching your criteria" (crosscloudci#146, status not recorded), and the later
///   `422 No available servers with plan c2.large.arm in facility sv15` (flatcar/mantle PR #257;
///   the spot-market endpoint sent the same shape);
/// - capacity, reserved hardware: 503 "There are no available hardware reservations for selected
///   plan and facility" (CAPP #191, terraform-provider-packet#124);
/// - capacity, reservation still deprovisioning: "Server is not provisionable"
///   (terraform-provider-metal#87/#188);
/// - already exists, BGP: 422 "... already has session" (CAPP `EnsureNodeBGPEnabled`, CPEM);
/// - already assigned, `createIPAssignment`: 422 "<address> is already assigned" (capp-sim's
///   answer, and the phrase of the bug report of two control planes racing for the Elastic
///   IP; the real API's full text was not recorded).
///
/// Only 4xx/5xx answers other than 401/403/404/429 are classified, so a 404 whose text happens
/// to mention capacity stays a plain 404.
pub(crate) fn classify_messages(status: StatusCode, messages: &[String]) -> Signals {
    const CAPACITY: [&str; 5] = [
        "aren't available servers",
        "no available servers",
        "no provisionable",
        "no available hardware reservations",
        "not provisionable",
    ];
    const ALREADY_EXISTS: [&str; 2] = ["already has session", "already exists"];
    const ALREADY_ASSIGNED: [&str; 1] = ["already assigned"];
    let classified = (status.is_client_error() || status.is_server_error())
        && !matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
                | StatusCode::NOT_FOUND
                | StatusCode::TOO_MANY_REQUESTS
        );
    if !classified {
        return Signals::default();
    }
    let lower: Vec<String> = messages.iter().map(|m| m.to_lowercase()).collect();
    let any = |phrases: &[&str]| lower.iter().any(|m| phrases.iter().any(|p| m.contains(p)));
    Signals {
        capacity: any(&CAPACITY),
        already_exists: status == StatusCode::UNPROCESSABLE_ENTITY && any(&ALREADY_EXISTS),
        already_assigned: status == StatusCode::UNPROCESSABLE_ENTITY && any(&ALREADY_ASSIGNED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, msg: &str) -> Error {
        Error::Api(Box::new(ApiError::new(
            "createDevice",
            StatusCode::from_u16(status).unwrap(),
            vec![msg.to_owned()],
        )))
    }

    #[test]
    fn errors_can_cross_threads_and_stay_small() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert!(size_of::<Error>() <= 48, "{}", size_of::<Error>());
    }

    #[test]
    fn each_status_maps_to_its_predicate() {
        assert!(api(401, "Invalid authentication token").is_unauthorized());
        assert!(api(403, "nope").is_forbidden());
        assert!(api(404, "Not found").is_not_found());
        assert!(api(409, "conflict").is_conflict());
        assert!(api(422, "Facility can't be blank").is_unprocessable());
        assert!(api(429, "slow down").is_rate_limited());
        assert!(api(502, "bad gateway").is_server_error());
    }

    #[test]
    fn the_real_capacity_messages_are_capacity_errors() {
        for (status, text) in [
            (422, "There aren't available servers in that metro"),
            (
                503,
                "There are no available hardware reservations for selected plan and facility",
            ),
            (
                422,
                "The facility nrt1 has no provisionable c2.large.arm servers matching your criteria",
            ),
            (
                422,
                "No available servers with plan c2.large.arm in facility sv15",
            ),
            (422, "Server is not provisionable"),
        ] {
            let e = api(status, text);
            assert!(e.is_capacity_unavailable(), "{text}");
            assert!(!e.is_retryable(), "capacity is not a fast retry: {text}");
            assert!(!e.may_have_been_applied(), "{text}");
        }
    }

    #[test]
    fn validation_errors_are_not_capacity_errors() {
        assert!(!api(422, "ny5 is not a valid facility").is_capacity_unavailable());
        assert!(!api(404, "no available servers").is_capacity_unavailable());
    }

    #[test]
    fn a_second_bgp_session_is_already_exists() {
        let e = api(
            422,
            "Device 9b8f already has session for address family ipv4",
        );
        assert!(e.is_already_exists());
        assert!(!api(422, "Cannot delete a device while it is provisioning").is_already_exists());
    }

    #[test]
    fn an_address_assigned_twice_is_already_assigned() {
        let e = api(422, "147.75.1.2 is already assigned");
        assert!(e.is_already_assigned());
        assert!(
            !e.is_already_exists(),
            "the assignment asked for may not exist"
        );
        assert!(!api(422, "147.75.1.2 is not within an IP reservation").is_already_assigned());
        assert!(!api(404, "already assigned").is_already_assigned());
    }

    #[test]
    fn server_errors_are_retryable_and_may_have_been_applied() {
        let e = api(500, "Oh snap, something went wrong!");
        assert!(e.is_retryable());
        assert!(e.may_have_been_applied());
        assert!(!api(429, "").may_have_been_applied());
        assert!(!api(422, "bad").is_retryable());
    }

    #[test]
    fn a_connect_failure_was_not_applied_but_a_broken_exchange_may_have_been() {
        let refused = Error::Transport {
            operation: "createDevice",
            connect: true,
            source: "connection refused".into(),
        };
        assert!(refused.is_retryable());
        assert!(!refused.may_have_been_applied());
        let broken = Error::Transport {
            operation: "createDevice",
            connect: false,
            source: "unexpected eof".into(),
        };
        assert!(broken.may_have_been_applied());
    }

    #[test]
    fn the_display_message_names_status_operation_and_server_text() {
        let e = api(422, "Facility can't be blank");
        assert_eq!(
            e.to_string(),
            "equinix metal api answered 422 Unprocessable Entity to createDevice: \
             Facility can't be blank"
        );
    }
}
