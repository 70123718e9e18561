//! `findProjects`, `findProjectById`.

use serde_json::Value;

use super::{ApiRequest, Reply, paginate};
use crate::state::{ApiResult, State};

#[allow(
    clippy::unnecessary_wraps,
    reason = "every handler has the routing table's signature"
)]
pub(super) fn list(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let name = request.query("name");
    let items: Vec<Value> = state
        .projects
        .values()
        .filter(|p| p.id == state.project_id)
        .filter(|p| name.is_none_or(|n| p.name == n))
        .map(|p| state.project_json(p))
        .collect();
    let body = paginate(request, items, "projects", "/metal/v1/projects", 10);
    Ok(Reply::Json(200, body))
}

pub(super) fn get(state: &mut State, request: &ApiRequest) -> ApiResult<Reply> {
    let project = state.visible_project(request.param(0))?;
    Ok(Reply::Json(200, state.project_json(project)))
}
