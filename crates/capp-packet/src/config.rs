//! Client configuration and the API token secret.

use std::fmt;
use std::time::Duration;

use http::Uri;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::rate_limit::RateLimit;
use crate::retry::RetryPolicy;

/// The public Equinix Metal API endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.equinix.com/metal/v1";

/// The largest `per_page` the spec allows for paginated lists (`components/parameters/PerPage.yaml`).
///
/// The spec's introduction still says "a maximum of 100 results per page"; if a server caps
/// lower than asked, nothing breaks, because the client follows `meta` rather than counting.
pub const MAX_PER_PAGE: u32 = 1000;

/// The `User-Agent` the client sends: `capp/<version> (+<repository>)`.
pub const USER_AGENT: &str = concat!(
    "capp/",
    env!("CARGO_PKG_VERSION"),
    " (+",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);

/// An Equinix Metal API token (`X-Auth-Token`).
///
/// `Debug` prints `ApiToken([REDACTED])`; there is no `Display`, and the client never logs it.
#[derive(Clone)]
pub struct ApiToken(SecretString);

impl ApiToken {
    /// Wraps a token.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self(SecretString::from(token.into()))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken([REDACTED])")
    }
}

impl From<String> for ApiToken {
    fn from(token: String) -> Self {
        Self::new(token)
    }
}

/// Everything a [`MetalClient`](crate::MetalClient) needs. Build with [`ClientConfig::new`] and
/// the `with_*` methods.
///
/// ```
/// use std::time::Duration;
/// use capp_packet::{ClientConfig, RateLimit};
/// let config = ClientConfig::new("my-token")
///     .with_base_url("http://127.0.0.1:8080/metal/v1")
///     .with_request_timeout(Duration::from_secs(10))
///     .with_rate_limit(Some(RateLimit { per_second: 5.0, burst: 10 }));
/// assert!(!format!("{config:?}").contains("my-token"));
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API root, e.g. [`DEFAULT_BASE_URL`]. `https`, or `http` to a loopback host (a simulator).
    pub base_url: String,
    /// The API token.
    pub token: ApiToken,
    /// `X-Consumer-Token` value: Packet staff said clients without one were rate limited harder.
    /// Default `capp`; `None` sends no header.
    pub consumer_token: Option<String>,
    /// `User-Agent`. Default [`USER_AGENT`].
    pub user_agent: String,
    /// Deadline of one HTTP attempt, connect and body included. Default 30 s.
    pub request_timeout: Duration,
    /// Deadline of the TCP connect. Default 10 s.
    pub connect_timeout: Duration,
    /// Largest response body accepted; bigger ones give [`Error::BodyTooLarge`]. Default 32 MiB
    /// (a full page of 1000 devices is about 4 MiB).
    pub max_body_bytes: usize,
    /// `per_page` for paginated lists, 1 to [`MAX_PER_PAGE`]. Default [`MAX_PER_PAGE`]: the fewest
    /// calls. Smaller values only make sense for tests of pagination.
    pub per_page: u32,
    /// Safety stop for lists that never end. Default 100 000 (the spec's largest `page`).
    pub max_pages: u64,
    /// Retries of idempotent calls.
    pub retry: RetryPolicy,
    /// Client-side rate limit shared by clones of the client; `None` disables it.
    pub rate_limit: Option<RateLimit>,
    /// CA certificates trusted for `https` in addition to the compiled-in Mozilla roots. Set with
    /// [`ClientConfig::with_extra_root_certificates`].
    extra_roots: ExtraRoots,
}

/// Extra trust anchors; `Debug` shows only how many there are.
#[derive(Clone, Default)]
struct ExtraRoots(Vec<CertificateDer<'static>>);

impl fmt::Debug for ExtraRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} certificate(s)", self.0.len())
    }
}

impl ClientConfig {
    /// Defaults for the public API with `token`.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token: ApiToken::new(token),
            consumer_token: Some("capp".to_owned()),
            user_agent: USER_AGENT.to_owned(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 32 * 1024 * 1024,
            per_page: MAX_PER_PAGE,
            max_pages: 100_000,
            retry: RetryPolicy::default(),
            rate_limit: Some(RateLimit::default()),
            extra_roots: ExtraRoots::default(),
        }
    }

    /// Sets the API root (e.g. a simulator's `http://127.0.0.1:PORT/metal/v1`).
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Sets the per-attempt timeout.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets (or with `None` disables) the client-side rate limit.
    #[must_use]
    pub fn with_rate_limit(mut self, rate_limit: Option<RateLimit>) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// Sets `per_page` for lists.
    #[must_use]
    pub fn with_per_page(mut self, per_page: u32) -> Self {
        self.per_page = per_page;
        self
    }

    /// Sets the response body cap.
    #[must_use]
    pub fn with_max_body_bytes(mut self, max_body_bytes: usize) -> Self {
        self.max_body_bytes = max_body_bytes;
        self
    }

    /// Also trusts the CA certificates in `pem` for `https`, besides the compiled-in Mozilla
    /// roots (which stay trusted).
    ///
    /// For a Metal-compatible endpoint whose certificate comes from a private CA: a test
    /// installation, or an API proxy inside a company network that re-signs TLS. `pem` holds
    /// one or more `-----BEGIN CERTIFICATE-----` blocks (other blocks, such as keys, are
    /// ignored). Calling this again adds to the certificates already given. Host names are
    /// still checked: the server's certificate must name the host of
    /// [`base_url`](Self::base_url).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `pem` is not PEM, holds no certificate, or holds a certificate
    /// that cannot serve as a trust anchor.
    ///
    /// ```
    /// use capp_packet::ClientConfig;
    /// let err = ClientConfig::new("token")
    ///     .with_extra_root_certificates("not a certificate")
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("extra_root_certificates"));
    /// ```
    pub fn with_extra_root_certificates(mut self, pem: impl AsRef<[u8]>) -> Result<Self> {
        const FIELD: &str = "extra_root_certificates";
        let mut found = Vec::new();
        for cert in CertificateDer::pem_slice_iter(pem.as_ref()) {
            let cert = cert.map_err(|e| {
                Error::Config(format!(
                    "{FIELD}: the PEM text is malformed ({e}); pass the CA certificate file as \
                     written by the CA, with its -----BEGIN CERTIFICATE----- lines"
                ))
            })?;
            // The same check the TLS setup does, so a bad certificate fails here, not on connect.
            rustls::RootCertStore::empty()
                .add(cert.clone())
                .map_err(|e| {
                    Error::Config(format!(
                        "{FIELD}: certificate {} is not a usable CA certificate ({e}); pass the \
                         CA's own certificate in PEM",
                        self.extra_roots.0.len() + found.len() + 1
                    ))
                })?;
            found.push(cert);
        }
        if found.is_empty() {
            return Err(Error::Config(format!(
                "{FIELD}: no -----BEGIN CERTIFICATE----- block found; pass the CA certificate \
                 in PEM (not DER, not a private key)"
            )));
        }
        self.extra_roots.0.extend(found);
        Ok(self)
    }

    /// The CA certificates trusted besides the compiled-in Mozilla roots (DER).
    #[must_use]
    pub fn extra_root_certificates(&self) -> &[CertificateDer<'static>] {
        &self.extra_roots.0
    }

    /// Checks the configuration and returns the parsed base URL (without trailing `/`).
    pub(crate) fn validate(&self) -> Result<BaseUrl> {
        let invalid = |reason: String| Err(Error::Config(reason));
        if self.token.expose().is_empty() {
            return invalid("token is empty; pass the Equinix Metal API token".to_owned());
        }
        if self.token.expose().bytes().any(|b| b < 0x20 || b == 0x7f) {
            return invalid("token contains control characters; check how it was read".to_owned());
        }
        if !(1..=MAX_PER_PAGE).contains(&self.per_page) {
            return invalid(format!(
                "per_page {} is outside 1..={MAX_PER_PAGE}",
                self.per_page
            ));
        }
        if self.max_pages == 0 {
            return invalid("max_pages must be at least 1".to_owned());
        }
        if self.request_timeout.is_zero() {
            return invalid("request_timeout must be more than zero".to_owned());
        }
        if self.retry.max_attempts == 0 {
            return invalid("retry.max_attempts must be at least 1 (1 = no retries)".to_owned());
        }
        if let Some(limit) = self.rate_limit
            && (!(limit.per_second.is_finite() && limit.per_second > 0.0) || limit.burst == 0)
        {
            return invalid(
                "rate_limit needs per_second > 0 and burst >= 1; use None to disable it".to_owned(),
            );
        }
        BaseUrl::parse(&self.base_url)
    }
}

/// A validated base URL.
#[derive(Debug, Clone)]
pub(crate) struct BaseUrl {
    /// `scheme://authority/path` without trailing slash.
    pub(crate) prefix: String,
}

impl BaseUrl {
    fn parse(text: &str) -> Result<Self> {
        let uri: Uri = text.parse().map_err(|_| {
            Error::Config(format!(
                "base_url {text:?} is not a URL; expected e.g. {DEFAULT_BASE_URL}"
            ))
        })?;
        let host = uri.host().unwrap_or_default();
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if is_loopback(host) => {}
            Some("http") => {
                return Err(Error::Config(format!(
                    "base_url {text:?} uses plain http to a non-loopback host; the token would \
                     cross the network in clear text, use https"
                )));
            }
            _ => {
                return Err(Error::Config(format!(
                    "base_url {text:?} needs an https:// (or http:// to loopback) scheme"
                )));
            }
        }
        if host.is_empty() {
            return Err(Error::Config(format!("base_url {text:?} has no host")));
        }
        if uri.query().is_some() {
            return Err(Error::Config(format!(
                "base_url {text:?} must not have a query"
            )));
        }
        Ok(Self {
            prefix: text.trim_end_matches('/').to_owned(),
        })
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_appears_in_debug_output() {
        let config = ClientConfig::new("s3cr3t-t0ken-value");
        let shown = format!("{config:?} {:?} {:#?}", config.token, config);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("REDACTED"));
    }

    #[test]
    fn plain_http_is_only_allowed_to_loopback() {
        for ok in [
            "http://127.0.0.1:8080/metal/v1",
            "http://localhost/metal/v1",
            "http://[::1]:9/x",
        ] {
            assert!(
                ClientConfig::new("t").with_base_url(ok).validate().is_ok(),
                "{ok}"
            );
        }
        let e = ClientConfig::new("t")
            .with_base_url("http://api.equinix.com/metal/v1")
            .validate();
        assert!(matches!(e, Err(Error::Config(m)) if m.contains("use https")));
        assert!(
            ClientConfig::new("t")
                .with_base_url("ftp://x/y")
                .validate()
                .is_err()
        );
        assert!(
            ClientConfig::new("t")
                .with_base_url("not a url")
                .validate()
                .is_err()
        );
    }

    #[test]
    fn the_default_is_the_public_api_with_the_largest_page() {
        let c = ClientConfig::new("t");
        assert_eq!(c.validate().unwrap().prefix, DEFAULT_BASE_URL);
        assert_eq!(c.per_page, 1000);
        assert!(USER_AGENT.starts_with("capp/"));
    }

    #[test]
    fn nonsense_settings_are_rejected_with_the_field_name() {
        let e = ClientConfig::new("t")
            .with_per_page(0)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("per_page"));
        let e = ClientConfig::new("").validate().unwrap_err();
        assert!(e.to_string().contains("token"));
        let e = ClientConfig::new("t")
            .with_rate_limit(Some(RateLimit {
                per_second: 0.0,
                burst: 1,
            }))
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("rate_limit"));
    }
}
