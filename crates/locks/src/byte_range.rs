//! Byte-range locks of one file: MS-SMB2 3.3.5.14 (LOCK request), MS-FSA 2.1.5.8
//! (lock), 2.1.5.9 (unlock) and 2.1.4.10 (range conflicts).
//!
//! Behaviour pinned down by smbtorture smb2.lock: a shared lock stacks on the same
//! open's exclusive lock, an exclusive lock never stacks, an unlock removes an
//! exclusive lock before a shared one of the same range, failed lock requests always
//! answer STATUS_LOCK_NOT_GRANTED (SMB2 has no FILE_LOCK_CONFLICT retry quirk for
//! locks; that status is only for reads and writes), and zero-length locks follow the
//! 2.1.4.10 arithmetic exactly.

use crate::granted::GrantedLocks;
use crate::ids::{OpenId, RequestId};
pub use crate::lock_records::{Access, GrantedLock, LockElement, LockKind, PendingLock, flags, overlaps, range_is_valid};
use crate::pending::PendingLocks;
use opportune_types::NtStatus;

/// The lock state of one file: granted locks (module `granted`) and blocking
/// requests waiting for them (module `pending`). Locking, unlocking and checking an
/// access cost O(log n) in the locks held on the file (plus the checking open's own
/// exclusive locks over the range); a retry after a release looks only at the waiters
/// overlapping the released ranges.
///
/// A file without locks or waiters (most files) costs one pointer: the indexes are
/// allocated with the first lock or waiter and dropped with the last.
#[derive(Debug, Default)]
pub struct ByteRangeLocks {
    state: Option<Box<State>>,
}

impl ByteRangeLocks {
    fn state(&mut self) -> &mut State {
        self.state.get_or_insert_with(Box::default)
    }

    /// Drops the indexes once nothing is locked or waiting.
    fn tidy(&mut self) {
        if self.state.as_ref().is_some_and(|s| s.is_empty()) {
            self.state = None;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.state.as_ref().is_none_or(|s| s.is_empty())
    }

    /// The granted locks, by owner and range (not in grant order).
    pub fn locks(&self) -> impl Iterator<Item = GrantedLock> + '_ {
        self.state.iter().flat_map(|s| s.locks())
    }

    pub fn lock_count(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.lock_count())
    }

    /// How many distinct ranges `open` holds locks on (stacked locks once). O(1).
    pub fn ranges_of(&self, open: OpenId) -> usize {
        self.state.as_ref().map_or(0, |s| s.granted.ranges_of(open))
    }

    pub fn pending_count(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.pending_count())
    }

    pub fn has_locks(&self) -> bool {
        self.lock_count() > 0
    }

    /// MS-SMB2 3.3.5.12/3.3.5.13 via MS-FSA 2.1.4.10 with LockIntent FALSE: may this
    /// open read (`write == false`) or write this range? A zero-length transfer never
    /// conflicts (smbtorture smb2.lock.zerobyteread).
    pub fn check_io(&self, open: OpenId, offset: u64, length: u64, write: bool) -> Result<(), NtStatus> {
        self.state.as_ref().map_or(Ok(()), |s| s.check_io(open, offset, length, write))
    }

    /// Tries to grant one lock element now (MS-FSA 2.1.5.8). Returns whether it was
    /// granted. A range past 2^64-1 (STATUS_INVALID_LOCK_RANGE, refused before it gets
    /// here) is never granted.
    pub fn try_lock(&mut self, open: OpenId, e: &LockElement) -> bool {
        let granted = self.state().try_lock(open, e);
        self.tidy();
        granted
    }

    /// MS-FSA 2.1.5.9: removes the lock of exactly this range held by this open,
    /// preferring an exclusive one; otherwise STATUS_RANGE_NOT_LOCKED.
    pub fn unlock(&mut self, open: OpenId, offset: u64, length: u64) -> NtStatus {
        let Some(s) = self.state.as_mut() else { return NtStatus::RANGE_NOT_LOCKED };
        let status = s.unlock(open, offset, length);
        self.tidy();
        status
    }

    /// The granted locks of one open, by range (stacked locks repeated).
    pub fn locks_of(&self, open: OpenId) -> impl Iterator<Item = GrantedLock> + '_ {
        self.state.iter().flat_map(move |s| s.granted.of_owner(open))
    }

    /// The locks of one open that overlap `[offset, offset + length)` (a zero-length
    /// range: none), stacked shared locks once.
    pub fn locks_of_overlapping(&self, open: OpenId, offset: u64, length: u64) -> Vec<GrantedLock> {
        let span = crate::interval_index::span(offset, length).filter(|_| length > 0);
        match (self.state.as_ref(), span) {
            (Some(s), Some((first, last))) => s.granted.of_owner_overlapping(open, first, last),
            _ => Vec::new(),
        }
    }

    /// The other opens whose locks overlap `[offset, offset + length)` in a way that
    /// refuses it (an exclusive lock, or any lock when `exclusive`), each once, in id
    /// order. A range past 2^64-1 is taken to run to the end of the address space.
    pub fn blockers(&self, open: OpenId, offset: u64, length: u64, exclusive: bool) -> Vec<OpenId> {
        let length = if length > 0 && offset.checked_add(length - 1).is_none() { u64::MAX - offset + 1 } else { length };
        match (self.state.as_ref(), crate::interval_index::span(offset, length)) {
            (Some(s), Some((first, last))) => s.granted.blockers(open, first, last, exclusive),
            _ => Vec::new(),
        }
    }

    /// Takes back one lock of exactly this range and kind that `open` was granted (the
    /// server could not keep it); waiters it kept out are tried again by the next
    /// [`ByteRangeLocks::retry_pending`]. Returns whether there was one.
    pub fn revoke(&mut self, open: OpenId, offset: u64, length: u64, exclusive: bool) -> bool {
        let Some(s) = self.state.as_mut() else { return false };
        let removed = s.granted.remove(open, offset, length, exclusive);
        if removed && !s.pending.is_empty() {
            s.released.push((offset, length));
        }
        self.tidy();
        removed
    }

    /// MS-SMB2 3.3.5.14.2: all elements of a lock request or none. On the first element
    /// that cannot be granted, the ones granted by this request are unlocked again and
    /// the index of the failing element is returned.
    pub fn lock_all(&mut self, open: OpenId, elements: &[LockElement]) -> Result<(), usize> {
        let r = self.state().lock_all(open, elements);
        self.tidy();
        r
    }

    pub fn add_pending(&mut self, p: PendingLock) {
        self.state().add_pending(p);
    }

    /// Removes a pending lock (cancel); returns it if it was there.
    pub fn remove_pending(&mut self, request: RequestId) -> Option<PendingLock> {
        let p = self.state.as_mut()?.remove_pending(request);
        self.tidy();
        p
    }

    /// Drops every lock and pending lock of a closing open (MS-FSA 2.1.5.4 close:
    /// "remove all byte-range locks owned by Open"). Returns the pending requests that
    /// must now be answered (smbtorture smb2.lock.cancel: STATUS_RANGE_NOT_LOCKED).
    pub fn remove_open(&mut self, open: OpenId) -> Vec<RequestId> {
        let Some(s) = self.state.as_mut() else { return Vec::new() };
        let gone = s.remove_open(open);
        self.tidy();
        gone
    }

    /// After locks were released: grants, in arrival order, every pending lock that no
    /// longer conflicts. Returns the requests that completed. Only the waiters that
    /// overlap a range released since the last retry (or that arrived since) are tried.
    pub fn retry_pending(&mut self) -> Vec<PendingLock> {
        let Some(s) = self.state.as_mut() else { return Vec::new() };
        let granted = s.retry_pending();
        self.tidy();
        granted
    }

    /// The pending locks of one open, oldest first.
    pub fn pending_of(&self, open: OpenId) -> impl Iterator<Item = &PendingLock> {
        self.state.iter().flat_map(move |s| s.pending_of(open))
    }
}

/// The indexes behind [`ByteRangeLocks`].
#[derive(Debug, Default)]
struct State {
    granted: GrantedLocks,
    pending: PendingLocks,
    /// Ranges released since the last retry of the waiters, recorded only
    /// while requests wait.
    released: Vec<(u64, u64)>,
}

impl State {
    fn is_empty(&self) -> bool {
        self.granted.len() == 0 && self.pending.is_empty()
    }

    /// The granted locks, by owner and range (not in grant order).
    fn locks(&self) -> impl Iterator<Item = GrantedLock> + '_ {
        self.granted.iter()
    }

    fn lock_count(&self) -> usize {
        self.granted.len()
    }

    fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// MS-SMB2 3.3.5.12/3.3.5.13 via MS-FSA 2.1.4.10 with LockIntent FALSE: may this
    /// open read (`write == false`) or write this range? A zero-length transfer never
    /// conflicts (smbtorture smb2.lock.zerobyteread).
    fn check_io(&self, open: OpenId, offset: u64, length: u64, write: bool) -> Result<(), NtStatus> {
        if length == 0 {
            return Ok(());
        }
        // A transfer past 2^64-1 is refused by the server before it gets here; should one
        // arrive, it is taken to run to the end of the address space rather than wrap.
        let length = if offset.checked_add(length - 1).is_none() { u64::MAX - offset + 1 } else { length };
        let a = Access { open, offset, length, exclusive: write };
        if self.granted.conflicts(&a, false) { Err(NtStatus::FILE_LOCK_CONFLICT) } else { Ok(()) }
    }

    /// Tries to grant one lock element now (MS-FSA 2.1.5.8). Returns whether it was
    /// granted. A range past 2^64-1 (STATUS_INVALID_LOCK_RANGE, refused before it gets
    /// here) is never granted.
    fn try_lock(&mut self, open: OpenId, e: &LockElement) -> bool {
        if !range_is_valid(e.offset, e.length) {
            return false;
        }
        let exclusive = e.kind == LockKind::Exclusive;
        let a = Access { open, offset: e.offset, length: e.length, exclusive };
        if self.granted.conflicts(&a, true) {
            return false;
        }
        self.granted.insert(open, e.offset, e.length, exclusive);
        true
    }

    /// MS-FSA 2.1.5.9: removes the lock of exactly this range held by this open,
    /// preferring an exclusive one; otherwise STATUS_RANGE_NOT_LOCKED.
    fn unlock(&mut self, open: OpenId, offset: u64, length: u64) -> NtStatus {
        if !self.granted.unlock(open, offset, length) {
            return NtStatus::RANGE_NOT_LOCKED;
        }
        if !self.pending.is_empty() {
            self.released.push((offset, length));
        }
        NtStatus::SUCCESS
    }

    /// MS-SMB2 3.3.5.14.2: all elements of a lock request or none. On the first element
    /// that cannot be granted, the ones granted by this request are unlocked again and
    /// the index of the failing element is returned.
    fn lock_all(&mut self, open: OpenId, elements: &[LockElement]) -> Result<(), usize> {
        for (i, e) in elements.iter().enumerate() {
            if !self.try_lock(open, e) {
                for done in elements[..i].iter().rev() {
                    // The state is as before the request: no waiter can gain.
                    self.granted.remove(open, done.offset, done.length, done.kind == LockKind::Exclusive);
                }
                return Err(i);
            }
        }
        Ok(())
    }

    fn add_pending(&mut self, p: PendingLock) {
        self.pending.push(p);
    }

    /// Removes a pending lock (cancel); returns it if it was there.
    fn remove_pending(&mut self, request: RequestId) -> Option<PendingLock> {
        self.pending.remove_request(request)
    }

    /// Drops every lock and pending lock of a closing open (MS-FSA 2.1.5.4 close:
    /// "remove all byte-range locks owned by Open"). Returns the pending requests that
    /// must now be answered (smbtorture smb2.lock.cancel: STATUS_RANGE_NOT_LOCKED).
    fn remove_open(&mut self, open: OpenId) -> Vec<RequestId> {
        let released = self.granted.remove_owner(open);
        let gone = self.pending.remove_owner(open);
        if !self.pending.is_empty() {
            self.released.extend(released);
        }
        gone
    }

    /// After locks were released: grants, in arrival order, every pending lock that no
    /// longer conflicts. Returns the requests that completed. Only the waiters that
    /// overlap a range released since the last retry (or that arrived since) are tried.
    fn retry_pending(&mut self) -> Vec<PendingLock> {
        let released = std::mem::take(&mut self.released);
        let mut granted = Vec::new();
        for n in self.pending.candidates(&released) {
            let p = *self.pending.get(n).expect("candidate waits");
            if self.try_lock(p.owner, &p.element) {
                self.pending.remove(n);
                granted.push(p);
            }
        }
        granted
    }

    fn pending_of(&self, open: OpenId) -> impl Iterator<Item = &PendingLock> {
        self.pending.of_owner(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const A: OpenId = OpenId(1);
    const B: OpenId = OpenId(2);

    fn ex(o: u64, l: u64) -> LockElement {
        LockElement::lock(o, l, true, true)
    }
    fn sh(o: u64, l: u64) -> LockElement {
        LockElement::lock(o, l, false, true)
    }

    /// smbtorture smb2.lock.zerobytelength: a zero-byte lock at 10, then a second lock.
    #[test]
    fn zero_byte_table() {
        type Range = (u64, u64);
        let table: &[(Range, Range, bool)] = &[
            ((10, 0), (10, 0), true),
            ((10, 0), (9, 1), true),
            ((10, 0), (10, 1), true),
            ((10, 0), (11, 1), true),
            ((10, 0), (9, 2), false),
            ((10, 0), (10, 2), true),
            ((10, 0), (9, 3), false),
            ((9, 1), (10, 0), true),
            ((10, 1), (10, 0), true),
            ((11, 1), (10, 0), true),
            ((9, 2), (10, 0), false),
            ((10, 2), (10, 0), true),
            ((9, 3), (10, 0), false),
            ((0, 0), (0, 0), true),
        ];
        for &((o1, l1), (o2, l2), ok) in table {
            for second in [A, B] {
                let mut f = ByteRangeLocks::default();
                assert!(f.try_lock(A, &ex(o1, l1)));
                assert_eq!(f.try_lock(second, &ex(o2, l2)), ok, "{o1}/{l1} then {o2}/{l2}");
            }
        }
    }

    /// `blockers` (two index walks) against a scan of every lock with the MS-FSA
    /// 2.1.4.10 overlap test, over random locks of four opens, stacked and zero-length
    /// ones included.
    #[test]
    fn blockers_match_scan() {
        let mut g = crate::test_rng::XorShift::new(0x5eed_1234_abcd_0001);
        let mut rnd = move |n: u64| g.below(n);
        let mut f = ByteRangeLocks::default();
        for _ in 0..3000 {
            let open = OpenId(1 + rnd(4));
            let (offset, length) = (rnd(400), [0, 1, 3, 20, 100][rnd(5) as usize]);
            match rnd(3) {
                0 => {
                    f.unlock(open, offset, length);
                }
                k => {
                    f.try_lock(open, &LockElement::lock(offset, length, k == 1, true));
                }
            }
            let (q, ql, qx) = (OpenId(1 + rnd(4)), [0, 1, 7, 50][rnd(4) as usize], rnd(2) == 0);
            let qo = rnd(420);
            let mut want: Vec<OpenId> = f
                .locks()
                .filter(|l| l.owner != q && (l.exclusive || qx) && overlaps(qo, ql, l.offset, l.length))
                .map(|l| l.owner)
                .collect();
            want.sort_unstable();
            want.dedup();
            assert_eq!(f.blockers(q, qo, ql, qx), want, "{qo}/{ql} exclusive {qx} for {q:?}");
        }
    }

    #[test]
    fn stacking() {
        let mut f = ByteRangeLocks::default();
        assert!(f.try_lock(A, &sh(0, 10)));
        assert!(f.try_lock(A, &sh(0, 10)));
        assert!(!f.try_lock(A, &ex(0, 10)), "exclusive on own shared");
        assert_eq!(f.unlock(A, 0, 10), NtStatus::SUCCESS);
        assert_eq!(f.unlock(A, 0, 10), NtStatus::SUCCESS);
        assert_eq!(f.unlock(A, 0, 10), NtStatus::RANGE_NOT_LOCKED);

        assert!(f.try_lock(A, &ex(0, 10)));
        assert!(f.try_lock(A, &sh(0, 10)), "shared stacks on own exclusive");
        assert!(!f.try_lock(B, &sh(0, 10)));
        assert!(!f.try_lock(A, &ex(0, 10)), "exclusive never stacks");
        // Unlock removes the exclusive first: B can then take a shared lock.
        assert_eq!(f.unlock(A, 0, 10), NtStatus::SUCCESS);
        assert!(f.try_lock(B, &sh(0, 10)));
    }

    #[test]
    fn io_checks() {
        let mut f = ByteRangeLocks::default();
        assert!(f.try_lock(A, &sh(0, 100)));
        assert!(f.try_lock(A, &ex(100, 100)));
        // Shared lock: nobody writes, everybody reads.
        assert_eq!(f.check_io(A, 0, 10, true), Err(NtStatus::FILE_LOCK_CONFLICT));
        assert_eq!(f.check_io(B, 0, 10, true), Err(NtStatus::FILE_LOCK_CONFLICT));
        assert_eq!(f.check_io(B, 0, 10, false), Ok(()));
        // Exclusive lock: the owner reads and writes, others do neither.
        assert_eq!(f.check_io(A, 150, 10, true), Ok(()));
        assert_eq!(f.check_io(B, 150, 10, false), Err(NtStatus::FILE_LOCK_CONFLICT));
        assert_eq!(f.check_io(B, 150, 0, false), Ok(()), "zero-byte read");
        assert_eq!(f.check_io(B, 200, 10, true), Ok(()));
    }

    #[test]
    fn all_or_nothing() {
        let mut f = ByteRangeLocks::default();
        assert!(f.try_lock(B, &ex(50, 10)));
        assert_eq!(f.lock_all(A, &[ex(0, 10), ex(20, 10), ex(55, 1)]), Err(2));
        assert_eq!(f.lock_count(), 1);
        assert_eq!(f.locks().collect::<Vec<_>>(), vec![GrantedLock { owner: B, offset: 50, length: 10, exclusive: true }]);
        assert_eq!(f.unlock(A, 0, 10), NtStatus::RANGE_NOT_LOCKED);
    }

    #[test]
    fn pending_retry() {
        let mut f = ByteRangeLocks::default();
        assert!(f.try_lock(A, &ex(0, 10)));
        f.add_pending(PendingLock { request: RequestId(7), owner: B, element: LockElement::lock(5, 1, true, false) });
        assert!(f.retry_pending().is_empty());
        f.unlock(A, 0, 10);
        assert_eq!(f.retry_pending().iter().map(|p| p.request).collect::<Vec<_>>(), vec![RequestId(7)]);
        assert_eq!(f.check_io(A, 5, 1, false), Err(NtStatus::FILE_LOCK_CONFLICT));
    }

    /// Stacked locks are counted per owner and range: each unlock removes one, the
    /// exclusive first, and the last one lets others in again.
    #[test]
    fn stacked_counts() {
        let mut f = ByteRangeLocks::default();
        assert!(f.try_lock(A, &ex(0, 10)));
        for _ in 0..3 {
            assert!(f.try_lock(A, &sh(0, 10)));
        }
        assert_eq!(f.lock_count(), 4);
        assert_eq!(f.check_io(B, 0, 1, false), Err(NtStatus::FILE_LOCK_CONFLICT), "exclusive held");
        assert_eq!(f.unlock(A, 0, 10), NtStatus::SUCCESS);
        assert_eq!(f.check_io(B, 0, 1, false), Ok(()), "shared only now");
        assert_eq!(f.check_io(A, 0, 1, true), Err(NtStatus::FILE_LOCK_CONFLICT));
        for _ in 0..3 {
            assert_eq!(f.unlock(A, 0, 10), NtStatus::SUCCESS);
        }
        assert_eq!(f.unlock(A, 0, 10), NtStatus::RANGE_NOT_LOCKED);
        assert!(f.is_empty());
        assert!(f.try_lock(B, &ex(0, 10)));
    }

    /// A revoked lock is the very one granted (a shared lock stacked on the open's own
    /// exclusive one leaves the exclusive), and the waiters it kept out get their turn.
    #[test]
    fn revoke_takes_back_one_grant() {
        let mut f = ByteRangeLocks::default();
        assert!(f.try_lock(A, &ex(0, 10)));
        assert!(f.try_lock(A, &sh(0, 10)));
        assert!(f.revoke(A, 0, 10, false));
        assert!(!f.revoke(A, 0, 10, false));
        assert_eq!(f.locks_of(A).collect::<Vec<_>>(), vec![GrantedLock { owner: A, offset: 0, length: 10, exclusive: true }]);
        f.add_pending(PendingLock { request: RequestId(1), owner: B, element: LockElement::lock(0, 1, false, false) });
        assert!(f.revoke(A, 0, 10, true));
        assert_eq!(f.retry_pending().iter().map(|p| p.request).collect::<Vec<_>>(), vec![RequestId(1)]);
        assert_eq!(f.locks_of(A).count(), 0);
        assert_eq!(f.locks_of(B).count(), 1);
    }

    /// An open's locks over a range: its exclusive and shared ones that overlap, not
    /// others' and not those beside it.
    #[test]
    fn own_locks_over_a_range() {
        let mut f = ByteRangeLocks::default();
        assert!(f.try_lock(A, &ex(0, 10)));
        assert!(f.try_lock(A, &sh(5, 10)));
        assert!(f.try_lock(A, &sh(5, 10)));
        assert!(f.try_lock(B, &sh(12, 10)));
        assert!(f.try_lock(A, &ex(100, u64::MAX - 99)), "to the last byte");
        assert!(f.try_lock(A, &ex(50, 0)));
        let key = |l: &GrantedLock| (l.offset, l.length, l.exclusive);
        let mut got: Vec<_> = f.locks_of_overlapping(A, 8, 10).iter().map(key).collect();
        got.sort_unstable();
        assert_eq!(got, vec![(0, 10, true), (5, 10, false)]);
        assert!(f.locks_of_overlapping(A, 20, 30).is_empty(), "B's lock and A's zero-length lock");
        assert_eq!(f.locks_of_overlapping(A, u64::MAX, 1).iter().map(key).collect::<Vec<_>>(), vec![(100, u64::MAX - 99, true)]);
        assert!(f.locks_of_overlapping(A, 5, 0).is_empty());
        assert_eq!(f.locks_of_overlapping(B, 0, 100).len(), 1);
    }

    /// Zero-length exclusive locks at one point never overlap each other, any owner;
    /// {0,0} locks overlap nothing and are still unlockable.
    #[test]
    fn zero_length_duplicates() {
        let mut f = ByteRangeLocks::default();
        assert!(f.try_lock(A, &ex(10, 0)));
        assert!(f.try_lock(A, &ex(10, 0)));
        assert!(f.try_lock(B, &ex(10, 0)));
        assert!(!f.try_lock(B, &ex(9, 2)), "9..10 contains 10 after its first byte");
        assert!(f.try_lock(B, &ex(10, 5)), "a range starting at 10 does not");
        assert!(f.try_lock(A, &ex(0, 0)));
        assert!(f.try_lock(B, &ex(0, 0)));
        assert_eq!(f.check_io(B, 0, u64::MAX, true), Err(NtStatus::FILE_LOCK_CONFLICT), "A's zero-length locks at 10 lie inside B's write");
        assert_eq!(f.lock_count(), 6);
        assert_eq!(f.unlock(A, 10, 0), NtStatus::SUCCESS);
        assert_eq!(f.unlock(A, 10, 0), NtStatus::SUCCESS);
        assert_eq!(f.unlock(A, 10, 0), NtStatus::RANGE_NOT_LOCKED);
        assert_eq!(f.unlock(A, 0, 0), NtStatus::SUCCESS);
        assert_eq!(f.unlock(B, 0, 0), NtStatus::SUCCESS);
        assert_eq!(f.unlock(B, 10, 0), NtStatus::SUCCESS);
        assert_eq!(f.locks().collect::<Vec<_>>(), vec![GrantedLock { owner: B, offset: 10, length: 5, exclusive: true }]);
    }

    /// The last byte of the address space: a lock ending exactly at 2^64 is valid and
    /// conflicts with transfers clamped to the end; a range past it is never granted.
    #[test]
    fn end_of_address_space() {
        let mut f = ByteRangeLocks::default();
        assert!(f.try_lock(A, &ex(u64::MAX, 1)));
        assert!(f.try_lock(A, &sh(u64::MAX - 10, 10)), "ends just before the last byte");
        assert!(!f.try_lock(B, &sh(u64::MAX, 1)));
        assert!(!f.try_lock(B, &ex(1, u64::MAX)), "1 + 2^64-1 ends exactly at 2^64 and covers the last byte");
        assert!(!f.try_lock(B, &ex(u64::MAX, 2)), "past 2^64-1: not a lock range");
        assert!(!f.try_lock(B, &ex(2, u64::MAX)), "past 2^64-1: not a lock range");
        assert_eq!(f.check_io(B, u64::MAX - 1, 5, false), Err(NtStatus::FILE_LOCK_CONFLICT), "clamped to the end");
        assert_eq!(f.check_io(B, u64::MAX - 10, 10, false), Ok(()));
        assert_eq!(f.check_io(A, u64::MAX - 10, 10, true), Err(NtStatus::FILE_LOCK_CONFLICT), "own shared lock");
        assert_eq!(f.check_io(A, u64::MAX, 1, true), Ok(()), "own exclusive lock");
        assert!(f.try_lock(B, &ex(0, u64::MAX - 10)), "everything below: no overlap");
        assert_eq!(f.unlock(B, u64::MAX, 2), NtStatus::RANGE_NOT_LOCKED);
    }

    /// A check against many locks finds the one conflicting lock among them, wherever
    /// it is, and only the checking open's own exclusive locks are passed over.
    #[test]
    fn one_conflict_among_many() {
        let mut f = ByteRangeLocks::default();
        for i in 0..2000u64 {
            assert!(f.try_lock(A, &LockElement::lock(i * 10, 5, i % 2 == 0, true)));
        }
        assert!(f.try_lock(B, &ex(7005, 3)));
        assert_eq!(f.check_io(A, 0, 20_000, false), Err(NtStatus::FILE_LOCK_CONFLICT), "B's lock at 7005");
        assert_eq!(f.check_io(A, 0, 7005, false), Ok(()), "A's own locks only");
        assert_eq!(f.check_io(A, 20, 1, true), Ok(()), "A's own exclusive lock");
        assert_eq!(f.check_io(A, 10, 1, true), Err(NtStatus::FILE_LOCK_CONFLICT), "A's own shared lock");
        assert_eq!(f.check_io(B, 5, 5, true), Ok(()), "a gap");
        assert!(!f.try_lock(A, &sh(7007, 10)));
        f.remove_open(B);
        assert!(f.try_lock(A, &sh(7007, 10)));
        assert_eq!(f.remove_open(A), Vec::new());
        assert!(f.is_empty());
    }

    /// Waiters are granted oldest first, and an earlier grant can keep a later waiter
    /// waiting; a release elsewhere wakes nobody; cancelled waiters are gone.
    #[test]
    fn waiters_in_arrival_order() {
        let c = OpenId(3);
        let wait = |request, owner, element| PendingLock { request: RequestId(request), owner, element };
        let mut f = ByteRangeLocks::default();
        assert!(f.try_lock(A, &ex(0, 100)));
        assert!(f.try_lock(A, &ex(500, 10)));
        f.add_pending(wait(1, B, LockElement::lock(10, 10, true, false)));
        f.add_pending(wait(2, c, LockElement::lock(15, 10, true, false)));
        f.add_pending(wait(3, c, LockElement::lock(50, 1, false, false)));
        f.add_pending(wait(4, B, LockElement::lock(60, 1, true, false)));
        assert!(f.retry_pending().is_empty(), "nothing released");
        assert_eq!(f.unlock(A, 500, 10), NtStatus::SUCCESS);
        assert!(f.retry_pending().is_empty(), "released range overlaps no waiter");
        assert_eq!(f.remove_pending(RequestId(4)).map(|p| p.owner), Some(B));
        assert_eq!(f.remove_pending(RequestId(4)), None);
        assert_eq!(f.unlock(A, 0, 100), NtStatus::SUCCESS);
        let granted: Vec<u64> = f.retry_pending().iter().map(|p| p.request.0).collect();
        assert_eq!(granted, vec![1, 3], "2 overlaps 1, granted just before it");
        assert_eq!(f.pending_of(c).map(|p| p.request.0).collect::<Vec<_>>(), vec![2]);
        assert_eq!(f.unlock(B, 10, 10), NtStatus::SUCCESS);
        assert_eq!(f.retry_pending().iter().map(|p| p.request.0).collect::<Vec<_>>(), vec![2]);
        assert_eq!(f.pending_count(), 0);
    }
}
