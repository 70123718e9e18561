//! Call counters by operation and status class, for metrics.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use http::StatusCode;

/// The outcome class of one HTTP attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusClass {
    /// 2xx.
    Success,
    /// 1xx or 3xx (unexpected from this API).
    Unexpected,
    /// 4xx other than 429.
    ClientError,
    /// 429.
    RateLimited,
    /// 5xx.
    ServerError,
    /// No response: connection failure, broken exchange, timeout, oversized body.
    Transport,
}

impl StatusClass {
    /// Classifies an HTTP status.
    #[must_use]
    pub fn of(status: StatusCode) -> Self {
        match status.as_u16() {
            200..=299 => Self::Success,
            429 => Self::RateLimited,
            400..=499 => Self::ClientError,
            500..=599 => Self::ServerError,
            _ => Self::Unexpected,
        }
    }

    /// A short label for metrics: `2xx`, `4xx`, `429`, `5xx`, `other`, `transport`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "2xx",
            Self::Unexpected => "other",
            Self::ClientError => "4xx",
            Self::RateLimited => "429",
            Self::ServerError => "5xx",
            Self::Transport => "transport",
        }
    }
}

impl fmt::Display for StatusClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of a client's counters (shared by all clones of the client).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    /// HTTP attempts (retries included) by (operationId, outcome class).
    pub attempts: BTreeMap<(&'static str, StatusClass), u64>,
    /// Retries made (attempts beyond the first of each call).
    pub retries: u64,
    /// Attempts that had to wait for the client-side rate limiter.
    pub throttled: u64,
    /// Total time spent waiting for the rate limiter.
    pub throttled_for: Duration,
}

impl CallStats {
    /// Attempts of one operation, all outcomes.
    #[must_use]
    pub fn attempts_of(&self, operation: &str) -> u64 {
        self.attempts
            .iter()
            .filter(|((op, _), _)| *op == operation)
            .map(|(_, n)| n)
            .sum()
    }

    /// Attempts of one operation with one outcome.
    #[must_use]
    pub fn count(&self, operation: &str, class: StatusClass) -> u64 {
        self.attempts
            .iter()
            .filter(|((op, c), _)| *op == operation && *c == class)
            .map(|(_, n)| n)
            .sum()
    }

    /// HTTP attempts in total.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.attempts.values().sum()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    inner: Mutex<CallStats>,
}

impl Counters {
    fn with(&self, f: impl FnOnce(&mut CallStats)) {
        let mut stats = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut stats);
    }

    pub(crate) fn attempt(&self, operation: &'static str, class: StatusClass) {
        self.with(|s| *s.attempts.entry((operation, class)).or_default() += 1);
    }

    pub(crate) fn retry(&self) {
        self.with(|s| s.retries += 1);
    }

    pub(crate) fn throttled(&self, waited: Duration) {
        self.with(|s| {
            s.throttled += 1;
            s.throttled_for += waited;
        });
    }

    pub(crate) fn snapshot(&self) -> CallStats {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_by_operation_and_class() {
        let c = Counters::default();
        c.attempt("findDeviceById", StatusClass::Success);
        c.attempt("findDeviceById", StatusClass::ServerError);
        c.attempt("createDevice", StatusClass::Success);
        c.retry();
        let s = c.snapshot();
        assert_eq!(s.attempts_of("findDeviceById"), 2);
        assert_eq!(s.count("findDeviceById", StatusClass::ServerError), 1);
        assert_eq!(s.total(), 3);
        assert_eq!(s.retries, 1);
    }

    #[test]
    fn statuses_fall_in_their_classes() {
        assert_eq!(
            StatusClass::of(StatusCode::NO_CONTENT),
            StatusClass::Success
        );
        assert_eq!(
            StatusClass::of(StatusCode::TOO_MANY_REQUESTS),
            StatusClass::RateLimited
        );
        assert_eq!(
            StatusClass::of(StatusCode::NOT_FOUND),
            StatusClass::ClientError
        );
        assert_eq!(
            StatusClass::of(StatusCode::BAD_GATEWAY),
            StatusClass::ServerError
        );
        assert_eq!(StatusClass::of(StatusCode::FOUND), StatusClass::Unexpected);
    }
}
