//! The Kubernetes URL library (`k8s.io/apiserver/pkg/cel/library/urls.go`): `url(s)` parses
//! an absolute URI or an absolute path as Go's `url.ParseRequestURI` does, with
//! `getScheme`, `getHost`, `getHostname`, `getPort`, `getEscapedPath` and `getQuery`.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::types::{STRING_TYPE, Type};
use cel::common::value::CowVal;
use cel::objects::{Key, Map, Opaque};
use cel::{DeclarationError, Env, ExecutionError, Value};

use super::library::{arg, owned, str_arg};

const TYPE_NAME: &str = "kubernetes.URL";

/// A parsed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    scheme: String,
    /// `host[:port]` as written (IPv6 hosts in brackets).
    host: String,
    path: String,
    query: String,
}

impl Opaque for Url {
    fn runtime_type_name(&self) -> &str {
        TYPE_NAME
    }
}

impl Url {
    /// `url.ParseRequestURI`: `scheme:[//[userinfo@]host]path[?query]` or `/path[?query]`;
    /// fragments are not allowed (they stay part of the path or query, as in Go).
    fn parse(s: &str) -> Option<Url> {
        if !crate::schema::formats::is_uri(s) {
            return None;
        }
        let (scheme, rest) = if s.starts_with('/') {
            ("", s)
        } else {
            s.split_once(':')?
        };
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (host, path) = match before_query.strip_prefix("//") {
            Some(authority_and_path) => {
                let end = authority_and_path
                    .find('/')
                    .unwrap_or(authority_and_path.len());
                let (authority, path) = authority_and_path.split_at(end);
                let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                (host, path)
            }
            None => ("", before_query),
        };
        Some(Url {
            scheme: scheme.to_owned(),
            host: host.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
        })
    }

    /// `url.URL.Hostname`: the host without port and IPv6 brackets.
    fn hostname(&self) -> &str {
        if let Some(rest) = self.host.strip_prefix('[') {
            return rest.split_once(']').map_or(rest, |(h, _)| h);
        }
        self.host.split_once(':').map_or(&self.host, |(h, _)| h)
    }

    /// `url.URL.Port`: the digits after the last colon of the host, if any.
    fn port(&self) -> &str {
        let after_host = match self.host.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or("", |(_, p)| p),
            None => self.host.find(':').map_or("", |i| &self.host[i..]),
        };
        after_host
            .strip_prefix(':')
            .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
            .unwrap_or("")
    }
}

/// Registers `url()` and the URL members.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let url = || Type::new_opaque_type(TYPE_NAME);
    env.add_overload("url", "string_to_url", vec![STRING_TYPE], parse)?;
    let members: [(&str, cel::common::functions::Function); 6] = [
        ("getScheme", scheme),
        ("getHost", host),
        ("getHostname", hostname),
        ("getPort", port),
        ("getEscapedPath", escaped_path),
        ("getQuery", query),
    ];
    for (name, function) in members {
        env.add_member_overload(name, &format!("url_{name}"), url(), vec![], function)?;
    }
    Ok(())
}

type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
type Out<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn url_arg(args: &[CowVal<'_, '_>], function: &str) -> Result<Url, ExecutionError> {
    match arg(args, 0)? {
        Value::Opaque(o) => o
            .downcast_ref::<Url>()
            .cloned()
            .ok_or_else(|| ExecutionError::function_error(function, "not a URL")),
        other => Err(ExecutionError::unsupported_target_type(other)),
    }
}

fn text<'b, 'v>(s: &str) -> Out<'b, 'v> {
    owned(Value::String(Arc::new(s.to_owned())))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn parse<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let s = str_arg(&args, 0)?;
    match Url::parse(&s) {
        Some(u) => owned(Value::Opaque(Arc::new(u))),
        None => Err(ExecutionError::function_error(
            "url",
            format!(
                "URL parse error during conversion from string: parse {s:?}: invalid URI for request"
            ),
        )),
    }
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn scheme<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    text(&url_arg(&args, "getScheme")?.scheme)
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn host<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    text(&url_arg(&args, "getHost")?.host)
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn hostname<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    text(url_arg(&args, "getHostname")?.hostname())
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn port<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    text(url_arg(&args, "getPort")?.port())
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn escaped_path<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    text(&url_arg(&args, "getEscapedPath")?.path)
}

/// `getQuery`: `url.URL.Query()`, a map from each (decoded) key to its values.
#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn query<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let u = url_arg(&args, "getQuery")?;
    let mut map: HashMap<Key, Vec<Value>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(u.query.as_bytes()) {
        map.entry(Key::String(Arc::new(k.into_owned())))
            .or_default()
            .push(Value::String(Arc::new(v.into_owned())));
    }
    let map: HashMap<Key, Value> = map
        .into_iter()
        .map(|(k, v)| (k, Value::List(Arc::new(v))))
        .collect();
    owned(Value::Map(Map { map: Arc::new(map) }))
}
