//! The RBAC escalation check on writes of roles and bindings
//! (`k8s.io/kubernetes/pkg/registry/rbac/validation.ConfirmNoEscalation` and
//! `BindingAuthorized`): a user may only grant permissions they hold, unless they may
//! `escalate` (roles) or `bind` (bindings).

use serde_json::Value;

use super::{
    Attributes, RbacSnapshot, authorize, cluster_role_rules, name_of, namespace_of, rules_of,
    strings,
};
use crate::identity::Identity;

/// The rules of the role a binding's `roleRef` names, or `None` when that role does not exist
/// (`DefaultRuleResolver.GetRoleReferenceRules`).
pub(crate) fn role_ref_rules(
    snapshot: &RbacSnapshot,
    role_ref: &Value,
    namespace: &str,
) -> Option<Vec<Value>> {
    let name = role_ref["name"].as_str().unwrap_or_default();
    match role_ref["kind"].as_str() {
        Some("ClusterRole") => snapshot
            .cluster_roles
            .iter()
            .any(|r| name_of(r) == Some(name))
            .then(|| {
                cluster_role_rules(snapshot, name)
                    .into_iter()
                    .cloned()
                    .collect()
            }),
        Some("Role") => snapshot
            .roles
            .iter()
            .find(|r| name_of(r) == Some(name) && namespace_of(r) == Some(namespace))
            .map(|r| rules_of(r).cloned().collect()),
        _ => None,
    }
}

/// The rules of `rules` that `user` does not hold in `namespace` (empty: cluster-wide), each
/// rendered as the real server lists them (`{APIGroups:[""], Resources:["secrets"],
/// Verbs:["get"]}`). Every combination of verb, group, resource and name of a rule must be
/// allowed (`Covers`); a `*` in the requested rule is only held through a `*`.
pub(crate) fn uncovered(
    snapshot: &RbacSnapshot,
    user: &Identity,
    rules: &[Value],
    namespace: &str,
) -> Vec<String> {
    let mut missing = Vec::new();
    for rule in rules {
        let verbs: Vec<&str> = strings(rule, "verbs").collect();
        let urls: Vec<&str> = strings(rule, "nonResourceURLs").collect();
        let mut names: Vec<&str> = strings(rule, "resourceNames").collect();
        if names.is_empty() {
            names.push("");
        }
        for verb in &verbs {
            for url in &urls {
                let attrs = Attributes {
                    verb: (*verb).to_owned(),
                    path: Some((*url).to_owned()),
                    ..Attributes::default()
                };
                if !authorize(snapshot, user, &attrs).is_allowed() {
                    missing.push(format!("{{NonResourceURLs:[{url:?}], Verbs:[{verb:?}]}}"));
                }
            }
            for group in strings(rule, "apiGroups") {
                for resource in strings(rule, "resources") {
                    let (resource, sub) = resource.split_once('/').unwrap_or((resource, ""));
                    for name in &names {
                        let attrs =
                            Attributes::resource(verb, group, resource, sub, namespace, name);
                        if authorize(snapshot, user, &attrs).is_allowed() {
                            continue;
                        }
                        let full = if sub.is_empty() {
                            resource.to_owned()
                        } else {
                            format!("{resource}/{sub}")
                        };
                        let names = if name.is_empty() {
                            String::new()
                        } else {
                            format!(", ResourceNames:[{name:?}]")
                        };
                        missing.push(format!(
                            "{{APIGroups:[{group:?}], Resources:[{full:?}]{names}, Verbs:[{verb:?}]}}"
                        ));
                    }
                }
            }
        }
    }
    missing
}

/// The message of a refused escalation (`ConfirmNoEscalation`).
pub(crate) fn escalation_message(user: &Identity, missing: &[String]) -> String {
    format!(
        "user {:?} (groups={:?}) is attempting to grant RBAC permissions not currently held:\n{}",
        user.username,
        user.groups,
        missing.join("\n")
    )
}
