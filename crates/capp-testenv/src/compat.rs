//! The seam between the server and the schema, patch and RBAC modules.
//!
//! Everything the request handlers need from those modules goes through here, so the handlers
//! do not depend on their exact signatures.

use serde_json::Value;

use crate::status::Cause;

/// A compiled CRD version schema.
#[derive(Debug)]
pub(crate) struct CompiledSchema(crate::schema::CrdSchema);

fn causes(fc: Vec<crate::schema::FieldCause>) -> Vec<Cause> {
    fc.into_iter()
        .map(|c| Cause {
            reason: c.reason,
            field: c.field,
            message: c.message,
        })
        .collect()
}

/// Compiles an `openAPIV3Schema` (rejecting non-structural schemas). Cause paths start at
/// `openAPIV3Schema`.
pub(crate) fn compile_schema(schema: &Value) -> Result<CompiledSchema, Vec<Cause>> {
    crate::schema::CrdSchema::compile(schema)
        .map(CompiledSchema)
        .map_err(causes)
}

/// Admits an object: prunes, defaults and validates it. Returns the pruned field paths and
/// the warnings of ratcheted rule failures (unchanged values an update may keep).
pub(crate) fn admit(
    schema: &CompiledSchema,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<crate::schema::Admitted, Vec<Cause>> {
    schema.0.admit(obj, old).map_err(causes)
}

/// Validates a CustomResourceDefinition object itself.
pub(crate) fn validate_crd(crd: &Value) -> Result<(), Vec<Cause>> {
    crate::schema::validate_crd(crd).map_err(causes)
}

/// RFC 6902 JSON patch, as the apiserver applies it (see [`crate::patch::json_patch`]).
pub(crate) fn json_patch(doc: &Value, patch: &Value) -> Result<Value, String> {
    crate::patch::json_patch(doc, patch).map_err(|e| e.to_string())
}

/// RFC 7386 JSON merge patch.
pub(crate) fn merge_patch(doc: &Value, patch: &Value) -> Value {
    crate::patch::merge_patch(doc, patch)
}

/// Strategic merge patch for built-in kinds.
pub(crate) fn strategic_merge_patch(
    doc: &Value,
    patch: &Value,
    api_version: &str,
    kind: &str,
) -> Result<Value, String> {
    crate::patch::strategic_merge_patch(doc, patch, api_version, kind).map_err(|e| e.to_string())
}

/// Why a server-side apply failed.
#[derive(Debug)]
pub(crate) enum ApplyFailure {
    /// Conflicts with other managers: `(manager, field)`, and the full message.
    Conflict(Vec<(String, String)>, String),
    /// The applied configuration is invalid.
    Invalid(String),
}

/// What the patch module needs to know about the resource being written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape<'a> {
    pub(crate) status_subresource: bool,
    pub(crate) schema: Option<&'a Value>,
}

/// Server-side apply.
pub(crate) fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    subresource: Option<&str>,
    now: &str,
    shape: Shape<'_>,
) -> Result<Value, ApplyFailure> {
    let opts = crate::patch::ApplyOptions {
        manager: manager.to_owned(),
        force,
        subresource: subresource.map(str::to_owned),
        status_subresource: shape.status_subresource,
        now: now.to_owned(),
        schema: shape.schema,
    };
    crate::patch::apply(live, applied, &opts).map_err(|e| match e {
        crate::patch::ApplyError::Conflict(ref c) => ApplyFailure::Conflict(
            c.iter()
                .map(|c| (c.manager.clone(), c.field.clone()))
                .collect(),
            e.to_string(),
        ),
        crate::patch::ApplyError::Invalid(m) => ApplyFailure::Invalid(m),
    })
}

/// Records managedFields for a non-apply write.
pub(crate) fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
    schema: Option<&Value>,
) {
    if manager.is_empty() {
        return;
    }
    crate::patch::record_update(old, new, manager, subresource, now, schema);
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
}

fn attributes(action: &Action) -> crate::rbac::Attributes {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    crate::rbac::Attributes {
        verb: action.verb.clone(),
        api_group: action.api_group.clone(),
        resource: action.resource.clone(),
        subresource: opt(&action.subresource),
        namespace: opt(&action.namespace),
        name: opt(&action.name),
        path: None,
    }
}

/// Authorizes a request against the stored RBAC objects.
pub(crate) fn authorize(
    snapshot: &crate::rbac::RbacSnapshot,
    caller: &Caller,
    action: &Action,
) -> bool {
    let user = crate::rbac::UserInfo {
        username: caller.username.clone(),
        groups: caller.groups.clone(),
    };
    crate::rbac::authorize(snapshot, &user, &attributes(action)).is_allowed()
}

/// The 403 Forbidden error for a denied request, worded as the real server words it.
pub(crate) fn forbidden(caller: &Caller, action: &Action) -> crate::status::ApiError {
    let user = crate::rbac::UserInfo {
        username: caller.username.clone(),
        groups: caller.groups.clone(),
    };
    crate::status::ApiError::forbidden(crate::rbac::forbidden_message(&user, &attributes(action)))
        .with_details(&action.api_group, &action.resource, &action.name)
}
