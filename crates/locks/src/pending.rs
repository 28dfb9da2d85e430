//! Blocking lock requests of one file waiting for a conflicting lock to go away
//! (MS-SMB2 3.3.5.14.2: "the server MUST wait until the lock can be acquired"), in
//! arrival order, indexed by range so that a release looks only at the waiters it can
//! concern.
//!
//! A waiter conflicts only with locks that overlap its range (MS-FSA 2.1.4.10), and
//! locks only appear while it waits, except for releases. So after releases, only the
//! waiters overlapping a released range can have become grantable, plus the waiters
//! added since the last retry (added by a caller who did not try them first); every
//! other waiter is still blocked by the locks that blocked it. Retrying just those,
//! oldest first, grants exactly what retrying every waiter in arrival order would.

use crate::lock_records::PendingLock;
use crate::ids::{OpenId, RequestId};
use crate::interval_index::{IntervalIndex, span};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default)]
pub(crate) struct PendingLocks {
    /// By arrival number.
    queue: BTreeMap<u64, PendingLock>,
    by_request: BTreeSet<(RequestId, u64)>,
    by_owner: BTreeSet<(OpenId, u64)>,
    /// Waiters with a span, keyed (offset, length, arrival number).
    by_range: IntervalIndex<()>,
    /// Waiters added since the last [`PendingLocks::candidates`].
    fresh: BTreeSet<u64>,
    next: u64,
}

impl PendingLocks {
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn push(&mut self, p: PendingLock) {
        let n = self.next;
        self.next += 1;
        self.queue.insert(n, p);
        self.by_request.insert((p.request, n));
        self.by_owner.insert((p.owner, n));
        if span(p.element.offset, p.element.length).is_some() {
            self.by_range.insert((p.element.offset, p.element.length, n), ());
        }
        self.fresh.insert(n);
    }

    pub(crate) fn get(&self, n: u64) -> Option<&PendingLock> {
        self.queue.get(&n)
    }

    /// Removes the waiter with this arrival number.
    pub(crate) fn remove(&mut self, n: u64) -> Option<PendingLock> {
        let p = self.queue.remove(&n)?;
        self.by_request.remove(&(p.request, n));
        self.by_owner.remove(&(p.owner, n));
        self.fresh.remove(&n);
        if span(p.element.offset, p.element.length).is_some() {
            self.by_range.remove(&(p.element.offset, p.element.length, n));
        }
        Some(p)
    }

    /// Removes the oldest waiter of this request (cancel).
    pub(crate) fn remove_request(&mut self, request: RequestId) -> Option<PendingLock> {
        let &(_, n) = self.by_request.range((request, 0)..=(request, u64::MAX)).next()?;
        self.remove(n)
    }

    /// The waiters of one open, oldest first.
    pub(crate) fn of_owner(&self, owner: OpenId) -> impl Iterator<Item = &PendingLock> {
        self.by_owner.range((owner, 0)..=(owner, u64::MAX)).map(|(_, n)| &self.queue[n])
    }

    /// Removes every waiter of one open; returns their requests, oldest first.
    pub(crate) fn remove_owner(&mut self, owner: OpenId) -> Vec<RequestId> {
        let mine: Vec<u64> = self.by_owner.range((owner, 0)..=(owner, u64::MAX)).map(|&(_, n)| n).collect();
        mine.into_iter().filter_map(|n| self.remove(n)).map(|p| p.request).collect()
    }

    /// The arrival numbers, oldest first, of the waiters that may have become grantable
    /// after these ranges were released (see the module documentation).
    pub(crate) fn candidates(&mut self, released: &[(u64, u64)]) -> BTreeSet<u64> {
        let mut out = std::mem::take(&mut self.fresh);
        for &(offset, length) in released {
            if let Some((first, last)) = span(offset, length) {
                self.by_range.for_each_overlap(first, last, |k, ()| {
                    out.insert(k.2);
                });
            }
        }
        out
    }
}
