//! The PacketMachine controller: one Equinix Metal device per Cluster API Machine.
//!
//! # Expected Flow
//! [`reconcile`] fetches the owners in CAPI's order (Machine, Cluster, PacketCluster) and
//! waits without error while one is missing; stops at pause (setting `Paused`); then adds the
//! finalizer (only now that the owner reference exists) and runs `apply`, or on deletion
//! `cleanup`, removing the finalizer only once the device is gone (see `crate::finalizer`
//! for why kube's helper is not used). `apply` is a checklist of idempotent phases:
//! cluster infrastructure ready, device found (providerID, else tags), bootstrap data
//! present, device created, then one handler per device state. Status is applied once at the
//! end, even when a phase failed.
//!
//! # Guarantees
//! - At most one device per PacketMachine (see `create`).
//! - `ready` / `initialization.provisioned` are set only when the device is active and the
//!   control plane endpoint work is done, and never go back.
//! - Paused objects cost no Metal call.

mod create;
mod delete;
mod device;
mod scope;
mod userdata;

pub use userdata::API_KEY_FLAG;

use std::sync::Arc;
use std::time::Duration;

use capi_types::conditions::{Conditions, READY, Severity};
use capp_api::conditions::{
    INSTANCE_PROVISION_FAILED_REASON, INSTANCE_PROVISION_STARTED_REASON, INSTANCE_READY,
    WAITING_FOR_BOOTSTRAP_DATA_REASON, WAITING_FOR_CLUSTER_INFRASTRUCTURE_REASON,
};
use capp_api::machine::FINALIZER;
use capp_api::{PacketMachine, PacketMachineStatus};
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use tokio::time::Instant;

use self::device::{DevicePhase, Found, VIEW_FRESHNESS};
use self::scope::{MachineScope, Owners};
use crate::context::Context;
use crate::create_gate::{CREATES_IN_FLIGHT, WAITING_FOR_CREATE_SLOT_REASON};
use crate::error::{Error, Result};
use crate::finalizer;
use crate::requeue::{STALLED, WAIT_FOR_DEPENDENCY, WAIT_FOR_OWNER, provisioning_poll};
use crate::status::{apply_status, message_chain, patch_spec, publish, set_paused};

/// The controller name in metrics and logs.
pub const CONTROLLER: &str = "packetmachine";
/// Reason of the Normal event published when a PacketMachine's device became active and the
/// machine Ready.
pub const DEVICE_READY_EVENT: &str = "DeviceReady";
/// Reason of the Normal event published when the device was created.
pub const DEVICE_CREATED_EVENT: &str = "DeviceCreated";

/// An instant `ago` in the past (now, if the clock cannot go back that far).
pub(crate) fn since(ago: Duration) -> Instant {
    let now = Instant::now();
    now.checked_sub(ago).unwrap_or(now)
}

/// Reconciles one PacketMachine.
#[tracing::instrument(skip_all, fields(PacketMachine = %pm.name_any(), namespace = pm.namespace().unwrap_or_default()))]
pub async fn reconcile(pm: Arc<PacketMachine>, ctx: Arc<Context>) -> Result<Action> {
    crate::status::instrumented(
        &ctx,
        CONTROLLER,
        pm.uid(),
        // Boxed: the reconcile's state machine is ~30 KiB, too large to move by value.
        Box::pin(reconcile_inner(pm.clone(), &ctx)),
    )
    .await
}

async fn reconcile_inner(pm: Arc<PacketMachine>, ctx: &Context) -> Result<Action> {
    let owners = Owners::fetch(ctx, &pm).await?;
    let deleting = pm.metadata.deletion_timestamp.is_some();
    let (Some(machine), Some(cluster), Some(packet_cluster)) = (
        owners.machine.clone(),
        owners.cluster.clone(),
        owners.packet_cluster.clone(),
    ) else {
        let missing = owners.missing().unwrap_or("owner");
        if deleting {
            // The owners are gone, so is the knowledge of the project: CAPI deletes
            // PacketMachines before their Cluster, so this is an orphan; let it go.
            tracing::info!(
                missing,
                "Owner gone during deletion, releasing the PacketMachine"
            );
            if finalizer::has(pm.as_ref(), FINALIZER) {
                finalizer::remove(ctx, pm.as_ref(), FINALIZER).await?;
            }
            return Ok(Action::await_change());
        }
        tracing::info!(missing, "Waiting for the owner");
        return Ok(Action::requeue(ctx.config.scaled(WAIT_FOR_OWNER)));
    };
    if cluster.pauses(pm.as_ref()) {
        return paused(ctx, &pm, cluster.spec_paused).await;
    }
    let mut scope = MachineScope::new(ctx, pm.clone(), machine, cluster, packet_cluster).await?;
    let now = scope.now;
    set_paused(&mut scope.status, None, now);
    if deleting {
        if !finalizer::has(pm.as_ref(), FINALIZER) {
            return Ok(Action::await_change());
        }
        return cleanup(ctx, scope).await;
    }
    // Only now, with the owner reference in place, may the finalizer be added (CAPI
    // contract), and it must be in place before anything is created.
    if !finalizer::has(pm.as_ref(), FINALIZER) {
        finalizer::add(ctx, pm.as_ref(), FINALIZER).await?;
    }
    apply(ctx, scope).await
}

/// Paused: set the `Paused` condition, make no Metal call.
async fn paused(ctx: &Context, pm: &PacketMachine, by_cluster: bool) -> Result<Action> {
    let mut status: PacketMachineStatus = pm.status.clone().unwrap_or_default();
    let message = if by_cluster {
        "Cluster spec.paused is set to true"
    } else {
        "PacketMachine has the cluster.x-k8s.io/paused annotation"
    };
    set_paused(&mut status, Some(message), jiff::Timestamp::now());
    apply_status(ctx, pm, &status).await?;
    tracing::info!(reason = message, "Reconciliation is paused");
    Ok(Action::requeue(ctx.config.scaled(STALLED)))
}

/// The apply phases, then the one status write.
async fn apply(ctx: &Context, mut scope: MachineScope) -> Result<Action> {
    let uid = scope.uid();
    // A Ready machine's due poll is its resync: any refresh of its cluster's view within one
    // sync period answers it (another machine's poll, or a resync), so a cluster of N Ready
    // machines lists about once per period, not N times. Machines still on their way poll
    // within `VIEW_FRESHNESS`.
    let window = if scope.packet_machine.is_provisioned() {
        ctx.config.sync_period
    } else {
        ctx.config.scaled(VIEW_FRESHNESS)
    };
    let fresh = ctx.poll_due(&uid).then(|| since(window));
    let outcome = phases(ctx, &mut scope, fresh).await;
    finish(ctx, &mut scope, outcome.as_ref().err()).await?;
    let after = outcome?;
    // A machine waiting for a create slot is woken (or requeued) without a due poll: each
    // requeue pushes the poll past the next one, so its wait reads the cached view.
    let poll_in = if scope.waiting_for_slot {
        after.saturating_mul(2)
    } else {
        after
    };
    ctx.schedule_poll(&uid, poll_in);
    Ok(Action::requeue(after))
}

async fn cleanup(ctx: &Context, mut scope: MachineScope) -> Result<Action> {
    let uid = scope.uid();
    ctx.create_gate.forget(
        &scope.packet_cluster.spec.project_id,
        &ObjectRef::from_obj(scope.packet_machine.as_ref()),
    );
    let due = ctx.poll_due(&uid);
    let outcome = delete::delete(ctx, &mut scope, due).await;
    // The view may have just shown a device of the project gone: a create slot may be free.
    ctx.create_gate
        .wake(&ctx.accounts, &scope.packet_cluster.spec.project_id);
    match outcome {
        Ok(None) => {
            tracing::info!("Device deleted, releasing the PacketMachine");
            finalizer::remove(ctx, scope.packet_machine.as_ref(), FINALIZER).await?;
            ctx.forget_poll(&uid);
            Ok(Action::await_change())
        }
        Ok(Some(after)) => {
            finish(ctx, &mut scope, None).await?;
            ctx.schedule_poll(&uid, after);
            Ok(Action::requeue(after))
        }
        Err(e) => {
            finish(ctx, &mut scope, Some(&e)).await?;
            Err(e)
        }
    }
}

/// Records an error in the conditions, summarises `Ready`, writes spec.providerID when it
/// changed, and applies the status.
async fn finish(ctx: &Context, scope: &mut MachineScope, error: Option<&Error>) -> Result<()> {
    if let Some(e) = error {
        let severity = if e.is_terminal() {
            Severity::Error
        } else {
            Severity::Warning
        };
        let message = message_chain(e);
        scope.mark_false(INSTANCE_READY, e.reason(), severity, &message);
        publish(
            ctx,
            scope.packet_machine.as_ref(),
            EventType::Warning,
            e.reason(),
            "Reconcile",
            message,
        )
        .await;
    }
    let now = scope.now;
    scope.status.set_summary_of(
        &[
            INSTANCE_READY,
            capp_api::conditions::CONTROL_PLANE_ENDPOINT_READY,
        ],
        now,
    );
    if !scope.status.has(READY) {
        scope.status.mark_false(
            READY,
            INSTANCE_PROVISION_STARTED_REASON,
            Severity::Info,
            "",
            now,
        );
    }
    transition_events(ctx, scope).await;
    if let Some(provider_id) = scope.new_provider_id.clone() {
        patch_spec(
            ctx,
            scope.packet_machine.as_ref(),
            serde_json::json!({ "providerID": provider_id.to_string() }),
        )
        .await?;
    }
    apply_status(ctx, scope.packet_machine.as_ref(), &scope.status).await?;
    Ok(())
}

/// Events for the transitions a user watches for (`kubectl describe`): the machine became
/// Ready (`DeviceReady`), or its device failed to provision (`InstanceProvisionFailed`).
/// Compared with the stored status, so each is published once per transition.
async fn transition_events(ctx: &Context, scope: &MachineScope) {
    let before = scope.packet_machine.status.as_ref();
    if scope.status.is_provisioned() && !before.is_some_and(PacketMachineStatus::is_provisioned) {
        publish(
            ctx,
            scope.packet_machine.as_ref(),
            EventType::Normal,
            DEVICE_READY_EVENT,
            "Reconcile",
            format!("device {} is active", scope.device_id().unwrap_or_default()),
        )
        .await;
    }
    let failed_now = scope.status.failure_reason.as_deref() == Some(device::CREATE_ERROR);
    let failed_before = before.is_some_and(|s| s.failure_reason.is_some());
    if failed_now && !failed_before {
        publish(
            ctx,
            scope.packet_machine.as_ref(),
            EventType::Warning,
            INSTANCE_PROVISION_FAILED_REASON,
            "Reconcile",
            scope.status.failure_message.clone().unwrap_or_default(),
        )
        .await;
    }
}

/// The checklist. Each step returns early with the requeue it needs when not done.
async fn phases(
    ctx: &Context,
    scope: &mut MachineScope,
    fresh: Option<Instant>,
) -> Result<Duration> {
    if !scope.packet_cluster.is_provisioned() {
        scope.mark_false(
            INSTANCE_READY,
            WAITING_FOR_CLUSTER_INFRASTRUCTURE_REASON,
            Severity::Info,
            "waiting for the PacketCluster to be provisioned",
        );
        return Ok(ctx.config.scaled(WAIT_FOR_DEPENDENCY));
    }
    let found = device::find(scope, fresh, false).await?;
    // The view may have just been refreshed: machines waiting for a create slot may go.
    ctx.create_gate
        .wake(&ctx.accounts, &scope.packet_cluster.spec.project_id);
    if !matches!(found, Found::Absent) {
        ctx.create_gate.forget(
            &scope.packet_cluster.spec.project_id,
            &ObjectRef::from_obj(scope.packet_machine.as_ref()),
        );
    }
    let device = match found {
        Found::Device(device) => device,
        Found::Deleted(id) => {
            let action = device::vanished(ctx, scope, &id);
            publish(
                ctx,
                scope.packet_machine.as_ref(),
                EventType::Warning,
                "InstanceNotFound",
                "Reconcile",
                format!("device {id} was deleted outside of Cluster API"),
            )
            .await;
            return Ok(action);
        }
        Found::Forbidden(id) => return Ok(device::failed(ctx, scope, &id)),
        Found::Absent => {
            if let Some(action) = ensure_created(ctx, scope).await? {
                return Ok(action);
            }
            return Ok(ctx.config.sync_period);
        }
    };
    if let Some(action) = device::handle(ctx, scope, &device).await? {
        return Ok(action);
    }
    Ok(ctx.config.sync_period)
}

/// Creates the device when none exists and creating is allowed. `Some` is the requeue.
async fn ensure_created(ctx: &Context, scope: &mut MachineScope) -> Result<Option<Duration>> {
    if scope.status.has_failed() {
        // A failed provision is reported and not retried with a new device.
        return Ok(Some(ctx.config.scaled(STALLED)));
    }
    if scope.machine.bootstrap_data_secret_name.is_none() {
        scope.mark_false(
            INSTANCE_READY,
            WAITING_FOR_BOOTSTRAP_DATA_REASON,
            Severity::Info,
            "waiting for the Machine's bootstrap data Secret",
        );
        return Ok(Some(ctx.config.scaled(WAIT_FOR_DEPENDENCY)));
    }
    let project = scope.packet_cluster.spec.project_id.clone();
    let me = ObjectRef::from_obj(scope.packet_machine.as_ref());
    let slot = match ctx.create_gate.enter(&ctx.accounts, &project, me.clone()) {
        Ok(slot) => slot,
        Err(busy) => {
            // Woken by the gate when a view refresh shows a slot; the requeue is only the
            // resync (see `wait_for_create_slot`).
            let resync = ctx.config.sync_period;
            return Ok(Some(wait_for_create_slot(
                scope,
                &format!(
                    "{busy} devices of project {project} are being created (at most {CREATES_IN_FLIGHT} at once); waiting for one to become active"
                ),
                resync,
            )));
        }
    };
    let created = create::create(ctx, scope).await;
    drop(slot);
    let device = match created {
        Ok(device) => device,
        Err(e) if is_create_throttled(&e) => {
            // Metal's own create limit (devices we do not see count too): a wait, not a
            // failure of this object.
            ctx.create_gate.wait(&project, me);
            let message = e
                .metal_source()
                .and_then(capp_packet::Error::api)
                .map_or_else(|| e.to_string(), ToString::to_string);
            // Devices we do not see may hold the slots, and no refresh of ours may ever show
            // them go: come back after the safety net.
            return Ok(Some(wait_for_create_slot(
                scope,
                &format!("Metal refused the create for now: {message}"),
                ctx.config.scaled(CREATE_SLOT_SAFETY_NET),
            )));
        }
        Err(e) => {
            ctx.create_gate.wake(&ctx.accounts, &project);
            return Err(e);
        }
    };
    publish(
        ctx,
        scope.packet_machine.as_ref(),
        EventType::Normal,
        DEVICE_CREATED_EVENT,
        "Create",
        format!("created device {}", device.id),
    )
    .await;
    scope.set_device(&device)?;
    scope.status.instance_status = Some(crate::device_view::state_name(device.state).to_owned());
    scope.mark_false(
        INSTANCE_READY,
        INSTANCE_PROVISION_STARTED_REASON,
        Severity::Info,
        &format!("created device {}", device.id),
    );
    debug_assert!(matches!(
        DevicePhase::observe(Some(&device)),
        DevicePhase::Provisioning(_) | DevicePhase::Active
    ));
    Ok(Some(ctx.config.scaled(provisioning_poll(
        None,
        Duration::ZERO,
        ctx.config.expected_provisioning,
    ))))
}

/// Marks the machine as waiting for a create slot and returns `requeue`; the gate wakes it
/// when a view shows one free.
///
/// A machine held back by our own gate does not come due on a short timer: every slot the
/// gate counts is a device of ours in `queued`/`provisioning`, whose machine polls it and
/// wakes the waiters on the refresh that shows it done (a deletion wakes them too), so its
/// requeue is the resync. Hundreds of waiters on a short timer kept kube-runtime's runner
/// at its concurrency limit, and the runner then serves due objects in hash order, not in
/// the order they came due: some machines were never reconciled and the polls that free
/// slots never ran (the 1,000-machine bench stopped at about 120 Ready; `tests/starvation.rs`).
fn wait_for_create_slot(scope: &mut MachineScope, message: &str, requeue: Duration) -> Duration {
    scope.waiting_for_slot = true;
    scope.mark_false(
        INSTANCE_READY,
        WAITING_FOR_CREATE_SLOT_REASON,
        Severity::Info,
        message,
    );
    requeue
}

/// How long a machine whose create Metal refused with 429 waits before trying again when no
/// wake-up comes (the devices holding the slots may be ones we do not see).
const CREATE_SLOT_SAFETY_NET: Duration = Duration::from_secs(120);

/// Metal's 429 on a create: the project's create limit (or the account's rate limit).
fn is_create_throttled(error: &Error) -> bool {
    error
        .metal_source()
        .and_then(capp_packet::Error::api)
        .is_some_and(|api| api.status() == http::StatusCode::TOO_MANY_REQUESTS)
}

/// Per-object capped exponential backoff; terminal errors retry slowly.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature kube-runtime's Controller::run expects"
)]
pub fn error_policy(pm: Arc<PacketMachine>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failed(CONTROLLER, error.reason());
    let uid = pm.uid().unwrap_or_default();
    let wait = ctx
        .backoff
        .next(&uid, error.is_terminal(), error.retry_after());
    tracing::warn!(PacketMachine = %pm.name_any(), reason = error.reason(), error = %message_chain(error), ?wait, "Reconcile failed");
    // The next attempt looks at fresh data.
    ctx.forget_poll(&uid);
    Action::requeue(ctx.config.scaled(wait))
}
