//! The part of cel-go's type checker (`checker/checker.go`) that kube-apiserver runs on every
//! `x-kubernetes-validations` rule when a CRD is written, against the types the schema
//! declares (`SchemaDeclType`): undeclared variables, undeclared fields, function and operator
//! overloads on the operand types, list and map element types, macro result types and the rule
//! result type. Values the checker cannot type are `dyn` and never cause an error, as in
//! cel-go (`x-kubernetes-int-or-string`, unknown functions).

use std::collections::HashMap;

use cel::common::ast::{ComprehensionExpr, EntryExpr, Expr, LiteralValue};
use cel::{IdedExpr, Program};

use super::escape;
use super::types::{Library, MAX_REQUEST_SIZE_BYTES, Ty};
use crate::schema::node::Node;

/// Identifiers that name types (usable in `type(x) == int`).
const TYPE_NAMES: [&str; 12] = [
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "timestamp",
    "duration",
];

/// Function namespaces of the libraries (`math.greatest`, `format.dns1123Label`...).
const NAMESPACES: [&str; 7] = [
    "math", "lists", "strings", "format", "sets", "optional", "ip",
];

/// What the checker learnt about a rule: the type and, for values read from the object, the
/// schema node of every sub-expression (the cost estimator sizes them with it).
pub(super) struct Checked<'n> {
    pub(super) types: HashMap<u64, Ty<'n>>,
    pub(super) nodes: HashMap<u64, &'n Node>,
    /// Sizes known without a schema node: `metadata.name` and friends (unbounded strings),
    /// map keys (kube-apiserver's key type has no size: 0).
    pub(super) sizes: HashMap<u64, u64>,
    /// The type of the whole expression.
    pub(super) result: Ty<'n>,
}

/// Type-checks `program` as a rule (or message expression) declared on `node`. The error is
/// cel-go's, `ERROR: <input>:<line>:<column>: <message>`.
pub(super) fn check<'n>(
    program: &Program,
    node: &'n Node,
    is_root: bool,
) -> Result<Checked<'n>, String> {
    let self_ty = Ty::of_node(node, is_root).unwrap_or(Ty::Dyn);
    let mut checker = Checker {
        node,
        self_ty,
        scopes: Vec::new(),
        types: HashMap::new(),
        nodes: HashMap::new(),
        sizes: HashMap::new(),
        problem: None,
    };
    let result = checker.walk(program.expression());
    if let Some((id, message)) = checker.problem {
        return Err(locate(program, id, &message));
    }
    Ok(Checked {
        types: checker.types,
        nodes: checker.nodes,
        sizes: checker.sizes,
        result,
    })
}

/// `ERROR: <input>:<line>:<column>: <message>` for the expression `id` of `program`.
fn locate(program: &Program, id: u64, message: &str) -> String {
    // Offsets are byte offsets into the source; cel-go reports 1-based line and column.
    let source = &program.source_info().source;
    let start = program
        .source_info()
        .offset_for(id)
        .map_or(0, |(start, _)| start as usize)
        .min(source.len());
    let before = source.get(..start).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    // cel-go's `Errors.ToDisplayString`: the message, the source line and a caret under the
    // column.
    let source_line = source.lines().nth(line - 1).unwrap_or("");
    let dots = ".".repeat(column - 1);
    format!("ERROR: <input>:{line}:{column}: {message}\n | {source_line}\n | {dots}^")
}

/// A variable bound by a comprehension: its name, type and schema node.
struct Bound<'n, 'e> {
    name: &'e str,
    ty: Ty<'n>,
    node: Option<&'n Node>,
    /// Its size when known without a node.
    size: Option<u64>,
}

struct Checker<'n, 'e> {
    node: &'n Node,
    self_ty: Ty<'n>,
    scopes: Vec<Bound<'n, 'e>>,
    types: HashMap<u64, Ty<'n>>,
    nodes: HashMap<u64, &'n Node>,
    sizes: HashMap<u64, u64>,
    /// The first problem: the id of the offending expression and the message.
    problem: Option<(u64, String)>,
}

impl<'n, 'e> Checker<'n, 'e> {
    fn report(&mut self, id: u64, message: String) {
        if self.problem.is_none() {
            self.problem = Some((id, message));
        }
    }

    fn walk(&mut self, expr: &'e IdedExpr) -> Ty<'n> {
        let ty = self.infer(expr);
        self.types.insert(expr.id, ty.clone());
        ty
    }

    fn infer(&mut self, expr: &'e IdedExpr) -> Ty<'n> {
        match &expr.expr {
            Expr::Literal(lit) => literal_type(lit),
            Expr::Ident(name) => self.ident(expr.id, name),
            Expr::Select(select) => {
                let operand = self.walk(&select.operand);
                let operand_node = self.nodes.get(&select.operand.id).copied();
                let ty = self.select(expr.id, &operand, operand_node, &select.field);
                if select.test { Ty::Bool } else { ty }
            }
            Expr::Call(call) => {
                // `format.dns1123Label()`, `math.greatest(...)`: a namespaced function.
                if let Some(target) = &call.target
                    && let Expr::Ident(ns) = &target.expr
                    && NAMESPACES.contains(&ns.as_str())
                    && !self.scopes.iter().any(|b| b.name == ns)
                {
                    let args: Vec<Ty<'n>> = call.args.iter().map(|a| self.walk(a)).collect();
                    let name = format!("{ns}.{}", call.func_name);
                    return self.call(expr.id, &name, None, &args);
                }
                let target = call.target.as_deref().map(|t| self.walk(t));
                let args: Vec<Ty<'n>> = call.args.iter().map(|a| self.walk(a)).collect();
                let ty = self.call(expr.id, &call.func_name, target.as_ref(), &args);
                // Indexing a schema list or map yields a value of its items' schema.
                if call.func_name == "_[_]"
                    && let Some(first) = call.args.first()
                    && let Some(container) = self.nodes.get(&first.id).copied()
                    && let Some(elem) = container
                        .items
                        .as_deref()
                        .or(container.additional.as_deref())
                {
                    self.nodes.insert(expr.id, elem);
                }
                ty
            }
            Expr::List(list) => {
                let mut elem = Ty::Dyn;
                for e in &list.elements {
                    let t = self.walk(e);
                    elem = elem.join(&t).unwrap_or(Ty::Dyn);
                }
                Ty::List(Box::new(elem))
            }
            Expr::Map(map) => {
                let (mut key, mut value) = (Ty::Dyn, Ty::Dyn);
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(m) = &entry.expr {
                        let k = self.walk(&m.key);
                        let v = self.walk(&m.value);
                        key = key.join(&k).unwrap_or(Ty::Dyn);
                        value = value.join(&v).unwrap_or(Ty::Dyn);
                    }
                }
                Ty::Map(Box::new(key), Box::new(value))
            }
            Expr::Struct(st) => {
                for entry in &st.entries {
                    if let EntryExpr::StructField(f) = &entry.expr {
                        self.walk(&f.value);
                    }
                }
                Ty::Dyn
            }
            Expr::Comprehension(comp) => self.comprehension(comp),
            Expr::Unspecified => Ty::Dyn,
        }
    }

    /// A comprehension (the expansion of `all`, `exists`, `exists_one`, `map`, `filter`):
    /// its variables take the element (or key and value) types of the range.
    fn comprehension(&mut self, comp: &'e ComprehensionExpr) -> Ty<'n> {
        let range = self.walk(&comp.iter_range);
        let range_node = self.nodes.get(&comp.iter_range.id).copied();
        let (first, second) = match &range {
            Ty::List(e) => (
                Bound::new(
                    &comp.iter_var,
                    (**e).clone(),
                    range_node.and_then(|n| n.items.as_deref()),
                ),
                comp.iter_var2.as_deref().map(|v| {
                    Bound::new(
                        v,
                        (**e).clone(),
                        range_node.and_then(|n| n.items.as_deref()),
                    )
                }),
            ),
            Ty::Map(k, v) => (
                Bound {
                    size: Some(0),
                    ..Bound::new(&comp.iter_var, (**k).clone(), None)
                },
                comp.iter_var2.as_deref().map(|name| {
                    Bound::new(
                        name,
                        (**v).clone(),
                        range_node.and_then(|n| n.additional.as_deref()),
                    )
                }),
            ),
            Ty::Dyn => (
                Bound::new(&comp.iter_var, Ty::Dyn, None),
                comp.iter_var2
                    .as_deref()
                    .map(|v| Bound::new(v, Ty::Dyn, None)),
            ),
            other => {
                self.report(
                    comp.iter_range.id,
                    format!(
                        "expression of type '{other}' cannot be range of a comprehension (must be list, map, or dynamic)"
                    ),
                );
                (Bound::new(&comp.iter_var, Ty::Dyn, None), None)
            }
        };
        // With two variables over a list, the first is the index.
        let first = match (&range, &second) {
            (Ty::List(_), Some(_)) => Bound::new(&comp.iter_var, Ty::Int, None),
            _ => first,
        };
        let accu_init = self.walk(&comp.accu_init);
        let depth = self.scopes.len();
        self.scopes
            .push(Bound::new(&comp.accu_var, accu_init.clone(), None));
        self.scopes.push(first);
        if let Some(second) = second {
            self.scopes.push(second);
        }
        self.walk(&comp.loop_cond);
        let step = self.walk(&comp.loop_step);
        self.scopes.truncate(depth);
        // The accumulator ends with the type the step gives it (`map` and `filter`
        // build a list of their expression's or items' type).
        let accu = accu_init.join(&step).unwrap_or(step);
        self.scopes.push(Bound::new(&comp.accu_var, accu, None));
        let result = self.walk(&comp.result);
        self.scopes.truncate(depth);
        result
    }

    fn ident(&mut self, id: u64, name: &'e str) -> Ty<'n> {
        if let Some(bound) = self.scopes.iter().rev().find(|b| b.name == name) {
            if let Some(node) = bound.node {
                self.nodes.insert(id, node);
            }
            if let Some(size) = bound.size {
                self.sizes.insert(id, size);
            }
            return bound.ty.clone();
        }
        match name {
            "self" | "oldSelf" => {
                self.nodes.insert(id, self.node);
                self.self_ty.clone()
            }
            _ if TYPE_NAMES.contains(&name) => Ty::Type,
            _ if NAMESPACES.contains(&name) => Ty::Dyn,
            _ => {
                self.report(
                    id,
                    format!("undeclared reference to '{name}' (in container '')"),
                );
                Ty::Dyn
            }
        }
    }

    /// `operand.field`: the declared field of an object, the value of a map.
    fn select(
        &mut self,
        id: u64,
        operand: &Ty<'n>,
        operand_node: Option<&'n Node>,
        field: &str,
    ) -> Ty<'n> {
        match operand {
            Ty::Dyn => Ty::Dyn,
            Ty::Map(_, v) => {
                if let Some(add) = operand_node.and_then(|n| n.additional.as_deref()) {
                    self.nodes.insert(id, add);
                }
                (**v).clone()
            }
            Ty::Metadata => {
                if field == "name" || field == "generateName" {
                    self.sizes.insert(id, MAX_REQUEST_SIZE_BYTES - 2);
                    Ty::String
                } else {
                    self.report(id, format!("undefined field '{field}'"));
                    Ty::Dyn
                }
            }
            Ty::Object(node, is_resource) => {
                if *is_resource {
                    match field {
                        "apiVersion" | "kind" => {
                            self.sizes.insert(id, MAX_REQUEST_SIZE_BYTES - 2);
                            return Ty::String;
                        }
                        "metadata" => return Ty::Metadata,
                        _ => {}
                    }
                }
                let declared = node
                    .properties
                    .iter()
                    .find(|(name, _)| escape(name).as_deref() == Some(field))
                    .and_then(|(_, prop)| Some((prop, Ty::of_node(prop, prop.embedded)?)));
                if let Some((prop, ty)) = declared {
                    self.nodes.insert(id, prop);
                    ty
                } else {
                    self.report(id, format!("undefined field '{field}'"));
                    Ty::Dyn
                }
            }
            other => {
                self.report(
                    id,
                    format!("type '{other}' does not support field selection"),
                );
                Ty::Dyn
            }
        }
    }

    /// The result type of a call, reporting `found no matching overload` when the operand
    /// types fit none of the function's overloads.
    fn call(&mut self, id: u64, name: &str, target: Option<&Ty<'n>>, args: &[Ty<'n>]) -> Ty<'n> {
        match resolve(name, target, args) {
            Resolved::Type(t) => t,
            Resolved::NoOverload => {
                let list: Vec<String> = args.iter().map(ToString::to_string).collect();
                let receiver = target.map_or(String::new(), |t| format!("{t}."));
                let signature = format!("{receiver}({})", list.join(", "));
                self.report(
                    id,
                    format!("found no matching overload for '{name}' applied to '{signature}'"),
                );
                Ty::Dyn
            }
        }
    }
}

impl<'n, 'e> Bound<'n, 'e> {
    fn new(name: &'e str, ty: Ty<'n>, node: Option<&'n Node>) -> Self {
        Bound {
            name,
            ty,
            node,
            size: None,
        }
    }
}

fn literal_type<'n>(lit: &LiteralValue) -> Ty<'n> {
    match lit {
        LiteralValue::String(_) => Ty::String,
        LiteralValue::Bytes(_) => Ty::Bytes,
        LiteralValue::Int(_) => Ty::Int,
        LiteralValue::UInt(_) => Ty::Uint,
        LiteralValue::Double(_) => Ty::Double,
        LiteralValue::Boolean(_) => Ty::Bool,
        LiteralValue::Null => Ty::Null,
    }
}

/// The outcome of overload resolution.
enum Resolved<'n> {
    Type(Ty<'n>),
    NoOverload,
}

/// One overload: the receiver (for member functions), the parameters and the result.
struct Sig<'n> {
    target: Option<Ty<'n>>,
    params: Vec<Ty<'n>>,
    result: Ty<'n>,
}

fn member<'n>(target: Ty<'n>, params: Vec<Ty<'n>>, result: Ty<'n>) -> Sig<'n> {
    Sig {
        target: Some(target),
        params,
        result,
    }
}

fn global<'n>(params: Vec<Ty<'n>>, result: Ty<'n>) -> Sig<'n> {
    Sig {
        target: None,
        params,
        result,
    }
}

fn list(elem: Ty<'_>) -> Ty<'_> {
    Ty::List(Box::new(elem))
}

/// The operators, whose overloads depend on type parameters (`_==_(A, A)`, `_[_](list(A),
/// int)`...); `None` for other functions.
fn operator<'n>(name: &str, args: &[Ty<'n>]) -> Option<Resolved<'n>> {
    use Resolved::{NoOverload, Type};
    let ok = |cond: bool, t: Ty<'n>| if cond { Type(t) } else { NoOverload };
    Some(match (name, args) {
        ("_==_" | "_!=_", [a, b]) => ok(a.comparable(b), Ty::Bool),
        ("_<_" | "_<=_" | "_>_" | "_>=_", [a, b]) => {
            let same = a.is_dyn() || b.is_dyn() || (a.is_number() && b.is_number()) || a.fits(b);
            ok(a.is_orderable() && b.is_orderable() && same, Ty::Bool)
        }
        ("_&&_" | "_||_", [a, b]) => ok(a.fits(&Ty::Bool) && b.fits(&Ty::Bool), Ty::Bool),
        ("!_", [a]) => ok(a.fits(&Ty::Bool), Ty::Bool),
        ("@not_strictly_false", [_]) => Type(Ty::Bool),
        ("-_", [a]) => ok(
            matches!(a, Ty::Dyn | Ty::Int | Ty::Double | Ty::Duration),
            a.clone(),
        ),
        ("_?_:_", [c, t, f]) => match t.join(f) {
            Some(j) if c.fits(&Ty::Bool) => Type(j),
            _ => NoOverload,
        },
        ("_+_", [a, b]) => match (a, b) {
            (Ty::Dyn, t) | (t, Ty::Dyn) => Type(if matches!(t, Ty::Timestamp | Ty::Duration) {
                Ty::Dyn
            } else {
                t.clone()
            }),
            (Ty::List(x), Ty::List(y)) => Type(list(x.join(y).unwrap_or(Ty::Dyn))),
            (Ty::Timestamp, Ty::Duration) | (Ty::Duration, Ty::Timestamp) => Type(Ty::Timestamp),
            (Ty::Int, Ty::Int)
            | (Ty::Uint, Ty::Uint)
            | (Ty::Double, Ty::Double)
            | (Ty::String, Ty::String)
            | (Ty::Bytes, Ty::Bytes)
            | (Ty::Duration, Ty::Duration) => Type(a.clone()),
            _ => NoOverload,
        },
        ("_-_", [a, b]) => match (a, b) {
            (Ty::Dyn, _) | (_, Ty::Dyn) => Type(Ty::Dyn),
            (Ty::Timestamp, Ty::Timestamp) => Type(Ty::Duration),
            (Ty::Timestamp, Ty::Duration) => Type(Ty::Timestamp),
            (Ty::Int, Ty::Int)
            | (Ty::Uint, Ty::Uint)
            | (Ty::Double, Ty::Double)
            | (Ty::Duration, Ty::Duration) => Type(a.clone()),
            _ => NoOverload,
        },
        ("_*_" | "_/_", [a, b]) => match (a, b) {
            (Ty::Dyn, t) | (t, Ty::Dyn) if t.is_dyn() || t.is_number() => Type(t.clone()),
            (Ty::Int, Ty::Int) | (Ty::Uint, Ty::Uint) | (Ty::Double, Ty::Double) => Type(a.clone()),
            _ => NoOverload,
        },
        ("_%_", [a, b]) => match (a, b) {
            (Ty::Dyn, t) | (t, Ty::Dyn) if matches!(t, Ty::Dyn | Ty::Int | Ty::Uint) => {
                Type(t.clone())
            }
            (Ty::Int, Ty::Int) | (Ty::Uint, Ty::Uint) => Type(a.clone()),
            _ => NoOverload,
        },
        ("_[_]" | "_[?_]", [c, i]) => {
            let optional = name == "_[?_]";
            let wrap = |t: Ty<'n>| {
                if optional {
                    Ty::Optional(Box::new(t))
                } else {
                    t
                }
            };
            match c {
                Ty::Dyn => Type(Ty::Dyn),
                Ty::List(e) => ok(
                    matches!(i, Ty::Dyn | Ty::Int | Ty::Uint),
                    wrap((**e).clone()),
                ),
                Ty::Map(k, v) => ok(i.fits(k), wrap((**v).clone())),
                Ty::Object(..) | Ty::Metadata => ok(i.fits(&Ty::String), Ty::Dyn),
                _ => NoOverload,
            }
        }
        ("@in", [e, c]) => match c {
            Ty::Dyn => Type(Ty::Bool),
            Ty::List(x) => ok(e.comparable(x), Ty::Bool),
            Ty::Map(k, _) => ok(e.comparable(k), Ty::Bool),
            _ => NoOverload,
        },
        ("dyn", [_]) => Type(Ty::Dyn),
        ("type", [_]) => Type(Ty::Type),
        _ => return None,
    })
}

/// Resolves a call against the operators (whose overloads depend on type parameters) and
/// the overload table of the standard library and the Kubernetes libraries.
fn resolve<'n>(name: &str, target: Option<&Ty<'n>>, args: &[Ty<'n>]) -> Resolved<'n> {
    use Resolved::{NoOverload, Type};
    let ok = |cond: bool, t: Ty<'n>| if cond { Type(t) } else { NoOverload };
    if target.is_none()
        && let Some(resolved) = operator(name, args)
    {
        return resolved;
    }
    // Type-parameterised member functions of lists (`k8s.io/apiserver/pkg/cel/library` lists).
    if let Some(Ty::List(elem)) = target {
        match (name, args) {
            ("min" | "max" | "sum", []) => return Type((**elem).clone()),
            ("indexOf" | "lastIndexOf", [x]) => return ok(x.comparable(elem), Ty::Int),
            ("isSorted", []) => return Type(Ty::Bool),
            _ => {}
        }
    }
    if let Some(Ty::Optional(inner)) = target {
        match (name, args) {
            ("hasValue", []) => return Type(Ty::Bool),
            ("value", []) => return Type((**inner).clone()),
            ("orValue", [x]) => return Type(inner.join(x).unwrap_or(Ty::Dyn)),
            _ => {}
        }
    }
    let sigs = overloads(name);
    if sigs.is_empty() {
        // A function this checker does not know: let the cel crate decide at compile time.
        return Type(Ty::Dyn);
    }
    let mut result: Option<Ty<'n>> = None;
    for sig in sigs {
        let target_fits = match (&sig.target, target) {
            (None, None) => true,
            (Some(want), Some(have)) => have.fits(want),
            _ => false,
        };
        if target_fits
            && sig.params.len() == args.len()
            && args.iter().zip(&sig.params).all(|(a, p)| a.fits(p))
        {
            result = Some(match result {
                None => sig.result,
                Some(prev)
                    if std::mem::discriminant(&prev) == std::mem::discriminant(&sig.result) =>
                {
                    prev
                }
                Some(_) => Ty::Dyn,
            });
        }
    }
    match result {
        Some(t) => Type(t),
        None => NoOverload,
    }
}

/// The overloads of the standard library, the strings extension and the Kubernetes libraries
/// (`k8s.io/apiserver/pkg/cel/library`: regex, lists, urls, ip, cidr, quantity, format), by
/// function name.
#[expect(clippy::too_many_lines, reason = "one table of overloads")]
fn overloads<'n>(name: &str) -> Vec<Sig<'n>> {
    use Ty::{Bool, Bytes, Double, Duration, Dyn, Int, String as Str, Timestamp, Uint};
    let quantity = Ty::Library(Library::Quantity);
    let url = Ty::Library(Library::Url);
    let ip = Ty::Library(Library::Ip);
    let cidr = Ty::Library(Library::Cidr);
    let format = Ty::Library(Library::Format);
    let any_list = || list(Dyn);
    let any_map = || Ty::Map(Box::new(Dyn), Box::new(Dyn));
    match name {
        "size" => vec![
            global(vec![Str], Int),
            global(vec![Bytes], Int),
            global(vec![any_list()], Int),
            global(vec![any_map()], Int),
            member(Str, vec![], Int),
            member(Bytes, vec![], Int),
            member(any_list(), vec![], Int),
            member(any_map(), vec![], Int),
        ],
        "contains" | "startsWith" | "endsWith" => vec![member(Str, vec![Str], Bool)],
        "matches" => vec![member(Str, vec![Str], Bool), global(vec![Str, Str], Bool)],
        "lowerAscii" | "upperAscii" | "trim" => vec![member(Str, vec![], Str)],
        "charAt" => vec![member(Str, vec![Int], Str)],
        "indexOf" | "lastIndexOf" => vec![
            member(Str, vec![Str], Int),
            member(Str, vec![Str, Int], Int),
        ],
        "replace" => vec![
            member(Str, vec![Str, Str], Str),
            member(Str, vec![Str, Str, Int], Str),
        ],
        "split" | "findAll" => vec![
            member(Str, vec![Str], list(Str)),
            member(Str, vec![Str, Int], list(Str)),
        ],
        "substring" => vec![
            member(Str, vec![Int], Str),
            member(Str, vec![Int, Int], Str),
        ],
        "join" => vec![
            member(list(Str), vec![], Str),
            member(list(Str), vec![Str], Str),
        ],
        "format" => vec![member(Str, vec![any_list()], Str)],
        "find" => vec![member(Str, vec![Str], Str)],
        "getFullYear" | "getMonth" | "getDate" | "getDayOfMonth" | "getDayOfWeek"
        | "getDayOfYear" => {
            vec![
                member(Timestamp, vec![], Int),
                member(Timestamp, vec![Str], Int),
            ]
        }
        "getHours" | "getMinutes" | "getSeconds" | "getMilliseconds" => vec![
            member(Timestamp, vec![], Int),
            member(Timestamp, vec![Str], Int),
            member(Duration, vec![], Int),
        ],
        "int" => vec![
            global(vec![Int], Int),
            global(vec![Uint], Int),
            global(vec![Double], Int),
            global(vec![Str], Int),
            global(vec![Timestamp], Int),
            global(vec![Duration], Int),
        ],
        "uint" => vec![
            global(vec![Int], Uint),
            global(vec![Uint], Uint),
            global(vec![Double], Uint),
            global(vec![Str], Uint),
        ],
        "double" => vec![
            global(vec![Int], Double),
            global(vec![Uint], Double),
            global(vec![Double], Double),
            global(vec![Str], Double),
        ],
        "string" => vec![
            global(vec![Int], Str),
            global(vec![Uint], Str),
            global(vec![Double], Str),
            global(vec![Bool], Str),
            global(vec![Str], Str),
            global(vec![Bytes], Str),
            global(vec![Timestamp], Str),
            global(vec![Duration], Str),
            global(vec![ip.clone()], Str),
            global(vec![cidr.clone()], Str),
        ],
        "bytes" => vec![global(vec![Str], Bytes), global(vec![Bytes], Bytes)],
        "bool" => vec![global(vec![Bool], Bool), global(vec![Str], Bool)],
        "timestamp" => vec![
            global(vec![Str], Timestamp),
            global(vec![Int], Timestamp),
            global(vec![Timestamp], Timestamp),
        ],
        "duration" => vec![
            global(vec![Str], Duration),
            global(vec![Duration], Duration),
        ],
        "isSorted" => vec![member(any_list(), vec![], Bool)],
        "isQuantity" | "isURL" | "isIP" | "isCIDR" | "ip.isCanonical" => {
            vec![global(vec![Str], Bool)]
        }
        "quantity" => vec![global(vec![Str], quantity)],
        "isInteger" => vec![member(quantity, vec![], Bool)],
        "asInteger" | "sign" => vec![member(quantity, vec![], Int)],
        "asApproximateFloat" => vec![member(quantity, vec![], Double)],
        "add" | "sub" => vec![
            member(quantity.clone(), vec![quantity.clone()], quantity.clone()),
            member(quantity.clone(), vec![Int], quantity),
        ],
        "isGreaterThan" | "isLessThan" => vec![member(quantity.clone(), vec![quantity], Bool)],
        "compareTo" => vec![member(quantity.clone(), vec![quantity], Int)],
        "url" => vec![global(vec![Str], url)],
        "getScheme" | "getHost" | "getHostname" | "getPort" | "getEscapedPath" => {
            vec![member(url, vec![], Str)]
        }
        "getQuery" => vec![member(
            url,
            vec![],
            Ty::Map(Box::new(Str), Box::new(list(Str))),
        )],
        "ip" => vec![global(vec![Str], ip.clone()), member(cidr, vec![], ip)],
        "family" => vec![member(ip, vec![], Int)],
        "isUnspecified"
        | "isLoopback"
        | "isLinkLocalMulticast"
        | "isLinkLocalUnicast"
        | "isGlobalUnicast" => {
            vec![member(ip, vec![], Bool)]
        }
        "cidr" => vec![global(vec![Str], cidr)],
        "containsIP" => vec![
            member(cidr.clone(), vec![ip], Bool),
            member(cidr, vec![Str], Bool),
        ],
        "containsCIDR" => vec![
            member(cidr.clone(), vec![cidr.clone()], Bool),
            member(cidr, vec![Str], Bool),
        ],
        "masked" => vec![member(cidr.clone(), vec![], cidr)],
        "prefixLength" => vec![member(cidr, vec![], Int)],
        "format.named" => vec![global(vec![Str], Ty::Optional(Box::new(format)))],
        "validate" => vec![member(format, vec![Str], Ty::Optional(Box::new(list(Str))))],
        n if n.starts_with("format.") && super::named::NAMES.contains(&&n["format.".len()..]) => {
            vec![global(vec![], format)]
        }
        _ => Vec::new(),
    }
}
