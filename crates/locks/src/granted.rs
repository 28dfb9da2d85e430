//! The granted byte-range locks of one file (MS-FSA 2.1.1.4 ByteRangeLockList), indexed
//! so that a conflict check (MS-FSA 2.1.4.10), a grant (2.1.5.8) and an unlock (2.1.5.9)
//! take O(log n) in the locks held, plus the number of the checking open's own
//! exclusive locks that overlap the range.
//!
//! Three indexes:
//!
//! * by owner and exact range, with how many exclusive and shared locks that owner
//!   holds there (locks stack, and an unlock names an exact range and owner);
//! * exclusive locks in an [`IntervalIndex`] keyed by range and owner. Granted
//!   exclusive locks never overlap each other (an exclusive request conflicts with every
//!   lock it overlaps, its own open's included), so few of them overlap any range;
//! * shared locks in an [`IntervalIndex`], with how many locks (of any owner) share each
//!   exact range.
//!
//! A conflict check is then two walks from root to leaf in wide nodes (see
//! `interval_index`): "is there a shared lock over this range" and "is there an
//! exclusive lock of another open over it".
//!
//! {0, 0} locks overlap nothing (MS-FSA 2.1.4.10) and live in the owner index only.

use crate::lock_records::{Access, GrantedLock};
use crate::ids::OpenId;
use crate::interval_index::{IntervalIndex, span};
use std::collections::BTreeMap;

/// How many locks one owner holds on one exact range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Held {
    exclusive: u32,
    shared: u32,
}

#[derive(Debug, Default)]
pub(crate) struct GrantedLocks {
    by_owner: BTreeMap<(OpenId, u64, u64), Held>,
    /// Exclusive locks with a span, keyed (offset, length, owner).
    exclusive: IntervalIndex<()>,
    /// Shared locks with a span, keyed (offset, length, 0): how many.
    shared: IntervalIndex<u32>,
    count: usize,
}

impl GrantedLocks {
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Every lock, by owner and range (stacked locks repeated).
    pub(crate) fn iter(&self) -> impl Iterator<Item = GrantedLock> + '_ {
        self.by_owner.iter().flat_map(|(&(owner, offset, length), h)| {
            let lock = move |exclusive| GrantedLock { owner, offset, length, exclusive };
            std::iter::repeat_n(lock(true), h.exclusive as usize).chain(std::iter::repeat_n(lock(false), h.shared as usize))
        })
    }

    /// The locks of one owner, by range (stacked locks repeated).
    pub(crate) fn of_owner(&self, owner: OpenId) -> impl Iterator<Item = GrantedLock> + '_ {
        self.by_owner.range((owner, 0, 0)..=(owner, u64::MAX, u64::MAX)).flat_map(move |(&(_, offset, length), h)| {
            let lock = move |exclusive| GrantedLock { owner, offset, length, exclusive };
            std::iter::repeat_n(lock(true), h.exclusive as usize).chain(std::iter::repeat_n(lock(false), h.shared as usize))
        })
    }

    /// The locks of one owner that overlap the span [first, last] (stacked shared locks
    /// once): its exclusive locks from the exclusive index, its shared ones among the
    /// shared ranges overlapping. O(log n) plus the locks of any owner overlapping.
    pub(crate) fn of_owner_overlapping(&self, owner: OpenId, first: u64, last: u64) -> Vec<GrantedLock> {
        let mut out: Vec<GrantedLock> = Vec::new();
        self.exclusive.for_each_overlap(first, last, |&(offset, length, o), _| {
            if o == owner.0 {
                out.push(GrantedLock { owner, offset, length, exclusive: true });
            }
        });
        self.shared.for_each_overlap(first, last, |&(offset, length, _), _| {
            if self.by_owner.get(&(owner, offset, length)).is_some_and(|h| h.shared > 0) {
                out.push(GrantedLock { owner, offset, length, exclusive: false });
            }
        });
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
        let h = self.by_owner.entry((owner, offset, length)).or_default();
        if exclusive {
            h.exclusive += 1;
        } else {
            h.shared += 1;
        }
        // Zero-length exclusive locks overlap nothing, so they can stack: the index
        // holds each (range, owner) once.
        let first_exclusive = exclusive && h.exclusive == 1;
        self.count += 1;
        let Some((first, last)) = span(offset, length) else { return };
        if exclusive {
            if first_exclusive {
                debug_assert!(!self.exclusive.any_overlap(first, last), "exclusive locks overlap");
                self.exclusive.insert((offset, length, owner.0), ());
            }
        } else if let Some(n) = self.shared.get_mut(&(offset, length, 0)) {
            *n += 1;
        } else {
            self.shared.insert((offset, length, 0), 1);
        }
    }

    /// Removes one lock of this owner and exact range: the exclusive one if `exclusive`,
    /// else a shared one. Returns whether there was one.
    pub(crate) fn remove(&mut self, owner: OpenId, offset: u64, length: u64, exclusive: bool) -> bool {
        let Some(h) = self.by_owner.get_mut(&(owner, offset, length)) else { return false };
        let n = if exclusive { &mut h.exclusive } else { &mut h.shared };
        if *n == 0 {
            return false;
        }
        *n -= 1;
        let last_exclusive = exclusive && *n == 0;
        if *h == Held::default() {
            self.by_owner.remove(&(owner, offset, length));
        }
        self.count -= 1;
        if span(offset, length).is_some() {
            self.unindex(owner, offset, length, exclusive, last_exclusive);
        }
        true
    }

    fn unindex(&mut self, owner: OpenId, offset: u64, length: u64, exclusive: bool, last_exclusive: bool) {
        if exclusive {
            if last_exclusive {
                self.exclusive.remove(&(offset, length, owner.0));
            }
            return;
        }
        let key = (offset, length, 0);
        let n = self.shared.get_mut(&key).expect("indexed shared lock");
        *n -= 1;
        if *n == 0 {
            self.shared.remove(&key);
        }
    }

    /// MS-FSA 2.1.5.9: removes this owner's lock of exactly this range, the exclusive
    /// one first. Returns whether there was one.
    pub(crate) fn unlock(&mut self, owner: OpenId, offset: u64, length: u64) -> bool {
        self.remove(owner, offset, length, true) || self.remove(owner, offset, length, false)
    }

    /// Removes every lock of `owner`; returns the ranges released (one per distinct range).
    pub(crate) fn remove_owner(&mut self, owner: OpenId) -> Vec<(u64, u64)> {
        let held: Vec<((OpenId, u64, u64), Held)> =
            self.by_owner.range((owner, 0, 0)..=(owner, u64::MAX, u64::MAX)).map(|(k, h)| (*k, *h)).collect();
        let mut released = Vec::with_capacity(held.len());
        for ((_, offset, length), h) in held {
            self.by_owner.remove(&(owner, offset, length));
            self.count -= (h.exclusive + h.shared) as usize;
            released.push((offset, length));
            if span(offset, length).is_none() {
                continue;
            }
            if h.exclusive > 0 {
                self.exclusive.remove(&(offset, length, owner.0));
            }
            if h.shared > 0 {
                let key = (offset, length, 0);
                let n = self.shared.get_mut(&key).expect("indexed shared lock");
                *n -= h.shared;
                if *n == 0 {
                    self.shared.remove(&key);
                }
            }
        }
        released
    }
}
