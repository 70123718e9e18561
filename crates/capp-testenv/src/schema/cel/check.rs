//! Compile-time checks of a rule that cel-go's type checker performs and the cel crate does
//! not: undeclared variables, and field names that the schema does not declare.

use cel::common::ast::{EntryExpr, Expr, IdedEntryExpr};
use cel::{IdedExpr, Program};

use super::escape;
use crate::schema::compile::{Node, Type};

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
                for arg in &call.args {
                    self.walk(arg);
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
