//! Back-off after failed logons: password guessing gets slower the more it fails.
//!
//! Failures are counted per client address and per user name (the name as sent, case
//! folded; unknown names count like known ones, so the back-off reveals nothing about
//! which names exist). The first [`FREE_FAILURES`] cost nothing; after that every logon
//! attempt under that address or name, whatever its outcome, has its answer held back by
//! a delay that doubles with each further failure, from [`BASE_DELAY`] up to
//! [`MAX_DELAY`]. Attempts under one key are answered one after the other, so opening
//! more connections does not buy more guesses; when the queue of one key is already
//! [`MAX_QUEUE`] long, an attempt is refused at once, whatever its password check said
//! (STATUS_ACCOUNT_LOCKED_OUT). The delay is served by the connection's task awaiting a
//! tokio timer before it answers: no worker thread ever blocks. A key [`FORGET_AFTER`]
//! without failure is forgotten.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures that cost nothing (typing mistakes).
pub const FREE_FAILURES: u32 = 5;
/// The delay after the first failure beyond the free ones.
pub const BASE_DELAY: Duration = Duration::from_millis(250);
/// The longest delay one attempt gets.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// The longest an attempt may wait behind others of the same key before it is refused.
pub const MAX_QUEUE: Duration = Duration::from_secs(60);
/// A key this long without a failure starts afresh.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Keys tracked at most (memory bound); when full, new keys are not tracked.
pub const MAX_KEYS: usize = 65_536;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Addr(IpAddr),
    User(String),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    /// When the last admitted attempt of this key is answered.
    busy_until: Instant,
}

/// What a logon attempt must do before its answer goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Check it, and answer after this long.
    After(Duration),
    /// Refuse it at once, unchecked: too many attempts are already waiting.
    Refuse,
}

/// The failed-logon counters of the whole server.
#[derive(Default)]
pub struct LogonThrottle {
    keys: Mutex<HashMap<Key, Entry>>,
}

/// The delay an attempt gets under a key with `failures` failures.
pub fn penalty(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(16);
    BASE_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

fn keys_of(addr: IpAddr, user: &str) -> Vec<Key> {
    let mut keys = vec![Key::Addr(addr)];
    if !user.is_empty() {
        keys.push(Key::User(user.to_lowercase()));
    }
    keys
}

impl LogonThrottle {
    /// Admits a logon attempt from `addr` for `user` ("" for anonymous) at `now`: how long
    /// its answer waits, or that it is refused. Reserves its place in each key's queue.
    pub fn admit(&self, addr: IpAddr, user: &str, now: Instant) -> Admission {
        let Ok(mut map) = self.keys.lock() else { return Admission::Refuse };
        let keys = keys_of(addr, user);
        let mut answer_at = now;
        for k in &keys {
            if let Some(e) = map.get(k).filter(|e| !expired(e, now)) {
                answer_at = answer_at.max(e.busy_until.max(now) + penalty(e.failures));
            }
        }
        if answer_at.duration_since(now) > MAX_QUEUE {
            return Admission::Refuse;
        }
        for k in &keys {
            if let Some(e) = map.get_mut(k) {
                e.busy_until = e.busy_until.max(answer_at);
            }
        }
        Admission::After(answer_at.duration_since(now))
    }

    /// Counts a failed attempt against `addr` and `user`; returns the larger failure count.
    pub fn record_failure(&self, addr: IpAddr, user: &str, now: Instant) -> u32 {
        let Ok(mut map) = self.keys.lock() else { return 0 };
        if map.len() >= MAX_KEYS {
            map.retain(|_, e| !expired(e, now));
        }
        let mut most = 0;
        for k in keys_of(addr, user) {
            let full = map.len() >= MAX_KEYS;
            let e = match map.get_mut(&k) {
                Some(e) => e,
                None if full => continue,
                None => map.entry(k).or_insert(Entry { failures: 0, last_failure: now, busy_until: now }),
            };
            if expired(e, now) {
                *e = Entry { failures: 0, last_failure: now, busy_until: now };
            }
            e.failures = e.failures.saturating_add(1);
            e.last_failure = now;
            most = most.max(e.failures);
        }
        most
    }
}

fn expired(e: &Entry, now: Instant) -> bool {
    now.saturating_duration_since(e.last_failure) > FORGET_AFTER && e.busy_until <= now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn penalty_doubles_after_the_free_failures_and_is_capped() {
        assert_eq!(penalty(0), Duration::ZERO);
        assert_eq!(penalty(FREE_FAILURES - 1), Duration::ZERO);
        assert_eq!(penalty(FREE_FAILURES), BASE_DELAY);
        assert_eq!(penalty(FREE_FAILURES + 2), BASE_DELAY * 4);
        assert_eq!(penalty(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn attempts_wait_once_failures_pile_up() {
        let t = LogonThrottle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.admit(addr(3), "alice", now), Admission::After(Duration::ZERO));
            t.record_failure(addr(3), "alice", now);
        }
        assert_eq!(t.admit(addr(3), "alice", now), Admission::After(BASE_DELAY));
        // Another address guessing the same name queues behind it.
        assert_eq!(t.admit(addr(4), "ALICE", now), Admission::After(BASE_DELAY * 2));
        // Another name from another address is not affected.
        assert_eq!(t.admit(addr(5), "bob", now), Admission::After(Duration::ZERO));
    }

    #[test]
    fn a_long_queue_is_refused_and_old_failures_are_forgotten() {
        let t = LogonThrottle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES + 8 {
            t.record_failure(addr(3), "", now);
        }
        let mut refused = false;
        for _ in 0..10 {
            refused |= t.admit(addr(3), "", now) == Admission::Refuse;
        }
        assert!(refused);
        let later = now + MAX_QUEUE * 2 + FORGET_AFTER;
        assert_eq!(t.admit(addr(3), "", later), Admission::After(Duration::ZERO));
        assert_eq!(t.record_failure(addr(3), "", later), 1);
    }
}
