//! Validation of a whole `CustomResourceDefinition`, as the apiextensions strategy does it on
//! create and update.

use std::collections::BTreeSet;

use serde_json::Value;

use super::errors::{self, child, index};
use super::{CrdSchema, FieldCause};
use crate::names;

const DNS1035_MESSAGE: &str = "a DNS-1035 label must consist of lower case alphanumeric \
     characters or '-', start with an alphabetic character, and end with an alphanumeric \
     character (e.g. 'my-name',  or 'abc-123', regex used for validation is \
     '[a-z]([-a-z0-9]*[a-z0-9])?')";

const DNS1123_SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower \
     case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
     character (e.g. 'example.com', regex used for validation is \
     '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// Validates a `CustomResourceDefinition` object (`apiextensions.k8s.io/v1`, as JSON) the way
/// the real server does before accepting it:
///
/// - `metadata.name` is `<spec.names.plural>.<spec.group>`; `spec.group` is a DNS subdomain
///   with at least one dot;
/// - `spec.names`: `plural`, `singular`, `shortNames` and `categories` are DNS-1035 labels,
///   `kind` is set, `listKind` (when set) differs from `kind`;
/// - `spec.scope` is `Namespaced` or `Cluster`;
/// - `spec.versions` is non-empty with unique DNS-1035 names and exactly one `storage: true`
///   version; every version has an `openAPIV3Schema` that compiles with
///   [`CrdSchema::compile`] (structural, valid patterns, valid defaults, CEL rules compile);
/// - `additionalPrinterColumns` have a name, a supported type and a JSON path; the scale
///   subresource's paths point into `.spec` / `.status`; `spec.conversion.strategy` is
///   `None` or `Webhook`; `spec.preserveUnknownFields` is not `true`.
///
/// Every problem is returned, with paths starting at the CRD (`spec.versions[0].schema...`,
/// or `spec.validation...` when every version has the same schema).
pub fn validate_crd(crd: &Value) -> Result<(), Vec<FieldCause>> {
    let mut causes = Vec::new();
    let spec = crd.get("spec").unwrap_or(&Value::Null);
    if !spec.is_object() {
        causes.push(errors::required("spec", ""));
        return Err(causes);
    }
    let group = check_group(spec, &mut causes);
    let plural = check_names(spec, &mut causes);
    check_metadata_name(crd, group, plural, &mut causes);
    check_scope(spec, &mut causes);
    check_versions(spec, &mut causes);
    check_misc(spec, &mut causes);
    if causes.is_empty() {
        Ok(())
    } else {
        Err(causes)
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn check_group<'a>(spec: &'a Value, causes: &mut Vec<FieldCause>) -> Option<&'a str> {
    let Some(group) = str_at(spec, "group") else {
        causes.push(errors::required("spec.group", ""));
        return None;
    };
    if !is_dns1123_subdomain(group) {
        causes.push(errors::invalid_value(
            "spec.group",
            &Value::String(group.to_owned()),
            DNS1123_SUBDOMAIN_MESSAGE,
        ));
    } else if !group.contains('.') {
        causes.push(errors::invalid_value(
            "spec.group",
            &Value::String(group.to_owned()),
            "should be a domain with at least one dot",
        ));
    }
    Some(group)
}

fn check_names<'a>(spec: &'a Value, causes: &mut Vec<FieldCause>) -> Option<&'a str> {
    let names = spec.get("names").unwrap_or(&Value::Null);
    let plural = str_at(names, "plural");
    match plural {
        None => causes.push(errors::required("spec.names.plural", "")),
        Some(p) => dns1035("spec.names.plural", p, causes),
    }
    if let Some(singular) = str_at(names, "singular") {
        dns1035("spec.names.singular", singular, causes);
    }
    let kind = str_at(names, "kind");
    match kind {
        None => causes.push(errors::required("spec.names.kind", "")),
        Some(k) => dns1035_lowered("spec.names.kind", k, causes),
    }
    if let Some(list_kind) = str_at(names, "listKind") {
        dns1035_lowered("spec.names.listKind", list_kind, causes);
        if Some(list_kind) == kind {
            causes.push(errors::invalid_value(
                "spec.names.listKind",
                &Value::String(list_kind.to_owned()),
                "kind and listKind may not be the same",
            ));
        }
    }
    for key in ["shortNames", "categories"] {
        if let Some(list) = names.get(key).and_then(Value::as_array) {
            for (i, item) in list.iter().enumerate() {
                let path = index(&format!("spec.names.{key}"), i);
                match item.as_str() {
                    Some(s) => dns1035(&path, s, causes),
                    None => causes.push(errors::invalid_value(&path, item, "must be a string")),
                }
            }
        }
    }
    plural
}

fn check_metadata_name(
    crd: &Value,
    group: Option<&str>,
    plural: Option<&str>,
    causes: &mut Vec<FieldCause>,
) {
    let name = crd
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if let (Some(group), Some(plural)) = (group, plural)
        && name != format!("{plural}.{group}")
    {
        causes.push(errors::invalid_value(
            "metadata.name",
            &Value::String(name.to_owned()),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
}

fn check_scope(spec: &Value, causes: &mut Vec<FieldCause>) {
    match spec.get("scope") {
        None => causes.push(errors::required("spec.scope", "")),
        Some(Value::String(s)) if s == "Namespaced" || s == "Cluster" => {}
        Some(other) => causes.push(errors::not_supported(
            "spec.scope",
            other,
            &[Value::from("Cluster"), Value::from("Namespaced")],
        )),
    }
}

fn check_versions(spec: &Value, causes: &mut Vec<FieldCause>) {
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if versions.is_empty() {
        causes.push(errors::required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    let mut seen = BTreeSet::new();
    let mut unique = true;
    let mut storage = 0;
    // Identical per-version schemas are moved to the internal `spec.validation` by the v1
    // conversion (`Convert_v1_CustomResourceDefinitionSpec_To_apiextensions_...`), so
    // kube-apiserver validates them once and reports paths under `spec.validation`.
    let schema_of = |v: &Value| {
        v.get("schema")
            .and_then(|s| s.get("openAPIV3Schema"))
            .cloned()
    };
    let shared = versions.first().and_then(schema_of).filter(|first| {
        versions
            .iter()
            .all(|v| schema_of(v).as_ref() == Some(first))
    });
    if let Some(schema) = &shared
        && let Err(found) = CrdSchema::compile(schema)
    {
        causes.extend(found.into_iter().map(|mut c| {
            c.field.insert_str(0, "spec.validation.");
            c
        }));
    }
    for (i, version) in versions.iter().enumerate() {
        let path = index("spec.versions", i);
        match str_at(version, "name") {
            None => causes.push(errors::required(&child(&path, "name"), "")),
            Some(name) => {
                dns1035(&child(&path, "name"), name, causes);
                unique &= seen.insert(name);
            }
        }
        if version.get("storage").and_then(Value::as_bool) == Some(true) {
            storage += 1;
        }
        match version.get("schema").and_then(|s| s.get("openAPIV3Schema")) {
            None => causes.push(errors::required(
                &format!("{path}.schema.openAPIV3Schema"),
                "schemas are required",
            )),
            Some(schema) => {
                if shared.is_some() {
                    // Validated once above.
                } else if let Err(found) = CrdSchema::compile(schema) {
                    let prefix = format!("{path}.schema.");
                    causes.extend(found.into_iter().map(|mut c| {
                        c.field.insert_str(0, &prefix);
                        c
                    }));
                }
            }
        }
        check_printer_columns(version, &path, causes);
        check_scale(version, &path, causes);
    }
    // Upstream prints the whole versions list as the bad value; its names stand in for it.
    let names = Value::Array(
        versions
            .iter()
            .filter_map(|v| v.get("name").cloned())
            .collect(),
    );
    if !unique {
        causes.push(errors::invalid_value(
            "spec.versions",
            &names,
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        causes.push(errors::invalid_value(
            "spec.versions",
            &names,
            "must have exactly one version marked as storage version",
        ));
    }
}

/// The column types `additionalPrinterColumns` may declare.
const COLUMN_TYPES: [&str; 5] = ["integer", "number", "string", "boolean", "date"];

fn check_printer_columns(version: &Value, path: &str, causes: &mut Vec<FieldCause>) {
    let Some(columns) = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
    else {
        return;
    };
    for (i, column) in columns.iter().enumerate() {
        let col_path = index(&child(path, "additionalPrinterColumns"), i);
        if str_at(column, "name").is_none() {
            causes.push(errors::required(&child(&col_path, "name"), ""));
        }
        match column.get("type") {
            None => causes.push(errors::required(&child(&col_path, "type"), "")),
            Some(Value::String(t)) if COLUMN_TYPES.contains(&t.as_str()) => {}
            Some(other) => causes.push(errors::not_supported(
                &child(&col_path, "type"),
                other,
                &COLUMN_TYPES.map(Value::from),
            )),
        }
        match str_at(column, "jsonPath") {
            None => causes.push(errors::required(&child(&col_path, "jsonPath"), "")),
            Some(p) if !p.starts_with('.') => causes.push(errors::invalid_value(
                &child(&col_path, "jsonPath"),
                &Value::String(p.to_owned()),
                "must be a simple json path starting with .",
            )),
            Some(_) => {}
        }
    }
}

fn check_scale(version: &Value, path: &str, causes: &mut Vec<FieldCause>) {
    let Some(scale) = version.get("subresources").and_then(|s| s.get("scale")) else {
        return;
    };
    let scale_path = format!("{path}.subresources.scale");
    for (key, prefix, required) in [
        ("specReplicasPath", ".spec.", true),
        ("statusReplicasPath", ".status.", true),
        ("labelSelectorPath", ".", false),
    ] {
        match str_at(scale, key) {
            None => {
                if required {
                    causes.push(errors::required(&child(&scale_path, key), ""));
                }
            }
            Some(p) if !p.starts_with(prefix) => causes.push(errors::invalid_value(
                &child(&scale_path, key),
                &Value::String(p.to_owned()),
                &format!(
                    "should be a json path under {}",
                    prefix.trim_end_matches('.')
                ),
            )),
            Some(_) => {}
        }
    }
}

fn check_misc(spec: &Value, causes: &mut Vec<FieldCause>) {
    if let Some(strategy) = spec.get("conversion").and_then(|c| c.get("strategy"))
        && strategy != "None"
        && strategy != "Webhook"
    {
        causes.push(errors::not_supported(
            "spec.conversion.strategy",
            strategy,
            &[Value::from("None"), Value::from("Webhook")],
        ));
    }
    if spec.get("preserveUnknownFields").and_then(Value::as_bool) == Some(true) {
        causes.push(errors::invalid_value(
            "spec.preserveUnknownFields",
            &Value::Bool(true),
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in \
             spec.versions[*].schema instead",
        ));
    }
}

fn dns1035(path: &str, s: &str, causes: &mut Vec<FieldCause>) {
    if !is_dns1035_label(s) {
        causes.push(errors::invalid_value(
            path,
            &Value::String(s.to_owned()),
            DNS1035_MESSAGE,
        ));
    }
}

/// Kinds are CamelCase: upstream checks the lower-cased kind is a DNS-1035 label.
fn dns1035_lowered(path: &str, s: &str, causes: &mut Vec<FieldCause>) {
    if !is_dns1035_label(&s.to_lowercase()) {
        causes.push(errors::invalid_value(
            path,
            &Value::String(s.to_owned()),
            DNS1035_MESSAGE,
        ));
    }
}

fn is_dns1035_label(s: &str) -> bool {
    names::dns1035_label(s).is_empty()
}

fn is_dns1123_subdomain(s: &str) -> bool {
    names::dns1123_subdomain(s).is_empty()
}
