//! Byte-range locks the host sees: open-file-description (OFD) locks, fcntl(2)
//! `F_OFD_SETLK`, on the descriptor of an open. An SMB open has an open file
//! description of its own, so its OFD locks are its own: they conflict with other opens'
//! and with local processes' POSIX (`fcntl`, `lockf`) and OFD locks, never with its own,
//! and they go when the description is closed — except on a share that shares
//! descriptions (kernel oplocks, the `description` module), where the OFD locks are those
//! of every handle of the file, and the caller keeps the union of their locks
//! (`Handle::shares_description`).
//!
//! The kernel can name bytes 0 to 2^63-1 (`off_t`); callers pass ranges inside
//! [0, [`HOST_LOCK_END`]). A lock of one description over a range replaces what it held
//! there (a read lock over its own write lock downgrades it), and unlocking part of a
//! range splits it: the caller decides what each byte should be.
//!
//! A descriptor opened read-only cannot take a write lock (EBADF): an exclusive lock
//! through such an open is taken as a read lock, which still keeps host writers out.

use crate::error::FsError;
use crate::posix_handle::PosixHandle;
use crate::sys::{self, OfdLock};

/// The first byte past what host locks can name (`off_t` is signed).
pub const HOST_LOCK_END: u64 = 1 << 63;

/// `[offset, offset + len)` as `l_start`, `l_len` (0: to the end of the lockable space).
fn flock_range(offset: u64, len: u64) -> Result<(i64, i64), FsError> {
    let end = offset.checked_add(len).filter(|&e| len > 0 && e <= HOST_LOCK_END).ok_or(FsError::InvalidParameter)?;
    let l_len = if end == HOST_LOCK_END { 0 } else { len as i64 };
    Ok((offset as i64, l_len))
}

impl PosixHandle {
    /// The OFD lock an SMB lock of this kind becomes through this descriptor.
    fn lock_kind(&self, exclusive: bool) -> Result<OfdLock, FsError> {
        Ok(if exclusive && self.description_writable() { OfdLock::Write } else { OfdLock::Read })
    }

    /// Takes (or converts to) a shared or exclusive host lock over `[offset, offset +
    /// len)`, which must lie below [`HOST_LOCK_END`]; never waits. `Ok(false)`: a local
    /// process or another open holds a conflicting lock, and nothing changed.
    pub fn host_lock(&self, offset: u64, len: u64, exclusive: bool) -> Result<bool, FsError> {
        let (start, l_len) = flock_range(offset, len)?;
        Ok(sys::ofd_setlk(self.fd(), self.lock_kind(exclusive)?, start, l_len)?)
    }

    /// Whether [`Handle::host_lock`] of this range and kind would succeed now (nothing
    /// is taken: a waiter asks this before it tries again).
    pub fn host_lockable(&self, offset: u64, len: u64, exclusive: bool) -> Result<bool, FsError> {
        let (start, l_len) = flock_range(offset, len)?;
        Ok(!sys::ofd_conflict(self.fd(), self.lock_kind(exclusive)?, start, l_len)?)
    }

    /// Drops this open's host locks over `[offset, offset + len)`; never fails for a
    /// conflict.
    pub fn host_unlock(&self, offset: u64, len: u64) -> Result<(), FsError> {
        let (start, l_len) = flock_range(offset, len)?;
        sys::ofd_setlk(self.fd(), OfdLock::Unlock, start, l_len)?;
        Ok(())
    }

    /// Drops every host lock of this open (before it is closed, so that nobody meets
    /// them while the descriptor lingers).
    pub fn host_unlock_all(&self) -> Result<(), FsError> {
        self.host_unlock(0, HOST_LOCK_END)
    }

    /// Whether a local process or another open holds a lock that conflicts with reading
    /// (`write` false) or writing `[offset, offset + len)` through this open.
    pub fn host_conflict(&self, offset: u64, len: u64, write: bool) -> Result<bool, FsError> {
        let (start, l_len) = flock_range(offset, len)?;
        let kind = if write { OfdLock::Write } else { OfdLock::Read };
        Ok(sys::ofd_conflict(self.fd(), kind, start, l_len)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{params, parse, share};
    use opportune_types::create::CreateDisposition::{Create, Open};

    #[test]
    fn ranges_below_two_to_the_63() {
        assert_eq!(flock_range(0, 10).ok(), Some((0, 10)));
        assert_eq!(flock_range(5, HOST_LOCK_END - 5).ok(), Some((5, 0)), "to the end");
        assert!(flock_range(5, HOST_LOCK_END).is_err());
        assert!(flock_range(HOST_LOCK_END, 1).is_err());
        assert!(flock_range(3, 0).is_err());
    }

    /// Two opens of one file: their host locks conflict as OFD locks do, their own never.
    #[test]
    fn two_opens_see_each_other() {
        let (_t, s) = share("host-lock", false);
        let a = s.create(&parse("f"), &params(Create, None)).unwrap().handle;
        let b = s.create(&parse("f"), &params(Open, None)).unwrap().handle;
        assert!(a.host_lock(0, 10, true).unwrap());
        assert!(a.host_lock(5, 10, false).unwrap(), "its own locks never conflict");
        assert!(!b.host_lock(0, 1, false).unwrap(), "A's write lock at 0..5");
        assert!(!b.host_lockable(0, 1, false).unwrap());
        assert!(b.host_lockable(5, 10, false).unwrap());
        assert!(!b.host_lockable(5, 10, true).unwrap());
        assert!(b.host_lock(5, 10, false).unwrap(), "A's read lock at 5..15");
        assert!(b.host_conflict(0, 1, false).unwrap());
        assert!(b.host_conflict(12, 1, true).unwrap());
        assert!(!b.host_conflict(12, 1, false).unwrap());
        assert!(!a.host_conflict(0, 5, true).unwrap(), "own locks");
        a.host_unlock(0, 5).unwrap();
        assert!(b.host_lock(0, 5, true).unwrap());
        a.host_unlock_all().unwrap();
        assert!(b.host_lock(HOST_LOCK_END - 1, 1, true).unwrap(), "the last lockable byte");
        assert!(a.host_conflict(HOST_LOCK_END - 10, 10, false).unwrap());
    }
}
