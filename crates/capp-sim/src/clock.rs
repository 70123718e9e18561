//! The simulator's clock: wall time (optionally sped up or slowed down) or manual, plus
//! whatever tests push it forward by.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use crate::config::ClockMode;

/// Where the clock stood at its last change of pace, and how fast it runs since.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    /// Wall instant of the last change (start, `advance`, `set_scale`).
    instant: Instant,
    /// Simulated time at that instant.
    sim: Timestamp,
    /// Simulated seconds per wall second (0 for a manual clock).
    scale: f64,
}

/// A clock shared by the server and the handle.
#[derive(Debug)]
pub(crate) struct Clock {
    anchor: Mutex<Anchor>,
}

impl Clock {
    /// A clock starting at wall time. `scale` is ignored for [`ClockMode::Manual`].
    pub(crate) fn new(mode: ClockMode, scale: f64) -> Self {
        let scale = match mode {
            ClockMode::Real => scale,
            ClockMode::Manual => 0.0,
        };
        Self {
            anchor: Mutex::new(Anchor {
                instant: Instant::now(),
                sim: Timestamp::now(),
                scale,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Anchor> {
        self.anchor.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The simulated now.
    pub(crate) fn now(&self) -> Timestamp {
        at(*self.lock(), Instant::now())
    }

    /// Moves the clock forward.
    pub(crate) fn advance(&self, by: Duration) {
        let mut anchor = self.lock();
        let now = Instant::now();
        let sim = at(*anchor, now);
        *anchor = Anchor {
            instant: now,
            sim: add(sim, by),
            scale: anchor.scale,
        };
    }

    /// Makes simulated time run `scale` times as fast as wall time from now on (0 stops it).
    /// Time already passed is kept.
    pub(crate) fn set_scale(&self, scale: f64) {
        let mut anchor = self.lock();
        let now = Instant::now();
        let sim = at(*anchor, now);
        *anchor = Anchor {
            instant: now,
            sim,
            scale,
        };
    }

    /// Simulated seconds per wall second.
    pub(crate) fn scale(&self) -> f64 {
        self.lock().scale
    }
}

/// Whether `scale` is a usable pace: finite, not negative and at most a million.
pub(crate) fn valid_scale(scale: f64) -> bool {
    scale.is_finite() && (0.0..=1_000_000.0).contains(&scale)
}

fn at(anchor: Anchor, now: Instant) -> Timestamp {
    let wall = now.saturating_duration_since(anchor.instant);
    let scaled =
        Duration::try_from_secs_f64(wall.as_secs_f64() * anchor.scale).unwrap_or(Duration::MAX);
    add(anchor.sim, scaled)
}

fn add(ts: Timestamp, by: Duration) -> Timestamp {
    let by = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
    ts.checked_add(by).unwrap_or(Timestamp::MAX)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_a_scaled_one_runs_faster() {
        let manual = Clock::new(ClockMode::Manual, 1.0);
        let t0 = manual.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(manual.now(), t0);
        manual.advance(Duration::from_secs(60));
        assert_eq!(elapsed(t0, manual.now()), Duration::from_secs(60));

        let fast = Clock::new(ClockMode::Real, 1000.0);
        let t0 = fast.now();
        std::thread::sleep(Duration::from_millis(20));
        assert!(elapsed(t0, fast.now()) >= Duration::from_secs(20));
        fast.set_scale(0.0);
        let frozen = fast.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(fast.now(), frozen);
    }
}
