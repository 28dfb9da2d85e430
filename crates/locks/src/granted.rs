//! The granted byte-range locks of one file (MS-FSA 2.1.1.4 ByteRangeLockList), indexed
//! so that a conflict check (MS-FSA 2.1.4.10), a grant (2.1.5.8) and an unlock (2.1.5.9)
//! take O(log n) in the locks held (the unlock's exact-range lookup O(1)), plus the
//! number of the checking open's own exclusive locks that overlap the range.
//!
//! Two indexes:
//!
//! * by owner, then by exact range (hash maps), with how many exclusive and shared locks
//!   that owner holds there (locks stack, and an unlock names an exact range and owner);
//! * every (range, owner) holding locks in one [`IntervalIndex`] keyed (offset, length,
//!   owner), with which kinds it holds, marked when one is exclusive. Granted exclusive
//!   locks never overlap each other (an exclusive request conflicts with every lock it
//!   overlaps, its own open's included), so few of them overlap any range.
//!
//! A conflict check is then one walk from root to leaf in wide nodes (see
//! `interval_index`): for a write or an exclusive lock, over every entry ("is there a
//! lock over this range other than my own exclusive ones"); for a read or a shared
//! lock, over the marked ones ("is there another open's exclusive lock over it").
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
    /// Owners and ranges with locks and a span, keyed (offset, length, owner): the
    /// kinds held there ([`EXCLUSIVE`], [`SHARED`]), marked when exclusive.
    index: IntervalIndex<u8>,
    count: usize,
}

/// Kinds of lock an owner holds on a range, in the index.
const EXCLUSIVE: u8 = 1;
const SHARED: u8 = 2;

fn kinds(h: &Held) -> u8 {
    (if h.exclusive > 0 { EXCLUSIVE } else { 0 }) | (if h.shared > 0 { SHARED } else { 0 })
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

    /// How many distinct ranges `owner` holds locks on (stacked locks once). O(1).
    pub(crate) fn ranges_of(&self, owner: OpenId) -> usize {
        self.by_owner.get(&owner).map_or(0, |m| m.len())
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
        let mut shared = Vec::new();
        self.index.for_each_overlap(first, last, |&(offset, length, o), &k| {
            if o == owner.0 {
                if k & EXCLUSIVE != 0 {
                    out.push(GrantedLock { owner, offset, length, exclusive: true });
                }
                if k & SHARED != 0 {
                    shared.push(GrantedLock { owner, offset, length, exclusive: false });
                }
            }
        });
        out.extend(shared);
        out
    }

    /// The other opens whose locks overlap the span [first, last] in a way that
    /// refuses `exclusive` intent: their exclusive locks, and their shared ones too
    /// when `exclusive`. Each open once, in id order. O(log n) plus the locks found.
    pub(crate) fn blockers(&self, open: OpenId, first: u64, last: u64, exclusive: bool) -> Vec<OpenId> {
        let mut out = Vec::new();
        let mut add = |&(_, _, o): &(u64, u64, u64), &k: &u8| {
            if o != open.0 && (exclusive || k & EXCLUSIVE != 0) {
                out.push(OpenId(o));
            }
            false
        };
        if exclusive {
            self.index.find_overlap(first, last, &mut add);
        } else {
            self.index.find_marked_overlap(first, last, &mut add);
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
        let me = a.open.0;
        match (a.exclusive, lock_intent) {
            // An exclusive lock request: any lock over the range refuses it.
            (true, true) => self.index.any_overlap(first, last),
            // A write: any shared lock, and other opens' exclusive ones.
            (true, false) => self.index.find_overlap(first, last, |&(_, _, o), &k| k & SHARED != 0 || o != me),
            // A read or a shared lock request: other opens' exclusive locks (the walk
            // sees only entries with exclusive locks).
            (false, _) => self.index.find_marked_overlap(first, last, |&(_, _, o), &k| k & EXCLUSIVE != 0 && o != me),
        }
    }

    /// Brings the index entry of (owner, range) in step with what the owner holds
    /// there now, `before` being the kinds it held before the change.
    fn reindex(&mut self, owner: OpenId, offset: u64, length: u64, before: u8, now: u8) {
        if before == now || span(offset, length).is_none() {
            return;
        }
        let key = (offset, length, owner.0);
        if before != 0 {
            self.index.remove(&key);
        }
        if now != 0 {
            self.index.insert_marked(key, now, now & EXCLUSIVE != 0);
        }
    }

    /// Records a granted lock (the caller checked [`GrantedLocks::conflicts`]).
    pub(crate) fn insert(&mut self, owner: OpenId, offset: u64, length: u64, exclusive: bool) {
        let h = self.by_owner.entry(owner).or_default().entry((offset, length)).or_default();
        // Zero-length exclusive locks overlap nothing, so they can stack like shared
        // ones: the index holds each (range, owner) once.
        let before = kinds(h);
        if exclusive {
            h.exclusive += 1;
        } else {
            h.shared += 1;
        }
        let now = kinds(h);
        self.count += 1;
        self.reindex(owner, offset, length, before, now);
    }

    /// Removes one lock of this owner and exact range: the exclusive one if `exclusive`,
    /// else a shared one. Returns whether there was one.
    pub(crate) fn remove(&mut self, owner: OpenId, offset: u64, length: u64, exclusive: bool) -> bool {
        let Some(mine) = self.by_owner.get_mut(&owner) else { return false };
        let Some(h) = mine.get_mut(&(offset, length)) else { return false };
        let before = kinds(h);
        let n = if exclusive { &mut h.exclusive } else { &mut h.shared };
        if *n == 0 {
            return false;
        }
        *n -= 1;
        let now = kinds(h);
        if *h == Held::default() {
            // The owner's (now perhaps empty) map stays until it closes
            // ([`GrantedLocks::remove_owner`]): an open that locks and unlocks in turn
            // does not allocate and grow a map for every lock.
            mine.remove(&(offset, length));
        }
        self.count -= 1;
        self.reindex(owner, offset, length, before, now);
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
            self.index.remove(&(offset, length, owner.0));
        }
        // Hash order is per process: report in range order, as a replay expects.
        released.sort_unstable();
        released
    }
}
