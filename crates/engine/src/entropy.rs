//! Where the engine draws its randomness (server GUID, session ids, id seed, NTLM
//! challenges, preauth salts, nonces): an [`Entropy`] passed in with the server state,
//! so that a test world can replay a run exactly from a seed ([`SeededEntropy`]) while
//! the server uses the operating system's generator ([`OsEntropy`]).
//!
//! Files under the state directory (the domain SID in `accounts/sids.rs`, the temporary
//! names of `accounts/atomic.rs`) stay on the operating system's generator: they outlive
//! one server and must not repeat across runs.

use crate::server_error::ServerError;
use std::sync::Mutex;

/// A source of random bytes.
pub trait Entropy: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<(), ServerError>;
}

/// The operating system's generator (getrandom).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), ServerError> {
        getrandom::fill(buf).map_err(|e| ServerError::Random(e.to_string()))
    }
}

/// Deterministic bytes from a 64-bit seed (splitmix64): the same seed gives the same
/// bytes in the same order. Not for production: anyone who knows the seed knows them.
#[derive(Debug)]
pub struct SeededEntropy {
    state: Mutex<u64>,
}

impl SeededEntropy {
    pub fn new(seed: u64) -> SeededEntropy {
        SeededEntropy { state: Mutex::new(seed) }
    }
}

/// One step of splitmix64: advances `state` and returns the next output.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Entropy for SeededEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), ServerError> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for chunk in buf.chunks_mut(8) {
            let word = splitmix64(&mut s).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(e: &dyn Entropy, n: usize) -> Vec<u8> {
        let mut b = vec![0u8; n];
        e.fill(&mut b).ok();
        b
    }

    #[test]
    fn same_seed_same_bytes() {
        let (a, b) = (SeededEntropy::new(42), SeededEntropy::new(42));
        assert_eq!(draw(&a, 37), draw(&b, 37));
        assert_eq!(draw(&a, 16), draw(&b, 16));
    }

    #[test]
    fn different_seeds_and_draws_differ() {
        let (a, b) = (SeededEntropy::new(1), SeededEntropy::new(2));
        let first = draw(&a, 16);
        assert_ne!(first, draw(&b, 16));
        assert_ne!(first, draw(&a, 16));
    }

    #[test]
    fn splitmix64_known_output() {
        // The reference sequence for seed 0.
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(&mut s), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn os_entropy_fills() {
        let a = draw(&OsEntropy, 32);
        assert_ne!(a, vec![0u8; 32]);
    }
}
