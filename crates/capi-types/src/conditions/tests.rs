use jiff::Timestamp;

use super::*;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const T0: &str = "2024-05-01T12:00:00Z";
const T1: &str = "2024-05-01T12:05:00Z";
const T2: &str = "2024-05-01T12:10:00Z";

fn types(list: &[Condition]) -> Vec<&str> {
    list.iter().map(|c| c.type_.as_str()).collect()
}

#[test]
fn a_new_condition_gets_the_given_time_and_is_reported_as_a_change() {
    let mut list: Vec<Condition> = Vec::new();
    assert!(list.mark_true(INFRASTRUCTURE_READY, t(T0)));
    let c = list.get(INFRASTRUCTURE_READY).unwrap();
    assert_eq!(c.status, "True");
    assert_eq!(c.last_transition_time, T0);
    assert_eq!(
        (
            c.reason.as_deref(),
            c.severity.as_deref(),
            c.message.as_deref()
        ),
        (None, None, None)
    );
}

#[test]
fn setting_the_same_state_again_changes_nothing() {
    let mut list: Vec<Condition> = Vec::new();
    list.mark_false(BOOTSTRAP_READY, "Waiting", Severity::Info, "m", t(T0));
    assert!(!list.mark_false(BOOTSTRAP_READY, "Waiting", Severity::Info, "m", t(T1)));
    assert_eq!(list.get(BOOTSTRAP_READY).unwrap().last_transition_time, T0);
}

#[test]
fn a_new_reason_or_message_with_the_same_status_keeps_the_transition_time() {
    let mut list: Vec<Condition> = Vec::new();
    list.mark_false(BOOTSTRAP_READY, "Waiting", Severity::Info, "1 of 3", t(T0));
    assert!(list.mark_false(BOOTSTRAP_READY, "Failing", Severity::Error, "boom", t(T1)));
    let c = list.get(BOOTSTRAP_READY).unwrap();
    assert_eq!(c.reason.as_deref(), Some("Failing"));
    assert_eq!(c.severity(), Severity::Error);
    assert_eq!(c.message.as_deref(), Some("boom"));
    assert_eq!(c.last_transition_time, T0);
}

#[test]
fn a_status_change_moves_the_transition_time_to_now() {
    let mut list: Vec<Condition> = Vec::new();
    list.mark_false(BOOTSTRAP_READY, "Waiting", Severity::Info, "", t(T0));
    list.mark_true(BOOTSTRAP_READY, t(T1));
    assert_eq!(list.get(BOOTSTRAP_READY).unwrap().last_transition_time, T1);
    list.mark_unknown(BOOTSTRAP_READY, "Lost", "no contact", t(T2));
    let c = list.get(BOOTSTRAP_READY).unwrap();
    assert_eq!(
        (c.status.as_str(), c.last_transition_time.as_str()),
        ("Unknown", T2)
    );
    assert_eq!(c.severity, None);
}

#[test]
fn times_are_written_in_whole_seconds_utc() {
    let mut list: Vec<Condition> = Vec::new();
    list.mark_true("A", t("2024-05-01T14:00:00.987654+02:00"));
    assert_eq!(list.get("A").unwrap().last_transition_time, T0);
    assert_eq!(format_time(t("2024-05-01T12:00:00.5Z")), T0);
}

#[test]
fn conditions_are_kept_with_ready_first_then_by_type() {
    let mut list: Vec<Condition> = Vec::new();
    list.mark_true("Zeta", t(T0));
    list.mark_true("Alpha", t(T0));
    list.mark_true(READY, t(T0));
    list.mark_true("Beta", t(T0));
    assert_eq!(types(&list), ["Ready", "Alpha", "Beta", "Zeta"]);
}

#[test]
fn readers_report_missing_conditions_as_unknown_and_empty() {
    let list: Vec<Condition> = Vec::new();
    assert!(!list.has("A"));
    assert!(!list.is_true("A"));
    assert!(!list.is_false("A"));
    assert!(list.is_unknown("A"));
    assert_eq!(list.reason("A"), "");
    assert_eq!(list.message("A"), "");
    assert_eq!(Conditions::severity(&list, "A"), Severity::None);
}

#[test]
fn a_condition_with_an_invalid_status_is_neither_true_false_nor_unknown() {
    // CAPI's IsUnknown compares with "Unknown"; only a missing condition is also unknown.
    let list = vec![Condition {
        type_: "A".to_owned(),
        status: "Maybe".to_owned(),
        ..Condition::default()
    }];
    assert!(!list.is_true("A"));
    assert!(!list.is_false("A"));
    assert!(!list.is_unknown("A"));
    let unknown = vec![Condition::unknown_condition(
        "A",
        "R",
        "",
        t("2024-05-01T12:00:00Z"),
    )];
    assert!(unknown.is_unknown("A"));
}

#[test]
fn delete_removes_only_the_named_condition() {
    let mut list: Vec<Condition> = Vec::new();
    list.mark_true("A", t(T0));
    list.mark_true("B", t(T0));
    assert!(list.delete("A"));
    assert!(!list.delete("A"));
    assert_eq!(types(&list), ["B"]);
}

#[test]
fn empty_reason_and_message_are_omitted_on_the_wire() {
    let c = Condition::false_condition("A", "", Severity::None, "", t(T0));
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"type": "A", "status": "False", "lastTransitionTime": T0})
    );
}

#[test]
fn severity_parses_the_wire_values_and_treats_others_as_none() {
    for s in [Severity::Error, Severity::Warning, Severity::Info] {
        assert_eq!(Severity::parse(Some(s.as_str())), s);
    }
    assert_eq!(Severity::parse(Some("")), Severity::None);
    assert_eq!(Severity::parse(Some("error")), Severity::None);
    assert_eq!(Severity::parse(None), Severity::None);
}

#[test]
fn the_summary_of_all_true_conditions_is_ready_true() {
    let mut list: Vec<Condition> = Vec::new();
    list.mark_true("A", t(T0));
    list.mark_true("B", t(T0));
    assert!(list.set_summary(t(T1)));
    assert!(list.is_true(READY));
    assert_eq!(list.get(READY).unwrap().last_transition_time, T1);
    assert_eq!(types(&list)[0], READY);
}

#[test]
fn the_summary_takes_the_worst_false_condition_error_over_warning_over_info() {
    let mut list: Vec<Condition> = Vec::new();
    list.mark_false("A", "InfoReason", Severity::Info, "info", t(T0));
    list.mark_false("B", "WarnReason", Severity::Warning, "warn", t(T0));
    list.mark_true("C", t(T0));
    list.set_summary(t(T1));
    assert_eq!(
        (
            list.reason(READY),
            Conditions::severity(&list, READY),
            list.message(READY)
        ),
        ("WarnReason", Severity::Warning, "warn")
    );
    list.mark_false("D", "ErrReason", Severity::Error, "err", t(T1));
    list.set_summary(t(T2));
    let ready = list.get(READY).unwrap();
    assert_eq!(ready.reason.as_deref(), Some("ErrReason"));
    assert_eq!(ready.severity(), Severity::Error);
    assert_eq!(ready.status, "False");
    // Ready stayed False: its transition time is still the first one.
    assert_eq!(ready.last_transition_time, T1);
}

#[test]
fn among_equally_bad_conditions_the_first_by_type_wins_unless_an_order_is_given() {
    let mut list: Vec<Condition> = Vec::new();
    list.mark_false("Zeta", "ZetaReason", Severity::Warning, "z", t(T0));
    list.mark_false("Alpha", "AlphaReason", Severity::Warning, "a", t(T0));
    list.set_summary(t(T0));
    assert_eq!(list.reason(READY), "AlphaReason");
    list.set_summary_of(&["Zeta", "Alpha"], t(T0));
    assert_eq!(list.reason(READY), "ZetaReason");
}

#[test]
fn true_outranks_unknown_in_the_summary_as_in_capi() {
    let mut list: Vec<Condition> = Vec::new();
    list.mark_unknown("A", "Probing", "", t(T0));
    list.mark_true("B", t(T0));
    list.set_summary(t(T0));
    assert!(list.is_true(READY));
    let only_unknown = {
        let mut l: Vec<Condition> = Vec::new();
        l.mark_unknown("A", "Probing", "checking", t(T0));
        l.summary(&[], t(T0)).unwrap()
    };
    assert_eq!(only_unknown.status, "Unknown");
    assert_eq!(only_unknown.reason.as_deref(), Some("Probing"));
    assert_eq!(only_unknown.message.as_deref(), Some("checking"));
}

#[test]
fn a_false_condition_without_severity_ranks_below_every_other_state() {
    let mut list: Vec<Condition> = Vec::new();
    list.mark_false("A", "NoSeverity", Severity::None, "", t(T0));
    list.mark_unknown("B", "Probing", "", t(T0));
    assert_eq!(list.summary(&[], t(T0)).unwrap().status, "Unknown");
    list.delete("B");
    let s = list.summary(&[], t(T0)).unwrap();
    assert_eq!((s.status.as_str(), s.severity), ("False", None));
}

#[test]
fn the_summary_ignores_ready_itself_and_conditions_outside_the_listed_types() {
    let mut list: Vec<Condition> = Vec::new();
    assert!(
        !list.set_summary(t(T0)),
        "no conditions: nothing to summarise"
    );
    list.mark_false(READY, "Old", Severity::Error, "", t(T0));
    assert!(list.summary(&[], t(T0)).is_none());
    list.mark_false("Noise", "Bad", Severity::Error, "", t(T0));
    list.mark_true("Wanted", t(T0));
    assert!(list.set_summary_of(&["Wanted"], t(T1)));
    assert!(list.is_true(READY));
    assert!(list.summary(&["Missing"], t(T1)).is_none());
}

#[test]
fn status_types_of_every_kind_implement_conditions() {
    fn mark(c: &mut impl Conditions) -> bool {
        c.mark_true(READY, "2024-05-01T12:00:00Z".parse().unwrap());
        c.is_true(READY)
    }
    assert!(mark(&mut crate::cluster::ClusterStatus::default()));
    assert!(mark(&mut crate::machine::MachineStatus::default()));
    assert!(mark(&mut crate::machine_set::MachineSetStatus::default()));
    assert!(mark(
        &mut crate::machine_deployment::MachineDeploymentStatus::default()
    ));
    assert!(mark(&mut crate::bootstrap::KubeadmConfigStatus::default()));
    assert!(mark(
        &mut crate::control_plane::KubeadmControlPlaneStatus::default()
    ));
}

#[test]
fn kinds_without_status_read_no_conditions_and_gain_a_status_when_written() {
    let mut machine = crate::machine::Machine::new("m1", crate::machine::MachineSpec::default());
    assert!(machine.conditions().is_empty());
    assert!(machine.is_unknown(READY));
    machine.mark_false(READY, "Provisioning", Severity::Info, "", t(T0));
    let status = machine.status.as_ref().unwrap();
    assert_eq!(status.conditions.len(), 1);
    assert!(machine.is_false(READY));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Op {
        True(usize),
        False(usize, usize, usize),
        Unknown(usize, usize),
        Delete(usize),
        Summary,
    }

    const TYPES: [&str; 4] = ["Ready", "InfrastructureReady", "BootstrapReady", "Zeta"];
    const REASONS: [&str; 3] = ["", "Waiting", "Failed"];
    const SEVERITIES: [Severity; 4] = [
        Severity::Error,
        Severity::Warning,
        Severity::Info,
        Severity::None,
    ];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..TYPES.len()).prop_map(Op::True),
            (0..TYPES.len(), 0..REASONS.len(), 0..SEVERITIES.len())
                .prop_map(|(t, r, s)| Op::False(t, r, s)),
            (0..TYPES.len(), 0..REASONS.len()).prop_map(|(t, r)| Op::Unknown(t, r)),
            (0..TYPES.len()).prop_map(Op::Delete),
            Just(Op::Summary),
        ]
    }

    proptest! {
        #[test]
        fn any_sequence_of_writes_keeps_conditions_unique_ordered_and_times_honest(
            ops in proptest::collection::vec(op(), 0..40)
        ) {
            let mut list: Vec<Condition> = Vec::new();
            for (step, op) in ops.into_iter().enumerate() {
                let now = Timestamp::from_second(1_700_000_000 + i64::try_from(step).unwrap() * 60).unwrap();
                let before = list.clone();
                match op {
                    Op::True(t) => { list.mark_true(TYPES[t], now); }
                    Op::False(t, r, s) => {
                        list.mark_false(TYPES[t], REASONS[r], SEVERITIES[s], REASONS[r], now);
                    }
                    Op::Unknown(t, r) => { list.mark_unknown(TYPES[t], REASONS[r], "", now); }
                    Op::Delete(t) => { list.delete(TYPES[t]); }
                    Op::Summary => { list.set_summary(now); }
                }
                // Types are unique and ordered Ready first, then by type.
                let types: Vec<&str> = list.iter().map(|c| c.type_.as_str()).collect();
                let mut sorted = list.clone();
                sorted.sort_by(condition_order);
                prop_assert_eq!(&sorted, &list);
                let mut dedup = types.clone();
                dedup.dedup();
                prop_assert_eq!(dedup.len(), types.len());
                // A transition time moves only when the status of that type changed.
                for c in &list {
                    if let Some(old) = before.iter().find(|o| o.type_ == c.type_) {
                        if old.status == c.status {
                            prop_assert_eq!(&old.last_transition_time, &c.last_transition_time);
                        } else {
                            prop_assert_eq!(&c.last_transition_time, &format_time(now));
                        }
                    }
                }
            }
        }
    }
}
