//! Typed access to JSON request bodies, with 422 errors that name the field and the fix.

use serde_json::{Map, Value};

use crate::state::{ApiError, ApiResult};

/// A JSON object body.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// The body as an object, or 422.
    pub(crate) fn of(body: Option<&'a Value>) -> ApiResult<Self> {
        match body {
            Some(Value::Object(map)) => Ok(Self { map }),
            Some(other) => Err(ApiError::unprocessable(format!(
                "request body must be a JSON object, got {}",
                kind(other)
            ))),
            None => Err(ApiError::unprocessable(
                "request body is required: send a JSON object",
            )),
        }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.map.get(name).is_some_and(|v| !v.is_null())
    }

    pub(crate) fn raw(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&self, name: &str) -> ApiResult<Option<String>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(wrong(name, "a string", other)),
        }
    }

    pub(crate) fn required_string(&self, name: &str, blank: &str) -> ApiResult<String> {
        match self.string(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(ApiError::unprocessable(blank)),
        }
    }

    pub(crate) fn bool(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(wrong(name, "true or false", other)),
        }
    }

    pub(crate) fn u64(&self, name: &str) -> ApiResult<Option<u64>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(other) => Err(wrong(name, "a non-negative integer", other)),
        }
    }

    pub(crate) fn f64(&self, name: &str) -> ApiResult<Option<f64>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err(wrong(name, "a number", other)),
        }
    }

    pub(crate) fn string_list(&self, name: &str) -> ApiResult<Option<Vec<String>>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(wrong(&format!("{name}[]"), "a string", other)),
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(Some),
            Some(other) => Err(wrong(name, "an array of strings", other)),
        }
    }

    pub(crate) fn object(&self, name: &str) -> ApiResult<Option<Map<String, Value>>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(other) => Err(wrong(name, "a JSON object", other)),
        }
    }
}

fn wrong(name: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::unprocessable(format!("{name} must be {expected}, got {}", kind(got)))
}

/// A JSON value's kind, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
