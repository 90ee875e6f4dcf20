//! Hashes for the `hash`, `checksum`, `md5`, `sha1` and `password_hash` filters, and the
//! system randomness behind salts, `random` without a seed and the `password` lookup.
//!
//! `password_hash` writes crypt(3) strings that `/etc/shadow` accepts, as passlib does for
//! Ansible: `sha512` (`$6$`, 656000 rounds unless `rounds=` says otherwise), `sha256` (`$5$`,
//! 535000 rounds) and `md5` (`$1$`). A `rounds=5000` hash is written without the `rounds=`
//! field, like passlib and `openssl passwd -6`. bcrypt (`blowfish`) is not supported.

use std::io::Read;

use sha1::Digest as _;

/// Hex digest of `data` with a hashlib algorithm name.
pub(super) fn hexdigest(algorithm: &str, data: &[u8]) -> Result<String, String> {
    let bytes: Vec<u8> = match algorithm.to_ascii_lowercase().as_str() {
        "sha1" => sha1::Sha1::digest(data).to_vec(),
        "md5" => md5::compute(data).0.to_vec(),
        "sha224" => sha2::Sha224::digest(data).to_vec(),
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha384" => sha2::Sha384::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        other => return Err(format!("unsupported hash type {other}")),
    };
    Ok(hex(&bytes))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` bytes from the operating system's random source.
pub(super) fn system_random_bytes(n: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(buf)
}

/// A uniformly random index below `n` from the system source (rejection sampling).
pub(super) fn system_random_below(n: usize) -> Result<usize, String> {
    if n <= 1 {
        return Ok(0);
    }
    let n = n as u64;
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let b = system_random_bytes(8)?;
        let mut arr = [0u8; 8];
        arr.copy_from_slice(&b);
        let r = u64::from_le_bytes(arr);
        if r < zone {
            return Ok((r % n) as usize);
        }
    }
}

/// A random string of `length` characters taken from `chars`.
pub(super) fn random_string(length: usize, chars: &[char]) -> Result<String, String> {
    if chars.is_empty() {
        return Err("no characters to choose from".to_string());
    }
    (0..length).map(|_| system_random_below(chars.len()).map(|i| chars[i])).collect()
}

const CRYPT64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The characters allowed in a crypt salt.
pub(super) fn salt_chars() -> Vec<char> {
    CRYPT64.iter().map(|&b| b as char).collect()
}

/// `password_hash(hashtype, salt, salt_size, rounds)`.
pub(super) fn password_hash(secret: &str, hashtype: &str, salt: Option<&str>, salt_size: Option<usize>, rounds: Option<u32>) -> Result<String, String> {
    let (name, default_salt, max_salt, default_rounds) = match hashtype {
        "sha512" | "sha512_crypt" => ("sha512_crypt", 16, 16, Some(656_000)),
        "sha256" | "sha256_crypt" => ("sha256_crypt", 16, 16, Some(535_000)),
        "md5" | "md5_crypt" => ("md5_crypt", 8, 8, None),
        "blowfish" | "bcrypt" => return Err("bcrypt (blowfish) is not supported; use sha512".to_string()),
        other => return Err(format!("{other} is not in the list of supported algorithms: md5, sha256, sha512")),
    };
    let salt = match salt {
        Some(s) if !s.is_empty() => {
            if s.len() > max_salt {
                return Err(format!("salt too large ({name} requires <= {max_salt} chars)"));
            }
            if !s.bytes().all(|b| CRYPT64.contains(&b)) {
                return Err(format!("invalid characters in {name} salt"));
            }
            s.to_string()
        }
        _ => random_string(salt_size.unwrap_or(default_salt).min(max_salt), &salt_chars())?,
    };
    // The same hash is asked for again and again (a variable referenced by every loop
    // item, rendered lazily): SHA-crypt's 656,000 rounds are computed once per run.
    static MEMO: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<(String, String, String, Option<u32>), String>>> = std::sync::OnceLock::new();
    let key = (secret.to_string(), name.to_string(), salt.clone(), rounds);
    if let Some(h) = MEMO.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(h.clone());
    }
    let hash = match name {
        "md5_crypt" => md5_crypt(secret.as_bytes(), salt.as_bytes()),
        "sha256_crypt" => sha_crypt::<sha2::Sha256>(secret.as_bytes(), salt.as_bytes(), rounds.or(default_rounds).unwrap_or(5000), "5"),
        _ => sha_crypt::<sha2::Sha512>(secret.as_bytes(), salt.as_bytes(), rounds.or(default_rounds).unwrap_or(5000), "6"),
    };
    MEMO.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner()).insert(key, hash.clone());
    Ok(hash)
}

/// Base-64 of crypt(3): 3 bytes → 4 characters, least significant first.
fn b64_from_24bit(out: &mut String, b2: u8, b1: u8, b0: u8, n: usize) {
    let mut w = ((b2 as u32) << 16) | ((b1 as u32) << 8) | b0 as u32;
    for _ in 0..n {
        out.push(CRYPT64[(w & 0x3f) as usize] as char);
        w >>= 6;
    }
}

/// SHA-crypt (Ulrich Drepper's specification), `$5$` or `$6$`.
fn sha_crypt<D: sha2::Digest + Clone>(key: &[u8], salt: &[u8], rounds: u32, id: &str) -> String {
    let rounds = rounds.clamp(1000, 999_999_999);
    let salt = &salt[..salt.len().min(16)];
    let digest = |parts: &[&[u8]]| -> Vec<u8> {
        let mut h = D::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().to_vec()
    };
    let hash_len = digest(&[]).len();

    let b = digest(&[key, salt, key]);
    let mut a = D::new();
    a.update(key);
    a.update(salt);
    let mut n = key.len();
    while n > hash_len {
        a.update(&b);
        n -= hash_len;
    }
    a.update(&b[..n]);
    let mut n = key.len();
    while n > 0 {
        if n & 1 == 1 {
            a.update(&b);
        } else {
            a.update(key);
        }
        n >>= 1;
    }
    let a = a.finalize().to_vec();

    let mut dp = D::new();
    for _ in 0..key.len() {
        dp.update(key);
    }
    let dp = dp.finalize().to_vec();
    let p: Vec<u8> = dp.iter().cycle().take(key.len()).copied().collect();

    let mut ds = D::new();
    for _ in 0..(16 + a[0] as usize) {
        ds.update(salt);
    }
    let ds = ds.finalize().to_vec();
    let s: Vec<u8> = ds.iter().cycle().take(salt.len()).copied().collect();

    let mut c = a;
    for i in 0..rounds {
        let mut h = D::new();
        if i % 2 == 1 {
            h.update(&p);
        } else {
            h.update(&c);
        }
        if i % 3 != 0 {
            h.update(&s);
        }
        if i % 7 != 0 {
            h.update(&p);
        }
        if i % 2 == 1 {
            h.update(&c);
        } else {
            h.update(&p);
        }
        c = h.finalize().to_vec();
    }

    let mut out = format!("${id}$");
    if rounds != 5000 {
        out.push_str(&format!("rounds={rounds}$"));
    }
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    if hash_len == 64 {
        const ORDER: [(usize, usize, usize); 21] = [
            (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
            (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13),
            (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41),
        ];
        for (x, y, z) in ORDER {
            b64_from_24bit(&mut out, c[x], c[y], c[z], 4);
        }
        b64_from_24bit(&mut out, 0, 0, c[63], 2);
    } else {
        const ORDER: [(usize, usize, usize); 10] = [
            (0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14),
            (15, 25, 5), (6, 16, 26), (27, 7, 17), (18, 28, 8), (9, 19, 29),
        ];
        for (x, y, z) in ORDER {
            b64_from_24bit(&mut out, c[x], c[y], c[z], 4);
        }
        b64_from_24bit(&mut out, 0, c[31], c[30], 3);
    }
    out
}

/// MD5-crypt (`$1$`, Poul-Henning Kamp's algorithm).
fn md5_crypt(key: &[u8], salt: &[u8]) -> String {
    let salt = &salt[..salt.len().min(8)];
    let md5 = |parts: &[&[u8]]| -> [u8; 16] {
        let mut c = md5::Context::new();
        for p in parts {
            c.consume(p);
        }
        c.finalize().0
    };
    let alt = md5(&[key, salt, key]);
    let mut ctx = md5::Context::new();
    ctx.consume(key);
    ctx.consume(b"$1$");
    ctx.consume(salt);
    let mut n = key.len();
    while n > 0 {
        ctx.consume(&alt[..n.min(16)]);
        n = n.saturating_sub(16);
    }
    let mut n = key.len();
    while n > 0 {
        if n & 1 == 1 {
            ctx.consume([0u8]);
        } else {
            ctx.consume(&key[..1]);
        }
        n >>= 1;
    }
    let mut fin = ctx.finalize().0;
    for i in 0..1000 {
        let mut c = md5::Context::new();
        if i & 1 == 1 {
            c.consume(key);
        } else {
            c.consume(fin);
        }
        if i % 3 != 0 {
            c.consume(salt);
        }
        if i % 7 != 0 {
            c.consume(key);
        }
        if i & 1 == 1 {
            c.consume(fin);
        } else {
            c.consume(key);
        }
        fin = c.finalize().0;
    }
    let mut out = format!("$1${}$", String::from_utf8_lossy(salt));
    for (x, y, z) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        b64_from_24bit(&mut out, fin[x], fin[y], fin[z], 4);
    }
    b64_from_24bit(&mut out, 0, 0, fin[11], 2);
    out
}

/// `to_uuid`: a version 5 UUID of `name` in `namespace` (Ansible's by default).
pub(super) fn uuid5(namespace: &str, name: &str) -> Result<String, String> {
    let ns_hex: String = namespace.chars().filter(|c| *c != '-' && *c != '{' && *c != '}').collect();
    if ns_hex.len() != 32 || !ns_hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("Invalid value '{namespace}' for 'namespace'"));
    }
    let ns: Vec<u8> = (0..16).map(|i| u8::from_str_radix(&ns_hex[2 * i..2 * i + 2], 16).unwrap_or(0)).collect();
    let mut h = sha1::Sha1::new();
    h.update(&ns);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}
