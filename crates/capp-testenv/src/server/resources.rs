//! Resource requests: the verb of a request, authorization, and the REST handlers over the
//! store (get, list, watch, create, update, patch, delete, deletecollection, reviews).

use std::sync::Arc;

use http::{HeaderMap, Method, Response, header};
use serde_json::{Value, json};

use super::{Server, parse_target};
use crate::http::{Body, Query, content_type, json_response, parse_body, query_flag, wants_table};
use crate::identity::Identity;
use crate::rbac::{self, Attributes};
use crate::registry::ResourceDef;
use crate::selector::matcher;
use crate::status::ApiError;
use crate::store::{DeleteOpts, FieldValidation, PatchType, RvPrecondition, WriteOpts};

/// The verb of a resource request, as the apiserver's `RequestInfo` derives it from the method
/// and path (`k8s.io/apiserver/pkg/endpoints/request.RequestInfoFactory.NewRequestInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET with `watch=true` or under `/watch/`.
    Watch,
    /// POST to a collection.
    Create,
    /// PUT of one object.
    Update,
    /// PATCH of one object (all patch types, including server-side apply).
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

impl Verb {
    /// The RBAC verb.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Watch => "watch",
            Self::Create => "create",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::DeleteCollection => "deletecollection",
        }
    }

    /// The verb of a request, or `None` when the method does not apply to the path.
    fn of(method: &Method, named: bool, watch: bool) -> Option<Self> {
        Some(match (method, named) {
            (&Method::GET | &Method::HEAD, _) if watch => Self::Watch,
            (&Method::GET | &Method::HEAD, false) => Self::List,
            (&Method::GET | &Method::HEAD, true) => Self::Get,
            (&Method::POST, false) => Self::Create,
            (&Method::PUT, true) => Self::Update,
            (&Method::PATCH, true) => Self::Patch,
            (&Method::DELETE, true) => Self::Delete,
            (&Method::DELETE, false) => Self::DeleteCollection,
            _ => return None,
        })
    }
}

impl Server {
    /// Serves a request for a resource path (`/api/v1/...`, `/apis/<group>/<version>/...`).
    #[allow(
        clippy::too_many_lines,
        reason = "the verb table reads best in one place"
    )]
    #[allow(clippy::too_many_arguments, reason = "the parts of the HTTP request")]
    pub(super) async fn resource_request(
        self: &Arc<Self>,
        method: &Method,
        path: &str,
        segs: &[&str],
        q: Query,
        headers: &HeaderMap,
        body: &[u8],
        identity: &Identity,
    ) -> Result<Response<Body>, ApiError> {
        let Some(t) = parse_target(segs) else {
            return Err(ApiError::no_route(path));
        };
        let def = {
            let state = self.state.lock().await;
            state.find_def(&t.group, &t.version, &t.resource)
        };
        let Some(def) = def else {
            return Err(ApiError::no_route(path));
        };
        if let Some(sub) = &t.subresource
            && !(sub == "status" && (def.status_subresource || def.plural == "namespaces"))
            && !(sub == "scale" && def.scale.is_some())
        {
            return Err(ApiError::no_route(path));
        }
        let ns = if def.namespaced {
            t.namespace.clone().unwrap_or_default()
        } else {
            String::new()
        };
        if !def.namespaced && t.namespace.is_some() {
            return Err(ApiError::no_route(path));
        }
        let is_watch = t.watch_path || query_flag(&q, "watch");
        let Some(verb) = Verb::of(method, t.name.is_some(), is_watch) else {
            return Err(ApiError::method_not_allowed(method.as_str()));
        };
        // `RequestInfoFactory.NewRequestInfo`: a list or watch whose field selector requires
        // an exact `metadata.name` is authorized as a request for that name, so RBAC rules with
        // `resourceNames` can grant it.
        let selected = matches!(verb, Verb::List | Verb::Watch)
            .then(|| q.get("fieldSelector").and_then(|s| exact_name(s)))
            .flatten();
        let action = Attributes::resource(
            verb.as_str(),
            &def.group,
            &def.plural,
            t.subresource.as_deref().unwrap_or_default(),
            &ns,
            t.name.as_deref().or(selected).unwrap_or_default(),
        );
        // Like the default `system:basic-user` binding: anyone may ask what they may do.
        if def.plural != "selfsubjectaccessreviews" && def.plural != "selfsubjectrulesreviews" {
            self.authorize(identity, &action).await?;
        }
        if def.review {
            if verb != Verb::Create {
                return Err(ApiError::method_not_allowed(method.as_str()));
            }
            let review = parse_body(&content_type(headers), body)?;
            return self.review(&def, identity, review).await;
        }
        if t.subresource.as_deref() == Some("scale") {
            let opts = write_opts(&q, headers, identity)?;
            let name = t.name.clone().unwrap_or_default();
            return self
                .scale(verb, &def, &ns, &name, headers, body, opts)
                .await;
        }
        let table = wants_table(headers);
        let name = t.name.clone().unwrap_or_default();
        let sub = t.subresource.as_deref();
        match verb {
            Verb::Watch => {
                let mut q = q;
                if let Some(n) = &t.name {
                    q.insert("fieldSelector".into(), format!("metadata.name={n}"));
                }
                crate::watch::watch(self.watch_context(), def, t.namespace.clone(), &q, table).await
            }
            Verb::List => self.list(&def, t.namespace.as_deref(), &q, table).await,
            Verb::Get => {
                let state = self.state.lock().await;
                let obj = state.get(&def, &ns, &name)?;
                if table {
                    let include = q
                        .get("includeObject")
                        .map_or("PartialObjectMetadata", String::as_str);
                    return Ok(json_response(
                        200,
                        &crate::table::table(
                            &def,
                            &[obj],
                            &json!({"resourceVersion": state.rv().to_string()}),
                            include,
                        ),
                        &[],
                    ));
                }
                Ok(json_response(200, &obj, &[]))
            }
            Verb::Create => {
                let obj = parse_body(&content_type(headers), body)?;
                self.confirm_no_escalation(identity, &def, &ns, &obj)
                    .await?;
                let opts = write_opts(&q, headers, identity)?;
                let mut state = self.state.lock().await;
                let w = state.create(&def, &ns, obj, &opts)?;
                Ok(json_response(201, &w.object, &w.warnings))
            }
            Verb::Update => {
                let obj = parse_body(&content_type(headers), body)?;
                self.confirm_no_escalation(identity, &def, &ns, &obj)
                    .await?;
                let opts = write_opts(&q, headers, identity)?;
                let mut state = self.state.lock().await;
                let w =
                    state.update(&def, &ns, &name, obj, &opts, sub, RvPrecondition::Required)?;
                Ok(json_response(200, &w.object, &w.warnings))
            }
            Verb::Patch => {
                let ct = content_type(headers);
                let ptype = match ct.as_str() {
                    "application/json-patch+json" => PatchType::Json,
                    "application/merge-patch+json" => PatchType::Merge,
                    "application/strategic-merge-patch+json" => PatchType::Strategic,
                    "application/apply-patch+yaml"
                    | "application/apply-patch+json"
                    | "application/apply-patch+cbor" => PatchType::Apply,
                    other => return Err(ApiError::unsupported_media_type(other)),
                };
                let patch_body = parse_body(
                    if ptype == PatchType::Apply {
                        "yaml"
                    } else {
                        "json"
                    },
                    body,
                )?;
                let mut opts = write_opts(&q, headers, identity)?;
                if ptype == PatchType::Apply {
                    opts.field_manager = q.get("fieldManager").cloned().unwrap_or_default();
                } else if opts.force {
                    return Err(ApiError::bad_request(
                        "force is only allowed for apply patches",
                    ));
                }
                if def.group == "rbac.authorization.k8s.io" && self.rbac {
                    // The escalation check needs the patched object: a dry run computes it.
                    let preview_opts = WriteOpts {
                        dry_run: true,
                        ..opts.clone()
                    };
                    let preview = self.state.lock().await.patch(
                        &def,
                        &ns,
                        &name,
                        ptype,
                        &patch_body,
                        &preview_opts,
                        sub,
                    )?;
                    self.confirm_no_escalation(identity, &def, &ns, &preview.object)
                        .await?;
                }
                let mut state = self.state.lock().await;
                let w = state.patch(&def, &ns, &name, ptype, &patch_body, &opts, sub)?;
                Ok(json_response(
                    if w.created { 201 } else { 200 },
                    &w.object,
                    &w.warnings,
                ))
            }
            Verb::Delete => {
                let opts = delete_opts(&q, &parse_body("json", body)?);
                let mut state = self.state.lock().await;
                let obj = state.delete(&def, &ns, &name, &opts)?;
                Ok(json_response(200, &obj, &[]))
            }
            Verb::DeleteCollection => {
                let opts = delete_opts(&q, &parse_body("json", body)?);
                let matcher = matcher(&q, &def)?;
                let mut state = self.state.lock().await;
                let page = state.list(
                    &def,
                    t.namespace.as_deref(),
                    &|o| matcher(o),
                    None,
                    None,
                    None,
                )?;
                let mut deleted = Vec::new();
                for item in &page.items {
                    let item_ns = item["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let item_name = item["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    if let Ok(o) = state.delete(&def, &item_ns, &item_name, &opts) {
                        deleted.push(o);
                    }
                }
                Ok(json_response(
                    200,
                    &json!({
                        "kind": def.list_kind, "apiVersion": def.api_version(),
                        "metadata": {"resourceVersion": state.rv().to_string()}, "items": deleted,
                    }),
                    &[],
                ))
            }
        }
    }

    /// The escalation check of RBAC writes (`policybased.Storage.Create`/`Update` of roles
    /// and bindings): a role may only grant what its writer holds, unless the writer may
    /// `escalate` it; a binding may only bind a role whose permissions its writer holds,
    /// unless the writer may `bind` it. `system:masters` is exempt (`EscalationAllowed`).
    async fn confirm_no_escalation(
        &self,
        identity: &Identity,
        def: &ResourceDef,
        ns: &str,
        obj: &Value,
    ) -> Result<(), ApiError> {
        if !self.rbac || identity.is_superuser() || def.group != "rbac.authorization.k8s.io" {
            return Ok(());
        }
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        let forbidden = |why: String| {
            ApiError::forbidden(format!(
                "{}.rbac.authorization.k8s.io \"{name}\" is forbidden: {why}",
                def.plural
            ))
            .with_details(&def.group, &def.plural, name)
        };
        let snapshot = self.rbac_snapshot().await;
        let (rules, may) = match def.plural.as_str() {
            "roles" | "clusterroles" => (
                obj["rules"].as_array().cloned().unwrap_or_default(),
                Attributes::resource("escalate", &def.group, &def.plural, "", ns, name),
            ),
            "rolebindings" | "clusterrolebindings" => {
                let role_ref = &obj["roleRef"];
                let (resource, role) = (
                    if role_ref["kind"] == "ClusterRole" {
                        "clusterroles"
                    } else {
                        "roles"
                    },
                    role_ref["name"].as_str().unwrap_or_default(),
                );
                let may = Attributes::resource("bind", &def.group, resource, "", ns, role);
                if rbac::authorize(&snapshot, identity, &may).is_allowed() {
                    return Ok(());
                }
                let Some(rules) = rbac::role_ref_rules(&snapshot, role_ref, ns) else {
                    return Err(forbidden(format!(
                        "{resource}.rbac.authorization.k8s.io \"{role}\" not found"
                    )));
                };
                (rules, may)
            }
            _ => return Ok(()),
        };
        if rbac::authorize(&snapshot, identity, &may).is_allowed() {
            return Ok(());
        }
        let missing = rbac::uncovered(&snapshot, identity, &rules, ns);
        if missing.is_empty() {
            return Ok(());
        }
        Err(forbidden(rbac::escalation_message(identity, &missing)))
    }

    /// Answers a SelfSubjectAccessReview or SubjectAccessReview (never stored).
    async fn review(
        &self,
        def: &ResourceDef,
        identity: &Identity,
        mut review: Value,
    ) -> Result<Response<Body>, ApiError> {
        if !review.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        let spec = review["spec"].clone();
        if def.plural == "selfsubjectrulesreviews" {
            review["status"] = self
                .rules_review(identity, spec["namespace"].as_str())
                .await;
            review["apiVersion"] = json!(def.api_version());
            review["kind"] = json!(def.kind);
            return Ok(json_response(201, &review, &[]));
        }
        let subject = if def.plural == "selfsubjectaccessreviews" {
            identity.clone()
        } else {
            let user = spec["user"].as_str().unwrap_or_default().to_owned();
            let groups: Vec<String> = spec["groups"]
                .as_array()
                .map(|g| {
                    g.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if user.is_empty() && groups.is_empty() {
                return Err(ApiError::invalid(
                    &def.kind,
                    &def.group,
                    "",
                    vec![crate::status::cause(
                        "FieldValueRequired",
                        "spec.user",
                        "Required value: at least one of user or group must be specified",
                    )],
                ));
            }
            Identity {
                username: user,
                groups,
            }
        };
        let ra = &spec["resourceAttributes"];
        let allowed = if ra.is_object() {
            let s = |k: &str| ra[k].as_str().unwrap_or_default();
            let action = Attributes::resource(
                s("verb"),
                s("group"),
                s("resource"),
                s("subresource"),
                s("namespace"),
                s("name"),
            );
            self.authorize(&subject, &action).await.is_ok()
        } else {
            // Non-resource URLs (discovery, OpenAPI, health) are open to everyone here.
            true
        };
        review["apiVersion"] = json!(def.api_version());
        review["kind"] = json!(def.kind);
        review["status"] = json!({"allowed": allowed});
        Ok(json_response(201, &review, &[]))
    }

    async fn list(
        &self,
        def: &Arc<ResourceDef>,
        ns: Option<&str>,
        q: &Query,
        table: bool,
    ) -> Result<Response<Body>, ApiError> {
        let matcher = matcher(q, def)?;
        let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok());
        let exact = exact_resource_version(q)?;
        let state = self.state.lock().await;
        let page = state.list(
            def,
            ns,
            &|o| matcher(o),
            limit,
            q.get("continue").map(String::as_str),
            exact,
        )?;
        let mut list_meta = json!({"resourceVersion": page.rv.to_string()});
        if let Some(c) = &page.continue_token {
            list_meta["continue"] = json!(c);
            list_meta["remainingItemCount"] = json!(page.remaining);
        }
        if table {
            let include = q
                .get("includeObject")
                .map_or("PartialObjectMetadata", String::as_str);
            return Ok(json_response(
                200,
                &crate::table::table(def, &page.items, &list_meta, include),
                &[],
            ));
        }
        Ok(json_response(
            200,
            &json!({
                "kind": def.list_kind,
                "apiVersion": def.api_version(),
                "metadata": list_meta,
                "items": page.items,
            }),
            &[],
        ))
    }
}
/// The options of a write request.
fn write_opts(q: &Query, headers: &HeaderMap, user: &Identity) -> Result<WriteOpts, ApiError> {
    let field_validation = match q.get("fieldValidation").map(String::as_str) {
        None | Some("" | "Warn") => FieldValidation::Warn,
        Some("Strict") => FieldValidation::Strict,
        Some("Ignore") => FieldValidation::Ignore,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation {other} is not a valid value: must be one of Ignore, Warn or Strict"
            )));
        }
    };
    let default_manager = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .unwrap_or("unknown")
        .to_owned();
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All");
    Ok(WriteOpts {
        dry_run,
        field_manager: q.get("fieldManager").cloned().unwrap_or(default_manager),
        field_validation,
        force: query_flag(q, "force"),
        applied: false,
        user: Some(user.clone()),
    })
}

/// The resourceVersion a list must show exactly (`resourceVersionMatch=Exact`), if asked for.
/// `NotOlderThan` (and no match) is served from the current state, which is never older.
fn exact_resource_version(q: &Query) -> Result<Option<u64>, ApiError> {
    let rv = q
        .get("resourceVersion")
        .map(String::as_str)
        .unwrap_or_default();
    match q.get("resourceVersionMatch").map(String::as_str) {
        None | Some("") => Ok(None),
        Some(_) if rv.is_empty() => Err(ApiError::bad_request(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        )),
        Some("NotOlderThan") => Ok(None),
        Some("Exact") => match rv.parse::<u64>() {
            Ok(0) => Err(ApiError::bad_request(
                "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            )),
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(ApiError::bad_request(format!(
                "invalid resourceVersion \"{rv}\": must be an integer"
            ))),
        },
        Some(other) => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
}

fn delete_opts(q: &Query, body: &Value) -> DeleteOpts {
    let orphan = body["orphanDependents"]
        .as_bool()
        .or_else(|| q.get("orphanDependents").map(|v| v == "true"));
    let propagation = body["propagationPolicy"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| q.get("propagationPolicy").cloned())
        .or_else(|| {
            orphan.map(|o| {
                if o {
                    "Orphan".to_owned()
                } else {
                    "Background".to_owned()
                }
            })
        });
    DeleteOpts {
        propagation,
        uid: body["preconditions"]["uid"].as_str().map(str::to_owned),
        resource_version: body["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_owned),
        dry_run: q.get("dryRun").is_some_and(|v| v == "All")
            || body["dryRun"]
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == "All")),
    }
}

/// The name a field selector requires exactly (`metadata.name=x` or `metadata.name==x` among
/// its terms), when it is a valid path segment (`fields.Selector.RequiresExactMatch`).
fn exact_name(selector: &str) -> Option<&str> {
    selector.split(',').find_map(|term| {
        let (field, value) = term.split_once("==").or_else(|| term.split_once('='))?;
        let value = value.trim();
        (field.trim() == "metadata.name"
            && !value.is_empty()
            && crate::names::path_segment_name(value, false).is_empty())
        .then_some(value)
    })
}
