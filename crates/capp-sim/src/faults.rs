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
//! Faults apply to the `/metal/v1` API only, never to the metadata service. Injected faults
//! and fault rates are evaluated before authentication, as an intermediary (load balancer)
//! would; the request-rate limit ([`FaultConfig::rate_limit`]) counts only authenticated
//! requests, per token, as the API itself did.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::str::FromStr;
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
    /// Maximum authenticated API requests per second per token (fixed one-second windows,
    /// counted after authentication: a request with a wrong token answers 401 and does not
    /// count); requests above it answer 429 with `X-RateLimit-*` headers (and `Retry-After` when
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

/// The longest a [`Fault::Hang`] holds its connection before closing it.
pub const HANG_LIMIT: Duration = Duration::from_secs(120);

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
    /// Handle the request, then answer nothing and keep the connection open (for at most
    /// [`HANG_LIMIT`], then close it): the effect happened while the client still waits. A
    /// test that kills the client at that moment (seen through the operation counters) knows
    /// the client cannot have recorded the result.
    Hang,
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

impl std::fmt::Display for Fault {
    /// The spelling [`Fault::from_str`] reads back (`lost`, `status:503`, `latency-ms:250`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status(code) => write!(f, "status:{code}"),
            Self::Drop => f.write_str("drop"),
            Self::Truncate => f.write_str("truncate"),
            Self::Lost => f.write_str("lost"),
            Self::Hang => f.write_str("hang"),
            Self::Garbage => f.write_str("garbage"),
            Self::RateLimited => f.write_str("rate-limited"),
            Self::NoCapacity => f.write_str("no-capacity"),
            Self::Latency(d) => write!(f, "latency-ms:{}", d.as_millis()),
        }
    }
}

/// The fault names, for error messages.
const FAULT_NAMES: &str =
    "drop, truncate, lost, hang, garbage, rate-limited, no-capacity, status:<code>, latency-ms:<n>";

impl FromStr for Fault {
    type Err = String;

    /// Reads a fault as the command line and the control surface spell it: `drop`,
    /// `truncate`, `lost` (the request takes effect, then the connection is cut), `hang` (the
    /// request takes effect, then no answer while the connection stays open), `garbage`,
    /// `rate-limited`, `no-capacity`, `status:<100..=599>` or `latency-ms:<n>`.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let raw = raw.trim();
        Ok(match raw.split_once(':') {
            Some(("status", code)) => match code.parse::<u16>() {
                Ok(code) if (100..=599).contains(&code) => Self::Status(code),
                _ => {
                    return Err(format!(
                        "{raw:?}: the status must be a number from 100 to 599"
                    ));
                }
            },
            Some(("latency-ms", ms)) => {
                Self::Latency(Duration::from_millis(ms.parse().map_err(|_| {
                    format!("{raw:?}: the latency must be whole milliseconds")
                })?))
            }
            _ => match raw {
                "drop" => Self::Drop,
                "truncate" => Self::Truncate,
                "lost" => Self::Lost,
                "hang" => Self::Hang,
                "garbage" => Self::Garbage,
                "rate-limited" => Self::RateLimited,
                "no-capacity" => Self::NoCapacity,
                _ => return Err(format!("{raw:?} is not a fault; use one of {FAULT_NAMES}")),
            },
        })
    }
}

/// A one-shot injection: `fault` for the next `times` requests of `operation` (any
/// operation when `None`). The command line spells it `FAULT[@OPERATION][*TIMES]`, for
/// example `lost@createDevice` (the next create takes effect, then the connection is cut).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// What happens.
    pub fault: Fault,
    /// The spec operationId it applies to (`None`: the next request of any operation).
    pub operation: Option<String>,
    /// How many requests it hits (at least 1).
    pub times: u32,
}

impl FromStr for FaultRule {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let (rest, times) = match raw.rsplit_once('*') {
            Some((rest, n)) => match n.parse::<u32>() {
                Ok(n) if n > 0 => (rest, n),
                _ => {
                    return Err(format!(
                        "{raw:?}: times after '*' must be a whole number of at least 1"
                    ));
                }
            },
            None => (raw, 1),
        };
        let (fault, operation) = match rest.split_once('@') {
            Some((fault, op)) if !op.is_empty() => (fault, Some(op.to_owned())),
            Some(_) => {
                return Err(format!(
                    "{raw:?}: name an operationId after '@', e.g. lost@createDevice"
                ));
            }
            None => (rest, None),
        };
        Ok(Self {
            fault: fault.parse()?,
            operation,
            times,
        })
    }
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
    /// One rate-limit window per token, keyed by a hash of the token (never the token).
    windows: HashMap<u64, Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
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
    Hang,
    Garbage,
    RateLimited,
    NoCapacity,
}

#[derive(Debug)]
pub(crate) struct Decision {
    pub(crate) latency: Duration,
    pub(crate) action: Action,
    /// [`FaultConfig::send_retry_after`] at the time of the decision.
    pub(crate) send_retry_after: bool,
}

/// The rate-limit verdict for one authenticated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateVerdict {
    pub(crate) info: RateInfo,
    /// The token is over its limit in this window: answer 429.
    pub(crate) exceeded: bool,
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
                windows: HashMap::new(),
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
        self.inject_rule(FaultRule {
            fault,
            operation: None,
            times: 1,
        });
    }

    /// Injects `fault` into the next `times` requests of the operation `operation_id` (the
    /// spec's operationId, e.g. `createDevice`, `findDeviceById`).
    pub fn inject_for(&self, operation_id: &str, fault: Fault, times: u32) {
        self.inject_rule(FaultRule {
            fault,
            operation: Some(operation_id.to_owned()),
            times,
        });
    }

    /// Injects a [`FaultRule`] (what [`inject_for`](Self::inject_for) does, or
    /// [`inject`](Self::inject) without an operation).
    pub fn inject_rule(&self, rule: FaultRule) {
        if rule.times == 0 {
            return;
        }
        self.lock().injections.push_back(Injection {
            fault: rule.fault,
            operation: rule.operation,
            remaining: rule.times,
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
                Fault::Hang => Action::Hang,
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
            } else if config.server_error_rate > 0.0 && rng.random_bool(config.server_error_rate) {
                action = Action::Status([500, 502, 503, 504][rng.random_range(0..4)]);
            }
        }
        Decision {
            latency,
            action,
            send_retry_after: config.send_retry_after,
        }
    }

    /// Counts one authenticated request of `token` against the rate limit; `None` when no
    /// limit is configured.
    pub(crate) fn count_request(&self, token: &str) -> Option<RateVerdict> {
        let mut inner = self.lock();
        let limit = inner.config.rate_limit?;
        let mut hasher = DefaultHasher::new();
        token.hash(&mut hasher);
        let window = inner.windows.entry(hasher.finish()).or_insert(Window {
            start: Instant::now(),
            count: 0,
        });
        Some(window.count_request(limit))
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

impl Window {
    fn count_request(&mut self, limit: u32) -> RateVerdict {
        let now = Instant::now();
        let window = Duration::from_secs(1);
        if now.duration_since(self.start) >= window {
            self.start = now;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        let left = window.saturating_sub(now.duration_since(self.start));
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let reset = unix_now + left;
        RateVerdict {
            info: RateInfo {
                limit,
                remaining: limit.saturating_sub(self.count),
                reset_unix: reset.as_secs() + u64::from(reset.subsec_nanos() > 0),
                retry_after: left.as_secs().max(1),
            },
            exceeded: self.count > limit,
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
    fn requests_above_the_rate_limit_are_rejected_within_one_window_per_token() {
        let faults = Faults::new(FaultConfig {
            rate_limit: Some(2),
            ..FaultConfig::default()
        });
        let exceeded: Vec<bool> = (0..3)
            .map(|_| faults.count_request("a").unwrap().exceeded)
            .collect();
        assert_eq!(exceeded, [false, false, true]);
        assert!(!faults.count_request("b").unwrap().exceeded, "own window");
        assert!(
            Faults::new(FaultConfig::default())
                .count_request("a")
                .is_none()
        );
    }

    #[test]
    fn fault_rules_parse_from_the_flag_syntax_and_name_the_fix_when_wrong() {
        let rule: FaultRule = "lost@createDevice".parse().unwrap();
        assert_eq!(
            rule,
            FaultRule {
                fault: Fault::Lost,
                operation: Some("createDevice".to_owned()),
                times: 1
            }
        );
        let rule: FaultRule = "status:503@findDeviceById*3".parse().unwrap();
        assert_eq!(rule.fault, Fault::Status(503));
        assert_eq!(rule.times, 3);
        assert_eq!(
            "latency-ms:250".parse::<Fault>().unwrap(),
            Fault::Latency(Duration::from_millis(250))
        );
        for fault in [
            Fault::Drop,
            Fault::Truncate,
            Fault::Lost,
            Fault::Hang,
            Fault::Garbage,
            Fault::RateLimited,
            Fault::NoCapacity,
            Fault::Status(502),
            Fault::Latency(Duration::from_millis(7)),
        ] {
            assert_eq!(fault.to_string().parse::<Fault>().unwrap(), fault);
        }
        let err = "explode".parse::<Fault>().unwrap_err();
        assert!(
            err.contains("lost") && err.contains("status:<code>"),
            "{err}"
        );
        assert!("status:99".parse::<Fault>().is_err());
        assert!(
            "lost@createDevice*0"
                .parse::<FaultRule>()
                .unwrap_err()
                .contains("times")
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
