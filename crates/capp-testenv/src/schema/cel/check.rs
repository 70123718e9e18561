//! Compile-time checks of a rule that cel-go's type checker performs and the cel crate does
//! not: undeclared variables, and field names that the schema does not declare.

use cel::common::ast::{EntryExpr, Expr, IdedEntryExpr, LiteralValue};
use cel::{IdedExpr, Program};

use super::escape;
use crate::schema::node::{Node, Type};

/// Identifiers a rule may use besides the variables its macros bind: the rule variables,
/// and the type and namespace names of the standard library and its extensions.
const KNOWN_IDENTS: [&str; 18] = [
    "self",
    "oldSelf",
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
    "dyn",
    "timestamp",
    "duration",
    "math",
    "lists",
    "strings",
];

/// The comparison operators whose operand types are checked.
const COMPARISONS: [&str; 6] = ["_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_"];

/// A scalar CEL type the checker is certain of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scalar {
    String,
    Number(&'static str),
    Bool,
}

impl Scalar {
    fn of_literal(lit: &LiteralValue) -> Option<Scalar> {
        match lit {
            LiteralValue::String(_) => Some(Scalar::String),
            LiteralValue::Int(_) => Some(Scalar::Number("int")),
            LiteralValue::UInt(_) => Some(Scalar::Number("uint")),
            LiteralValue::Double(_) => Some(Scalar::Number("double")),
            LiteralValue::Boolean(_) => Some(Scalar::Bool),
            LiteralValue::Null | LiteralValue::Bytes(_) => None,
        }
    }

    /// The type of a schema field, when it is a plain scalar (no int-or-string, no format
    /// that turns strings into timestamps, durations or bytes).
    fn of_node(node: &Node) -> Option<Scalar> {
        if node.int_or_string || node.nullable {
            return None;
        }
        match node.ty? {
            Type::String => match node.format.as_deref() {
                Some("date-time" | "duration" | "byte") => None,
                _ => Some(Scalar::String),
            },
            Type::Integer => Some(Scalar::Number("int")),
            Type::Number => Some(Scalar::Number("double")),
            Type::Boolean => Some(Scalar::Bool),
            Type::Object | Type::Array => None,
        }
    }

    fn comparable_with(self, other: Scalar) -> bool {
        matches!(
            (self, other),
            (Scalar::String, Scalar::String)
                | (Scalar::Bool, Scalar::Bool)
                | (Scalar::Number(_), Scalar::Number(_))
        )
    }

    fn name(self) -> &'static str {
        match self {
            Scalar::String => "string",
            Scalar::Number(n) => n,
            Scalar::Bool => "bool",
        }
    }
}

/// What the checker knows about the value of an expression.
#[derive(Clone, Copy)]
enum Known<'n> {
    /// A value typed by this schema node (`is_root`: the resource root, or an embedded
    /// resource, where `apiVersion`, `kind` and `metadata` are always visible).
    Node(&'n Node, bool),
    /// The `metadata` of a resource: only `name` and `generateName` are visible.
    Metadata,
    /// Anything else: not checked.
    Unknown,
}

/// The first problem cel-go's checker would report for `program` as a rule on `node`, as
/// `ERROR: <input>:<line>:<column>: <message>`, or `None`.
pub(super) fn check(program: &Program, node: &Node, is_root: bool) -> Option<String> {
    let mut checker = Checker {
        node,
        is_root,
        bound: Vec::new(),
        problem: None,
    };
    checker.walk(program.expression());
    let (id, message) = checker.problem?;
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
    Some(format!("ERROR: <input>:{line}:{column}: {message}"))
}

struct Checker<'n, 'e> {
    node: &'n Node,
    is_root: bool,
    /// Variables bound by enclosing macros (comprehensions).
    bound: Vec<&'e str>,
    /// The first problem: the id of the offending expression and the message.
    problem: Option<(u64, String)>,
}

impl<'n, 'e> Checker<'n, 'e> {
    fn report(&mut self, id: u64, message: String) {
        if self.problem.is_none() {
            self.problem = Some((id, message));
        }
    }

    fn walk(&mut self, expr: &'e IdedExpr) -> Known<'n> {
        match &expr.expr {
            Expr::Ident(name) => {
                if self.bound.contains(&name.as_str()) {
                    return Known::Unknown;
                }
                if name == "self" || name == "oldSelf" {
                    return Known::Node(self.node, self.is_root);
                }
                if !name.starts_with('@') && !KNOWN_IDENTS.contains(&name.as_str()) {
                    self.report(
                        expr.id,
                        format!("undeclared reference to '{name}' (in container '')"),
                    );
                }
                Known::Unknown
            }
            Expr::Select(select) => {
                let operand = self.walk(&select.operand);
                self.select(expr.id, operand, &select.field)
            }
            Expr::Call(call) => {
                if let Some(target) = &call.target {
                    self.walk(target);
                }
                let known: Vec<Known<'n>> = call.args.iter().map(|a| self.walk(a)).collect();
                if call.target.is_none()
                    && COMPARISONS.contains(&call.func_name.as_str())
                    && let [a, b] = call.args.as_slice()
                    && let [ka, kb] = known.as_slice()
                {
                    self.comparison(expr.id, &call.func_name, (a, *ka), (b, *kb));
                }
                Known::Unknown
            }
            Expr::List(list) => {
                for e in &list.elements {
                    self.walk(e);
                }
                Known::Unknown
            }
            Expr::Map(map) => {
                for e in &map.entries {
                    self.entry(e);
                }
                Known::Unknown
            }
            Expr::Struct(st) => {
                for e in &st.entries {
                    self.entry(e);
                }
                Known::Unknown
            }
            Expr::Comprehension(comp) => {
                self.walk(&comp.iter_range);
                self.walk(&comp.accu_init);
                let depth = self.bound.len();
                self.bound.push(&comp.iter_var);
                if let Some(v2) = &comp.iter_var2 {
                    self.bound.push(v2);
                }
                self.bound.push(&comp.accu_var);
                self.walk(&comp.loop_cond);
                self.walk(&comp.loop_step);
                self.walk(&comp.result);
                self.bound.truncate(depth);
                Known::Unknown
            }
            Expr::Literal(_) | Expr::Unspecified => Known::Unknown,
        }
    }

    /// `a <op> b` where one side is a scalar field of a definite schema type and the other a
    /// literal of a kind it can never compare with (`self.replicas == 'three'`): cel-go's
    /// checker rejects the rule. Numbers of different kinds, `null` and anything not
    /// certain are left alone.
    fn comparison(
        &mut self,
        id: u64,
        op: &str,
        (a, ka): (&IdedExpr, Known<'n>),
        (b, kb): (&IdedExpr, Known<'n>),
    ) {
        let side = |e: &IdedExpr, k: Known<'n>| -> Option<Scalar> {
            match (&e.expr, k) {
                (Expr::Literal(lit), _) => Scalar::of_literal(lit),
                (_, Known::Node(node, false)) => Scalar::of_node(node),
                _ => None,
            }
        };
        let (Some(sa), Some(sb)) = (side(a, ka), side(b, kb)) else {
            return;
        };
        let is_field = |e: &IdedExpr| !matches!(e.expr, Expr::Literal(_));
        if (is_field(a) || is_field(b)) && !sa.comparable_with(sb) {
            self.report(
                id,
                format!(
                    "found no matching overload for '{op}' applied to '({}, {})'",
                    sa.name(),
                    sb.name()
                ),
            );
        }
    }

    fn entry(&mut self, e: &'e IdedEntryExpr) {
        match &e.expr {
            EntryExpr::StructField(f) => {
                self.walk(&f.value);
            }
            EntryExpr::MapEntry(m) => {
                self.walk(&m.key);
                self.walk(&m.value);
            }
        }
    }

    /// `operand.field` (or `has(operand.field)`): resolves the field in the schema and
    /// reports fields an object schema does not declare.
    fn select(&mut self, id: u64, operand: Known<'n>, field: &str) -> Known<'n> {
        match operand {
            Known::Unknown => Known::Unknown,
            Known::Metadata => {
                if field != "name" && field != "generateName" {
                    self.report(id, format!("undefined field '{field}'"));
                }
                Known::Unknown
            }
            Known::Node(node, is_resource) => {
                if is_resource || node.embedded {
                    match field {
                        "apiVersion" | "kind" => return Known::Unknown,
                        "metadata" => return Known::Metadata,
                        _ => {}
                    }
                }
                if let Some(prop) = node
                    .properties
                    .iter()
                    .find(|(name, _)| escape(name).as_deref() == Some(field))
                    .map(|(_, prop)| prop)
                {
                    return Known::Node(prop, false);
                }
                if let Some(add) = node.additional.as_deref() {
                    return Known::Node(add, false);
                }
                if node.ty == Some(Type::Object) && !node.preserve_unknown {
                    self.report(id, format!("undefined field '{field}'"));
                }
                Known::Unknown
            }
        }
    }
}
