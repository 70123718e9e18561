//! Creating the device: exactly once in effect.
//!
//! # Expected Flow
//! The caller has just looked the device up (by `providerID`, else by identity tags, in a
//! device view refreshed within [`VIEW_FRESHNESS`](super::device::VIEW_FRESHNESS)) and found
//! nothing. We build the full request from the spec, read the bootstrap Secret, send one
//! create, and put the answer in the device view at once.
//!
//! # Guarantees
//! - A create is never resent blindly. When its error [`may_have_been_applied`] (5xx,
//!   timeout, broken exchange) the view is invalidated, so the next attempt lists the
//!   project first and adopts the device if it exists.
//! - A crash between the create call and the status write cannot yield a second device: the
//!   device carries the PacketMachine's UID tag, and the restarted manager's first lookup
//!   (its views start empty, so they list) finds it.
//! - The API token is never placed in userdata unless the manager was started with the
//!   explicit opt-in.
//!
//! [`may_have_been_applied`]: capp_packet::Error::may_have_been_applied

use capp_api::machine::HardwareReservation;
use capp_packet::{BillingCycle, CreateDevice, CreateSshKey, Device, Location, Userdata};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use super::scope::MachineScope;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::tags::{CONTROL_PLANE_ROLE_TAG, WORKER_ROLE_TAG};

/// The OS slug that boots from `ipxeURL`.
const CUSTOM_IPXE: &str = "custom_ipxe";

/// Marks the view stale when dropped (forgotten once the create call answered).
struct StaleOnDrop<'a>(Option<&'a crate::device_view::DeviceView>);

impl Drop for StaleOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(view) = self.0 {
            view.mark_stale();
        }
    }
}

/// Sends the create (trying each reservation of a comma list in order) and returns the
/// device.
pub(crate) async fn create(ctx: &Context, scope: &MachineScope) -> Result<Device> {
    let mut request = request(scope)?;
    request.userdata = Some(userdata(ctx, scope).await?);
    let project = scope.packet_cluster.spec.project_id.clone();
    let reservations = match scope
        .packet_machine
        .spec
        .hardware_reservation()
        .map_err(|e| Error::InvalidSpec {
            field: "spec.hardwareReservationID",
            message: e.to_string(),
        })? {
        None => vec![None],
        Some(HardwareReservation::NextAvailable) => {
            vec![Some(capp_api::machine::NEXT_AVAILABLE.to_owned())]
        }
        Some(HardwareReservation::Id(id)) => vec![Some(id)],
        Some(HardwareReservation::AnyOf(ids)) => ids.into_iter().map(Some).collect(),
    };
    let mut last = None;
    for reservation in reservations {
        request.hardware_reservation_id = reservation.clone();
        tracing::info!(
            hostname = request.hostname.as_deref().unwrap_or_default(),
            reservation = reservation.as_deref().unwrap_or_default(),
            "Creating device"
        );
        // Cancelled mid-call (the reconcile timed out), the create may have been applied:
        // the next lookup must list.
        let mut uncertain = StaleOnDrop(Some(&scope.view));
        let answer = scope.metal().create_device(&project, &request).await;
        uncertain.0 = None;
        match answer {
            Ok(device) => {
                scope.view.insert(device.clone()).await;
                return Ok(device);
            }
            Err(e) if e.may_have_been_applied() => {
                // The device may exist: the next attempt must list before creating again.
                scope.view.invalidate().await;
                return Err(Error::metal("createDevice")(e));
            }
            // A busy or exhausted reservation: try the next one of the list.
            Err(e)
                if reservation.is_some()
                    && (e.is_capacity_unavailable() || e.is_unprocessable()) =>
            {
                last = Some(e);
            }
            Err(e) => return Err(Error::metal("createDevice")(e)),
        }
    }
    Err(Error::metal("createDevice")(last.unwrap_or_else(|| {
        capp_packet::Error::Config("no hardware reservation to try".to_owned())
    })))
}

/// The create request for the machine, from every field of its spec (without userdata).
pub(crate) fn request(scope: &MachineScope) -> Result<CreateDevice> {
    let spec = &scope.packet_machine.spec;
    let location = spec.location(
        &scope.packet_cluster,
        scope.machine.failure_domain.as_deref(),
    );
    let location = match (location.facility, location.metro) {
        // As the Go provider: a facility, when set, wins over a metro.
        (Some(facility), _) => Location::Facility(vec![facility.to_owned()]),
        (None, Some(metro)) => Location::Metro(metro.to_owned()),
        (None, None) => {
            return Err(Error::InvalidSpec {
                field: "spec.metro",
                message: "no metro or facility on the PacketMachine, its failure domain or the PacketCluster; set spec.metro".to_owned(),
            });
        }
    };
    if spec.machine_type.trim().is_empty() {
        return Err(Error::InvalidSpec {
            field: "spec.machineType",
            message: "empty; set an Equinix Metal plan such as c3.small.x86".to_owned(),
        });
    }
    let mut request = CreateDevice::new(location, spec.machine_type.clone(), spec.os.clone());
    request.hostname = Some(scope.name());
    request.billing_cycle = spec
        .billing_cycle
        .as_deref()
        .filter(|b| !b.is_empty())
        .map(billing_cycle)
        .transpose()?;
    let mut tags = scope.tags.all();
    tags.push(
        if scope.is_control_plane() {
            CONTROL_PLANE_ROLE_TAG
        } else {
            WORKER_ROLE_TAG
        }
        .to_owned(),
    );
    for t in spec.tags.iter().flatten() {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    request.tags = tags;
    if let Some(url) = spec.ipxe_url.as_deref().filter(|u| !u.is_empty()) {
        if spec.os != CUSTOM_IPXE {
            return Err(Error::InvalidSpec {
                field: "spec.ipxeURL",
                message: format!("requires spec.os {CUSTOM_IPXE:?}, not {:?}", spec.os),
            });
        }
        request.ipxe_script_url = Some(url.to_owned());
    }
    request.ssh_keys = spec
        .ssh_keys
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, key)| CreateSshKey {
            label: format!("{}-{i}", scope.name()),
            key: key.clone(),
            ..CreateSshKey::default()
        })
        .collect();
    if spec.spot_instance == Some(true) {
        request.spot_instance = Some(true);
        request.spot_price_max = spec.spot_price_max;
        if request.spot_price_max.is_none() {
            return Err(Error::InvalidSpec {
                field: "spec.spotPriceMax",
                message: "required with spec.spotInstance; set the maximum hourly bid in USD"
                    .to_owned(),
            });
        }
    }
    request.termination_time.clone_from(&spec.termination_time);
    Ok(request)
}

fn billing_cycle(value: &str) -> Result<BillingCycle> {
    match value {
        "hourly" => Ok(BillingCycle::Hourly),
        "daily" => Ok(BillingCycle::Daily),
        "monthly" => Ok(BillingCycle::Monthly),
        "yearly" => Ok(BillingCycle::Yearly),
        other => Err(Error::InvalidSpec {
            field: "spec.billingCycle",
            message: format!("{other:?} is not one of hourly, daily, monthly, yearly"),
        }),
    }
}

/// The userdata: the bootstrap Secret's `value`, read on demand (there is no Secret
/// informer), rendered like the Go provider rendered it.
async fn userdata(ctx: &Context, scope: &MachineScope) -> Result<Userdata> {
    let namespace = scope.packet_machine.namespace().unwrap_or_default();
    let Some(name) = scope.machine.bootstrap_data_secret_name.clone() else {
        return Err(Error::BootstrapData {
            namespace,
            name: String::new(),
            message: "the Machine names no bootstrap data Secret yet".to_owned(),
        });
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let secret = secrets
        .get(&name)
        .await
        .map_err(Error::kube("get the bootstrap data Secret"))?;
    let Some(value) = secret.data.as_ref().and_then(|d| d.get("value")) else {
        return Err(Error::BootstrapData {
            namespace,
            name,
            message: "has no key \"value\"".to_owned(),
        });
    };
    let text = String::from_utf8(value.0.clone()).map_err(|_| Error::BootstrapData {
        namespace: namespace.clone(),
        name: name.clone(),
        message: "key \"value\" is not UTF-8 text".to_owned(),
    })?;
    super::userdata::render(ctx, scope, &name, &text).map(Userdata::new)
}
