//! The structural invariants (`ValidateStructural`), completeness of value validations and
//! defaults (`ValidateDefaults`).

use serde_json::Value;

use super::values::{has_unknown_fields, is_int_or_string_any_of, is_zero, validate_value};
use super::{
    Checker, Level, Map, Rule, additional_schema, child, flag, forbidden, index, invalid,
    items_schema, key, list, present, props, required, ty,
};

impl Checker {
    /// `validateStructuralInvariants` of `pkg/apiserver/schema`.
    #[allow(
        clippy::too_many_lines,
        reason = "mirrors the apiserver function rule by rule, which keeps it reviewable against it"
    )]
    pub(super) fn invariants(&mut self, s: &Value, lvl: Level, path: &str) {
        if !s.is_object() {
            return;
        }
        let t = ty(s);
        if t == "array" && !present(s, "items") {
            self.push(
                &child(path, "items"),
                Rule::Items,
                required("must be specified"),
            );
        }
        if let Some(item) = items_schema(s) {
            self.invariants(item, Level::Item, &child(path, "items"));
        }
        if let Some(p) = props(s) {
            for (name, sub) in p {
                self.invariants(sub, Level::Field, &key(&child(path, "properties"), name));
            }
        }
        if present(s, "additionalProperties") {
            if lvl == Level::Root {
                self.push(
                    &child(path, "additionalProperties"),
                    Rule::AdditionalProperties,
                    forbidden("must not be used at the root"),
                );
            }
            if let Some(sub) = additional_schema(s) {
                self.invariants(sub, Level::Field, &child(path, "additionalProperties"));
            }
        }

        let int_or_string = flag(s, "x-kubernetes-int-or-string");
        let preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
        let embedded = flag(s, "x-kubernetes-embedded-resource");
        if int_or_string && preserve {
            self.push(
                &child(path, "x-kubernetes-preserve-unknown-fields"),
                Rule::IntOrString,
                invalid(
                    &Value::Bool(true),
                    "must be false if x-kubernetes-int-or-string is true",
                ),
            );
        }
        if int_or_string && embedded {
            self.push(
                &child(path, "x-kubernetes-embedded-resource"),
                Rule::IntOrString,
                invalid(
                    &Value::Bool(true),
                    "must be false if x-kubernetes-int-or-string is true",
                ),
            );
        }

        let skip_any_of = is_int_or_string_any_of(s);
        let skip_first_all_of_any_of = list(s, "allOf")
            .first()
            .is_some_and(is_int_or_string_any_of);
        self.value_validation(s, skip_any_of, skip_first_all_of_any_of, lvl, path);

        let check_metadata = lvl == Level::Root || embedded;
        if embedded && t != "object" {
            if t.is_empty() {
                self.push(
                    &child(path, "type"),
                    Rule::EmbeddedResource,
                    required("must be object if x-kubernetes-embedded-resource is true"),
                );
            } else {
                self.push(
                    &child(path, "type"),
                    Rule::EmbeddedResource,
                    invalid(
                        &Value::String(t.to_owned()),
                        "must be object if x-kubernetes-embedded-resource is true",
                    ),
                );
            }
        } else if t.is_empty() && !int_or_string && !preserve {
            let detail = match lvl {
                Level::Root => "must not be empty at the root",
                Level::Item => "must not be empty for specified array items",
                Level::Field => "must not be empty for specified object fields",
            };
            self.push(&child(path, "type"), Rule::TypeRequired, required(detail));
        }
        if embedded && present(s, "additionalProperties") {
            self.push(
                &child(path, "additionalProperties"),
                Rule::EmbeddedResource,
                forbidden("must not be used if x-kubernetes-embedded-resource is set"),
            );
        }
        if lvl == Level::Root && !t.is_empty() && t != "object" {
            self.push(
                &child(path, "type"),
                Rule::Root,
                invalid(&Value::String(t.to_owned()), "must be object at the root"),
            );
        }
        let p = props(s);
        if check_metadata {
            for meta in ["kind", "apiVersion"] {
                if let Some(sub) = p.and_then(|p| p.get(meta))
                    && ty(sub) != "string"
                {
                    self.push(
                        &child(&key(&child(path, "properties"), meta), "type"),
                        Rule::Metadata,
                        invalid(&Value::String(ty(sub).to_owned()), "must be string"),
                    );
                }
            }
        }
        if let Some(metadata) = p.and_then(|p| p.get("metadata")) {
            self.metadata(
                metadata,
                check_metadata,
                lvl,
                &key(&child(path, "properties"), "metadata"),
            );
        }
        if embedded && !preserve && p.is_none_or(Map::is_empty) {
            self.push(
                &child(path, "properties"),
                Rule::EmbeddedResource,
                required(
                    "must not be empty if x-kubernetes-embedded-resource is true without \
                     x-kubernetes-preserve-unknown-fields",
                ),
            );
        }
    }

    pub(super) fn metadata(&mut self, s: &Value, check_metadata: bool, lvl: Level, path: &str) {
        if check_metadata && ty(s) != "object" {
            self.push(
                &child(path, "type"),
                Rule::Metadata,
                invalid(&Value::String(ty(s).to_owned()), "must be object"),
            );
        }
        if lvl != Level::Root {
            return;
        }
        // At the root, metadata may only be `type: object` (and a default, checked elsewhere)
        // with at most `name` and `generateName` properties; the apiserver fills in the rest.
        let Some(obj) = s.as_object() else { return };
        let extra = obj.iter().any(|(k, v)| match k.as_str() {
            "type" | "default" => false,
            "properties" => v.as_object().is_some_and(|m| {
                !m.is_empty() && !m.keys().all(|k| k == "name" || k == "generateName")
            }),
            _ => !is_zero(v),
        });
        if extra {
            self.push(
                path,
                Rule::Metadata,
                forbidden(
                    "must not specify anything other than name and generateName, but metadata is \
                     implicitly specified",
                ),
            );
        }
    }

    /// `validateValueValidation`: the junctors of a structural node.
    pub(super) fn value_validation(
        &mut self,
        v: &Value,
        skip_any_of: bool,
        skip_first_all_of_any_of: bool,
        lvl: Level,
        path: &str,
    ) {
        if !skip_any_of {
            for (i, sub) in list(v, "anyOf").iter().enumerate() {
                self.nested(sub, false, lvl, &index(&child(path, "anyOf"), i));
            }
        }
        for (i, sub) in list(v, "allOf").iter().enumerate() {
            self.nested(
                sub,
                skip_first_all_of_any_of && i == 0,
                lvl,
                &index(&child(path, "allOf"), i),
            );
        }
        for (i, sub) in list(v, "oneOf").iter().enumerate() {
            self.nested(sub, false, lvl, &index(&child(path, "oneOf"), i));
        }
        if let Some(not) = v.get("not") {
            self.nested(not, false, lvl, &child(path, "not"));
        }
    }

    /// `validateNestedValueValidation`: a schema inside `allOf`/`anyOf`/`oneOf`/`not`.
    pub(super) fn nested(&mut self, v: &Value, skip_any_of: bool, lvl: Level, path: &str) {
        if !v.is_object() {
            return;
        }
        self.value_validation(v, skip_any_of, false, lvl, path);
        if let Some(item) = items_schema(v) {
            self.nested(item, false, lvl, &child(path, "items"));
        }
        if let Some(p) = props(v) {
            for (name, sub) in p {
                self.nested(
                    sub,
                    false,
                    Level::Field,
                    &key(&child(path, "properties"), name),
                );
            }
        }
        let forbid = |c: &mut Self, name: &str, detail: &str| {
            c.push(&child(path, name), Rule::ValueValidation, forbidden(detail));
        };
        if !ty(v).is_empty() {
            forbid(self, "type", "must be empty to be structural");
        }
        if present(v, "additionalProperties") {
            forbid(
                self,
                "additionalProperties",
                "must be undefined to be structural",
            );
        }
        if present(v, "default") {
            forbid(self, "default", "must be undefined to be structural");
        }
        if v.get("title")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty())
        {
            forbid(self, "title", "must be empty to be structural");
        }
        if v.get("description")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty())
        {
            forbid(self, "description", "must be empty to be structural");
        }
        if flag(v, "nullable") {
            forbid(self, "nullable", "must be false to be structural");
        }
        for ext in [
            "x-kubernetes-preserve-unknown-fields",
            "x-kubernetes-embedded-resource",
            "x-kubernetes-int-or-string",
        ] {
            if flag(v, ext) {
                forbid(self, ext, "must be false to be structural");
            }
        }
        if !list(v, "x-kubernetes-list-map-keys").is_empty() {
            forbid(
                self,
                "x-kubernetes-list-map-keys",
                "must be empty to be structural",
            );
        }
        for ext in ["x-kubernetes-list-type", "x-kubernetes-map-type"] {
            if present(v, ext) {
                forbid(self, ext, "must be undefined to be structural");
            }
        }
        if !list(v, "x-kubernetes-validations").is_empty() {
            forbid(
                self,
                "x-kubernetes-validations",
                "must be empty to be structural",
            );
        }
    }

    /// `validateStructuralCompleteness`: whatever a value validation names must exist
    /// structurally.
    pub(super) fn completeness(&mut self, s: &Value, path: &str) {
        if !s.is_object() {
            return;
        }
        self.completeness_of(s, Some(s), path, path);
        if let Some(item) = items_schema(s) {
            self.completeness(item, &child(path, "items"));
        }
        if let Some(p) = props(s) {
            for (name, sub) in p {
                self.completeness(sub, &key(&child(path, "properties"), name));
            }
        }
        if let Some(sub) = additional_schema(s) {
            self.completeness(sub, &child(path, "additionalProperties"));
        }
    }

    /// The junctors of `v` against structural node `s`.
    pub(super) fn completeness_of(
        &mut self,
        v: &Value,
        s: Option<&Value>,
        s_path: &str,
        v_path: &str,
    ) {
        if let Some(not) = v.get("not") {
            self.nested_completeness(not, s, s_path, &child(v_path, "not"));
        }
        for junctor in ["allOf", "anyOf", "oneOf"] {
            for (i, sub) in list(v, junctor).iter().enumerate() {
                self.nested_completeness(sub, s, s_path, &index(&child(v_path, junctor), i));
            }
        }
    }

    pub(super) fn nested_completeness(
        &mut self,
        v: &Value,
        s: Option<&Value>,
        s_path: &str,
        v_path: &str,
    ) {
        if !v.is_object() {
            return;
        }
        let Some(s) = s else {
            self.push(
                s_path,
                Rule::Completeness,
                required(&format!("because it is defined in {v_path}")),
            );
            return;
        };
        self.completeness_of(v, Some(s), s_path, v_path);
        if let Some(v_item) = items_schema(v) {
            self.nested_completeness(
                v_item,
                items_schema(s),
                &child(s_path, "items"),
                &child(v_path, "items"),
            );
        }
        if let Some(vp) = props(v) {
            for (name, v_sub) in vp {
                let s_sub_path = key(&child(s_path, "properties"), name);
                let v_sub_path = key(&child(v_path, "properties"), name);
                match props(s).and_then(|p| p.get(name)) {
                    Some(s_sub) => {
                        self.nested_completeness(v_sub, Some(s_sub), &s_sub_path, &v_sub_path);
                    }
                    None => self.push(
                        &s_sub_path,
                        Rule::Completeness,
                        required(&format!("because it is defined in {v_sub_path}")),
                    ),
                }
            }
        }
    }

    /// `ValidateDefaults`: every structural default is pruned and valid for its schema.
    pub(super) fn defaults(&mut self, s: &Value, path: &str, embedded_root: bool) {
        if !s.is_object() {
            return;
        }
        if let Some(default) = s.get("default").filter(|d| !d.is_null()) {
            let at = child(path, "default");
            if has_unknown_fields(default, s, flag(s, "x-kubernetes-embedded-resource")) {
                self.push(
                    &at,
                    Rule::Default,
                    invalid(default, "must not have unknown fields"),
                );
            }
            let mut errs = Vec::new();
            validate_value(default, s, &at, &mut errs);
            for (p, detail) in errs {
                self.push(&p, Rule::Default, detail);
            }
        }
        if let Some(item) = items_schema(s) {
            self.defaults(item, &child(path, "items"), false);
        }
        if let Some(p) = props(s) {
            for (name, sub) in p {
                // Defaults in top-level metadata are reported by the OpenAPI walk.
                if embedded_root && matches!(name.as_str(), "metadata" | "apiVersion" | "kind") {
                    continue;
                }
                self.defaults(sub, &key(&child(path, "properties"), name), false);
            }
        }
    }
}
