//! OpenAPI value validation (as kube-openapi's validator reports it through apiextensions),
//! `x-kubernetes-list-type` uniqueness and CEL rule evaluation.

use std::collections::HashMap;

use serde_json::Value;

use super::FieldCause;
use super::cel::{CelEnv, Site};
use super::compile::json_type_name;
use super::errors::{self, child, index, quote};
use super::node::{Bound, ListType, Node, Type};
use super::objectmeta;

/// Validates values against compiled nodes; `cel` is `None` to skip CEL rules.
pub(crate) struct Validator<'a> {
    pub(crate) cel: Option<&'a CelEnv>,
}

impl Validator<'_> {
    /// Validates a whole resource: OpenAPI validations and list types first, then CEL rules,
    /// the order in which the real server reports them.
    ///
    /// As upstream (`customResourceStrategy.Validate`/`ValidateUpdate`), the rules are not
    /// evaluated at all when the schema validation already found an error that makes the
    /// object unsafe to evaluate ([`blocks_cel`]: a type, required, enum, length or size
    /// error anywhere in the object); one [`errors::rules_not_checked`] cause is added
    /// instead, and only when the schema has rules.
    ///
    /// Failures of rules on values that did not change (and that do not use `oldSelf`) are
    /// ratcheted into `warnings`.
    pub(crate) fn validate_root(
        &self,
        root: &Node,
        obj: &Value,
        old: Option<&Value>,
        causes: &mut Vec<FieldCause>,
        warnings: &mut Vec<FieldCause>,
    ) {
        self.openapi(root, obj, old, "", causes);
        objectmeta::validate(root, obj, "", causes);
        let Some(cel) = self.cel else {
            return;
        };
        if !root.has_rules_below {
            // Upstream builds no CEL validator for a schema without rules.
            return;
        }
        if causes.iter().any(blocks_cel) {
            causes.push(errors::rules_not_checked());
            return;
        }
        let site = Site {
            path: "",
            is_root: true,
            unchanged: false,
        };
        cel_walk(cel, root, obj, old, site, causes, warnings);
    }

    /// Validates any value (not a resource root, e.g. a `default`) against `node`.
    ///
    /// CEL rules run only when the OpenAPI validation found nothing at all, as upstream
    /// validates a `default`: no [`errors::rules_not_checked`] cause is added.
    pub(crate) fn validate_value(
        &self,
        node: &Node,
        value: &Value,
        old: Option<&Value>,
        path: &str,
        causes: &mut Vec<FieldCause>,
    ) {
        let before = causes.len();
        self.openapi(node, value, old, path, causes);
        objectmeta::validate(node, value, path, causes);
        if causes.len() > before {
            return;
        }
        if let Some(cel) = self.cel {
            let site = Site {
                path,
                is_root: false,
                unchanged: false,
            };
            cel_walk(cel, node, value, old, site, causes, &mut Vec::new());
        }
    }

    /// OpenAPI validation of `value` at `path`. `old` is the correlated old value on update:
    /// where it equals the new value, the subtree is not validated (validation ratcheting,
    /// on by default since Kubernetes 1.30, lets unchanged invalid values stay).
    fn openapi(
        &self,
        node: &Node,
        value: &Value,
        old: Option<&Value>,
        path: &str,
        causes: &mut Vec<FieldCause>,
    ) {
        if old.is_some_and(|o| json_eq(o, value)) {
            return;
        }
        if value.is_null() {
            if !node.nullable {
                if let Some(t) = node.ty {
                    causes.push(type_error(path, "null", t.name()));
                } else if node.int_or_string {
                    causes.push(type_error(path, "null", "integer,string"));
                }
            }
            return;
        }
        if node.int_or_string {
            if !(value.is_string() || is_integer(value)) {
                causes.push(type_error(path, json_type_name(value), "integer,string"));
                return;
            }
        } else if let Some(t) = node.ty
            && !has_type(value, t)
        {
            causes.push(type_error(path, json_type_name(value), t.name()));
            return;
        }

        if let Some(allowed) = &node.enumeration
            && !allowed.iter().any(|a| json_eq(a, value))
        {
            causes.push(errors::not_supported(path, value, allowed));
        }

        match value {
            Value::String(s) => string_checks(node, s, value, path, causes),
            Value::Number(n) => {
                if let Some(f) = n.as_f64() {
                    number_checks(node, f, value, path, causes);
                }
            }
            Value::Array(items) => {
                self.array_checks(node, items, old, path, causes);
            }
            Value::Object(map) => {
                for key in &node.required {
                    if !map.contains_key(key) {
                        causes.push(errors::required(&child(path, key), ""));
                    }
                }
                if let Some(max) = node.max_properties
                    && map.len() as u64 > max
                {
                    causes.push(errors::too_many(path, map.len(), max));
                }
                if let Some(min) = node.min_properties
                    && (map.len() as u64) < min
                {
                    causes.push(errors::invalid_value(
                        path,
                        &Value::from(map.len()),
                        &format!("{path} in body should have at least {min} properties"),
                    ));
                }
                let old_map = old.and_then(Value::as_object);
                for (k, v) in map {
                    let old_v = old_map.and_then(|m| m.get(k));
                    if let Some(prop) = node.properties.get(k) {
                        self.openapi(prop, v, old_v, &child(path, k), causes);
                    } else if let Some(add) = node.additional.as_deref() {
                        self.openapi(add, v, old_v, &child(path, k), causes);
                    }
                }
            }
            Value::Bool(_) | Value::Null => {}
        }

        self.junctors(node, value, path, causes);
    }

    fn array_checks(
        &self,
        node: &Node,
        items: &[Value],
        old: Option<&Value>,
        path: &str,
        causes: &mut Vec<FieldCause>,
    ) {
        if let Some(max) = node.max_items
            && items.len() as u64 > max
        {
            causes.push(errors::too_many(path, items.len(), max));
        }
        if let Some(min) = node.min_items
            && (items.len() as u64) < min
        {
            causes.push(errors::invalid_value(
                path,
                &Value::from(items.len()),
                &format!("{path} in body should have at least {min} items"),
            ));
        }
        if node.unique_items && has_duplicates(items) {
            causes.push(errors::duplicate_rendered(
                path,
                &errors::render(&Value::Array(items.to_vec())),
            ));
        }
        if let Some(item_node) = node.items.as_deref() {
            let old_items = old.and_then(Value::as_array).map(Vec::as_slice);
            for (i, item) in items.iter().enumerate() {
                let old_item = correlate(&node.list_type, old_items, item);
                self.openapi(item_node, item, old_item, &index(path, i), causes);
            }
        }
        match &node.list_type {
            ListType::Atomic => {}
            ListType::Set => {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].iter().any(|earlier| json_eq(earlier, item)) {
                        causes.push(errors::duplicate_rendered(
                            &index(path, i),
                            &errors::render(item),
                        ));
                    }
                }
            }
            ListType::Map(keys) => {
                let mut seen: Vec<Value> = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let Some(key) = map_key(item, keys) else {
                        continue;
                    };
                    if seen.iter().any(|k| json_eq(k, &key)) {
                        causes.push(errors::duplicate_rendered(
                            &index(path, i),
                            &key.to_string(),
                        ));
                    } else {
                        seen.push(key);
                    }
                }
            }
        }
    }

    /// `anyOf`, `oneOf`, `allOf` and `not`, reported as kube-openapi's composite errors are:
    /// they are not field errors, so the server files them under the object itself (`<nil>`
    /// field, empty bad value) with the quoted path in the message; the failures of the
    /// closest alternative are merged in, as upstream does.
    fn junctors(&self, node: &Node, value: &Value, path: &str, causes: &mut Vec<FieldCause>) {
        let run = |sub: &Node| {
            let mut found = Vec::new();
            self.openapi(sub, value, None, path, &mut found);
            found
        };
        let composite = |message: String| errors::invalid_rendered("", "\"\"", &message);
        let shown = quote(path);

        if !node.any_of.is_empty() {
            let results: Vec<Vec<FieldCause>> = node.any_of.iter().map(run).collect();
            if results.iter().all(|r| !r.is_empty()) {
                causes.push(composite(format!(
                    "{shown} must validate at least one schema (anyOf)"
                )));
                if let Some(best) = results.into_iter().min_by_key(Vec::len) {
                    causes.extend(best);
                }
            }
        }
        if !node.one_of.is_empty() {
            let results: Vec<Vec<FieldCause>> = node.one_of.iter().map(run).collect();
            let valid = results.iter().filter(|r| r.is_empty()).count();
            if valid != 1 {
                let detail = if valid == 0 {
                    "Found none valid".to_owned()
                } else {
                    format!("Found {valid} valid alternatives")
                };
                causes.push(composite(format!(
                    "{shown} must validate one and only one schema (oneOf). {detail}"
                )));
                if valid == 0
                    && let Some(best) = results.into_iter().min_by_key(Vec::len)
                {
                    causes.extend(best);
                }
            }
        }
        if !node.all_of.is_empty() {
            let mut validated = 0;
            for sub in &node.all_of {
                let found = run(sub);
                if found.is_empty() {
                    validated += 1;
                }
                causes.extend(found);
            }
            if validated != node.all_of.len() {
                let suffix = if validated == 0 {
                    ". None validated"
                } else {
                    ""
                };
                causes.push(composite(format!(
                    "{shown} must validate all the schemas (allOf){suffix}"
                )));
            }
        }
        if let Some(not) = node.not.as_deref()
            && run(not).is_empty()
        {
            causes.push(composite(format!(
                "{shown} must not validate the schema (not)"
            )));
        }
    }
}

/// Whether a schema validation error stops the CEL rules from being evaluated: upstream
/// `hasBlockingErr` treats "OpenAPIv3 type/maxLength/maxItems/maxProperties/required/enum
/// violation/wrong type" failures (`NotSupported`, `Required`, `TooLong`, `TooMany`,
/// `TypeInvalid`) as blocking; `Invalid` (pattern, minimum, minLength...), `Duplicate` and
/// `Forbidden` are not.
pub(crate) fn blocks_cel(cause: &FieldCause) -> bool {
    matches!(
        cause.reason.as_str(),
        "FieldValueNotSupported"
            | "FieldValueRequired"
            | "FieldValueTooLong"
            | "FieldValueTooMany"
            | "FieldValueTypeInvalid"
    )
}

fn type_error(path: &str, actual: &str, want: &str) -> FieldCause {
    errors::type_invalid(
        path,
        &quote(actual),
        &format!("{path} in body must be of type {want}: {}", quote(actual)),
    )
}

fn string_checks(node: &Node, s: &str, value: &Value, path: &str, causes: &mut Vec<FieldCause>) {
    let len = s.chars().count() as u64;
    if let Some(max) = node.max_length
        && len > max
    {
        causes.push(errors::too_long(path, max));
    }
    if let Some(min) = node.min_length
        && len < min
    {
        causes.push(errors::invalid_value(
            path,
            value,
            &format!("{path} in body should be at least {min} chars long"),
        ));
    }
    if let Some((source, re)) = &node.pattern
        && !re.is_match(s)
    {
        causes.push(errors::invalid_value(
            path,
            value,
            &format!("{path} in body should match '{source}'"),
        ));
    }
    if let Some(format) = &node.format
        && !super::formats::format_ok(format, s)
    {
        causes.push(errors::type_invalid(
            path,
            &quote(s),
            &format!("{path} in body must be of type {format}: {}", quote(s)),
        ));
    }
}

fn number_checks(node: &Node, f: f64, value: &Value, path: &str, causes: &mut Vec<FieldCause>) {
    if let Some(m) = node.multiple_of
        && m > 0.0
        && ((f / m) - (f / m).round()).abs() > 1e-9
    {
        causes.push(errors::invalid_value(
            path,
            value,
            &format!("{path} in body should be a multiple of {}", fmt_f64(m)),
        ));
    }
    if let Some(Bound {
        value: max,
        exclusive,
    }) = node.maximum
        && (f > max || (exclusive && f >= max))
    {
        let how = if exclusive {
            "less than"
        } else {
            "less than or equal to"
        };
        causes.push(errors::invalid_value(
            path,
            value,
            &format!("{path} in body should be {how} {}", fmt_f64(max)),
        ));
    }
    if let Some(Bound {
        value: min,
        exclusive,
    }) = node.minimum
        && (f < min || (exclusive && f <= min))
    {
        let how = if exclusive {
            "greater than"
        } else {
            "greater than or equal to"
        };
        causes.push(errors::invalid_value(
            path,
            value,
            &format!("{path} in body should be {how} {}", fmt_f64(min)),
        ));
    }
}

/// Go's `%v` of a float64 bound, for the common integral case (`10`, not `10.0`).
fn fmt_f64(f: f64) -> String {
    match serde_json::Number::from_f64(f) {
        Some(n) => errors::render_number(&n),
        None => f.to_string(),
    }
}

fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn has_type(value: &Value, t: Type) -> bool {
    match t {
        Type::Object => value.is_object(),
        Type::Array => value.is_array(),
        Type::String => value.is_string(),
        Type::Boolean => value.is_boolean(),
        Type::Number => value.is_number(),
        Type::Integer => is_integer(value),
    }
}

/// JSON equality where `1` equals `1.0`, as Go's decoded values compare in the validator.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn has_duplicates(items: &[Value]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, item)| items[..i].iter().any(|earlier| json_eq(earlier, item)))
}

/// The old item a new list item correlates with: by key in `map` lists, by value in `set`
/// lists; items of atomic lists never correlate.
fn correlate<'o>(
    list_type: &ListType,
    old: Option<&'o [Value]>,
    item: &Value,
) -> Option<&'o Value> {
    let old = old?;
    match list_type {
        ListType::Atomic => None,
        ListType::Set => old.iter().find(|o| json_eq(o, item)),
        ListType::Map(keys) => {
            let key = map_key(item, keys)?;
            old.iter()
                .find(|o| map_key(o, keys).is_some_and(|k| json_eq(&k, &key)))
        }
    }
}

/// The key of a `map` list item: an object of its list-map-key fields (missing keys absent).
fn map_key(item: &Value, keys: &[String]) -> Option<Value> {
    let obj = item.as_object()?;
    let mut key = serde_json::Map::new();
    for k in keys {
        if let Some(v) = obj.get(k) {
            key.insert(k.clone(), v.clone());
        }
    }
    Some(Value::Object(key))
}

/// Evaluates CEL rules top-down, correlating old values for transition rules.
fn cel_walk(
    cel: &CelEnv,
    node: &Node,
    value: &Value,
    old: Option<&Value>,
    site: Site<'_>,
    causes: &mut Vec<FieldCause>,
    warnings: &mut Vec<FieldCause>,
) {
    if !node.has_rules_below || value.is_null() {
        return;
    }
    let Site { path, is_root, .. } = site;
    // Ratcheting: failures of rules that do not use `oldSelf` on values that did not change
    // are warnings, not errors. Below an unchanged value, everything is unchanged.
    let unchanged = site.unchanged || old.is_some_and(|o| json_eq(o, value));
    cel.evaluate(
        node,
        value,
        old,
        Site { unchanged, ..site },
        causes,
        warnings,
    );
    match value {
        Value::Object(map) => {
            let old_map = old.and_then(Value::as_object);
            for (k, v) in map {
                if is_root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let Some(child_node) = node.child(k) else {
                    continue;
                };
                let old_child = old_map.and_then(|m| m.get(k));
                let child_path = child(path, k);
                let child_site = Site {
                    path: &child_path,
                    is_root: false,
                    unchanged,
                };
                cel_walk(cel, child_node, v, old_child, child_site, causes, warnings);
            }
        }
        Value::Array(items) => {
            let Some(item_node) = node.items.as_deref() else {
                return;
            };
            // Only items of `map` lists correlate with old items (by their keys).
            let old_by_key: Option<HashMap<String, &Value>> = match (&node.list_type, old) {
                (ListType::Map(keys), Some(Value::Array(old_items))) => Some(
                    old_items
                        .iter()
                        .filter_map(|o| map_key(o, keys).map(|k| (k.to_string(), o)))
                        .collect(),
                ),
                _ => None,
            };
            for (i, item) in items.iter().enumerate() {
                let old_item = match (&node.list_type, &old_by_key) {
                    (ListType::Map(keys), Some(by_key)) => {
                        map_key(item, keys).and_then(|k| by_key.get(&k.to_string()).copied())
                    }
                    _ => None,
                };
                let item_path = index(path, i);
                let item_site = Site {
                    path: &item_path,
                    is_root: false,
                    unchanged,
                };
                cel_walk(cel, item_node, item, old_item, item_site, causes, warnings);
            }
        }
        _ => {}
    }
}
