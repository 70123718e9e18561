//! The resources the server serves: the built-in kinds and those added by
//! CustomResourceDefinitions, and the discovery documents describing them.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::schema::{self, CrdSchema};

/// One printer column (`additionalPrinterColumns[]`).
#[derive(Debug, Clone)]
pub(crate) struct PrinterColumn {
    pub(crate) name: String,
    pub(crate) type_: String,
    pub(crate) format: String,
    pub(crate) description: String,
    pub(crate) priority: i64,
    pub(crate) json_path: String,
}

/// A served resource in one group/version.
#[derive(Debug)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent per-resource flags, as in APIResource"
)]
pub(crate) struct ResourceDef {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) plural: String,
    pub(crate) singular: String,
    pub(crate) kind: String,
    pub(crate) list_kind: String,
    pub(crate) namespaced: bool,
    pub(crate) short_names: Vec<String>,
    pub(crate) categories: Vec<String>,
    pub(crate) status_subresource: bool,
    /// The `scale` subresource: where replicas and the selector live (CRDs'
    /// `subresources.scale`; Deployments, ReplicaSets and StatefulSets).
    pub(crate) scale: Option<ScalePaths>,
    /// `metadata.generation` is maintained (custom resources, Deployments, CRDs...).
    pub(crate) tracks_generation: bool,
    /// PUT without `metadata.resourceVersion` is allowed (false for custom resources).
    pub(crate) unconditional_update: bool,
    /// Printer columns (custom resources only; built-ins get Name and Age).
    pub(crate) columns: Vec<PrinterColumn>,
    /// The compiled schema (custom resources only).
    pub(crate) schema: Option<Arc<CrdSchema>>,
    /// The raw openAPIV3Schema (custom resources only), for `/openapi/v3`.
    pub(crate) raw_schema: Option<Value>,
    /// Name of the CRD serving this resource.
    pub(crate) crd: Option<String>,
    /// Field selectors besides `metadata.name`/`metadata.namespace` (dotted paths).
    pub(crate) selectable: Vec<String>,
    /// A create-only review resource (SubjectAccessReview...): answered, never stored.
    pub(crate) review: bool,
    /// The storage version of a custom resource (`spec.versions[].storage`); objects are
    /// stored in it, pruned and defaulted with its schema.
    pub(crate) storage: bool,
}

/// The JSON paths of a `scale` subresource (`.spec.replicas` notation).
#[derive(Debug, Clone)]
pub(crate) struct ScalePaths {
    pub(crate) spec_replicas: String,
    pub(crate) status_replicas: String,
    /// Where the status holds the selector as a string; empty when there is none.
    pub(crate) label_selector: String,
}

impl ScalePaths {
    /// The paths of the built-in workloads (the selector is rendered from `spec.selector`).
    fn builtin() -> Self {
        Self {
            spec_replicas: ".spec.replicas".to_owned(),
            status_replicas: ".status.replicas".to_owned(),
            label_selector: String::new(),
        }
    }

    /// `spec.versions[].subresources.scale`, if set.
    fn of_crd(scale: &Value) -> Option<Self> {
        let s = |k: &str| scale[k].as_str().unwrap_or_default().to_owned();
        scale.is_object().then(|| Self {
            spec_replicas: s("specReplicasPath"),
            status_replicas: s("statusReplicasPath"),
            label_selector: s("labelSelectorPath"),
        })
    }
}

impl ResourceDef {
    /// The group objects of this resource are stored under: the core group for the
    /// `events.k8s.io` view of Events (one store, see [`crate::events`]), else its own.
    pub(crate) fn storage_group(&self) -> &str {
        if crate::events::is_events_view(&self.group, &self.plural) {
            ""
        } else {
            &self.group
        }
    }

    /// `group/version`, or `version` for the core group.
    pub(crate) fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }

    /// Whether DELETE answers with the object even when it is removed at once: the
    /// registries built with `ReturnDeletedObject: true` (kubernetes `pkg/registry/*/storage`);
    /// every other one, custom resources included, answers a `Status` (`Store.finalizeDelete`).
    pub(crate) fn returns_deleted_object(&self) -> bool {
        self.crd.is_none()
            && matches!(
                (self.group.as_str(), self.plural.as_str()),
                (
                    "",
                    "namespaces"
                        | "serviceaccounts"
                        | "services"
                        | "pods"
                        | "podtemplates"
                        | "persistentvolumes"
                        | "persistentvolumeclaims"
                        | "resourcequotas"
                ) | (
                    "storage.k8s.io",
                    "csidrivers"
                        | "csinodes"
                        | "storageclasses"
                        | "volumeattachments"
                        | "volumeattributesclasses"
                ) | ("resource.k8s.io", _)
            )
    }
}

/// `group/version`, or `version` for the core group.
pub(crate) fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

/// A static description of a built-in resource.
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent per-resource flags, as in APIResource"
)]
struct Builtin {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    generation: bool,
    review: bool,
}

const fn b(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version,
        plural,
        kind,
        namespaced,
        short,
        categories: &[],
        status: false,
        generation: false,
        review: false,
    }
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        status: true,
        ..b("", "v1", "namespaces", "Namespace", false, &["ns"])
    },
    b("", "v1", "secrets", "Secret", true, &[]),
    b("", "v1", "configmaps", "ConfigMap", true, &["cm"]),
    b("", "v1", "serviceaccounts", "ServiceAccount", true, &["sa"]),
    Builtin {
        status: true,
        categories: &["all"],
        ..b("", "v1", "services", "Service", true, &["svc"])
    },
    b("", "v1", "events", "Event", true, &["ev"]),
    Builtin {
        status: true,
        ..b("", "v1", "nodes", "Node", false, &["no"])
    },
    Builtin {
        status: true,
        categories: &["all"],
        ..b("", "v1", "pods", "Pod", true, &["po"])
    },
    b("events.k8s.io", "v1", "events", "Event", true, &["ev"]),
    b("coordination.k8s.io", "v1", "leases", "Lease", true, &[]),
    // Cluster API's Machine controller lists them before deleting a Machine (it waits for
    // the Node's volumes to detach); nothing here attaches volumes, so the list stays empty
    // unless a test creates some.
    Builtin {
        status: true,
        ..b(
            "storage.k8s.io",
            "v1",
            "volumeattachments",
            "VolumeAttachment",
            false,
            &[],
        )
    },
    Builtin {
        status: true,
        generation: true,
        categories: &["all"],
        ..b("apps", "v1", "deployments", "Deployment", true, &["deploy"])
    },
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        &[],
    ),
    Builtin {
        status: true,
        generation: true,
        categories: &["api-extensions"],
        ..b(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            false,
            &["crd", "crds"],
        )
    },
    Builtin {
        status: true,
        generation: true,
        categories: &["api-extensions"],
        ..b(
            "admissionregistration.k8s.io",
            "v1",
            "validatingadmissionpolicies",
            "ValidatingAdmissionPolicy",
            false,
            &[],
        )
    },
    Builtin {
        generation: true,
        categories: &["api-extensions"],
        ..b(
            "admissionregistration.k8s.io",
            "v1",
            "validatingadmissionpolicybindings",
            "ValidatingAdmissionPolicyBinding",
            false,
            &[],
        )
    },
    Builtin {
        generation: true,
        categories: &["api-extensions"],
        ..b(
            "admissionregistration.k8s.io",
            "v1",
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
            false,
            &[],
        )
    },
    Builtin {
        generation: true,
        categories: &["api-extensions"],
        ..b(
            "admissionregistration.k8s.io",
            "v1",
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfiguration",
            false,
            &[],
        )
    },
    Builtin {
        review: true,
        ..b(
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
            "SelfSubjectAccessReview",
            false,
            &[],
        )
    },
    Builtin {
        review: true,
        ..b(
            "authorization.k8s.io",
            "v1",
            "selfsubjectrulesreviews",
            "SelfSubjectRulesReview",
            false,
            &[],
        )
    },
    Builtin {
        review: true,
        ..b(
            "authorization.k8s.io",
            "v1",
            "subjectaccessreviews",
            "SubjectAccessReview",
            false,
            &[],
        )
    },
];

/// The type-specific field selectors the real server supports for built-ins.
fn builtin_selectable(group: &str, plural: &str) -> &'static [&'static str] {
    match (group, plural) {
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "events") => &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "reason",
            "reportingController",
            "type",
        ],
        ("", "secrets") => &["type"],
        ("", "pods") => &[
            "spec.nodeName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
        ],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "namespaces") => &["status.phase"],
        _ => &[],
    }
}

/// All built-in resources.
pub(crate) fn builtins() -> Vec<Arc<ResourceDef>> {
    BUILTINS
        .iter()
        .map(|b| {
            Arc::new(ResourceDef {
                group: b.group.to_owned(),
                version: b.version.to_owned(),
                plural: b.plural.to_owned(),
                singular: b.kind.to_lowercase(),
                kind: b.kind.to_owned(),
                list_kind: format!("{}List", b.kind),
                namespaced: b.namespaced,
                short_names: b.short.iter().map(|s| (*s).to_owned()).collect(),
                categories: b.categories.iter().map(|s| (*s).to_owned()).collect(),
                status_subresource: b.status,
                scale: matches!(
                    (b.group, b.plural),
                    ("apps", "deployments" | "replicasets" | "statefulsets")
                )
                .then(ScalePaths::builtin),
                tracks_generation: b.generation,
                unconditional_update: true,
                columns: Vec::new(),
                schema: None,
                raw_schema: None,
                crd: None,
                review: b.review,
                storage: true,
                selectable: builtin_selectable(b.group, b.plural)
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
            })
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_default()
}

/// Builds the served resources for a (validated) CRD: one per served version.
/// Returns the per-version schema compile errors as field causes.
pub(crate) fn from_crd(crd: &Value) -> Result<Vec<Arc<ResourceDef>>, Vec<crate::status::Cause>> {
    let spec = &crd["spec"];
    let group = str_at(spec, &["group"]).to_owned();
    let names = &spec["names"];
    let plural = str_at(names, &["plural"]).to_owned();
    let kind = str_at(names, &["kind"]).to_owned();
    let singular = match str_at(names, &["singular"]) {
        "" => kind.to_lowercase(),
        s => s.to_owned(),
    };
    let list_kind = match str_at(names, &["listKind"]) {
        "" => format!("{kind}List"),
        s => s.to_owned(),
    };
    let namespaced = str_at(spec, &["scope"]) != "Cluster";
    let mut out = Vec::new();
    let mut causes = Vec::new();
    for (i, v) in spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if v["served"] == Value::Bool(false) {
            continue;
        }
        let version = str_at(v, &["name"]).to_owned();
        let raw_schema = v["schema"]["openAPIV3Schema"].clone();
        let schema = if raw_schema.is_null() {
            None
        } else {
            match CrdSchema::compile(&raw_schema).map_err(schema::causes) {
                Ok(s) => Some(Arc::new(s)),
                Err(errs) => {
                    for mut c in errs {
                        c.field = if c.field.is_empty() {
                            format!("spec.versions[{i}].schema.openAPIV3Schema")
                        } else {
                            format!("spec.versions[{i}].schema.{}", c.field)
                        };
                        causes.push(c);
                    }
                    None
                }
            }
        };
        let columns = v["additionalPrinterColumns"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| PrinterColumn {
                name: str_at(c, &["name"]).to_owned(),
                type_: str_at(c, &["type"]).to_owned(),
                format: str_at(c, &["format"]).to_owned(),
                description: str_at(c, &["description"]).to_owned(),
                priority: c["priority"].as_i64().unwrap_or(0),
                json_path: str_at(c, &["jsonPath"]).to_owned(),
            })
            .collect();
        out.push(Arc::new(ResourceDef {
            group: group.clone(),
            version,
            plural: plural.clone(),
            singular: singular.clone(),
            kind: kind.clone(),
            list_kind: list_kind.clone(),
            namespaced,
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            status_subresource: v["subresources"]["status"].is_object(),
            scale: ScalePaths::of_crd(&v["subresources"]["scale"]),
            tracks_generation: true,
            unconditional_update: false,
            columns,
            schema,
            raw_schema: if raw_schema.is_null() {
                None
            } else {
                Some(raw_schema)
            },
            crd: Some(str_at(crd, &["metadata", "name"]).to_owned()),
            review: false,
            storage: v["storage"] == Value::Bool(true),
            selectable: v["selectableFields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["jsonPath"].as_str())
                .map(|p| p.trim_start_matches('.').to_owned())
                .collect(),
        }));
    }
    if causes.is_empty() {
        Ok(out)
    } else {
        Err(causes)
    }
}

/// The storage version of a CRD (`spec.versions[].storage == true`).
pub(crate) fn storage_version(crd: &Value) -> Option<String> {
    crd["spec"]["versions"]
        .as_array()?
        .iter()
        .find(|v| v["storage"] == Value::Bool(true))
        .and_then(|v| v["name"].as_str())
        .map(str::to_owned)
}

/// The verbs every served resource supports.
const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn verbs(d: &ResourceDef) -> &'static [&'static str] {
    if d.review { &["create"] } else { VERBS }
}

/// `APIResourceList` for one group/version.
pub(crate) fn resource_list(defs: &[Arc<ResourceDef>], group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for d in defs
        .iter()
        .filter(|d| d.group == group && d.version == version)
    {
        let mut r = json!({
            "name": d.plural,
            "singularName": d.singular,
            "namespaced": d.namespaced,
            "kind": d.kind,
            "verbs": verbs(d),
        });
        if !d.short_names.is_empty() {
            r["shortNames"] = json!(d.short_names);
        }
        if !d.categories.is_empty() {
            r["categories"] = json!(d.categories);
        }
        resources.push(r);
        if d.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", d.plural),
                "singularName": "",
                "namespaced": d.namespaced,
                "kind": d.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if d.scale.is_some() {
            resources.push(json!({
                "name": format!("{}/scale", d.plural),
                "singularName": "",
                "namespaced": d.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version(group, version),
        "resources": resources,
    })
}

/// The served (group, versions) pairs, in a stable order (core first, built-ins before CRDs).
pub(crate) fn groups(defs: &[Arc<ResourceDef>]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for d in defs {
        match out.iter_mut().find(|(g, _)| *g == d.group) {
            Some((_, versions)) => {
                if !versions.contains(&d.version) {
                    versions.push(d.version.clone());
                }
            }
            None => out.push((d.group.clone(), vec![d.version.clone()])),
        }
    }
    for (_, versions) in &mut out {
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
    }
    out
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (level, n) = if let Some(n) = tail.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n)
    } else {
        return (0, 0, 0);
    };
    (level, major, n.parse().unwrap_or(0))
}

/// `APIGroupList` for `/apis`.
pub(crate) fn group_list(defs: &[Arc<ResourceDef>]) -> Value {
    let groups: Vec<Value> = groups(defs)
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, versions)| group_json(&g, &versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `APIGroup` for one group.
pub(crate) fn group_json(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

/// Aggregated discovery (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`) for `/api` (core
/// only) or `/apis` (every named group).
pub(crate) fn aggregated(defs: &[Arc<ResourceDef>], core: bool) -> Value {
    let mut items = Vec::new();
    for (group, versions) in groups(defs) {
        if group.is_empty() != core {
            continue;
        }
        let vs: Vec<Value> = versions
            .iter()
            .map(|v| {
                let resources: Vec<Value> = defs
                    .iter()
                    .filter(|d| d.group == group && d.version == *v)
                    .map(|d| {
                        let mut r = json!({
                            "resource": d.plural,
                            "responseKind": {"group": d.group, "version": d.version, "kind": d.kind},
                            "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
                            "singularResource": d.singular,
                            "verbs": verbs(d),
                        });
                        if !d.short_names.is_empty() {
                            r["shortNames"] = json!(d.short_names);
                        }
                        if !d.categories.is_empty() {
                            r["categories"] = json!(d.categories);
                        }
                        let mut subresources = Vec::new();
                        if d.status_subresource {
                            subresources.push(json!({
                                "subresource": "status",
                                "responseKind": {"group": d.group, "version": d.version, "kind": d.kind},
                                "verbs": ["get", "patch", "update"],
                            }));
                        }
                        if d.scale.is_some() {
                            subresources.push(json!({
                                "subresource": "scale",
                                "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                                "verbs": ["get", "patch", "update"],
                            }));
                        }
                        if !subresources.is_empty() {
                            r["subresources"] = Value::Array(subresources);
                        }
                        r
                    })
                    .collect();
                json!({"version": v, "resources": resources, "freshness": "Current"})
            })
            .collect();
        items.push(json!({"metadata": {"name": group}, "versions": vs}));
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ga_versions_sort_before_beta_and_alpha() {
        let mut v = vec![
            "v1alpha1".to_owned(),
            "v1".to_owned(),
            "v1beta2".to_owned(),
            "v2".to_owned(),
        ];
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        assert_eq!(v, ["v2", "v1", "v1beta2", "v1alpha1"]);
    }
}
