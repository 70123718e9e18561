//! Writes: create, update, patch (including server-side apply) and delete, with preconditions,
//! finalizers, generation and managedFields.

use super::policy::Request;
use super::{
    ApiError, ApplyError, ApplyOptions, Cause, DeleteOpts, EventType, FOREGROUND, ORPHAN,
    ObjectKey, PROTECTED_NAMESPACES, PatchType, ResourceDef, RvPrecondition, State, Value,
    WriteOpts, Written, cause, finalizers, generation_content, is_deleting, json, meta, meta_mut,
    noop_view, patch, set_finalizers, str_field, util,
};

impl State {
    /// The form an object is stored in: core `v1` for the `events.k8s.io` view of Events; a
    /// custom resource converted to the storage version (`None` strategy) and defaulted and
    /// pruned with its schema, as the apiextensions server's storage codec does.
    fn to_storage(&self, def: &ResourceDef, obj: Value) -> Value {
        if crate::events::is_events_view(&def.group, &def.plural) {
            return crate::events::to_core(&obj);
        }
        let Some(crd) = def.crd.as_deref().filter(|_| !def.storage) else {
            return obj;
        };
        let Some(storage) = self
            .defs()
            .iter()
            .find(|d| d.crd.as_deref() == Some(crd) && d.storage)
        else {
            return obj;
        };
        let mut obj = obj;
        obj["apiVersion"] = Value::String(storage.api_version());
        if let Some(schema) = &storage.schema {
            schema.default_and_prune(&mut obj);
        }
        obj
    }

    // ---------------------------------------------------------------- create

    /// POST: creates an object.
    #[allow(
        clippy::too_many_lines,
        reason = "one linear sequence of apiserver create rules"
    )]
    pub(crate) fn create(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        mut obj: Value,
        opts: &WriteOpts,
    ) -> Result<Written, ApiError> {
        Self::check_type(def, &obj)?;
        if let Some(crd) = &def.crd
            && self.crd_terminating(crd)
        {
            return Err(ApiError::method_not_allowed("create").with_details(
                &def.group,
                &def.plural,
                "",
            ));
        }
        let now = util::now();
        {
            let m = meta_mut(&mut obj);
            if def.namespaced {
                let body_ns = m
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !body_ns.is_empty() && body_ns != ns {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                m.insert("namespace".into(), Value::String(ns.to_owned()));
            } else {
                m.remove("namespace");
            }
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if name.is_empty() {
                let prefix = m
                    .get("generateName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if prefix.is_empty() {
                    return Err(ApiError::invalid(
                        &def.kind,
                        &def.group,
                        "",
                        vec![cause(
                            "FieldValueRequired",
                            "metadata.name",
                            "Required value: name or generateName is required",
                        )],
                    ));
                }
                let generated = format!("{prefix}{}", util::random_suffix(5));
                m.insert("name".into(), Value::String(generated));
            }
            refuse_version_on_create(m)?;
            for f in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                m.remove(f);
            }
            m.insert("uid".into(), Value::String(util::uid()));
            m.insert("creationTimestamp".into(), Value::String(now.clone()));
            if def.tracks_generation {
                m.insert("generation".into(), json!(1));
            } else {
                m.remove("generation");
            }
        }
        obj["apiVersion"] = Value::String(def.api_version());
        obj["kind"] = Value::String(def.kind.clone());
        let name = str_field(&obj, "name").to_owned();
        if def.namespaced {
            let ns_obj = self
                .objects
                .get(&ObjectKey::cluster_scoped("", "namespaces", ns));
            match ns_obj {
                None => return Err(ApiError::not_found("", "namespaces", ns)),
                Some(n) if is_deleting(n) => {
                    return Err(ApiError::forbidden(format!("{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated", def.plural)).with_details(&def.group, &def.plural, &name));
                }
                Some(_) => {}
            }
        }
        let causes = Self::validate_meta(def, &obj);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&def.kind, &def.group, &name, causes));
        }
        let key = Self::key(def, ns, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(&def.group, &def.plural, &name));
        }
        if def.status_subresource
            && def.plural != "namespaces"
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        let mut warnings = Self::decode_builtin(def, &mut obj, opts)?;
        self.builtin_defaults(def, &mut obj, None)?;
        Self::validate_builtin(def, &obj, None)?;
        warnings.extend(Self::admit(def, &mut obj, None, opts)?);
        warnings.extend(self.validate_policies(&Request {
            def,
            namespace: ns,
            subresource: None,
            object: &obj,
            old: None,
            opts,
        })?);
        let mut obj = self.to_storage(def, obj);
        if !opts.applied && !opts.field_manager.is_empty() {
            patch::record_update(
                None,
                &mut obj,
                &opts.field_manager,
                None,
                &now,
                def.raw_schema.as_ref(),
            );
        }
        if opts.dry_run {
            return Ok(Written {
                object: obj,
                warnings,
                created: true,
            });
        }
        let owned = meta(&obj)["ownerReferences"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        let stored = self.commit(&key, obj, EventType::Added);
        if owned {
            // A dependent whose owners are all gone is collected, as the real GC would.
            self.gc();
        }
        Ok(Written {
            object: Self::render(def, &stored),
            warnings,
            created: true,
        })
    }

    // ---------------------------------------------------------------- update

    /// PUT (and the second half of PATCH): replaces an object.
    #[allow(
        clippy::too_many_lines,
        reason = "one linear sequence of apiserver update rules"
    )]
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the PUT request parameters"
    )]
    pub(crate) fn update(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        mut new: Value,
        opts: &WriteOpts,
        subresource: Option<&str>,
        precondition: RvPrecondition,
    ) -> Result<Written, ApiError> {
        Self::check_type(def, &new)?;
        let key = Self::key(def, ns, name);
        let Some(old) = self.objects.get(&key).map(|v| Value::clone(v)) else {
            return Err(ApiError::not_found(&def.group, &def.plural, name));
        };
        let body_name = str_field(&new, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if def.namespaced {
            let body_ns = str_field(&new, "namespace");
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let body_uid = str_field(&new, "uid");
        let live_uid = str_field(&old, "uid");
        if !body_uid.is_empty() && body_uid != live_uid {
            return Err(match precondition {
                // `defaultUpdatedObjectInfo.Preconditions`: a PUT's uid is a storage
                // precondition, whose failure `InterpretUpdateError` turns into a 409.
                RvPrecondition::Required => uid_precondition_failed(def, &key, body_uid, live_uid),
                // A patch has no preconditions; `ValidateObjectMetaUpdate` refuses the change.
                RvPrecondition::Optional => ApiError::invalid(
                    &def.kind,
                    &def.group,
                    name,
                    vec![cause(
                        "FieldValueInvalid",
                        "metadata.uid",
                        format!("Invalid value: \"{body_uid}\": field is immutable"),
                    )],
                ),
            });
        }
        let rv = str_field(&new, "resourceVersion").to_owned();
        if rv.is_empty() {
            if precondition == RvPrecondition::Required && !def.unconditional_update {
                return Err(ApiError::invalid(
                    &def.kind,
                    &def.group,
                    name,
                    vec![cause(
                        "FieldValueInvalid",
                        "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update",
                    )],
                ));
            }
        } else if rv != str_field(&old, "resourceVersion") {
            return Err(ApiError::conflict(
                &def.group,
                &def.plural,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let now = util::now();
        if subresource == Some("status") {
            // Only status (and managedFields) may change through /status.
            let status = new.get("status").cloned();
            let managed = meta(&new)["managedFields"].clone();
            let mut merged = old.clone();
            match status {
                Some(s) => merged["status"] = s,
                None => {
                    if let Some(m) = merged.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            if !managed.is_null() {
                meta_mut(&mut merged).insert("managedFields".into(), managed);
            }
            new = merged;
        } else if def.status_subresource && def.plural != "namespaces" {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        {
            let om = meta(&old).clone();
            let m = meta_mut(&mut new);
            for f in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "namespace",
            ] {
                match om.get(f) {
                    Some(v) => m.insert(f.into(), v.clone()),
                    None => m.remove(f),
                };
            }
            m.insert("name".into(), Value::String(name.to_owned()));
            m.insert("resourceVersion".into(), om["resourceVersion"].clone());
        }
        new["apiVersion"] = Value::String(def.api_version());
        new["kind"] = Value::String(def.kind.clone());
        if is_deleting(&old) {
            let before = finalizers(&old);
            let added: Vec<String> = finalizers(&new)
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(ApiError::invalid(
                    &def.kind,
                    &def.group,
                    name,
                    vec![cause(
                        "FieldValueForbidden",
                        "metadata.finalizers",
                        format!(
                            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                        ),
                    )],
                ));
            }
        }
        let causes = Self::validate_meta(def, &new);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&def.kind, &def.group, name, causes));
        }
        let mut warnings = Self::decode_builtin(def, &mut new, opts)?;
        self.builtin_defaults(def, &mut new, Some(&old))?;
        Self::validate_builtin(def, &new, Some(&old))?;
        // Admission sees the old object in the request's version.
        let old_view = Self::render(def, &old);
        warnings.extend(Self::admit(def, &mut new, Some(&old_view), opts)?);
        warnings.extend(self.validate_policies(&Request {
            def,
            namespace: ns,
            subresource,
            object: &new,
            old: Some(&old_view),
            opts,
        })?);
        let mut new = self.to_storage(def, new);
        if def.tracks_generation
            && generation_content(&old, def.status_subresource)
                != generation_content(&new, def.status_subresource)
        {
            let g = meta(&old)["generation"].as_i64().unwrap_or(0) + 1;
            meta_mut(&mut new).insert("generation".into(), json!(g));
        }
        if !opts.applied && !opts.field_manager.is_empty() {
            patch::record_update(
                Some(&old),
                &mut new,
                &opts.field_manager,
                subresource,
                &now,
                def.raw_schema.as_ref(),
            );
        }
        let is_ns = def.group.is_empty() && def.plural == "namespaces";
        let finished = is_deleting(&new) && finalizers(&new).is_empty() && !is_ns;
        if opts.dry_run {
            return Ok(Written {
                object: Self::render(def, &new),
                warnings,
                created: false,
            });
        }
        if finished {
            let gone = self.remove(&key).unwrap_or(new);
            self.gc();
            return Ok(Written {
                object: Self::render(def, &gone),
                warnings,
                created: false,
            });
        }
        if noop_view(&new) == noop_view(&old) {
            return Ok(Written {
                object: Self::render(def, &old),
                warnings,
                created: false,
            });
        }
        // Only deletion state and owner references feed the garbage collector; skipping it for
        // other writes keeps updates O(1) in the number of stored objects.
        let needs_gc =
            is_deleting(&new) || meta(&new)["ownerReferences"] != meta(&old)["ownerReferences"];
        let stored = self.commit(&key, new, EventType::Modified);
        if needs_gc {
            self.gc();
        }
        Ok(Written {
            object: Self::render(def, &stored),
            warnings,
            created: false,
        })
    }

    // ---------------------------------------------------------------- patch

    /// The server-side apply half of PATCH: the object the apply produces.
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the PATCH request parameters"
    )]
    pub(super) fn apply_body(
        def: &ResourceDef,
        ns: &str,
        name: &str,
        body: &Value,
        live: Option<&Value>,
        opts: &WriteOpts,
        subresource: Option<&str>,
        now: &str,
    ) -> Result<Value, ApiError> {
        if opts.field_manager.is_empty() {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        Self::check_type(def, body)?;
        if body["apiVersion"].as_str().is_none_or(str::is_empty)
            || body["kind"].as_str().is_none_or(str::is_empty)
        {
            return Err(ApiError::bad_request(
                "apply patches must include apiVersion and kind",
            ));
        }
        // `structuredManagerFieldManager.Apply` (fieldmanager/internal/structuredmerge.go):
        // the patch must be in the endpoint's version, and must not carry managedFields.
        let version = body["apiVersion"].as_str().unwrap_or_default();
        if version != def.api_version() {
            return Err(ApiError::bad_request(format!(
                "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {}",
                def.api_version()
            )));
        }
        if !meta(body)["managedFields"].is_null() {
            return Err(ApiError::bad_request("metadata.managedFields must be nil"));
        }
        if live.is_none()
            && let Some(m) = body["metadata"].as_object()
        {
            refuse_version_on_create(m)?;
        }
        // `patcher.applyPatch` (endpoints/handlers/patch.go): a uid names an existing object.
        let uid = str_field(body, "uid");
        if live.is_none() && !uid.is_empty() {
            return Err(ApiError::conflict(
                &def.group,
                &def.plural,
                name,
                &format!(
                    "uid mismatch: the provided object specified uid {uid}, and no existing object was found"
                ),
            ));
        }
        let mut applied = body.clone();
        if live.is_none() {
            let m = meta_mut(&mut applied);
            m.entry("name")
                .or_insert_with(|| Value::String(name.to_owned()));
            if def.namespaced {
                m.entry("namespace")
                    .or_insert_with(|| Value::String(ns.to_owned()));
            }
        }
        let apply_opts = ApplyOptions {
            manager: opts.field_manager.clone(),
            force: opts.force,
            subresource: subresource.map(str::to_owned),
            status_subresource: def.status_subresource,
            now: now.to_owned(),
            schema: def.raw_schema.as_ref(),
        };
        patch::apply(live, &applied, &apply_opts).map_err(|e| match e {
            ApplyError::Conflict(ref conflicts) => {
                let causes: Vec<Cause> = conflicts
                    .iter()
                    .map(|c| {
                        cause(
                            "FieldManagerConflict",
                            &c.field,
                            format!("conflict with \"{}\"", c.manager),
                        )
                    })
                    .collect();
                ApiError::new(409, "Conflict", e.to_string())
                    .with_details(&def.group, &def.plural, name)
                    .with_causes(causes)
            }
            ApplyError::Invalid(m) => ApiError::bad_request(m),
        })
    }

    /// PATCH (all four types).
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the PATCH request parameters"
    )]
    pub(crate) fn patch(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        ptype: PatchType,
        body: &Value,
        opts: &WriteOpts,
        subresource: Option<&str>,
    ) -> Result<Written, ApiError> {
        let live = self.get_raw(def, ns, name).map(|o| Self::render(def, o));
        // Subresources never create their object (apply to `/status` of a missing object is 404).
        if live.is_none() && subresource.is_some() {
            return Err(ApiError::not_found(&def.group, &def.plural, name));
        }
        let now = util::now();
        let mut new = match (ptype, &live) {
            (PatchType::Apply, _) => {
                Self::apply_body(def, ns, name, body, live.as_ref(), opts, subresource, &now)?
            }
            (_, None) => return Err(ApiError::not_found(&def.group, &def.plural, name)),
            (PatchType::Json, Some(l)) => patch::json_patch(l, body).map_err(|m| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {m}"),
                )
                .with_details(&def.group, &def.plural, name)
            })?,
            (PatchType::Merge, Some(l)) => {
                if !body.is_object() {
                    return Err(ApiError::bad_request("a merge patch must be a JSON object"));
                }
                patch::merge_patch(l, body)
            }
            (PatchType::Strategic, Some(l)) => {
                if def.crd.is_some() {
                    return Err(ApiError::unsupported_media_type(
                        "application/strategic-merge-patch+json (strategic merge patch is not supported for custom resources)",
                    ));
                }
                patch::strategic_merge_patch(l, body, &def.api_version(), &def.kind).map_err(
                    |m| ApiError::bad_request(format!("invalid strategic merge patch: {m}")),
                )?
            }
        };
        let applied_opts = WriteOpts {
            applied: ptype == PatchType::Apply,
            ..opts.clone()
        };
        let opts = &applied_opts;
        if live.is_none() {
            let mut w = self.create(def, ns, new, opts)?;
            w.created = true;
            return Ok(w);
        }
        // Apply never carries a resourceVersion precondition unless the user set one.
        if ptype == PatchType::Apply
            && body["metadata"]["resourceVersion"]
                .as_str()
                .is_none_or(str::is_empty)
            && let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut)
        {
            m.remove("resourceVersion");
        }
        self.update(
            def,
            ns,
            name,
            new,
            opts,
            subresource,
            RvPrecondition::Optional,
        )
    }

    // ---------------------------------------------------------------- delete

    /// DELETE.
    #[allow(
        clippy::too_many_lines,
        reason = "one linear sequence of apiserver delete rules"
    )]
    pub(crate) fn delete(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Value, ApiError> {
        let key = Self::key(def, ns, name);
        let Some(mut obj) = self.objects.get(&key).map(|v| Value::clone(v)) else {
            return Err(ApiError::not_found(&def.group, &def.plural, name));
        };
        if let Some(uid) = &opts.uid
            && uid != str_field(&obj, "uid")
        {
            return Err(uid_precondition_failed(
                def,
                &key,
                uid,
                str_field(&obj, "uid"),
            ));
        }
        if let Some(rv) = &opts.resource_version
            && rv != str_field(&obj, "resourceVersion")
        {
            return Err(ApiError::conflict(
                &def.group,
                &def.plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    str_field(&obj, "resourceVersion")
                ),
            ));
        }
        let is_ns = def.group.is_empty() && def.plural == "namespaces";
        if is_ns && PROTECTED_NAMESPACES.contains(&name) {
            return Err(ApiError::forbidden(format!(
                "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
            ))
            .with_details("", "namespaces", name));
        }
        let mut fins = finalizers(&obj);
        match opts.propagation.as_deref() {
            Some("Foreground") => {
                if !fins.iter().any(|f| f == FOREGROUND) {
                    fins.push(FOREGROUND.to_owned());
                }
                fins.retain(|f| f != ORPHAN);
            }
            Some("Orphan") => {
                if !fins.iter().any(|f| f == ORPHAN) {
                    fins.push(ORPHAN.to_owned());
                }
                fins.retain(|f| f != FOREGROUND);
            }
            Some("Background") | None => {}
            Some(other) => {
                return Err(ApiError::invalid(
                    "DeleteOptions",
                    "meta.k8s.io",
                    "",
                    vec![cause(
                        "FieldValueNotSupported",
                        "propagationPolicy",
                        format!(
                            "Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
                        ),
                    )],
                ));
            }
        }
        if opts.dry_run {
            return Ok(Self::render(def, &obj));
        }
        let deferred = !fins.is_empty() || is_ns;
        if !deferred {
            let gone = self.remove(&key).unwrap_or(obj);
            self.gc();
            return Ok(Self::render(def, &gone));
        }
        let changed = !is_deleting(&obj) || fins != finalizers(&obj);
        if changed {
            set_finalizers(&mut obj, &fins);
            if !is_deleting(&obj) {
                let m = meta_mut(&mut obj);
                m.insert("deletionTimestamp".into(), Value::String(util::now()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
                if let Some(g) = m.get("generation").and_then(Value::as_i64) {
                    m.insert("generation".into(), json!(g + 1));
                }
            }
            if is_ns {
                obj["status"] = json!({"phase": "Terminating"});
            }
            if def.group == "apiextensions.k8s.io" && def.plural == "customresourcedefinitions" {
                // Adds the Terminating condition; the CRD itself was valid when stored.
                let before = obj.clone();
                let _ = self.prepare_crd(&mut obj, Some(&before));
            }
            self.commit(&key, obj, EventType::Modified);
        }
        self.gc();
        Ok(self.objects.get(&key).map_or_else(
            || {
                let mut o = json!({"metadata": {"name": name}});
                if def.namespaced {
                    o["metadata"]["namespace"] = json!(ns);
                }
                Self::render(def, &o)
            },
            |o| Self::render(def, o),
        ))
    }
}

/// The 409 of a failed uid precondition: etcd3's `Preconditions.Check` error
/// (`StorageError` with `ErrCodeInvalidObj`), wrapped by `InterpretUpdateError` /
/// `InterpretDeleteError` in a Conflict.
fn uid_precondition_failed(def: &ResourceDef, key: &ObjectKey, want: &str, have: &str) -> ApiError {
    let group = if def.crd.is_some() {
        format!("{}/", def.group)
    } else {
        String::new()
    };
    let ns = if key.namespace.is_empty() {
        String::new()
    } else {
        format!("{}/", key.namespace)
    };
    ApiError::conflict(
        &def.group,
        &def.plural,
        &key.name,
        &format!(
            "StorageError: invalid object, Code: 4, Key: /registry/{group}{}/{ns}{}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: {want}, UID in object meta: {have}",
            def.plural, key.name
        ),
    )
}

/// etcd3 `store.Create` refuses a set version (`ErrResourceVersionSetOnCreate`); no error
/// interpretation maps it, so the client sees a plain 500. A value that does not parse as a
/// version is ignored, as `APIObjectVersioner.ObjectResourceVersion` fails on it and the
/// check is skipped.
fn refuse_version_on_create(meta: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    if meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|v| v != 0)
    {
        return Err(ApiError::new(
            500,
            "",
            "resourceVersion should not be set on objects to be created",
        ));
    }
    Ok(())
}
