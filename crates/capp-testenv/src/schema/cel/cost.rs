//! The worst-case cost of a rule as kube-apiserver estimates it when a CRD is written: cel-go's
//! `checker/cost.go` (`coster`) with the Kubernetes libraries' estimator
//! (`k8s.io/apiserver/pkg/cel/library/cost.go` `CostEstimator.EstimateCallCost`) and sizes
//! from the schema (`maxLength`, `maxItems`, `maxProperties`, else the request-size estimates).
//! Only the upper bound is tracked: it is what the budgets are checked against.

use std::collections::HashMap;

use cel::common::ast::{EntryExpr, Expr, LiteralValue};
use cel::{IdedExpr, Program};

use super::check::Checked;
use super::types::{Library, Ty, max_elements};

/// `StaticEstimatedCostLimit`: the largest estimated cost of one rule (times the number of
/// times it can run).
pub(super) const STATIC_ESTIMATED_COST_LIMIT: u64 = 10_000_000;
/// `StaticEstimatedCRDCostLimit`: the largest estimated cost of all the rules of a schema.
pub(crate) const STATIC_ESTIMATED_CRD_COST_LIMIT: u64 = 100_000_000;

/// `common.StringTraversalCostFactor`.
const STRING_TRAVERSAL: f64 = 0.1;
/// `common.RegexStringLengthCostFactor`.
const REGEX_LENGTH: f64 = 0.25;
/// `MaxNameFormatRegexSize`: the regex length charged for a `format.*` validation.
const MAX_NAME_FORMAT_REGEX_SIZE: f64 = 128.0;
/// An unknown size.
const UNKNOWN: u64 = u64::MAX;

/// `multiplyByCostFactor`: `ceil(x * factor)`, saturating.
#[expect(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "mirrors cel-go's float arithmetic, saturating at u64::MAX"
)]
fn factor(x: u64, f: f64) -> u64 {
    let product = (x as f64 * f).ceil();
    if product >= 2f64.powi(64) {
        u64::MAX
    } else {
        product as u64
    }
}

/// The estimated worst-case cost of `program`, typed by `checked`.
pub(super) fn estimate(program: &Program, checked: &Checked<'_>) -> u64 {
    let mut coster = Coster {
        checked,
        sizes: HashMap::new(),
        locals: Vec::new(),
    };
    coster.cost(program.expression())
}

struct Coster<'c, 'n, 'e> {
    checked: &'c Checked<'n>,
    /// Sizes computed for call results (concatenations, conditionals, comprehensions).
    sizes: HashMap<u64, u64>,
    /// Sizes of the variables bound by enclosing comprehensions, when known.
    locals: Vec<(&'e str, u64)>,
}

impl<'n, 'e> Coster<'_, 'n, 'e> {
    fn ty(&self, e: &IdedExpr) -> &Ty<'n> {
        self.checked.types.get(&e.id).unwrap_or(&Ty::Dyn)
    }

    /// The largest `size()` of the value of `e` (`computeSize`): computed, literal, from the
    /// schema, 1 for scalars, else unknown.
    fn size(&self, e: &IdedExpr) -> u64 {
        if let Some(s) = self.sizes.get(&e.id) {
            return *s;
        }
        match &e.expr {
            Expr::Literal(LiteralValue::String(s)) => return s.chars().count() as u64,
            Expr::Literal(LiteralValue::Bytes(b)) => return b.len() as u64,
            Expr::Literal(_) => return 1,
            Expr::List(l) => return l.elements.len() as u64,
            Expr::Map(m) => return m.entries.len() as u64,
            _ => {}
        }
        if let Some(node) = self.checked.nodes.get(&e.id) {
            return max_elements(node);
        }
        if let Some(s) = self.checked.sizes.get(&e.id) {
            return *s;
        }
        if matches!(
            self.ty(e),
            Ty::Bool | Ty::Int | Ty::Uint | Ty::Double | Ty::Timestamp | Ty::Duration | Ty::Type
        ) {
            return 1;
        }
        if let Expr::Ident(name) = &e.expr
            && let Some((_, size)) = self.locals.iter().rev().find(|(n, _)| *n == name.as_str())
        {
            return *size;
        }
        UNKNOWN
    }

    /// The smallest size of a literal (0 for anything else), for `replace`.
    fn min_size(e: &IdedExpr) -> u64 {
        match &e.expr {
            Expr::Literal(LiteralValue::String(s)) => s.chars().count() as u64,
            _ => 0,
        }
    }

    fn cost(&mut self, e: &'e IdedExpr) -> u64 {
        match &e.expr {
            Expr::Literal(_) | Expr::Unspecified => 0,
            Expr::Ident(_) => 1,
            Expr::Select(select) => {
                let operand = self.cost(&select.operand);
                if select.test {
                    return operand.saturating_add(1);
                }
                let selects = matches!(
                    self.ty(&select.operand),
                    Ty::Map(..) | Ty::Object(..) | Ty::Metadata
                );
                operand.saturating_add(u64::from(selects))
            }
            Expr::Call(call) => {
                let arg_costs: Vec<u64> = call.args.iter().map(|a| self.cost(a)).collect();
                let arg_sum = arg_costs.iter().fold(0u64, |a, c| a.saturating_add(*c));
                let target_cost = call.target.as_deref().map_or(0, |t| self.cost(t));
                if call.func_name == "dyn"
                    && let Some(arg) = call.args.first()
                {
                    let s = self.size(arg);
                    self.sizes.insert(e.id, s);
                    return arg_sum.saturating_add(1);
                }
                let (fn_cost, result_size) = self.call(
                    call.func_name.as_str(),
                    call.target.as_deref(),
                    &call.args,
                    &arg_costs,
                );
                if let Some(s) = result_size {
                    self.sizes.insert(e.id, s);
                }
                target_cost.saturating_add(fn_cost).saturating_add(
                    if Self::adds_args(&call.func_name) {
                        arg_sum
                    } else {
                        0
                    },
                )
            }
            Expr::List(list) => list
                .elements
                .iter()
                .fold(10u64, |a, x| a.saturating_add(self.cost(x))),
            Expr::Map(map) => map
                .entries
                .iter()
                .fold(30u64, |a, entry| match &entry.expr {
                    EntryExpr::MapEntry(m) => a
                        .saturating_add(self.cost(&m.key))
                        .saturating_add(self.cost(&m.value)),
                    EntryExpr::StructField(f) => a.saturating_add(self.cost(&f.value)),
                }),
            Expr::Struct(st) => st.entries.iter().fold(40u64, |a, entry| match &entry.expr {
                EntryExpr::StructField(f) => a.saturating_add(self.cost(&f.value)),
                EntryExpr::MapEntry(m) => a.saturating_add(self.cost(&m.value)),
            }),
            Expr::Comprehension(comp) => {
                let mut sum = self
                    .cost(&comp.iter_range)
                    .saturating_add(self.cost(&comp.accu_init));
                let depth = self.locals.len();
                let accu_size = self.size(&comp.accu_init);
                self.locals.push((&comp.accu_var, accu_size));
                // Elements of a list literal have the largest size of its elements.
                if let Expr::List(l) = &comp.iter_range.expr {
                    let elem = l.elements.iter().map(|x| self.size(x)).max().unwrap_or(0);
                    self.locals.push((&comp.iter_var, elem));
                }
                let per_item = self
                    .cost(&comp.loop_cond)
                    .saturating_add(self.cost(&comp.loop_step));
                self.locals.truncate(depth + 1);
                sum = sum.saturating_add(self.cost(&comp.result));
                self.locals.truncate(depth);
                let count = self.size(&comp.iter_range);
                sum = sum.saturating_add(count.saturating_mul(per_item));
                match &comp.accu_init.expr {
                    Expr::Literal(_) => {
                        self.sizes.insert(e.id, 1);
                    }
                    Expr::List(_) | Expr::Map(_) => {
                        self.sizes.insert(e.id, count);
                    }
                    _ => {}
                }
                sum
            }
        }
    }

    /// `&&`, `||` and `?:` already account for their arguments.
    fn adds_args(name: &str) -> bool {
        !matches!(name, "_&&_" | "_||_" | "_?_:_")
    }

    /// The cost of one call (without its arguments' cost, added by the caller, except for
    /// `&&`, `||` and `?:`), and the size of its result when known.
    #[expect(clippy::too_many_lines, reason = "one case per function, as upstream")]
    fn call(
        &self,
        name: &str,
        target: Option<&IdedExpr>,
        args: &[IdedExpr],
        arg_costs: &[u64],
    ) -> (u64, Option<u64>) {
        let size_of = |c: &Self, e: Option<&IdedExpr>| e.map_or(UNKNOWN, |e| c.size(e));
        let target_size = size_of(self, target);
        let arg_size = |c: &Self, i: usize| size_of(c, args.get(i));
        // The Kubernetes libraries' estimator (`EstimateCallCost`), consulted first.
        if let Some(t) = target {
            match name {
                "isSorted" | "sum" | "max" | "min" | "indexOf" | "lastIndexOf" => {
                    if let Ty::List(elem) = self.ty(t) {
                        let mut per = 1u64;
                        if matches!(**elem, Ty::String | Ty::Bytes) {
                            let elem_size = self
                                .checked
                                .nodes
                                .get(&t.id)
                                .and_then(|n| n.items.as_deref())
                                .map_or(UNKNOWN, max_elements);
                            per = per.saturating_add(factor(elem_size, STRING_TRAVERSAL));
                        }
                        return (target_size.saturating_mul(per), None);
                    }
                    return (factor(target_size, STRING_TRAVERSAL), None);
                }
                "lowerAscii" | "upperAscii" | "substring" | "trim" => {
                    return (factor(target_size, STRING_TRAVERSAL), Some(target_size));
                }
                "replace" if args.len() >= 2 => {
                    let to_replace_min = Self::min_size(&args[0]);
                    let with_max = arg_size(self, 1);
                    let size = if to_replace_min == 0 {
                        target_size
                            .saturating_add(1)
                            .saturating_mul(with_max)
                            .saturating_add(target_size)
                    } else if with_max <= to_replace_min {
                        target_size
                    } else {
                        target_size
                            .div_ceil(to_replace_min)
                            .saturating_mul(with_max)
                    };
                    return (factor(target_size, 2.0 * STRING_TRAVERSAL), Some(size));
                }
                "split" => {
                    let max = match args.get(1).map(|a| &a.expr) {
                        Some(Expr::Literal(LiteralValue::Int(i))) => {
                            u64::try_from(i64::from(*i)).unwrap_or(0)
                        }
                        _ => target_size,
                    };
                    return (factor(target_size, 2.0 * STRING_TRAVERSAL), Some(max));
                }
                "join" => {
                    let elem = self
                        .checked
                        .nodes
                        .get(&t.id)
                        .and_then(|n| n.items.as_deref())
                        .map_or(UNKNOWN, max_elements);
                    let mut size = target_size.saturating_mul(elem);
                    if let Some(sep) = args.first() {
                        size = size.saturating_add(
                            self.size(sep).saturating_mul(target_size.saturating_sub(1)),
                        );
                    }
                    return (factor(size, STRING_TRAVERSAL), Some(size));
                }
                "find" | "findAll" if !args.is_empty() => {
                    let s = factor(target_size.saturating_add(1), STRING_TRAVERSAL);
                    let r = factor(arg_size(self, 0), REGEX_LENGTH);
                    return (s.saturating_mul(r), Some(target_size));
                }
                "containsIP" | "containsCIDR" if !args.is_empty() => {
                    let mut cost = factor(32, STRING_TRAVERSAL);
                    if name == "containsCIDR" {
                        cost = cost
                            .saturating_add(factor(16, STRING_TRAVERSAL))
                            .saturating_add(1);
                    }
                    if matches!(self.ty(&args[0]), Ty::String) {
                        cost = cost.saturating_add(factor(arg_size(self, 0), STRING_TRAVERSAL));
                    }
                    return (cost, None);
                }
                "validate" if !args.is_empty() => {
                    let traversal = factor(arg_size(self, 0), STRING_TRAVERSAL);
                    return (
                        factor(traversal, MAX_NAME_FORMAT_REGEX_SIZE * REGEX_LENGTH),
                        None,
                    );
                }
                "ip"
                | "masked"
                | "prefixLength"
                | "family"
                | "isUnspecified"
                | "isLoopback"
                | "isLinkLocalMulticast"
                | "isLinkLocalUnicast"
                | "isGlobalUnicast"
                | "sign"
                | "asInteger"
                | "isInteger"
                | "asApproximateFloat"
                | "isGreaterThan"
                | "isLessThan"
                | "compareTo"
                | "add"
                | "sub"
                | "getScheme"
                | "getHostname"
                | "getHost"
                | "getPort"
                | "getEscapedPath"
                | "getQuery" => return (1, None),
                _ => {}
            }
        }
        match name {
            "url" if args.len() == 1 => {
                let s = arg_size(self, 0);
                return (factor(s, STRING_TRAVERSAL), Some(s));
            }
            "format.named" => return (1, None),
            "_==_" if args.len() == 2 => {
                if let (Ty::Library(a), Ty::Library(b)) = (self.ty(&args[0]), self.ty(&args[1]))
                    && a == b
                    && *a != Library::Url
                {
                    return (1, None);
                }
            }
            _ => {}
        }
        // cel-go's own estimates (`functionCost`).
        match (name, target) {
            ("format", Some(_)) => return (factor(target_size, STRING_TRAVERSAL), None),
            ("bytes", None) if matches!(args.first().map(|a| self.ty(a)), Some(Ty::String)) => {
                let s = arg_size(self, 0);
                return (factor(s, STRING_TRAVERSAL), Some(s.saturating_mul(4)));
            }
            ("string", None) if matches!(args.first().map(|a| self.ty(a)), Some(Ty::Bytes)) => {
                let s = arg_size(self, 0);
                return (factor(s, STRING_TRAVERSAL), Some(s));
            }
            ("startsWith" | "endsWith", Some(_)) if args.len() == 1 => {
                return (factor(arg_size(self, 0), STRING_TRAVERSAL), None);
            }
            ("@in", None) if args.len() == 2 && matches!(self.ty(&args[1]), Ty::List(_)) => {
                return (arg_size(self, 1), None);
            }
            ("matches", _) => {
                let (s, r) = match (target, args) {
                    (Some(t), [r]) => (self.size(t), self.size(r)),
                    (None, [s, r]) => (self.size(s), self.size(r)),
                    _ => return (1, None),
                };
                let s = factor(s.saturating_add(1), STRING_TRAVERSAL);
                return (s.saturating_mul(factor(r, REGEX_LENGTH)), None);
            }
            ("contains", Some(_))
                if args.len() == 1 && matches!(target.map(|t| self.ty(t)), Some(Ty::String)) =>
            {
                let s = factor(target_size, STRING_TRAVERSAL);
                return (
                    s.saturating_mul(factor(arg_size(self, 0), STRING_TRAVERSAL)),
                    None,
                );
            }
            ("_&&_" | "_||_", None) => {
                return (
                    arg_costs.iter().fold(0u64, |a, c| a.saturating_add(*c)),
                    None,
                );
            }
            ("_?_:_", None) if args.len() == 3 => {
                let size = arg_size(self, 1).max(arg_size(self, 2));
                return (
                    arg_costs[0].saturating_add(arg_costs[1].max(arg_costs[2])),
                    Some(size),
                );
            }
            ("_+_", None) if args.len() == 2 => {
                let size = arg_size(self, 0).saturating_add(arg_size(self, 1));
                return match self.ty(&args[0]) {
                    Ty::String | Ty::Bytes => (factor(size, STRING_TRAVERSAL), Some(size)),
                    Ty::List(_) => (1, Some(size)),
                    _ => (1, None),
                };
            }
            ("_<_" | "_<=_" | "_>_" | "_>=_", None)
                if args.len() == 2 && matches!(self.ty(&args[0]), Ty::String | Ty::Bytes) =>
            {
                return (
                    factor(arg_size(self, 0).min(arg_size(self, 1)), STRING_TRAVERSAL),
                    None,
                );
            }
            ("_==_" | "_!=_", None) if args.len() == 2 => {
                return (
                    factor(arg_size(self, 0).min(arg_size(self, 1)), STRING_TRAVERSAL),
                    None,
                );
            }
            _ => {}
        }
        (1, None)
    }
}
