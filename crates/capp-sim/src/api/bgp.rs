//! BGP: `findBgpConfigByProject`, `requestBgpConfig`, `createBgpSession`,
//! `findBgpSessions`, `getBgpNeighborData`, `findBgpSessionById`, `deleteBgpSession`,
//! `findProjectBgpSessions`.

use serde_json::{Value, json};

use super::input::Fields;
use super::{ApiRequest, Reply};
use crate::ids::short_id;
use crate::state::{ApiError, ApiResult, BgpConfig, BgpSession, DeviceState, State};

pub(super) fn config(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let project_id = state.visible_project(request.param(0))?.id.clone();
    Ok(Reply::Json(200, state.bgp_config_json(&project_id)))
}

pub(super) fn request_config(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let project_id = state.visible_project(request.param(0))?.id.clone();
    let body = Fields::of(request.body.as_ref())?;
    let deployment_type = body.required_string(
        "deployment_type",
        "deployment_type can't be blank: use local or global",
    )?;
    if deployment_type != "local" && deployment_type != "global" {
        return Err(ApiError::unprocessable(format!(
            "deployment_type must be local or global, got {deployment_type:?}"
        )));
    }
    let asn = body
        .u64("asn")?
        .ok_or_else(|| ApiError::unprocessable("asn can't be blank"))?;
    if asn > u64::from(u32::MAX) {
        return Err(ApiError::unprocessable(format!(
            "asn must be at most 4294967295, got {asn}"
        )));
    }
    let md5 = body.string("md5")?.filter(|s| !s.is_empty());
    if let Some(m) = &md5 {
        let ok = (10..=20).contains(&m.len())
            && m.bytes().all(|b| b.is_ascii_alphanumeric())
            && m.bytes().any(|b| b.is_ascii_lowercase())
            && m.bytes().any(|b| b.is_ascii_uppercase())
            && m.bytes().any(|b| b.is_ascii_digit());
        if !ok {
            return Err(ApiError::unprocessable(
                "md5 must be 10 to 20 letters and digits with at least one lowercase letter, one uppercase letter and one digit",
            ));
        }
    }
    let use_case = body.string("use_case")?;
    if state
        .bgp_configs
        .get(&project_id)
        .is_some_and(|c| c.status != "disabled")
    {
        return Err(ApiError::unprocessable(
            "this project already has a BGP configuration",
        ));
    }
    let id = state.new_id();
    state.bgp_configs.insert(
        project_id,
        BgpConfig {
            id,
            asn,
            status: if deployment_type == "local" {
                "enabled"
            } else {
                "requested"
            }
            .to_owned(),
            deployment_type,
            md5,
            use_case,
            created_at: request.now,
        },
    );
    Ok(Reply::Empty(204))
}

pub(super) fn create_session(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let device = state.visible_device(request.param(0))?;
    let device_id = device.id.clone();
    let project_id = device.project_id.clone();
    let deprovisioning = device.state == DeviceState::Deprovisioning;
    let body = Fields::of(request.body.as_ref())?;
    let family = body.required_string(
        "address_family",
        "address_family can't be blank: use ipv4 or ipv6",
    )?;
    if family != "ipv4" && family != "ipv6" {
        return Err(ApiError::unprocessable(format!(
            "address_family must be ipv4 or ipv6, got {family:?}"
        )));
    }
    let default_route = body.bool("default_route")?.unwrap_or(false);
    if deprovisioning {
        return Err(ApiError::unprocessable(
            "cannot create a BGP session on a device that is deprovisioning",
        ));
    }
    if !state.bgp_enabled(&project_id) {
        return Err(ApiError::unprocessable(
            "BGP is not enabled for this project; request it with POST /projects/{id}/bgp-configs",
        ));
    }
    if state
        .bgp_sessions
        .values()
        .any(|s| s.device_id == device_id && s.family == family)
    {
        // CAPP and CPEM recognise this 422 by "already has session".
        return Err(ApiError::unprocessable(format!(
            "Device {} already has session for address family {family}",
            short_id(&device_id)
        )));
    }
    let id = state.new_id();
    let session = BgpSession {
        id: id.clone(),
        device_id,
        family,
        default_route,
        created_at: request.now,
    };
    let body = state.bgp_session_json(&session);
    state.bgp_sessions.insert(id, session);
    Ok(Reply::Json(201, body))
}

fn sessions_where(state: &State, keep: impl Fn(&BgpSession) -> bool) -> Value {
    let mut sessions: Vec<&BgpSession> = state.bgp_sessions.values().filter(|s| keep(s)).collect();
    sessions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let list: Vec<Value> = sessions
        .into_iter()
        .map(|s| state.bgp_session_json(s))
        .collect();
    json!({ "bgp_sessions": list })
}

pub(super) fn device_sessions(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let device_id = state.visible_device(request.param(0))?.id.clone();
    Ok(Reply::Json(
        200,
        sessions_where(state, |s| s.device_id == device_id),
    ))
}

pub(super) fn project_sessions(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let project_id = state.visible_project(request.param(0))?.id.clone();
    let body = sessions_where(state, |s| {
        state
            .devices
            .get(&s.device_id)
            .is_some_and(|d| d.project_id == project_id)
    });
    Ok(Reply::Json(200, body))
}

pub(super) fn neighbors(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let device_id = state.visible_device(request.param(0))?.id.clone();
    Ok(Reply::Json(
        200,
        json!({ "bgp_neighbors": state.bgp_neighbors(&device_id) }),
    ))
}

pub(super) fn get_session(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let session = state
        .bgp_sessions
        .get(request.param(0))
        .ok_or_else(ApiError::not_found)?;
    state.visible_device(&session.device_id)?;
    Ok(Reply::Json(200, state.bgp_session_json(session)))
}

pub(super) fn delete_session(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let session = state
        .bgp_sessions
        .get(request.param(0))
        .ok_or_else(ApiError::not_found)?;
    state.visible_device(&session.device_id)?;
    let id = session.id.clone();
    state.bgp_sessions.remove(&id);
    Ok(Reply::Empty(204))
}
