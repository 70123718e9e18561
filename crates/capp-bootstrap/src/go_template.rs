//! Bootstrap data written for the Go provider (cluster-api-provider-packet), rendered exactly
//! as it rendered it.
//!
//! The Go provider ran every bootstrap Secret's `value` through Go's `text/template` before
//! sending it as userdata (`pkg/cloud/packet/client.go`, `NewDevice`), with a
//! `map[string]interface{}` of these values:
//!
//! | key | value | set for |
//! |---|---|---|
//! | `.kubernetesVersion` | `Machine.spec.version` (`""` when unset) | every machine |
//! | `.apiKey` | the provider's Metal API token | control-plane machines |
//! | `.controlPlaneEndpoint` | the Elastic IP (CPEM, KUBE_VIP) or `Cluster.spec.controlPlaneEndpoint.host` (EMLB), when not empty | control-plane machines |
//! | `.cpemConfig` | `emlb:///<metro>` (EMLB), when not empty | control-plane machines |
//! | `.emlbID` | the load balancer ID (EMLB), when not empty | control-plane machines |
//!
//! Its cluster templates (`templates/cluster-template{,-kube-vip,-emlb}.yaml`, every release)
//! use only `{{ .key }}` of those keys and raw string literals that protect cloud-init's
//! jinja from Go, ``{{ `{{ v1.instance_id }}` }}``. This module implements that subset with
//! Go's semantics ([`render_go_template`]):
//!
//! - text outside actions is copied unchanged; `{{ .key }}` prints the value as is (no
//!   escaping, `text/template`); a key the Go provider did not set prints `<no value>`, as Go
//!   prints a missing map key (so a worker's `{{ .controlPlaneEndpoint }}` renders as Go did);
//! - ``{{ `raw` }}`` prints the literal (it may contain `}}` and newlines);
//! - the trim markers `{{- ` and ` -}}` remove the whitespace (space, tab, CR, LF) before or
//!   after the action;
//! - spaces, tabs and newlines inside an action are ignored.
//!
//! Everything else Go accepts (pipelines, functions, variables, `if`/`range`, comments,
//! quoted strings, other field names) is [`Error::UnsupportedGoTemplate`] naming the
//! construct and its line and column; those would have been parse errors or `<no value>`
//! typos with the Go provider too. `.apiKey` renders only with the manager's explicit opt-in
//! ([`GoApiKey::Token`]); otherwise it is [`Error::GoTemplateApiKeyRefused`], so the
//! controller can say which flag to set, and the token never reaches userdata by accident.
//!
//! Why a hand parser: no maintained crate implements Go's `text/template` (the `gtmpl`
//! crates are unmaintained and implement far more than this subset, which is exactly what
//! must be refused), and Handlebars, the templating this crate uses, parses `{{ .x }}` and
//! raw strings differently. The subset is small enough to match Go byte for byte; the tests
//! compare against Go itself when `go` is installed.

use std::fmt;

use secrecy::ExposeSecret;

use crate::error::{Error, Result};
use crate::inputs::MetalApiTokenOptIn;

/// What Go's `text/template` prints for a key missing from the data map.
pub const GO_NO_VALUE: &str = "<no value>";

/// What `{{ .apiKey }}` renders to.
#[derive(Clone, Default)]
pub enum GoApiKey {
    /// The manager was not started with the opt-in: `{{ .apiKey }}` is
    /// [`Error::GoTemplateApiKeyRefused`].
    #[default]
    Refused,
    /// Opted in, but the Go provider would not have set the key (worker machines): prints
    /// `<no value>`, as Go did.
    Unset,
    /// Opted in for a control-plane machine: prints the token.
    Token(MetalApiTokenOptIn),
}

impl fmt::Debug for GoApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GoApiKey::Refused => "Refused",
            GoApiKey::Unset => "Unset",
            GoApiKey::Token(_) => "Token([REDACTED])",
        })
    }
}

/// The values the Go provider passed to its bootstrap template; `None` is a key it did not
/// set (rendered `<no value>`).
#[derive(Clone, Debug, Default)]
pub struct GoTemplateValues {
    /// `.kubernetesVersion`.
    pub kubernetes_version: Option<String>,
    /// `.controlPlaneEndpoint`.
    pub control_plane_endpoint: Option<String>,
    /// `.cpemConfig`.
    pub cpem_config: Option<String>,
    /// `.emlbID`.
    pub emlb_id: Option<String>,
    /// `.apiKey`.
    pub api_key: GoApiKey,
}

/// The machine-specific inputs of [`GoTemplateValues::for_machine`].
#[derive(Clone, Debug, Default)]
pub struct GoMachineInputs<'a> {
    /// Whether the Machine is a control-plane machine.
    pub control_plane: bool,
    /// `Machine.spec.version`.
    pub kubernetes_version: Option<&'a str>,
    /// The control-plane endpoint host (Elastic IP for CPEM and KUBE_VIP, the load balancer
    /// host for EMLB).
    pub control_plane_endpoint: Option<&'a str>,
    /// CPEM's load balancer setting (`emlb:///<metro>` for EMLB).
    pub cpem_config: Option<&'a str>,
    /// The EMLB load balancer ID.
    pub emlb_id: Option<&'a str>,
    /// The manager's opt-in to put the Metal API token into control-plane userdata.
    pub api_key_opt_in: Option<&'a MetalApiTokenOptIn>,
}

impl GoTemplateValues {
    /// The values exactly as the Go provider set them (`NewDevice`): `kubernetesVersion`
    /// always (empty when unset); for control-plane machines `apiKey`, and each of
    /// `controlPlaneEndpoint`, `cpemConfig`, `emlbID` when not empty; nothing else. The token
    /// is used only with the opt-in.
    ///
    /// ```
    /// use capp_bootstrap::go_template::{GoMachineInputs, GoTemplateValues, render_go_template};
    /// let worker = GoTemplateValues::for_machine(&GoMachineInputs {
    ///     kubernetes_version: Some("v1.32.3"),
    ///     control_plane_endpoint: Some("147.75.80.10"),
    ///     ..Default::default()
    /// });
    /// let out = render_go_template("v={{ .kubernetesVersion }} ep={{ .controlPlaneEndpoint }}", &worker)?;
    /// assert_eq!(out, "v=v1.32.3 ep=<no value>");
    /// # Ok::<(), capp_bootstrap::Error>(())
    /// ```
    #[must_use]
    pub fn for_machine(inputs: &GoMachineInputs<'_>) -> GoTemplateValues {
        let set = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
        let kubernetes_version = Some(inputs.kubernetes_version.unwrap_or_default().to_owned());
        let api_key = match (inputs.api_key_opt_in, inputs.control_plane) {
            (None, _) => GoApiKey::Refused,
            (Some(_), false) => GoApiKey::Unset,
            (Some(opt_in), true) => GoApiKey::Token(opt_in.clone()),
        };
        if !inputs.control_plane {
            return GoTemplateValues {
                kubernetes_version,
                api_key,
                ..GoTemplateValues::default()
            };
        }
        GoTemplateValues {
            kubernetes_version,
            control_plane_endpoint: set(inputs.control_plane_endpoint),
            cpem_config: set(inputs.cpem_config),
            emlb_id: set(inputs.emlb_id),
            api_key,
        }
    }
}

/// The keys of the Go provider's data map, as written after the dot.
pub const GO_TEMPLATE_KEYS: [&str; 5] = [
    "kubernetesVersion",
    "controlPlaneEndpoint",
    "cpemConfig",
    "emlbID",
    "apiKey",
];

/// Renders bootstrap data written for the Go provider exactly as its `text/template` call did
/// (see the [module documentation](self) for the subset). Text without `{{` comes back
/// unchanged.
///
/// ```
/// use capp_bootstrap::go_template::{GoTemplateValues, render_go_template};
/// let values = GoTemplateValues {
///     kubernetes_version: Some("v1.32.3".into()),
///     ..Default::default()
/// };
/// let out = render_go_template(
///     "provider-id: equinixmetal://{{ `{{ v1.instance_id }}` }}\nv: {{ .kubernetesVersion }}\n",
///     &values,
/// )?;
/// assert_eq!(out, "provider-id: equinixmetal://{{ v1.instance_id }}\nv: v1.32.3\n");
/// assert!(render_go_template("{{ .apiKey }}", &values).is_err());
/// # Ok::<(), capp_bootstrap::Error>(())
/// ```
pub fn render_go_template(template: &str, values: &GoTemplateValues) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut offset = 0;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start_matches(is_go_space);
        }
        let after_open = &rest[open + 2..];
        let left_trim = has_left_trim_marker(after_open);
        if left_trim {
            text = text.trim_end_matches(is_go_space);
        }
        out.push_str(text);
        let action_start = offset + open;
        let body_start = open + 2 + if left_trim { 2 } else { 0 };
        let action = parse_action(&rest[body_start..], template, action_start)?;
        match action.operand {
            Operand::Raw(raw) => out.push_str(raw),
            Operand::Field(name) => {
                out.push_str(&field_value(name, values, template, action_start)?);
            }
        }
        trim_next = action.right_trim;
        let consumed = body_start + action.len;
        rest = &rest[consumed..];
        offset += consumed;
    }
    if trim_next {
        rest = rest.trim_start_matches(is_go_space);
    }
    out.push_str(rest);
    Ok(out)
}

/// Go's `isSpace` in `text/template/parse/lex.go`: space, tab, carriage return, newline.
fn is_go_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `{{- ` : a dash directly after the delimiter, followed by a space character.
fn has_left_trim_marker(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next() == Some('-') && chars.next().is_some_and(is_go_space)
}

enum Operand<'a> {
    Field(&'a str),
    Raw(&'a str),
}

struct Action<'a> {
    operand: Operand<'a>,
    right_trim: bool,
    /// Bytes from the start of the body to just after `}}`.
    len: usize,
}

/// Parses the body of an action (after `{{` and any left trim marker) up to and including
/// `}}`: exactly one `.field` or raw string operand.
fn parse_action<'a>(body: &'a str, template: &str, start: usize) -> Result<Action<'a>> {
    let unsupported = |reason: String| unsupported(template, start, reason);
    let mut pos = skip_spaces(body, 0);
    let rest = &body[pos..];
    let operand = if let Some(raw) = rest.strip_prefix('`') {
        let Some(close) = raw.find('`') else {
            return Err(unsupported("unterminated raw quoted string".to_owned()));
        };
        pos += 1 + close + 1;
        Operand::Raw(&raw[..close])
    } else if let Some(field) = rest.strip_prefix('.') {
        let len = field
            .char_indices()
            .find(|&(_, c)| !(c == '_' || c.is_alphanumeric()))
            .map_or(field.len(), |(i, _)| i);
        if len == 0 {
            return Err(unsupported(
                "`.` (the whole data map) is not supported; name one key".to_owned(),
            ));
        }
        pos += 1 + len;
        Operand::Field(&field[..len])
    } else if rest.starts_with("}}") || has_right_trim(rest) {
        return Err(unsupported("empty action (missing value)".to_owned()));
    } else {
        return Err(unsupported(describe_unsupported(rest)));
    };
    let after = skip_spaces(body, pos);
    let tail = &body[pos..];
    if has_right_trim(tail) {
        let dash = tail.find('-').unwrap_or_default();
        return Ok(Action {
            operand,
            right_trim: true,
            len: pos + dash + 3,
        });
    }
    if body[after..].starts_with("}}") {
        return Ok(Action {
            operand,
            right_trim: false,
            len: after + 2,
        });
    }
    if after >= body.len() {
        return Err(unsupported(
            "unclosed action: no `}}` before the end of the data".to_owned(),
        ));
    }
    Err(unsupported(format!(
        "only one value per action is supported, found more after it ({})",
        describe_unsupported(&body[after..])
    )))
}

/// ` -}}` possibly after more spaces: spaces, a dash, the delimiter (Go requires at least one
/// space before the dash).
fn has_right_trim(s: &str) -> bool {
    let trimmed = s.trim_start_matches(is_go_space);
    trimmed.len() < s.len() && trimmed.starts_with("-}}")
}

fn skip_spaces(s: &str, from: usize) -> usize {
    from + s[from..].len() - s[from..].trim_start_matches(is_go_space).len()
}

/// Names the construct at the start of an action body that this subset does not support.
fn describe_unsupported(rest: &str) -> String {
    let word: String = rest
        .chars()
        .take_while(|c| !is_go_space(*c) && *c != '}')
        .collect();
    let construct = match rest.chars().next() {
        Some('/') if rest.starts_with("/*") => "comments are",
        Some('"') => "interpreted string literals are",
        Some('\'') => "character constants are",
        Some('$') => "variables are",
        Some('(') => "parenthesized pipelines are",
        Some('|') => "pipelines are",
        Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => "numbers are",
        _ if is_keyword(&word) => {
            return format!(
                "the `{word}` action is not supported; only {{{{ .key }}}} and raw strings are"
            );
        }
        _ => {
            return format!(
                "the function or identifier `{word}` is not supported; only {{{{ .key }}}} and raw strings are"
            );
        }
    };
    format!("{construct} not supported; only {{{{ .key }}}} and raw strings are")
}

fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "if" | "else"
            | "end"
            | "range"
            | "with"
            | "define"
            | "template"
            | "block"
            | "break"
            | "continue"
            | "nil"
            | "true"
            | "false"
    )
}

fn field_value(
    name: &str,
    values: &GoTemplateValues,
    template: &str,
    start: usize,
) -> Result<String> {
    let value = match name {
        "kubernetesVersion" => values.kubernetes_version.as_deref(),
        "controlPlaneEndpoint" => values.control_plane_endpoint.as_deref(),
        "cpemConfig" => values.cpem_config.as_deref(),
        "emlbID" => values.emlb_id.as_deref(),
        "apiKey" => {
            return match &values.api_key {
                GoApiKey::Refused => {
                    let (line, column) = line_column(template, start);
                    Err(Error::GoTemplateApiKeyRefused { line, column })
                }
                GoApiKey::Unset => Ok(GO_NO_VALUE.to_owned()),
                GoApiKey::Token(opt_in) => Ok(opt_in.token.expose_secret().to_owned()),
            };
        }
        other => {
            let (line, column) = line_column(template, start);
            return Err(Error::UnsupportedGoTemplate {
                line,
                column,
                construct: format!("{{{{ .{other} }}}}"),
                reason: format!(
                    "unknown key .{other}; the Go provider set only {}",
                    GO_TEMPLATE_KEYS.map(|k| format!(".{k}")).join(", ")
                ),
            });
        }
    };
    Ok(value.unwrap_or(GO_NO_VALUE).to_owned())
}

fn unsupported(template: &str, start: usize, reason: String) -> Error {
    let (line, column) = line_column(template, start);
    Error::UnsupportedGoTemplate {
        line,
        column,
        construct: excerpt(&template[start..]),
        reason,
    }
}

/// The action as written from its `{{` to the first `}}` after it (at most 60 characters, on
/// one line), for messages.
fn excerpt(action: &str) -> String {
    let end = action[2..].find("}}").map_or(action.len(), |i| i + 4);
    let mut shown: String = action[..end]
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .take(60)
        .collect();
    if action[..end].chars().count() > 60 {
        shown.push('…');
    }
    shown
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests;
