//! CAPI's `conditions.summary` / `merge`: grouping conditions by state and picking the worst.

use jiff::Timestamp;

use super::{Condition, READY, STATUS_FALSE, STATUS_TRUE, STATUS_UNKNOWN, Severity};

/// Rank of a (status, severity) group; lower is merged first (CAPI's `mergePriority`).
fn merge_priority(status: &str, severity: Severity) -> u8 {
    match (status, severity) {
        (STATUS_FALSE, Severity::Error) => 0,
        (STATUS_FALSE, Severity::Warning) => 1,
        (STATUS_FALSE, Severity::Info) => 2,
        (STATUS_TRUE, _) => 3,
        (STATUS_UNKNOWN, _) => 4,
        // CAPI: "this should never happen" (False without severity, or an invalid status).
        _ => 99,
    }
}

pub(super) fn summarize(
    conditions: &[Condition],
    types: &[&str],
    now: Timestamp,
) -> Option<Condition> {
    let in_scope = conditions
        .iter()
        .filter(|c| c.type_ != READY)
        .filter(|c| types.is_empty() || types.contains(&c.type_.as_str()));

    // The top group is the set of in-scope conditions sharing the best-ranked state; ties
    // between groups of equal rank cannot occur because rank is a function of the state,
    // except for the catch-all rank 99, where the first group seen wins (as with Go's sort).
    let mut top: Vec<&Condition> = Vec::new();
    let mut top_rank = u8::MAX;
    for condition in in_scope {
        let rank = merge_priority(&condition.status, condition.severity());
        if rank < top_rank {
            top_rank = rank;
            top = vec![condition];
        } else if rank == top_rank
            && top.first().is_some_and(|first| {
                first.status == condition.status && first.severity() == condition.severity()
            })
        {
            top.push(condition);
        }
    }
    top.sort_by(|a, b| super::condition_order(a, b));
    let first_listed = types
        .iter()
        .find_map(|t| top.iter().find(|c| c.type_ == *t).copied());
    let first = first_listed.or_else(|| top.first().copied())?;

    Some(match first.status.as_str() {
        STATUS_TRUE => Condition::true_condition(READY, now),
        STATUS_FALSE => Condition::false_condition(
            READY,
            first.reason.as_deref().unwrap_or_default(),
            first.severity(),
            first.message.as_deref().unwrap_or_default(),
            now,
        ),
        _ => Condition::unknown_condition(
            READY,
            first.reason.as_deref().unwrap_or_default(),
            first.message.as_deref().unwrap_or_default(),
            now,
        ),
    })
}
