//! The device's identity and its lifecycle as a derived enum, with one handler per state
//! (CAPH's `handleBootState*`).
//!
//! [`DevicePhase::observe`] is pure: it looks at what Metal says and nothing else. Nothing
//! about the device's state is persisted beyond `status.instanceStatus` (for users): every
//! reconcile re-derives it, so status can be rebuilt after `clusterctl move`.

use std::time::Duration;

use capi_types::addresses::{MachineAddress, MachineAddressType};
use capi_types::conditions::{Conditions, Severity};
use capp_api::cluster::VipManager;
use capp_api::conditions::{
    CONTROL_PLANE_ENDPOINT_FAILED_REASON, CONTROL_PLANE_ENDPOINT_READY, INSTANCE_NOT_FOUND_REASON,
    INSTANCE_NOT_READY_REASON, INSTANCE_PROVISION_FAILED_REASON, INSTANCE_READY,
    INSTANCE_STOPPED_REASON, INSTANCE_TERMINATED_REASON,
};
use capp_packet::{AssignIp, BgpAddressFamily, CreateBgpSession, Device, DeviceState};
use tokio::time::Instant;

use super::scope::MachineScope;
use crate::context::Context;
use crate::device_view::state_name;
use crate::error::{Error, Result};
use crate::requeue::{POLL_TRANSITION, STALLED, provisioning_poll};

/// How fresh the device view must be for a poll or an identity lookup: machines of one
/// cluster polling within this window share one list call.
pub(crate) const VIEW_FRESHNESS: Duration = Duration::from_secs(30);

/// The `failureReason` of a device that failed (CAPI's `CreateError`).
pub(crate) const CREATE_ERROR: &str = "CreateError";
/// The `failureReason` of a device that disappeared (CAPI's `UpdateError`).
pub(crate) const UPDATE_ERROR: &str = "UpdateError";

/// What Metal says about the machine's device.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    /// The device.
    Device(Box<Device>),
    /// No device carries the machine's identity (and `spec.providerID` is empty).
    Absent,
    /// `spec.providerID` names a device that answers 404: deleted behind our back.
    Deleted(String),
    /// `spec.providerID` names a device that answers 403: Metal's answer for a device whose
    /// provisioning failed.
    Forbidden(String),
}

/// Finds the machine's device: `spec.providerID` first, else by identity tags, both through
/// the cluster's device view (every page of a tag-filtered list); a device named by
/// `providerID` that the view lacks is fetched once to tell 404 from 403.
///
/// `fresh` is how recent the view must be (`None`: any refresh will do, for reconciles
/// triggered by events between polls).
///
/// `absent_is_gone`: the caller deleted the device before the view's refresh, so a device
/// missing from it is gone (404) without asking again.
pub(crate) async fn find(
    scope: &MachineScope,
    fresh: Option<Instant>,
    absent_is_gone: bool,
) -> Result<Found> {
    let devices = scope
        .view
        .devices(scope.metal(), fresh)
        .await
        .map_err(Error::metal("findProjectDevices"))?;
    if let Some(id) = scope.device_id() {
        if let Some(d) = devices.iter().find(|d| d.id == id) {
            return Ok(Found::Device(Box::new(d.clone())));
        }
        if absent_is_gone {
            return Ok(Found::Deleted(id));
        }
        return match scope.metal().get_device(&id).await {
            Ok(device) => Ok(Found::Device(Box::new(device))),
            Err(e) if e.is_not_found() => Ok(Found::Deleted(id)),
            Err(e) if e.is_forbidden() => Ok(Found::Forbidden(id)),
            Err(e) => Err(Error::metal("findDeviceById")(e)),
        };
    }
    Ok(scope
        .tags
        .find(&devices)
        .map_or(Found::Absent, |d| Found::Device(Box::new(d.clone()))))
}

/// The device's lifecycle phase, derived from Metal's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DevicePhase {
    /// No device.
    Absent,
    /// `queued` or `provisioning`, with Metal's progress figure.
    Provisioning(Option<f64>),
    /// `active`.
    Active,
    /// `failed`.
    Failed,
    /// `inactive` (powered off).
    Inactive,
    /// `powering_on`, `powering_off`, `reinstalling`, or a state this version does not know.
    Transitioning,
    /// `deprovisioning` or `deleted`.
    Deleting,
}

impl DevicePhase {
    /// The phase of `device` (pure).
    pub(crate) fn observe(device: Option<&Device>) -> DevicePhase {
        let Some(device) = device else {
            return DevicePhase::Absent;
        };
        match device.state {
            DeviceState::Queued => DevicePhase::Provisioning(None),
            DeviceState::Provisioning => DevicePhase::Provisioning(device.provisioning_percentage),
            DeviceState::Active => DevicePhase::Active,
            DeviceState::Failed => DevicePhase::Failed,
            DeviceState::Inactive => DevicePhase::Inactive,
            DeviceState::PoweringOn
            | DeviceState::PoweringOff
            | DeviceState::Reinstalling
            | DeviceState::Other => DevicePhase::Transitioning,
            DeviceState::Deprovisioning | DeviceState::Deleted => DevicePhase::Deleting,
        }
    }
}

/// Runs the handler of the device's phase. `Some` means "not done, come back after".
pub(crate) async fn handle(
    ctx: &Context,
    scope: &mut MachineScope,
    device: &Device,
) -> Result<Option<Duration>> {
    scope.set_device(device)?;
    scope.status.instance_status = Some(state_name(device.state).to_owned());
    scope.status.addresses = addresses(scope, device);
    match DevicePhase::observe(Some(device)) {
        DevicePhase::Absent => Ok(None),
        DevicePhase::Provisioning(percentage) => {
            Ok(Some(provisioning(ctx, scope, device, percentage)))
        }
        DevicePhase::Active => active(scope, device).await,
        DevicePhase::Failed => Ok(Some(failed(ctx, scope, &device.id))),
        DevicePhase::Inactive => {
            scope.mark_false(
                INSTANCE_READY,
                INSTANCE_STOPPED_REASON,
                Severity::Warning,
                "device is powered off",
            );
            Ok(Some(ctx.config.scaled(POLL_TRANSITION)))
        }
        DevicePhase::Transitioning => {
            let message = format!("device is {}", state_name(device.state));
            scope.mark_false(
                INSTANCE_READY,
                INSTANCE_NOT_READY_REASON,
                Severity::Info,
                &message,
            );
            Ok(Some(ctx.config.scaled(POLL_TRANSITION)))
        }
        DevicePhase::Deleting => {
            let message = format!(
                "device {} is being deleted outside of Cluster API",
                device.id
            );
            scope.mark_false(
                INSTANCE_READY,
                INSTANCE_TERMINATED_REASON,
                Severity::Error,
                &message,
            );
            scope.status.failure_reason = Some(UPDATE_ERROR.to_owned());
            scope.status.failure_message = Some(message);
            Ok(Some(ctx.config.scaled(STALLED)))
        }
    }
}

fn provisioning(
    ctx: &Context,
    scope: &mut MachineScope,
    device: &Device,
    percentage: Option<f64>,
) -> Duration {
    let message = match percentage {
        Some(p) => format!("device is {} ({p:.0}%)", state_name(device.state)),
        None => format!("device is {}", state_name(device.state)),
    };
    scope.mark_false(
        INSTANCE_READY,
        INSTANCE_NOT_READY_REASON,
        Severity::Info,
        &message,
    );
    let elapsed = device
        .created_at
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .and_then(|created| Duration::try_from(scope.now.duration_since(created)).ok())
        .unwrap_or_default();
    // The device's clock runs on the same (possibly compressed) timeline as ours.
    let elapsed = elapsed.div_f64(
        ctx.config
            .scaled(Duration::from_secs(1))
            .as_secs_f64()
            .max(1e-9),
    );
    ctx.config.scaled(provisioning_poll(
        percentage,
        elapsed,
        ctx.config.expected_provisioning,
    ))
}

/// A device that failed to provision: reported, and never replaced by a new create (a user
/// deletes the Machine; MachineHealthCheck may remediate).
pub(crate) fn failed(ctx: &Context, scope: &mut MachineScope, device_id: &str) -> Duration {
    let message = format!("device {device_id} failed to provision");
    scope.mark_false(
        INSTANCE_READY,
        INSTANCE_PROVISION_FAILED_REASON,
        Severity::Error,
        &message,
    );
    scope.status.failure_reason = Some(CREATE_ERROR.to_owned());
    scope.status.failure_message = Some(message);
    ctx.config.scaled(STALLED)
}

/// A device named by `providerID` that no longer exists.
pub(crate) fn vanished(ctx: &Context, scope: &mut MachineScope, device_id: &str) -> Duration {
    let message = format!("device {device_id} no longer exists (deleted outside of Cluster API)");
    scope.mark_false(
        INSTANCE_READY,
        INSTANCE_NOT_FOUND_REASON,
        Severity::Error,
        &message,
    );
    scope.status.failure_reason = Some(UPDATE_ERROR.to_owned());
    scope.status.failure_message = Some(message);
    ctx.config.scaled(STALLED)
}

async fn active(scope: &mut MachineScope, device: &Device) -> Result<Option<Duration>> {
    scope.mark_true(INSTANCE_READY);
    if scope.is_control_plane() && !scope.status.is_true(CONTROL_PLANE_ENDPOINT_READY) {
        if let Err(e) = control_plane_endpoint(scope, device).await {
            let message = crate::status::message_chain(&e);
            scope.mark_false(
                CONTROL_PLANE_ENDPOINT_READY,
                CONTROL_PLANE_ENDPOINT_FAILED_REASON,
                Severity::Warning,
                &message,
            );
            return Err(e);
        }
        scope.mark_true(CONTROL_PLANE_ENDPOINT_READY);
    } else if !scope.is_control_plane() && scope.vip_manager() == VipManager::KubeVip {
        // kube-vip on workers announces Services over BGP too (as the Go provider did).
        bgp_session(scope, device).await?;
    }
    scope.status.set_provisioned(true);
    Ok(None)
}

/// CPEM: the first active control plane gets the cluster's Elastic IP (afterwards CPEM moves
/// it). KUBE_VIP: a BGP session so kube-vip can announce the address.
async fn control_plane_endpoint(scope: &mut MachineScope, device: &Device) -> Result<()> {
    match scope.vip_manager() {
        VipManager::Cpem => {
            let Some(eip) = scope
                .packet_cluster
                .control_plane_endpoint()
                .map(|e| e.host.clone())
            else {
                return Ok(());
            };
            // Assigned to any device of the cluster already (this one included)? Then CPEM
            // owns it from here on.
            let devices = scope
                .view
                .devices(
                    scope.metal(),
                    // The poll that found this device active has just refreshed the view.
                    None,
                )
                .await
                .map_err(Error::metal("findProjectDevices"))?;
            if devices
                .iter()
                .chain(std::iter::once(device))
                .any(|d| holds(d, &eip))
            {
                return Ok(());
            }
            tracing::info!(device = %device.id, address = %eip, "Assigning the Elastic IP");
            let assigned = scope
                .metal()
                .assign_ip(&device.id, &AssignIp::new(eip.clone()))
                .await;
            scope.view.invalidate().await;
            match assigned {
                Ok(_) => Ok(()),
                // Two control planes became active together and the other one got it (or an
                // earlier attempt of ours took effect unseen): fine if a device of the
                // cluster holds it, which a fresh list tells.
                Err(e) if e.is_already_assigned() => {
                    let devices = scope
                        .view
                        .devices(scope.metal(), None)
                        .await
                        .map_err(Error::metal("findProjectDevices"))?;
                    match devices.iter().find(|d| holds(d, &eip)) {
                        Some(holder) => {
                            tracing::info!(device = %device.id, holder = %holder.id, address = %eip, "The Elastic IP is assigned to a control plane of the cluster already");
                            Ok(())
                        }
                        None => Err(Error::ElasticIpInUse { address: eip }),
                    }
                }
                Err(e) => Err(Error::metal("createIPAssignment")(e)),
            }
        }
        VipManager::KubeVip => bgp_session(scope, device).await,
        VipManager::Emlb => Ok(()),
    }
}

/// Whether `device` has `address` assigned.
fn holds(device: &Device, address: &str) -> bool {
    device
        .ip_addresses
        .iter()
        .any(|a| a.address.as_deref() == Some(address))
}

async fn bgp_session(scope: &mut MachineScope, device: &Device) -> Result<()> {
    if scope.status.is_true(CONTROL_PLANE_ENDPOINT_READY) || scope.status.is_provisioned() {
        return Ok(());
    }
    let request = CreateBgpSession {
        address_family: BgpAddressFamily::Ipv4,
        default_route: None,
    };
    match scope.metal().create_bgp_session(&device.id, &request).await {
        Ok(_) => Ok(()),
        // "already has session": the session we want exists.
        Err(e) if e.is_already_exists() => Ok(()),
        Err(e) => Err(Error::metal("createBgpSession")(e)),
    }
}

/// The device's addresses as CAPI machine addresses: public ones external, private ones
/// internal; a control plane in CPEM or KUBE_VIP mode lists the cluster's Elastic IP first
/// (as the Go provider did), and the hostname last.
fn addresses(scope: &MachineScope, device: &Device) -> Vec<MachineAddress> {
    let mut out = Vec::new();
    let eip = scope
        .packet_cluster
        .control_plane_endpoint()
        .map(|e| e.host.clone())
        .filter(|_| scope.is_control_plane() && scope.vip_manager().uses_elastic_ip());
    if let Some(eip) = &eip {
        out.push(MachineAddress::new(
            MachineAddressType::ExternalIp,
            eip.clone(),
        ));
    }
    for a in &device.ip_addresses {
        let Some(address) = a.address.as_deref() else {
            continue;
        };
        if eip.as_deref() == Some(address) {
            continue;
        }
        let kind = if a.public {
            MachineAddressType::ExternalIp
        } else {
            MachineAddressType::InternalIp
        };
        out.push(MachineAddress::new(kind, address));
    }
    if !device.hostname.is_empty() {
        out.push(MachineAddress::new(
            MachineAddressType::Hostname,
            device.hostname.clone(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(state: DeviceState, percentage: Option<f64>) -> Device {
        Device {
            id: "d".into(),
            state,
            provisioning_percentage: percentage,
            ..Device::default()
        }
    }

    #[test]
    fn every_metal_state_maps_to_one_phase() {
        assert_eq!(DevicePhase::observe(None), DevicePhase::Absent);
        assert_eq!(
            DevicePhase::observe(Some(&device(DeviceState::Queued, None))),
            DevicePhase::Provisioning(None)
        );
        assert_eq!(
            DevicePhase::observe(Some(&device(DeviceState::Provisioning, Some(40.0)))),
            DevicePhase::Provisioning(Some(40.0))
        );
        assert_eq!(
            DevicePhase::observe(Some(&device(DeviceState::Active, None))),
            DevicePhase::Active
        );
        assert_eq!(
            DevicePhase::observe(Some(&device(DeviceState::Failed, None))),
            DevicePhase::Failed
        );
        assert_eq!(
            DevicePhase::observe(Some(&device(DeviceState::Inactive, None))),
            DevicePhase::Inactive
        );
        for s in [
            DeviceState::PoweringOn,
            DeviceState::PoweringOff,
            DeviceState::Reinstalling,
            DeviceState::Other,
        ] {
            assert_eq!(
                DevicePhase::observe(Some(&device(s, None))),
                DevicePhase::Transitioning
            );
        }
        for s in [DeviceState::Deprovisioning, DeviceState::Deleted] {
            assert_eq!(
                DevicePhase::observe(Some(&device(s, None))),
                DevicePhase::Deleting
            );
        }
    }
}
