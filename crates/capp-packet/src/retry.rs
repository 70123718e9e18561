//! Retry policy: which calls are retried, after how long.
//!
//! Idempotent calls (GET, PUT, DELETE) are retried on [`Error::is_retryable`] failures with capped
//! exponential backoff and jitter, honouring the server's `Retry-After` / `X-RateLimit-Reset`
//! (capped). Calls that create something (POST) are never retried blindly: a retry after a 5xx,
//! a timeout or a broken connection could create a second device or address block. They are
//! sent again, with the same policy, only after a failure that proves nothing was applied (429,
//! 408, a refused connection): see [`Error::may_have_been_applied`].

use std::time::Duration;

use rand::Rng;

use crate::error::Error;

/// How the client retries: idempotent calls on every retryable failure, creates only on those
/// that prove nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 disables retries). Default 4.
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles each time. Default 250 ms.
    pub base_delay: Duration,
    /// Largest backoff between two attempts. Default 8 s.
    pub max_delay: Duration,
    /// Largest server-requested wait the client sleeps through; a longer `Retry-After` ends the
    /// retries and hands the error (with [`ApiError::retry_after`](crate::ApiError::retry_after))
    /// to the caller, whose requeue is a better place to wait. Default 30 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    #[must_use]
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before attempt `attempt + 1` after `error` on attempt `attempt` (1-based), or
    /// `None` when the call must not be retried.
    pub(crate) fn next_delay(
        &self,
        attempt: u32,
        error: &Error,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts || !error.is_retryable() {
            return None;
        }
        let backoff = self.backoff(attempt, rng);
        match error.api().and_then(crate::ApiError::retry_after) {
            Some(hint) if hint > self.max_retry_after => None,
            // The server's wait plus a little jitter, so the clients it told the same thing do
            // not all come back in the same millisecond.
            // Saturating: the hint comes from a server header, and `max_retry_after` may be set
            // to `Duration::MAX` to mean "no cap".
            Some(hint) => Some(hint.saturating_add(jitter(self.base_delay, rng))),
            None => Some(backoff),
        }
    }

    /// Exponential backoff for retry number `attempt` (1-based), capped, with "equal jitter":
    /// uniformly between half and all of the capped value.
    fn backoff(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        half + jitter(capped.saturating_sub(half), rng)
    }
}

/// A uniformly random duration in `[0, max]`.
fn jitter(max: Duration, rng: &mut impl Rng) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rng.random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::ApiError;

    fn status(code: u16) -> Error {
        Error::Api(Box::new(ApiError::new(
            "findDeviceById",
            StatusCode::from_u16(code).unwrap(),
            vec![],
        )))
    }

    #[test]
    fn backoff_grows_and_is_capped_with_jitter() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        for attempt in 1..=3 {
            let d = p.next_delay(attempt, &status(503), &mut rng).unwrap();
            let full = p.base_delay * 2u32.pow(attempt - 1);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
        let p = RetryPolicy {
            max_attempts: 50,
            ..RetryPolicy::default()
        };
        let d = p.next_delay(40, &status(500), &mut rng).unwrap();
        assert!(d <= p.max_delay);
    }

    #[test]
    fn jitter_spreads_the_waits() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(2);
        let waits: std::collections::BTreeSet<Duration> = (0..20)
            .map(|_| p.next_delay(3, &status(503), &mut rng).unwrap())
            .collect();
        assert!(waits.len() > 10, "{waits:?}");
    }

    #[test]
    fn client_errors_and_the_last_attempt_are_not_retried() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(p.next_delay(1, &status(404), &mut rng), None);
        assert_eq!(p.next_delay(1, &status(422), &mut rng), None);
        assert_eq!(p.next_delay(p.max_attempts, &status(503), &mut rng), None);
        assert_eq!(
            RetryPolicy::never().next_delay(1, &status(503), &mut rng),
            None
        );
    }

    #[test]
    fn the_servers_retry_after_is_honoured_up_to_the_cap() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(4);
        let mut e = ApiError::new("findDeviceById", StatusCode::TOO_MANY_REQUESTS, vec![]);
        e.retry_after = Some(Duration::from_secs(5));
        let d = p
            .next_delay(1, &Error::Api(Box::new(e.clone())), &mut rng)
            .unwrap();
        assert!(d >= Duration::from_secs(5) && d <= Duration::from_secs(5) + p.base_delay);
        e.retry_after = Some(Duration::from_secs(600));
        assert_eq!(p.next_delay(1, &Error::Api(Box::new(e)), &mut rng), None);
    }

    #[test]
    fn an_absurd_retry_after_without_a_cap_saturates_instead_of_panicking() {
        let p = RetryPolicy {
            max_retry_after: Duration::MAX,
            ..RetryPolicy::default()
        };
        let mut rng = StdRng::seed_from_u64(5);
        let mut e = ApiError::new("findDeviceById", StatusCode::TOO_MANY_REQUESTS, vec![]);
        e.retry_after = Some(Duration::from_secs(u64::MAX));
        let d = p.next_delay(1, &Error::Api(Box::new(e)), &mut rng);
        assert!(d >= Some(Duration::from_secs(u64::MAX)), "{d:?}");
    }
}
