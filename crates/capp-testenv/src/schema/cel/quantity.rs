//! The Kubernetes quantity library (`k8s.io/apiserver/pkg/cel/library/quantity.go`):
//! `quantity(s)` parses a resource quantity (`resource.ParseQuantity`) into an object with
//! `compareTo`, `isGreaterThan`, `isLessThan`, `add`, `sub`, `asInteger`,
//! `asApproximateFloat`, `sign` and `isInteger`.

use std::cmp::Ordering;
use std::sync::Arc;

use cel::common::types::{INT_TYPE, STRING_TYPE, Type};
use cel::common::value::CowVal;
use cel::objects::Opaque;
use cel::{DeclarationError, Env, ExecutionError, Value};

use super::library::{arg, is_quantity_str, owned, str_arg};

/// The runtime type name of a quantity (`apiservercel.QuantityType`).
const TYPE_NAME: &str = "kubernetes.Quantity";

/// A quantity as an exact decimal: `mantissa × 10^exponent` (binary suffixes are exact
/// decimals too: `1Ki` is `1024 × 10^0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quantity {
    mantissa: i128,
    exponent: i32,
}

impl Opaque for Quantity {
    fn runtime_type_name(&self) -> &str {
        TYPE_NAME
    }
}

impl Quantity {
    /// `resource.ParseQuantity`, for quantities whose digits fit 38 decimal places.
    fn parse(s: &str) -> Option<Quantity> {
        if !is_quantity_str(s) {
            return None;
        }
        let (negative, rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits = format!("{whole}{fraction}");
        let mut mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let mut exponent = -i32::try_from(fraction.len()).ok()?;
        let (binary, decimal): (u32, i32) = match suffix {
            "" => (0, 0),
            "Ki" => (10, 0),
            "Mi" => (20, 0),
            "Gi" => (30, 0),
            "Ti" => (40, 0),
            "Pi" => (50, 0),
            "Ei" => (60, 0),
            "n" => (0, -9),
            "u" => (0, -6),
            "m" => (0, -3),
            "k" => (0, 3),
            "M" => (0, 6),
            "G" => (0, 9),
            "T" => (0, 12),
            "P" => (0, 15),
            "E" => (0, 18),
            exp => (0, exp.get(1..)?.parse().ok()?),
        };
        mantissa = mantissa.checked_mul(1i128.checked_shl(binary)?)?;
        exponent = exponent.checked_add(decimal)?;
        if negative {
            mantissa = -mantissa;
        }
        Some(Quantity { mantissa, exponent })
    }

    /// Both mantissas at the smaller exponent, when they fit.
    fn aligned(self, other: Quantity) -> Option<(i128, i128, i32)> {
        let exp = self.exponent.min(other.exponent);
        let scale = |q: Quantity| -> Option<i128> {
            let shift = u32::try_from(q.exponent - exp).ok()?;
            q.mantissa.checked_mul(10i128.checked_pow(shift)?)
        };
        Some((scale(self)?, scale(other)?, exp))
    }

    fn as_f64(self) -> f64 {
        #[expect(
            clippy::cast_precision_loss,
            reason = "asApproximateFloat is approximate by definition"
        )]
        let m = self.mantissa as f64;
        m * 10f64.powi(self.exponent)
    }

    /// `Quantity.Cmp`.
    fn cmp(self, other: Quantity) -> Ordering {
        match self.aligned(other) {
            Some((a, b, _)) => a.cmp(&b),
            None => self
                .as_f64()
                .partial_cmp(&other.as_f64())
                .unwrap_or(Ordering::Equal),
        }
    }

    /// `Quantity.AsInt64`: the value when it is a whole number within the i64 range.
    fn as_i64(self) -> Option<i64> {
        let mut m = self.mantissa;
        let mut e = self.exponent;
        while e < 0 {
            if m % 10 != 0 {
                return None;
            }
            m /= 10;
            e += 1;
        }
        let m = m.checked_mul(10i128.checked_pow(u32::try_from(e).ok()?)?)?;
        i64::try_from(m).ok()
    }

    fn add(self, other: Quantity, function: &str) -> Result<Quantity, ExecutionError> {
        let (a, b, exponent) = self
            .aligned(other)
            .ok_or_else(|| ExecutionError::function_error(function, "quantity overflow"))?;
        let mantissa = a
            .checked_add(b)
            .ok_or_else(|| ExecutionError::function_error(function, "quantity overflow"))?;
        Ok(Quantity { mantissa, exponent })
    }
}

fn quantity_type() -> Type {
    Type::new_opaque_type(TYPE_NAME)
}

/// Registers `quantity()` and the quantity members.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let q = quantity_type;
    env.add_overload("quantity", "string_to_quantity", vec![STRING_TYPE], parse)?;
    env.add_member_overload(
        "compareTo",
        "quantity_compareTo",
        q(),
        vec![q()],
        compare_to,
    )?;
    env.add_member_overload(
        "isGreaterThan",
        "quantity_isGreaterThan",
        q(),
        vec![q()],
        greater,
    )?;
    env.add_member_overload("isLessThan", "quantity_isLessThan", q(), vec![q()], less)?;
    env.add_member_overload("add", "quantity_add", q(), vec![q()], add)?;
    env.add_member_overload("add", "quantity_add_int", q(), vec![INT_TYPE], add)?;
    env.add_member_overload("sub", "quantity_sub", q(), vec![q()], sub)?;
    env.add_member_overload("sub", "quantity_sub_int", q(), vec![INT_TYPE], sub)?;
    env.add_member_overload("asInteger", "quantity_asInteger", q(), vec![], as_integer)?;
    env.add_member_overload("isInteger", "quantity_isInteger", q(), vec![], is_integer)?;
    env.add_member_overload(
        "asApproximateFloat",
        "quantity_asApproximateFloat",
        q(),
        vec![],
        as_float,
    )?;
    env.add_member_overload("sign", "quantity_sign", q(), vec![], sign)?;
    Ok(())
}

/// The quantity (or, for `add`/`sub`, the integer) argument `i`.
fn quantity_arg(
    args: &[CowVal<'_, '_>],
    i: usize,
    function: &str,
) -> Result<Quantity, ExecutionError> {
    match arg(args, i)? {
        Value::Opaque(o) => o
            .downcast_ref::<Quantity>()
            .copied()
            .ok_or_else(|| ExecutionError::function_error(function, "not a quantity")),
        Value::Int(n) => Ok(Quantity {
            mantissa: i128::from(n),
            exponent: 0,
        }),
        other => Err(ExecutionError::unsupported_target_type(other)),
    }
}

fn quantity_value<'b, 'v>(q: Quantity) -> Result<CowVal<'b, 'v>, ExecutionError> {
    owned(Value::Opaque(Arc::new(q)))
}

type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
type Out<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn parse<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let s = str_arg(&args, 0)?;
    match Quantity::parse(&s) {
        Some(q) => quantity_value(q),
        None => Err(ExecutionError::function_error(
            "quantity",
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        )),
    }
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn compare_to<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let a = quantity_arg(&args, 0, "compareTo")?;
    let b = quantity_arg(&args, 1, "compareTo")?;
    owned(Value::Int(match a.cmp(b) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn greater<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let a = quantity_arg(&args, 0, "isGreaterThan")?;
    let b = quantity_arg(&args, 1, "isGreaterThan")?;
    owned(Value::Bool(a.cmp(b) == Ordering::Greater))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn less<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let a = quantity_arg(&args, 0, "isLessThan")?;
    let b = quantity_arg(&args, 1, "isLessThan")?;
    owned(Value::Bool(a.cmp(b) == Ordering::Less))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn add<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let a = quantity_arg(&args, 0, "add")?;
    let b = quantity_arg(&args, 1, "add")?;
    quantity_value(a.add(b, "add")?)
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn sub<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let a = quantity_arg(&args, 0, "sub")?;
    let b = quantity_arg(&args, 1, "sub")?;
    let negated = Quantity {
        mantissa: b
            .mantissa
            .checked_neg()
            .ok_or_else(|| ExecutionError::function_error("sub", "quantity overflow"))?,
        exponent: b.exponent,
    };
    quantity_value(a.add(negated, "sub")?)
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn as_integer<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let q = quantity_arg(&args, 0, "asInteger")?;
    match q.as_i64() {
        Some(i) => owned(Value::Int(i)),
        None => Err(ExecutionError::function_error(
            "asInteger",
            "cannot convert value to integer",
        )),
    }
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn is_integer<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let q = quantity_arg(&args, 0, "isInteger")?;
    owned(Value::Bool(q.as_i64().is_some()))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn as_float<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let q = quantity_arg(&args, 0, "asApproximateFloat")?;
    owned(Value::Float(q.as_f64()))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn sign<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let q = quantity_arg(&args, 0, "sign")?;
    owned(Value::Int(match q.mantissa.cmp(&0) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail by panicking")]
mod tests {
    use super::Quantity;
    use std::cmp::Ordering;

    #[test]
    fn binary_and_decimal_suffixes_compare_exactly() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        assert_eq!(q("1Ki").cmp(q("1024")), Ordering::Equal);
        assert_eq!(q("1.5Gi").cmp(q("1536Mi")), Ordering::Equal);
        assert_eq!(q("100m").cmp(q("0.1")), Ordering::Equal);
        assert_eq!(q("1e3").cmp(q("1k")), Ordering::Equal);
        assert_eq!(q("999m").cmp(q("1")), Ordering::Less);
        assert_eq!(q("2Gi").as_i64(), Some(2_147_483_648));
        assert_eq!(q("1500m").as_i64(), None);
        assert!(Quantity::parse("1.2.3").is_none());
        assert!(Quantity::parse("12Q").is_none());
    }
}
