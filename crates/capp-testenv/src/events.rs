//! One store for `events.k8s.io/v1` and core `v1` Events, as kube-apiserver keeps them: both
//! resources read and write the same objects (`/registry/events`), converted field by field
//! (`k8s.io/kubernetes/pkg/apis/events/v1` conversions). What kube-runtime's recorder writes
//! through `events.k8s.io/v1` is what `kubectl get events` and `kubectl describe` read through
//! core `v1`.

use serde_json::{Map, Value};

/// `(events.k8s.io/v1 field, core/v1 field)` pairs that differ only in name. The other
/// fields (`metadata`, `eventTime`, `series`, `reportingInstance`, `action`, `reason`,
/// `related`, `type`) have the same name and shape in both.
const RENAMED: &[(&str, &str)] = &[
    ("note", "message"),
    ("regarding", "involvedObject"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// Whether `(group, plural)` is the `events.k8s.io` view of core Events.
pub(crate) fn is_events_view(group: &str, plural: &str) -> bool {
    group == "events.k8s.io" && plural == "events"
}

fn rename(obj: &Value, from_new: bool) -> Value {
    let Some(map) = obj.as_object() else {
        return obj.clone();
    };
    let mut out = Map::with_capacity(map.len());
    for (k, v) in map {
        let renamed = RENAMED.iter().find_map(|(new, old)| {
            if from_new {
                (k == new).then_some(*old)
            } else {
                (k == old).then_some(*new)
            }
        });
        out.insert(renamed.unwrap_or(k).to_owned(), v.clone());
    }
    Value::Object(out)
}

/// An `events.k8s.io/v1` Event as the core `v1` Event it is stored as (unchanged when it
/// already is one).
pub(crate) fn to_core(obj: &Value) -> Value {
    rename(obj, true)
}

/// A stored core `v1` Event as `events.k8s.io/v1` shows it.
pub(crate) fn to_events_v1(obj: &Value) -> Value {
    rename(obj, false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_convert_both_ways_field_by_field() {
        let new = json!({"metadata": {"name": "e"}, "note": "Created device", "regarding": {"kind": "PacketMachine"},
            "reportingController": "capp", "reason": "Created", "type": "Normal", "deprecatedCount": 2});
        let core = to_core(&new);
        assert_eq!(core["message"], "Created device");
        assert_eq!(core["involvedObject"]["kind"], "PacketMachine");
        assert_eq!(core["reportingComponent"], "capp");
        assert_eq!(core["count"], 2);
        assert_eq!(core["reason"], "Created");
        assert!(core.get("note").is_none());
        assert_eq!(to_events_v1(&core), new);
        assert_eq!(to_core(&core), core, "converting a core event is a no-op");
    }
}
