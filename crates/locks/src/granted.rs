//! The granted byte-range locks of one file (MS-FSA 2.1.1.4 ByteRangeLockList), indexed
//! so that a conflict check (MS-FSA 2.1.4.10), a grant (2.1.5.8) and an unlock (2.1.5.9)
//! take O(log n) in the locks held (the unlock's exact-range lookup O(1)), plus the
//! number of the checking open's own exclusive locks that overlap the range.
//!
//! Three indexes:
//!
//! * by owner, then by exact range (hash maps), with how many exclusive and shared locks
//!   that owner holds there (locks stack, and an unlock names an exact range and owner);
//! * exclusive locks in an [`IntervalIndex`] keyed (offset, length, owner), one entry
//!   per owner and range it holds exclusively. Granted exclusive locks never overlap
//!   each other (an exclusive request conflicts with every lock it overlaps, its own
//!   open's included), so few of them overlap any range;
//! * shared locks in an [`IntervalIndex`] keyed (offset, length, owner), one entry per
//!   owner and range it holds shared locks on.
//!
//! A conflict check is then two walks from root to leaf in wide nodes (see
//! `interval_index`): "is there a shared lock over this range" and "is there an
//! exclusive lock of another open over it".
//!
//! {0, 0} locks overlap nothing (MS-FSA 2.1.4.10) and live in the owner index only.

use crate::hash::FastMap;
use crate::ids::OpenId;
use crate::interval_index::{IntervalIndex, span};
use crate::lock_records::{Access, GrantedLock};

/// How many locks one owner holds on one exact range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Held {
    exclusive: u32,
    shared: u32,
}

#[derive(Debug, Default)]
pub(crate) struct GrantedLocks {
    /// By owner, then by (offset, length).
    by_owner: FastMap<OpenId, FastMap<(u64, u64), Held>>,
    /// Owners and ranges with exclusive locks and a span, keyed (offset, length, owner).
    exclusive: IntervalIndex<()>,
    /// Owners and ranges with shared locks and a span, keyed (offset, length, owner).
    shared: IntervalIndex<()>,
    count: usize,
}

/// The locks of one range and owner, stacked locks repeated: exclusive ones first.
fn expand(owner: OpenId, offset: u64, length: u64, h: Held) -> impl Iterator<Item = GrantedLock> {
    let lock = move |exclusive| GrantedLock { owner, offset, length, exclusive };
    std::iter::repeat_n(lock(true), h.exclusive as usize).chain(std::iter::repeat_n(lock(false), h.shared as usize))
}

impl GrantedLocks {
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Every lock, by owner and range (stacked locks repeated). Sorts: for status
    /// reports and checks, not for the request paths.
    pub(crate) fn iter(&self) -> impl Iterator<Item = GrantedLock> + '_ {
        let mut all: Vec<(OpenId, u64, u64, Held)> =
            self.by_owner.iter().flat_map(|(&o, m)| m.iter().map(move |(&(off, len), &h)| (o, off, len, h))).collect();
        all.sort_unstable_by_key(|&(o, off, len, _)| (o, off, len));
        all.into_iter().flat_map(|(o, off, len, h)| expand(o, off, len, h))
    }

    /// The locks of one owner, by range (stacked locks repeated).
    pub(crate) fn of_owner(&self, owner: OpenId) -> impl Iterator<Item = GrantedLock> + use<> {
        let mut mine: Vec<((u64, u64), Held)> =
            self.by_owner.get(&owner).map(|m| m.iter().map(|(&r, &h)| (r, h)).collect()).unwrap_or_default();
        mine.sort_unstable_by_key(|&(r, _)| r);
        mine.into_iter().flat_map(move |((off, len), h)| expand(owner, off, len, h))
    }

    /// The locks of one owner that overlap the span [first, last] (stacked shared locks
    /// once): its exclusive locks, then its shared ones, each in range order. O(log n)
    /// plus the locks of any owner overlapping.
    pub(crate) fn of_owner_overlapping(&self, owner: OpenId, first: u64, last: u64) -> Vec<GrantedLock> {
        let mut out: Vec<GrantedLock> = Vec::new();
        self.exclusive.for_each_overlap(first, last, |&(offset, length, o), _| {
            if o == owner.0 {
                out.push(GrantedLock { owner, offset, length, exclusive: true });
            }
        });
        self.shared.for_each_overlap(first, last, |&(offset, length, o), _| {
            if o == owner.0 {
                out.push(GrantedLock { owner, offset, length, exclusive: false });
            }
        });
        out
    }

    /// The other opens whose locks overlap the span [first, last] in a way that
    /// refuses `exclusive` intent: their exclusive locks, and their shared ones too
    /// when `exclusive`. Each open once, in id order. O(log n) plus the locks found.
    pub(crate) fn blockers(&self, open: OpenId, first: u64, last: u64, exclusive: bool) -> Vec<OpenId> {
        let mut out = Vec::new();
        let mut add = |&(_, _, o): &(u64, u64, u64), _: &()| {
            if o != open.0 {
                out.push(OpenId(o));
            }
        };
        self.exclusive.for_each_overlap(first, last, &mut add);
        if exclusive {
            self.shared.for_each_overlap(first, last, &mut add);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// MS-FSA 2.1.4.10 against every granted lock: an exclusive lock conflicts with any
    /// access of another open and with an exclusive *lock* request of its own open; a
    /// shared lock conflicts with exclusive intent (a write or an exclusive lock) of any
    /// open, its owner included. The range must be valid (below 2^64).
    pub(crate) fn conflicts(&self, a: &Access, lock_intent: bool) -> bool {
        let Some((first, last)) = span(a.offset, a.length) else { return false };
        let own_blocks = lock_intent && a.exclusive;
        if self.exclusive.find_overlap(first, last, |&(_, _, owner), _| owner != a.open.0 || own_blocks) {
            return true;
        }
        a.exclusive && self.shared.any_overlap(first, last)
    }

    /// Records a granted lock (the caller checked [`GrantedLocks::conflicts`]).
    pub(crate) fn insert(&mut self, owner: OpenId, offset: u64, length: u64, exclusive: bool) {
        let h = self.by_owner.entry(owner).or_default().entry((offset, length)).or_default();
        let n = if exclusive { &mut h.exclusive } else { &mut h.shared };
        *n += 1;
        // Zero-length exclusive locks overlap nothing, so they can stack like shared
        // ones: the indexes hold each (range, owner) once.
        let first_of_kind = *n == 1;
        self.count += 1;
        let Some((first, last)) = span(offset, length) else { return };
        if !first_of_kind {
            return;
        }
        let key = (offset, length, owner.0);
        if exclusive {
            debug_assert!(!self.exclusive.any_overlap(first, last), "exclusive locks overlap");
            self.exclusive.insert(key, ());
        } else {
            self.shared.insert(key, ());
        }
    }

    /// Removes one lock of this owner and exact range: the exclusive one if `exclusive`,
    /// else a shared one. Returns whether there was one.
    pub(crate) fn remove(&mut self, owner: OpenId, offset: u64, length: u64, exclusive: bool) -> bool {
        let Some(mine) = self.by_owner.get_mut(&owner) else { return false };
        let Some(h) = mine.get_mut(&(offset, length)) else { return false };
        let n = if exclusive { &mut h.exclusive } else { &mut h.shared };
        if *n == 0 {
            return false;
        }
        *n -= 1;
        let last_of_kind = *n == 0;
        if *h == Held::default() {
            // The owner's (now perhaps empty) map stays until it closes
            // ([`GrantedLocks::remove_owner`]): an open that locks and unlocks in turn
            // does not allocate and grow a map for every lock.
            mine.remove(&(offset, length));
        }
        self.count -= 1;
        if last_of_kind && span(offset, length).is_some() {
            let index = if exclusive { &mut self.exclusive } else { &mut self.shared };
            index.remove(&(offset, length, owner.0));
        }
        true
    }

    /// MS-FSA 2.1.5.9: removes this owner's lock of exactly this range, the exclusive
    /// one first. Returns whether there was one.
    pub(crate) fn unlock(&mut self, owner: OpenId, offset: u64, length: u64) -> bool {
        self.remove(owner, offset, length, true) || self.remove(owner, offset, length, false)
    }

    /// Removes every lock of `owner`; returns the ranges released (one per distinct range).
    pub(crate) fn remove_owner(&mut self, owner: OpenId) -> Vec<(u64, u64)> {
        let Some(mine) = self.by_owner.remove(&owner) else { return Vec::new() };
        let mut released = Vec::with_capacity(mine.len());
        for ((offset, length), h) in mine {
            self.count -= (h.exclusive + h.shared) as usize;
            released.push((offset, length));
            if span(offset, length).is_none() {
                continue;
            }
            let key = (offset, length, owner.0);
            if h.exclusive > 0 {
                self.exclusive.remove(&key);
            }
            if h.shared > 0 {
                self.shared.remove(&key);
            }
        }
        // Hash order is per process: report in range order, as a replay expects.
        released.sort_unstable();
        released
    }
}
