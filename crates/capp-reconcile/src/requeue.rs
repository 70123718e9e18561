//! Every requeue period of both controllers, in one place, each with its reason.
//!
//! Objects backed by external infrastructure are never left at `await_change`: every path
//! ends in a requeue, so a change made behind our back is noticed within [`RESYNC`].
//! Provisioning polls are paced by the device's own progress ([`provisioning_poll`]), not a
//! fixed interval, so the number of polls does not grow with the provisioning time.

use std::time::Duration;

/// Resync of a Ready object: CAPI providers' default `--sync-period` is 10 minutes, and six
/// resyncs an hour is the steady-state budget (each served by one shared list per cluster).
pub const RESYNC: Duration = Duration::from_secs(600);

/// Waiting for an owner reference (Machine, Cluster) that CAPI sets within seconds; the
/// owner's own watch event usually arrives first.
pub const WAIT_FOR_OWNER: Duration = Duration::from_secs(30);

/// Waiting for the PacketCluster to be provisioned or the bootstrap Secret to be named; both
/// arrive as watch events (PacketCluster, Machine), so this is only a safety net.
pub const WAIT_FOR_DEPENDENCY: Duration = Duration::from_secs(60);

/// Waiting for a credentials Secret to appear or be fixed: Secrets are not watched (they can
/// be large and numerous), so this is how soon a fix is noticed.
pub const WAIT_FOR_CREDENTIALS: Duration = Duration::from_secs(60);

/// Shortest provisioning poll: below this the device view cannot have changed meaningfully.
pub const POLL_PROVISIONING_MIN: Duration = Duration::from_secs(15);

/// Longest provisioning poll: bounds how late we notice an `active` device.
pub const POLL_PROVISIONING_MAX: Duration = Duration::from_secs(300);

/// A queued device with no progress yet: the first poll comes after this share of the
/// plan's expected provisioning time.
pub const QUEUED_SHARE: f64 = 0.5;

/// Expected provisioning time when the device reports no usable progress: Equinix Metal
/// on-demand servers took 5 to 10 minutes.
pub const EXPECTED_PROVISIONING: Duration = Duration::from_secs(480);

/// Powering on/off and reinstalling: minutes-long transitions with no progress figure.
pub const POLL_TRANSITION: Duration = Duration::from_secs(60);

/// After a delete call: a forced delete of a Metal device left the API's device list within
/// about a minute; polling sooner only repeats the list.
pub const POLL_DELETING: Duration = Duration::from_secs(60);

/// A device that failed to provision, or a paused object: nothing will change without a
/// user action, which arrives as a watch event; this is only the periodic resync.
pub const STALLED: Duration = RESYNC;

/// Base of the per-object exponential backoff after an error.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);

/// Cap of the per-object exponential backoff: transient errors never wait longer than this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Retry period after a terminal error (impossible spec): a spec fix arrives as an event.
pub const TERMINAL_RETRY: Duration = RESYNC;

/// When to look at a provisioning device again.
///
/// With a progress figure `p` (0-100 %) after `elapsed` since creation, the remaining time is
/// estimated as `elapsed * (100 - p) / p` and the next poll lands at that moment, clamped to
/// [`POLL_PROVISIONING_MIN`]..[`POLL_PROVISIONING_MAX`]. Without progress (queued) the poll
/// lands at [`QUEUED_SHARE`] of `expected` minus the time already spent. Either way the number
/// of polls per device stays small and independent of how long provisioning takes.
#[must_use]
pub fn provisioning_poll(
    percentage: Option<f64>,
    elapsed: Duration,
    expected: Duration,
) -> Duration {
    let estimate = match percentage {
        Some(p) if p.is_finite() && p > 1.0 && p < 100.0 => {
            Duration::try_from_secs_f64(elapsed.as_secs_f64() * (100.0 - p) / p)
                .unwrap_or(POLL_PROVISIONING_MAX)
        }
        Some(p) if p.is_finite() && p >= 100.0 => POLL_PROVISIONING_MIN,
        _ => expected.mul_f64(QUEUED_SHARE).saturating_sub(elapsed),
    };
    estimate.clamp(POLL_PROVISIONING_MIN, POLL_PROVISIONING_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_land_when_the_progress_says_the_device_will_be_done() {
        // 40 % after 120 s: about 180 s to go.
        let next = provisioning_poll(Some(40.0), Duration::from_secs(120), EXPECTED_PROVISIONING);
        assert_eq!(next, Duration::from_secs(180));
    }

    #[test]
    fn polls_are_clamped_between_the_minimum_and_maximum() {
        let almost = provisioning_poll(Some(99.0), Duration::from_secs(60), EXPECTED_PROVISIONING);
        assert_eq!(almost, POLL_PROVISIONING_MIN);
        let slow = provisioning_poll(Some(2.0), Duration::from_secs(600), EXPECTED_PROVISIONING);
        assert_eq!(slow, POLL_PROVISIONING_MAX);
    }

    #[test]
    fn a_queued_device_is_polled_after_half_the_expected_time() {
        let first = provisioning_poll(None, Duration::ZERO, Duration::from_secs(480));
        assert_eq!(first, Duration::from_secs(240));
        let later = provisioning_poll(
            Some(0.0),
            Duration::from_secs(400),
            Duration::from_secs(480),
        );
        assert_eq!(later, POLL_PROVISIONING_MIN);
    }

    #[test]
    fn the_number_of_polls_does_not_grow_with_provisioning_time() {
        // A device that progresses linearly over `total`: count polls until done.
        let polls = |total: f64| {
            let mut t = 0.0_f64;
            let mut n = 0;
            while t < total {
                let p = (t / total * 100.0).min(100.0);
                let pct = (t > 0.0).then_some(p);
                let d = provisioning_poll(
                    pct,
                    Duration::from_secs_f64(t),
                    Duration::from_secs_f64(total),
                );
                t += d.as_secs_f64();
                n += 1;
            }
            n
        };
        assert!(polls(300.0) <= 4, "{}", polls(300.0));
        assert!(polls(1200.0) <= 8, "{}", polls(1200.0));
    }
}
