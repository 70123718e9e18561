//! The Kubernetes IP and CIDR libraries (`k8s.io/apiserver/pkg/cel/library/ip.go`,
//! `cidr.go`): `ip(s)` with `family`, `isUnspecified`, `isLoopback`,
//! `isLinkLocalMulticast`, `isLinkLocalUnicast`, `isGlobalUnicast`; `cidr(s)` with
//! `containsIP`, `containsCIDR`, `ip`, `masked`, `prefixLength`; `ip.isCanonical(s)` and
//! `string()` of both. Zones and IPv4-mapped IPv6 addresses are refused, as upstream.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use cel::common::types::{STRING_TYPE, Type};
use cel::common::value::CowVal;
use cel::objects::Opaque;
use cel::{DeclarationError, Env, ExecutionError, Value};

use super::library::{arg, owned, str_arg};

const IP_TYPE_NAME: &str = "net.IP";
const CIDR_TYPE_NAME: &str = "net.CIDR";

/// An IP address, a value of `ip(s)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ip(IpAddr);

impl Opaque for Ip {
    fn runtime_type_name(&self) -> &str {
        IP_TYPE_NAME
    }
}

/// A CIDR, a value of `cidr(s)`: the address as written and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Opaque for Cidr {
    fn runtime_type_name(&self) -> &str {
        CIDR_TYPE_NAME
    }
}

/// `netip.ParseAddr` plus the library's refusals (`parseIPAddr`).
pub(super) fn parse_ip(s: &str) -> Result<IpAddr, String> {
    if s.contains('%') {
        return Err("IP Address with zone value is not allowed".to_owned());
    }
    let addr: IpAddr = s
        .parse()
        .map_err(|_| format!("IP Address {s:?} parse error during conversion from string: ParseAddr({s:?}): unable to parse IP"))?;
    if let IpAddr::V6(v6) = addr
        && v6.to_ipv4_mapped().is_some()
    {
        return Err("IPv4-mapped IPv6 address is not allowed".to_owned());
    }
    Ok(addr)
}

/// `netip.ParsePrefix` plus the library's refusals (`parseCIDR`).
pub(super) fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, len) = s
        .split_once('/')
        .ok_or_else(|| format!("network address parse error during conversion from string: netip.ParsePrefix({s:?}): no '/'"))?;
    let addr = parse_ip(addr)?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = len
        .parse()
        .ok()
        .filter(|p| *p <= max && !len.starts_with('+') && (len == "0" || !len.starts_with('0')))
        .ok_or_else(|| format!("network address parse error during conversion from string: netip.ParsePrefix({s:?}): bad bits after slash: {len:?}"))?;
    Ok((addr, prefix))
}

/// The first `prefix` bits of `addr` (the rest zero).
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl Cidr {
    fn contains(self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == mask(self.addr, self.prefix)
    }
}

/// Go's `netip.Addr.IsGlobalUnicast`.
fn is_global_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_multicast()
                || v4.is_link_local()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_unspecified() || v6.is_loopback() || v6.is_multicast() || is_v6_link_local(v6))
        }
    }
}

fn is_v6_link_local(v6: Ipv6Addr) -> bool {
    v6.segments()[0] & 0xffc0 == 0xfe80
}

/// Go's `IsLinkLocalMulticast`: 224.0.0.0/24 and ff02::/16.
fn is_link_local_multicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    }
}

/// Registers `ip()`, `cidr()`, their members and conversions.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let ip = || Type::new_opaque_type(IP_TYPE_NAME);
    let cidr = || Type::new_opaque_type(CIDR_TYPE_NAME);
    env.add_overload("ip", "string_to_ip", vec![STRING_TYPE], ip_fn)?;
    env.add_overload(
        "ip.isCanonical",
        "ip_is_canonical",
        vec![STRING_TYPE],
        is_canonical,
    )?;
    env.add_overload("string", "ip_to_string", vec![ip()], to_string)?;
    env.add_overload("cidr", "string_to_cidr", vec![STRING_TYPE], cidr_fn)?;
    env.add_overload("string", "cidr_to_string", vec![cidr()], to_string)?;
    let ip_members: [(&str, cel::common::functions::Function); 6] = [
        ("family", family),
        ("isUnspecified", is_unspecified),
        ("isLoopback", is_loopback),
        ("isLinkLocalMulticast", is_link_local_multicast_fn),
        ("isLinkLocalUnicast", is_link_local_unicast),
        ("isGlobalUnicast", is_global_unicast_fn),
    ];
    for (name, function) in ip_members {
        env.add_member_overload(name, &format!("ip_{name}"), ip(), vec![], function)?;
    }
    env.add_member_overload("ip", "cidr_ip", cidr(), vec![], cidr_ip)?;
    env.add_member_overload("masked", "cidr_masked", cidr(), vec![], masked)?;
    env.add_member_overload(
        "prefixLength",
        "cidr_prefix_length",
        cidr(),
        vec![],
        prefix_length,
    )?;
    env.add_member_overload(
        "containsIP",
        "cidr_contains_ip_ip",
        cidr(),
        vec![ip()],
        contains,
    )?;
    env.add_member_overload(
        "containsIP",
        "cidr_contains_ip_string",
        cidr(),
        vec![STRING_TYPE],
        contains,
    )?;
    env.add_member_overload(
        "containsCIDR",
        "cidr_contains_cidr",
        cidr(),
        vec![cidr()],
        contains,
    )?;
    env.add_member_overload(
        "containsCIDR",
        "cidr_contains_cidr_string",
        cidr(),
        vec![STRING_TYPE],
        contains,
    )?;
    Ok(())
}

type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
type Out<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn opaque<'b, 'v>(value: impl Opaque) -> Out<'b, 'v> {
    owned(Value::Opaque(Arc::new(value)))
}

fn ip_arg(args: &[CowVal<'_, '_>], i: usize, function: &str) -> Result<IpAddr, ExecutionError> {
    match arg(args, i)? {
        Value::Opaque(o) => o
            .downcast_ref::<Ip>()
            .map(|ip| ip.0)
            .ok_or_else(|| ExecutionError::function_error(function, "not an IP address")),
        Value::String(s) => parse_ip(&s).map_err(|e| ExecutionError::function_error(function, e)),
        other => Err(ExecutionError::unsupported_target_type(other)),
    }
}

fn cidr_arg(args: &[CowVal<'_, '_>], i: usize, function: &str) -> Result<Cidr, ExecutionError> {
    match arg(args, i)? {
        Value::Opaque(o) => o
            .downcast_ref::<Cidr>()
            .copied()
            .ok_or_else(|| ExecutionError::function_error(function, "not a CIDR")),
        Value::String(s) => parse_cidr(&s)
            .map(|(addr, prefix)| Cidr { addr, prefix })
            .map_err(|e| ExecutionError::function_error(function, e)),
        other => Err(ExecutionError::unsupported_target_type(other)),
    }
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn ip_fn<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    opaque(Ip(ip_arg(&args, 0, "ip")?))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn cidr_fn<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    opaque(cidr_arg(&args, 0, "cidr")?)
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn is_canonical<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let s = str_arg(&args, 0)?;
    let ip = parse_ip(&s).map_err(|e| ExecutionError::function_error("ip.isCanonical", e))?;
    owned(Value::Bool(ip.to_string() == *s))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn to_string<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let Value::Opaque(o) = arg(&args, 0)? else {
        return Err(ExecutionError::function_error(
            "string",
            "not an IP or CIDR",
        ));
    };
    let text = if let Some(ip) = o.downcast_ref::<Ip>() {
        ip.0.to_string()
    } else if let Some(c) = o.downcast_ref::<Cidr>() {
        format!("{}/{}", c.addr, c.prefix)
    } else {
        return Err(ExecutionError::function_error(
            "string",
            "not an IP or CIDR",
        ));
    };
    owned(Value::String(Arc::new(text)))
}

fn ip_bool<'b, 'v>(args: &[CowVal<'b, 'v>], name: &str, test: fn(IpAddr) -> bool) -> Out<'b, 'v> {
    owned(Value::Bool(test(ip_arg(args, 0, name)?)))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn family<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let ip = ip_arg(&args, 0, "family")?;
    owned(Value::Int(if ip.is_ipv4() { 4 } else { 6 }))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn is_unspecified<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    ip_bool(&args, "isUnspecified", |ip| ip.is_unspecified())
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn is_loopback<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    ip_bool(&args, "isLoopback", |ip| ip.is_loopback())
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn is_link_local_multicast_fn<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    ip_bool(&args, "isLinkLocalMulticast", is_link_local_multicast)
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn is_link_local_unicast<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    ip_bool(&args, "isLinkLocalUnicast", |ip| match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => is_v6_link_local(v6),
    })
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn is_global_unicast_fn<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    ip_bool(&args, "isGlobalUnicast", is_global_unicast)
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn cidr_ip<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    opaque(Ip(cidr_arg(&args, 0, "ip")?.addr))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn masked<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let c = cidr_arg(&args, 0, "masked")?;
    opaque(Cidr {
        addr: mask(c.addr, c.prefix),
        prefix: c.prefix,
    })
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn prefix_length<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    owned(Value::Int(i64::from(
        cidr_arg(&args, 0, "prefixLength")?.prefix,
    )))
}

#[expect(clippy::needless_pass_by_value, reason = "cel's Function signature")]
fn contains<'b, 'v>(args: Args<'b, 'v>) -> Out<'b, 'v> {
    let c = cidr_arg(&args, 0, "containsIP")?;
    let inside = match arg(&args, 1)? {
        Value::Opaque(o) if o.downcast_ref::<Cidr>().is_some() => {
            let other = cidr_arg(&args, 1, "containsCIDR")?;
            other.prefix >= c.prefix && c.contains(other.addr)
        }
        Value::String(s) if s.contains('/') => {
            let other = cidr_arg(&args, 1, "containsCIDR")?;
            other.prefix >= c.prefix && c.contains(other.addr)
        }
        _ => c.contains(ip_arg(&args, 1, "containsIP")?),
    };
    owned(Value::Bool(inside))
}
