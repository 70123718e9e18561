//! clusterctl variables: `${NAME}` and `${NAME:=default}` (the forms this project writes), as
//! clusterctl's simple processor (drone/envsubst) reads them.
//!
//! clusterctl substitutes every `${...}` and also every bare `$NAME`, so the generated
//! manifests contain no `$` outside a variable reference ([`references`] reports any).

use std::collections::BTreeMap;

use crate::{Error, Result};

/// One `${...}` occurrence in a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The variable name, e.g. `PACKET_API_KEY`.
    pub name: String,
    /// The default after `:=`, if any.
    pub default: Option<String>,
    /// The whole reference as written, e.g. `${CAPP_SYNC_PERIOD:=10m}`.
    pub text: String,
}

/// Whether `name` is a clusterctl-style variable name: `UPPERCASE_WITH_UNDERSCORE`, starting
/// with a letter.
#[must_use]
pub fn is_variable_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Every `${...}` reference of `text`, in order. Fails on a `$` that does not start a
/// well-formed reference (an unclosed `${`, a bare `$NAME`, a lowercase or empty name, or an
/// operator other than `:=`): clusterctl would substitute or reject those.
pub fn references(text: &str) -> Result<Vec<Reference>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at..];
        let malformed = || Error::MalformedVariable(after.chars().take(40).collect());
        let body_start = after.strip_prefix("${").ok_or_else(malformed)?;
        let end = body_start.find('}').ok_or_else(malformed)?;
        let body = &body_start[..end];
        let (name, default) = match body.split_once(":=") {
            Some((name, default)) => (name, Some(default.to_owned())),
            None => (body, None),
        };
        if !is_variable_name(name) || default.as_deref().is_some_and(|d| d.contains('{')) {
            return Err(malformed());
        }
        let text = &after[..end + 3];
        found.push(Reference {
            name: name.to_owned(),
            default,
            text: text.to_owned(),
        });
        rest = &after[text.len()..];
    }
    Ok(found)
}

/// Replaces every reference with its value from `values`, else its default, as `clusterctl`
/// does; a variable with neither is an error naming it.
pub fn substitute(text: &str, values: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    for reference in references(text)? {
        let Some(at) = rest.find(&reference.text) else {
            continue;
        };
        out.push_str(&rest[..at]);
        let value = values
            .get(&reference.name)
            .or(reference.default.as_ref())
            .ok_or_else(|| Error::MissingVariable(reference.name.clone()))?;
        out.push_str(value);
        rest = &rest[at + reference.text.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_with_and_without_defaults_are_listed_in_order() {
        let refs = references("a: ${A}\nb: x${B_2:=:8080}y\n").unwrap();
        assert_eq!(refs[0].name, "A");
        assert_eq!(refs[0].default, None);
        assert_eq!(refs[1].name, "B_2");
        assert_eq!(refs[1].default.as_deref(), Some(":8080"));
    }

    #[test]
    fn a_bare_dollar_or_a_bad_name_is_refused() {
        for bad in ["$HOME", "${lower}", "${A", "${}", "${A:-x}", "${A=x}", "$"] {
            assert!(references(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn substitution_uses_values_then_defaults_and_names_what_is_missing() {
        let values = BTreeMap::from([("A".to_owned(), "1".to_owned())]);
        assert_eq!(substitute("${A}-${B:=2}-${A}", &values).unwrap(), "1-2-1");
        let err = substitute("${C}", &values).unwrap_err();
        assert!(err.to_string().contains("variable C has no value"), "{err}");
    }
}
