//! Pure checks of the v1beta1 contract: paused, externally managed, watch filter,
//! control plane membership.
//!
//! These mirror `util/annotations` and `util/predicates` of CAPI v1.10. They read metadata
//! only; fetching the Cluster is the caller's job.

use kube::Resource;

use crate::cluster::Cluster;
use crate::labels::{
    DELETE_MACHINE_ANNOTATION, MACHINE_CONTROL_PLANE_LABEL, MACHINE_SKIP_REMEDIATION_ANNOTATION,
    MANAGED_BY_ANNOTATION, PAUSED_ANNOTATION, WATCH_FILTER_LABEL,
};

fn has_annotation(obj: &impl Resource, key: &str) -> bool {
    obj.meta()
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(key))
}

fn has_label(obj: &impl Resource, key: &str) -> bool {
    obj.meta()
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(key))
}

/// Whether reconciliation of `obj` must stop: the Cluster has `spec.paused: true` or `obj`
/// carries the `cluster.x-k8s.io/paused` annotation (any value), as CAPI's
/// `annotations.IsPaused`.
///
/// ```
/// use capi_types::{cluster::{Cluster, ClusterSpec}, is_paused};
/// let mut cluster = Cluster::new("c1", ClusterSpec::default());
/// let machine = cluster.clone();
/// assert!(!is_paused(&cluster, &machine));
/// cluster.spec.paused = Some(true);
/// assert!(is_paused(&cluster, &machine));
/// ```
#[must_use]
pub fn is_paused(cluster: &Cluster, obj: &impl Resource) -> bool {
    is_paused_by(cluster.spec.paused == Some(true), obj)
}

/// [`is_paused`] for callers that read the Cluster's `spec.paused` themselves (for example
/// from a v1beta2 Cluster or a version-independent view): paused when `cluster_spec_paused`
/// or `obj` carries the `cluster.x-k8s.io/paused` annotation.
///
/// ```
/// use capi_types::{cluster::{Cluster, ClusterSpec}, predicates::is_paused_by};
/// let obj = Cluster::new("c1", ClusterSpec::default());
/// assert!(is_paused_by(true, &obj));
/// assert!(!is_paused_by(false, &obj));
/// ```
#[must_use]
pub fn is_paused_by(cluster_spec_paused: bool, obj: &impl Resource) -> bool {
    cluster_spec_paused || has_paused_annotation(obj)
}

/// Whether `obj` carries the `cluster.x-k8s.io/paused` annotation.
#[must_use]
pub fn has_paused_annotation(obj: &impl Resource) -> bool {
    has_annotation(obj, PAUSED_ANNOTATION)
}

/// Whether an infrastructure cluster is managed outside Cluster API
/// (`cluster.x-k8s.io/managed-by` annotation present); providers skip such objects.
#[must_use]
pub fn is_externally_managed(obj: &impl Resource) -> bool {
    has_annotation(obj, MANAGED_BY_ANNOTATION)
}

/// Whether a controller started with `--watch-filter=<filter>` should reconcile `obj`
/// (CAPI's `ResourceHasFilterLabel`): always when the filter is empty, otherwise only when
/// the `cluster.x-k8s.io/watch-filter` label equals the filter.
#[must_use]
pub fn matches_watch_filter(obj: &impl Resource, filter: &str) -> bool {
    filter.is_empty()
        || obj
            .meta()
            .labels
            .as_ref()
            .and_then(|l| l.get(WATCH_FILTER_LABEL))
            .is_some_and(|v| v == filter)
}

/// Whether a Machine (or infrastructure machine) is part of the control plane
/// (`cluster.x-k8s.io/control-plane` label present, as CAPI's `util.IsControlPlaneMachine`).
#[must_use]
pub fn is_control_plane_machine(obj: &impl Resource) -> bool {
    has_label(obj, MACHINE_CONTROL_PLANE_LABEL)
}

/// Whether a Machine is excluded from MachineHealthCheck remediation
/// (`cluster.x-k8s.io/skip-remediation` annotation present).
#[must_use]
pub fn skips_remediation(obj: &impl Resource) -> bool {
    has_annotation(obj, MACHINE_SKIP_REMEDIATION_ANNOTATION)
}

/// Whether a Machine is marked for deletion first when scaling down
/// (`cluster.x-k8s.io/delete-machine` annotation present).
#[must_use]
pub fn is_marked_for_deletion(obj: &impl Resource) -> bool {
    has_annotation(obj, DELETE_MACHINE_ANNOTATION)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::cluster::ClusterSpec;
    use crate::machine::{Machine, MachineSpec};

    fn machine(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Machine {
        let mut m = Machine::new("m1", MachineSpec::default());
        let map = |kv: &[(&str, &str)]| {
            (!kv.is_empty()).then(|| {
                kv.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        m.metadata.labels = map(labels);
        m.metadata.annotations = map(annotations);
        m
    }

    #[test]
    fn an_object_is_paused_when_the_cluster_spec_says_so() {
        let mut cluster = Cluster::new("c1", ClusterSpec::default());
        let m = machine(&[], &[]);
        assert!(!is_paused(&cluster, &m));
        cluster.spec.paused = Some(false);
        assert!(!is_paused(&cluster, &m));
        cluster.spec.paused = Some(true);
        assert!(is_paused(&cluster, &m));
    }

    #[test]
    fn an_object_is_paused_by_the_annotation_whatever_its_value() {
        let cluster = Cluster::new("c1", ClusterSpec::default());
        assert!(is_paused(
            &cluster,
            &machine(&[], &[(PAUSED_ANNOTATION, "")])
        ));
        assert!(is_paused(
            &cluster,
            &machine(&[], &[(PAUSED_ANNOTATION, "false")])
        ));
        assert!(!is_paused(
            &cluster,
            &machine(&[("cluster.x-k8s.io/paused", "")], &[])
        ));
    }

    #[test]
    fn the_managed_by_annotation_marks_an_object_as_externally_managed() {
        assert!(is_externally_managed(&machine(
            &[],
            &[(MANAGED_BY_ANNOTATION, "")]
        )));
        assert!(!is_externally_managed(&machine(
            &[(MANAGED_BY_ANNOTATION, "")],
            &[]
        )));
    }

    #[test]
    fn an_empty_watch_filter_matches_everything_and_a_set_one_only_its_value() {
        let plain = machine(&[], &[]);
        let labelled = machine(&[(WATCH_FILTER_LABEL, "team-a")], &[]);
        assert!(matches_watch_filter(&plain, ""));
        assert!(matches_watch_filter(&labelled, ""));
        assert!(matches_watch_filter(&labelled, "team-a"));
        assert!(!matches_watch_filter(&labelled, "team-b"));
        assert!(!matches_watch_filter(&plain, "team-a"));
    }

    #[test]
    fn control_plane_skip_remediation_and_delete_markers_are_read_from_metadata() {
        let cp = machine(
            &[(MACHINE_CONTROL_PLANE_LABEL, "")],
            &[
                (MACHINE_SKIP_REMEDIATION_ANNOTATION, ""),
                (DELETE_MACHINE_ANNOTATION, "yes"),
            ],
        );
        assert!(is_control_plane_machine(&cp));
        assert!(skips_remediation(&cp));
        assert!(is_marked_for_deletion(&cp));
        let worker = machine(&[], &[]);
        assert!(!is_control_plane_machine(&worker));
        assert!(!skips_remediation(&worker));
        assert!(!is_marked_for_deletion(&worker));
    }
}
