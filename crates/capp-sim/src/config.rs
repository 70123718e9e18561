//! Configuration of a [`Simulator`](crate::Simulator) instance.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::faults::FaultConfig;

/// The API token a simulator accepts when none is configured.
pub const DEFAULT_TOKEN: &str = "capp-sim-token";

/// The project every simulator creates for its token when none is configured.
pub const DEFAULT_PROJECT_ID: &str = "5f2f3a5e-7c43-4a8c-9a3b-6f2d8b8c0e01";

/// A second project that exists but that the token cannot see: requests for it answer 403.
pub const FOREIGN_PROJECT_ID: &str = "0badc0de-0000-4000-8000-00000000f0e1";

/// Devices a project may have `queued` or `provisioning` at once unless configured otherwise
/// (the real API's "usually max 5-6 devices can be created at a time", packethost/
/// terraform-provider-packet PR #195).
pub const DEFAULT_CREATE_LIMIT: u32 = 6;

/// How the simulator's clock moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockMode {
    /// Wall-clock time plus whatever [`Simulator::advance`](crate::Simulator::advance) added.
    #[default]
    Real,
    /// Time stands still until [`Simulator::advance`](crate::Simulator::advance) moves it:
    /// fully deterministic tests.
    Manual,
}

/// How long each step of a device's life takes on the simulator's clock.
///
/// All zero makes every device `active` on the first read after its creation (the create
/// response itself always says `queued`, as the real API's did).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Time spent `queued` before provisioning starts.
    pub queued: Duration,
    /// Time spent `provisioning` (0 to 100 %) before `active`.
    pub provisioning: Duration,
    /// Time spent `deprovisioning` after a delete before the device is gone (404).
    pub deprovisioning: Duration,
}

impl Timings {
    /// No waiting at all: devices are active (or gone) at the next read.
    #[must_use]
    pub const fn instant() -> Self {
        Self {
            queued: Duration::ZERO,
            provisioning: Duration::ZERO,
            deprovisioning: Duration::ZERO,
        }
    }

    /// `provision_seconds` split as the command-line flag does: 10 % queued, 90 %
    /// provisioning, and a deprovisioning of a quarter of it.
    #[must_use]
    pub fn from_provision_seconds(seconds: u64) -> Self {
        let total = Duration::from_secs(seconds);
        let queued = total / 10;
        Self {
            queued,
            provisioning: total.saturating_sub(queued),
            deprovisioning: total / 4,
        }
    }
}

impl Default for Timings {
    /// A compressed version of the real timeline: 2 s queued, 8 s provisioning, 3 s
    /// deprovisioning.
    fn default() -> Self {
        Self {
            queued: Duration::from_secs(2),
            provisioning: Duration::from_secs(8),
            deprovisioning: Duration::from_secs(3),
        }
    }
}

/// Everything [`Simulator::start`](crate::Simulator::start) needs.
///
/// Build it with struct-update syntax from [`SimConfig::default`] or with the `with_*`
/// helpers:
///
/// ```
/// use capp_sim::{SimConfig, Timings};
/// let config = SimConfig::default().with_seed(7).with_timings(Timings::instant());
/// assert_eq!(config.seed, 7);
/// ```
#[derive(Clone)]
pub struct SimConfig {
    /// Where to listen. Default `127.0.0.1:0` (an ephemeral port; read it back with
    /// [`Simulator::base_url`](crate::Simulator::base_url)).
    pub listen: SocketAddr,
    /// The only accepted `X-Auth-Token`. Default [`DEFAULT_TOKEN`].
    pub token: String,
    /// The id of the project the token can see. Default [`DEFAULT_PROJECT_ID`].
    pub project_id: String,
    /// Device lifecycle durations.
    pub timings: Timings,
    /// Whether the clock follows wall time or only moves when told.
    pub clock: ClockMode,
    /// Seed of every random choice (ids, addresses, fault draws).
    pub seed: u64,
    /// Servers available per (metro, plan) pair unless overridden with
    /// [`Simulator::set_capacity`](crate::Simulator::set_capacity). Default 1000.
    pub default_capacity: u32,
    /// Fault injection at start; change it at runtime with
    /// [`Simulator::faults`](crate::Simulator::faults).
    pub faults: FaultConfig,
    /// Largest accepted request body in bytes (bigger ones answer 413). Default 1 MiB.
    pub max_body_bytes: usize,
    /// How many requests the request log keeps (oldest dropped first). Default 100 000.
    pub request_log_capacity: usize,
    /// Simulated seconds per wall second for [`ClockMode::Real`] (ignored for a manual
    /// clock). Default 1.0; change it at runtime with
    /// [`Simulator::set_clock_scale`](crate::Simulator::set_clock_scale).
    pub clock_scale: f64,
    /// The bearer token of the control surface under `/_sim/v1` (see
    /// [`Simulator::control_url`](crate::Simulator::control_url)). `None` (the default)
    /// turns the surface off: its paths answer 404. It must differ from `token`.
    pub control_token: Option<String>,
    /// Devices a project may have `queued` or `provisioning` at once; a create beyond it
    /// answers 429 `Too many devices are being created in this project at once ...`.
    /// Default `Some(6)`, the real API's "usually max 5-6 devices can be created at a time";
    /// `None` means no limit.
    pub create_limit: Option<u32>,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret even in a simulator: it may be a copy of a real one.
        f.debug_struct("SimConfig")
            .field("listen", &self.listen)
            .field("token", &"[REDACTED]")
            .field("project_id", &self.project_id)
            .field("timings", &self.timings)
            .field("clock", &self.clock)
            .field("seed", &self.seed)
            .field("default_capacity", &self.default_capacity)
            .field("faults", &self.faults)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("request_log_capacity", &self.request_log_capacity)
            .field("clock_scale", &self.clock_scale)
            .field(
                "control_token",
                &self.control_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("create_limit", &self.create_limit)
            .finish()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            token: DEFAULT_TOKEN.to_owned(),
            project_id: DEFAULT_PROJECT_ID.to_owned(),
            timings: Timings::default(),
            clock: ClockMode::Real,
            seed: 0x00c0_ffee,
            default_capacity: 1000,
            faults: FaultConfig::default(),
            max_body_bytes: 1024 * 1024,
            request_log_capacity: 100_000,
            clock_scale: 1.0,
            control_token: None,
            create_limit: Some(DEFAULT_CREATE_LIMIT),
        }
    }
}

impl SimConfig {
    /// A configuration for fast deterministic tests: manual clock, instant lifecycle.
    #[must_use]
    pub fn for_tests() -> Self {
        Self {
            timings: Timings::instant(),
            clock: ClockMode::Manual,
            ..Self::default()
        }
    }

    /// Sets the listen address.
    #[must_use]
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Sets the accepted token.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// Sets the id of the token's project.
    #[must_use]
    pub fn with_project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = project_id.into();
        self
    }

    /// Sets the lifecycle durations.
    #[must_use]
    pub fn with_timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }

    /// Sets the clock mode.
    #[must_use]
    pub fn with_clock(mut self, clock: ClockMode) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the random seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the initial fault configuration.
    #[must_use]
    pub fn with_faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// Sets the default capacity per (metro, plan).
    #[must_use]
    pub fn with_default_capacity(mut self, capacity: u32) -> Self {
        self.default_capacity = capacity;
        self
    }

    /// Turns the control surface on with this bearer token.
    #[must_use]
    pub fn with_control_token(mut self, token: impl Into<String>) -> Self {
        self.control_token = Some(token.into());
        self
    }

    /// Sets how many devices a project may have provisioning at once (`None`: no limit).
    #[must_use]
    pub fn with_create_limit(mut self, limit: Option<u32>) -> Self {
        self.create_limit = limit;
        self
    }

    /// Sets the pace of a real clock (simulated seconds per wall second).
    #[must_use]
    pub fn with_clock_scale(mut self, scale: f64) -> Self {
        self.clock_scale = scale;
        self
    }

    pub(crate) fn check(&self) -> crate::Result<()> {
        if self.token.is_empty() {
            return Err(crate::Error::Config(
                "token must not be empty; pass any non-empty string".to_owned(),
            ));
        }
        if !crate::ids::is_uuid(&self.project_id) {
            return Err(crate::Error::Config(format!(
                "project_id {:?} is not a UUID; the API uses UUIDs such as {DEFAULT_PROJECT_ID}",
                self.project_id
            )));
        }
        if self.project_id == FOREIGN_PROJECT_ID {
            return Err(crate::Error::Config(
                "project_id must differ from the built-in foreign project id".to_owned(),
            ));
        }
        if let Some(control) = &self.control_token {
            if control.is_empty() {
                return Err(crate::Error::Config(
                    "control_token must not be empty; pass any non-empty string or None to turn the control surface off".to_owned(),
                ));
            }
            if *control == self.token {
                return Err(crate::Error::Config(
                    "control_token must differ from the API token, so a Metal client can never steer the simulator".to_owned(),
                ));
            }
        }
        if !crate::clock::valid_scale(self.clock_scale) {
            return Err(crate::Error::Config(format!(
                "clock_scale is {}; use a pace between 0.0 and 1000000.0 (1.0 is wall time)",
                self.clock_scale
            )));
        }
        if self.create_limit == Some(0) {
            return Err(crate::Error::Config(
                "create_limit of 0 would refuse every create; use None for no limit".to_owned(),
            ));
        }
        self.faults.check()
    }
}
