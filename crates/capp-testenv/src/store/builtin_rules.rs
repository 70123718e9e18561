//! Type-specific validation of built-in kinds that the `k8s_openapi` decoding cannot express:
//! the rules of `pkg/apis/core/validation` for ConfigMaps and Secrets (config keys,
//! `immutable`) and of `pkg/apis/rbac/validation` for bindings (`roleRef` is immutable).

use serde_json::Value;

use super::State;
use crate::names;
use crate::registry::ResourceDef;
use crate::status::{ApiError, Cause, cause};

/// `field.Forbidden` detail of `ValidateImmutableConfigMap` and `ValidateSecretUpdate`.
const IMMUTABLE: &str = "Forbidden: field is immutable when `immutable` is set";

impl State {
    /// Validates a built-in object being created (`old` is `None`) or updated; a 422 with
    /// the real server's causes when it breaks a rule.
    pub(super) fn validate_builtin(
        def: &ResourceDef,
        obj: &Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        if def.crd.is_some() {
            return Ok(());
        }
        let causes = match (def.group.as_str(), def.plural.as_str()) {
            ("", "configmaps") => config_map(obj, old),
            ("", "secrets") => secret(obj, old),
            ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
                binding(obj, old)
            }
            (
                "admissionregistration.k8s.io",
                "validatingwebhookconfigurations" | "mutatingwebhookconfigurations",
            ) => webhooks(obj),
            _ => Vec::new(),
        };
        if causes.is_empty() {
            return Ok(());
        }
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        Err(ApiError::invalid(&def.kind, &def.group, name, causes))
    }
}

/// `IsConfigMapKey` for every key of the map at `field`.
fn config_keys(obj: &Value, field: &str, causes: &mut Vec<Cause>) {
    for key in obj[field].as_object().into_iter().flat_map(|m| m.keys()) {
        for msg in names::config_map_key(key) {
            causes.push(cause(
                "FieldValueInvalid",
                &format!("{field}[{key}]"),
                format!("Invalid value: \"{key}\": {msg}"),
            ));
        }
    }
}

fn is_immutable(obj: &Value) -> bool {
    obj["immutable"].as_bool() == Some(true)
}

/// A forbidden change of each of `fields` of an object that was `immutable: true`.
fn immutable_fields(obj: &Value, old: Option<&Value>, fields: &[&str], causes: &mut Vec<Cause>) {
    let Some(old) = old.filter(|o| is_immutable(o)) else {
        return;
    };
    if !is_immutable(obj) {
        causes.push(cause("FieldValueForbidden", "immutable", IMMUTABLE));
    }
    for f in fields {
        if obj[*f] != old[*f] {
            causes.push(cause("FieldValueForbidden", f, IMMUTABLE));
        }
    }
}

/// `ValidateConfigMap` and `ValidateConfigMapUpdate`.
fn config_map(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    immutable_fields(obj, old, &["data", "binaryData"], &mut causes);
    config_keys(obj, "data", &mut causes);
    config_keys(obj, "binaryData", &mut causes);
    for key in obj["binaryData"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
    {
        if obj["data"].get(key).is_some() {
            causes.push(cause(
                "FieldValueInvalid",
                &format!("binaryData[{key}]"),
                format!("Invalid value: \"{key}\": duplicate of key present in data"),
            ));
        }
    }
    causes
}

/// `ValidateSecret` and `ValidateSecretUpdate` (`stringData` is already merged into `data`).
fn secret(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(old) = old
        && obj["type"] != old["type"]
    {
        causes.push(cause(
            "FieldValueInvalid",
            "type",
            format!("Invalid value: {}: field is immutable", obj["type"]),
        ));
    }
    immutable_fields(obj, old, &["data"], &mut causes);
    config_keys(obj, "data", &mut causes);
    causes
}

/// `ValidateRoleBindingUpdate` and `ValidateClusterRoleBindingUpdate`.
fn binding(obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let Some(old) = old else {
        return Vec::new();
    };
    let role_ref = &obj["roleRef"];
    if *role_ref == old["roleRef"] {
        return Vec::new();
    }
    let s = |f: &str| role_ref[f].as_str().unwrap_or_default().to_owned();
    vec![cause(
        "FieldValueInvalid",
        "roleRef",
        format!(
            "Invalid value: rbac.RoleRef{{APIGroup:{:?}, Kind:{:?}, Name:{:?}}}: cannot change roleRef",
            s("apiGroup"),
            s("kind"),
            s("name")
        ),
    )]
}

/// Refuses webhook configurations with webhooks: a real server would call each of them on
/// every matching request (and, with the default `failurePolicy: Fail`, refuse the request when
/// the call fails); capp-testenv never calls them, so accepting one would be a false pass.
fn webhooks(obj: &Value) -> Vec<Cause> {
    obj["webhooks"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, w)| {
            cause(
                "FieldValueForbidden",
                &format!("webhooks[{i}]"),
                format!(
                    "Forbidden: capp-testenv does not call admission webhooks, so webhook {:?} would never run; test admission webhooks against a real kube-apiserver, or use a ValidatingAdmissionPolicy or CRD validation rules",
                    w["name"].as_str().unwrap_or_default()
                ),
            )
        })
        .collect()
}
