//! [`MetalClient`]: the HTTP implementation of [`Metal`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{BaseUrl, ClientConfig};
use crate::error::{Error, Result};
use crate::metal::Metal;
use crate::models::{
    AssignIp, BgpConfig, BgpNeighbor, BgpSession, CreateBgpSession, CreateDevice, CreateSshKey,
    Device, Facility, HardwareReservation, IpAssignment, IpReservation, Metro, OperatingSystem,
    Plan, Project, RequestBgpConfig, RequestIpReservation, SshKey, UpdateDevice,
};
use crate::rate_limit::RateLimiter;
use crate::response::{self, RawResponse};
use crate::stats::{CallStats, Counters, StatusClass};

mod paging;

use paging::Paged;

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The Equinix Metal API client.
///
/// Cheap to clone; clones share the connection pool, the rate limiter and the counters, so one
/// client per process (or per API token) is the intended use.
///
/// ```no_run
/// use capp_packet::{ClientConfig, Metal, MetalClient};
/// # async fn demo() -> capp_packet::Result<()> {
/// let client = MetalClient::new(ClientConfig::new("token"))?;
/// let device = client.get_device("9b8f2f35-4e1d-4c8a-9a51-2f0b8a7c1d10").await?;
/// println!("{} is {:?}", device.hostname, device.state);
/// println!("{:?}", client.stats());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MetalClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: HttpClient,
    base: BaseUrl,
    token: HeaderValue,
    user_agent: HeaderValue,
    consumer_token: Option<HeaderValue>,
    config: ClientConfig,
    limiter: Option<RateLimiter>,
    counters: Counters,
}

impl fmt::Debug for MetalClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately not the config's Debug: keep this short, and the token out.
        f.debug_struct("MetalClient")
            .field("base_url", &self.inner.base.prefix)
            .field("per_page", &self.inner.config.per_page)
            .field("rate_limit", &self.inner.config.rate_limit)
            .field("retry", &self.inner.config.retry)
            .finish_non_exhaustive()
    }
}

/// The rustls configuration of the connector: ring, rustls' safe default protocol versions, and
/// the Mozilla roots plus [`ClientConfig::extra_root_certificates`]. No ALPN yet: the connector
/// builder sets it (`h2`, `http/1.1`).
fn tls_config(config: &ClientConfig) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for (n, cert) in config.extra_root_certificates().iter().enumerate() {
        roots.add(cert.clone()).map_err(|_| {
            Error::Config(format!(
                "extra_root_certificates: certificate {} is not a usable CA certificate; pass \
                 the CA's own certificate in PEM",
                n + 1
            ))
        })?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|_| Error::Config("the ring crypto provider offers no TLS version".into()))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// Whether a call may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Same effect however often it is applied: retried on retryable failures.
    Idempotent,
    /// Creates something: sent again only after a failure that proves the server did not act
    /// on it (429, 408, a refused connection; see [`Error::may_have_been_applied`]), never after
    /// a 5xx, a timeout or an exchange broken after the request went out.
    IfNotApplied,
}

/// One API call before it is sent.
struct Call {
    operation: &'static str,
    method: Method,
    path_and_query: String,
    body: Option<Bytes>,
    retry: Retry,
}

impl MetalClient {
    /// Builds a client. Fails on an unusable configuration (see [`ClientConfig`]).
    pub fn new(config: ClientConfig) -> Result<Self> {
        let base = config.validate()?;
        let mut token = HeaderValue::from_str(config.token.expose()).map_err(|_| {
            Error::Config("token is not a valid HTTP header value; check how it was read".into())
        })?;
        // Marks it so HTTP/2 never puts it in the HPACK table and Debug prints "Sensitive".
        token.set_sensitive(true);
        let user_agent = HeaderValue::from_str(&config.user_agent)
            .map_err(|_| Error::Config("user_agent is not a valid HTTP header value".into()))?;
        let consumer_token = match &config.consumer_token {
            Some(t) => Some(HeaderValue::from_str(t).map_err(|_| {
                Error::Config("consumer_token is not a valid HTTP header value".into())
            })?),
            None => None,
        };

        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(&config)?)
            // Plain http is only reachable for loopback hosts: `validate` refused the rest.
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(connector);
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);

        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                token,
                user_agent,
                consumer_token,
                limiter: config.rate_limit.map(RateLimiter::new),
                config,
                counters: Counters::default(),
            }),
        })
    }

    /// A snapshot of the calls made so far by this client and its clones.
    #[must_use]
    pub fn stats(&self) -> CallStats {
        self.inner.counters.snapshot()
    }

    /// The configured API root.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.inner.base.prefix
    }

    /// Sends `call`, retrying idempotent calls, and returns the success response.
    async fn execute(&self, call: &Call) -> Result<RawResponse> {
        let inner = &self.inner;
        let mut attempt = 1;
        loop {
            if let Some(limiter) = &inner.limiter {
                let waited = limiter.acquire().await;
                if !waited.is_zero() {
                    inner.counters.throttled(waited);
                }
            }
            let started = Instant::now();
            let outcome = match self.send_once(call).await {
                Ok(raw) if raw.status.is_success() => Ok(raw),
                Ok(raw) => Err(Error::Api(Box::new(response::api_error(
                    call.operation,
                    &raw,
                    SystemTime::now(),
                )))),
                Err(e) => Err(e),
            };
            let class = match &outcome {
                Ok(raw) => StatusClass::of(raw.status),
                Err(Error::Api(e)) => StatusClass::of(e.status()),
                Err(_) => StatusClass::Transport,
            };
            inner.counters.attempt(call.operation, class);
            tracing::debug!(
                operation = call.operation,
                method = %call.method,
                outcome = class.as_str(),
                attempt,
                elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "Metal API call"
            );
            let error = match outcome {
                Ok(raw) => return Ok(raw),
                Err(e) => e,
            };
            // A 429 with a wait pauses every clone of the client, not only this call.
            if let (Some(limiter), Some(api)) = (&inner.limiter, error.api())
                && api.status() == http::StatusCode::TOO_MANY_REQUESTS
                && let Some(wait) = api.retry_after()
            {
                limiter.pause_for(wait.min(inner.config.retry.max_retry_after));
            }
            let may_resend = match call.retry {
                Retry::Idempotent => true,
                // A create goes out again only when the server provably did not act on it.
                Retry::IfNotApplied => !error.may_have_been_applied(),
            };
            let delay = if may_resend {
                inner
                    .config
                    .retry
                    .next_delay(attempt, &error, &mut rand::rng())
            } else {
                None
            };
            let Some(delay) = delay else {
                return Err(error);
            };
            tracing::info!(
                operation = call.operation,
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason = %error,
                "Retrying Metal API call"
            );
            inner.counters.retry();
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One HTTP exchange with the per-request timeout and the body cap.
    async fn send_once(&self, call: &Call) -> Result<RawResponse> {
        let inner = &self.inner;
        let operation = call.operation;
        let uri = format!("{}{}", inner.base.prefix, call.path_and_query);
        let mut builder = Request::builder()
            .method(call.method.clone())
            .uri(uri)
            .header("x-auth-token", inner.token.clone())
            .header(header::USER_AGENT, inner.user_agent.clone())
            .header(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(consumer) = &inner.consumer_token {
            builder = builder.header("x-consumer-token", consumer.clone());
        }
        let body = match &call.body {
            Some(body) => {
                builder = builder.header(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Full::new(body.clone())
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder.body(body).map_err(|_| Error::InvalidArgument {
            field: "path",
            reason: "the request URL could not be built from the base URL and path".to_owned(),
        })?;

        let limit = inner.config.max_body_bytes;
        let exchange = async {
            let response = inner
                .http
                .request(request)
                .await
                .map_err(|e| Error::Transport {
                    operation,
                    connect: e.is_connect(),
                    source: Box::new(e),
                })?;
            let (parts, body) = response.into_parts();
            let declared = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|len| len > limit as u64) {
                return Err(Error::BodyTooLarge { operation, limit });
            }
            let body = Limited::new(body, limit).collect().await.map_err(|e| {
                if e.is::<LengthLimitError>() {
                    Error::BodyTooLarge { operation, limit }
                } else {
                    Error::Transport {
                        operation,
                        connect: false,
                        source: e,
                    }
                }
            })?;
            Ok(RawResponse {
                status: parts.status,
                headers: parts.headers,
                body: body.to_bytes(),
            })
        };
        let timeout = inner.config.request_timeout;
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Error::Timeout { operation, timeout })?
    }

    async fn get<T: DeserializeOwned>(&self, operation: &'static str, path: String) -> Result<T> {
        let call = Call {
            operation,
            method: Method::GET,
            path_and_query: path,
            body: None,
            retry: Retry::Idempotent,
        };
        let raw = self.execute(&call).await?;
        response::decode(operation, &raw, SystemTime::now())
    }

    async fn send_json<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: String,
        body: &B,
        retry: Retry,
    ) -> Result<T> {
        let raw = self.send_body(operation, method, path, body, retry).await?;
        response::decode(operation, &raw, SystemTime::now())
    }

    async fn send_body<B: Serialize + Sync>(
        &self,
        operation: &'static str,
        method: Method,
        path: String,
        body: &B,
        retry: Retry,
    ) -> Result<RawResponse> {
        let body =
            serde_json::to_vec(body).map_err(|source| Error::Encode { operation, source })?;
        let call = Call {
            operation,
            method,
            path_and_query: path,
            body: Some(body.into()),
            retry,
        };
        self.execute(&call).await
    }

    async fn delete(&self, operation: &'static str, path: String) -> Result<()> {
        let call = Call {
            operation,
            method: Method::DELETE,
            path_and_query: path,
            body: None,
            retry: Retry::Idempotent,
        };
        self.execute(&call).await.map(drop)
    }

    /// Reads every page of a paginated list. `query` is appended to each page's query string.
    async fn list_all<P: Paged>(
        &self,
        operation: &'static str,
        path: &str,
        query: &str,
    ) -> Result<Vec<P::Item>> {
        let config = &self.inner.config;
        let mut items = Vec::new();
        let mut page: u64 = 1;
        let mut pages_read: u64 = 0;
        loop {
            let separator = if query.is_empty() { "" } else { "&" };
            let url = format!(
                "{path}?{query}{separator}page={page}&per_page={}",
                config.per_page
            );
            let body: P = self.get(operation, url).await?;
            pages_read += 1;
            let (mut batch, meta) = body.into_parts();
            let got = batch.len();
            items.append(&mut batch);
            let Some(next) = paging::next_page(page, got, meta.as_ref()) else {
                return Ok(items);
            };
            if pages_read >= config.max_pages {
                return Err(Error::Pagination {
                    operation,
                    pages: pages_read,
                });
            }
            page = next;
        }
    }
}

/// Checks that `id` can be put in a URL path as one segment, unchanged.
///
/// Metal ids are UUIDs (or short ids); anything with `/`, `?`, `%`, spaces, ... would change
/// which URL is called, so it is refused rather than escaped.
fn segment<'a>(field: &'static str, id: &'a str) -> Result<&'a str> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(id)
    } else {
        Err(Error::InvalidArgument {
            field,
            reason: format!(
                "{:?} is not an id; expected a UUID such as 9b8f2f35-4e1d-4c8a-9a51-2f0b8a7c1d10",
                id.chars().take(64).collect::<String>()
            ),
        })
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
fn encode_query(value: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[async_trait]
impl Metal for MetalClient {
    async fn get_project(&self, project_id: &str) -> Result<Project> {
        let id = segment("project_id", project_id)?;
        self.get("findProjectById", format!("/projects/{id}")).await
    }

    async fn create_device(&self, project_id: &str, request: &CreateDevice) -> Result<Device> {
        let id = segment("project_id", project_id)?;
        let path = format!("/projects/{id}/devices");
        self.send_json(
            "createDevice",
            Method::POST,
            path,
            request,
            Retry::IfNotApplied,
        )
        .await
    }

    async fn get_device(&self, device_id: &str) -> Result<Device> {
        let id = segment("device_id", device_id)?;
        self.get("findDeviceById", format!("/devices/{id}")).await
    }

    async fn list_devices(&self, project_id: &str) -> Result<Vec<Device>> {
        let id = segment("project_id", project_id)?;
        let devices = self
            .list_all::<paging::DevicePage>(
                "findProjectDevices",
                &format!("/projects/{id}/devices"),
                "",
            )
            .await?;
        Ok(paging::dedup_by_id(devices, |d| &d.id))
    }

    async fn devices_with_tags(&self, project_id: &str, tags: &[String]) -> Result<Vec<Device>> {
        let id = segment("project_id", project_id)?;
        let query = tags
            .first()
            .map(|t| format!("tag={}", encode_query(t)))
            .unwrap_or_default();
        let devices = self
            .list_all::<paging::DevicePage>(
                "findProjectDevices",
                &format!("/projects/{id}/devices"),
                &query,
            )
            .await?;
        // The server filter is one tag (and a simulator or an old server may ignore it): check
        // all of them here.
        let matching = devices.into_iter().filter(|d| d.has_tags(tags)).collect();
        Ok(paging::dedup_by_id(matching, |d| &d.id))
    }

    async fn update_device(&self, device_id: &str, request: &UpdateDevice) -> Result<Device> {
        let id = segment("device_id", device_id)?;
        let path = format!("/devices/{id}");
        self.send_json(
            "updateDevice",
            Method::PUT,
            path,
            request,
            Retry::Idempotent,
        )
        .await
    }

    async fn delete_device(&self, device_id: &str, force_delete: bool) -> Result<()> {
        let id = segment("device_id", device_id)?;
        let query = if force_delete {
            "?force_delete=true"
        } else {
            ""
        };
        self.delete("deleteDevice", format!("/devices/{id}{query}"))
            .await
    }

    async fn list_device_ips(&self, device_id: &str) -> Result<Vec<IpAssignment>> {
        let id = segment("device_id", device_id)?;
        let body: paging::IpAssignmentList = self
            .get("findIPAssignments", format!("/devices/{id}/ips"))
            .await?;
        Ok(body.ip_addresses)
    }

    async fn assign_ip(&self, device_id: &str, request: &AssignIp) -> Result<IpAssignment> {
        let id = segment("device_id", device_id)?;
        let path = format!("/devices/{id}/ips");
        self.send_json(
            "createIPAssignment",
            Method::POST,
            path,
            request,
            Retry::IfNotApplied,
        )
        .await
    }

    async fn unassign_ip(&self, assignment_id: &str) -> Result<()> {
        let id = segment("assignment_id", assignment_id)?;
        self.delete("deleteIPAddress", format!("/ips/{id}")).await
    }

    async fn request_ip_reservation(
        &self,
        project_id: &str,
        request: &RequestIpReservation,
    ) -> Result<IpReservation> {
        let id = segment("project_id", project_id)?;
        let path = format!("/projects/{id}/ips");
        self.send_json(
            "requestIPReservation",
            Method::POST,
            path,
            request,
            Retry::IfNotApplied,
        )
        .await
    }

    async fn list_ip_reservations(&self, project_id: &str) -> Result<Vec<IpReservation>> {
        let id = segment("project_id", project_id)?;
        let reservations = self
            .list_all::<paging::IpReservationPage>(
                "findIPReservations",
                &format!("/projects/{id}/ips"),
                "include=assignments",
            )
            .await?;
        Ok(paging::dedup_by_id(reservations, |r| &r.id))
    }

    async fn get_ip_reservation(&self, reservation_id: &str) -> Result<IpReservation> {
        let id = segment("reservation_id", reservation_id)?;
        self.get(
            "findIPAddressById",
            format!("/ips/{id}?include=assignments"),
        )
        .await
    }

    async fn delete_ip_reservation(&self, reservation_id: &str) -> Result<()> {
        let id = segment("reservation_id", reservation_id)?;
        self.delete("deleteIPAddress", format!("/ips/{id}")).await
    }

    async fn list_metros(&self) -> Result<Vec<Metro>> {
        let body: paging::MetroList = self
            .get("findMetros", "/locations/metros".to_owned())
            .await?;
        Ok(body.metros)
    }

    async fn list_facilities(&self) -> Result<Vec<Facility>> {
        let body: paging::FacilityList =
            self.get("findFacilities", "/facilities".to_owned()).await?;
        Ok(body.facilities)
    }

    async fn list_plans(&self) -> Result<Vec<Plan>> {
        let body: paging::PlanList = self.get("findPlans", "/plans".to_owned()).await?;
        Ok(body.plans)
    }

    async fn list_operating_systems(&self) -> Result<Vec<OperatingSystem>> {
        let body: paging::OperatingSystemList = self
            .get("findOperatingSystems", "/operating-systems".to_owned())
            .await?;
        Ok(body.operating_systems)
    }

    async fn list_hardware_reservations(
        &self,
        project_id: &str,
    ) -> Result<Vec<HardwareReservation>> {
        let id = segment("project_id", project_id)?;
        let reservations = self
            .list_all::<paging::HardwareReservationPage>(
                "findProjectHardwareReservations",
                &format!("/projects/{id}/hardware-reservations"),
                "",
            )
            .await?;
        Ok(paging::dedup_by_id(reservations, |r| &r.id))
    }

    async fn get_hardware_reservation(&self, reservation_id: &str) -> Result<HardwareReservation> {
        let id = segment("reservation_id", reservation_id)?;
        self.get(
            "findHardwareReservationById",
            format!("/hardware-reservations/{id}"),
        )
        .await
    }

    async fn list_project_ssh_keys(&self, project_id: &str) -> Result<Vec<SshKey>> {
        let id = segment("project_id", project_id)?;
        let body: paging::SshKeyList = self
            .get("findProjectSSHKeys", format!("/projects/{id}/ssh-keys"))
            .await?;
        Ok(body.ssh_keys)
    }

    async fn create_project_ssh_key(
        &self,
        project_id: &str,
        request: &CreateSshKey,
    ) -> Result<SshKey> {
        let id = segment("project_id", project_id)?;
        let path = format!("/projects/{id}/ssh-keys");
        self.send_json(
            "createProjectSSHKey",
            Method::POST,
            path,
            request,
            Retry::IfNotApplied,
        )
        .await
    }

    async fn delete_ssh_key(&self, key_id: &str) -> Result<()> {
        let id = segment("key_id", key_id)?;
        self.delete("deleteSSHKey", format!("/ssh-keys/{id}")).await
    }

    async fn get_bgp_config(&self, project_id: &str) -> Result<BgpConfig> {
        let id = segment("project_id", project_id)?;
        self.get(
            "findBgpConfigByProject",
            format!("/projects/{id}/bgp-config"),
        )
        .await
    }

    async fn request_bgp_config(&self, project_id: &str, request: &RequestBgpConfig) -> Result<()> {
        let id = segment("project_id", project_id)?;
        let path = format!("/projects/{id}/bgp-configs");
        self.send_body(
            "requestBgpConfig",
            Method::POST,
            path,
            request,
            Retry::IfNotApplied,
        )
        .await
        .map(drop)
    }

    async fn create_bgp_session(
        &self,
        device_id: &str,
        request: &CreateBgpSession,
    ) -> Result<BgpSession> {
        let id = segment("device_id", device_id)?;
        let path = format!("/devices/{id}/bgp/sessions");
        self.send_json(
            "createBgpSession",
            Method::POST,
            path,
            request,
            Retry::Idempotent,
        )
        .await
    }

    async fn list_bgp_sessions(&self, device_id: &str) -> Result<Vec<BgpSession>> {
        let id = segment("device_id", device_id)?;
        let body: paging::BgpSessionList = self
            .get("findBgpSessions", format!("/devices/{id}/bgp/sessions"))
            .await?;
        Ok(body.bgp_sessions)
    }

    async fn delete_bgp_session(&self, session_id: &str) -> Result<()> {
        let id = segment("session_id", session_id)?;
        self.delete("deleteBgpSession", format!("/bgp/sessions/{id}"))
            .await
    }

    async fn get_bgp_neighbors(&self, device_id: &str) -> Result<Vec<BgpNeighbor>> {
        let id = segment("device_id", device_id)?;
        let body: paging::BgpNeighborList = self
            .get("getBgpNeighborData", format!("/devices/{id}/bgp/neighbors"))
            .await?;
        Ok(body.bgp_neighbors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_would_change_the_url_are_refused() {
        assert!(segment("device_id", "9b8f2f35-4e1d-4c8a-9a51-2f0b8a7c1d10").is_ok());
        for bad in ["", "..", "a/b", "a?b", "a b", "%2e", "x#y"] {
            let e = segment("device_id", bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid device_id"), "{bad}: {e}");
        }
    }

    #[test]
    fn tags_are_percent_encoded_in_queries() {
        assert_eq!(
            encode_query("kubernetes.io/role:master"),
            "kubernetes.io%2Frole%3Amaster"
        );
        assert_eq!(encode_query("a b&c=d"), "a%20b%26c%3Dd");
    }

    #[test]
    fn the_client_debug_output_has_no_token() {
        let client = MetalClient::new(ClientConfig::new("very-secret-token")).unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("api.equinix.com"));
    }
}
