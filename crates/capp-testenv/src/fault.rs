//! Failures injected into matching requests, for tests of a client's error handling.

/// A failure to inject into matching requests (see [`TestEnv::inject_fault`](crate::TestEnv::inject_fault)): the request is
/// answered with a `Status` error of the given code instead of being served.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fault {
    /// Only requests with this method (`None`: any method).
    pub method: Option<http::Method>,
    /// Only requests whose path (without the query) contains this text.
    pub path_contains: String,
    /// The HTTP code to answer with (409, 429, 500, 503...).
    pub code: u16,
    /// How many matching requests fail before the fault is used up.
    pub times: usize,
}

impl Fault {
    /// Fails the next request whose path contains `path_contains` with `code`.
    #[must_use]
    pub fn new(path_contains: impl Into<String>, code: u16) -> Self {
        Self {
            method: None,
            path_contains: path_contains.into(),
            code,
            times: 1,
        }
    }

    /// Only requests with this method.
    #[must_use]
    pub fn with_method(mut self, method: http::Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Fails this many matching requests.
    #[must_use]
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }
}
