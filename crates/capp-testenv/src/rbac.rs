//! RBAC authorisation, as kube-apiserver's RBAC authorizer decides it.
//!
//! The server gathers the stored Roles, ClusterRoles, RoleBindings and ClusterRoleBindings into
//! an [`RbacSnapshot`] and asks [`authorize`] whether a caller may perform a request. The rules
//! follow `k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac`:
//!
//! - ClusterRoleBindings grant their ClusterRole's rules everywhere; RoleBindings grant the rules
//!   of their Role (same namespace) or ClusterRole only inside the binding's namespace.
//! - Subjects match by `User` name, `Group` name, or `ServiceAccount` (the username
//!   `system:serviceaccount:<namespace>:<name>`; an empty subject namespace means the binding's).
//! - A rule matches when its verbs, API groups, resources (`resource`, `resource/subresource`,
//!   `*`, `*/subresource`) and, when set, resource names match. Non-resource URLs (`/healthz`,
//!   `/api/*`) are only granted through ClusterRoleBindings.
//! - ClusterRoles with an `aggregationRule` get the rules of every ClusterRole whose labels match
//!   one of its selectors, as the aggregation controller would have written them.
//! - Members of `system:masters` are always allowed (as the real server's superuser group).
//!
//! - Writes of roles and bindings pass the escalation check ([`escalation`]): creating or
//!   replacing one that grants more than the writer holds is refused unless the writer may
//!   `escalate` (roles) or `bind` (bindings).

use std::fmt::Write as _;

use serde_json::Value;

mod escalation;

pub(crate) use escalation::{escalation_message, role_ref_rules, uncovered};

use crate::identity::{Identity, SYSTEM_MASTERS};

/// What a request wants to do.
///
/// For resource requests `resource` is set and `path` is empty; for non-resource requests
/// (`/version`, `/healthz`, discovery) `path` is set and `resource` is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Attributes {
    /// The RBAC verb: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`, or any custom verb.
    pub verb: String,
    /// The API group, empty for the core group.
    pub api_group: String,
    /// The plural resource name, e.g. `secrets`.
    pub resource: String,
    /// The subresource, e.g. `status`, if any.
    pub subresource: Option<String>,
    /// The namespace of a namespaced request.
    pub namespace: Option<String>,
    /// The object name, when the request names one.
    pub name: Option<String>,
    /// The URL path of a non-resource request.
    pub path: Option<String>,
}

impl Attributes {
    /// The attributes of a resource request; empty `subresource`, `namespace` and `name` mean
    /// none (as in a `SubjectAccessReview`'s `resourceAttributes`).
    pub(crate) fn resource(
        verb: &str,
        api_group: &str,
        resource: &str,
        subresource: &str,
        namespace: &str,
        name: &str,
    ) -> Self {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Self {
            verb: verb.to_owned(),
            api_group: api_group.to_owned(),
            resource: resource.to_owned(),
            subresource: opt(subresource),
            namespace: opt(namespace),
            name: opt(name),
            path: None,
        }
    }
}

/// The stored RBAC objects, as JSON (the shape the API server stores).
#[derive(Clone, Debug, Default)]
pub(crate) struct RbacSnapshot {
    /// `rbac.authorization.k8s.io/v1` Role objects.
    pub roles: Vec<Value>,
    /// `rbac.authorization.k8s.io/v1` ClusterRole objects.
    pub cluster_roles: Vec<Value>,
    /// `rbac.authorization.k8s.io/v1` RoleBinding objects.
    pub role_bindings: Vec<Value>,
    /// `rbac.authorization.k8s.io/v1` ClusterRoleBinding objects.
    pub cluster_role_bindings: Vec<Value>,
}

/// The outcome of [`authorize`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The request is allowed; the string says by what (for audit-style logs).
    Allow(String),
    /// The request is denied; the string is the `Forbidden` message the real server returns.
    Deny(String),
}

impl Decision {
    /// Whether the request is allowed.
    #[must_use]
    pub(crate) fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow(_))
    }
}

/// Decides whether `user` may perform `attrs` under the RBAC objects in `snapshot`.
#[must_use]
pub(crate) fn authorize(snapshot: &RbacSnapshot, user: &Identity, attrs: &Attributes) -> Decision {
    if user.is_superuser() {
        return Decision::Allow(format!("member of {SYSTEM_MASTERS}"));
    }
    for binding in &snapshot.cluster_role_bindings {
        if !binds(binding, user, None) {
            continue;
        }
        let Some(role) = role_ref(binding).filter(|r| r.kind == "ClusterRole") else {
            continue;
        };
        if cluster_role_rules(snapshot, role.name)
            .into_iter()
            .any(|rule| rule_allows(rule, attrs, true))
        {
            return Decision::Allow(format!(
                "ClusterRoleBinding {:?} of ClusterRole {:?}",
                name_of(binding),
                role.name
            ));
        }
    }
    if let Some(ns) = attrs.namespace.as_deref().filter(|_| attrs.path.is_none()) {
        for binding in snapshot
            .role_bindings
            .iter()
            .filter(|b| namespace_of(b) == Some(ns))
        {
            if !binds(binding, user, Some(ns)) {
                continue;
            }
            let Some(role) = role_ref(binding) else {
                continue;
            };
            let rules = match role.kind {
                "ClusterRole" => cluster_role_rules(snapshot, role.name),
                "Role" => snapshot
                    .roles
                    .iter()
                    .filter(|r| namespace_of(r) == Some(ns) && name_of(r) == Some(role.name))
                    .flat_map(rules_of)
                    .collect(),
                _ => continue,
            };
            if rules
                .into_iter()
                .any(|rule| rule_allows(rule, attrs, false))
            {
                return Decision::Allow(format!(
                    "RoleBinding {:?} of {} {:?} in namespace {ns:?}",
                    name_of(binding),
                    role.kind,
                    role.name
                ));
            }
        }
    }
    Decision::Deny(forbidden_message(user, attrs))
}

/// The rules that apply to `user` in `namespace` (cluster-wide bindings, plus the namespace's
/// RoleBindings when one is given), as a `SelfSubjectRulesReview` reports them: resource rules
/// and non-resource rules, each a rule object of the bound roles.
#[must_use]
pub(crate) fn rules_for(
    snapshot: &RbacSnapshot,
    user: &Identity,
    namespace: Option<&str>,
) -> (Vec<Value>, Vec<Value>) {
    let mut rules: Vec<&Value> = Vec::new();
    for binding in &snapshot.cluster_role_bindings {
        if binds(binding, user, None)
            && let Some(role) = role_ref(binding).filter(|r| r.kind == "ClusterRole")
        {
            rules.extend(cluster_role_rules(snapshot, role.name));
        }
    }
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        for binding in snapshot
            .role_bindings
            .iter()
            .filter(|b| namespace_of(b) == Some(ns) && binds(b, user, Some(ns)))
        {
            match role_ref(binding) {
                Some(RoleRef {
                    kind: "ClusterRole",
                    name,
                }) => rules.extend(cluster_role_rules(snapshot, name)),
                Some(RoleRef { kind: "Role", name }) => rules.extend(
                    snapshot
                        .roles
                        .iter()
                        .filter(|r| namespace_of(r) == Some(ns) && name_of(r) == Some(name))
                        .flat_map(rules_of),
                ),
                _ => {}
            }
        }
    }
    let (non_resource, resource): (Vec<&Value>, Vec<&Value>) = rules.into_iter().partition(|r| {
        r.get("nonResourceURLs")
            .is_some_and(|u| u.as_array().is_some_and(|a| !a.is_empty()))
    });
    let keep = |r: &Value, fields: &[&str]| {
        let mut out = serde_json::Map::new();
        for f in fields {
            if let Some(v) = r.get(*f).filter(|v| !v.is_null()) {
                out.insert((*f).to_owned(), v.clone());
            }
        }
        Value::Object(out)
    };
    (
        resource
            .into_iter()
            .map(|r| keep(r, &["verbs", "apiGroups", "resources", "resourceNames"]))
            .collect(),
        non_resource
            .into_iter()
            .map(|r| keep(r, &["verbs", "nonResourceURLs"]))
            .collect(),
    )
}

/// The message of the real server's `Forbidden` status for a denied request.
#[must_use]
pub(crate) fn forbidden_message(user: &Identity, attrs: &Attributes) -> String {
    if let Some(path) = &attrs.path {
        return format!(
            "forbidden: User {:?} cannot {} path {path:?}",
            user.username, attrs.verb
        );
    }
    let qualified = if attrs.api_group.is_empty() {
        attrs.resource.clone()
    } else {
        format!("{}.{}", attrs.resource, attrs.api_group)
    };
    let named = attrs
        .name
        .as_ref()
        .map(|n| format!(" {n:?}"))
        .unwrap_or_default();
    let mut msg = format!(
        "{qualified}{named} is forbidden: User {:?} cannot {} resource {:?} in API group {:?}",
        user.username,
        attrs.verb,
        resource_with_subresource(attrs),
        attrs.api_group,
    );
    match &attrs.namespace {
        Some(ns) => {
            let _ = write!(msg, " in the namespace {ns:?}");
        }
        None => msg.push_str(" at the cluster scope"),
    }
    msg
}

/// `resource` or `resource/subresource`, the form RBAC rules and messages use.
fn resource_with_subresource(attrs: &Attributes) -> String {
    match &attrs.subresource {
        Some(sub) => format!("{}/{sub}", attrs.resource),
        None => attrs.resource.clone(),
    }
}

struct RoleRef<'a> {
    kind: &'a str,
    name: &'a str,
}

fn role_ref(binding: &Value) -> Option<RoleRef<'_>> {
    let r = binding.get("roleRef")?;
    Some(RoleRef {
        kind: r.get("kind")?.as_str()?,
        name: r.get("name")?.as_str()?,
    })
}

fn name_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/name")?.as_str()
}

fn namespace_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/namespace")?.as_str()
}

fn rules_of(role: &Value) -> impl Iterator<Item = &Value> {
    role.get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Whether any subject of `binding` is `user`. `binding_ns` is the namespace of a RoleBinding,
/// the default for ServiceAccount subjects without one.
fn binds(binding: &Value, user: &Identity, binding_ns: Option<&str>) -> bool {
    let Some(subjects) = binding.get("subjects").and_then(Value::as_array) else {
        return false;
    };
    subjects.iter().any(|s| {
        let kind = s.get("kind").and_then(Value::as_str).unwrap_or_default();
        let name = s.get("name").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "User" => user.username == name,
            "Group" => user.groups.iter().any(|g| g == name),
            "ServiceAccount" => {
                let ns = s
                    .get("namespace")
                    .and_then(Value::as_str)
                    .filter(|ns| !ns.is_empty())
                    .or(binding_ns)
                    .unwrap_or_default();
                user.username == format!("system:serviceaccount:{ns}:{name}")
            }
            _ => false,
        }
    })
}

/// The rules of the named ClusterRole, including aggregated ones.
fn cluster_role_rules<'a>(snapshot: &'a RbacSnapshot, name: &str) -> Vec<&'a Value> {
    let Some(role) = snapshot
        .cluster_roles
        .iter()
        .find(|r| name_of(r) == Some(name))
    else {
        return Vec::new();
    };
    let mut rules: Vec<&Value> = rules_of(role).collect();
    let selectors = role
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !selectors.is_empty() {
        for other in &snapshot.cluster_roles {
            if name_of(other) == Some(name) {
                continue;
            }
            let labels = other.pointer("/metadata/labels");
            if selectors.iter().any(|sel| selector_matches(sel, labels)) {
                rules.extend(rules_of(other));
            }
        }
    }
    rules
}

/// Whether a `metav1.LabelSelector` (as JSON) matches a label map. An empty selector matches
/// nothing here, as for aggregation rules.
pub(crate) fn selector_matches(selector: &Value, labels: Option<&Value>) -> bool {
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let exprs = selector.get("matchExpressions").and_then(Value::as_array);
    if match_labels.is_none_or(serde_json::Map::is_empty) && exprs.is_none_or(Vec::is_empty) {
        return false;
    }
    let labels_ok = match_labels
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k).is_some_and(|l| Some(l) == v.as_str()));
    let exprs_ok = exprs.into_iter().flatten().all(|e| {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match e
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "In" => label(key).is_some_and(|l| values.contains(&l)),
            "NotIn" => label(key).is_none_or(|l| !values.contains(&l)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

fn strings<'a>(rule: &'a Value, field: &str) -> impl Iterator<Item = &'a str> {
    rule.get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Whether one PolicyRule allows the request. `cluster_scope` is true for rules reached through
/// a ClusterRoleBinding, the only ones that may grant non-resource URLs.
fn rule_allows(rule: &Value, attrs: &Attributes, cluster_scope: bool) -> bool {
    if !strings(rule, "verbs").any(|v| v == "*" || v == attrs.verb) {
        return false;
    }
    if let Some(path) = &attrs.path {
        return cluster_scope
            && strings(rule, "nonResourceURLs").any(|u| {
                u == "*"
                    || u == path
                    || u.strip_suffix('*')
                        .is_some_and(|prefix| path.starts_with(prefix))
            });
    }
    if !strings(rule, "apiGroups").any(|g| g == "*" || g == attrs.api_group) {
        return false;
    }
    let combined = resource_with_subresource(attrs);
    let resource_ok = strings(rule, "resources").any(|r| {
        r == "*"
            || r == combined
            || attrs
                .subresource
                .as_deref()
                .is_some_and(|sub| r.strip_prefix("*/") == Some(sub))
    });
    if !resource_ok {
        return false;
    }
    let mut names = strings(rule, "resourceNames").peekable();
    if names.peek().is_none() {
        return true;
    }
    attrs.name.as_deref().is_some_and(|n| names.any(|r| r == n))
}

#[cfg(test)]
mod tests;
