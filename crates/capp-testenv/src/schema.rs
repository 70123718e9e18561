//! CRD schema admission: structural checks, pruning, defaulting, OpenAPI validation and CEL rules.
//!
//! This module does for custom resources what the `apiextensions-apiserver` does inside a real
//! kube-apiserver. A [`CrdSchema`] is compiled once from one CRD version's `openAPIV3Schema`
//! and then [`CrdSchema::admit`]s every object written to that version:
//!
//! 1. `null` values of non-nullable fields without a `default` are dropped
//!    (upstream `PruneNonNullableNullsWithoutDefaults`);
//! 2. `default`s are applied: to missing properties of objects that exist, to `null`
//!    values of non-nullable fields, inside array items and `additionalProperties` values, and
//!    recursively inside defaulted values. Parent objects are never created just to hold a
//!    default (the real server does not either);
//! 3. unknown fields are pruned. `apiVersion`, `kind` and `metadata` of the resource root and of
//!    `x-kubernetes-embedded-resource` objects are kept, the `metadata` coerced to an
//!    ObjectMeta (unknown fields dropped and reported, malformed ones dropped); subtrees marked
//!    `x-kubernetes-preserve-unknown-fields: true` keep their unknown fields (their known
//!    properties are still pruned). The paths of dropped fields are returned in
//!    [`Admitted::pruned`] (`spec.foo`, `spec.items[0].bar`), which the server turns into
//!    `unknown field "spec.foo"` warnings;
//! 4. the object is validated: `type` (with `x-kubernetes-int-or-string`), `nullable`,
//!    `required`, `enum`, `pattern`, `format`, `minimum`/`maximum` (and exclusive variants),
//!    `multipleOf`, `minLength`/`maxLength`, `minItems`/`maxItems`,
//!    `minProperties`/`maxProperties`, `uniqueItems`, `x-kubernetes-list-type: set|map`
//!    duplicates, `allOf`/`anyOf`/`oneOf`/`not`, and finally every `x-kubernetes-validations`
//!    CEL rule. As on the real server, the rules are not evaluated at all when that validation
//!    found a type, required, enum, `maxLength`, `maxItems` or `maxProperties` error
//!    (`FieldValueTypeInvalid`, `FieldValueRequired`, `FieldValueNotSupported`,
//!    `FieldValueTooLong`, `FieldValueTooMany`) anywhere in the object: one `<nil>` cause
//!    `Invalid value: null: some validation rules were not checked because the object was
//!    invalid; correct the existing errors to complete validation` is added instead (only when
//!    the schema has rules). Other errors (`pattern`, `minimum`, `minLength`, duplicates...)
//!    let the rules run. A `default` is checked against its rules only when it passes its
//!    schema.
//!
//! On update (`old` given), validation *ratchets* as on a Kubernetes 1.30+ server: values
//! equal to their correlated old value (same property, same `map`-list key, same `set`-list
//! value) are not validated again, so an object stored before a schema tightened can still be
//! updated elsewhere. CEL rules still run on them, but their failures become
//! [`Admitted::warnings`] instead of errors; transition rules (`oldSelf`) are always enforced.
//!
//! Errors are [`FieldCause`]s whose `reason`, `field` and `message` match what the real server
//! puts into the `causes` of a `422 Invalid` `Status`, e.g. `spec.replicas` /
//! `Invalid value: "string": spec.replicas in body must be of type integer: "string"`.
//!
//! [`validate_crd`] checks a whole `CustomResourceDefinition` object the way the apiextensions
//! validation does (names, group, scope, versions, storage version, printer columns and every
//! version's schema).
//!
//! # CEL
//!
//! Rules are compiled once, by [`CrdSchema::compile`], with the `cel` crate (0.15): the
//! standard library and macros (`has`, `all`, `exists`, `exists_one`, `map`, `filter`), `size`,
//! `matches` (Rust `regex`, which like Go's RE2 has no backtracking), `startsWith`, `endsWith`,
//! `contains`, `timestamp`, `duration`, `int`/`string`/... conversions, plus the cel crate's
//! extension libraries that overlap the Kubernetes ones: strings (`lowerAscii`, `upperAscii`,
//! `indexOf`, `lastIndexOf`, `replace`, `split`, `substring`, `trim`, `join`, `charAt`,
//! `format`), lists (`distinct`, `flatten`, `reverse`, `slice`, `sort`, `lists.range`) and
//! math (`math.abs`, `math.ceil`, ...). Of the Kubernetes libraries, the lists library
//! (`isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`), the regex library (`find`,
//! `findAll`) and the predicates `isURL`, `isIP`, `isCIDR` and `isQuantity` are added here.
//!
//! `self` is bound to the node the rule sits on: objects with properties become maps keyed by
//! property name (names that are CEL keywords or contain `-`, `.`, `/` or `__` are escaped as
//! upstream does: `__namespace__`, `foo__dash__bar`), `additionalProperties` objects become maps,
//! arrays become lists, `integer` and int-or-string integers become `int`, `number` becomes
//! `double`, `format: date-time` strings become timestamps, `format: duration` strings
//! durations and `format: byte` strings bytes. At the resource root only `apiVersion`, `kind`,
//! `metadata.name` and `metadata.generateName` are visible, as upstream.
//!
//! A rule that references `oldSelf` is a *transition rule*: it is evaluated only on update and
//! only where an old value exists at the same path (properties and `additionalProperties`
//! correlate by key, `x-kubernetes-list-type: map` items by their keys; items of atomic and set
//! lists never correlate), exactly as upstream. A failed rule is reported at its node (or at
//! its `fieldPath`) with its `reason` (default `FieldValueInvalid`) and its
//! `messageExpression` result, `message`, or `failed rule: <rule>`: `Invalid value: "b":
//! name is immutable` for scalars, `Invalid value: <message>` for objects and arrays, as the
//! real server words it. A rule with `optionalOldSelf: true` also runs
//! on create, with `oldSelf` an optional (`oldSelf.hasValue()`, `oldSelf.value()`,
//! `oldSelf.orValue(x)`).
//!
//! Known gaps compared with the real server (documented rather than faked):
//! - rules are only partly type-checked when the schema is compiled: undeclared variables,
//!   field names the schema does not declare (`self.spec.replcas`) and comparisons of a
//!   scalar field with a literal of another type (`self.replicas == 'three'`) are rejected
//!   as upstream, but other type errors (`self.name + 1`) only fail when the rule is
//!   evaluated, where cel-go rejects the CRD;
//! - no cost estimation or cost budget;
//! - the object constructors of the Kubernetes `url`, `ip`, `cidr`, `quantity` and `semver`
//!   libraries (`url(s).getHost()`, `ip(s).family()`, ...) and the named `format.*`
//!   validators are not available (a rule calling them compiles but fails when
//!   it is evaluated, with an `Invalid value` cause naming the rule);
//! - `set` and `map` lists are shown to rules in a canonical order (sorted by value, or by
//!   their map keys) so that equality ignores order as upstream; indexing such a list
//!   (`self[0]`) therefore does not follow the stored order;
//! - ratcheting is simplified: a subtree equal to its correlated old value is skipped as a
//!   whole (upstream ratchets error by error, which differs only in corner cases such as
//!   `allOf`/`anyOf` alternatives); ratcheted CEL failures are returned as warnings only
//!   when the object is admitted (a real server sends them with a rejection too);
//! - embedded resources (`x-kubernetes-embedded-resource`) get the `apiVersion`/`kind`
//!   checks, ObjectMeta coercion and the ObjectMeta syntax checks of upstream
//!   `objectmeta.Validate` (name, generateName, namespace, generation, labels, annotations,
//!   finalizers, the fields of `ownerReferences`; not ratcheted), but not the `managedFields`
//!   checks nor the "only one controller" and banned-owner checks of `ownerReferences`; an
//!   empty `apiVersion` or `kind` is reported as `Invalid value: "": must not be empty` (newer
//!   servers say `Required value`). The root `metadata` is only coerced here, its validation
//!   is the server's.

pub(crate) mod cel;
mod compile;
mod crd;
mod default;
mod errors;
mod formats;
mod node;
mod objectmeta;
mod prune;
pub mod structural;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;

pub use crd::validate_crd;

/// How the real server names the object itself in a cause: Go's nil `*field.Path`.
const ROOT_FIELD: &str = "<nil>";

/// Turns field causes into the `Status` causes the server reports.
pub(crate) fn causes(causes: Vec<FieldCause>) -> Vec<crate::status::Cause> {
    causes
        .into_iter()
        .map(|c| crate::status::Cause {
            reason: c.reason,
            field: c.field,
            message: c.message,
        })
        .collect()
}

/// One field-level cause of a rejected object, as the real server reports it in the `causes`
/// of a `422 Invalid` `Status` (`details.causes[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldCause {
    /// The `reason` of the cause: `FieldValueRequired`, `FieldValueInvalid`,
    /// `FieldValueNotSupported`, `FieldValueTypeInvalid`, `FieldValueForbidden`,
    /// `FieldValueDuplicate`, `FieldValueTooLong` or `FieldValueTooMany`.
    pub reason: String,
    /// The path of the offending field, e.g. `spec.replicas` or `spec.items[0].name`;
    /// `<nil>` for the object itself (a rule on the schema root, a failed `anyOf`), as the
    /// real server reports it.
    pub field: String,
    /// The message, worded as the real server words it, e.g. `Required value` or
    /// `Unsupported value: "X": supported values: "A", "B"`.
    pub message: String,
}

impl fmt::Display for FieldCause {
    /// Formats the cause as `kubectl` shows it: `spec.replicas: Required value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// What [`CrdSchema::admit`] changed in an accepted object besides defaulting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Admitted {
    /// Paths of unknown fields that were dropped, in document order, e.g. `spec.foo` or
    /// `spec.items[0].bar`. The real server reports each as an `unknown field "<path>"`
    /// warning header.
    pub pruned: Vec<String>,
    /// Failures of CEL rules (those not using `oldSelf`) on values an update did not change,
    /// which ratcheting lets through, formatted as the real server sends them in `Warning`
    /// headers: `spec.name: Invalid value: "UPPER": name must be lowercase`.
    pub warnings: Vec<String>,
}

/// The compiled `openAPIV3Schema` of one CRD version: everything needed to admit an object.
///
/// Compiling parses the schema into a tree, checks that it is structural, compiles every
/// `pattern` and every `x-kubernetes-validations` rule once. Admission reuses all of it, so a
/// `CrdSchema` should be kept for as long as the CRD version is served. It is `Send + Sync`
/// and can be shared behind an `Arc`.
pub struct CrdSchema {
    root: node::Node,
    cel: cel::CelEnv,
}

impl fmt::Debug for CrdSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrdSchema")
            .field("rules", &self.root.rule_count())
            .finish_non_exhaustive()
    }
}

impl CrdSchema {
    /// Compiles one CRD version's `openAPIV3Schema` (the JSON value found at
    /// `spec.versions[*].schema.openAPIV3Schema`).
    ///
    /// Fails with field causes (paths start at `openAPIV3Schema`, as in the CRD) when the
    /// schema is not structural, a `pattern` is not a valid regular expression, a
    /// `default` does not validate against its own schema, or a CEL rule or
    /// `messageExpression` does not compile.
    pub fn compile(open_api_v3_schema: &Value) -> Result<CrdSchema, Vec<FieldCause>> {
        let mut causes = compile::structural_causes(open_api_v3_schema);
        let cel = cel::CelEnv::new();
        let mut compile_causes = Vec::new();
        let root = compile::compile_root(open_api_v3_schema, &cel, &mut compile_causes);
        compile_causes.extend(cel::budget_causes(&root));
        // The structural check and the compiler may both notice one problem (a bad rule
        // `reason`, say): report it once, in the structural check's words.
        compile_causes.retain(|c| {
            !causes
                .iter()
                .any(|s| s.field == c.field && s.reason == c.reason)
        });
        causes.extend(compile_causes);
        if !causes.is_empty() {
            return Err(causes);
        }
        let schema = CrdSchema { root, cel };
        let default_causes = schema.check_defaults();
        if default_causes.is_empty() {
            Ok(schema)
        } else {
            Err(default_causes)
        }
    }

    /// Admits `obj` (a whole custom resource) as the real server does on create (`old` is
    /// `None`) or update (`old` is the stored object): drops non-nullable `null`s, applies
    /// defaults, prunes unknown fields (all in place), then validates the result, including
    /// CEL rules (transition rules only when `old` is given).
    ///
    /// On success `obj` holds the object to store. On failure `obj` may already be defaulted
    /// and pruned, and every validation failure is returned (not just the first).
    pub fn admit(&self, obj: &mut Value, old: Option<&Value>) -> Result<Admitted, Vec<FieldCause>> {
        default::prune_non_nullable_nulls(obj, &self.root);
        default::apply_defaults(obj, &self.root);
        let mut pruned = Vec::new();
        prune::prune_root(obj, &self.root, &mut pruned);
        let mut causes = Vec::new();
        let mut ratcheted = Vec::new();
        validate::Validator {
            cel: Some(&self.cel),
        }
        .validate_root(&self.root, obj, old, &mut causes, &mut ratcheted);
        for cause in causes.iter_mut().chain(&mut ratcheted) {
            if cause.field.is_empty() {
                // The server validates with a nil root `field.Path`, which prints as `<nil>`.
                ROOT_FIELD.clone_into(&mut cause.field);
            }
        }
        if causes.is_empty() {
            let warnings = ratcheted.iter().map(ToString::to_string).collect();
            Ok(Admitted { pruned, warnings })
        } else {
            Err(causes)
        }
    }

    /// What a read or a version conversion does with an object (the apiextensions
    /// `unstructuredDefaulter` and `schemaCoercingConverter`): drops non-nullable nulls,
    /// applies defaults and prunes unknown fields, without validating.
    pub fn default_and_prune(&self, obj: &mut Value) {
        default::prune_non_nullable_nulls(obj, &self.root);
        default::apply_defaults(obj, &self.root);
        prune::prune_root(obj, &self.root, &mut Vec::new());
    }

    /// Checks every `default` in the schema: it must validate against the schema it sits in
    /// and contain no field that pruning would drop (upstream: "must not have unknown fields").
    fn check_defaults(&self) -> Vec<FieldCause> {
        let mut causes = Vec::new();
        self.root.for_each_default(&mut |node, default, path| {
            let mut value = default.clone();
            let mut pruned = Vec::new();
            prune::prune_value(&mut value, Some(node), "", &mut pruned);
            if !pruned.is_empty() {
                causes.push(errors::invalid_value(
                    &format!("{path}.default"),
                    default,
                    &format!(
                        "must not have unknown fields: {}",
                        pruned
                            .iter()
                            .map(|p| format!("{p:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                return;
            }
            let mut found = Vec::new();
            validate::Validator {
                cel: Some(&self.cel),
            }
            .validate_value(node, &value, None, "", &mut found);
            for cause in found {
                causes.push(errors::invalid_value(
                    &format!("{path}.default"),
                    default,
                    &cause.to_string(),
                ));
            }
        });
        causes
    }
}
