//! The pseudo-random sequence of the lock core's randomized unit tests: xorshift64
//! (Marsaglia, "Xorshift RNGs", 2003), so that a run is fixed by its seed and a failure
//! replays exactly.

/// A xorshift64 generator. The seed must not be zero (the sequence would stay zero).
#[derive(Clone, Debug)]
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> XorShift {
        assert_ne!(seed, 0, "a xorshift seed must not be zero");
        XorShift(seed)
    }

    /// The next number of the sequence, reduced below `n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        let g = &mut self.0;
        *g ^= *g << 13;
        *g ^= *g >> 7;
        *g ^= *g << 17;
        *g % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_is_fixed_by_its_seed() {
        let mut a = XorShift::new(77);
        let mut b = a.clone();
        let first: Vec<u64> = (0..5).map(|_| a.below(u64::MAX)).collect();
        assert_eq!(first, (0..5).map(|_| b.below(u64::MAX)).collect::<Vec<_>>());
        // The first step from 1 by hand: x ^= x << 13; x ^= x >> 7; x ^= x << 17.
        let x = 1u64 ^ (1 << 13);
        let x = x ^ (x >> 7);
        let x = x ^ (x << 17);
        assert_eq!(XorShift::new(1).below(u64::MAX), x % u64::MAX);
        assert!((0..1000).all(|_| a.below(7) < 7));
    }
}
