//! A client-side token bucket shared by every clone of a client.
//!
//! Many controllers (and many reconciles of one controller) share one [`MetalClient`](crate::MetalClient);
//! the bucket keeps their combined request rate under the configured limit so they cannot
//! stampede the API into 429s. Waiters reserve a token and sleep outside the lock, so they are
//! served in arrival order. When the server answers 429 with a wait, the whole bucket pauses for
//! that long, so the clones that did not see the 429 do not keep hitting the limit either.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Rate and burst of the client-side limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second (> 0).
    pub per_second: f64,
    /// Requests allowed at once after a quiet period (>= 1).
    pub burst: u32,
}

impl Default for RateLimit {
    /// 10 requests/s with bursts of 20: well under what one Equinix account could sustain,
    /// and far more than a provider managing hundreds of machines needs.
    fn default() -> Self {
        Self {
            per_second: 10.0,
            burst: 20,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available now; negative when waiters have reserved future tokens.
    tokens: f64,
    updated: Instant,
    /// No request goes out before this instant (set from a 429's wait).
    paused_until: Option<Instant>,
}

/// The token bucket.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    bucket: Mutex<Bucket>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            bucket: Mutex::new(Bucket {
                tokens: f64::from(limit.burst),
                updated: Instant::now(),
                paused_until: None,
            }),
        }
    }

    /// Takes one token, sleeping until it is available. Returns how long it waited.
    pub(crate) async fn acquire(&self) -> Duration {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }

    /// Reserves a token at `now` and returns how long until it is usable.
    fn reserve(&self, now: Instant) -> Duration {
        // A poisoned lock only means another task panicked mid-update; the bucket's numbers are
        // still plain floats, so keep going with them.
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = elapsed
            .mul_add(self.limit.per_second, bucket.tokens)
            .min(f64::from(self.limit.burst));
        bucket.updated = now;
        bucket.tokens -= 1.0;
        let for_token = if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            // try_: a tiny configured rate could make the wait overflow a Duration.
            Duration::try_from_secs_f64(-bucket.tokens / self.limit.per_second)
                .unwrap_or(Duration::MAX)
        };
        let for_pause = bucket
            .paused_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        for_token.max(for_pause)
    }

    /// Holds every request back for `wait` from now (the server said so with a 429).
    pub(crate) fn pause_for(&self, wait: Duration) {
        // The wait comes from a server header; an absurd one must not overflow the clock.
        let now = Instant::now();
        let until = now
            .checked_add(wait)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if bucket.paused_until.is_none_or(|current| current < until) {
            bucket.paused_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_requests_are_spaced_at_the_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 3,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.reserve(t0), Duration::ZERO);
        }
        let fourth = limiter.reserve(t0);
        let fifth = limiter.reserve(t0);
        assert!((fourth.as_secs_f64() - 0.1).abs() < 1e-6, "{fourth:?}");
        assert!((fifth.as_secs_f64() - 0.2).abs() < 1e-6, "{fifth:?}");
    }

    #[test]
    fn tokens_refill_over_time_up_to_the_burst() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 2,
        });
        let t0 = Instant::now();
        limiter.reserve(t0);
        limiter.reserve(t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(limiter.reserve(later), Duration::ZERO);
        assert_eq!(limiter.reserve(later), Duration::ZERO);
        assert!(
            limiter.reserve(later) > Duration::ZERO,
            "the burst caps the refill"
        );
    }

    #[test]
    fn a_pause_holds_back_even_a_full_bucket() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 100.0,
            burst: 100,
        });
        limiter.pause_for(Duration::from_secs(2));
        let wait = limiter.reserve(Instant::now());
        assert!(
            wait > Duration::from_millis(1900) && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
        limiter.pause_for(Duration::from_millis(10));
        assert!(
            limiter.reserve(Instant::now()) > Duration::from_millis(1900),
            "a shorter pause never shortens a longer one"
        );
    }

    #[test]
    fn absurd_waits_and_rates_do_not_panic() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1e-300,
            burst: 1,
        });
        let t0 = Instant::now();
        assert_eq!(limiter.reserve(t0), Duration::ZERO);
        assert_eq!(limiter.reserve(t0), Duration::MAX);
        limiter.pause_for(Duration::MAX);
        assert!(limiter.reserve(t0) > Duration::from_secs(86_400));
    }

    #[tokio::test(start_paused = true)]
    async fn fifty_acquires_at_ten_per_second_take_about_four_seconds() {
        let limiter = std::sync::Arc::new(RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 10,
        }));
        let start = Instant::now();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let l = limiter.clone();
                tokio::spawn(async move { l.acquire().await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(3990) && took <= Duration::from_millis(4100),
            "{took:?}"
        );
    }
}
