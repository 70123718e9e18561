//! Devices: `createDevice`, `findDeviceById`, `findProjectDevices`, `updateDevice`,
//! `deleteDevice`, `performAction`, userdata, customdata and device SSH keys.

use serde_json::{Map, Value, json};

use super::input::Fields;
use super::{ApiRequest, Reply, paginate};
use crate::catalog::{self, Facility, Metro};
use crate::ids::{is_uuid, short_id};
use crate::state::{AddressWants, ApiError, ApiResult, Device, DeviceState, KeyRequest, State};

/// The real API's capacity message for a metro (`{"errors":[...]}` body recorded in packngo
/// PR #246).
pub(crate) const NO_SERVERS_IN_METRO: &str = "There aren't available servers in that metro";
/// Status of an on-demand capacity shortage (metro or facility form).
///
/// No report recorded the status next to the metro or the "has no provisionable" facility
/// text. The API's other on-demand shortage text came as 422: `POST .../devices: 422 No
/// available servers with plan c2.large.arm in facility sv15` (flatcar/mantle PR #257, 2021;
/// the spot-market endpoint likewise, rancherlabs/terraform-harvester-equinix PR #54), and 422
/// is the refusal `createDevice` declares in the spec. So 422, not 503.
pub(crate) const NO_CAPACITY_STATUS: u16 = 422;
/// The real API's message when no hardware reservation is free.
pub(crate) const NO_HARDWARE_RESERVATIONS: &str =
    "There are no available hardware reservations for selected plan and facility";
/// Status of [`NO_HARDWARE_RESERVATIONS`]: recorded as `503 There are no available hardware
/// reservations ...` (CAPP issue #191; `shared/reference/metal-api.md` §5).
pub(crate) const NO_RESERVATION_STATUS: u16 = 503;
/// The real API's message for a reservation that is busy or being cleaned.
pub(crate) const NOT_PROVISIONABLE: &str = "Server is not provisionable";
/// Status of a create refused because the project already has
/// [`SimConfig::create_limit`](crate::SimConfig::create_limit) devices provisioning.
///
/// Recorded only as "beyond that, user will get an HTTP error" (packethost/
/// terraform-provider-packet PR #195, a Packet engineer, 2019): the status is an inference.
/// 429 is what the API used for every other throttle (`X-RateLimit-*`), and clients already
/// back off on it instead of treating it as a refusal of the request itself.
pub(crate) const THROTTLED_STATUS: u16 = 429;

/// The real API's message for deleting a device that is still provisioning.
pub(crate) const DELETE_WHILE_PROVISIONING: &str =
    "Cannot delete a device while it is provisioning";

pub(super) fn get(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let device = state.visible_device(request.param(0))?;
    Ok(Reply::Json(
        200,
        state.device_json(device, &request.include(), request.now),
    ))
}

pub(super) fn list(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let project_id = state.visible_project(request.param(0))?.id.clone();
    let tag = request.query("tag");
    let hostname = request.query("hostname");
    let metro = request.query("metro");
    let facility = request.query("facility");
    let search = request.query("search").map(str::to_lowercase);
    let kind = request.query("type");
    let reserved = match request.query("reserved") {
        None => None,
        Some(_) => Some(request.flag("reserved")?),
    };
    let include = request.include();
    let mut devices: Vec<&Device> = state
        .devices
        .values()
        .filter(|d| d.project_id == project_id)
        .filter(|d| tag.is_none_or(|t| d.tags.iter().any(|x| x == t)))
        .filter(|d| hostname.is_none_or(|h| d.hostname.contains(h)))
        .filter(|d| metro.is_none_or(|m| d.metro.code == m))
        .filter(|d| facility.is_none_or(|f| d.facility.code == f))
        .filter(|d| reserved.is_none_or(|r| d.hardware_reservation.is_some() == r))
        .filter(|d| {
            kind.is_none_or(|k| match k {
                "reserved" => d.hardware_reservation.is_some(),
                "spot" => d.spot_instance,
                "ondemand" => d.hardware_reservation.is_none() && !d.spot_instance,
                _ => false,
            })
        })
        .filter(|d| {
            search.as_deref().is_none_or(|s| {
                d.hostname.to_lowercase().contains(s)
                    || d.id.contains(s)
                    || d.tags.iter().any(|t| t.to_lowercase().contains(s))
                    || d.description
                        .as_deref()
                        .is_some_and(|x| x.to_lowercase().contains(s))
            })
        })
        .collect();
    devices.sort_by_key(|d| d.seq);
    let items: Vec<Value> = devices
        .into_iter()
        .map(|d| state.device_json(d, &include, request.now))
        .collect();
    let base = format!("/metal/v1/projects/{project_id}/devices");
    Ok(Reply::Json(
        200,
        paginate(request, items, "devices", &base, 10),
    ))
}

/// Where a new device goes.
struct Placement {
    metro: &'static Metro,
    facility: &'static Facility,
    hardware_reservation: Option<String>,
}

pub(super) fn create(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let project_id = state.visible_project(request.param(0))?.id.clone();
    let body = Fields::of(request.body.as_ref())?;

    let plan_slug = body.required_string("plan", "Plan can't be blank")?;
    let plan = catalog::plan(&plan_slug)
        .ok_or_else(|| ApiError::unprocessable(format!("{plan_slug} is not a valid plan")))?;
    let os_slug = body.required_string("operating_system", "Operating system can't be blank")?;
    let os = catalog::operating_system(&os_slug).ok_or_else(|| {
        ApiError::unprocessable(format!("{os_slug} is not a valid operating system"))
    })?;
    let CreateOptions {
        hostname,
        description,
        billing_cycle,
        tags,
        userdata,
        customdata,
        locked,
        always_pxe,
        ipxe_script_url,
        spot_instance,
        spot_price_max,
        termination_time,
        network_frozen,
    } = CreateOptions::read(&body, os.slug)?;
    let want = address_wants(&body)?;
    let key_plan = state.plan_device_keys(&project_id, &key_request(&body)?)?;
    let hw_request = body
        .string("hardware_reservation_id")?
        .filter(|s| !s.is_empty());

    check_throttle(state, &project_id)?;
    let placement = place(state, &project_id, &body, plan, hw_request.as_deref())?;
    if request.no_capacity {
        return Err(no_capacity(&body, plan.slug, hw_request.is_some()));
    }

    let ssh_key_ids = state.commit_device_keys(&project_id, key_plan, request.now);
    let id = state.new_id();
    let doom = state.faults.draw_doom(&mut state.rng);
    let root_password = state.fresh_short_password();
    let switch_uuid = short_id(&state.new_id());
    state.device_seq += 1;
    let hostname = if hostname.is_empty() {
        // The API's default: the plan's family and the short id.
        format!(
            "{}-{}",
            plan.slug.split('.').next().unwrap_or("dev"),
            short_id(&id)
        )
    } else {
        hostname
    };
    let device = Device {
        id: id.clone(),
        seq: state.device_seq,
        project_id,
        hostname,
        description,
        plan,
        os,
        metro: placement.metro,
        facility: placement.facility,
        state: DeviceState::Queued,
        phase_since: request.now,
        created_at: request.now,
        updated_at: request.now,
        tags,
        userdata,
        customdata,
        billing_cycle,
        locked,
        always_pxe,
        ipxe_script_url,
        spot_instance,
        spot_price_max,
        termination_time,
        network_frozen,
        hardware_reservation: placement.hardware_reservation.clone(),
        ssh_key_ids,
        doom,
        want,
        management_ips: Vec::new(),
        root_password,
        switch_uuid,
        ports: Value::Null,
    };
    let device = Device {
        ports: crate::state::render::network_ports(&device),
        ..device
    };
    claim(state, &placement, plan.slug, &id);
    state.devices.insert(id.clone(), device);
    let device = state.visible_device(&id)?;
    Ok(Reply::Json(
        201,
        state.device_json(device, &request.include(), request.now),
    ))
}

/// Takes the server a new device runs on: its hardware reservation, or one of the metro's
/// servers of the plan.
fn claim(state: &mut State, placement: &Placement, plan: &str, device_id: &str) {
    match &placement.hardware_reservation {
        Some(hw) => {
            if let Some(h) = state.hardware_reservations.get_mut(hw) {
                h.device_id = Some(device_id.to_owned());
            }
        }
        None => {
            *state
                .in_use
                .entry((placement.metro.code.to_owned(), plan.to_owned()))
                .or_insert(0) += 1;
        }
    }
}

/// The simple optional fields of a create body.
#[allow(
    clippy::struct_excessive_bools,
    reason = "mirrors the API's independent boolean device fields"
)]
struct CreateOptions {
    hostname: String,
    description: Option<String>,
    billing_cycle: String,
    tags: Vec<String>,
    userdata: String,
    customdata: Map<String, Value>,
    locked: bool,
    always_pxe: bool,
    ipxe_script_url: Option<String>,
    spot_instance: bool,
    spot_price_max: Option<f64>,
    termination_time: Option<String>,
    network_frozen: bool,
}

impl CreateOptions {
    fn read(body: &Fields<'_>, os_slug: &str) -> ApiResult<Self> {
        let ipxe_script_url = body.string("ipxe_script_url")?.filter(|s| !s.is_empty());
        if os_slug == "custom_ipxe" && ipxe_script_url.is_none() {
            return Err(ApiError::unprocessable(
                "ipxe_script_url is required when operating_system is custom_ipxe",
            ));
        }
        let hostname = match body.string("hostname")? {
            Some(h) => {
                check_hostname(&h)?;
                h
            }
            None => String::new(),
        };
        let billing_cycle = body
            .string("billing_cycle")?
            .unwrap_or_else(|| "hourly".to_owned());
        check_billing_cycle(&billing_cycle)?;
        Ok(Self {
            hostname,
            description: body.string("description")?,
            billing_cycle,
            tags: body.string_list("tags")?.unwrap_or_default(),
            userdata: body.string("userdata")?.unwrap_or_default(),
            customdata: body.object("customdata")?.unwrap_or_default(),
            locked: body.bool("locked")?.unwrap_or(false),
            always_pxe: body.bool("always_pxe")?.unwrap_or(false),
            ipxe_script_url,
            spot_instance: body.bool("spot_instance")?.unwrap_or(false),
            spot_price_max: body.f64("spot_price_max")?,
            termination_time: body.string("termination_time")?,
            network_frozen: body.bool("network_frozen")?.unwrap_or(false),
        })
    }
}

fn check_billing_cycle(cycle: &str) -> ApiResult<()> {
    if ["hourly", "daily", "monthly", "yearly"].contains(&cycle) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(format!(
            "billing_cycle must be one of hourly, daily, monthly, yearly, got {cycle:?}"
        )))
    }
}

fn check_hostname(h: &str) -> ApiResult<()> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::unprocessable(format!(
            "hostname {h:?} is invalid: use letters, digits, '-' and '.' (no underscores), at most 253 characters"
        )))
    }
}

fn address_wants(body: &Fields<'_>) -> ApiResult<AddressWants> {
    let Some(raw) = body.raw("ip_addresses") else {
        return Ok(AddressWants::default());
    };
    let Value::Array(items) = raw else {
        return Err(ApiError::unprocessable(
            "ip_addresses must be an array of {address_family, public, cidr} objects",
        ));
    };
    let mut want = AddressWants {
        public_v4: None,
        private_v4: 0,
        public_v6: None,
    };
    for (i, item) in items.iter().enumerate() {
        let f = Fields::of(Some(item)).map_err(|_| {
            ApiError::unprocessable(format!("ip_addresses[{i}] must be a JSON object"))
        })?;
        let family = f.u64("address_family")?.unwrap_or(4);
        let public = f.bool("public")?.unwrap_or(true);
        if f.string_list("ip_reservations")?
            .is_some_and(|r| !r.is_empty())
        {
            return Err(ApiError::unprocessable(format!(
                "ip_addresses[{i}].ip_reservations is not supported by capp-sim; assign the reservation with POST /devices/{{id}}/ips after creation"
            )));
        }
        let cidr = f.u64("cidr")?;
        let cidr = |default: u8, min: u8, max: u8| -> ApiResult<u8> {
            let c = cidr.map_or(Ok(default), |c| u8::try_from(c).map_err(|_| ()));
            match c {
                Ok(c) if (min..=max).contains(&c) => Ok(c),
                _ => Err(ApiError::unprocessable(format!(
                    "ip_addresses[{i}].cidr must be between {min} and {max}"
                ))),
            }
        };
        match (family, public) {
            (4, true) => want.public_v4 = Some(cidr(31, 28, 31)?),
            (4, false) => want.private_v4 = cidr(31, 28, 31)?,
            (6, true) => want.public_v6 = Some(cidr(127, 64, 127)?),
            (6, false) => {
                return Err(ApiError::unprocessable(format!(
                    "ip_addresses[{i}]: private IPv6 addresses are not offered"
                )));
            }
            _ => {
                return Err(ApiError::unprocessable(format!(
                    "ip_addresses[{i}].address_family must be 4 or 6"
                )));
            }
        }
    }
    if want.private_v4 == 0 {
        return Err(ApiError::unprocessable(
            "ip_addresses must include a private IPv4 address ({\"address_family\":4,\"public\":false})",
        ));
    }
    Ok(want)
}

/// The SSH-key fields of a create body.
fn key_request(body: &Fields<'_>) -> ApiResult<KeyRequest> {
    let inline = match body.raw("ssh_keys") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let f = Fields::of(Some(item)).map_err(|_| {
                    ApiError::unprocessable(format!(
                        "ssh_keys[{i}] must be an object such as {{\"label\": \"me\", \"key\": \"ssh-ed25519 AAAA...\"}}"
                    ))
                })?;
                let key = f.required_string(
                    "key",
                    &format!("ssh_keys[{i}].key can't be blank: send an OpenSSH public key"),
                )?;
                let label = f.string("label")?.unwrap_or_default();
                f.string_list("tags")?;
                Ok((label, key))
            })
            .collect::<ApiResult<Vec<_>>>()?,
        Some(_) => {
            return Err(ApiError::unprocessable(
                "ssh_keys must be an array of {label, key} objects",
            ));
        }
    };
    Ok(KeyRequest {
        none: body.bool("no_ssh_keys")?.unwrap_or(false),
        project_keys: body.string_list("project_ssh_keys")?.unwrap_or_default(),
        users: body.string_list("user_ssh_keys")?.unwrap_or_default(),
        inline,
    })
}

/// 429 while the project has `create_limit` devices queued or provisioning.
fn check_throttle(state: &State, project_id: &str) -> ApiResult<()> {
    let Some(limit) = state.create_limit else {
        return Ok(());
    };
    let in_flight = state
        .devices
        .values()
        .filter(|d| d.project_id == project_id)
        .filter(|d| matches!(d.state, DeviceState::Queued | DeviceState::Provisioning))
        .count();
    if in_flight >= usize::try_from(limit).unwrap_or(usize::MAX) {
        return Err(ApiError::new(
            THROTTLED_STATUS,
            format!(
                "Too many devices are being created in this project at once ({in_flight} provisioning, at most {limit}); retry once one of them is active"
            ),
        ));
    }
    Ok(())
}

fn place(
    state: &State,
    project_id: &str,
    body: &Fields<'_>,
    plan: &'static catalog::Plan,
    hw_request: Option<&str>,
) -> ApiResult<Placement> {
    let has_metro = body.has("metro");
    let has_facility = body.has("facility");
    if has_metro && has_facility {
        return Err(ApiError::unprocessable(
            "send either metro or facility, not both (the spec's DeviceCreateInMetroInput and DeviceCreateInFacilityInput are exclusive)",
        ));
    }
    if !has_metro && !has_facility {
        return Err(ApiError::unprocessable("Facility can't be blank"));
    }
    if let Some(hw) = hw_request {
        return place_reserved(state, project_id, body, plan, hw);
    }
    if has_metro {
        let code = body.required_string("metro", "Metro can't be blank")?;
        let candidates: Vec<&'static Metro> =
            if code == "any" {
                catalog::METROS.iter().collect()
            } else {
                vec![catalog::metro(&code).ok_or_else(|| {
                    ApiError::unprocessable(format!("{code} is not a valid metro"))
                })?]
            };
        for metro in candidates {
            if state.capacity_left(metro.code, plan.slug) > 0 {
                let facility = catalog::facilities_of(metro.code)
                    .next()
                    .ok_or_else(|| ApiError::new(NO_CAPACITY_STATUS, NO_SERVERS_IN_METRO))?;
                return Ok(Placement {
                    metro,
                    facility,
                    hardware_reservation: None,
                });
            }
        }
        return Err(ApiError::new(NO_CAPACITY_STATUS, NO_SERVERS_IN_METRO));
    }
    let wanted = facility_list(body)?;
    let mut first = None;
    for code in &wanted {
        let candidates: Vec<&'static Facility> = if code == "any" {
            catalog::FACILITIES.iter().collect()
        } else {
            vec![catalog::facility(code).ok_or_else(|| {
                ApiError::unprocessable(format!("{code} is not a valid facility"))
            })?]
        };
        for facility in candidates {
            first.get_or_insert(facility.code);
            let Some(metro) = catalog::metro(facility.metro) else {
                continue;
            };
            if state.capacity_left(metro.code, plan.slug) > 0 {
                return Ok(Placement {
                    metro,
                    facility,
                    hardware_reservation: None,
                });
            }
        }
    }
    Err(ApiError::new(
        NO_CAPACITY_STATUS,
        format!(
            "The facility {} has no provisionable {} servers matching your criteria",
            first.unwrap_or("any"),
            plan.slug
        ),
    ))
}

/// `facility` is an array in the spec; the API also took a single string (documented
/// deviation: accepted here too).
fn facility_list(body: &Fields<'_>) -> ApiResult<Vec<String>> {
    match body.raw("facility") {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        _ => match body.string_list("facility")? {
            Some(list) if !list.is_empty() => Ok(list),
            _ => Err(ApiError::unprocessable("Facility can't be blank")),
        },
    }
}

fn place_reserved(
    state: &State,
    project_id: &str,
    body: &Fields<'_>,
    plan: &'static catalog::Plan,
    hw: &str,
) -> ApiResult<Placement> {
    let in_location = |h: &crate::state::HardwareReservation| -> bool {
        if let Ok(Some(m)) = body.string("metro") {
            return m == "any" || h.facility.metro == m;
        }
        match facility_list(body) {
            Ok(list) => list.iter().any(|f| f == "any" || f == h.facility.code),
            Err(_) => true,
        }
    };
    let chosen = if hw == "next-available" {
        state
            .hardware_reservations
            .values()
            .filter(|h| h.project_id == project_id && h.plan.slug == plan.slug)
            .filter(|h| in_location(h))
            .find(|h| h.device_id.is_none())
            .ok_or_else(|| ApiError::new(NO_RESERVATION_STATUS, NO_HARDWARE_RESERVATIONS))?
    } else {
        let invalid =
            || ApiError::unprocessable(format!("{hw} is not a valid hardware reservation"));
        if !is_uuid(hw) {
            return Err(invalid());
        }
        let h = state
            .hardware_reservations
            .get(hw)
            .filter(|h| h.project_id == project_id)
            .ok_or_else(invalid)?;
        if h.device_id.is_some() {
            return Err(ApiError::unprocessable(NOT_PROVISIONABLE));
        }
        if h.plan.slug != plan.slug {
            return Err(ApiError::unprocessable(format!(
                "plan {} does not match the hardware reservation's plan {}",
                plan.slug, h.plan.slug
            )));
        }
        if !in_location(h) {
            // The reserved server cannot move: the API refuses instead of placing it
            // somewhere the request did not ask for.
            return Err(ApiError::unprocessable(format!(
                "hardware reservation {hw} is in facility {} (metro {}), not where the request asks; send metro {} or facility {}",
                h.facility.code, h.facility.metro, h.facility.metro, h.facility.code
            )));
        }
        h
    };
    let metro = catalog::metro(chosen.facility.metro).ok_or_else(ApiError::not_found)?;
    Ok(Placement {
        metro,
        facility: chosen.facility,
        hardware_reservation: Some(chosen.id.clone()),
    })
}

/// The capacity error matching the request's form (injected with `Fault::NoCapacity`).
fn no_capacity(body: &Fields<'_>, plan: &str, reserved: bool) -> ApiError {
    if reserved {
        return ApiError::new(NO_RESERVATION_STATUS, NO_HARDWARE_RESERVATIONS);
    }
    if body.has("facility") {
        let first = facility_list(body)
            .ok()
            .and_then(|l| l.into_iter().next())
            .unwrap_or_else(|| "any".to_owned());
        return ApiError::new(
            NO_CAPACITY_STATUS,
            format!(
                "The facility {first} has no provisionable {plan} servers matching your criteria"
            ),
        );
    }
    ApiError::new(NO_CAPACITY_STATUS, NO_SERVERS_IN_METRO)
}

pub(super) fn update(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let id = state.visible_device(request.param(0))?.id.clone();
    let body = Fields::of(request.body.as_ref())?;
    let hostname = body.string("hostname")?;
    if let Some(h) = &hostname {
        check_hostname(h)?;
    }
    let description = body.string("description")?;
    let tags = body.string_list("tags")?;
    let userdata = body.string("userdata")?;
    let customdata = body.object("customdata")?;
    let locked = body.bool("locked")?;
    let billing_cycle = body.string("billing_cycle")?;
    if let Some(b) = &billing_cycle {
        check_billing_cycle(b)?;
    }
    let always_pxe = body.bool("always_pxe")?;
    let ipxe_script_url = body.string("ipxe_script_url")?;
    let spot_instance = body.bool("spot_instance")?;
    let network_frozen = body.bool("network_frozen")?;
    let Some(device) = state.devices.get_mut(&id) else {
        return Err(ApiError::not_found());
    };
    if let Some(v) = hostname {
        device.hostname = v;
    }
    if let Some(v) = description {
        device.description = Some(v);
    }
    if let Some(v) = tags {
        device.tags = v;
    }
    if let Some(v) = userdata {
        device.userdata = v;
    }
    if let Some(v) = customdata {
        device.customdata = v;
    }
    if let Some(v) = locked {
        device.locked = v;
    }
    if let Some(v) = billing_cycle {
        device.billing_cycle = v;
    }
    if let Some(v) = always_pxe {
        device.always_pxe = v;
    }
    if let Some(v) = ipxe_script_url {
        device.ipxe_script_url = Some(v).filter(|s| !s.is_empty());
    }
    if let Some(v) = spot_instance {
        device.spot_instance = v;
    }
    if let Some(v) = network_frozen {
        device.network_frozen = v;
    }
    device.updated_at = request.now;
    let device = state.visible_device(&id)?;
    Ok(Reply::Json(
        200,
        state.device_json(device, &request.include(), request.now),
    ))
}

pub(super) fn delete(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let device = state.visible_device(request.param(0))?;
    let id = device.id.clone();
    let mut force = request.flag("force_delete")?;
    // PACKNGO sent `{"force_delete": true}` as a JSON body on DELETE: accept it too.
    if let Some(Value::Object(map)) = &request.body
        && let Some(v) = map.get("force_delete")
    {
        match v {
            Value::Bool(b) => force |= *b,
            Value::Null => {}
            _ => {
                return Err(ApiError::unprocessable(
                    "force_delete must be true or false",
                ));
            }
        }
    }
    match device.state {
        DeviceState::Deprovisioning => return Ok(Reply::Empty(204)),
        DeviceState::Queued | DeviceState::Provisioning | DeviceState::Reinstalling if !force => {
            return Err(ApiError::unprocessable(DELETE_WHILE_PROVISIONING));
        }
        _ => {}
    }
    if device.locked {
        return Err(ApiError::unprocessable(
            "Cannot delete a locked device: unlock it first with PUT {\"locked\": false}",
        ));
    }
    state.set_state(&id, DeviceState::Deprovisioning, request.now);
    // Elastic IPs are released at once (the block can be reassigned), as are BGP sessions.
    state
        .assignments
        .retain(|_, a| a.device_id != id || a.management);
    state.bgp_sessions.retain(|_, s| s.device_id != id);
    Ok(Reply::Empty(204))
}

pub(super) fn action(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let device = state.visible_device(request.param(0))?;
    let id = device.id.clone();
    let current = device.state;
    let body = Fields::of(request.body.as_ref())?;
    let kind = body.required_string(
        "type",
        "type can't be blank: use power_on, power_off, reboot, rescue or reinstall",
    )?;
    let next = match (kind.as_str(), current) {
        ("power_off", DeviceState::Active) => DeviceState::PoweringOff,
        ("power_on", DeviceState::Inactive) => DeviceState::PoweringOn,
        ("reboot" | "rescue", DeviceState::Active) => DeviceState::Active,
        ("reinstall", DeviceState::Active | DeviceState::Inactive | DeviceState::Failed) => {
            if let Some(os) = body.string("operating_system")? {
                let os = catalog::operating_system(&os).ok_or_else(|| {
                    ApiError::unprocessable(format!("{os} is not a valid operating system"))
                })?;
                if let Some(d) = state.devices.get_mut(&id) {
                    d.os = os;
                }
            }
            DeviceState::Reinstalling
        }
        ("power_off" | "power_on" | "reboot" | "rescue" | "reinstall", state_now) => {
            return Err(ApiError::unprocessable(format!(
                "cannot {kind} a device that is {state_now}"
            )));
        }
        (other, _) => {
            return Err(ApiError::unprocessable(format!(
                "type {other:?} is not one of power_on, power_off, reboot, rescue, reinstall"
            )));
        }
    };
    if next != current {
        state.set_state(&id, next, request.now);
    }
    Ok(Reply::Empty(202))
}

pub(super) fn userdata(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let device = state.visible_device(request.param(0))?;
    Ok(Reply::Json(200, json!({ "userdata": device.userdata })))
}

pub(super) fn customdata(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let device = state.visible_device(request.param(0))?;
    Ok(Reply::Json(200, Value::Object(device.customdata.clone())))
}

pub(super) fn ssh_keys(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let device = state.visible_device(request.param(0))?;
    let keys: Vec<Value> = device
        .ssh_key_ids
        .iter()
        .filter_map(|k| state.ssh_keys.get(k))
        .map(State::ssh_key_json)
        .collect();
    let mut body = Map::new();
    body.insert("ssh_keys".into(), Value::Array(keys));
    Ok(Reply::Json(200, Value::Object(body)))
}
