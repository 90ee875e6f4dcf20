//! The basics of `ansible.utils.ipaddr`: `ipaddr`, `ipv4`, `ipv6`, `ipwrap` with the queries
//! `address`, `network`, `prefix`, `netmask`, `broadcast`, `host`, `net`, `cidr`, `size`,
//! `public`, `private`, `version`, and the `ip`/`subnet`-ish `ipmath`-free subset.
//!
//! A value that is not an address gives `False` (a list keeps only the values that pass),
//! like the collection's filters.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, Value};

use super::filters::{add, fail, py_str};

pub(super) fn register(env: &mut Environment<'static>) {
    add(env, "ipaddr", |v: Value, q: Option<String>| filter(v, q.as_deref(), None));
    add(env, "ansible.utils.ipaddr", |v: Value, q: Option<String>| filter(v, q.as_deref(), None));
    add(env, "ipv4", |v: Value, q: Option<String>| filter(v, q.as_deref(), Some(4)));
    add(env, "ansible.utils.ipv4", |v: Value, q: Option<String>| filter(v, q.as_deref(), Some(4)));
    add(env, "ipv6", |v: Value, q: Option<String>| filter(v, q.as_deref(), Some(6)));
    add(env, "ansible.utils.ipv6", |v: Value, q: Option<String>| filter(v, q.as_deref(), Some(6)));
    add(env, "ipwrap", |v: Value| -> Result<Value, Error> {
        map_values(v, &|s| {
            Ok(match parse(s) {
                Some(n) if n.addr.is_ipv6() => Value::from(format!("[{}]", s)),
                _ => Value::from(s),
            })
        })
    });
}

/// An address with a prefix length (`/32` or `/128` when none was written).
#[derive(Debug, Clone, Copy)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn bits(&self) -> u8 {
        if self.addr.is_ipv4() {
            32
        } else {
            128
        }
    }

    fn as_u128(&self) -> u128 {
        match self.addr {
            IpAddr::V4(a) => u32::from(a) as u128,
            IpAddr::V6(a) => u128::from(a),
        }
    }

    fn addr_of(&self, n: u128) -> IpAddr {
        match self.addr {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        }
    }

    fn mask(&self) -> u128 {
        let bits = self.bits() as u32;
        let host = bits - self.prefix as u32;
        let all = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
        if host >= 128 {
            0
        } else {
            all & !((1u128 << host) - 1)
        }
    }

    fn network(&self) -> IpAddr {
        self.addr_of(self.as_u128() & self.mask())
    }

    fn broadcast(&self) -> IpAddr {
        let all = if self.bits() == 128 { u128::MAX } else { (1u128 << self.bits()) - 1 };
        self.addr_of((self.as_u128() & self.mask()) | (all & !self.mask()))
    }

    fn size(&self) -> u128 {
        let host = (self.bits() - self.prefix) as u32;
        if host >= 128 {
            u128::MAX
        } else {
            1u128 << host
        }
    }
}

fn parse(s: &str) -> Option<Net> {
    let s = s.trim();
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = addr.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => bits,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= bits => n,
            // A netmask written out: 255.255.255.0
            _ => {
                let mask: Ipv4Addr = p.parse().ok()?;
                let m = u32::from(mask);
                if m.leading_ones() + m.trailing_zeros() != 32 {
                    return None;
                }
                m.leading_ones() as u8
            }
        },
    };
    Some(Net { addr, prefix })
}

fn is_private(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_private() || a.is_loopback() || a.is_link_local() || a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64,
        IpAddr::V6(a) => a.is_loopback() || (a.segments()[0] & 0xfe00) == 0xfc00 || (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn query(net: Net, original: &str, q: Option<&str>) -> Result<Value, Error> {
    let f = Value::from(false);
    let is_network = net.prefix < net.bits() && net.addr == net.network();
    Ok(match q.unwrap_or("") {
        "" => Value::from(original),
        "address" | "ip" => {
            if net.prefix == net.bits() || !is_network {
                Value::from(net.addr.to_string())
            } else {
                f
            }
        }
        "network" => Value::from(net.network().to_string()),
        "prefix" => Value::from(net.prefix),
        "netmask" => Value::from(net.addr_of(net.mask()).to_string()),
        "hostmask" => {
            let all = if net.bits() == 128 { u128::MAX } else { (1u128 << net.bits()) - 1 };
            Value::from(net.addr_of(all & !net.mask()).to_string())
        }
        "broadcast" => {
            if net.addr.is_ipv4() && net.prefix < 31 {
                Value::from(net.broadcast().to_string())
            } else {
                f
            }
        }
        "host" => {
            if net.prefix == net.bits() || !is_network {
                Value::from(format!("{}/{}", net.addr, net.prefix))
            } else {
                f
            }
        }
        "net" | "subnet" => {
            if is_network || q == Some("subnet") {
                Value::from(format!("{}/{}", net.network(), net.prefix))
            } else {
                f
            }
        }
        "cidr" => Value::from(format!("{}/{}", net.network(), net.prefix)),
        "host/prefix" | "address/prefix" => {
            if net.prefix < net.bits() && !is_network {
                Value::from(format!("{}/{}", net.addr, net.prefix))
            } else {
                f
            }
        }
        "size" => Value::from(net.size()),
        "version" => Value::from(if net.addr.is_ipv4() { 4 } else { 6 }),
        "private" => {
            if is_private(net.addr) {
                Value::from(original)
            } else {
                f
            }
        }
        "public" => {
            if !is_private(net.addr) {
                Value::from(original)
            } else {
                f
            }
        }
        "wrap" | "ipwrap" => Value::from(if net.addr.is_ipv6() { format!("[{}]", net.addr) } else { original.to_string() }),
        "int" => Value::from(net.as_u128()),
        other => {
            if let Ok(n) = other.parse::<i64>() {
                // ipaddr(5): the 5th address of the network, with the prefix.
                let base = net.as_u128() & net.mask();
                let idx = if n >= 0 { n as u128 } else { net.size().wrapping_sub(n.unsigned_abs() as u128) };
                if idx >= net.size() {
                    return Ok(f);
                }
                Value::from(format!("{}/{}", net.addr_of(base + idx), net.prefix))
            } else {
                return Err(fail(format!("Unknown ipaddr query: {other}")));
            }
        }
    })
}

fn one(v: &Value, q: Option<&str>, version: Option<u8>) -> Result<Value, Error> {
    let original = py_str(v);
    let net = if v.is_integer() {
        let n = i128::try_from(v.clone()).unwrap_or(-1);
        if (0..=u32::MAX as i128).contains(&n) {
            Some(Net { addr: IpAddr::V4(Ipv4Addr::from(n as u32)), prefix: 32 })
        } else {
            None
        }
    } else {
        parse(&original)
    };
    let Some(net) = net else {
        return Ok(Value::from(false));
    };
    if let Some(want) = version {
        if (want == 4) != net.addr.is_ipv4() {
            return Ok(Value::from(false));
        }
    }
    query(net, &original, q)
}

fn filter(v: Value, q: Option<&str>, version: Option<u8>) -> Result<Value, Error> {
    if matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable) {
        let mut out = Vec::new();
        for item in v.try_iter()? {
            let r = one(&item, q, version)?;
            if r.kind() != ValueKind::Bool || r.is_true() {
                out.push(r);
            }
        }
        return Ok(Value::from(out));
    }
    one(&v, q, version)
}

fn map_values(v: Value, f: &dyn Fn(&str) -> Result<Value, Error>) -> Result<Value, Error> {
    if matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable) {
        return Ok(Value::from(v.try_iter()?.map(|i| f(&py_str(&i))).collect::<Result<Vec<_>, _>>()?));
    }
    f(&py_str(&v))
}
