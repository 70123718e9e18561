//! The simulator's clock: wall time or manual, plus an offset tests can push forward.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use crate::config::ClockMode;

/// A clock shared by the server and the handle.
#[derive(Debug)]
pub(crate) struct Clock {
    mode: ClockMode,
    start_wall: Timestamp,
    start_instant: Instant,
    offset: Mutex<Duration>,
}

impl Clock {
    pub(crate) fn new(mode: ClockMode) -> Self {
        Self {
            mode,
            start_wall: Timestamp::now(),
            start_instant: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// The simulated now.
    pub(crate) fn now(&self) -> Timestamp {
        let offset = *self
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let elapsed = match self.mode {
            ClockMode::Real => self.start_instant.elapsed(),
            ClockMode::Manual => Duration::ZERO,
        };
        let total =
            SignedDuration::try_from(elapsed.saturating_add(offset)).unwrap_or(SignedDuration::MAX);
        self.start_wall.checked_add(total).unwrap_or(Timestamp::MAX)
    }

    /// Moves the clock forward.
    pub(crate) fn advance(&self, by: Duration) {
        let mut offset = self
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *offset = offset.saturating_add(by);
    }
}

/// Formats a timestamp as the API does (`2026-01-05T10:00:00Z`, whole seconds).
pub(crate) fn format_ts(ts: Timestamp) -> String {
    let secs = ts.as_second();
    Timestamp::from_second(secs).unwrap_or(ts).to_string()
}

/// Time elapsed between two timestamps, zero if `later` is earlier.
pub(crate) fn elapsed(earlier: Timestamp, later: Timestamp) -> Duration {
    Duration::try_from(later.duration_since(earlier)).unwrap_or(Duration::ZERO)
}
