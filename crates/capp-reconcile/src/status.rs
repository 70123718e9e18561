//! Writes: status by server-side apply (once per reconcile), spec fields by merge patch, and
//! events.
//!
//! Status is accumulated in a local value during a reconcile and applied once at the end,
//! even when a phase failed: Rust's stand-in for CAPI's deferred `patchHelper`. The apply
//! body carries only `apiVersion`, `kind` and `status` (never `metadata.managedFields` or a
//! `resourceVersion`), and is forced so the manager owns every status field it writes.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::context::{Context, FIELD_MANAGER};
use crate::error::{Error, Result};

/// A namespaced kind the controllers write (PacketCluster, PacketMachine).
pub(crate) trait Object:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
{
}

impl<K> Object for K where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
{
}

/// Runs one reconcile of `controller` for the object `uid` within
/// [`Config::reconcile_timeout`](crate::Config::reconcile_timeout): records its duration and
/// resets the object's backoff when it succeeds.
pub(crate) async fn instrumented<F>(
    ctx: &Context,
    controller: &'static str,
    uid: Option<String>,
    reconcile: F,
) -> F::Output
where
    F: Future<Output = Result<kube::runtime::controller::Action>>,
{
    let started = std::time::Instant::now();
    let after = ctx.config.reconcile_timeout;
    let result = tokio::time::timeout(after, reconcile)
        .await
        .unwrap_or_else(|_| {
            tracing::warn!(controller, ?after, "Reconcile timed out, cancelled");
            Err(Error::Timeout { after })
        });
    ctx.metrics
        .reconciled(controller, started.elapsed().as_secs_f64());
    if result.is_ok() {
        ctx.backoff.reset(uid.as_deref().unwrap_or_default());
    }
    result
}

/// Applies `status` to the status subresource of `obj`.
pub(crate) async fn apply_status<K, S>(ctx: &Context, obj: &K, status: &S) -> Result<()>
where
    K: Object,
    S: Serialize,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await
    .map_err(Error::kube("apply status"))?;
    Ok(())
}

/// Merges `spec` (a partial spec, e.g. `{"providerID": ...}`) into the object's spec.
pub(crate) async fn patch_spec<K>(ctx: &Context, obj: &K, spec: serde_json::Value) -> Result<()>
where
    K: Object,
{
    merge_patch(ctx, obj, json!({ "spec": spec }), "patch spec").await
}

/// Sends a merge patch of `obj` as the manager's field manager.
pub(crate) async fn merge_patch<K>(
    ctx: &Context,
    obj: &K,
    body: serde_json::Value,
    action: &'static str,
) -> Result<()>
where
    K: Object,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    api.patch(
        &obj.name_any(),
        &PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        },
        &Patch::Merge(body),
    )
    .await
    .map_err(Error::kube(action))?;
    Ok(())
}

/// Publishes an event on `obj`; failures are logged, never returned (an event is not worth a
/// failed reconcile).
pub(crate) async fn publish<K>(
    ctx: &Context,
    obj: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) where
    K: Resource<DynamicType = ()>,
{
    let reference: ObjectReference = obj.object_ref(&());
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &reference).await {
        tracing::debug!(error = %e, reason, "Publishing event failed");
    }
}

/// The error and its causes on one line, for condition messages (the Metal API's own text
/// is useful to users; the token never appears in errors).
#[must_use]
pub fn message_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

/// Sets the `Paused` condition: `True` with reason `Paused` and `message` while paused,
/// `False` with reason `NotPaused` otherwise (CAPI's `EnsurePausedCondition`). Returns
/// whether it changed.
pub(crate) fn set_paused(
    conditions: &mut impl capi_types::conditions::Conditions,
    paused: Option<&str>,
    now: jiff::Timestamp,
) -> bool {
    use capi_types::conditions::{Condition, PAUSED, STATUS_FALSE, STATUS_TRUE, format_time};
    let (status, reason, message) = match paused {
        Some(message) => (STATUS_TRUE, "Paused", Some(message.to_owned())),
        None => (STATUS_FALSE, "NotPaused", None),
    };
    conditions.set(Condition {
        type_: PAUSED.to_owned(),
        status: status.to_owned(),
        severity: None,
        last_transition_time: format_time(now),
        reason: Some(reason.to_owned()),
        message,
    })
}
