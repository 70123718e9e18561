//! The OpenAPI-level checks of a CRD schema: keywords, list and map types, CEL rule shape
//! (`ValidateCustomResourceDefinitionOpenAPISchema`).

use serde_json::{Map, Value};

use super::values::{is_zero, uses_old_self};
use super::{
    BTreeSet, Checker, Ctx, KNOWN_KEYS, OPENAPI_TYPES, Rule, STATUS_ROOT_KEYS, VALIDATION_REASONS,
    additional_schema, child, flag, forbidden, index, invalid, is_scalar_type, items_schema, key,
    list, not_supported, present, props, required, ty, violation,
};

impl Checker {
    pub(super) fn push(&mut self, path: &str, rule: Rule, message: String) {
        self.out.push(violation(path.to_owned(), rule, message));
    }

    pub(super) fn status_root(&mut self, schema: &Value, base: &str) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        if present(schema, "type") && ty(schema) != "object" {
            self.push(
                &child(base, "type"),
                Rule::StatusSubresource,
                invalid(
                    schema.get("type").unwrap_or(&Value::Null),
                    "only \"object\" is allowed as the type at the root of the schema if the \
                     status subresource is enabled",
                ),
            );
        }
        let allowed: BTreeSet<&str> = STATUS_ROOT_KEYS.iter().map(|(k, _)| *k).collect();
        if obj
            .iter()
            .any(|(k, v)| !allowed.contains(k.as_str()) && !is_zero(v))
        {
            let names: Vec<&str> = STATUS_ROOT_KEYS.iter().map(|(_, go)| *go).collect();
            self.push(
                base,
                Rule::StatusSubresource,
                invalid(
                    &Value::String("openAPIV3Schema".to_owned()),
                    &format!(
                        "only [{}] fields are allowed at the root of the schema if the status \
                         subresource is enabled",
                        names.join(" ")
                    ),
                ),
            );
        }
    }

    /// The OpenAPI v3 rules of `ValidateCustomResourceDefinitionOpenAPISchema`.
    #[allow(
        clippy::too_many_lines,
        reason = "mirrors the apiserver function rule by rule, which keeps it reviewable against it"
    )]
    pub(super) fn openapi(&mut self, s: &Value, path: &str, ctx: &Ctx, is_root: bool) {
        let Some(obj) = s.as_object() else {
            self.push(path, Rule::Malformed, invalid(s, "must be a schema object"));
            return;
        };
        self.keywords(obj, path);
        self.standard(s, path, ctx);

        if flag(s, "uniqueItems") {
            self.push(
                &child(path, "uniqueItems"),
                Rule::UniqueItems,
                forbidden("uniqueItems cannot be set to true since the runtime complexity becomes quadratic"),
            );
        }

        if let Some(ap) = s.get("additionalProperties") {
            let has_props = props(s).is_some_and(|p| !p.is_empty());
            if ap == &Value::Bool(false) {
                self.push(
                    &child(path, "additionalProperties"),
                    Rule::AdditionalProperties,
                    forbidden("additionalProperties cannot be set to false"),
                );
            }
            if has_props && (ap == &Value::Bool(false) || ap.is_object()) {
                self.push(
                    &child(path, "additionalProperties"),
                    Rule::AdditionalProperties,
                    forbidden("additionalProperties and properties are mutual exclusive"),
                );
            }
            if let Some(sub) = additional_schema(s) {
                let sub_ctx = if ctx.inside_resource_meta {
                    ctx.forbid_defaults(
                        "inside additionalProperties applying to object metadata".to_owned(),
                    )
                } else {
                    ctx.clone()
                };
                self.openapi(sub, &child(path, "additionalProperties"), &sub_ctx, false);
            }
        }

        if let Some(p) = props(s) {
            let embedded = flag(s, "x-kubernetes-embedded-resource");
            let map_correlatable = s
                .get("x-kubernetes-map-type")
                .and_then(Value::as_str)
                .is_none_or(|t| t == "granular");
            for (name, sub) in p {
                let mut sub_ctx = if map_correlatable {
                    ctx.clone()
                } else {
                    ctx.uncorrelatable_at(path)
                };
                if (is_root || embedded)
                    && matches!(name.as_str(), "metadata" | "kind" | "apiVersion")
                {
                    sub_ctx.inside_resource_meta = true;
                    if is_root {
                        sub_ctx = sub_ctx.forbid_defaults(format!("in top-level {name}"));
                    }
                }
                self.openapi(sub, &key(&child(path, "properties"), name), &sub_ctx, false);
            }
        }

        if let Some(not) = s.get("not") {
            self.openapi(not, &child(path, "not"), ctx, false);
        }
        for junctor in ["allOf", "oneOf", "anyOf"] {
            for (i, sub) in list(s, junctor).iter().enumerate() {
                self.openapi(sub, &index(&child(path, junctor), i), ctx, false);
            }
        }
        if let Some(defs) = s.get("definitions").and_then(Value::as_object) {
            for (name, sub) in defs {
                self.openapi(sub, &key(&child(path, "definitions"), name), ctx, false);
            }
        }
        if let Some(items) = s.get("items") {
            let list_type = s.get("x-kubernetes-list-type").and_then(Value::as_str);
            let sub_ctx = if list_type == Some("map") {
                ctx.clone()
            } else {
                ctx.uncorrelatable_at(path)
            };
            match items {
                Value::Array(many) => {
                    for (i, sub) in many.iter().enumerate() {
                        self.openapi(sub, &index(&child(path, "items"), i), &sub_ctx, false);
                    }
                }
                one => self.openapi(one, &child(path, "items"), &sub_ctx, false),
            }
        }
        if let Some(deps) = s.get("dependencies").and_then(Value::as_object) {
            for (name, sub) in deps {
                if sub.is_object() {
                    self.openapi(sub, &key(&child(path, "dependencies"), name), ctx, false);
                }
            }
        }

        if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
            self.push(
                &child(path, "x-kubernetes-preserve-unknown-fields"),
                Rule::PreserveUnknownFields,
                invalid(&Value::Bool(false), "must be true or undefined"),
            );
        }
        self.enum_null(s, path);
        self.map_type(s, path);
        self.list_type(s, path);
        self.validations(s, path, ctx);
    }

    /// Unknown keys and keywords with a value of the wrong JSON type.
    pub(super) fn keywords(&mut self, obj: &Map<String, Value>, path: &str) {
        for (k, v) in obj {
            if !KNOWN_KEYS.contains(&k.as_str()) {
                self.push(
                    &child(path, k),
                    Rule::Malformed,
                    format!("unknown field {k:?}"),
                );
                continue;
            }
            let ok = match k.as_str() {
                "type"
                | "description"
                | "format"
                | "title"
                | "pattern"
                | "id"
                | "$schema"
                | "$ref"
                | "x-kubernetes-list-type"
                | "x-kubernetes-map-type" => v.is_string(),
                "maximum" | "minimum" | "multipleOf" => v.is_number(),
                "maxLength" | "minLength" | "maxItems" | "minItems" | "maxProperties"
                | "minProperties" => v.as_u64().is_some(),
                "exclusiveMaximum"
                | "exclusiveMinimum"
                | "uniqueItems"
                | "nullable"
                | "x-kubernetes-preserve-unknown-fields"
                | "x-kubernetes-embedded-resource"
                | "x-kubernetes-int-or-string" => v.is_boolean(),
                "required" | "x-kubernetes-list-map-keys" => {
                    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                }
                "enum" | "allOf" | "oneOf" | "anyOf" | "x-kubernetes-validations" => v.is_array(),
                "properties" | "patternProperties" | "definitions" | "dependencies" | "not"
                | "externalDocs" => v.is_object(),
                "items" | "additionalProperties" | "additionalItems" => {
                    v.is_object() || v.is_array() || v.is_boolean()
                }
                _ => true,
            };
            if !ok && !v.is_null() {
                self.push(
                    &child(path, k),
                    Rule::Malformed,
                    invalid(v, "has the wrong JSON type"),
                );
            }
        }
    }

    /// The Go `specStandardValidatorV3.validate`.
    pub(super) fn standard(&mut self, s: &Value, path: &str, ctx: &Ctx) {
        let t = ty(s);
        if t == "null" {
            self.push(
                &child(path, "type"),
                Rule::TypeUnsupported,
                forbidden("type cannot be set to null, use nullable as an alternative"),
            );
        } else if !t.is_empty() && !OPENAPI_TYPES.contains(&t) {
            self.push(
                &child(path, "type"),
                Rule::TypeUnsupported,
                not_supported(t, OPENAPI_TYPES),
            );
        }
        if present(s, "default") && !ctx.allow_defaults {
            let mut detail = "must not be set".to_owned();
            if let Some(reason) = &ctx.disallow_defaults_reason {
                detail.push(' ');
                detail.push_str(reason);
            }
            self.push(&child(path, "default"), Rule::Default, forbidden(&detail));
        }
        for (name, what) in [
            ("id", "id"),
            ("additionalItems", "additionalItems"),
            ("patternProperties", "patternProperties"),
            ("definitions", "definitions"),
            ("dependencies", "dependencies"),
            ("$ref", "$ref"),
            ("$schema", "$schema"),
        ] {
            let set = match s.get(name) {
                None | Some(Value::Null) => false,
                Some(Value::String(v)) => !v.is_empty(),
                Some(Value::Object(m)) => !m.is_empty() || name == "additionalItems",
                Some(_) => true,
            };
            if set {
                self.push(
                    &child(path, name),
                    Rule::UnsupportedKeyword,
                    forbidden(&format!("{what} is not supported")),
                );
            }
        }
        if s.get("items").is_some_and(Value::is_array) {
            self.push(
                &child(path, "items"),
                Rule::Items,
                forbidden("items must be a schema object and not an array"),
            );
        }
        if ctx.inside_resource_meta && flag(s, "x-kubernetes-embedded-resource") {
            self.push(
                &child(path, "x-kubernetes-embedded-resource"),
                Rule::EmbeddedResource,
                forbidden("must not be used inside of resource meta"),
            );
        }
    }

    pub(super) fn enum_null(&mut self, s: &Value, path: &str) {
        if !flag(s, "nullable") {
            for (i, v) in list(s, "enum").iter().enumerate() {
                if v.is_null() {
                    self.push(
                        &index(&child(path, "enum"), i),
                        Rule::Enum,
                        forbidden("null is only allowed in enum if nullable is true"),
                    );
                }
            }
        }
    }

    pub(super) fn map_type(&mut self, s: &Value, path: &str) {
        let Some(map_type) = s.get("x-kubernetes-map-type").and_then(Value::as_str) else {
            return;
        };
        let t = ty(s);
        if t.is_empty() {
            self.push(
                &child(path, "type"),
                Rule::MapType,
                required("must be object if x-kubernetes-map-type is specified"),
            );
        } else if t != "object" {
            self.push(
                &child(path, "type"),
                Rule::MapType,
                invalid(
                    &Value::String(t.to_owned()),
                    "must be object if x-kubernetes-map-type is specified",
                ),
            );
        }
        if !matches!(map_type, "atomic" | "granular") {
            self.push(
                &child(path, "x-kubernetes-map-type"),
                Rule::MapType,
                not_supported(map_type, &["atomic", "granular"]),
            );
        }
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one block per apiserver rule, in the apiserver's order"
    )]
    pub(super) fn list_type(&mut self, s: &Value, path: &str) {
        let list_type = s.get("x-kubernetes-list-type").and_then(Value::as_str);
        let keys: Vec<&str> = list(s, "x-kubernetes-list-map-keys")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let keys_value = s
            .get("x-kubernetes-list-map-keys")
            .cloned()
            .unwrap_or(Value::Null);
        let t = ty(s);
        if let Some(lt) = list_type {
            if t.is_empty() {
                self.push(
                    &child(path, "type"),
                    Rule::ListType,
                    required("must be array if x-kubernetes-list-type is specified"),
                );
            } else if t != "array" {
                self.push(
                    &child(path, "type"),
                    Rule::ListType,
                    invalid(
                        &Value::String(t.to_owned()),
                        "must be array if x-kubernetes-list-type is specified",
                    ),
                );
            } else if lt == "set"
                && let Some(item) = items_schema(s)
            {
                {
                    let item_path = child(path, "items");
                    match ty(item) {
                        "array" => {
                            if let Some(inner) =
                                item.get("x-kubernetes-list-type").and_then(Value::as_str)
                                && inner != "atomic"
                            {
                                self.push(
                                    &child(&item_path, "x-kubernetes-list-type"),
                                    Rule::ListType,
                                    invalid(
                                        &Value::String(inner.to_owned()),
                                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                                    ),
                                );
                            }
                        }
                        "object" => {
                            let mt = item.get("x-kubernetes-map-type").and_then(Value::as_str);
                            if mt != Some("atomic") {
                                self.push(
                                    &child(&item_path, "x-kubernetes-map-type"),
                                    Rule::ListType,
                                    invalid(
                                        &mt.map_or(Value::Null, |m| Value::String(m.to_owned())),
                                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                                    ),
                                );
                            }
                        }
                        _ => {}
                    }
                }
            }
            if !matches!(lt, "atomic" | "set" | "map") {
                self.push(
                    &child(path, "x-kubernetes-list-type"),
                    Rule::ListType,
                    not_supported(lt, &["atomic", "set", "map"]),
                );
            }
        }
        if !keys.is_empty() {
            match list_type {
                None => self.push(
                    &child(path, "x-kubernetes-list-type"),
                    Rule::ListMapKeys,
                    required("must be map if x-kubernetes-list-map-keys is non-empty"),
                ),
                Some("map") => {}
                Some(other) => self.push(
                    &child(path, "x-kubernetes-list-type"),
                    Rule::ListMapKeys,
                    invalid(
                        &Value::String(other.to_owned()),
                        "must be map if x-kubernetes-list-map-keys is non-empty",
                    ),
                ),
            }
        }
        if list_type == Some("map") {
            if keys.is_empty() {
                self.push(
                    &child(path, "x-kubernetes-list-map-keys"),
                    Rule::ListMapKeys,
                    required("must not be empty if x-kubernetes-list-type is map"),
                );
            }
            match s.get("items") {
                None | Some(Value::Null) => self.push(
                    &child(path, "items"),
                    Rule::ListMapKeys,
                    required("must have a schema if x-kubernetes-list-type is map"),
                ),
                Some(items) if !items.is_object() => self.push(
                    &child(path, "items"),
                    Rule::ListMapKeys,
                    invalid(
                        items,
                        "must only have a single schema if x-kubernetes-list-type is map",
                    ),
                ),
                Some(item) if ty(item) != "object" => self.push(
                    &child(&child(path, "items"), "type"),
                    Rule::ListMapKeys,
                    invalid(
                        &Value::String(ty(item).to_owned()),
                        "must be object if parent array's x-kubernetes-list-type is map",
                    ),
                ),
                Some(item) => {
                    let mut seen = BTreeSet::new();
                    let item_props = props(item);
                    for k in &keys {
                        match item_props.and_then(|p| p.get(*k)) {
                            Some(prop) => {
                                if !is_scalar_type(ty(prop)) {
                                    self.push(
                                        &child(&key(&child(&child(path, "items"), "properties"), k), "type"),
                                        Rule::ListMapKeys,
                                        invalid(
                                            &Value::String(ty(item).to_owned()),
                                            "must be a scalar type if parent array's x-kubernetes-list-type is map",
                                        ),
                                    );
                                }
                            }
                            None => self.push(
                                &child(path, "x-kubernetes-list-map-keys"),
                                Rule::ListMapKeys,
                                invalid(
                                    &keys_value,
                                    "entries must all be names of item properties",
                                ),
                            ),
                        }
                        if !seen.insert(*k) {
                            self.push(
                                &child(path, "x-kubernetes-list-map-keys"),
                                Rule::ListMapKeys,
                                invalid(&keys_value, "must not contain duplicate entries"),
                            );
                        }
                    }
                }
            }
        }
        // validateMapListKeysMapSet
        if let (Some(lt @ ("set" | "map")), Some(item)) = (list_type, items_schema(s)) {
            let item_path = child(path, "items");
            if flag(item, "nullable") {
                self.push(
                    &child(&item_path, "nullable"),
                    if lt == "map" {
                        Rule::ListMapKeys
                    } else {
                        Rule::ListType
                    },
                    forbidden(&format!(
                        "cannot be nullable when x-kubernetes-list-type is {lt}"
                    )),
                );
            }
            if lt == "map" {
                let req: BTreeSet<&str> = list(item, "required")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                for k in &keys {
                    let Some(prop) = props(item).and_then(|p| p.get(*k)) else {
                        continue;
                    };
                    let prop_path = key(&child(&item_path, "properties"), k);
                    if !req.contains(k) && !present(prop, "default") {
                        self.push(
                            &child(&prop_path, "default"),
                            Rule::ListMapKeys,
                            required(
                                "this property is in x-kubernetes-list-map-keys, so it must have a \
                                 default or be a required property",
                            ),
                        );
                    }
                    if flag(prop, "nullable") {
                        self.push(
                            &child(&prop_path, "nullable"),
                            Rule::ListMapKeys,
                            forbidden(
                                "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                            ),
                        );
                    }
                }
            }
        }
    }

    pub(super) fn validations(&mut self, s: &Value, path: &str, ctx: &Ctx) {
        let base = child(path, "x-kubernetes-validations");
        for (i, rule) in list(s, "x-kubernetes-validations").iter().enumerate() {
            let at = index(&base, i);
            let Some(obj) = rule.as_object() else {
                self.push(&at, Rule::Validations, invalid(rule, "must be an object"));
                continue;
            };
            let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
            let (r, msg, msg_expr, field_path) = (
                text("rule"),
                text("message"),
                text("messageExpression"),
                text("fieldPath"),
            );
            let newline = |x: &str| x.contains(['\n', '\r']);
            if r.trim().is_empty() {
                self.push(
                    &child(&at, "rule"),
                    Rule::Validations,
                    required("rule is not specified"),
                );
            } else if !msg.is_empty() && msg.trim().is_empty() {
                self.push(
                    &child(&at, "message"),
                    Rule::Validations,
                    invalid(
                        &Value::String(msg.to_owned()),
                        "message must be non-empty if specified",
                    ),
                );
            } else if newline(msg.trim()) {
                self.push(
                    &child(&at, "message"),
                    Rule::Validations,
                    invalid(
                        &Value::String(msg.to_owned()),
                        "message must not contain line breaks",
                    ),
                );
            } else if newline(r.trim()) && msg.trim().is_empty() {
                self.push(
                    &child(&at, "message"),
                    Rule::Validations,
                    required("message must be specified if rule contains line breaks"),
                );
            }
            if !msg_expr.is_empty() && msg_expr.trim().is_empty() {
                self.push(
                    &child(&at, "messageExpression"),
                    Rule::Validations,
                    required("messageExpression must be non-empty if specified"),
                );
            }
            if let Some(reason) = obj.get("reason").and_then(Value::as_str)
                && !VALIDATION_REASONS.contains(&reason)
            {
                self.push(
                    &child(&at, "reason"),
                    Rule::Validations,
                    not_supported(reason, VALIDATION_REASONS),
                );
            }
            if newline(field_path) {
                self.push(
                    &child(&at, "fieldPath"),
                    Rule::Validations,
                    invalid(
                        &Value::String(field_path.to_owned()),
                        "fieldPath must not contain line breaks",
                    ),
                );
            }
            let optional_old_self = obj.get("optionalOldSelf") == Some(&Value::Bool(true));
            if uses_old_self(r)
                && !optional_old_self
                && let Some(within) = &ctx.uncorrelatable
            {
                self.push(
                    &child(&at, "rule"),
                    Rule::Validations,
                    invalid(
                        &Value::String(r.to_owned()),
                        &format!(
                            "oldSelf cannot be used on the uncorrelatable portion of the schema \
                             within {within}"
                        ),
                    ),
                );
            }
        }
    }
}
