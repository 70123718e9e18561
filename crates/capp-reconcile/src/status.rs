//! Writes: status by server-side apply (once per reconcile), spec fields by merge patch, and
//! events.
//!
//! Status is accumulated in a local value during a reconcile and applied once at the end,
//! even when a phase failed: Rust's stand-in for CAPI's deferred `patchHelper`. The apply
//! body carries only `apiVersion`, `kind` and `status` (never `metadata.managedFields` or a
//! `resourceVersion`), and is forced so the manager owns every status field it writes.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::context::{Context, FIELD_MANAGER};
use crate::error::{Error, Result};
use crate::infra::{InfraKind, InfraVersion};

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

/// Applies `status` to the status subresource of `obj`, in the version the API server
/// serves ([`InfraApi`](crate::infra::InfraApi)): first `status.v1beta2.conditions` is
/// derived from the v1beta1 conditions ([`crate::conditions::mirror`]); in `v1beta2` the body
/// is the v1beta2 shape (`initialization`, `conditions`, `deprecated.v1beta1`, failure domain
/// list). Nothing is sent when the result equals the object's current status.
pub(crate) async fn apply_status<K: InfraKind>(
    ctx: &Context,
    obj: &K,
    status: &K::Status,
) -> Result<()> {
    let mut status = status.clone();
    let previous = obj
        .status()
        .map(|s| {
            let mut s = s.clone();
            std::mem::take(K::v1beta2_conditions_mut(&mut s))
        })
        .unwrap_or_default();
    let mirrored = crate::conditions::mirror(
        K::conditions(&status),
        &previous,
        obj.meta().generation,
        jiff::Timestamp::now(),
    );
    *K::v1beta2_conditions_mut(&mut status) = mirrored;
    let wire = |s: &K::Status| match ctx.infra.version {
        InfraVersion::V1Beta1 => serde_json::to_value(s).unwrap_or_default(),
        InfraVersion::V1Beta2 => obj.v1beta2_status(s),
    };
    let body = wire(&status);
    if obj.status().map(wire).as_ref() == Some(&body) {
        return Ok(());
    }
    let api = infra_api(ctx, obj);
    let body = json!({
        "apiVersion": ctx.infra.version.api_version(),
        "kind": K::kind(&()),
        "status": body,
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

/// The API of `obj`'s kind in its namespace, in the served version.
fn infra_api<K: InfraKind>(ctx: &Context, obj: &K) -> Api<DynamicObject> {
    Api::namespaced_with(
        ctx.client.clone(),
        &obj.namespace().unwrap_or_default(),
        K::resource(&ctx.infra),
    )
}

/// Merges `spec` (a partial spec, e.g. `{"providerID": ...}`) into the object's spec.
pub(crate) async fn patch_spec<K: InfraKind>(
    ctx: &Context,
    obj: &K,
    spec: serde_json::Value,
) -> Result<()> {
    merge_patch(ctx, obj, json!({ "spec": spec }), "patch spec").await
}

/// Sends a merge patch of `obj` (in the served version) as the manager's field manager.
pub(crate) async fn merge_patch<K: InfraKind>(
    ctx: &Context,
    obj: &K,
    body: serde_json::Value,
    action: &'static str,
) -> Result<()> {
    infra_api(ctx, obj)
        .patch(
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
    let mut reference: ObjectReference = obj.object_ref(&());
    // Our kinds are held as v1beta1 in memory; the event names the version served.
    if reference.api_version.as_deref() == Some(capp_api::API_VERSION) {
        reference.api_version = Some(ctx.infra.version.api_version().to_owned());
    }
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
