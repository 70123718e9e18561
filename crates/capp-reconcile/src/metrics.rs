//! Prometheus metrics: reconciles, errors and durations per controller, Metal calls by
//! operation and status, rate-limit waits and devices by state.
//!
//! Reconcile figures are counted as they happen; Metal call counters and device states are
//! read at scrape time from their owners (the Metal client's [`CallStats`] and the device
//! views), so they cannot drift from the truth.

use std::sync::{Arc, Mutex};

use capp_packet::CallStats;
use prometheus_client::encoding::{EncodeLabelSet, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of per-controller series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// `packetcluster` or `packetmachine`.
    pub controller: &'static str,
}

/// Labels of the error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// `packetcluster` or `packetmachine`.
    pub controller: &'static str,
    /// [`Error::reason`](crate::Error::reason): a bounded set.
    pub reason: &'static str,
}

/// How a conversion webhook request ended (`capp_conversion_reviews_total{result}`).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConversionResult {
    /// Every object was converted (`success`).
    Success,
    /// The review was answered with a `Failure` result: bad input, unknown version
    /// (`failure`).
    Failure,
    /// The request was refused before review: body too large or unreadable (`rejected`).
    Rejected,
}

impl ConversionResult {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Rejected => "rejected",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConversionLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    operation: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

/// Produces the Metal client's call counters at scrape time.
pub type StatsSource = Arc<dyn Fn() -> CallStats + Send + Sync>;

/// Produces device counts by state at scrape time.
pub type DeviceSource = Arc<dyn Fn() -> Vec<(String, u64)> + Send + Sync>;

/// The manager's metrics.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ControllerLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    durations: Family<ControllerLabels, Histogram>,
    conversions: Family<ConversionLabels, Counter>,
    stats: Mutex<Option<StatsSource>>,
    devices: Mutex<Option<DeviceSource>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("capp");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let durations = Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by reason",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time spent in one reconcile",
            durations.clone(),
        );
        let conversions = Family::<ConversionLabels, Counter>::default();
        registry.register(
            "conversion_reviews",
            "ConversionReview requests the conversion webhook answered, by result",
            conversions.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            durations,
            conversions,
            stats: Mutex::new(None),
            devices: Mutex::new(None),
        }
    }
}

impl Metrics {
    /// Records one reconcile of `controller` that took `seconds`.
    pub fn reconciled(&self, controller: &'static str, seconds: f64) {
        let labels = ControllerLabels { controller };
        self.reconciles.get_or_create(&labels).inc();
        self.durations.get_or_create(&labels).observe(seconds);
    }

    /// Records a failed reconcile.
    pub fn failed(&self, controller: &'static str, reason: &'static str) {
        self.errors
            .get_or_create(&ErrorLabels { controller, reason })
            .inc();
    }

    /// Records one request to the conversion webhook.
    pub fn conversion_review(&self, result: ConversionResult) {
        self.conversions
            .get_or_create(&ConversionLabels {
                result: result.as_str(),
            })
            .inc();
    }

    /// Reconciles counted so far for `controller`.
    #[must_use]
    pub fn reconcile_count(&self, controller: &'static str) -> u64 {
        self.reconciles
            .get_or_create(&ControllerLabels { controller })
            .get()
    }

    /// Where Metal call counters come from (the manager's `MetalClient::stats`).
    pub fn set_stats_source(&self, source: StatsSource) {
        *self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(source);
    }

    /// Where device counts by state come from (the device views).
    pub fn set_device_source(&self, source: DeviceSource) {
        *self
            .devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(source);
    }

    /// The Prometheus text exposition (OpenMetrics 1.0 text, ending in `# EOF`).
    #[must_use]
    pub fn render(&self) -> String {
        let mut scrape = Registry::with_prefix("capp");
        let stats = self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(source) = stats {
            let snapshot = source();
            let calls = Family::<CallLabels, Counter>::default();
            for ((operation, class), n) in &snapshot.attempts {
                calls
                    .get_or_create(&CallLabels {
                        operation,
                        status: class.as_str(),
                    })
                    .inc_by(*n);
            }
            let waits = Counter::<u64>::default();
            waits.inc_by(snapshot.throttled);
            let waited = Counter::<f64>::default();
            waited.inc_by(snapshot.throttled_for.as_secs_f64());
            scrape.register(
                "metal_calls",
                "Equinix Metal HTTP attempts by operation and status",
                calls,
            );
            scrape.register(
                "metal_rate_limit_waits",
                "Requests that waited for the client-side rate limiter",
                waits,
            );
            scrape.register(
                "metal_rate_limit_wait_seconds",
                "Time spent waiting for the client-side rate limiter",
                waited,
            );
        }
        let devices = self
            .devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(source) = devices {
            let family = Family::<StateLabels, Gauge>::default();
            for (state, n) in source() {
                family
                    .get_or_create(&StateLabels { state })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            scrape.register("devices", "Devices in the device views, by state", family);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = text::encode_registry(&mut out, &self.registry);
        let _ = text::encode_registry(&mut out, &scrape);
        let _ = text::encode_eof(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_reconciles_errors_calls_and_devices() {
        let m = Metrics::default();
        m.reconciled("packetmachine", 0.01);
        m.failed("packetmachine", "RateLimited");
        m.set_stats_source(Arc::new(|| {
            let mut s = CallStats::default();
            s.attempts
                .insert(("createDevice", capp_packet::StatusClass::Success), 3);
            s
        }));
        m.set_device_source(Arc::new(|| vec![("active".to_owned(), 2)]));
        let text = m.render();
        assert!(
            text.contains("capp_reconciles_total{controller=\"packetmachine\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "capp_reconcile_errors_total{controller=\"packetmachine\",reason=\"RateLimited\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("capp_metal_calls_total{operation=\"createDevice\",status=\"2xx\"} 3"),
            "{text}"
        );
        assert!(text.contains("capp_devices{state=\"active\"} 2"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
