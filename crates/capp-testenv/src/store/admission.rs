//! Admission of a written object: type and metadata validation, built-in decoding and
//! defaults, and CRD schema admission (pruning, defaulting, validation, CEL).

use super::{
    ApiError, Cause, FOREGROUND, FieldValidation, ORPHAN, ResourceDef, State, Value, WriteOpts,
    cause, is_deleting, json, meta, meta_mut, schema, str_field,
};
use crate::names;

impl State {
    // ---------------------------------------------------------------- validation

    pub(super) fn check_type(def: &ResourceDef, body: &Value) -> Result<(), ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        let kind = body["kind"].as_str().unwrap_or_default();
        if !kind.is_empty() && kind != def.kind {
            return Err(ApiError::bad_request(format!(
                "the kind of the object ({kind}) does not match the kind of the resource ({})",
                def.kind
            )));
        }
        let av = body["apiVersion"].as_str().unwrap_or_default();
        if !av.is_empty() {
            let group = av.rsplit_once('/').map_or("", |(g, _)| g);
            if group != def.group {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({av}) does not match the expected API version ({})",
                    def.api_version()
                )));
            }
        }
        Ok(())
    }

    pub(super) fn validate_meta(def: &ResourceDef, obj: &Value) -> Vec<Cause> {
        let mut causes = Vec::new();
        let name = str_field(obj, "name");
        let ok = if def.group == "rbac.authorization.k8s.io" {
            names::path_segment_name(name, false).is_empty()
        } else if def.plural == "namespaces" {
            names::dns1123_label(name).is_empty()
        } else {
            names::dns1123_subdomain(name).is_empty()
        };
        if !ok {
            let why = if def.plural == "namespaces" {
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
            } else {
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            };
            causes.push(cause(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": {why}"),
            ));
        }
        if let Some(labels) = meta(obj)["labels"].as_object() {
            for (k, v) in labels {
                if !names::qualified_name(k).is_empty() {
                    causes.push(cause("FieldValueInvalid", "metadata.labels", format!("Invalid value: \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.'")));
                }
                match v.as_str() {
                    Some(s) if names::label_value(s).is_empty() => {}
                    _ => causes.push(cause("FieldValueInvalid", "metadata.labels", format!("Invalid value: {v}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))),
                }
            }
        } else if !meta(obj)["labels"].is_null() {
            causes.push(cause(
                "FieldValueTypeInvalid",
                "metadata.labels",
                "Invalid value: must be a map of strings",
            ));
        }
        if let Some(ann) = meta(obj)["annotations"].as_object() {
            for (k, v) in ann {
                if !names::qualified_name(k).is_empty() || !v.is_string() {
                    causes.push(cause(
                        "FieldValueInvalid",
                        "metadata.annotations",
                        format!("Invalid value: \"{k}\": annotations must be string to string"),
                    ));
                }
            }
        }
        for (i, f) in meta(obj)["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ok = f.as_str().is_some_and(|s| {
                names::qualified_name(s).is_empty()
                    && (s.contains('/')
                        || [FOREGROUND, ORPHAN, "kubernetes"].contains(&s)
                        || s.contains('.'))
            });
            if !ok {
                causes.push(cause("FieldValueInvalid", &format!("metadata.finalizers[{i}]"), format!("Invalid value: {f}: name is neither a standard finalizer name nor is it fully qualified")));
            }
        }
        for (i, r) in meta(obj)["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            for f in ["apiVersion", "kind", "name", "uid"] {
                if r[f].as_str().is_none_or(str::is_empty) {
                    causes.push(cause(
                        "FieldValueRequired",
                        &format!("metadata.ownerReferences[{i}].{f}"),
                        "Required value",
                    ));
                }
            }
        }
        // `ValidateOwnerReferences` (apimachinery/pkg/api/validation/objectmeta.go).
        let refs = &meta(obj)["ownerReferences"];
        let mut first_controller: Option<String> = None;
        for r in refs.as_array().into_iter().flatten() {
            if r["controller"].as_bool() != Some(true) {
                continue;
            }
            let this = format!("{}/{}", str_of(r, "kind"), str_of(r, "name"));
            match &first_controller {
                Some(first) => causes.push(cause(
                    "FieldValueInvalid",
                    "metadata.ownerReferences",
                    format!(
                        "Invalid value: {refs}: Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"
                    ),
                )),
                None => first_controller = Some(this),
            }
        }
        causes
    }

    /// Decodes built-in kinds into their types: wrong types are a 400, unknown fields are
    /// rejected, warned about or dropped per `fieldValidation`. Returns warnings.
    pub(super) fn decode_builtin(
        def: &ResourceDef,
        obj: &mut Value,
        opts: &WriteOpts,
    ) -> Result<Vec<String>, ApiError> {
        if def.crd.is_some() {
            return Ok(Vec::new());
        }
        let name = str_field(obj, "name").to_owned();
        let unknown = match crate::builtin::check(&def.group, &def.plural, obj) {
            Ok(Some(u)) => u,
            Ok(None) => return Ok(Vec::new()),
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}: {e}",
                    def.kind, def.version, def.kind
                )));
            }
        };
        if unknown.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = unknown
            .iter()
            .map(|u| format!("unknown field \"{}\"", u.display))
            .collect();
        if opts.field_validation == FieldValidation::Strict {
            return Err(ApiError::bad_request(format!(
                "{} \"{name}\": strict decoding error: {}",
                def.kind,
                list.join(", ")
            )));
        }
        crate::builtin::prune(obj, &unknown);
        Ok(if opts.field_validation == FieldValidation::Warn {
            list
        } else {
            Vec::new()
        })
    }

    /// Schema admission for custom resources; returns warnings.
    pub(super) fn admit(
        def: &ResourceDef,
        obj: &mut Value,
        old: Option<&Value>,
        opts: &WriteOpts,
    ) -> Result<Vec<String>, ApiError> {
        let mut warnings = Vec::new();
        let Some(schema) = &def.schema else {
            return Ok(warnings);
        };
        let name = str_field(obj, "name").to_owned();
        let admitted = schema
            .admit(obj, old)
            .map_err(schema::causes)
            .map_err(|causes| ApiError::invalid(&def.kind, &def.group, &name, causes))?;
        // Rule failures on values the update left unchanged are let through (ratcheting) and
        // reported as warnings, whatever the fieldValidation mode.
        warnings.extend(admitted.warnings);
        let pruned = admitted.pruned;
        if pruned.is_empty() {
            return Ok(warnings);
        }
        let unknown = pruned.iter().map(|p| format!("unknown field \"{p}\""));
        match opts.field_validation {
            FieldValidation::Strict => {
                return Err(ApiError::bad_request(format!(
                    "{}.{} \"{name}\": strict decoding error: {}",
                    def.kind,
                    def.group,
                    unknown.collect::<Vec<_>>().join(", ")
                )));
            }
            FieldValidation::Warn => warnings.extend(unknown),
            FieldValidation::Ignore => {}
        }
        Ok(warnings)
    }

    /// Type-specific server behaviour for built-ins (namespaces, secrets, CRDs).
    pub(super) fn builtin_defaults(
        &self,
        def: &ResourceDef,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        match (def.group.as_str(), def.plural.as_str()) {
            ("", "namespaces") => {
                let name = str_field(obj, "name").to_owned();
                let labels = meta_mut(obj).entry("labels").or_insert_with(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("kubernetes.io/metadata.name".into(), Value::String(name));
                }
                if old.is_none() {
                    obj["spec"] = json!({"finalizers": ["kubernetes"]});
                }
                let phase = if is_deleting(obj) {
                    "Terminating"
                } else {
                    "Active"
                };
                obj["status"] = json!({"phase": phase});
            }
            ("", "secrets") => {
                if let Some(sd) = obj.get("stringData").and_then(Value::as_object).cloned() {
                    use base64::Engine as _;
                    if !obj["data"].is_object() {
                        obj["data"] = json!({});
                    }
                    for (k, v) in sd {
                        let s = v.as_str().unwrap_or_default();
                        obj["data"][k] =
                            Value::String(base64::engine::general_purpose::STANDARD.encode(s));
                    }
                    if let Some(m) = obj.as_object_mut() {
                        m.remove("stringData");
                    }
                }
                if obj["type"].is_null() {
                    obj["type"] = json!("Opaque");
                }
            }
            ("apiextensions.k8s.io", "customresourcedefinitions") => self.prepare_crd(obj, old)?,
            _ => {}
        }
        // Go declares these kinds' `spec` and `status` as plain structs, which `omitempty`
        // never drops: the real server always answers with at least `{}` for them, and
        // clients may rely on it (kube-lease-manager creates a Lease without a spec).
        let (spec, status) = match (def.group.as_str(), def.plural.as_str()) {
            ("coordination.k8s.io", "leases") => (true, false),
            ("", "services" | "pods" | "nodes") | ("apps", "deployments") => (true, true),
            _ => (false, false),
        };
        if let Some(map) = obj.as_object_mut() {
            if spec && map.get("spec").is_none_or(Value::is_null) {
                map.insert("spec".to_owned(), json!({}));
            }
            if status && map.get("status").is_none_or(Value::is_null) {
                map.insert("status".to_owned(), json!({}));
            }
        }
        Ok(())
    }
}

fn str_of<'a>(v: &'a Value, f: &str) -> &'a str {
    v[f].as_str().unwrap_or_default()
}
