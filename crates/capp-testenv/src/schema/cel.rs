//! `x-kubernetes-validations`: compiling CEL rules once and evaluating them against JSON.

mod check;
mod cost;
mod library;
mod named;
mod net;
mod quantity;
mod types;
mod url;

use cost::STATIC_ESTIMATED_CRD_COST_LIMIT;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use cel::objects::OptionalValue;
use cel::{Context, Env, ExecutionError, Program};
use serde_json::Value;

use super::FieldCause;
use super::errors;
use super::node::{ListType, Node, Type};

/// The reasons a rule may declare (`x-kubernetes-validations[*].reason`).
const REASONS: [&str; 4] = [
    "FieldValueInvalid",
    "FieldValueForbidden",
    "FieldValueRequired",
    "FieldValueDuplicate",
];

/// CEL keywords that upstream escapes as `__keyword__` when they are property names.
const RESERVED: [&str; 21] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The CEL environment shared by all the rules of one schema.
pub(crate) struct CelEnv {
    env: Arc<Env>,
    /// `timestamp(v)`, to turn `format: date-time` strings into timestamps.
    timestamp: Option<Program>,
    /// `duration(v)`, to turn `format: duration` strings into durations.
    duration: Option<Program>,
}

impl std::fmt::Debug for CelEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CelEnv").finish_non_exhaustive()
    }
}

/// Where a value being validated sits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Site<'p> {
    /// Its field path (`spec.items[0]`).
    pub(crate) path: &'p str,
    /// Whether it is the resource root, where rules see only `apiVersion`, `kind`,
    /// `metadata.name` and `metadata.generateName` besides the schema's own fields.
    pub(crate) is_root: bool,
    /// Whether it equals its correlated old value: then only transition rules run
    /// (ratcheting).
    pub(crate) unchanged: bool,
}

/// One compiled `x-kubernetes-validations` entry.
#[derive(Debug)]
pub(crate) struct Rule {
    source: String,
    program: Program,
    message: Option<String>,
    message_expression: Option<Program>,
    reason: Option<String>,
    field_path: Option<String>,
    /// Whether the rule references `oldSelf`: evaluated only on update, where an old value
    /// correlates.
    pub(crate) transition: bool,
    /// `optionalOldSelf: true`: the rule also runs on create, with `oldSelf` an optional.
    optional_old_self: bool,
    /// The estimated worst-case cost of the rule times the number of times it can run, and
    /// of its `messageExpression`, with their paths: they count towards the CRD's budget.
    pub(crate) costs: Vec<(String, u64)>,
}

impl Rule {
    /// How upstream names a rule in messages (`ruleErrorString`): its message, else its source.
    fn error_string(&self) -> &str {
        self.message.as_deref().unwrap_or(&self.source).trim()
    }
}

impl CelEnv {
    /// Builds the standard environment plus the cel crate's extension libraries.
    pub(crate) fn new() -> CelEnv {
        let mut env = Env::stdlib();
        // Each extension registers distinct names; a failure would only mean an overload
        // clash inside the cel crate, in which case the environment simply lacks it.
        let _ = env.add_extension(cel::extensions::strings);
        let _ = env.add_extension(cel::extensions::lists);
        let _ = env.add_extension(cel::extensions::math);
        let _ = env.add_extension(library::register);
        let timestamp = env.compile("timestamp(v)").ok();
        let duration = env.compile("duration(v)").ok();
        CelEnv {
            env: Arc::new(env),
            timestamp,
            duration,
        }
    }

    /// Compiles a standalone expression (an admission policy's), the error being the first
    /// line of the compiler's message.
    pub(crate) fn compile_expression(&self, source: &str) -> Result<Program, String> {
        self.env
            .compile(source)
            .map_err(|e| first_line(&e.to_string()).to_owned())
    }

    /// Evaluates `program` with JSON `variables` (converted without a schema).
    pub(crate) fn eval(
        &self,
        program: &Program,
        variables: &[(&str, &Value)],
    ) -> Result<cel::Value, String> {
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        for (name, value) in variables {
            ctx.add_variable_from_value(*name, self.to_cel(value, None, false));
        }
        program.execute(&ctx).map_err(|e| e.to_string())
    }

    /// Compiles a rule or message expression, type-checks it against the schema of `node`
    /// and estimates its worst-case cost. The error is the first line of the compiler's
    /// message, or the checker's.
    fn compile_checked(
        &self,
        source: &str,
        node: &Node,
        is_root: bool,
    ) -> Result<Compiled, String> {
        let program = self
            .env
            .compile(source)
            .map_err(|e| first_line(&e.to_string()).to_owned())?;
        let checked = check::check(&program, node, is_root)?;
        let cost = cost::estimate(&program, &checked);
        let is_bool = matches!(checked.result, types::Ty::Bool);
        let certain = !checked.result.is_dyn();
        Ok(Compiled {
            program,
            cost,
            not_bool: certain && !is_bool,
        })
    }

    /// Compiles the `x-kubernetes-validations` list found at `path` on `node` (whose
    /// properties and items are already compiled), checking variables and field names.
    #[expect(
        clippy::too_many_lines,
        reason = "one pass over the entries, in the order upstream checks them"
    )]
    pub(crate) fn compile_rules(
        &self,
        rules: &Value,
        node: &Node,
        is_root: bool,
        path: &str,
        cardinality: Option<u64>,
        causes: &mut Vec<FieldCause>,
    ) -> Vec<Rule> {
        let Some(list) = rules.as_array() else {
            causes.push(errors::invalid_rendered(
                path,
                &errors::quote(super::compile::json_type_name(rules)),
                "must be a list of validation rules",
            ));
            return Vec::new();
        };
        let mut out = Vec::with_capacity(list.len());
        for (i, entry) in list.iter().enumerate() {
            let entry_path = errors::index(path, i);
            let Some(source) = entry.get("rule").and_then(Value::as_str) else {
                causes.push(errors::required(
                    &format!("{entry_path}.rule"),
                    "rule is not specified",
                ));
                continue;
            };
            let rule_path = format!("{entry_path}.rule");
            let compiled = match self.compile_checked(source, node, is_root) {
                Ok(c) => c,
                Err(e) => {
                    causes.push(errors::invalid_rendered(
                        &rule_path,
                        &go_validation_rule(entry),
                        &format!("compilation failed: {e}"),
                    ));
                    continue;
                }
            };
            // The rule runs once per value of its node: at most the product of the enclosing
            // lists' maxItems and maps' maxProperties, else as many as fit in one request
            // (`getExpressionCost`).
            let times = cardinality.unwrap_or_else(|| types::max_cardinality(node));
            let rule_cost = compiled.cost.saturating_mul(times);
            let mut costs = vec![(rule_path.clone(), rule_cost)];
            if rule_cost > cost::STATIC_ESTIMATED_COST_LIMIT {
                causes.push(errors::forbidden(
                    &rule_path,
                    &cost_error(
                        "estimated rule cost",
                        rule_cost,
                        cost::STATIC_ESTIMATED_COST_LIMIT,
                    ),
                ));
            }
            if compiled.not_bool {
                causes.push(errors::invalid_rendered(
                    &rule_path,
                    &go_validation_rule(entry),
                    "cel expression must evaluate to a bool",
                ));
                continue;
            }
            let program = compiled.program;
            let message_expression = match entry.get("messageExpression").and_then(Value::as_str) {
                None => None,
                Some(expr) => match self.compile_checked(expr, node, is_root) {
                    Ok(c) => {
                        let expr_path = format!("{entry_path}.messageExpression");
                        if c.cost > cost::STATIC_ESTIMATED_COST_LIMIT {
                            causes.push(errors::forbidden(
                                &expr_path,
                                &cost_error(
                                    "estimated messageExpression cost",
                                    c.cost,
                                    cost::STATIC_ESTIMATED_COST_LIMIT,
                                ),
                            ));
                        }
                        costs.push((expr_path, c.cost));
                        Some(c.program)
                    }
                    Err(e) => {
                        causes.push(errors::invalid_rendered(
                            &format!("{entry_path}.messageExpression"),
                            &go_validation_rule(entry),
                            &format!("messageExpression compilation failed: {e}"),
                        ));
                        continue;
                    }
                },
            };
            let reason = entry
                .get("reason")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(r) = &reason
                && !REASONS.contains(&r.as_str())
            {
                causes.push(errors::not_supported(
                    &format!("{entry_path}.reason"),
                    &Value::String(r.clone()),
                    &REASONS.map(|s| Value::String(s.to_owned())),
                ));
                continue;
            }
            let field_path = entry
                .get("fieldPath")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty());
            if let Some(fp) = field_path
                && let Err(problem) = resolve_field_path(node, fp)
            {
                causes.push(errors::invalid_value(
                    &format!("{entry_path}.fieldPath"),
                    &Value::String(fp.to_owned()),
                    &format!("fieldPath must be a valid path: {problem}"),
                ));
                continue;
            }
            let transition = program.references().has_variable("oldSelf");
            out.push(Rule {
                source: source.to_owned(),
                program,
                message: entry
                    .get("message")
                    .and_then(Value::as_str)
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned),
                message_expression,
                reason,
                field_path: field_path.map(str::to_owned),
                transition,
                optional_old_self: transition
                    && entry.get("optionalOldSelf").and_then(Value::as_bool) == Some(true),
                costs,
            });
        }
        out
    }

    /// Evaluates every rule of `node` for the value at `path`, appending failures.
    ///
    /// `old` is the correlated old value, when there is one; transition rules are skipped
    /// without it. For an unchanged value the failures of rules that do not use `oldSelf`
    /// go to `warnings` instead of `causes` (upstream ratcheting turns them into warnings).
    pub(crate) fn evaluate(
        &self,
        node: &Node,
        value: &Value,
        old: Option<&Value>,
        site: Site<'_>,
        causes: &mut Vec<FieldCause>,
        warnings: &mut Vec<FieldCause>,
    ) {
        let Site {
            path,
            is_root,
            unchanged: ratchet,
        } = site;
        if node.rules.is_empty() {
            return;
        }
        // At most two contexts per node, built on first use: `self` and `oldSelf` are
        // converted once and shared by all the rules of the node. Rules with
        // `optionalOldSelf` see `oldSelf` as an optional (`optional.none()` on create).
        let self_val = self.to_cel(value, Some(node), is_root);
        let old_val = old
            .filter(|_| node.rules.iter().any(|r| r.transition))
            .map(|o| self.to_cel(o, Some(node), is_root));
        let mut plain_ctx: Option<Context<'_, '_>> = None;
        let mut optional_ctx: Option<Context<'_, '_>> = None;
        // Evaluation errors carry the schema type as bad value; failed rules carry the value
        // itself, omitted for objects and arrays (upstream `validateExpressions`).
        let type_name = errors::quote(node.ty.map_or("", Type::name));
        let bad_value = match node.ty {
            Some(Type::Object | Type::Array) => None,
            _ => Some(errors::render(value)),
        };
        for rule in &node.rules {
            if rule.transition && old.is_none() && !rule.optional_old_self {
                continue;
            }
            let causes: &mut Vec<FieldCause> = if ratchet && !rule.transition {
                &mut *warnings
            } else {
                &mut *causes
            };
            let ctx = if rule.optional_old_self {
                optional_ctx.get_or_insert_with(|| {
                    let optional = match &old_val {
                        Some(v) => OptionalValue::of(v.clone()),
                        None => OptionalValue::none(),
                    };
                    self.context(&self_val, Some(cel::Value::Opaque(Arc::new(optional))))
                })
            } else {
                plain_ctx.get_or_insert_with(|| self.context(&self_val, old_val.clone()))
            };
            let ctx = &*ctx;
            let detail_on_error =
                |e: String| format!("{e} evaluating rule: {}", rule.error_string());
            match rule.program.execute(ctx) {
                Ok(cel::Value::Bool(true)) => {}
                Ok(cel::Value::Bool(false)) => {
                    let field = match &rule.field_path {
                        Some(fp) => join_field_path(path, fp),
                        None => path.to_owned(),
                    };
                    let detail = Self::message_for(rule, ctx);
                    causes.push(match (rule.reason.as_deref(), &bad_value) {
                        (Some("FieldValueForbidden"), _) => errors::forbidden(&field, &detail),
                        (Some("FieldValueRequired"), _) => errors::required(&field, &detail),
                        (Some("FieldValueDuplicate"), Some(v)) => {
                            errors::duplicate_rendered(&field, v)
                        }
                        (Some("FieldValueDuplicate"), None) => errors::duplicate_omitted(&field),
                        (_, Some(v)) => errors::invalid_rendered(&field, v, &detail),
                        (_, None) => errors::invalid_omitted(&field, &detail),
                    });
                }
                Ok(other) => causes.push(errors::invalid_rendered(
                    path,
                    &type_name,
                    &detail_on_error(format!(
                        "no such overload: rule returned {:?}, not a bool",
                        other.type_of()
                    )),
                )),
                Err(e) => causes.push(errors::invalid_rendered(
                    path,
                    &type_name,
                    &detail_on_error(go_error(&e)),
                )),
            }
        }
    }

    /// A context binding `self` and, when given, `oldSelf`.
    fn context(&self, self_val: &cel::Value, old_val: Option<cel::Value>) -> Context<'_, '_> {
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.add_variable_from_value("self", self_val.clone());
        if let Some(old) = old_val {
            ctx.add_variable_from_value("oldSelf", old);
        }
        ctx
    }

    /// The failure message of a rule: its `messageExpression` result when that evaluates to
    /// a non-empty single-line string, else its `message`, else `failed rule: <rule>`.
    fn message_for(rule: &Rule, ctx: &Context<'_, '_>) -> String {
        if let Some(expr) = &rule.message_expression
            && let Ok(cel::Value::String(s)) = expr.execute(ctx)
            && !s.trim().is_empty()
            && !s.contains('\n')
        {
            return s.trim().to_owned();
        }
        match &rule.message {
            Some(m) => m.trim().to_owned(),
            None => format!("failed rule: {}", rule.source.trim()),
        }
    }

    /// Converts a JSON value to a CEL value typed by its schema node.
    pub(crate) fn to_cel(&self, value: &Value, node: Option<&Node>, is_root: bool) -> cel::Value {
        match value {
            Value::Null => cel::Value::Null,
            Value::Bool(b) => cel::Value::Bool(*b),
            Value::Number(n) => {
                let want_double = node.is_some_and(|n| n.ty == Some(Type::Number));
                if want_double {
                    cel::Value::Float(n.as_f64().unwrap_or(f64::NAN))
                } else if let Some(i) = n.as_i64() {
                    cel::Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    cel::Value::UInt(u)
                } else {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    #[expect(
                        clippy::cast_possible_truncation,
                        reason = "integral values within the i64 range only"
                    )]
                    if node.is_some_and(|n| n.ty == Some(Type::Integer))
                        && f.fract() == 0.0
                        && f.abs() < 9.0e18
                    {
                        cel::Value::Int(f as i64)
                    } else {
                        cel::Value::Float(f)
                    }
                }
            }
            Value::String(s) => self.string_to_cel(s, node),
            Value::Array(items) => {
                let item_node = node.and_then(|n| n.items.as_deref());
                let list_type = node.map_or(&ListType::Atomic, |n| &n.list_type);
                let mut order: Vec<&Value> = items.iter().collect();
                // Upstream compares `set` and `map` lists regardless of order (so that
                // `self == oldSelf` holds for a reordered set); the cel crate compares lists
                // by position, so such lists are presented in a canonical order.
                match list_type {
                    ListType::Atomic => {}
                    ListType::Set => order.sort_by_cached_key(ToString::to_string),
                    ListType::Map(keys) => order.sort_by_cached_key(|v| {
                        keys.iter()
                            .map(|k| v.get(k).map(Value::to_string).unwrap_or_default())
                            .collect::<Vec<_>>()
                    }),
                }
                cel::Value::List(Arc::new(
                    order
                        .into_iter()
                        .map(|v| self.to_cel(v, item_node, false))
                        .collect(),
                ))
            }
            Value::Object(map) => {
                let mut out: HashMap<String, cel::Value> = HashMap::with_capacity(map.len());
                let embedded = is_root || node.is_some_and(|n| n.embedded);
                for (k, v) in map {
                    if embedded {
                        match k.as_str() {
                            "apiVersion" | "kind" => {
                                if let Value::String(s) = v {
                                    out.insert(k.clone(), cel::Value::String(Arc::new(s.clone())));
                                }
                                continue;
                            }
                            "metadata" => {
                                out.insert(k.clone(), metadata_to_cel(v));
                                continue;
                            }
                            _ => {}
                        }
                    }
                    match node {
                        Some(n) => {
                            if let Some(prop) = n.properties.get(k) {
                                if let Some(name) = escape(k) {
                                    out.insert(name, self.to_cel(v, Some(prop), false));
                                }
                            } else if let Some(add) = n.additional.as_deref() {
                                out.insert(k.clone(), self.to_cel(v, Some(add), false));
                            } else if n.preserve_unknown {
                                out.insert(k.clone(), self.to_cel(v, None, false));
                            }
                        }
                        None => {
                            out.insert(k.clone(), self.to_cel(v, None, false));
                        }
                    }
                }
                out.into()
            }
        }
    }

    fn string_to_cel(&self, s: &str, node: Option<&Node>) -> cel::Value {
        let plain = || cel::Value::String(Arc::new(s.to_owned()));
        let Some(node) = node else { return plain() };
        if node.ty != Some(Type::String) {
            return plain();
        }
        let program = match node.format.as_deref() {
            Some("date-time") => self.timestamp.as_ref(),
            Some("duration") => self.duration.as_ref(),
            Some("byte") => {
                return match base64::engine::general_purpose::STANDARD.decode(s) {
                    Ok(bytes) => cel::Value::Bytes(Arc::new(bytes)),
                    Err(_) => plain(),
                };
            }
            _ => None,
        };
        let Some(program) = program else {
            return plain();
        };
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.add_variable_from_value("v", plain());
        program.execute(&ctx).unwrap_or_else(|_| plain())
    }
}

/// `metadata` of a resource root or embedded resource: only `name` and `generateName` are
/// visible to rules, as upstream.
fn metadata_to_cel(meta: &Value) -> cel::Value {
    let mut out: HashMap<String, cel::Value> = HashMap::new();
    if let Some(map) = meta.as_object() {
        for key in ["name", "generateName"] {
            if let Some(Value::String(s)) = map.get(key) {
                out.insert(key.to_owned(), cel::Value::String(Arc::new(s.clone())));
            }
        }
    }
    out.into()
}

/// Escapes a property name for CEL as upstream does (`apiextensions-apiserver` `cel.Escape`):
/// keywords become `__keyword__`; `__`, `.`, `-` and `/` become `__underscores__`,
/// `__dot__`, `__dash__` and `__slash__`. Names that cannot be escaped are not accessible.
pub(crate) fn escape(name: &str) -> Option<String> {
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    if !first_ok || !chars_ok {
        return None;
    }
    if !name.contains(['.', '-', '/']) && !name.contains("__") {
        return Some(name.to_owned());
    }
    Some(
        name.replace("__", "__underscores__")
            .replace('.', "__dot__")
            .replace('-', "__dash__")
            .replace('/', "__slash__"),
    )
}

/// Checks a rule's `fieldPath` (`.spec.x`, `['a.b']`) against the schema of the rule's node,
/// as upstream `ValidFieldPath`: each step must name a declared property, or any key of an
/// `additionalProperties` map; list indexes are not allowed.
fn resolve_field_path(node: &Node, field_path: &str) -> Result<(), String> {
    let mut current = node;
    let mut rest = field_path;
    while !rest.is_empty() {
        let (name, after) = if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            (&r[..end], &r[end..])
        } else if let Some(r) = rest.strip_prefix("['") {
            let Some(end) = r.find("']") else {
                return Err("unexpected end of JSON path".to_owned());
            };
            (&r[..end], &r[end + 2..])
        } else {
            return Err(format!("expected [ or . but got: {rest}"));
        };
        if name.is_empty() {
            return Err("unexpected end of JSON path".to_owned());
        }
        current = match (current.properties.get(name), current.additional.as_deref()) {
            (Some(prop), _) => prop,
            (None, Some(add)) if current.properties.is_empty() => add,
            _ => return Err("does not refer to a valid field".to_owned()),
        };
        rest = after;
    }
    Ok(())
}

/// Joins a rule's `fieldPath` (`.spec.x`, `.items['a.b']`) to the path of its node.
fn join_field_path(path: &str, field_path: &str) -> String {
    let mut out = path.to_owned();
    let mut rest = field_path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            out = errors::child(&out, &r[..end]);
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            let inner = r[..end].trim_matches(|c| c == '\'' || c == '"');
            out = format!("{out}[{inner}]");
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            // A path without a leading dot: treat it as one property name chain.
            out = errors::child(&out, rest);
            break;
        }
    }
    out
}

/// The causes kube-apiserver adds when the rules of one schema together exceed
/// `StaticEstimatedCRDCostLimit` (`TotalCost.ObserveExpressionCost`): one for each of the
/// (at most four) most expensive expressions costing at least 1% of the limit, and one for
/// the schema.
pub(crate) fn budget_causes(root: &Node) -> Vec<FieldCause> {
    fn collect<'a>(node: &'a Node, out: &mut Vec<&'a (String, u64)>) {
        out.extend(node.rules.iter().flat_map(|r| &r.costs));
        for child in node.properties.values() {
            collect(child, out);
        }
        for child in node.additional.iter().chain(&node.items) {
            collect(child, out);
        }
    }
    let mut costs = Vec::new();
    collect(root, &mut costs);
    let total = costs.iter().fold(0u64, |a, (_, c)| a.saturating_add(*c));
    if total <= STATIC_ESTIMATED_CRD_COST_LIMIT {
        return Vec::new();
    }
    let mut expensive: Vec<_> = costs
        .into_iter()
        .filter(|(_, c)| *c >= STATIC_ESTIMATED_CRD_COST_LIMIT / 100)
        .collect();
    expensive.sort_by_key(|(_, cost)| std::cmp::Reverse(*cost));
    let mut causes: Vec<FieldCause> = expensive
        .iter()
        .take(4)
        .map(|(path, _)| {
            errors::forbidden(
                path,
                "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema",
            )
        })
        .collect();
    causes.push(errors::forbidden(
        "openAPIV3Schema",
        &cost_error(
            "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
            total,
            STATIC_ESTIMATED_CRD_COST_LIMIT,
        ),
    ));
    causes
}

/// A rule compiled for a CRD: the program, its estimated cost (once) and whether its result
/// is certainly not a bool.
struct Compiled {
    program: Program,
    cost: u64,
    not_bool: bool,
}

/// `getCostErrorMessage`: how kube-apiserver words a cost over budget.
#[expect(
    clippy::cast_precision_loss,
    reason = "the factor is printed as a float, as upstream"
)]
pub(crate) fn cost_error(what: &str, cost: u64, limit: u64) -> String {
    let exceed = cost as f64 / limit as f64;
    let factor = if exceed > 100.0 {
        "more than 100x".to_owned()
    } else if exceed < 1.5 {
        format!("{exceed:.6}x")
    } else {
        format!("{exceed:.1}x")
    };
    format!(
        "{what} exceeds budget by factor of {factor} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
    )
}

/// A `x-kubernetes-validations` entry as kube-apiserver prints it as the bad value of a rule
/// error: the JSON of `apiextensions.ValidationRule` (Go field names, `null` for unset
/// pointers, `<`, `>` and `&` escaped as Go's encoder does).
fn go_validation_rule(entry: &Value) -> String {
    let text = |key: &str| {
        Value::String(
            entry
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        )
    };
    let pointer = |key: &str| match entry.get(key) {
        Some(v @ (Value::String(_) | Value::Bool(_))) => v.clone(),
        _ => Value::Null,
    };
    let fields = [
        ("Rule", text("rule")),
        ("Message", text("message")),
        ("MessageExpression", text("messageExpression")),
        ("Reason", pointer("reason")),
        ("FieldPath", text("fieldPath")),
        ("OptionalOldSelf", pointer("optionalOldSelf")),
    ];
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", body.join(","))
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The first line of a multi-line CEL parse error (the rest is a source excerpt).
fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// An evaluation error worded like cel-go's, which is what users see from a real server.
fn go_error(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        ExecutionError::UndeclaredReference(r) => format!("undeclared reference to '{r}'"),
        // Library functions fail with their own message, as cel-go's `types.NewErr`.
        ExecutionError::FunctionError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
