//! Conformance checking against the official Equinix Metal OpenAPI 3.0 spec.
//!
//! The spec is loaded **at runtime** from a path you give (it is never embedded or copied
//! into this project): in this workspace it lives at `../shared/specs/equinix-metal/openapi3.yaml`.
//! Both the simulator's tests and the client's tests use this module to check that bodies
//! match the schemas.
//!
//! ```no_run
//! # fn demo() -> capp_sim::Result<()> {
//! use capp_sim::openapi::Spec;
//! let spec = Spec::load("../shared/specs/equinix-metal/openapi3.yaml")?;
//! let body = serde_json::json!({"errors": ["Not found"]});
//! let violations = spec.validate_response("findDeviceById", 404, Some(&body))?;
//! assert!(violations.is_empty(), "{violations:?}");
//! let request = serde_json::json!({"metro": "da", "plan": "c3.small.x86", "operating_system": "ubuntu_24_04"});
//! assert!(spec.validate_request("createDevice", &request)?.is_empty());
//! # Ok(()) }
//! ```
//!
//! # Supported OpenAPI 3.0 subset
//!
//! Everything the spec's schemas actually use: `type` (an integer may be written `1.0`),
//! `properties`, `required`, `items`, `enum`, `nullable`, `allOf`/`oneOf`/`anyOf`/`not`,
//! `$ref` to any `#/...` pointer of the document, `additionalProperties` (boolean or schema),
//! `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`, `uniqueItems`, and
//! `format` loosely (`uuid`, `date-time`, `date`, `ipv4`, `email`, `int32`, `int64` are
//! checked; other formats are accepted). `pattern` is **not** checked: the spec's only
//! patterns use look-ahead, which no regular-expression crate of this workspace supports.
//! `readOnly`/`writeOnly`/`default`/`example`/`deprecated` are annotations and ignored.
//!
//! # The spec's quirks, handled explicitly
//!
//! - **Nulls.** Almost nothing is `nullable` in the spec (only `BgpConfig.md5`), but the real
//!   API sent `null` for absent values. Validation is strict by default: `null` in a
//!   non-nullable field is a violation, which is why the simulator *omits* absent fields
//!   instead. [`Spec::allow_nulls`] relaxes this for recorded real-world responses.
//! - **Metro XOR facility.** `createDevice`'s body is `oneOf(DeviceCreateInMetroInput,
//!   DeviceCreateInFacilityInput)` without `additionalProperties: false`, so a body with both
//!   `metro` and `facility` matches both branches and fails `oneOf`. This is enforced as
//!   written (the violation says which branches matched); the simulator answers such a body
//!   with 422.
//! - **`IPReservation` forbids unknown fields** (`additionalProperties: false`). Enforced as
//!   written; the simulator emits only the listed keys.
//! - **Undeclared statuses.** Many operations do not declare every status the API sends (no
//!   429 or 5xx on most paths, no 403 on some). [`Spec::validate_response`] answers
//!   [`Error::NotInSpec`] for them; callers decide (the simulator's
//!   conformance tests validate such bodies against the `Error` schema and list each case).
//! - **Declared without a body.** A status declared with no `content` (such as
//!   `findDeviceCustomdata`'s 200) has no schema: any body passes, except that a 204 must
//!   have none.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Error, Result};

mod validate;

/// One way a value does not match its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where in the value, as a JSON path (`$.devices[0].state`).
    pub path: String,
    /// What is wrong, naming the rule (`expected type integer, got a string`).
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// What a response status of an operation must carry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResponseSchema<'a> {
    /// A JSON body matching this schema.
    Json(&'a Value),
    /// The status is declared without content.
    NoContent,
}

/// An operation of the spec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Operation<'a> {
    /// Upper-case HTTP method.
    pub method: &'a str,
    /// Path template (`/devices/{id}`).
    pub path: &'a str,
    /// The operation object.
    pub definition: &'a Value,
}

/// A loaded OpenAPI document.
#[derive(Debug, Clone)]
pub struct Spec {
    doc: Value,
    source: PathBuf,
    allow_nulls: bool,
    /// operationId -> (path, method), built on first lookup.
    index: std::sync::OnceLock<std::collections::HashMap<String, (String, String)>>,
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

impl Spec {
    /// Reads and parses a spec file (YAML or JSON).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::SpecRead {
            path: path.to_owned(),
            source,
        })?;
        let doc = parse_yaml(&text).map_err(|source| Error::SpecParse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        Self::from_value(doc, path)
    }

    /// Wraps an already parsed document; `source` is only used in messages.
    pub fn from_value(doc: Value, source: impl Into<PathBuf>) -> Result<Self> {
        if !doc.get("paths").is_some_and(Value::is_object) {
            return Err(Error::SpecShape("no `paths` object".to_owned()));
        }
        if !doc
            .pointer("/components/schemas")
            .is_some_and(Value::is_object)
        {
            return Err(Error::SpecShape(
                "no `components.schemas` object".to_owned(),
            ));
        }
        Ok(Self {
            doc,
            source: source.into(),
            allow_nulls: false,
            index: std::sync::OnceLock::new(),
        })
    }

    /// Accept `null` in non-nullable fields (for recordings of the real API). Default: strict.
    #[must_use]
    pub fn allow_nulls(mut self, allow: bool) -> Self {
        self.allow_nulls = allow;
        self
    }

    /// Where the spec was loaded from.
    #[must_use]
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The whole document.
    #[must_use]
    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// A component schema by name (`Device`).
    #[must_use]
    pub fn schema(&self, name: &str) -> Option<&Value> {
        self.doc
            .pointer(&format!("/components/schemas/{}", escape(name)))
    }

    /// Every operation, in document order.
    #[must_use]
    pub fn operations(&self) -> Vec<(String, Operation<'_>)> {
        let mut out = Vec::new();
        let Some(paths) = self.doc.get("paths").and_then(Value::as_object) else {
            return out;
        };
        for (path, item) in paths {
            let item = self.deref(item);
            for method in METHODS {
                if let Some(op) = item.get(*method) {
                    // One operation of the spec says `operation:` instead of `operationId:`.
                    let id = op
                        .get("operationId")
                        .or_else(|| op.get("operation"))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    out.push((
                        id.to_owned(),
                        Operation {
                            method: method_upper(method),
                            path,
                            definition: op,
                        },
                    ));
                }
            }
        }
        out
    }

    /// The operation with this operationId.
    pub fn operation(&self, operation_id: &str) -> Result<Operation<'_>> {
        let index = self.index.get_or_init(|| {
            self.operations()
                .into_iter()
                .map(|(id, op)| (id, (op.path.to_owned(), op.method.to_ascii_lowercase())))
                .collect()
        });
        let not_found = || Error::NotInSpec(format!("operation {operation_id}"));
        let (path, method) = index.get(operation_id).ok_or_else(not_found)?;
        let (path, item) = self
            .doc
            .get("paths")
            .and_then(Value::as_object)
            .and_then(|paths| paths.get_key_value(path))
            .ok_or_else(not_found)?;
        let definition = self
            .deref(item)
            .get(method.as_str())
            .ok_or_else(not_found)?;
        Ok(Operation {
            method: method_upper(method),
            path,
            definition,
        })
    }

    /// The statuses an operation declares (`"200"`, `"404"`, `"default"`, ...).
    pub fn declared_statuses(&self, operation_id: &str) -> Result<Vec<String>> {
        let op = self.operation(operation_id)?;
        Ok(op
            .definition
            .get("responses")
            .and_then(Value::as_object)
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// The schema of an operation's JSON request body.
    pub fn request_schema(&self, operation_id: &str) -> Result<&Value> {
        let op = self.operation(operation_id)?;
        let body = op
            .definition
            .get("requestBody")
            .map(|b| self.deref(b))
            .ok_or_else(|| Error::NotInSpec(format!("a request body for {operation_id}")))?;
        body.pointer("/content/application~1json/schema")
            .ok_or_else(|| Error::NotInSpec(format!("a JSON request schema for {operation_id}")))
    }

    /// What an operation's response with `status` must carry. `NotInSpec` if the status
    /// (or a `default`) is not declared.
    pub fn response_schema(&self, operation_id: &str, status: u16) -> Result<ResponseSchema<'_>> {
        let op = self.operation(operation_id)?;
        let responses = op.definition.get("responses").and_then(Value::as_object);
        let response = responses
            .and_then(|r| {
                r.get(&status.to_string())
                    .or_else(|| r.get(&format!("{}XX", status / 100)))
                    .or_else(|| r.get("default"))
            })
            .map(|r| self.deref(r))
            .ok_or_else(|| {
                Error::NotInSpec(format!("status {status} of operation {operation_id}"))
            })?;
        Ok(
            match response.pointer("/content/application~1json/schema") {
                Some(schema) => ResponseSchema::Json(schema),
                None => ResponseSchema::NoContent,
            },
        )
    }

    /// Validates a value against a component schema by name.
    pub fn validate_schema(&self, name: &str, value: &Value) -> Result<Vec<Violation>> {
        let schema = self
            .schema(name)
            .ok_or_else(|| Error::NotInSpec(format!("schema {name}")))?;
        Ok(self.validate_value(schema, value))
    }

    /// Validates a request body against an operation's request schema.
    pub fn validate_request(&self, operation_id: &str, body: &Value) -> Result<Vec<Violation>> {
        let schema = self.request_schema(operation_id)?;
        Ok(self.validate_value(schema, body))
    }

    /// Validates a response body (`None` = empty) against what the operation declares for
    /// `status`.
    pub fn validate_response(
        &self,
        operation_id: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Result<Vec<Violation>> {
        match self.response_schema(operation_id, status)? {
            ResponseSchema::Json(schema) => Ok(match body {
                Some(value) => self.validate_value(schema, value),
                None => vec![Violation {
                    path: "$".to_owned(),
                    message: format!("status {status} requires a JSON body, got none"),
                }],
            }),
            ResponseSchema::NoContent if status == 204 && body.is_some() => Ok(vec![Violation {
                path: "$".to_owned(),
                message: "status 204 must not carry a body".to_owned(),
            }]),
            ResponseSchema::NoContent => Ok(Vec::new()),
        }
    }

    /// Validates a value against any schema object of this document.
    #[must_use]
    pub fn validate_value(&self, schema: &Value, value: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        validate::Validator {
            spec: self,
            allow_nulls: self.allow_nulls,
        }
        .check(schema, value, "$", 0, &mut out);
        out
    }

    /// Follows `$ref`s (to any `#/...` pointer) until a non-reference object.
    pub(crate) fn deref<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match value.get("$ref").and_then(Value::as_str) {
                Some(r) => match self.resolve(r) {
                    Some(target) => value = target,
                    None => return value,
                },
                None => return value,
            }
        }
        value
    }

    pub(crate) fn resolve(&self, reference: &str) -> Option<&Value> {
        reference
            .strip_prefix('#')
            .and_then(|p| self.doc.pointer(p))
    }
}

/// Parses YAML (a superset of JSON) into a JSON value, with YAML 1.2 booleans.
///
/// By default serde-saphyr infers YAML 1.1 booleans: into a `serde_json::Value`, plain
/// `on`, `off`, `yes`, `no`, `y` and `n` become `true`/`false` (checked by a test). An
/// OpenAPI document is YAML 1.2, where only `true` and `false` are booleans, so this parser
/// turns on `strict_booleans`: an enum value `no` or a key `y` stays a string. Numeric keys
/// (`200:`) become strings, as JSON object keys must.
pub fn parse_yaml(text: &str) -> std::result::Result<Value, serde_saphyr::Error> {
    let options = serde_saphyr::options! { strict_booleans: true };
    serde_saphyr::from_str_with_options::<Value>(text, options)
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn method_upper(m: &str) -> &'static str {
    match m {
        "get" => "GET",
        "put" => "PUT",
        "post" => "POST",
        "delete" => "DELETE",
        "patch" => "PATCH",
        "head" => "HEAD",
        _ => "OPTIONS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const YAML_1_1: &str = "a: on\nb: no\nc: yes\nd: true\ne: [on, off]\n\"200\": x\n404: y\n";

    #[test]
    fn yaml_1_1_booleans_stay_strings_and_status_keys_become_strings() {
        let value = parse_yaml(YAML_1_1).unwrap();
        assert_eq!(
            value,
            json!({"a": "on", "b": "no", "c": "yes", "d": true, "e": ["on", "off"], "200": "x", "404": "y"})
        );
    }

    #[test]
    fn serde_saphyr_defaults_would_turn_yaml_1_1_words_into_booleans() {
        // Why `parse_yaml` sets `strict_booleans`: without it the words above change type.
        let value: Value = serde_saphyr::from_str(YAML_1_1).unwrap();
        assert_eq!(value["b"], json!(false));
        assert_eq!(value["404"], json!(true));
    }

    #[test]
    fn a_document_without_paths_or_schemas_is_rejected() {
        assert!(matches!(
            Spec::from_value(json!({"openapi": "3.0.0"}), "x.yaml"),
            Err(Error::SpecShape(_))
        ));
        let doc = json!({"paths": {}, "components": {"schemas": {"A": {"type": "object",
            "properties": {"n": {"type": "integer", "format": "int32", "minimum": 1}},
            "required": ["n"], "additionalProperties": false}}}});
        let spec = Spec::from_value(doc, "x.yaml").unwrap();
        assert!(
            spec.validate_schema("A", &json!({"n": 1.0}))
                .unwrap()
                .is_empty()
        );
        let v = spec.validate_schema("A", &json!({"n": 0, "m": 1})).unwrap();
        assert_eq!(v.len(), 2, "{v:?}");
        let v = spec.validate_schema("A", &json!({})).unwrap();
        assert!(v[0].message.contains("required property \"n\""), "{v:?}");
        assert!(matches!(
            spec.validate_schema("B", &json!({})),
            Err(Error::NotInSpec(_))
        ));
    }
}
