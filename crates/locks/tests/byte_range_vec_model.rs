//! Reference-model test for the indexed byte-range lock table: the previous
//! implementation (one `Vec` of locks scanned on every operation, one `Vec` of waiters
//! rescanned in arrival order after every release), kept here verbatim in behaviour,
//! against [`ByteRangeLocks`] call for call: grants, all-or-nothing requests, unlocks,
//! checked I/O, blocking requests, cancels, closes and retries, with the granted locks
//! and every open's waiters compared after each step.
//!
//! Lock requests use valid ranges only (MS-FSA 2.1.5.8: the core refuses ranges past
//! 2^64-1 before the table sees them); unlocks and I/O checks take any range.
use opportune_locks::byte_range::{ByteRangeLocks, GrantedLock, PendingLock, overlaps, range_is_valid};
use opportune_locks::{LockElement, LockKind, OpenId, RequestId};
use opportune_types::NtStatus;
use proptest::prelude::*;

/// The previous implementation (MS-FSA 2.1.4.10, 2.1.5.8, 2.1.5.9 as linear scans).
#[derive(Default)]
struct VecLocks {
    locks: Vec<GrantedLock>,
    pending: Vec<PendingLock>,
}

fn conflicts_with(lock: &GrantedLock, open: OpenId, offset: u64, length: u64, exclusive: bool, lock_intent: bool) -> bool {
    if !overlaps(offset, length, lock.offset, lock.length) {
        return false;
    }
    if lock.exclusive { lock.owner != open || (lock_intent && exclusive) } else { exclusive }
}

impl VecLocks {
    fn check_io(&self, open: OpenId, offset: u64, length: u64, write: bool) -> Result<(), NtStatus> {
        if length == 0 {
            return Ok(());
        }
        let length = if offset.checked_add(length - 1).is_none() { u64::MAX - offset + 1 } else { length };
        if self.locks.iter().any(|l| conflicts_with(l, open, offset, length, write, false)) {
            Err(NtStatus::FILE_LOCK_CONFLICT)
        } else {
            Ok(())
        }
    }

    fn try_lock(&mut self, open: OpenId, e: &LockElement) -> bool {
        let exclusive = e.kind == LockKind::Exclusive;
        if self.locks.iter().any(|l| conflicts_with(l, open, e.offset, e.length, exclusive, true)) {
            return false;
        }
        self.locks.push(GrantedLock { owner: open, offset: e.offset, length: e.length, exclusive });
        true
    }

    fn unlock(&mut self, open: OpenId, offset: u64, length: u64) -> NtStatus {
        let mut found = None;
        for (i, l) in self.locks.iter().enumerate() {
            if l.owner == open && l.offset == offset && l.length == length {
                found = Some(i);
                if l.exclusive {
                    break;
                }
            }
        }
        match found {
            Some(i) => {
                self.locks.remove(i);
                NtStatus::SUCCESS
            }
            None => NtStatus::RANGE_NOT_LOCKED,
        }
    }

    fn lock_all(&mut self, open: OpenId, elements: &[LockElement]) -> Result<(), usize> {
        for (i, e) in elements.iter().enumerate() {
            if !self.try_lock(open, e) {
                for done in elements[..i].iter().rev() {
                    let exclusive = done.kind == LockKind::Exclusive;
                    if let Some(j) = self.locks.iter().rposition(|l| {
                        l.owner == open && l.offset == done.offset && l.length == done.length && l.exclusive == exclusive
                    }) {
                        self.locks.remove(j);
                    }
                }
                return Err(i);
            }
        }
        Ok(())
    }

    fn remove_pending(&mut self, request: RequestId) -> Option<PendingLock> {
        let i = self.pending.iter().position(|p| p.request == request)?;
        Some(self.pending.remove(i))
    }

    fn remove_open(&mut self, open: OpenId) -> Vec<RequestId> {
        self.locks.retain(|l| l.owner != open);
        let mut gone = Vec::new();
        self.pending.retain(|p| {
            if p.owner == open {
                gone.push(p.request);
                false
            } else {
                true
            }
        });
        gone
    }

    fn retry_pending(&mut self) -> Vec<PendingLock> {
        let mut granted = Vec::new();
        for p in std::mem::take(&mut self.pending) {
            if self.try_lock(p.owner, &p.element) {
                granted.push(p);
            } else {
                self.pending.push(p);
            }
        }
        granted
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// One element; a blocking one that is not granted waits (as LockCore does).
    Lock { open: u64, off: u64, len: u64, excl: bool, wait: bool },
    /// Several FAIL_IMMEDIATELY elements, all or nothing.
    LockAll { open: u64, elements: Vec<(u64, u64, bool)> },
    /// Unlock elements in order up to the first failure, then retry the waiters.
    Unlock { open: u64, ranges: Vec<(u64, u64)> },
    Io { open: u64, off: u64, len: u64, write: bool },
    /// Cancel the n-th request issued so far (it may be long done).
    Cancel(u64),
    /// Close: drop the open's locks and waiters, then retry the waiters.
    Close(u64),
}

fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0u64..24,
        2 => (0u64..6).prop_map(|k| u64::MAX - k),
        1 => Just(1u64 << 63),
        1 => any::<u64>(),
    ]
}

fn length() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0u64..6,
        1 => Just(u64::MAX),
        1 => Just(1u64 << 63),
        1 => (0u64..4).prop_map(|k| u64::MAX - k),
        1 => any::<u64>(),
    ]
}

/// A range the lock path accepts: an offset and a length that stays below 2^64.
fn valid_range() -> impl Strategy<Value = (u64, u64)> {
    (offset(), length()).prop_map(|(o, l)| if range_is_valid(o, l) { (o, l) } else { (o, u64::MAX - o + 1) })
}

const OPENS: u64 = 8;

fn op() -> impl Strategy<Value = Op> {
    let open = 1u64..=OPENS;
    prop_oneof![
        6 => (open.clone(), valid_range(), any::<bool>(), proptest::bool::weighted(0.3))
            .prop_map(|(open, (off, len), excl, wait)| Op::Lock { open, off, len, excl, wait }),
        2 => (open.clone(), proptest::collection::vec((valid_range(), any::<bool>()).prop_map(|((o, l), x)| (o, l, x)), 2..5))
            .prop_map(|(open, elements)| Op::LockAll { open, elements }),
        4 => (open.clone(), proptest::collection::vec((offset(), length()), 1..3)).prop_map(|(open, ranges)| Op::Unlock { open, ranges }),
        4 => (open.clone(), offset(), length(), any::<bool>()).prop_map(|(open, off, len, write)| Op::Io { open, off, len, write }),
        1 => (0u64..400).prop_map(Op::Cancel),
        1 => open.prop_map(Op::Close),
    ]
}

/// The granted locks of both, as sorted lists.
fn same_locks(new: &ByteRangeLocks, old: &VecLocks) -> Result<(), TestCaseError> {
    let key = |l: &GrantedLock| (l.owner, l.offset, l.length, l.exclusive);
    let mut a: Vec<GrantedLock> = new.locks().collect();
    let mut b = old.locks.clone();
    a.sort_by_key(key);
    b.sort_by_key(key);
    prop_assert_eq!(new.lock_count(), b.len());
    prop_assert_eq!(a, b);
    for o in 1..=OPENS {
        let a: Vec<PendingLock> = new.pending_of(OpenId(o)).copied().collect();
        let b: Vec<PendingLock> = old.pending.iter().filter(|p| p.owner == OpenId(o)).copied().collect();
        prop_assert_eq!(a, b, "waiters of open {}", o);
    }
    prop_assert_eq!(new.pending_count(), old.pending.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn matches_vec_implementation(ops in proptest::collection::vec(op(), 1..400)) {
        let mut new = ByteRangeLocks::default();
        let mut old = VecLocks::default();
        for (i, op) in ops.iter().enumerate() {
            let rq = RequestId(i as u64);
            match op {
                &Op::Lock { open, off, len, excl, wait } => {
                    let el = LockElement::lock(off, len, excl, !wait);
                    let (a, b) = (new.lock_all(OpenId(open), &[el]), old.lock_all(OpenId(open), &[el]));
                    prop_assert_eq!(a, b, "{:?}", op);
                    if a.is_err() && wait {
                        let p = PendingLock { request: rq, owner: OpenId(open), element: el };
                        new.add_pending(p);
                        old.pending.push(p);
                    }
                }
                Op::LockAll { open, elements } => {
                    let els: Vec<LockElement> = elements.iter().map(|&(o, l, x)| LockElement::lock(o, l, x, true)).collect();
                    prop_assert_eq!(new.lock_all(OpenId(*open), &els), old.lock_all(OpenId(*open), &els), "{:?}", op);
                }
                Op::Unlock { open, ranges } => {
                    for &(off, len) in ranges {
                        let (a, b) = (new.unlock(OpenId(*open), off, len), old.unlock(OpenId(*open), off, len));
                        prop_assert_eq!(a, b, "{:?}", op);
                        if a != NtStatus::SUCCESS {
                            break;
                        }
                    }
                    prop_assert_eq!(new.retry_pending(), old.retry_pending(), "retry after {:?}", op);
                }
                &Op::Io { open, off, len, write } => {
                    prop_assert_eq!(new.check_io(OpenId(open), off, len, write), old.check_io(OpenId(open), off, len, write), "{:?}", op);
                }
                &Op::Cancel(n) => {
                    prop_assert_eq!(new.remove_pending(RequestId(n)), old.remove_pending(RequestId(n)), "{:?}", op);
                }
                &Op::Close(open) => {
                    prop_assert_eq!(new.remove_open(OpenId(open)), old.remove_open(OpenId(open)), "{:?}", op);
                    prop_assert_eq!(new.retry_pending(), old.retry_pending(), "retry after {:?}", op);
                }
            }
            same_locks(&new, &old)?;
        }
    }

    /// Many locks on one file from many opens, then releases in random order: waiters
    /// are granted in the same order by both, with larger tables than the case above.
    #[test]
    fn many_waiters_same_order(
        locks in proptest::collection::vec((1u64..=32, 0u64..200, 1u64..20, any::<bool>()), 50..300),
        waiters in proptest::collection::vec((1u64..=32, 0u64..200, 0u64..20, any::<bool>()), 1..100),
        releases in proptest::collection::vec(0usize..300, 1..300),
    ) {
        let mut new = ByteRangeLocks::default();
        let mut old = VecLocks::default();
        for &(o, off, len, x) in &locks {
            let el = LockElement::lock(off, len, x, true);
            prop_assert_eq!(new.try_lock(OpenId(o), &el), old.try_lock(OpenId(o), &el));
        }
        for (i, &(o, off, len, x)) in waiters.iter().enumerate() {
            let el = LockElement::lock(off, len, x, false);
            if !old.try_lock(OpenId(o), &el) {
                prop_assert!(!new.try_lock(OpenId(o), &el));
                let p = PendingLock { request: RequestId(i as u64), owner: OpenId(o), element: el };
                new.add_pending(p);
                old.pending.push(p);
            } else {
                prop_assert!(new.try_lock(OpenId(o), &el));
            }
        }
        for &r in &releases {
            let Some(&l) = old.locks.get(r % old.locks.len().max(1)) else { break };
            prop_assert_eq!(new.unlock(l.owner, l.offset, l.length), old.unlock(l.owner, l.offset, l.length));
            prop_assert_eq!(new.retry_pending(), old.retry_pending());
            same_locks(&new, &old)?;
        }
    }
}
