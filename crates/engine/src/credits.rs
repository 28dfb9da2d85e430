//! The command sequence window (MS-SMB2 3.3.1.1, 3.3.5.2.3): which message ids a
//! client may use, given the credits granted so far.

use std::collections::BTreeSet;

/// Most credits a client may hold at once.
pub const MAX_OUTSTANDING: u64 = 8192;

#[derive(Debug)]
pub struct SequenceWindow {
    /// Lowest id not yet used.
    low: u64,
    /// One past the highest id granted.
    high: u64,
    /// Ids at or above `low` already used out of order.
    used: BTreeSet<u64>,
}

impl Default for SequenceWindow {
    fn default() -> Self {
        SequenceWindow { low: 0, high: 1, used: BTreeSet::new() }
    }
}

impl SequenceWindow {
    /// Consumes `charge` ids starting at `id`; false if any is outside the window or reused.
    pub fn consume(&mut self, id: u64, charge: u16) -> bool {
        let charge = u64::from(charge.max(1));
        let Some(end) = id.checked_add(charge) else { return false };
        if id == self.low && end <= self.high && self.used.is_empty() {
            // In-order use, the common case: no set to maintain.
            self.low = end;
            return true;
        }
        if id < self.low || end > self.high || (id..end).any(|i| self.used.contains(&i)) {
            return false;
        }
        self.used.extend(id..end);
        while self.used.remove(&self.low) {
            self.low += 1;
        }
        true
    }

    /// Credits the client holds now: granted ids not yet used.
    pub fn outstanding(&self) -> u64 {
        self.high - self.low - self.used.len() as u64
    }

    /// Grants up to `requested` credits (at least one while the client holds none), within
    /// MAX_OUTSTANDING. Returns what was granted, for the response header.
    pub fn grant(&mut self, requested: u16, charge: u16) -> u16 {
        let want = u64::from(requested.max(charge).max(1));
        let room = MAX_OUTSTANDING.saturating_sub(self.outstanding());
        let mut n = want.min(room);
        if n == 0 && self.outstanding() == 0 {
            n = 1;
        }
        self.high += n;
        n as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_used_once_and_within_grants() {
        let mut w = SequenceWindow::default();
        assert!(w.consume(0, 1));
        assert!(!w.consume(0, 1));
        assert!(!w.consume(1, 1), "not granted yet");
        assert_eq!(w.grant(10, 1), 10);
        assert!(w.consume(5, 1));
        assert!(w.consume(1, 4));
        assert_eq!(w.outstanding(), 5);
        assert!(!w.consume(9, 3), "charge past the window");
        assert!(w.consume(6, 5));
        assert_eq!(w.outstanding(), 0);
        assert!(!w.consume(u64::MAX, 2));
    }

    #[test]
    fn grants_are_capped() {
        let mut w = SequenceWindow::default();
        assert_eq!(w.grant(u16::MAX, 1), (MAX_OUTSTANDING - 1) as u16);
        assert_eq!(w.grant(100, 1), 0);
    }
}
