//! A small seeded mutation fuzzer for the stable toolchain, shared (by `#[path]`) by the
//! bounded fuzz tests of `opportune-wire` and `opportune-auth` that run in every
//! `cargo test` and in CI (the cargo-fuzz targets next to this directory need nightly).
//!
//! * `OPPORTUNE_FUZZ_SECS`: how long each fuzz test runs (default 2 s; CI sets 30).
//! * `OPPORTUNE_FUZZ_SEED`: the seed (default: from the clock). The seed is printed at the
//!   start and, with the input in hex, when a target panics: the same seed replays the
//!   same inputs in the same order.

#![allow(dead_code)]

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// xorshift64*: fast, deterministic for a seed, good enough to drive mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The time budget of one fuzz test.
pub fn budget() -> Duration {
    let secs = std::env::var("OPPORTUNE_FUZZ_SECS").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(2.0);
    Duration::from_secs_f64(secs.clamp(0.0, 3600.0))
}

/// The seed: `OPPORTUNE_FUZZ_SEED`, else from the clock.
pub fn seed() -> u64 {
    std::env::var("OPPORTUNE_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    })
}

/// Values that tend to hit length and offset checks.
const INTERESTING: [u64; 12] = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF];

/// One to four mutations of `input`: bit flips, interesting bytes, little-endian
/// interesting u16/u32 values, truncation, growth, duplicated or removed ranges and
/// splices with `other`.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = d.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = INTERESTING[rng.below(INTERESTING.len())] as u8;
            }
            2 if len >= 2 => {
                let i = rng.below(len - 1);
                let v = INTERESTING[rng.below(INTERESTING.len())] as u16;
                d[i..i + 2].copy_from_slice(&v.to_le_bytes());
            }
            3 if len >= 4 => {
                let i = rng.below(len - 3);
                let v = INTERESTING[rng.below(INTERESTING.len())] as u32;
                d[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            4 if len > 0 => d.truncate(rng.below(len)),
            5 => {
                let n = 1 + rng.below(64);
                for _ in 0..n {
                    d.push(rng.next() as u8);
                }
            }
            6 if len > 1 => {
                let a = rng.below(len);
                let b = a + rng.below(len - a);
                let piece = d[a..b].to_vec();
                let at = rng.below(d.len());
                d.splice(at..at, piece);
            }
            7 if len > 1 => {
                let a = rng.below(len);
                let b = a + rng.below(len - a);
                d.drain(a..b);
            }
            8 if !other.is_empty() => {
                let cut = rng.below(d.len() + 1);
                let from = rng.below(other.len());
                d.truncate(cut);
                d.extend_from_slice(&other[from..]);
            }
            _ => {
                if let Some(b) = d.last_mut() {
                    *b = rng.next() as u8;
                }
            }
        }
    }
    d
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs `target` on mutations of `seeds` (and of earlier mutations) for [`budget`];
/// returns the number of inputs tried. A panic is reported with the seed, the input's
/// number and its hex, then re-raised.
pub fn run(name: &str, seeds: &[Vec<u8>], mut target: impl FnMut(&[u8])) -> u64 {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let seed = seed();
    eprintln!("fuzz {name}: seed {seed} (OPPORTUNE_FUZZ_SEED={seed} replays), budget {:?}", budget());
    let mut rng = Rng::new(seed);
    let deadline = Instant::now() + budget();
    let mut pool: Vec<Vec<u8>> = seeds.to_vec();
    let mut n = 0u64;
    // The seeds themselves first, then mutations, at least a few thousand of them.
    loop {
        let input = if (n as usize) < seeds.len() {
            seeds[n as usize].clone()
        } else {
            let a = &pool[rng.below(pool.len())];
            let b = &pool[rng.below(pool.len())];
            mutate(&mut rng, a, b)
        };
        if let Err(e) = panic::catch_unwind(AssertUnwindSafe(|| target(&input))) {
            eprintln!("fuzz {name}: input {n} with seed {seed} panicked; input ({} bytes): {}", input.len(), hex(&input));
            panic::resume_unwind(e);
        }
        // Keep some mutations as new starting points (bounded pool).
        if rng.below(16) == 0 && input.len() <= 4096 {
            if pool.len() < 256 {
                pool.push(input);
            } else {
                let i = seeds.len() + rng.below(pool.len() - seeds.len());
                pool[i] = input;
            }
        }
        n += 1;
        if n >= 2000 && n.is_multiple_of(256) && Instant::now() >= deadline {
            break;
        }
    }
    eprintln!("fuzz {name}: {n} inputs, no panic");
    n
}
