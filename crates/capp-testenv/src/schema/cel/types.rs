//! The CEL types a rule's values have, derived from the schema as kube-apiserver derives them
//! (`k8s.io/apiserver/pkg/cel/common` `SchemaDeclType`), with the size bounds its cost
//! estimator uses (`estimateMaxStringLengthPerRequest`, `estimateMaxArrayItemsPerRequest`,
//! `estimateMaxAdditionalPropertiesPerRequest`, `estimateMinSizeJSON`).

use std::fmt;

use crate::schema::node::{Node, Type};

/// `celconfig.MaxRequestSizeBytes`: the largest request the server accepts (3 MiB), the bound
/// of every unbounded string, list and map.
pub(super) const MAX_REQUEST_SIZE_BYTES: u64 = 3 * 1024 * 1024;
/// `MaxDurationSizeJSON`: the longest duration string.
const MAX_DURATION_SIZE_JSON: u64 = 32;
/// `MaxDatetimeSizeJSON`: the longest RFC 3339 date-time string.
const MAX_DATETIME_SIZE_JSON: u64 = 32;
/// `JSONDateSize`: the size of a quoted `YYYY-MM-DD`.
const JSON_DATE_SIZE: u64 = 12;
/// `MinDurationSizeJSON`: `"0"`.
const MIN_DURATION_SIZE_JSON: u64 = 3;
/// `MinDatetimeSizeJSON`: the shortest quoted RFC 3339 date-time.
const MIN_DATETIME_SIZE_JSON: u64 = 21;

/// The Kubernetes library object types (`k8s.io/apiserver/pkg/cel/library`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Library {
    /// `quantity(s)`.
    Quantity,
    /// `url(s)`.
    Url,
    /// `ip(s)`.
    Ip,
    /// `cidr(s)`.
    Cidr,
    /// `format.<name>()`.
    Format,
}

impl Library {
    fn name(self) -> &'static str {
        match self {
            Library::Quantity => "kubernetes.Quantity",
            Library::Url => "kubernetes.URL",
            Library::Ip => "net.IP",
            Library::Cidr => "net.CIDR",
            Library::Format => "kubernetes.NamedFormat",
        }
    }
}

/// A CEL type as cel-go's checker sees it. `Dyn` matches anything (`x-kubernetes-int-or-string`,
/// values the checker cannot type): it never causes an error, as in cel-go.
#[derive(Clone, Debug)]
pub(super) enum Ty<'n> {
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Timestamp,
    Duration,
    /// A type value (`int`, `type(x)`).
    Type,
    List(Box<Ty<'n>>),
    Map(Box<Ty<'n>>, Box<Ty<'n>>),
    /// An object of the schema (`true`: a resource root or embedded resource, where
    /// `apiVersion`, `kind` and `metadata` are always declared).
    Object(&'n Node, bool),
    /// The `metadata` of a resource: only `name` and `generateName`.
    Metadata,
    Optional(Box<Ty<'n>>),
    Library(Library),
}

impl<'n> Ty<'n> {
    /// The type of values of `node` (`SchemaDeclType`), `None` when the schema exposes no
    /// type to CEL (no `type` and not int-or-string): such fields are not declared.
    pub(super) fn of_node(node: &'n Node, is_resource: bool) -> Option<Ty<'n>> {
        if node.int_or_string {
            return Some(Ty::Dyn);
        }
        Some(match node.ty? {
            Type::Boolean => Ty::Bool,
            Type::Integer => Ty::Int,
            Type::Number => Ty::Double,
            Type::String => match node.format.as_deref() {
                Some("byte") => Ty::Bytes,
                Some("duration") => Ty::Duration,
                Some("date" | "date-time") => Ty::Timestamp,
                _ => Ty::String,
            },
            Type::Array => {
                let items = node.items.as_deref()?;
                Ty::List(Box::new(Ty::of_node(items, items.embedded)?))
            }
            Type::Object => match node.additional.as_deref() {
                Some(add) if add_is_typed(node) => Ty::Map(
                    Box::new(Ty::String),
                    Box::new(Ty::of_node(add, add.embedded)?),
                ),
                // `additionalProperties: true` or an untyped schema: nothing to check.
                Some(_) => Ty::Dyn,
                None => Ty::Object(node, is_resource || node.embedded),
            },
        })
    }

    /// Whether this type is certain (not `dyn`), so that a mismatch is an error.
    pub(super) fn is_dyn(&self) -> bool {
        matches!(self, Ty::Dyn)
    }

    /// Whether a value of this type may be passed where `want` is expected (`dyn` on either
    /// side always fits; numbers only fit their own kind).
    pub(super) fn fits(&self, want: &Ty<'_>) -> bool {
        match (self, want) {
            (Ty::Dyn, _)
            | (_, Ty::Dyn)
            | (Ty::Object(..) | Ty::Metadata, Ty::Object(..) | Ty::Metadata)
            | (Ty::Null, Ty::Object(..) | Ty::Metadata | Ty::Null | Ty::Optional(_)) => true,
            (Ty::List(a), Ty::List(b)) | (Ty::Optional(a), Ty::Optional(b)) => a.fits(b),
            (Ty::Map(ka, va), Ty::Map(kb, vb)) => ka.fits(kb) && va.fits(vb),
            (Ty::Library(a), Ty::Library(b)) => a == b,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// The common type of two branches (`?:`, list literals), `None` when they are certain
    /// and different.
    pub(super) fn join(&self, other: &Ty<'n>) -> Option<Ty<'n>> {
        match (self, other) {
            (Ty::Dyn, t)
            | (t, Ty::Dyn)
            | (Ty::Null, t @ (Ty::Object(..) | Ty::Metadata | Ty::Optional(_)))
            | (t @ (Ty::Object(..) | Ty::Metadata | Ty::Optional(_)), Ty::Null) => Some(t.clone()),
            (Ty::List(a), Ty::List(b)) => Some(Ty::List(Box::new(a.join(b)?))),
            (a, b) if a.fits(b) => Some(a.clone()),
            _ => None,
        }
    }

    /// Whether values of the two types can be compared with `==` (cel-go's `equals(A, A)`;
    /// numbers of different kinds compare, as with the heterogeneous equality kube-apiserver
    /// enables).
    pub(super) fn comparable(&self, other: &Ty<'_>) -> bool {
        match (self, other) {
            (Ty::Dyn, _) | (_, Ty::Dyn) => true,
            (a, b) if a.is_number() && b.is_number() => true,
            (Ty::List(a), Ty::List(b)) | (Ty::Optional(a), Ty::Optional(b)) => a.comparable(b),
            (Ty::Map(ka, va), Ty::Map(kb, vb)) => ka.comparable(kb) && va.comparable(vb),
            (Ty::Null, _) | (_, Ty::Null) => true,
            (a, b) => a.fits(b),
        }
    }

    /// Whether `<` and friends apply to values of this type.
    pub(super) fn is_orderable(&self) -> bool {
        matches!(
            self,
            Ty::Dyn
                | Ty::Int
                | Ty::Uint
                | Ty::Double
                | Ty::String
                | Ty::Bytes
                | Ty::Bool
                | Ty::Timestamp
                | Ty::Duration
        )
    }

    pub(super) fn is_number(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }
}

/// `additionalProperties` with a typed schema makes the object a map (properties and
/// additionalProperties are exclusive in a structural schema).
fn add_is_typed(node: &Node) -> bool {
    node.additional
        .as_deref()
        .is_some_and(|add| add.ty.is_some() || add.int_or_string)
}

impl fmt::Display for Ty<'_> {
    /// cel-go's `FormatCELType`, which its overload errors print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Dyn => f.write_str("dyn"),
            Ty::Null => f.write_str("null_type"),
            Ty::Bool => f.write_str("bool"),
            Ty::Int => f.write_str("int"),
            Ty::Uint => f.write_str("uint"),
            Ty::Double => f.write_str("double"),
            Ty::String => f.write_str("string"),
            Ty::Bytes => f.write_str("bytes"),
            Ty::Timestamp => f.write_str("google.protobuf.Timestamp"),
            Ty::Duration => f.write_str("google.protobuf.Duration"),
            Ty::Type => f.write_str("type"),
            Ty::List(e) => write!(f, "list({e})"),
            Ty::Map(k, v) => write!(f, "map({k}, {v})"),
            // kube-apiserver names object types after a per-CRD random `selfType<N>`; the
            // number cannot be reproduced.
            Ty::Object(..) | Ty::Metadata => f.write_str("object"),
            Ty::Optional(t) => write!(f, "optional_type({t})"),
            Ty::Library(l) => f.write_str(l.name()),
        }
    }
}

/// The largest size (`size()`: characters, bytes, items or entries) a value of `node` can
/// have, as kube-apiserver's `DeclType.MaxElements`. Strings with `maxLength` count 4 bytes
/// per character, as upstream does.
pub(super) fn max_elements(node: &Node) -> u64 {
    if node.int_or_string {
        return MAX_REQUEST_SIZE_BYTES - 2;
    }
    match node.ty {
        Some(Type::String) => match node.format.as_deref() {
            Some("byte") => node.max_length.unwrap_or(MAX_REQUEST_SIZE_BYTES - 2),
            Some("duration") => MAX_DURATION_SIZE_JSON,
            Some("date") => JSON_DATE_SIZE,
            Some("date-time") => MAX_DATETIME_SIZE_JSON,
            _ => node
                .max_length
                .map_or(MAX_REQUEST_SIZE_BYTES - 2, |l| l.saturating_mul(4)),
        },
        Some(Type::Array) => node.max_items.unwrap_or_else(|| {
            (MAX_REQUEST_SIZE_BYTES - 2) / (min_size_json(node.items.as_deref()) + 1)
        }),
        Some(Type::Object) if add_is_typed(node) => node.max_properties.unwrap_or_else(|| {
            (MAX_REQUEST_SIZE_BYTES - 2) / (min_size_json(node.additional.as_deref()) + 6)
        }),
        _ => 0,
    }
}

/// `estimateMinSizeJSON`: the fewest bytes a value of `node` takes in JSON.
pub(super) fn min_size_json(node: Option<&Node>) -> u64 {
    let Some(node) = node else { return 1 };
    match node.ty {
        Some(Type::Boolean) => 4,
        Some(Type::String) => match node.format.as_deref() {
            Some("duration") => MIN_DURATION_SIZE_JSON,
            Some("date") => JSON_DATE_SIZE,
            Some("date-time") => MIN_DATETIME_SIZE_JSON,
            _ => 2,
        },
        Some(Type::Array) => 2,
        Some(Type::Object) => {
            2 + node
                .required
                .iter()
                .filter_map(|name| node.properties.get(name).map(|p| (name, p)))
                .filter(|(_, p)| p.default.is_none())
                .map(|(name, p)| name.len() as u64 + min_size_json(Some(p)) + 4)
                .sum::<u64>()
        }
        Some(Type::Integer | Type::Number) | None => 1,
    }
}

/// How many values of `node` one request can hold at most, the multiplier of a rule's cost
/// when an enclosing list or map is unbounded (`MaxCardinality`).
pub(super) fn max_cardinality(node: &Node) -> u64 {
    MAX_REQUEST_SIZE_BYTES / (min_size_json(Some(node)) + 1)
}
