//! CustomResourceDefinitions: validation, status (accepted names, conditions, stored
//! versions) and registration of the resources they serve.

use super::{
    ApiError, CRD_CLEANUP, Cause, ObjectKey, State, Value, cause, finalizers, is_deleting, json,
    registry, schema, set_finalizers, str_field, util,
};

impl State {
    // ---------------------------------------------------------------- CRDs

    pub(super) fn crd_terminating(&self, crd: &str) -> bool {
        self.objects
            .get(&ObjectKey::cluster_scoped(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                crd,
            ))
            .is_some_and(|o| is_deleting(o))
    }

    /// Validates a CRD and sets its status (acceptedNames, conditions, storedVersions).
    #[allow(
        clippy::too_many_lines,
        reason = "the CRD validation and status rules, in order"
    )]
    pub(super) fn prepare_crd(&self, crd: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
        let name = str_field(crd, "name").to_owned();
        let invalid = |causes: Vec<Cause>| {
            ApiError::invalid(
                "CustomResourceDefinition",
                "apiextensions.k8s.io",
                &name,
                causes,
            )
        };
        schema::validate_crd(crd).map_err(|c| invalid(schema::causes(c)))?;
        let spec = &crd["spec"];
        // Objects are converted between versions by rewriting `apiVersion` only (the `None`
        // strategy). A CRD that asks for a conversion webhook and has versions to convert
        // between would be served wrongly, so it is refused (on create and on update) rather
        // than treated as `None`.
        if spec["conversion"]["strategy"] == "Webhook"
            && spec["versions"].as_array().is_some_and(|v| v.len() > 1)
        {
            return Err(invalid(vec![cause(
                "FieldValueNotSupported",
                "spec.conversion.strategy",
                "Unsupported value: \"Webhook\": capp-testenv does not call conversion webhooks (it would only rewrite apiVersion, not convert between this CRD's versions); install one version (for capp's kinds: capp_api::crds() or capp_api::v1beta2::crds_v1beta2_only()), use the None strategy for versions that differ only in apiVersion, or test conversion against the real kube-apiserver with capp-envtest",
            )]));
        }
        let group = spec["group"].as_str().unwrap_or_default().to_owned();
        let plural = spec["names"]["plural"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let kind = spec["names"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut causes = Vec::new();
        if group.is_empty() || !group.contains('.') {
            causes.push(cause(
                "FieldValueInvalid",
                "spec.group",
                format!("Invalid value: \"{group}\": should be a domain with at least one dot"),
            ));
        }
        if plural.is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                "spec.names.plural",
                "Required value",
            ));
        }
        if kind.is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                "spec.names.kind",
                "Required value",
            ));
        }
        if name != format!("{plural}.{group}") {
            causes.push(cause(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
            ));
        }
        if !matches!(spec["scope"].as_str(), Some("Namespaced" | "Cluster")) {
            causes.push(cause(
                "FieldValueNotSupported",
                "spec.scope",
                "Unsupported value: supported values: \"Cluster\", \"Namespaced\"",
            ));
        }
        let versions = spec["versions"].as_array().cloned().unwrap_or_default();
        if versions.is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                "spec.versions",
                "Required value: must have exactly one version marked as storage version",
            ));
        } else if versions
            .iter()
            .filter(|v| v["storage"] == Value::Bool(true))
            .count()
            != 1
        {
            causes.push(cause(
                "FieldValueInvalid",
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            ));
        }
        if !causes.is_empty() {
            return Err(invalid(causes));
        }
        if let Some(o) = old
            && (o["spec"]["group"] != spec["group"]
                || o["spec"]["names"]["plural"] != spec["names"]["plural"])
        {
            return Err(invalid(vec![cause(
                "FieldValueInvalid",
                "spec.group",
                "Invalid value: field is immutable",
            )]));
        }
        registry::from_crd(crd).map_err(invalid)?;
        // Names: conflicts with other served resources in the same group.
        let conflict = self.defs.iter().find(|d| {
            d.group == group
                && d.crd.as_deref() != Some(name.as_str())
                && (d.plural == plural || d.kind == kind)
        });
        let mut accepted = spec["names"].clone();
        if accepted["singular"].as_str().is_none_or(str::is_empty) {
            accepted["singular"] = json!(kind.to_lowercase());
        }
        if accepted["listKind"].as_str().is_none_or(str::is_empty) {
            accepted["listKind"] = json!(format!("{kind}List"));
        }
        let now = util::now();
        let prev = old.map_or(Value::Null, |o| o["status"]["conditions"].clone());
        let cond = |t: &str, ok: bool, reason: &str, msg: &str| {
            let status = if ok { "True" } else { "False" };
            let ltt = prev
                .as_array()
                .and_then(|a| a.iter().find(|c| c["type"] == t && c["status"] == status))
                .map_or_else(|| json!(now), |c| c["lastTransitionTime"].clone());
            json!({"type": t, "status": status, "lastTransitionTime": ltt, "reason": reason, "message": msg})
        };
        let mut conditions = match conflict {
            None => vec![
                cond("NamesAccepted", true, "NoConflicts", "no conflicts found"),
                cond(
                    "Established",
                    true,
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                ),
            ],
            Some(d) => vec![
                cond(
                    "NamesAccepted",
                    false,
                    if d.plural == plural {
                        "PluralConflict"
                    } else {
                        "KindConflict"
                    },
                    &format!("\"{plural}\" or \"{kind}\" is already in use"),
                ),
                cond(
                    "Established",
                    false,
                    "NotAccepted",
                    "not all names are accepted",
                ),
            ],
        };
        if is_deleting(crd) {
            conditions.push(cond(
                "Terminating",
                true,
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
            ));
        }
        let mut stored: Vec<String> = old
            .and_then(|o| o["status"]["storedVersions"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(sv) = registry::storage_version(crd)
            && !stored.contains(&sv)
        {
            stored.push(sv);
        }
        crd["status"] = json!({
            "acceptedNames": if conflict.is_none() { accepted } else { json!({"plural": "", "kind": ""}) },
            "conditions": conditions,
            "storedVersions": stored,
        });
        if old.is_none() {
            let mut f = finalizers(crd);
            if !f.iter().any(|x| x == CRD_CLEANUP) {
                f.push(CRD_CLEANUP.to_owned());
            }
            set_finalizers(crd, &f);
        }
        Ok(())
    }

    /// (Re)registers the resources a stored CRD serves.
    pub(super) fn register_crd(&mut self, crd: &Value) {
        let name = str_field(crd, "name").to_owned();
        let established = crd["status"]["conditions"].as_array().is_some_and(|a| {
            a.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        });
        self.defs
            .retain(|d| d.crd.as_deref() != Some(name.as_str()));
        if !established {
            return;
        }
        if let Ok(defs) = registry::from_crd(crd) {
            self.defs.extend(defs);
        }
    }
}
