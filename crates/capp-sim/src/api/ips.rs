//! IP reservations and assignments: `findIPReservations`, `requestIPReservation`,
//! `findIPAddressById`, `updateIPAddress`, `deleteIPAddress`, `findIPAssignments`,
//! `createIPAssignment`.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::{Value, json};

use super::input::Fields;
use super::{ApiRequest, Reply, paginate};
use crate::catalog;
use crate::state::{
    ApiError, ApiResult, Block, DeviceState, IpAssignment, IpKind, IpReservation, ParentBlock,
    State,
};

/// Reservations above this many addresses need approval (`fail_on_approval_required`).
const APPROVAL_THRESHOLD: u64 = 8;

pub(super) fn list(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let project_id = state.visible_project(request.param(0))?.id.clone();
    let mut types = request.query_all("types");
    types.extend(request.query_all("type"));
    let include = request.include();
    let mut reservations: Vec<&IpReservation> = state
        .reservations
        .values()
        .filter(|r| r.project_id == project_id)
        .filter(|r| types.is_empty() || types.iter().any(|t| t == r.kind.as_str()))
        .collect();
    reservations.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let items: Vec<Value> = reservations
        .into_iter()
        .map(|r| state.reservation_json(r, &include))
        .collect();
    let base = format!("/metal/v1/projects/{project_id}/ips");
    Ok(Reply::Json(
        200,
        paginate(request, items, "ip_addresses", &base, 250),
    ))
}

pub(super) fn request(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let project_id = state.visible_project(request.param(0))?.id.clone();
    let body = Fields::of(request.body.as_ref())?;
    let kind_raw = body.required_string("type", "type can't be blank")?;
    if kind_raw == "vrf" {
        return Err(ApiError::unprocessable(
            "type vrf (VrfIpReservationCreateInput) is not supported by capp-sim",
        ));
    }
    let kind = IpKind::parse(&kind_raw).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "type must be one of public_ipv4, private_ipv4, global_ipv4, public_ipv6, got {kind_raw:?}"
        ))
    })?;
    let quantity = body
        .u64("quantity")?
        .ok_or_else(|| ApiError::unprocessable("quantity can't be blank"))?;
    let cidr = match kind {
        IpKind::PublicV6 if quantity == 1 => 64,
        IpKind::PublicV6 => {
            return Err(ApiError::unprocessable(
                "quantity must be 1 for public_ipv6 (one /64)",
            ));
        }
        _ if quantity.is_power_of_two() && quantity <= 256 => {
            32 - u8::try_from(quantity.trailing_zeros()).unwrap_or(0)
        }
        _ => {
            return Err(ApiError::unprocessable(format!(
                "quantity must be a power of two between 1 and 256, got {quantity}"
            )));
        }
    };
    let metro = if kind == IpKind::GlobalV4 {
        None
    } else if let Some(code) = body.string("metro")? {
        Some(
            catalog::metro(&code)
                .ok_or_else(|| ApiError::unprocessable(format!("{code} is not a valid metro")))?,
        )
    } else if let Some(code) = body.string("facility")? {
        let facility = catalog::facility(&code)
            .ok_or_else(|| ApiError::unprocessable(format!("{code} is not a valid facility")))?;
        catalog::metro(facility.metro)
    } else {
        return Err(ApiError::unprocessable(
            "Metro can't be blank: send metro (or the deprecated facility) for this type",
        ));
    };
    let tags = body.string_list("tags")?.unwrap_or_default();
    let details = body.string("details")?;
    let customdata = body.object("customdata")?.unwrap_or_default();
    let fail_on_approval = body.bool("fail_on_approval_required")?.unwrap_or(false);
    body.string("comments")?;
    let needs_approval = kind != IpKind::PublicV6 && quantity > APPROVAL_THRESHOLD;
    if needs_approval && fail_on_approval {
        return Err(ApiError::unprocessable(format!(
            "a reservation of {quantity} addresses requires approval and fail_on_approval_required is set"
        )));
    }
    let block = allocate(state, kind, metro.map_or(0, |m| m.index), cidr)?;
    let id = state.new_id();
    let reservation = IpReservation {
        id: id.clone(),
        project_id,
        kind,
        metro,
        block,
        tags,
        details,
        customdata,
        created_at: request.now,
        pending: needs_approval,
    };
    let body = state.reservation_json(&reservation, &request.include());
    state.reservations.insert(id, reservation);
    Ok(Reply::Json(201, body))
}

fn allocate(state: &mut State, kind: IpKind, metro_index: u8, cidr: u8) -> ApiResult<Block> {
    let (family, base, pool): (u8, u128, u128) = match kind {
        IpKind::PublicV4 => (
            4,
            u128::from(u32::from(Ipv4Addr::new(139, 178, 0, 0))) + (u128::from(metro_index) << 12),
            1 << 12,
        ),
        IpKind::PrivateV4 => (
            4,
            u128::from(u32::from(Ipv4Addr::new(10, 200, 0, 0))) + (u128::from(metro_index) << 12),
            1 << 12,
        ),
        IpKind::GlobalV4 => (
            4,
            u128::from(u32::from(Ipv4Addr::new(147, 28, 128, 0))),
            1 << 12,
        ),
        IpKind::PublicV6 => (
            6,
            u128::from(Ipv6Addr::new(0x2604, 0x1380, 0xff00, 0, 0, 0, 0, 0))
                + (u128::from(metro_index) << 72),
            1 << 72,
        ),
    };
    let size = Block {
        family,
        network: 0,
        cidr,
    }
    .size();
    let next = state.pool_counter.entry((metro_index, kind)).or_insert(0);
    let offset = next.div_ceil(size) * size;
    if offset + size > pool {
        return Err(ApiError::unprocessable(format!(
            "no {} addresses left in this metro",
            kind.as_str()
        )));
    }
    *next = offset + size;
    Ok(Block {
        family,
        network: base + offset,
        cidr,
    })
}

pub(super) fn get(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let id = request.param(0);
    if let Some(r) = state.reservations.get(id) {
        state.visible_project(&r.project_id)?;
        return Ok(Reply::Json(
            200,
            state.reservation_json(r, &request.include()),
        ));
    }
    if let Some(a) = state.assignments.get(id) {
        state.visible_device(&a.device_id)?;
        return Ok(Reply::Json(200, State::assignment_json(a)));
    }
    Err(ApiError::not_found())
}

pub(super) fn update(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let id = request.param(0).to_owned();
    let empty = json!({});
    let body = Fields::of(Some(request.body.as_ref().unwrap_or(&empty)))?;
    let details = body.string("details")?;
    let tags = body.string_list("tags")?;
    let customdata = body.object("customdata")?;
    if let Some(project_id) = state.reservations.get(&id).map(|r| r.project_id.clone()) {
        state.visible_project(&project_id)?;
        if let Some(r) = state.reservations.get_mut(&id) {
            if let Some(d) = details {
                r.details = Some(d);
            }
            if let Some(t) = tags {
                r.tags = t;
            }
            if let Some(c) = customdata {
                r.customdata = c;
            }
        }
        let r = state
            .reservations
            .get(&id)
            .ok_or_else(ApiError::not_found)?;
        return Ok(Reply::Json(
            200,
            state.reservation_json(r, &request.include()),
        ));
    }
    if let Some(device_id) = state.assignments.get(&id).map(|a| a.device_id.clone()) {
        state.visible_device(&device_id)?;
        if let (Some(a), Some(c)) = (state.assignments.get_mut(&id), customdata) {
            a.customdata = c;
        }
        let a = state.assignments.get(&id).ok_or_else(ApiError::not_found)?;
        return Ok(Reply::Json(200, State::assignment_json(a)));
    }
    Err(ApiError::not_found())
}

pub(super) fn delete(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let id = request.param(0).to_owned();
    if let Some(r) = state.reservations.get(&id) {
        state.visible_project(&r.project_id)?;
        if state
            .assignments
            .values()
            .any(|a| a.reservation_id.as_deref() == Some(id.as_str()))
        {
            return Err(ApiError::unprocessable(
                "IP reservation has active assignments; unassign them first (DELETE /ips/{assignment id})",
            ));
        }
        state.reservations.remove(&id);
        return Ok(Reply::Empty(204));
    }
    if let Some(a) = state.assignments.get(&id) {
        state.visible_device(&a.device_id)?;
        if a.management {
            return Err(ApiError::unprocessable(
                "a device's management addresses cannot be unassigned",
            ));
        }
        state.assignments.remove(&id);
        return Ok(Reply::Empty(204));
    }
    Err(ApiError::not_found())
}

pub(super) fn device_list(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let device = state.visible_device(request.param(0))?;
    let items: Vec<Value> = state
        .device_assignments(&device.id)
        .map(State::assignment_json)
        .collect();
    Ok(Reply::Json(200, json!({ "ip_addresses": items })))
}

pub(super) fn assign(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let device = state.visible_device(request.param(0))?;
    let device_id = device.id.clone();
    let device_metro = device.metro;
    let project_id = device.project_id.clone();
    if device.state == DeviceState::Deprovisioning {
        return Err(ApiError::unprocessable(
            "cannot assign addresses to a device that is deprovisioning",
        ));
    }
    let body = Fields::of(request.body.as_ref())?;
    let address = body.required_string("address", "address can't be blank")?;
    let customdata = body.object("customdata")?.unwrap_or_default();
    let block = Block::parse(address.trim()).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "address {address:?} is not an IP address or aligned CIDR block (e.g. 139.178.1.4 or 139.178.1.4/30)"
        ))
    })?;
    let reservation = state
        .reservations
        .values()
        .find(|r| r.project_id == project_id && r.block.contains(block))
        .ok_or_else(|| {
            ApiError::unprocessable(format!(
                "{address} is not within an IP reservation of this project"
            ))
        })?;
    if reservation.pending {
        return Err(ApiError::unprocessable(
            "the IP reservation is pending approval and cannot be assigned yet",
        ));
    }
    if let Some(m) = reservation.metro
        && m.code != device_metro.code
    {
        return Err(ApiError::unprocessable(format!(
            "the IP reservation is in metro {} but the device is in metro {}",
            m.code, device_metro.code
        )));
    }
    if state.assignments.values().any(|a| {
        a.reservation_id.as_deref() == Some(reservation.id.as_str()) && a.block.overlaps(block)
    }) {
        return Err(ApiError::unprocessable(format!(
            "{address} is already assigned"
        )));
    }
    let assignment = IpAssignment {
        id: String::new(),
        device_id,
        block,
        public: reservation.kind.public(),
        management: false,
        global: reservation.kind == IpKind::GlobalV4,
        parent: ParentBlock {
            id: reservation.id.clone(),
            block: reservation.block,
        },
        reservation_id: Some(reservation.id.clone()),
        metro: reservation.metro.or(Some(device_metro)),
        created_at: request.now,
        customdata,
    };
    let id = state.new_id();
    let assignment = IpAssignment {
        id: id.clone(),
        ..assignment
    };
    let body = State::assignment_json(&assignment);
    state.assignments.insert(id, assignment);
    Ok(Reply::Json(201, body))
}
