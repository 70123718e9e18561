//! Per-object capped exponential backoff for `error_policy` (kube lacks it: kube-rs#1916).
//!
//! Keyed by object UID, so one failing PacketMachine backs off without slowing the others;
//! reset by the first successful reconcile of that object.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::requeue::{BACKOFF_BASE, BACKOFF_MAX, TERMINAL_RETRY};

/// Failure counts by object UID.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records a failure of `uid` and returns how long to wait before the next attempt:
    /// `BACKOFF_BASE * 2^(n-1)` capped at `BACKOFF_MAX`, or `TERMINAL_RETRY` for terminal
    /// errors. A wait the server asked for (`retry_after`) is honoured when longer.
    pub fn next(&self, uid: &str, terminal: bool, retry_after: Option<Duration>) -> Duration {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = failures.entry(uid.to_owned()).or_default();
        *n = n.saturating_add(1);
        if terminal {
            return TERMINAL_RETRY;
        }
        let exponent = (*n - 1).min(16);
        let delay = BACKOFF_BASE
            .saturating_mul(1_u32 << exponent)
            .min(BACKOFF_MAX);
        retry_after.map_or(delay, |wait| delay.max(wait.min(BACKOFF_MAX)))
    }

    /// Forgets the failures of `uid` (after a successful reconcile, or when it is gone).
    pub fn reset(&self, uid: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(uid);
    }

    /// Consecutive failures recorded for `uid`.
    #[must_use]
    pub fn failures(&self, uid: &str) -> u32 {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(uid)
            .copied()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_per_failure_up_to_the_cap() {
        let b = Backoff::default();
        let waits: Vec<u64> = (0..8).map(|_| b.next("a", false, None).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn objects_back_off_independently_and_success_resets() {
        let b = Backoff::default();
        b.next("a", false, None);
        b.next("a", false, None);
        assert_eq!(b.next("b", false, None), BACKOFF_BASE);
        b.reset("a");
        assert_eq!(b.failures("a"), 0);
        assert_eq!(b.next("a", false, None), BACKOFF_BASE);
    }

    #[test]
    fn terminal_errors_retry_slowly_and_server_waits_are_honoured() {
        let b = Backoff::default();
        assert_eq!(b.next("a", true, None), TERMINAL_RETRY);
        assert_eq!(
            b.next("c", false, Some(Duration::from_secs(42))),
            Duration::from_secs(42)
        );
    }
}
