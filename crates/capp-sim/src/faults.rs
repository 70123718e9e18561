//! Fault injection: latency, server errors, dropped and truncated connections, rate limiting,
//! capacity errors and provisioning failures.
//!
//! Faults come from two sources, both steerable at runtime through [`Faults`] (obtained with
//! [`Simulator::faults`](crate::Simulator::faults)):
//!
//! - **rates** in a [`FaultConfig`]: each API request draws from the simulator's seeded RNG;
//! - **one-shot injections** ([`Faults::inject`], [`Faults::inject_for`]): the next matching
//!   request(s) get exactly that fault, so a test can turn a fault on for one call.
//!
//! Faults apply to the `/metal/v1` API only, never to the metadata service. They are
//! evaluated before authentication, as an intermediary (load balancer, rate limiter) would.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;

/// Fault rates and limits. All default to "no fault".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultConfig {
    /// Added to every API response.
    pub latency: Duration,
    /// A uniformly drawn extra delay in `0..=latency_jitter` on top of `latency`.
    pub latency_jitter: Duration,
    /// Fraction (0.0 to 1.0) of API requests answered with a server error (500, 502, 503 or
    /// 504, drawn uniformly; 502 and 504 come with an HTML body as from an intermediary).
    pub server_error_rate: f64,
    /// Fraction of API requests whose connection is closed without any response.
    pub drop_rate: f64,
    /// Maximum API requests per second (fixed one-second windows); requests above it answer
    /// 429 with `X-RateLimit-*` headers (and `Retry-After` when
    /// [`send_retry_after`](Self::send_retry_after) is set). `None` means unlimited.
    pub rate_limit: Option<u32>,
    /// Add `Retry-After` to 429 answers. Off by default, because the real API is known to have
    /// said when to come back only through `X-RateLimit-Reset` (unix seconds): no recorded
    /// client or SDK ever saw a `Retry-After` from it. Turn it on to test clients against
    /// servers (proxies, other implementations) that do send it.
    pub send_retry_after: bool,
    /// Fraction of new devices whose provisioning fails (on-demand devices then vanish and
    /// answer 403; devices on reserved hardware stay `failed`).
    pub provisioning_failure_rate: f64,
    /// Fraction of new devices that get stuck in `provisioning` forever.
    pub stuck_provisioning_rate: f64,
}

impl FaultConfig {
    pub(crate) fn check(&self) -> crate::Result<()> {
        for (name, rate) in [
            ("server_error_rate", self.server_error_rate),
            ("drop_rate", self.drop_rate),
            ("provisioning_failure_rate", self.provisioning_failure_rate),
            ("stuck_provisioning_rate", self.stuck_provisioning_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(crate::Error::Config(format!(
                    "{name} is {rate}; use a fraction between 0.0 and 1.0"
                )));
            }
        }
        if self.rate_limit == Some(0) {
            return Err(crate::Error::Config(
                "rate_limit of 0 would reject every request; use None for unlimited".to_owned(),
            ));
        }
        Ok(())
    }
}

/// One fault to inject into a single request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status instead of handling the request. 500 and 503 carry the API's
    /// JSON error body, 502 and 504 an HTML body (an intermediary's), 429 the rate-limit
    /// headers; any other status gets `{"errors":["simulated fault"]}`.
    Status(u16),
    /// Close the connection without sending a response.
    Drop,
    /// Handle the request, then send the headers and only half of the body before closing.
    /// The request's effect (a created device, say) has happened.
    Truncate,
    /// Handle the request, then close the connection without any response: the effect (a
    /// created device, say) happened but the client only sees the connection end. This is
    /// the "unexpected EOF on create" case that forces a client to adopt by tags.
    Lost,
    /// Handle the request, then answer `200` with a body that is not JSON.
    Garbage,
    /// Answer 429 with `X-RateLimit-*` headers (and `Retry-After` when
    /// [`FaultConfig::send_retry_after`] is set).
    RateLimited,
    /// For `createDevice`: answer the capacity error of the request's form as if capacity had
    /// run out: 422 "There aren't available servers in that metro" (or the facility variant),
    /// or 503 "There are no available hardware reservations ..." for a reserved-hardware
    /// create. Other operations treat it as `Status(503)`.
    NoCapacity,
    /// Delay this response by the given time.
    Latency(Duration),
}

#[derive(Debug, Clone)]
struct Injection {
    fault: Fault,
    operation: Option<String>,
    remaining: u32,
}

#[derive(Debug)]
struct Inner {
    config: FaultConfig,
    injections: VecDeque<Injection>,
    fail_next_provisioning: u32,
    stick_next_provisioning: u32,
    window_start: Instant,
    window_count: u32,
}

/// Handle to change faults at runtime. Cheap to clone; all clones steer the same simulator.
#[derive(Debug, Clone)]
pub struct Faults {
    inner: Arc<Mutex<Inner>>,
}

/// Rate-limit figures attached to every API response while a limit is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateInfo {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// Unix seconds at which the current window ends.
    pub(crate) reset_unix: u64,
    /// Whole seconds until then (at least 1).
    pub(crate) retry_after: u64,
}

/// What the server must do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Handle,
    Status(u16),
    Drop,
    Truncate,
    Lost,
    Garbage,
    RateLimited,
    NoCapacity,
}

#[derive(Debug)]
pub(crate) struct Decision {
    pub(crate) latency: Duration,
    pub(crate) action: Action,
    pub(crate) rate: Option<RateInfo>,
    /// [`FaultConfig::send_retry_after`] at the time of the decision.
    pub(crate) send_retry_after: bool,
}

/// Whether a new device's provisioning is doomed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Doom {
    None,
    Fail,
    Stuck,
}

impl Faults {
    pub(crate) fn new(config: FaultConfig) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                config,
                injections: VecDeque::new(),
                fail_next_provisioning: 0,
                stick_next_provisioning: 0,
                window_start: Instant::now(),
                window_count: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current rates.
    #[must_use]
    pub fn config(&self) -> FaultConfig {
        self.lock().config.clone()
    }

    /// Replaces the rates. Invalid rates (outside `0.0..=1.0`) are clamped into range.
    pub fn set(&self, mut config: FaultConfig) {
        for rate in [
            &mut config.server_error_rate,
            &mut config.drop_rate,
            &mut config.provisioning_failure_rate,
            &mut config.stuck_provisioning_rate,
        ] {
            *rate = if rate.is_nan() {
                0.0
            } else {
                rate.clamp(0.0, 1.0)
            };
        }
        if config.rate_limit == Some(0) {
            config.rate_limit = Some(1);
        }
        self.lock().config = config;
    }

    /// Changes some rates in place: `sim.faults().update(|f| f.server_error_rate = 0.5)`.
    pub fn update(&self, change: impl FnOnce(&mut FaultConfig)) {
        let mut config = self.config();
        change(&mut config);
        self.set(config);
    }

    /// Injects `fault` into the next API request, whatever its operation.
    pub fn inject(&self, fault: Fault) {
        self.lock().injections.push_back(Injection {
            fault,
            operation: None,
            remaining: 1,
        });
    }

    /// Injects `fault` into the next `times` requests of the operation `operation_id` (the
    /// spec's operationId, e.g. `createDevice`, `findDeviceById`).
    pub fn inject_for(&self, operation_id: &str, fault: Fault, times: u32) {
        if times == 0 {
            return;
        }
        self.lock().injections.push_back(Injection {
            fault,
            operation: Some(operation_id.to_owned()),
            remaining: times,
        });
    }

    /// Makes the provisioning of the next `count` created devices fail.
    pub fn fail_next_provisioning(&self, count: u32) {
        self.lock().fail_next_provisioning += count;
    }

    /// Makes the next `count` created devices get stuck in `provisioning`.
    pub fn stick_next_provisioning(&self, count: u32) {
        self.lock().stick_next_provisioning += count;
    }

    /// Removes every pending injection and resets the rates to none.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.injections.clear();
        inner.config = FaultConfig::default();
        inner.fail_next_provisioning = 0;
        inner.stick_next_provisioning = 0;
    }

    /// How many one-shot injections are still pending.
    #[must_use]
    pub fn pending_injections(&self) -> usize {
        self.lock().injections.len()
    }

    pub(crate) fn decide(&self, operation: Option<&str>, rng: &mut impl Rng) -> Decision {
        let mut inner = self.lock();
        let config = inner.config.clone();
        let mut latency = config.latency;
        if !config.latency_jitter.is_zero() {
            let jitter_ms = u64::try_from(config.latency_jitter.as_millis()).unwrap_or(u64::MAX);
            latency =
                latency.saturating_add(Duration::from_millis(rng.random_range(0..=jitter_ms)));
        }
        let rate = config.rate_limit.map(|limit| inner.count_request(limit));
        let mut action = Action::Handle;
        if let Some(pos) = inner.injections.iter().position(|inj| {
            inj.operation
                .as_deref()
                .is_none_or(|op| Some(op) == operation)
        }) {
            let fault = inner.injections[pos].fault.clone();
            inner.injections[pos].remaining -= 1;
            if inner.injections[pos].remaining == 0 {
                inner.injections.remove(pos);
            }
            action = match fault {
                Fault::Status(429) | Fault::RateLimited => Action::RateLimited,
                Fault::Status(code) => Action::Status(code),
                Fault::Drop => Action::Drop,
                Fault::Truncate => Action::Truncate,
                Fault::Lost => Action::Lost,
                Fault::Garbage => Action::Garbage,
                Fault::NoCapacity => Action::NoCapacity,
                Fault::Latency(extra) => {
                    latency = latency.saturating_add(extra);
                    Action::Handle
                }
            };
        }
        if action == Action::Handle {
            if config.drop_rate > 0.0 && rng.random_bool(config.drop_rate) {
                action = Action::Drop;
            } else if rate.is_some_and(|r| r.remaining == 0 && inner.window_count > r.limit) {
                action = Action::RateLimited;
            } else if config.server_error_rate > 0.0 && rng.random_bool(config.server_error_rate) {
                action = Action::Status([500, 502, 503, 504][rng.random_range(0..4)]);
            }
        }
        Decision {
            latency,
            action,
            rate,
            send_retry_after: config.send_retry_after,
        }
    }

    pub(crate) fn draw_doom(&self, rng: &mut impl Rng) -> Doom {
        let mut inner = self.lock();
        if inner.fail_next_provisioning > 0 {
            inner.fail_next_provisioning -= 1;
            return Doom::Fail;
        }
        if inner.stick_next_provisioning > 0 {
            inner.stick_next_provisioning -= 1;
            return Doom::Stuck;
        }
        let config = &inner.config;
        if config.provisioning_failure_rate > 0.0
            && rng.random_bool(config.provisioning_failure_rate)
        {
            Doom::Fail
        } else if config.stuck_provisioning_rate > 0.0
            && rng.random_bool(config.stuck_provisioning_rate)
        {
            Doom::Stuck
        } else {
            Doom::None
        }
    }
}

impl Inner {
    fn count_request(&mut self, limit: u32) -> RateInfo {
        let now = Instant::now();
        let window = Duration::from_secs(1);
        if now.duration_since(self.window_start) >= window {
            self.window_start = now;
            self.window_count = 0;
        }
        self.window_count = self.window_count.saturating_add(1);
        let left = window.saturating_sub(now.duration_since(self.window_start));
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let reset = unix_now + left;
        RateInfo {
            limit,
            remaining: limit.saturating_sub(self.window_count),
            reset_unix: reset.as_secs() + u64::from(reset.subsec_nanos() > 0),
            retry_after: left.as_secs().max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn an_injection_for_one_operation_leaves_other_operations_alone() {
        let faults = Faults::new(FaultConfig::default());
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        faults.inject_for("createDevice", Fault::Status(500), 1);
        assert_eq!(
            faults.decide(Some("findDeviceById"), &mut rng).action,
            Action::Handle
        );
        assert_eq!(
            faults.decide(Some("createDevice"), &mut rng).action,
            Action::Status(500)
        );
        assert_eq!(
            faults.decide(Some("createDevice"), &mut rng).action,
            Action::Handle
        );
    }

    #[test]
    fn requests_above_the_rate_limit_are_rejected_within_one_window() {
        let faults = Faults::new(FaultConfig {
            rate_limit: Some(2),
            ..FaultConfig::default()
        });
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let actions: Vec<Action> = (0..3)
            .map(|_| faults.decide(None, &mut rng).action)
            .collect();
        assert_eq!(
            actions,
            [Action::Handle, Action::Handle, Action::RateLimited]
        );
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused_at_start_and_clamped_at_runtime() {
        let bad = FaultConfig {
            drop_rate: 1.5,
            ..FaultConfig::default()
        };
        assert!(bad.check().is_err());
        let faults = Faults::new(FaultConfig::default());
        faults.set(bad);
        assert!((faults.config().drop_rate - 1.0).abs() < f64::EPSILON);
    }
}
