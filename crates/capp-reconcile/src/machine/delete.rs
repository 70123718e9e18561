//! Deleting the device, and releasing the PacketMachine only once the device is gone.
//!
//! # Expected Flow
//! Find the device (as for apply). None: release at once. Otherwise send one forced delete,
//! then poll the device view (refreshed after the delete call) until the device is absent,
//! or Metal answers 404/403 for it.
//!
//! # Guarantees
//! - The finalizer stays until Metal no longer lists the device: nothing is left behind.
//! - The delete is sent once per manager run; a device already `deprovisioning` is waited
//!   for, not deleted again.

use capi_types::conditions::Severity;
use std::time::Duration;

use capp_api::conditions::{INSTANCE_DELETING_REASON, INSTANCE_READY};

use super::device::{Found, VIEW_FRESHNESS, find};
use super::scope::MachineScope;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::requeue::POLL_DELETING;

/// `None` when the device is gone (release the finalizer), `Some` to come back.
pub(crate) async fn delete(
    ctx: &Context,
    scope: &mut MachineScope,
    due: bool,
) -> Result<Option<Duration>> {
    let sent = scope.device_id().and_then(|id| ctx.delete_sent(&id));
    // Fresh within the usual window, and never older than our delete call.
    let fresh = super::since(ctx.config.scaled(VIEW_FRESHNESS));
    let not_before = due.then(|| sent.map_or(fresh, |sent| sent.max(fresh)));
    // Absent from a view refreshed after our delete call: gone, no need to ask.
    let absent_is_gone = sent.is_some() && not_before.is_some();
    let device = match find(scope, not_before, absent_is_gone).await? {
        Found::Device(device) => device,
        Found::Absent | Found::Deleted(_) | Found::Forbidden(_) => {
            if let Some(id) = scope.device_id() {
                ctx.forget_delete(&id);
            }
            return Ok(None);
        }
    };
    scope.set_device(&device)?;
    scope.status.instance_status = Some(crate::device_view::state_name(device.state).to_owned());
    let deprovisioning = matches!(
        device.state,
        capp_packet::DeviceState::Deprovisioning | capp_packet::DeviceState::Deleted
    );
    if sent.is_none() && !deprovisioning {
        tracing::info!(device = %device.id, "Deleting device");
        match scope.metal().delete_device(&device.id, true).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() || e.is_forbidden() => {
                ctx.forget_delete(&device.id);
                return Ok(None);
            }
            Err(e) => return Err(Error::metal("deleteDevice")(e)),
        }
        ctx.record_delete(&device.id);
    } else if sent.is_none() {
        // Deprovisioning after a restart (or behind our back): wait for it from now on.
        ctx.record_delete(&device.id);
    }
    let message = format!("waiting for device {} to be deleted", device.id);
    scope.mark_false(
        INSTANCE_READY,
        INSTANCE_DELETING_REASON,
        Severity::Info,
        &message,
    );
    Ok(Some(ctx.config.scaled(POLL_DELETING)))
}
