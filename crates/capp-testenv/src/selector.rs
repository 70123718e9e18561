//! Label selectors (equality- and set-based) and field selectors on `metadata.name` and
//! `metadata.namespace`.

use serde_json::Value;

use crate::http::Query;
use crate::registry::ResourceDef;
use crate::status::ApiError;

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector (all requirements must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_set(rest: &str, whole: &str) -> Result<Vec<String>, ApiError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| bad(whole, "expected a parenthesised set of values"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect())
}

fn bad(sel: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("unable to parse requirement: {sel}: {why}"))
}

fn check_key(key: &str, whole: &str) -> Result<String, ApiError> {
    if crate::names::qualified_name(key).is_empty() {
        Ok(key.to_owned())
    } else {
        Err(bad(whole, "invalid label key"))
    }
}

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
    pub(crate) fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(Self(reqs));
        }
        for part in split_top(s) {
            let p = part.trim();
            if p.is_empty() {
                continue;
            }
            if let Some(k) = p.strip_prefix('!') {
                reqs.push(Requirement::NotExists(check_key(k.trim(), p)?));
            } else if let Some((k, v)) = p.split_once("!=") {
                reqs.push(Requirement::NotEquals(
                    check_key(k.trim(), p)?,
                    v.trim().to_owned(),
                ));
            } else if let Some((k, v)) = p.split_once("==") {
                reqs.push(Requirement::Equals(
                    check_key(k.trim(), p)?,
                    v.trim().to_owned(),
                ));
            } else if let Some((k, v)) = p.split_once('=') {
                reqs.push(Requirement::Equals(
                    check_key(k.trim(), p)?,
                    v.trim().to_owned(),
                ));
            } else if let Some((k, rest)) = p.split_once(" notin ") {
                reqs.push(Requirement::NotIn(
                    check_key(k.trim(), p)?,
                    parse_set(rest, p)?,
                ));
            } else if let Some((k, rest)) = p.split_once(" in ") {
                reqs.push(Requirement::In(
                    check_key(k.trim(), p)?,
                    parse_set(rest, p)?,
                ));
            } else if p.contains(' ') || p.contains('(') {
                return Err(bad(p, "unknown operator"));
            } else {
                reqs.push(Requirement::Exists(check_key(p, p)?));
            }
        }
        Ok(Self(reqs))
    }

    /// Whether the object's labels satisfy every requirement.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector: `metadata.name`, `metadata.namespace` and the resource's own
/// selectable fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses `metadata.name=x,metadata.namespace!=y`; `extra` lists the other fields the
    /// resource supports (dotted paths).
    pub(crate) fn parse(s: &str, extra: &[String]) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, eq, v) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let k = k.trim();
            if k != "metadata.name" && k != "metadata.namespace" && !extra.iter().any(|e| e == k) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {k}"
                )));
            }
            reqs.push((k.to_owned(), eq, v.trim().to_owned()));
        }
        Ok(Self(reqs))
    }

    /// Whether the object satisfies every requirement.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(k, eq, v)| {
            let mut cur = obj;
            for part in k.split('.') {
                cur = &cur[part];
            }
            let actual = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (actual == *v) == *eq
        })
    }
}

/// Builds the label+field selector predicate from the query.
pub(crate) fn matcher(
    q: &Query,
    def: &ResourceDef,
) -> Result<impl Fn(&Value) -> bool + Send + Sync + 'static, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?;
    let fields = FieldSelector::parse(
        q.get("fieldSelector").map_or("", String::as_str),
        &def.selectable,
    )?;
    Ok(move |o: &Value| labels.matches(o) && fields.matches(o))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj() -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web", "tier": "fe"}}})
    }

    #[test]
    fn equality_and_set_based_label_selectors_match_like_kubernetes() {
        let o = obj();
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web, db)", true),
            ("app notin (web)", false),
            ("missing notin (x)", true),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=web,tier in (fe,be),!missing", true),
            ("app=web,tier=be", false),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&o),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn malformed_label_selectors_are_rejected() {
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("bad key=x").is_err());
    }

    #[test]
    fn field_selectors_support_name_namespace_and_declared_fields() {
        let o = obj();
        assert!(
            FieldSelector::parse("metadata.name=a", &[])
                .unwrap()
                .matches(&o)
        );
        assert!(
            !FieldSelector::parse("metadata.namespace!=ns", &[])
                .unwrap()
                .matches(&o)
        );
        assert_eq!(FieldSelector::parse("spec.x=1", &[]).unwrap_err().code, 400);
        let extra = ["spec.x".to_owned()];
        assert!(
            FieldSelector::parse("spec.x=1", &extra)
                .unwrap()
                .matches(&json!({"spec": {"x": 1}}))
        );
        assert!(
            !FieldSelector::parse("spec.x=1", &extra)
                .unwrap()
                .matches(&o)
        );
    }
}
