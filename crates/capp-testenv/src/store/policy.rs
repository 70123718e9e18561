//! ValidatingAdmissionPolicy (`admissionregistration.k8s.io/v1`): the stored policies and
//! their bindings are enforced on creates and updates with the CEL engine of the schema
//! module, as `k8s.io/apiserver/pkg/admission/plugin/policy/validating` does for policies
//! without `paramKind`.
//!
//! Emulated: `matchConstraints` (`resourceRules`, `excludeResourceRules`, `namespaceSelector`,
//! `objectSelector`) and a binding's `matchResources`, `matchConditions`, `validations` with
//! `message`/`messageExpression`/`reason`, `failurePolicy`, `validationActions` `Deny` and
//! `Warn`, and the variables `object`, `oldObject`, `request` (with `dryRun` and `userInfo`)
//! and `namespaceObject`. Not emulated: `paramKind`/`paramRef`, `variables`, `auditAnnotations`,
//! type checking of expressions (`status.typeChecking`), DELETE and CONNECT operations.

use serde_json::{Value, json};

use super::{State, WriteOpts};
use crate::rbac::selector_matches;
use crate::registry::ResourceDef;
use crate::status::ApiError;

const GROUP: &str = "admissionregistration.k8s.io";

/// Whether a `metav1.LabelSelector` matches; an absent or empty selector matches everything.
fn selects(selector: &Value, labels: &Value) -> bool {
    let empty = selector.as_object().is_none_or(|m| {
        m.values().all(|v| {
            v.as_object().is_some_and(serde_json::Map::is_empty)
                || v.as_array().is_some_and(Vec::is_empty)
                || v.is_null()
        })
    });
    empty || selector_matches(selector, Some(labels))
}

fn contains(list: &Value, value: &str) -> bool {
    list.as_array()
        .into_iter()
        .flatten()
        .any(|v| v == "*" || v == value)
}

/// `NamedRuleWithOperations` matching (`matching.Matcher`).
fn rule_matches(rule: &Value, op: &str, def: &ResourceDef, sub: Option<&str>) -> bool {
    let resource = match sub {
        Some(s) => format!("{}/{s}", def.plural),
        None => def.plural.clone(),
    };
    let resource_ok = rule["resources"].as_array().into_iter().flatten().any(|r| {
        let r = r.as_str().unwrap_or_default();
        match sub {
            None => r == "*" || r == def.plural,
            Some(s) => {
                r == "*/*"
                    || r == resource
                    || r == format!("{}/*", def.plural)
                    || r == format!("*/{s}")
            }
        }
    });
    contains(&rule["operations"], op)
        && contains(&rule["apiGroups"], &def.group)
        && contains(&rule["apiVersions"], &def.version)
        && resource_ok
}

/// What a policy sees of the request being admitted.
pub(super) struct Request<'a> {
    pub(super) def: &'a ResourceDef,
    pub(super) namespace: &'a str,
    pub(super) subresource: Option<&'a str>,
    pub(super) object: &'a Value,
    pub(super) old: Option<&'a Value>,
    pub(super) opts: &'a WriteOpts,
}

impl State {
    /// Evaluates every bound policy matching the request; a denial is the error the real
    /// server returns, `Warn` actions become warnings.
    pub(super) fn validate_policies(&self, req: &Request<'_>) -> Result<Vec<String>, ApiError> {
        let mut warnings = Vec::new();
        let bindings: Vec<&Value> = self
            .objects_of(GROUP, "validatingadmissionpolicybindings", None)
            .map(|(_, v)| v)
            .collect();
        if bindings.is_empty() {
            return Ok(warnings);
        }
        let op = if req.old.is_some() {
            "UPDATE"
        } else {
            "CREATE"
        };
        let labels = &req.object["metadata"]["labels"];
        let namespace_object = if req.def.namespaced {
            self.objects_of("", "namespaces", None)
                .find(|(k, _)| k.name == req.namespace)
                .map_or(Value::Null, |(_, v)| v.clone())
        } else {
            Value::Null
        };
        let in_scope = |resources: &Value| {
            let rules_ok = resources["resourceRules"].as_array().is_none_or(|rules| {
                rules
                    .iter()
                    .any(|r| rule_matches(r, op, req.def, req.subresource))
            });
            let excluded = resources["excludeResourceRules"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| rule_matches(r, op, req.def, req.subresource));
            let ns_ok = !req.def.namespaced
                || selects(
                    &resources["namespaceSelector"],
                    &namespace_object["metadata"]["labels"],
                );
            rules_ok && !excluded && ns_ok && selects(&resources["objectSelector"], labels)
        };
        let request = request_json(req, op);
        let old = req.old.cloned().unwrap_or(Value::Null);
        let vars: [(&str, &Value); 4] = [
            ("object", req.object),
            ("oldObject", &old),
            ("request", &request),
            ("namespaceObject", &namespace_object),
        ];
        for binding in bindings {
            let spec = &binding["spec"];
            let Some(policy) = self
                .objects_of(GROUP, "validatingadmissionpolicies", None)
                .map(|(_, v)| v)
                .find(|p| p["metadata"]["name"] == spec["policyName"])
            else {
                continue;
            };
            let pspec = &policy["spec"];
            if !pspec["paramKind"].is_null()
                || !in_scope(&pspec["matchConstraints"])
                || (spec["matchResources"].is_object() && !in_scope(&spec["matchResources"]))
            {
                continue;
            }
            let actions: Vec<&str> = spec["validationActions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let fail_closed = pspec["failurePolicy"].as_str() != Some("Ignore");
            let names = (
                policy["metadata"]["name"].as_str().unwrap_or_default(),
                binding["metadata"]["name"].as_str().unwrap_or_default(),
            );
            let Some(verdict) = self.evaluate(pspec, &vars, fail_closed) else {
                continue;
            };
            let message = format!(
                "ValidatingAdmissionPolicy '{}' with binding '{}' denied request: {}",
                names.0, names.1, verdict.message
            );
            if actions.contains(&"Warn") {
                warnings.push(message.clone());
            }
            if actions.contains(&"Deny") {
                return Err(denial(&verdict.reason, message));
            }
        }
        Ok(warnings)
    }

    /// The first failed validation of a policy (`matchConditions` gate them), or `None`.
    fn evaluate(
        &self,
        spec: &Value,
        vars: &[(&str, &Value)],
        fail_closed: bool,
    ) -> Option<Verdict> {
        let cel = &self.policy_cel;
        let run = |expr: &str| -> Result<bool, String> {
            let program = cel.compile_expression(expr)?;
            match cel.eval(&program, vars)? {
                cel::Value::Bool(b) => Ok(b),
                other => Err(format!("expression must evaluate to bool, got {other:?}")),
            }
        };
        for cond in spec["matchConditions"].as_array().into_iter().flatten() {
            let expr = cond["expression"].as_str().unwrap_or_default();
            match run(expr) {
                Ok(true) => {}
                Err(e) if fail_closed => {
                    return Some(Verdict {
                        reason: String::new(),
                        message: format!(
                            "failed to evaluate match condition {:?}: {e}",
                            cond["name"].as_str().unwrap_or_default()
                        ),
                    });
                }
                Ok(false) | Err(_) => return None,
            }
        }
        for validation in spec["validations"].as_array().into_iter().flatten() {
            let expr = validation["expression"].as_str().unwrap_or_default();
            let reason = validation["reason"].as_str().unwrap_or_default().to_owned();
            match run(expr) {
                Ok(false) => {
                    let from_expression = validation["messageExpression"]
                        .as_str()
                        .and_then(|m| cel.compile_expression(m).ok())
                        .and_then(|p| match cel.eval(&p, vars) {
                            Ok(cel::Value::String(s)) if !s.trim().is_empty() => {
                                Some(s.trim().to_owned())
                            }
                            _ => None,
                        });
                    let message = from_expression
                        .or_else(|| validation["message"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| format!("failed expression: {expr}"));
                    return Some(Verdict { reason, message });
                }
                Err(e) if fail_closed => {
                    return Some(Verdict {
                        reason,
                        message: format!("expression '{expr}' resulted in error: {e}"),
                    });
                }
                Ok(true) | Err(_) => {}
            }
        }
        None
    }
}

/// The `request` variable: the admission request's attributes.
fn request_json(req: &Request<'_>, op: &str) -> Value {
    let user = req.opts.user.as_ref();
    json!({
        "operation": op,
        "dryRun": req.opts.dry_run,
        "name": req.object["metadata"]["name"],
        "namespace": req.namespace,
        "kind": {"group": req.def.group, "version": req.def.version, "kind": req.def.kind},
        "resource": {"group": req.def.group, "version": req.def.version, "resource": req.def.plural},
        "subResource": req.subresource.unwrap_or_default(),
        "userInfo": {
            "username": user.map(|u| u.username.as_str()).unwrap_or_default(),
            "groups": user.map(|u| u.groups.clone()).unwrap_or_default(),
        },
    })
}

/// A failed validation: its `reason` and message.
struct Verdict {
    reason: String,
    message: String,
}

/// The status of a denial: the validation's `reason` picks the code (`Invalid` by default).
fn denial(reason: &str, message: String) -> ApiError {
    match reason {
        "Forbidden" => ApiError::new(403, "Forbidden", message),
        "Unauthorized" => ApiError::new(401, "Unauthorized", message),
        "RequestEntityTooLarge" => ApiError::new(413, "RequestEntityTooLarge", message),
        _ => ApiError::new(422, "Invalid", message),
    }
}
