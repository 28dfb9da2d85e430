//! Linux file leases (fcntl(2) `F_SETLEASE`) behind SMB caching: the safe face of the
//! lease calls in `sys.rs`.
//!
//! A lease belongs to an open file description; the kernel breaks it when another open
//! conflicts — a write lease by any open of the inode, a read lease by an open for
//! writing — and by a truncation, and tells the owning process with [`lease_signal`]
//! carrying the descriptor's number. The opener waits (up to
//! [`lease_break_time`]) until the holder downgrades or drops the lease. The kernel does
//! not tell the holder's own opens apart from anyone else's: an open through this process
//! breaks the lease too, so the server opens each file once for all its SMB opens (see
//! docs/COHERENCE.md).
//!
//! Usage: [`block_lease_signals`] first in `main`, before any thread starts; one
//! [`LeaseSignals`] read by one task; [`take`] on a descriptor; on a
//! [`LeaseNote::Break`] for it, [`held`] says what the kernel wants it to come down to,
//! and [`take`] of that (Read or Unlock) ends the break.

use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::FsError;
use crate::sys;

pub use crate::sys::{Lease, LeaseNote, LeaseSignals, block_lease_signals, lease_break_time, lease_signal, lease_signals_blocked};

/// Takes, downgrades or drops the lease of `fd`'s open file description; before taking
/// one, makes the kernel announce its break with [`lease_signal`] (and the descriptor's
/// number). `Ok(false)`: the kernel refused (the file is open in a conflicting mode, or
/// the file system keeps no leases); nothing changed. Refuses to take a lease while the
/// lease signal is not blocked in this thread: its default action would end the process.
pub fn take(fd: BorrowedFd, lease: Lease) -> Result<bool, FsError> {
    take_signalled(fd, lease, &AtomicBool::new(false))
}

/// [`take`], with `signalled` remembering that `fd`'s description announces its breaks
/// with [`lease_signal`] already (`F_SETSIG` belongs to the open file description and
/// lasts as long as it does): set once, not before every lease. The caller clears it
/// when another description is put under the descriptor.
pub(crate) fn take_signalled(fd: BorrowedFd, lease: Lease, signalled: &AtomicBool) -> Result<bool, FsError> {
    if lease != Lease::Unlock {
        if !sys::lease_signals_blocked() {
            return Ok(false);
        }
        if !signalled.load(Ordering::Acquire) {
            sys::set_lease_signal(fd, sys::lease_signal())?;
            signalled.store(true, Ordering::Release);
        }
    }
    Ok(sys::set_lease(fd, lease)?)
}

/// The lease of `fd`'s description; during a break, what it must come down to.
pub fn held(fd: BorrowedFd) -> Result<Lease, FsError> {
    Ok(sys::get_lease(fd)?)
}
