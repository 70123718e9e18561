//! The compiled form of one `openAPIV3Schema` node: its type, list type, bounds, children and
//! CEL rules, as the apiextensions `structuralschema.Structural` holds them.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;

use super::cel::Rule;

/// A JSON Schema `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Type {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
}

impl Type {
    pub(super) fn parse(s: &str) -> Option<Type> {
        Some(match s {
            "object" => Type::Object,
            "array" => Type::Array,
            "string" => Type::String,
            "integer" => Type::Integer,
            "number" => Type::Number,
            "boolean" => Type::Boolean,
            _ => return None,
        })
    }

    /// The name used in the schema and in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Type::Object => "object",
            Type::Array => "array",
            Type::String => "string",
            Type::Integer => "integer",
            Type::Number => "number",
            Type::Boolean => "boolean",
        }
    }
}

/// `x-kubernetes-list-type`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum ListType {
    /// `atomic` or unset: a plain list.
    #[default]
    Atomic,
    /// `set`: items must be unique scalars.
    Set,
    /// `map`: items are objects unique by the `x-kubernetes-list-map-keys`.
    Map(Vec<String>),
}

/// A numeric bound with its exclusivity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bound {
    pub(crate) value: f64,
    pub(crate) exclusive: bool,
}

/// One compiled schema node.
#[derive(Debug, Default)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "each flag mirrors one boolean schema keyword"
)]
pub(crate) struct Node {
    pub(crate) ty: Option<Type>,
    pub(crate) nullable: bool,
    pub(crate) int_or_string: bool,
    pub(crate) preserve_unknown: bool,
    pub(crate) embedded: bool,
    /// The schema root: embedded-resource pruning applies, but its `apiVersion`, `kind` and
    /// `metadata` are the server's business, not checked here.
    pub(crate) resource_root: bool,
    pub(crate) properties: BTreeMap<String, Node>,
    /// `additionalProperties` given as a schema (or `true`, compiled as an empty node that
    /// preserves unknown fields).
    pub(crate) additional: Option<Box<Node>>,
    pub(crate) items: Option<Box<Node>>,
    pub(crate) default: Option<Value>,
    pub(crate) required: Vec<String>,
    pub(crate) enumeration: Option<Vec<Value>>,
    pub(crate) pattern: Option<(String, Regex)>,
    pub(crate) format: Option<String>,
    pub(crate) minimum: Option<Bound>,
    pub(crate) maximum: Option<Bound>,
    pub(crate) multiple_of: Option<f64>,
    pub(crate) min_length: Option<u64>,
    pub(crate) max_length: Option<u64>,
    pub(crate) min_items: Option<u64>,
    pub(crate) max_items: Option<u64>,
    pub(crate) min_properties: Option<u64>,
    pub(crate) max_properties: Option<u64>,
    pub(crate) unique_items: bool,
    pub(crate) list_type: ListType,
    pub(crate) all_of: Vec<Node>,
    pub(crate) any_of: Vec<Node>,
    pub(crate) one_of: Vec<Node>,
    pub(crate) not: Option<Box<Node>>,
    pub(crate) rules: Vec<Rule>,
    /// Whether this node or anything below it has CEL rules (lets validation skip building
    /// CEL values for rule-free subtrees).
    pub(crate) has_rules_below: bool,
    /// The schema path of this node (`openAPIV3Schema.properties[spec]`), for compile-time
    /// messages only.
    pub(crate) schema_path: String,
}

impl Node {
    /// The schema of property `key` of an object value: its own property schema or the
    /// `additionalProperties` schema.
    pub(crate) fn child(&self, key: &str) -> Option<&Node> {
        self.properties.get(key).or(self.additional.as_deref())
    }

    /// How many CEL rules the tree holds.
    pub(crate) fn rule_count(&self) -> usize {
        self.rules.len()
            + self
                .properties
                .values()
                .map(Node::rule_count)
                .sum::<usize>()
            + self.additional.as_ref().map_or(0, |n| n.rule_count())
            + self.items.as_ref().map_or(0, |n| n.rule_count())
    }

    /// Calls `f(node, default, schema_path)` for every node of the structural tree that has a
    /// `default`.
    pub(crate) fn for_each_default(&self, f: &mut dyn FnMut(&Node, &Value, &str)) {
        if let Some(default) = &self.default {
            f(self, default, &self.schema_path);
        }
        for node in self.properties.values() {
            node.for_each_default(f);
        }
        if let Some(node) = &self.additional {
            node.for_each_default(f);
        }
        if let Some(node) = &self.items {
            node.for_each_default(f);
        }
    }
}
