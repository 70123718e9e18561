//! The v1beta2 conditions (`metav1.Condition`s) of PacketClusters and PacketMachines.
//!
//! The controllers keep setting their Cluster API v1beta1 conditions (with severity) as they
//! always did; before each status write, [`mirror`] derives the v1beta2 conditions from them
//! (`status.v1beta2.conditions` in v1beta1, `status.conditions` in v1beta2, where the v1beta1
//! ones move to `status.deprecated.v1beta1.conditions`). Core Cluster API v1.11+ mirrors our
//! `Ready` into the Machine's and Cluster's `InfrastructureReady`.
//!
//! One v1beta2 condition per v1beta1 condition, same type and status, following Cluster
//! API's v1beta2 conventions:
//!
//! - `reason` is required: a `True` condition's reason is its type (`InstanceReady`,
//!   `Ready`, as CAPI's `InfrastructureReady`/`Ready` reasons); a `False` or `Unknown` one
//!   keeps its v1beta1 reason (`WaitingForBootstrapData`, `InstanceProvisionFailed`,
//!   `NotPaused`, ...). A v1beta1 condition without reason (the controllers set none) would
//!   get CAPI's generic [`NOT_READY_REASON`] / [`READY_UNKNOWN_REASON`].
//! - `Ready` is the v1beta1 summary: as CAPI's v1beta2 summary does when one condition is
//!   the worst, it carries that condition's reason and message;
//! - `message` is the v1beta1 message (empty when none);
//! - `observedGeneration` is the object's `metadata.generation`;
//! - `lastTransitionTime` is kept while the status is unchanged (the previous v1beta2
//!   condition's, else the v1beta1 condition's, which follows the same rule).

use capi_types::common::V1Beta2Condition;
use capi_types::conditions::{Condition, STATUS_FALSE, STATUS_TRUE};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Reason of a `False` v1beta2 condition whose v1beta1 condition has no reason (CAPI's
/// generic summary reason; the controllers always set a reason, so this is a fallback).
pub const NOT_READY_REASON: &str = "NotReady";
/// Reason of an `Unknown` v1beta2 condition whose v1beta1 condition has no reason (CAPI's
/// generic summary reason; a fallback, as [`NOT_READY_REASON`]).
pub const READY_UNKNOWN_REASON: &str = "ReadyUnknown";

/// The v1beta2 conditions matching `v1beta1`, with the transition times of `previous` (the
/// object's current v1beta2 conditions) kept where the status did not change. `now` stands
/// in for a v1beta1 transition time that does not parse.
#[must_use]
pub fn mirror(
    v1beta1: &[Condition],
    previous: &[V1Beta2Condition],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<V1Beta2Condition> {
    v1beta1
        .iter()
        .map(|c| {
            let reason = match (
                c.reason.as_deref().filter(|r| !r.is_empty()),
                c.status.as_str(),
            ) {
                (_, STATUS_TRUE) => c.type_.clone(),
                (Some(reason), _) => reason.to_owned(),
                (None, STATUS_FALSE) => NOT_READY_REASON.to_owned(),
                (None, _) => READY_UNKNOWN_REASON.to_owned(),
            };
            let last_transition_time = previous
                .iter()
                .find(|p| p.type_ == c.type_ && p.status == c.status)
                .map_or_else(
                    || Time(whole_seconds(c.last_transition_time.parse().unwrap_or(now))),
                    |p| p.last_transition_time.clone(),
                );
            V1Beta2Condition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason,
                message: c.message.clone().unwrap_or_default(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

/// `metav1.Time` has second precision on the wire.
fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use capi_types::conditions::{Conditions, READY, Severity};

    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn true_conditions_take_their_type_as_reason_and_false_ones_keep_theirs() {
        let t0 = at("2026-12-01T10:00:00Z");
        let mut old: Vec<Condition> = Vec::new();
        old.mark_true("InstanceReady", t0);
        old.mark_false(
            "ControlPlaneEndpointReady",
            "ControlPlaneEndpointFailed",
            Severity::Warning,
            "422 already assigned",
            t0,
        );
        old.set_summary_of(&["InstanceReady", "ControlPlaneEndpointReady"], t0);
        let out = mirror(&old, &[], Some(3), t0);
        let get = |t: &str| out.iter().find(|c| c.type_ == t).unwrap();
        assert_eq!(get("InstanceReady").reason, "InstanceReady");
        assert_eq!(get("InstanceReady").status, "True");
        assert_eq!(get("InstanceReady").message, "");
        assert_eq!(get(READY).status, "False");
        assert_eq!(get(READY).reason, "ControlPlaneEndpointFailed");
        assert_eq!(get(READY).message, "422 already assigned");
        assert!(out.iter().all(|c| c.observed_generation == Some(3)));
        assert!(out.iter().all(|c| c.last_transition_time == Time(t0)));
    }

    #[test]
    fn the_transition_time_is_kept_while_the_status_is_unchanged() {
        let t0 = at("2026-12-01T10:00:00Z");
        let t1 = at("2026-12-01T10:05:00Z");
        let mut old: Vec<Condition> = Vec::new();
        old.mark_false(
            "InstanceReady",
            "InstanceNotReady",
            Severity::Info,
            "10%",
            t0,
        );
        let first = mirror(&old, &[], Some(1), t0);
        // A new message at t1, same status: the time stays.
        old.mark_false(
            "InstanceReady",
            "InstanceNotReady",
            Severity::Info,
            "50%",
            t1,
        );
        let second = mirror(&old, &first, Some(1), t1);
        assert_eq!(second[0].last_transition_time, Time(t0));
        assert_eq!(second[0].message, "50%");
        // True at t1: a transition.
        old.mark_true("InstanceReady", t1);
        let third = mirror(&old, &second, Some(1), t1);
        assert_eq!(third[0].last_transition_time, Time(t1));
        assert_eq!(third[0].reason, "InstanceReady");
    }

    #[test]
    fn a_condition_without_reason_gets_the_generic_one() {
        let t0 = at("2026-12-01T10:00:00Z");
        let conditions = vec![
            Condition::false_condition("A", "", Severity::Info, "", t0),
            Condition::unknown_condition("B", "", "", t0),
        ];
        let out = mirror(&conditions, &[], None, t0);
        assert_eq!(out[0].reason, NOT_READY_REASON);
        assert_eq!(out[1].reason, READY_UNKNOWN_REASON);
        assert!(out.iter().all(|c| !c.reason.is_empty()));
    }

    #[test]
    fn an_unparseable_transition_time_is_replaced_by_now_in_whole_seconds() {
        let now = at("2026-12-01T10:00:00.750Z");
        let mut c = Condition::true_condition("Ready", now);
        c.last_transition_time = "yesterday".into();
        let out = mirror(&[c], &[], None, now);
        assert_eq!(
            out[0].last_transition_time,
            Time(at("2026-12-01T10:00:00Z"))
        );
    }
}
