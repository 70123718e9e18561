//! Handlebars rendering of userdata templates: strict mode, no HTML escaping.
//!
//! Strict mode turns a reference to an undefined variable into
//! [`Error::MissingTemplateVariable`] naming the variable, instead of silently rendering an
//! empty string into a shell script. HTML escaping is switched off because the output is shell
//! and YAML, where `&amp;` would be a bug (see `rust-stack.md` §1.6).
//!
//! Templates get one helper besides the Handlebars built-ins: `shell_quote`, which renders its
//! argument as a single POSIX shell word (`{{shell_quote runtime_package}}`). Use it for every
//! value that is not validated to be shell-safe.

use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderError, RenderErrorReason,
    ScopedJson,
};

use crate::error::{Error, Result};

/// Quotes `word` for a POSIX shell: unchanged when it only has safe characters, otherwise in
/// single quotes with embedded single quotes spelled `'\''`.
///
/// ```
/// use capp_bootstrap::shell_quote;
/// assert_eq!(shell_quote("containerd"), "containerd");
/// assert_eq!(shell_quote("it's"), r"'it'\''s'");
/// assert_eq!(shell_quote(""), "''");
/// ```
#[must_use]
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The `shell_quote` helper. Written by hand (not with `handlebars_helper!`) so that a missing
/// argument in strict mode reports the variable's name rather than the parameter's.
struct ShellQuote;

impl HelperDef for ShellQuote {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let param = h
            .param(0)
            .ok_or_else(|| RenderErrorReason::ParamNotFoundForIndex("shell_quote", 0))?;
        if r.strict_mode() && param.is_value_missing() {
            return Err(RenderErrorReason::MissingVariable(param.relative_path().cloned()).into());
        }
        let text = match param.value() {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        Ok(ScopedJson::Derived(serde_json::Value::String(shell_quote(
            &text,
        ))))
    }
}

/// A registry of compiled userdata templates, keyed by matrix entry name.
#[derive(Debug)]
pub(crate) struct TemplateEngine {
    registry: Handlebars<'static>,
}

impl TemplateEngine {
    /// A registry in strict mode, with escaping off and the `shell_quote` helper.
    pub(crate) fn new() -> Self {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        registry.register_helper("shell_quote", Box::new(ShellQuote));
        Self { registry }
    }

    /// Compiles `source` under `name`.
    pub(crate) fn register(&mut self, name: &str, source: &str) -> Result<()> {
        self.registry
            .register_template_string(name, source)
            .map_err(|source| Error::TemplateSyntax {
                entry: name.to_owned(),
                source: Box::new(source),
            })
    }

    /// Renders the template `name` with `context`.
    pub(crate) fn render(&self, name: &str, context: &serde_json::Value) -> Result<String> {
        self.registry.render(name, context).map_err(|err| {
            if let RenderErrorReason::MissingVariable(variable) = err.reason() {
                Error::MissingTemplateVariable {
                    entry: name.to_owned(),
                    variable: variable.clone().unwrap_or_else(|| "<unknown>".to_owned()),
                }
            } else {
                Error::TemplateRender {
                    entry: name.to_owned(),
                    source: Box::new(err),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(source: &str, context: &serde_json::Value) -> Result<String> {
        let mut engine = TemplateEngine::new();
        engine.register("t", source)?;
        engine.render("t", context)
    }

    #[test]
    fn a_missing_variable_is_an_error_naming_it() {
        let err = render(
            "v={{kubernetes.verison}}",
            &json!({"kubernetes": {"version": "1"}}),
        )
        .unwrap_err();
        match &err {
            Error::MissingTemplateVariable { entry, variable } => {
                assert_eq!(entry, "t");
                assert_eq!(variable, "kubernetes.verison");
            }
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains("`kubernetes.verison`"));
    }

    #[test]
    fn a_missing_variable_inside_shell_quote_is_named_too() {
        let err = render("{{shell_quote nope}}", &json!({})).unwrap_err();
        assert!(
            matches!(&err, Error::MissingTemplateVariable { variable, .. } if variable == "nope"),
            "{err}"
        );
    }

    #[test]
    fn html_special_characters_are_not_escaped() {
        let out = render("{{v}}", &json!({"v": "a&b'<c>\"d"})).unwrap();
        assert_eq!(out, "a&b'<c>\"d");
    }

    #[test]
    fn shell_quote_makes_hostile_values_one_inert_word() {
        let out = render(
            "apt-get install -y {{shell_quote p}}",
            &json!({"p": "x; rm -rf / #'"}),
        )
        .unwrap();
        assert_eq!(out, r"apt-get install -y 'x; rm -rf / #'\'''");
        assert_eq!(
            shell_quote("containerd=1.7.12-0ubuntu2"),
            "containerd=1.7.12-0ubuntu2"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
    }
}
