//! The records byte-range locking is made of (MS-SMB2 2.2.26.1 lock elements, MS-FSA
//! 2.1.1.4 granted locks, blocking requests waiting for them) and the range arithmetic
//! of MS-FSA 2.1.4.10, shared by the per-file lock state (`byte_range`), its indexes
//! (`granted`, `pending`) and the lock core.

use crate::ids::{OpenId, RequestId};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
