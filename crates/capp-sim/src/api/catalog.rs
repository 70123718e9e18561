//! Catalogue and project resources: metros, facilities, plans, operating systems,
//! hardware reservations and SSH keys.

// Every handler has the router's signature, fallible or not.
#![allow(
    clippy::unnecessary_wraps,
    reason = "handlers share the router's fn signature"
)]

use serde_json::{Value, json};

use super::input::Fields;
use super::{ApiRequest, Reply, paginate};
use crate::catalog::{self as cat};
use crate::state::{ApiError, ApiResult, HardwareReservation, KeyOwner, SshKey, State};

pub(super) fn metros(_state: &mut State, _request: &ApiRequest) -> ApiResult<Reply> {
    let list: Vec<Value> = cat::METROS.iter().map(cat::Metro::to_json).collect();
    Ok(Reply::Json(200, json!({ "metros": list })))
}

pub(super) fn metro(_state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let metro = cat::metro(request.param(0)).ok_or_else(ApiError::not_found)?;
    Ok(Reply::Json(200, metro.to_json()))
}

pub(super) fn facilities(_state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    // The spec's default is `exclude=address`; `include=address` brings it back.
    let with_address = request.query_all("include").iter().any(|i| i == "address")
        && !request.query_all("exclude").iter().any(|e| e == "address");
    let list: Vec<Value> = cat::FACILITIES
        .iter()
        .map(|f| {
            if with_address {
                f.to_json_with_address()
            } else {
                f.to_json()
            }
        })
        .collect();
    Ok(Reply::Json(200, json!({ "facilities": list })))
}

fn plan_list(request: &ApiRequest) -> Vec<Value> {
    let slug = request.query("slug");
    let kind = request.query("type");
    let categories = request.query_all("categories");
    cat::PLANS
        .iter()
        .filter(|p| slug.is_none_or(|s| p.slug == s))
        .filter(|_| kind.is_none_or(|k| k == "standard"))
        .filter(|_| {
            categories.is_empty()
                || categories
                    .iter()
                    .any(|c| c == "compute" || c == "current_gen")
        })
        .map(cat::Plan::to_json)
        .collect()
}

pub(super) fn plans(_state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    Ok(Reply::Json(200, json!({ "plans": plan_list(request) })))
}

pub(super) fn project_plans(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    state.visible_project(request.param(0))?;
    Ok(Reply::Json(200, json!({ "plans": plan_list(request) })))
}

pub(super) fn operating_systems(_state: &mut State, _request: &ApiRequest) -> ApiResult<Reply> {
    let list: Vec<Value> = cat::OPERATING_SYSTEMS
        .iter()
        .map(cat::OperatingSystem::to_json)
        .collect();
    Ok(Reply::Json(200, json!({ "operating_systems": list })))
}

pub(super) fn hardware_reservations(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let project_id = state.visible_project(request.param(0))?.id.clone();
    let only_provisionable = match request.query("provisionable") {
        None => false,
        Some("only") => true,
        Some(other) => {
            return Err(ApiError::unprocessable(format!(
                "provisionable must be \"only\", got {other:?}"
            )));
        }
    };
    let wanted_state = request.query("state");
    if let Some(s) = wanted_state
        && !["active", "spare", "need_of_service"].contains(&s)
    {
        return Err(ApiError::unprocessable(format!(
            "state must be active, spare or need_of_service, got {s:?}"
        )));
    }
    let query = request.query("query");
    let mut list: Vec<&HardwareReservation> = state
        .hardware_reservations
        .values()
        .filter(|h| h.project_id == project_id)
        .filter(|h| !only_provisionable || h.device_id.is_none())
        .filter(|_| wanted_state.is_none_or(|s| s == "active"))
        .filter(|h| {
            query.is_none_or(|q| {
                h.id.contains(q) || h.plan.slug.contains(q) || h.facility.code.contains(q)
            })
        })
        .collect();
    list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let items: Vec<Value> = list
        .into_iter()
        .map(State::hardware_reservation_json)
        .collect();
    let base = format!("/metal/v1/projects/{project_id}/hardware-reservations");
    Ok(Reply::Json(
        200,
        paginate(request, items, "hardware_reservations", &base, 10),
    ))
}

pub(super) fn hardware_reservation(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let h = state
        .hardware_reservations
        .get(request.param(0))
        .ok_or_else(ApiError::not_found)?;
    state.visible_project(&h.project_id)?;
    Ok(Reply::Json(200, State::hardware_reservation_json(h)))
}

fn keys_json<'a>(keys: impl Iterator<Item = &'a SshKey>) -> Value {
    let mut list: Vec<&SshKey> = keys.collect();
    list.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let list: Vec<Value> = list.into_iter().map(State::ssh_key_json).collect();
    json!({ "ssh_keys": list })
}

pub(super) fn project_ssh_keys(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let project_id = state.visible_project(request.param(0))?.id.clone();
    let query = request.query("query");
    let body = keys_json(
        state
            .ssh_keys
            .values()
            .filter(|k| k.owner.is_project(&project_id))
            .filter(|k| query.is_none_or(|q| k.label.contains(q) || k.key.contains(q))),
    );
    Ok(Reply::Json(200, body))
}

pub(super) fn ssh_keys(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let search = request.query("search");
    let project_id = state.project_id.clone();
    let user = KeyOwner::User(state.user_id.clone());
    // The token's own keys and those of the project it sees.
    let body = keys_json(
        state
            .ssh_keys
            .values()
            .filter(|k| k.owner.is_project(&project_id) || k.owner == user)
            .filter(|k| search.is_none_or(|q| k.label.contains(q) || k.key.contains(q))),
    );
    Ok(Reply::Json(200, body))
}

pub(super) fn create_project_ssh_key(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let project_id = state.visible_project(request.param(0))?.id.clone();
    let body = Fields::of(request.body.as_ref())?;
    let label = body.required_string("label", "Label can't be blank")?;
    let key = body.required_string("key", "Key can't be blank")?;
    let tags = body.string_list("tags")?.unwrap_or_default();
    body.string_list("instances_ids")?;
    let id = state.add_ssh_key(KeyOwner::Project(project_id), label, key, tags, request.now)?;
    let ssh_key = state.ssh_keys.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(Reply::Json(201, State::ssh_key_json(ssh_key)))
}

fn visible_key<'a>(state: &'a State, id: &str) -> ApiResult<&'a SshKey> {
    let key = state.ssh_keys.get(id).ok_or_else(ApiError::not_found)?;
    let user = KeyOwner::User(state.user_id.clone());
    if !(key.owner.is_project(&state.project_id) || key.owner == user) {
        return Err(ApiError::new(
            403,
            "You are not authorized to view this SSH key",
        ));
    }
    Ok(key)
}

pub(super) fn ssh_key(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let key = visible_key(state, request.param(0))?;
    Ok(Reply::Json(200, State::ssh_key_json(key)))
}

pub(super) fn delete_ssh_key(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let id = visible_key(state, request.param(0))?.id.clone();
    state.ssh_keys.remove(&id);
    for device in state.devices.values_mut() {
        device.ssh_key_ids.retain(|k| *k != id);
    }
    Ok(Reply::Empty(204))
}
