//! Unit tests for CRD schema admission: one accept and one reject per keyword, pruning,
//! defaulting, CEL rules and the exact wording of the apiserver's messages.

use serde_json::{Value, json};

use super::{Admitted, CrdSchema, FieldCause, validate_crd};

/// A resource schema whose `spec` is `spec_schema`.
fn resource(spec_schema: &Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
        },
    })
}

fn compile(spec_schema: &Value) -> CrdSchema {
    match CrdSchema::compile(&resource(spec_schema)) {
        Ok(s) => s,
        Err(causes) => panic!("schema did not compile: {causes:#?}"),
    }
}

fn object(spec: &Value) -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": spec,
    })
}

/// Admits `spec` on create; returns the admitted spec or the causes.
fn admit(schema: &CrdSchema, spec: &Value) -> Result<Value, Vec<FieldCause>> {
    let mut obj = object(spec);
    schema.admit(&mut obj, None)?;
    Ok(obj["spec"].clone())
}

/// Admits `spec` as an update of `old_spec`.
fn update(schema: &CrdSchema, old_spec: &Value, spec: &Value) -> Result<Value, Vec<FieldCause>> {
    let mut obj = object(spec);
    let old = object(old_spec);
    schema.admit(&mut obj, Some(&old))?;
    Ok(obj["spec"].clone())
}

fn rejected(result: Result<Value, Vec<FieldCause>>) -> Vec<FieldCause> {
    match result {
        Ok(v) => panic!("expected a rejection, got {v}"),
        Err(c) => c,
    }
}

fn only(causes: &[FieldCause]) -> &FieldCause {
    assert_eq!(causes.len(), 1, "expected exactly one cause: {causes:#?}");
    &causes[0]
}

fn assert_cause(causes: &[FieldCause], reason: &str, field: &str, message: &str) {
    let c = only(causes);
    assert_eq!(
        (c.reason.as_str(), c.field.as_str(), c.message.as_str()),
        (reason, field, message)
    );
}

fn props(p: &Value) -> Value {
    json!({"type": "object", "properties": p})
}

fn shown(causes: &[FieldCause]) -> Vec<String> {
    causes.iter().map(ToString::to_string).collect()
}

mod cel;
mod crds;
mod embedded;
mod values;
