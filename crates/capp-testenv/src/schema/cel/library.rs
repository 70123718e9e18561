//! A subset of the Kubernetes CEL libraries (`k8s.io/apiserver/pkg/cel/library`) that the
//! cel crate lacks: the lists library (`isSorted`, `sum`, `min`, `max`, `indexOf`,
//! `lastIndexOf`), the regex library (`find`, `findAll`) and the validity predicates of the
//! URL, IP, CIDR and quantity libraries (`isURL`, `isIP`, `isCIDR`, `isQuantity`). The
//! objects of those libraries live in `quantity.rs`, `net.rs` (IP and CIDR), `url.rs` and
//! `named.rs` (`format.*`); this module registers them all, with the helpers they share.
#![expect(
    clippy::needless_pass_by_value,
    reason = "cel's Function signature takes the argument vector by value"
)]

use std::cmp::Ordering;
use std::sync::Arc;

use cel::common::types::{DYN_TYPE, INT_TYPE, LIST_TYPE, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError, Value};

/// Registers the functions on `env`.
pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_member_overload(
        "isSorted",
        "k8s_list_is_sorted",
        LIST_TYPE,
        vec![],
        is_sorted,
    )?;
    env.add_member_overload("sum", "k8s_list_sum", LIST_TYPE, vec![], sum)?;
    env.add_member_overload("min", "k8s_list_min", LIST_TYPE, vec![], min)?;
    env.add_member_overload("max", "k8s_list_max", LIST_TYPE, vec![], max)?;
    env.add_member_overload(
        "indexOf",
        "k8s_list_index_of",
        LIST_TYPE,
        vec![DYN_TYPE],
        index_of,
    )?;
    env.add_member_overload(
        "lastIndexOf",
        "k8s_list_last_index_of",
        LIST_TYPE,
        vec![DYN_TYPE],
        last_index_of,
    )?;
    env.add_member_overload(
        "find",
        "k8s_string_find",
        STRING_TYPE,
        vec![STRING_TYPE],
        find,
    )?;
    env.add_member_overload(
        "findAll",
        "k8s_string_find_all",
        STRING_TYPE,
        vec![STRING_TYPE],
        find_all,
    )?;
    env.add_member_overload(
        "findAll",
        "k8s_string_find_all_n",
        STRING_TYPE,
        vec![STRING_TYPE, INT_TYPE],
        find_all_n,
    )?;
    env.add_overload("isURL", "k8s_is_url", vec![STRING_TYPE], is_url)?;
    env.add_overload("isIP", "k8s_is_ip", vec![STRING_TYPE], is_ip)?;
    env.add_overload("isCIDR", "k8s_is_cidr", vec![STRING_TYPE], is_cidr)?;
    env.add_overload(
        "isQuantity",
        "k8s_is_quantity",
        vec![STRING_TYPE],
        is_quantity,
    )?;
    super::quantity::register(env)?;
    super::net::register(env)?;
    super::url::register(env)?;
    super::named::register(env)?;
    Ok(())
}

pub(super) fn value_of(v: &CowVal<'_, '_>) -> Result<Value, ExecutionError> {
    Value::try_from(v.as_ref() as &dyn Val)
}

pub(super) fn arg(args: &[CowVal<'_, '_>], i: usize) -> Result<Value, ExecutionError> {
    args.get(i)
        .ok_or_else(ExecutionError::missing_argument_or_target)
        .and_then(value_of)
}

fn list_arg(args: &[CowVal<'_, '_>]) -> Result<Arc<Vec<Value>>, ExecutionError> {
    match arg(args, 0)? {
        Value::List(items) => Ok(items),
        other => Err(ExecutionError::unsupported_target_type(other)),
    }
}

pub(super) fn str_arg(args: &[CowVal<'_, '_>], i: usize) -> Result<Arc<String>, ExecutionError> {
    match arg(args, i)? {
        Value::String(s) => Ok(s),
        other => Err(ExecutionError::unsupported_target_type(other)),
    }
}

pub(super) fn owned<'b, 'v>(value: Value) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let boxed: Box<dyn Val> = value.try_into()?;
    Ok(CowVal::Owned(boxed))
}

fn compare(function: &str, a: &Value, b: &Value) -> Result<Ordering, ExecutionError> {
    a.partial_cmp(b)
        .ok_or_else(|| ExecutionError::function_error(function, "list elements are not comparable"))
}

fn is_sorted<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = list_arg(&args)?;
    for pair in items.windows(2) {
        if compare("isSorted", &pair[0], &pair[1])? == Ordering::Greater {
            return owned(Value::Bool(false));
        }
    }
    owned(Value::Bool(true))
}

fn sum<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = list_arg(&args)?;
    let mut total = match items.first() {
        Some(Value::Float(_)) => Value::Float(0.0),
        Some(Value::UInt(_)) => Value::UInt(0),
        _ => Value::Int(0),
    };
    for item in items.iter() {
        total = match (&total, item) {
            (Value::Int(a), Value::Int(b)) => Value::Int(
                a.checked_add(*b)
                    .ok_or_else(|| ExecutionError::function_error("sum", "integer overflow"))?,
            ),
            (Value::UInt(a), Value::UInt(b)) => {
                Value::UInt(a.checked_add(*b).ok_or_else(|| {
                    ExecutionError::function_error("sum", "unsigned integer overflow")
                })?)
            }
            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            _ => {
                return Err(ExecutionError::function_error(
                    "sum",
                    "list elements must all be int, uint or double",
                ));
            }
        };
    }
    owned(total)
}

fn extreme<'b, 'v>(
    args: &[CowVal<'b, 'v>],
    name: &str,
    want: Ordering,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = list_arg(args)?;
    let mut best = items.first().ok_or_else(|| {
        ExecutionError::function_error(name, format!("{name} called on empty list"))
    })?;
    for item in items.iter().skip(1) {
        if compare(name, item, best)? == want {
            best = item;
        }
    }
    owned(best.clone())
}

fn min<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    extreme(&args, "min", Ordering::Less)
}

fn max<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    extreme(&args, "max", Ordering::Greater)
}

fn position(args: &[CowVal<'_, '_>], last: bool) -> Result<Value, ExecutionError> {
    let items = list_arg(args)?;
    let needle = arg(args, 1)?;
    let found = if last {
        items.iter().rposition(|v| *v == needle)
    } else {
        items.iter().position(|v| *v == needle)
    };
    Ok(Value::Int(
        found.and_then(|i| i64::try_from(i).ok()).unwrap_or(-1),
    ))
}

fn index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    owned(position(&args, false)?)
}

fn last_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    owned(position(&args, true)?)
}

fn regex(function: &str, pattern: &str) -> Result<regex::Regex, ExecutionError> {
    regex::Regex::new(pattern).map_err(|e| ExecutionError::function_error(function, e))
}

fn find<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let haystack = str_arg(&args, 0)?;
    let re = regex("find", &str_arg(&args, 1)?)?;
    let found = re.find(&haystack).map_or("", |m| m.as_str());
    owned(Value::String(Arc::new(found.to_owned())))
}

fn find_all_limited<'b, 'v>(
    args: &[CowVal<'b, 'v>],
    limit: Option<usize>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let haystack = str_arg(args, 0)?;
    let re = regex("findAll", &str_arg(args, 1)?)?;
    let matches = re
        .find_iter(&haystack)
        .take(limit.unwrap_or(usize::MAX))
        .map(|m| Value::String(Arc::new(m.as_str().to_owned())))
        .collect();
    owned(Value::List(Arc::new(matches)))
}

fn find_all<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    find_all_limited(&args, None)
}

fn find_all_n<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    // A negative limit means "all matches", as in Go's FindAllString.
    let limit = match arg(&args, 2)? {
        Value::Int(n) => usize::try_from(n).ok(),
        other => return Err(ExecutionError::unsupported_target_type(other)),
    };
    find_all_limited(&args, limit)
}

fn predicate<'b, 'v>(
    args: &[CowVal<'b, 'v>],
    test: impl FnOnce(&str) -> bool,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let s = str_arg(args, 0)?;
    owned(Value::Bool(test(&s)))
}

/// `isURL`: an absolute URI or an absolute path, as Go's `url.ParseRequestURI` accepts.
fn is_url<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    predicate(&args, crate::schema::formats::is_uri)
}

/// `isIP`: an IPv4 or IPv6 address (no zone, no leading zeros).
fn is_ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    predicate(&args, |s| super::net::parse_ip(s).is_ok())
}

/// `isCIDR`: an address and a prefix length within its family.
fn is_cidr<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    predicate(&args, |s| super::net::parse_cidr(s).is_ok())
}

/// `isQuantity`: a Kubernetes resource quantity (`1`, `1.5`, `100m`, `2Gi`, `1e3`).
fn is_quantity<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    predicate(&args, is_quantity_str)
}

pub(super) fn is_quantity_str(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    let suffix_ok = match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T"
        | "P" | "E" => true,
        exp => exp
            .strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
            .is_some_and(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())),
    };
    number_ok && suffix_ok
}
