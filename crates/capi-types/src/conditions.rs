//! Cluster API v1beta1 conditions and the helpers to read and write them.
//!
//! The standard Kubernetes `metav1.Condition` drops `severity` and makes `reason` and `message`
//! required, so v1beta1 objects need their own type: [`Condition`].
//!
//! The [`Conditions`] trait is implemented by every status type in this crate and by the kinds
//! themselves (writing through a kind creates its status), and can be implemented by
//! providers' status types. It offers the `conditions` package API of CAPI
//! v1beta1: [`get`](Conditions::get), [`is_true`](Conditions::is_true),
//! [`mark_true`](Conditions::mark_true), [`mark_false`](Conditions::mark_false),
//! [`mark_unknown`](Conditions::mark_unknown), [`set`](Conditions::set),
//! [`delete`](Conditions::delete) and [`set_summary`](Conditions::set_summary).
//!
//! # Guarantees
//! - No clock is read: every writer takes the current time as an argument.
//! - `lastTransitionTime` only changes when a condition's `status` changes; a new reason,
//!   severity or message is recorded with the old transition time. (CAPI v1beta1's
//!   `conditions.Set` also bumps it on reason/message changes; the Kubernetes convention, which
//!   this crate follows, is that the field records status transitions only.)
//! - Conditions are kept in the order CAPI uses: `Ready` first, then by type.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod summary;
#[cfg(test)]
mod tests;

/// The `Ready` condition type: the summary of an object's other conditions.
pub const READY: &str = "Ready";
/// Condition type: the infrastructure (e.g. PacketMachine) reports ready.
pub const INFRASTRUCTURE_READY: &str = "InfrastructureReady";
/// Condition type: the bootstrap data secret exists.
pub const BOOTSTRAP_READY: &str = "BootstrapReady";
/// Condition type: the control plane reports ready.
pub const CONTROL_PLANE_READY: &str = "ControlPlaneReady";
/// Condition type: the control plane has been initialized.
pub const CONTROL_PLANE_INITIALIZED: &str = "ControlPlaneInitialized";
/// Condition type: the Machine has a healthy Node.
pub const MACHINE_NODE_HEALTHY: &str = "NodeHealthy";
/// Condition type (v1beta2 contract): whether the object is paused.
pub const PAUSED: &str = "Paused";

/// Reason: waiting for the infrastructure object to report ready.
pub const WAITING_FOR_INFRASTRUCTURE_REASON: &str = "WaitingForInfrastructure";
/// Reason: waiting for the bootstrap data to be generated.
pub const WAITING_FOR_DATA_SECRET_REASON: &str = "WaitingForDataSecret";
/// Reason: waiting for the control plane to be available.
pub const WAITING_FOR_CONTROL_PLANE_AVAILABLE_REASON: &str = "WaitingForControlPlaneAvailable";
/// Reason: the object is being deleted.
pub const DELETING_REASON: &str = "Deleting";
/// Reason: deletion failed.
pub const DELETION_FAILED_REASON: &str = "DeletionFailed";
/// Reason: the object has been deleted.
pub const DELETED_REASON: &str = "Deleted";

/// Condition status `True`.
pub const STATUS_TRUE: &str = "True";
/// Condition status `False`.
pub const STATUS_FALSE: &str = "False";
/// Condition status `Unknown`.
pub const STATUS_UNKNOWN: &str = "Unknown";

/// A Cluster API v1beta1 condition (`conditions[]` on every CAPI object's status).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of condition in CamelCase or in foo.example.com/CamelCase.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 256))]
    pub type_: String,
    /// Status of the condition, one of True, False, Unknown.
    pub status: String,
    /// Severity provides an explicit classification of Reason code, so the users or machines can
    /// immediately understand the current situation and act accordingly. The Severity field MUST
    /// be set only when Status=False.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub severity: Option<String>,
    /// Last time the condition transitioned from one status to another (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub last_transition_time: String,
    /// The reason for the condition's last transition in CamelCase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub reason: Option<String>,
    /// A human readable message indicating details about the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 10240))]
    pub message: Option<String>,
}

/// How bad a `False` condition is (`Condition.severity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// A problem that needs attention (`Error`).
    Error,
    /// A problem that may resolve by itself (`Warning`).
    Warning,
    /// Progress information, not a problem (`Info`).
    Info,
    /// No severity (empty string): the condition is not `False`.
    None,
}

impl Severity {
    /// The wire spelling: `Error`, `Warning`, `Info` or the empty string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
            Severity::Info => "Info",
            Severity::None => "",
        }
    }

    /// Reads a wire value; anything other than `Error`, `Warning` and `Info` is [`Severity::None`].
    #[must_use]
    pub fn parse(value: Option<&str>) -> Severity {
        match value {
            Some("Error") => Severity::Error,
            Some("Warning") => Severity::Warning,
            Some("Info") => Severity::Info,
            _ => Severity::None,
        }
    }

    fn to_field(self) -> Option<String> {
        match self {
            Severity::None => None,
            other => Some(other.as_str().to_owned()),
        }
    }
}

/// Formats a timestamp the way Kubernetes serialises `metav1.Time`: RFC 3339, UTC, whole
/// seconds (`2024-05-01T12:00:00Z`).
#[must_use]
pub fn format_time(now: Timestamp) -> String {
    // metav1.Time has second precision on the wire; truncating keeps values comparable with
    // what the API server returns.
    Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Condition {
    /// A `True` condition of the given type, transitioned at `now`.
    #[must_use]
    pub fn true_condition(type_: &str, now: Timestamp) -> Condition {
        Condition {
            type_: type_.to_owned(),
            status: STATUS_TRUE.to_owned(),
            last_transition_time: format_time(now),
            ..Condition::default()
        }
    }

    /// A `False` condition with a reason, severity and message, transitioned at `now`.
    #[must_use]
    pub fn false_condition(
        type_: &str,
        reason: &str,
        severity: Severity,
        message: &str,
        now: Timestamp,
    ) -> Condition {
        Condition {
            type_: type_.to_owned(),
            status: STATUS_FALSE.to_owned(),
            severity: severity.to_field(),
            last_transition_time: format_time(now),
            reason: non_empty(reason),
            message: non_empty(message),
        }
    }

    /// An `Unknown` condition with a reason and message, transitioned at `now`.
    #[must_use]
    pub fn unknown_condition(
        type_: &str,
        reason: &str,
        message: &str,
        now: Timestamp,
    ) -> Condition {
        Condition {
            type_: type_.to_owned(),
            status: STATUS_UNKNOWN.to_owned(),
            severity: None,
            last_transition_time: format_time(now),
            reason: non_empty(reason),
            message: non_empty(message),
        }
    }

    /// The condition's severity, parsed.
    #[must_use]
    pub fn severity(&self) -> Severity {
        Severity::parse(self.severity.as_deref())
    }

    /// Whether status, reason, severity and message are equal (type and time are ignored).
    #[must_use]
    pub fn has_same_state(&self, other: &Condition) -> bool {
        self.type_ == other.type_
            && self.status == other.status
            && self.reason == other.reason
            && self.severity() == other.severity()
            && self.message == other.message
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// CAPI's ordering of conditions: `Ready` first, then the rest by type.
fn condition_order(a: &Condition, b: &Condition) -> std::cmp::Ordering {
    (a.type_ != READY)
        .cmp(&(b.type_ != READY))
        .then_with(|| a.type_.cmp(&b.type_))
}

/// Read and write access to an object's v1beta1 `status.conditions`, plus CAPI's condition
/// helpers as provided methods.
///
/// ```
/// use capi_types::conditions::{Conditions, Severity, INFRASTRUCTURE_READY};
/// use capi_types::machine::MachineStatus;
///
/// let t0: jiff::Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
/// let t1: jiff::Timestamp = "2024-05-01T12:05:00Z".parse().unwrap();
/// let mut status = MachineStatus::default();
/// status.mark_false(INFRASTRUCTURE_READY, "WaitingForInfrastructure", Severity::Info, "", t0);
/// status.mark_false(INFRASTRUCTURE_READY, "WaitingForInfrastructure", Severity::Info, "1 of 2", t1);
/// // Same status: the transition time is kept.
/// let c = status.get(INFRASTRUCTURE_READY).unwrap();
/// assert_eq!(c.last_transition_time, "2024-05-01T12:00:00Z");
/// status.mark_true(INFRASTRUCTURE_READY, t1);
/// assert!(status.is_true(INFRASTRUCTURE_READY));
/// assert_eq!(status.get(INFRASTRUCTURE_READY).unwrap().last_transition_time, "2024-05-01T12:05:00Z");
/// ```
pub trait Conditions {
    /// The current conditions.
    fn conditions(&self) -> &[Condition];

    /// The conditions, for writing.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;

    /// The condition of the given type, if present.
    fn get(&self, type_: &str) -> Option<&Condition> {
        self.conditions().iter().find(|c| c.type_ == type_)
    }

    /// Whether a condition of the given type exists.
    fn has(&self, type_: &str) -> bool {
        self.get(type_).is_some()
    }

    /// Whether the condition is present with status `True`.
    fn is_true(&self, type_: &str) -> bool {
        self.get(type_).is_some_and(|c| c.status == STATUS_TRUE)
    }

    /// Whether the condition is present with status `False`.
    fn is_false(&self, type_: &str) -> bool {
        self.get(type_).is_some_and(|c| c.status == STATUS_FALSE)
    }

    /// Whether the condition is missing or has status `Unknown` (CAPI's `IsUnknown`; a
    /// condition with an invalid status is neither true, false nor unknown).
    fn is_unknown(&self, type_: &str) -> bool {
        self.get(type_).is_none_or(|c| c.status == STATUS_UNKNOWN)
    }

    /// The condition's reason, or `""` when missing.
    fn reason(&self, type_: &str) -> &str {
        self.get(type_)
            .and_then(|c| c.reason.as_deref())
            .unwrap_or_default()
    }

    /// The condition's message, or `""` when missing.
    fn message(&self, type_: &str) -> &str {
        self.get(type_)
            .and_then(|c| c.message.as_deref())
            .unwrap_or_default()
    }

    /// The condition's severity ([`Severity::None`] when missing).
    fn severity(&self, type_: &str) -> Severity {
        self.get(type_).map_or(Severity::None, Condition::severity)
    }

    /// Adds or replaces a condition. The given condition's `last_transition_time` (the
    /// caller's "now", see [`format_time`]) is used when the condition is new or its status
    /// changes; otherwise the existing transition time is kept. Returns whether anything
    /// changed. Prefer the `mark_*` helpers, which always fill the time.
    fn set(&mut self, condition: Condition) -> bool {
        let conditions = self.conditions_mut();
        let changed =
            if let Some(existing) = conditions.iter_mut().find(|c| c.type_ == condition.type_) {
                if existing.has_same_state(&condition) {
                    false
                } else {
                    let last_transition_time = if existing.status == condition.status {
                        std::mem::take(&mut existing.last_transition_time)
                    } else {
                        condition.last_transition_time.clone()
                    };
                    *existing = Condition {
                        last_transition_time,
                        ..condition
                    };
                    true
                }
            } else {
                conditions.push(condition);
                true
            };
        conditions.sort_by(condition_order);
        changed
    }

    /// Sets the condition to `True` (clearing reason, severity and message).
    fn mark_true(&mut self, type_: &str, now: Timestamp) -> bool {
        self.set(Condition::true_condition(type_, now))
    }

    /// Sets the condition to `False` with a reason, severity and message.
    fn mark_false(
        &mut self,
        type_: &str,
        reason: &str,
        severity: Severity,
        message: &str,
        now: Timestamp,
    ) -> bool {
        self.set(Condition::false_condition(
            type_, reason, severity, message, now,
        ))
    }

    /// Sets the condition to `Unknown` with a reason and message.
    fn mark_unknown(&mut self, type_: &str, reason: &str, message: &str, now: Timestamp) -> bool {
        self.set(Condition::unknown_condition(type_, reason, message, now))
    }

    /// Removes the condition of the given type. Returns whether it was present.
    fn delete(&mut self, type_: &str) -> bool {
        let conditions = self.conditions_mut();
        let before = conditions.len();
        conditions.retain(|c| c.type_ != type_);
        conditions.len() != before
    }

    /// Sets `Ready` to the summary of all other conditions (CAPI's `conditions.SetSummary`).
    /// See [`summary`](Conditions::summary) for the rules. Does nothing when there are no
    /// other conditions. Returns whether anything changed.
    fn set_summary(&mut self, now: Timestamp) -> bool {
        match self.summary(&[], now) {
            Some(ready) => self.set(ready),
            None => false,
        }
    }

    /// Like [`set_summary`](Conditions::set_summary), but only the listed condition types are
    /// considered, and when several conditions share the worst state the first listed one
    /// provides reason and message (CAPI's `WithConditions` option).
    fn set_summary_of(&mut self, types: &[&str], now: Timestamp) -> bool {
        match self.summary(types, now) {
            Some(ready) => self.set(ready),
            None => false,
        }
    }

    /// Computes the `Ready` summary without storing it (CAPI's `conditions.summary`).
    ///
    /// Conditions other than `Ready` (restricted to `types` when non-empty) are grouped by
    /// status and severity, and the groups are ranked `False/Error` > `False/Warning` >
    /// `False/Info` > `True` > `Unknown` (> `False` without severity). When the top group is
    /// `True`, `Ready` is `True`; otherwise `Ready` takes the top group's status and severity
    /// and the reason and message of its first condition (by `types` order when given, else by
    /// type). Returns `None` when no condition is in scope.
    fn summary(&self, types: &[&str], now: Timestamp) -> Option<Condition> {
        summary::summarize(self.conditions(), types, now)
    }
}

impl Conditions for Vec<Condition> {
    fn conditions(&self) -> &[Condition] {
        self
    }

    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        self
    }
}

/// Implements [`Conditions`] for status types with a `conditions: Vec<Condition>` field.
macro_rules! impl_conditions {
    ($($ty:ty),* $(,)?) => {
        $(
            impl $crate::conditions::Conditions for $ty {
                fn conditions(&self) -> &[$crate::conditions::Condition] {
                    &self.conditions
                }

                fn conditions_mut(&mut self) -> &mut Vec<$crate::conditions::Condition> {
                    &mut self.conditions
                }
            }
        )*
    };
}
pub(crate) use impl_conditions;

/// Implements [`Conditions`] for a kind whose status is optional: reading a kind without
/// status sees no conditions, writing creates a default status.
///
/// Each kind's module calls it for its kind, so this module imports no kind.
macro_rules! impl_kind_conditions {
    ($($ty:ty),* $(,)?) => {
        $(
            impl $crate::conditions::Conditions for $ty {
                fn conditions(&self) -> &[$crate::conditions::Condition] {
                    self.status.as_ref().map_or(&[], |s| s.conditions.as_slice())
                }

                fn conditions_mut(&mut self) -> &mut Vec<$crate::conditions::Condition> {
                    &mut self.status.get_or_insert_with(Default::default).conditions
                }
            }
        )*
    };
}
pub(crate) use impl_kind_conditions;
