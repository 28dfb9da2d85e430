//! Byte-range locks of one file: MS-SMB2 3.3.5.14 (LOCK request), MS-FSA 2.1.5.8
//! (lock), 2.1.5.9 (unlock) and 2.1.4.10 (range conflicts).
//!
//! Behaviour pinned down by smbtorture smb2.lock: a shared lock stacks on the same
//! open's exclusive lock, an exclusive lock never stacks, an unlock removes an
//! exclusive lock before a shared one of the same range, failed lock requests always
//! answer STATUS_LOCK_NOT_GRANTED (SMB2 has no FILE_LOCK_CONFLICT retry quirk for
//! locks; that status is only for reads and writes), and zero-length locks follow the
//! 2.1.4.10 arithmetic exactly.

use crate::ids::{OpenId, RequestId};
use opportune_types::NtStatus;

/// SMB2_LOCK_ELEMENT Flags (MS-SMB2 2.2.26.1).
pub mod flags {
    pub const SHARED: u32 = 0x1;
    pub const EXCLUSIVE: u32 = 0x2;
    pub const UNLOCK: u32 = 0x4;
    pub const FAIL_IMMEDIATELY: u32 = 0x10;
}

/// What one element asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    Shared,
    Exclusive,
    Unlock,
    /// A flag combination MS-SMB2 2.2.26.1 does not define. Kept (rather than refused at
    /// decoding) because the request is processed element by element: an earlier unlock
    /// failure wins over a later invalid element (smbtorture smb2.lock.valid-request).
    Invalid,
}

/// One SMB2_LOCK_ELEMENT, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockElement {
    pub offset: u64,
    pub length: u64,
    pub kind: LockKind,
    pub fail_immediately: bool,
}

impl LockElement {
    /// Decodes wire flags. Only the combinations of MS-SMB2 2.2.26.1 are valid:
    /// SHARED, EXCLUSIVE (each optionally with FAIL_IMMEDIATELY) and UNLOCK alone;
    /// anything else decodes as [`LockKind::Invalid`], answered with
    /// STATUS_INVALID_PARAMETER when reached (MS-SMB2 3.3.5.14.1/3.3.5.14.2).
    pub fn from_wire(offset: u64, length: u64, wire_flags: u32) -> LockElement {
        use flags::*;
        let (kind, fail_immediately) = match wire_flags {
            SHARED => (LockKind::Shared, false),
            EXCLUSIVE => (LockKind::Exclusive, false),
            x if x == SHARED | FAIL_IMMEDIATELY => (LockKind::Shared, true),
            x if x == EXCLUSIVE | FAIL_IMMEDIATELY => (LockKind::Exclusive, true),
            UNLOCK => (LockKind::Unlock, false),
            _ => (LockKind::Invalid, false),
        };
        LockElement { offset, length, kind, fail_immediately }
    }

    pub fn lock(offset: u64, length: u64, exclusive: bool, fail_immediately: bool) -> LockElement {
        let kind = if exclusive { LockKind::Exclusive } else { LockKind::Shared };
        LockElement { offset, length, kind, fail_immediately }
    }

    pub fn unlock(offset: u64, length: u64) -> LockElement {
        LockElement { offset, length, kind: LockKind::Unlock, fail_immediately: false }
    }
}

/// MS-FSA 2.1.5.8/2.1.5.9 validation: a range whose last byte lies past 2^64-1 is
/// STATUS_INVALID_LOCK_RANGE. A zero length never overflows, and offset + length ==
/// 2^64 is still valid (smbtorture: "max/1" succeeds, "max/2" fails).
pub fn range_is_valid(offset: u64, length: u64) -> bool {
    length == 0 || offset.checked_add(length - 1).is_some()
}

/// One granted lock (MS-FSA 2.1.1.4 ByteRangeLock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantedLock {
    pub owner: OpenId,
    pub offset: u64,
    pub length: u64,
    pub exclusive: bool,
}

/// A blocking lock waiting for a conflicting lock to go away (MS-SMB2 3.3.5.14.2:
/// "the server MUST wait until the lock can be acquired").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingLock {
    pub request: RequestId,
    pub owner: OpenId,
    pub element: LockElement,
}

/// Whether two ranges overlap in the sense of MS-FSA 2.1.4.10: {0,0} overlaps nothing;
/// otherwise the inclusive ranges [offset, offset+length-1] are compared with wrapping
/// arithmetic, which is what makes a zero-length range at X overlap a lock that strictly
/// contains X but not one that starts at X.
pub fn overlaps(o1: u64, l1: u64, o2: u64, l2: u64) -> bool {
    if (o1 == 0 && l1 == 0) || (o2 == 0 && l2 == 0) {
        return false;
    }
    let last1 = o1.wrapping_add(l1).wrapping_sub(1);
    let last2 = o2.wrapping_add(l2).wrapping_sub(1);
    o1 <= last2 && last1 >= o2
}

/// Intent of an access being checked against the lock list (MS-FSA 2.1.4.10 inputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub open: OpenId,
    pub offset: u64,
    pub length: u64,
    /// Exclusive lock or write I/O.
    pub exclusive: bool,
}

/// MS-FSA 2.1.4.10 for one existing lock: an exclusive lock conflicts with everything
/// from another open and with an exclusive *lock* request from its own open (locks do
/// not stack exclusively; a shared lock and the owner's own reads/writes pass); a shared
/// lock conflicts only with exclusive intent, from any open, including its owner
/// (smbtorture smb2.lock.rw-shared: the holder's own write gets FILE_LOCK_CONFLICT).
fn conflicts_with(lock: &GrantedLock, a: &Access, lock_intent: bool) -> bool {
    if !overlaps(a.offset, a.length, lock.offset, lock.length) {
        return false;
    }
    if lock.exclusive {
        lock.owner != a.open || (lock_intent && a.exclusive)
    } else {
        a.exclusive
    }
}

/// The lock state of one file.
#[derive(Debug, Default)]
pub struct ByteRangeLocks {
    locks: Vec<GrantedLock>,
    pending: Vec<PendingLock>,
}

impl ByteRangeLocks {
    pub fn is_empty(&self) -> bool {
        self.locks.is_empty() && self.pending.is_empty()
    }

    pub fn locks(&self) -> &[GrantedLock] {
        &self.locks
    }

    pub fn has_locks(&self) -> bool {
        !self.locks.is_empty()
    }

    fn lock_conflicts(&self, a: &Access) -> bool {
        self.locks.iter().any(|l| conflicts_with(l, a, true))
    }

    /// MS-SMB2 3.3.5.12/3.3.5.13 via MS-FSA 2.1.4.10 with LockIntent FALSE: may this
    /// open read (`write == false`) or write this range? A zero-length transfer never
    /// conflicts (smbtorture smb2.lock.zerobyteread).
    pub fn check_io(&self, open: OpenId, offset: u64, length: u64, write: bool) -> Result<(), NtStatus> {
        if length == 0 {
            return Ok(());
        }
        // A transfer past 2^64-1 is refused by the server before it gets here; should one
        // arrive, it is taken to run to the end of the address space rather than wrap.
        let length = if offset.checked_add(length - 1).is_none() { u64::MAX - offset + 1 } else { length };
        let a = Access { open, offset, length, exclusive: write };
        if self.locks.iter().any(|l| conflicts_with(l, &a, false)) {
            Err(NtStatus::FILE_LOCK_CONFLICT)
        } else {
            Ok(())
        }
    }

    /// Tries to grant one lock element now (MS-FSA 2.1.5.8). Returns whether it was granted.
    pub fn try_lock(&mut self, open: OpenId, e: &LockElement) -> bool {
        let exclusive = e.kind == LockKind::Exclusive;
        let a = Access { open, offset: e.offset, length: e.length, exclusive };
        if self.lock_conflicts(&a) {
            return false;
        }
        self.locks.push(GrantedLock { owner: open, offset: e.offset, length: e.length, exclusive });
        true
    }

    /// MS-FSA 2.1.5.9: removes the lock of exactly this range held by this open,
    /// preferring an exclusive one; otherwise STATUS_RANGE_NOT_LOCKED.
    pub fn unlock(&mut self, open: OpenId, offset: u64, length: u64) -> NtStatus {
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

    /// MS-SMB2 3.3.5.14.2: all elements of a lock request or none. On the first element
    /// that cannot be granted, the ones granted by this request are unlocked again and
    /// the index of the failing element is returned.
    pub fn lock_all(&mut self, open: OpenId, elements: &[LockElement]) -> Result<(), usize> {
        for (i, e) in elements.iter().enumerate() {
            if !self.try_lock(open, e) {
                for done in elements[..i].iter().rev() {
                    self.unlock_exact_kind(open, done);
                }
                return Err(i);
            }
        }
        Ok(())
    }

    /// Rollback helper: removes the most recently added lock matching this element.
    fn unlock_exact_kind(&mut self, open: OpenId, e: &LockElement) {
        let exclusive = e.kind == LockKind::Exclusive;
        if let Some(i) = self.locks.iter().rposition(|l| {
            l.owner == open && l.offset == e.offset && l.length == e.length && l.exclusive == exclusive
        }) {
            self.locks.remove(i);
        }
    }

    pub fn add_pending(&mut self, p: PendingLock) {
        self.pending.push(p);
    }

    /// Removes a pending lock (cancel); returns it if it was there.
    pub fn remove_pending(&mut self, request: RequestId) -> Option<PendingLock> {
        let i = self.pending.iter().position(|p| p.request == request)?;
        Some(self.pending.remove(i))
    }

    /// Drops every lock and pending lock of a closing open (MS-FSA 2.1.5.4 close:
    /// "remove all byte-range locks owned by Open"). Returns the pending requests that
    /// must now be answered (smbtorture smb2.lock.cancel: STATUS_RANGE_NOT_LOCKED).
    pub fn remove_open(&mut self, open: OpenId) -> Vec<RequestId> {
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

    /// After locks were released: grants, in arrival order, every pending lock that no
    /// longer conflicts. Returns the requests that completed.
    pub fn retry_pending(&mut self) -> Vec<PendingLock> {
        let mut granted = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            if self.try_lock(p.owner, &p.element) {
                granted.push(p);
            } else {
                self.pending.push(p);
            }
        }
        granted
    }

    pub fn pending_of(&self, open: OpenId) -> impl Iterator<Item = &PendingLock> {
        self.pending.iter().filter(move |p| p.owner == open)
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

    #[test]
    fn range_validity() {
        assert!(range_is_valid(u64::MAX, 0));
        assert!(range_is_valid(u64::MAX, 1));
        assert!(!range_is_valid(u64::MAX, 2));
        assert!(!range_is_valid(u64::MAX, u64::MAX));
        assert!(range_is_valid(1 << 63, 1));
        assert!(range_is_valid(0, u64::MAX));
    }

    #[test]
    fn flags_decoding() {
        let kind = |f| LockElement::from_wire(0, 1, f).kind;
        assert_eq!(kind(0), LockKind::Invalid);
        assert_eq!(kind(flags::UNLOCK | flags::SHARED), LockKind::Invalid);
        assert_eq!(kind(flags::UNLOCK | flags::FAIL_IMMEDIATELY), LockKind::Invalid);
        assert_eq!(kind(flags::SHARED | flags::EXCLUSIVE), LockKind::Invalid);
        assert_eq!(kind(flags::UNLOCK), LockKind::Unlock);
        assert!(LockElement::from_wire(0, 1, flags::EXCLUSIVE | flags::FAIL_IMMEDIATELY).fail_immediately);
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
        assert_eq!(f.locks().len(), 1);
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
}
