//! `--shard K/N`: split the hosts of a run over N machines (CI jobs) without them
//! talking to each other. A host belongs to shard `fnv1a64(inventory_hostname) % N + 1`.
//! FNV-1a is fixed by its definition (not seeded like Rust's `HashMap` hasher), so every
//! machine, every run and every build puts a host in the same shard.

use crate::diag::Diagnostic;

/// 64-bit FNV-1a of `text`'s UTF-8 bytes.
pub fn fnv1a64(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Is `host` in shard `k` (1-based) of `n`?
pub fn in_shard(host: &str, k: u32, n: u32) -> bool {
    n > 0 && fnv1a64(host) % u64::from(n) == u64::from(k) - 1
}

/// `K/N` with 1 <= K <= N.
pub fn parse(text: &str) -> Result<(u32, u32), Diagnostic> {
    let bad = || {
        Diagnostic::new(format!("invalid --shard `{text}`"))
            .with_help("write it as K/N with 1 <= K <= N, e.g. `--shard 2/3` for the second of three shards")
    };
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let k: u32 = k.trim().parse().map_err(|_| bad())?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    if k < 1 || n < 1 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_the_published_function() {
        // Test vectors of FNV-1a 64 (draft-eastlake-fnv).
        assert_eq!(fnv1a64(""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64("foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn every_host_in_exactly_one_shard() {
        for n in 1..6 {
            for h in ["h1", "h2", "h3", "h4", "h5", "web-01.example.com"] {
                assert_eq!((1..=n).filter(|&k| in_shard(h, k, n)).count(), 1);
            }
        }
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(parse("1/3").unwrap(), (1, 3));
        assert_eq!(parse("3/3").unwrap(), (3, 3));
        for bad in ["0/3", "4/3", "1/0", "x", "1/", "/2", "-1/2"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
