//! Python's `random.Random(seed)`, bit for bit, so `random(seed=inventory_hostname)` and
//! `shuffle(seed=...)` pick the same values as Ansible (the usual way to spread cron jobs).
//!
//! Mersenne Twister MT19937 with CPython's seeding: an int seed is split into 32-bit words;
//! a str seed is first turned into `int.from_bytes(s + sha512(s), 'big')` (seed version 2).

use sha2::Digest as _;

pub(super) struct PyRandom {
    state: [u32; 624],
    index: usize,
}

impl PyRandom {
    /// `random.Random(seed)` for an int seed.
    pub(super) fn from_int(seed: i128) -> PyRandom {
        let mut n = seed.unsigned_abs();
        let mut key = Vec::new();
        while n > 0 {
            key.push((n & 0xffff_ffff) as u32);
            n >>= 32;
        }
        if key.is_empty() {
            key.push(0);
        }
        PyRandom::from_key(&key)
    }

    /// `random.Random(seed)` for a str seed.
    pub(super) fn from_str(seed: &str) -> PyRandom {
        let mut bytes = seed.as_bytes().to_vec();
        bytes.extend_from_slice(&sha2::Sha512::digest(seed.as_bytes()));
        // Big-endian integer → little-endian 32-bit words, as CPython's init_by_array gets them.
        let mut key = Vec::new();
        for chunk in bytes.rchunks(4) {
            let mut w = 0u32;
            for &b in chunk {
                w = (w << 8) | b as u32;
            }
            key.push(w);
        }
        while key.len() > 1 && key.last() == Some(&0) {
            key.pop();
        }
        PyRandom::from_key(&key)
    }

    fn from_genrand(s: u32) -> PyRandom {
        let mut state = [0u32; 624];
        state[0] = s;
        for i in 1..624 {
            state[i] = 1_812_433_253u32.wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30)).wrapping_add(i as u32);
        }
        PyRandom { state, index: 624 }
    }

    fn from_key(key: &[u32]) -> PyRandom {
        let mut r = PyRandom::from_genrand(19_650_218);
        let mt = &mut r.state;
        let (mut i, mut j) = (1usize, 0usize);
        let len = key.len();
        for _ in 0..624.max(len) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= 624 {
                mt[0] = mt[623];
                i = 1;
            }
            if j >= len {
                j = 0;
            }
        }
        for _ in 0..623 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= 624 {
                mt[0] = mt[623];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        r
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for k in 0..624 {
                let y = (self.state[k] & 0x8000_0000) | (self.state[(k + 1) % 624] & 0x7fff_ffff);
                let mut v = self.state[(k + 397) % 624] ^ (y >> 1);
                if y & 1 == 1 {
                    v ^= 0x9908_b0df;
                }
                self.state[k] = v;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `getrandbits(k)` for k ≤ 64.
    fn getrandbits(&mut self, k: u32) -> u64 {
        if k <= 32 {
            return (self.next_u32() >> (32 - k)) as u64;
        }
        let low = self.next_u32() as u64;
        let high = (self.next_u32() >> (64 - k)) as u64;
        (high << 32) | low
    }

    /// `_randbelow(n)`: uniform in `0..n`.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `randrange(start, stop, step)` for a positive step.
    pub(super) fn randrange(&mut self, start: i64, stop: i64, step: i64) -> Option<i64> {
        let width = stop.checked_sub(start)?;
        if step == 1 {
            return (width > 0).then(|| start + self.below(width as u64) as i64);
        }
        if step <= 0 {
            return None;
        }
        let n = (width + step - 1) / step;
        (n > 0).then(|| start + step * self.below(n as u64) as i64)
    }

    /// `shuffle(list)`.
    pub(super) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}
