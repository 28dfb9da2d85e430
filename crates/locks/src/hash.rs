//! A fast hasher for the lock core's hash maps (opens, files, each open's byte-range
//! locks), whose keys are a few integers. The standard SipHash costs more than the
//! lookup it serves; this one mixes each word into the state with a multiply and a
//! rotation, starting from a per-process random seed (from the standard library's
//! random hash keys), so the bucket of a key cannot be predicted without the seed.
//! It is not a keyed PRF like SipHash: it only has to keep tables of server-chosen ids
//! and of a client's own lock ranges spread, and a client choosing its lock offsets to
//! collide slows only its own file's lock table.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::OnceLock;

const K: u64 = 0x9e37_79b9_7f4a_7c15;

fn process_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| RandomState::new().hash_one(0x6c6f_636b_u64) | 1)
}

/// Builds [`WordHasher`]s with the process seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seeded(u64);

impl Default for Seeded {
    fn default() -> Self {
        Seeded(process_seed())
    }
}

impl BuildHasher for Seeded {
    type Hasher = WordHasher;
    fn build_hasher(&self) -> WordHasher {
        WordHasher(self.0)
    }
}

pub(crate) struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, w: u64) {
        self.0 = (self.0 ^ w).wrapping_mul(K).rotate_left(26);
    }

    fn write_u32(&mut self, w: u32) {
        self.write_u64(u64::from(w));
    }

    fn write_u8(&mut self, w: u8) {
        self.write_u64(u64::from(w));
    }

    fn write_usize(&mut self, w: usize) {
        self.write_u64(w as u64);
    }

    fn finish(&self) -> u64 {
        // The table takes its bucket from the low bits and a tag from the top 7: fold
        // the high bits of the last product into both.
        let h = self.0.wrapping_mul(K);
        h ^ (h >> 29)
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, Seeded>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys in a regular pattern (a lock every 16 bytes, consecutive ids) spread over
    /// the buckets: no bucket of 1,024 gets more than a few times its share.
    #[test]
    fn regular_keys_spread() {
        let s = Seeded::default();
        for stride in [1u64, 16, 4096, 1 << 32] {
            let mut buckets = [0u32; 1024];
            let mut tags = [0u32; 128];
            for i in 0..100_000u64 {
                let h = s.hash_one((7u64, i * stride, 8u64));
                buckets[(h & 1023) as usize] += 1;
                tags[(h >> 57) as usize] += 1;
            }
            let max = *buckets.iter().max().unwrap();
            assert!(max < 4 * 100_000 / 1024, "stride {stride}: a bucket holds {max}");
            let max_tag = *tags.iter().max().unwrap();
            assert!(max_tag < 3 * 100_000 / 128, "stride {stride}: a tag holds {max_tag}");
        }
    }

    #[test]
    fn maps_work() {
        let mut m: FastMap<(u64, u64), u32> = FastMap::default();
        for i in 0..1000u64 {
            m.insert((i, i * 16), i as u32);
        }
        assert!((0..1000u64).all(|i| m[&(i, i * 16)] == i as u32));
        assert_eq!(m.len(), 1000);
    }
}
