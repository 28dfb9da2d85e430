//! The disk-space budget of a share (hardening finding #1).
//!
//! A client can make the server consume disk space in three ways: by writing past end of
//! file, by moving end of file (FileEndOfFileInformation, MS-FSA 2.1.5.14.4) and by
//! asking for allocation (FileAllocationInformation, MS-FSA 2.1.5.14.1, or the
//! AllocationSize of a CREATE, MS-FSA 2.1.5.1). Every one of them is checked here against
//! the free space of the volume *before* anything is consumed:
//!
//! * the volume must keep [`SpacePolicy::free_reserve`] bytes free (counted as `f_bavail`,
//!   so the blocks ext4 reserves for root are never handed to clients either); a request
//!   that would eat into the reserve fails with [`FsError::DiskFull`]
//!   (STATUS_DISK_FULL);
//! * an allocation request preallocates (fallocate KEEP_SIZE) up to the requested size
//!   only with [`SpacePolicy::strict_allocate`]; otherwise (the default, as Samba's
//!   `strict allocate = no`) at most [`LOOSE_PREALLOCATION`] bytes past end of file;
//! * a preallocation that fails is undone: the blocks past end of file are given back.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};

use crate::error::FsError;
use crate::sys;

/// The default of [`SpacePolicy::free_reserve`]: 64 MiB.
pub const DEFAULT_FREE_RESERVE: u64 = 64 << 20;

/// Without strict allocation, an allocation request preallocates at most this much past
/// end of file (1 MiB); the rest of the request is only recorded and reported.
pub const LOOSE_PREALLOCATION: u64 = 1 << 20;

/// How a share hands out disk space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpacePolicy {
    /// Preallocate the whole of an allocation request (Samba's `strict allocate`).
    /// Default off.
    pub strict_allocate: bool,
    /// Bytes of the volume that stay free: a write, an end-of-file move or an allocation
    /// that would leave less answers STATUS_DISK_FULL. Default [`DEFAULT_FREE_RESERVE`].
    pub free_reserve: u64,
}

impl Default for SpacePolicy {
    fn default() -> Self {
        SpacePolicy { strict_allocate: false, free_reserve: DEFAULT_FREE_RESERVE }
    }
}

impl SpacePolicy {
    /// Where the preallocation for an allocation request of `len` bytes on a file of
    /// `size` bytes ends: `len` with strict allocation, else no further than
    /// [`LOOSE_PREALLOCATION`] past end of file.
    pub fn preallocation_end(&self, size: u64, len: u64) -> u64 {
        if self.strict_allocate {
            len
        } else {
            len.min(size.saturating_add(LOOSE_PREALLOCATION))
        }
    }

    /// Whether `need` more bytes can be consumed on a volume with `avail` bytes
    /// available and still leave the reserve free.
    pub fn admits(&self, avail: u64, need: u64) -> bool {
        need.checked_add(self.free_reserve).is_some_and(|total| total <= avail)
    }
}

/// Bytes available to unprivileged users on the volume of `fd` (statvfs `f_bavail`).
fn available(fd: BorrowedFd) -> Result<u64, FsError> {
    let st = sys::fstatvfs(fd)?;
    let unit = if st.f_frsize != 0 { st.f_frsize } else { st.f_bsize } as u64;
    Ok((st.f_bavail as u64).saturating_mul(unit))
}

/// `Ok` if `need` more bytes on the volume of `fd` leave the policy's reserve free;
/// `DiskFull` otherwise. One statvfs.
pub(crate) fn ensure(fd: BorrowedFd, policy: &SpacePolicy, need: u64) -> Result<(), FsError> {
    if policy.admits(available(fd)?, need) {
        Ok(())
    } else {
        Err(FsError::DiskFull)
    }
}

/// Grows the allocation of `file` (of `size` bytes, `held` bytes allocated) to `len`
/// bytes as the policy allows: the growth beyond what is held must fit above the reserve
/// (`DiskFull` otherwise, with nothing consumed); then blocks are preallocated past end
/// of file up to [`SpacePolicy::preallocation_end`]. A failed preallocation gives back
/// every block past end of file.
pub(crate) fn grow_allocation(file: &File, policy: &SpacePolicy, size: u64, held: u64, len: u64) -> Result<(), FsError> {
    if len <= size {
        return Ok(());
    }
    if len > i64::MAX as u64 {
        return Err(FsError::DiskFull);
    }
    ensure(file.as_fd(), policy, len.saturating_sub(held.max(size)))?;
    let end = policy.preallocation_end(size, len);
    if end <= size {
        return Ok(());
    }
    match sys::reserve(file.as_fd(), size as i64, (end - size) as i64) {
        Ok(()) => Ok(()),
        Err(e) => {
            release(file, size, end);
            match e.raw_os_error() {
                // No fallocate here: nothing was reserved and nothing needs to be.
                Some(libc::EOPNOTSUPP | libc::EBADF | libc::ENODEV) => Ok(()),
                Some(libc::ENOSPC | libc::EFBIG | libc::EDQUOT | libc::EINVAL) => Err(FsError::DiskFull),
                _ => Err(e.into()),
            }
        }
    }
}

/// Gives back the blocks of `[size, end)` past end of file (a partial preallocation).
/// Truncating to the same size frees the blocks past end of file on ext4 (whose hole
/// punching stops at end of file); a punched hole covers file systems that skip a
/// truncation to the same size. Both are best effort: the request fails anyway.
fn release(file: &File, size: u64, end: u64) {
    let _ = file.set_len(size);
    if let (Ok(off), Ok(len)) = (i64::try_from(size), i64::try_from(end - size)) {
        let _ = sys::punch_hole(file.as_fd(), off, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_allocation_is_bounded_past_end_of_file() {
        let p = SpacePolicy::default();
        assert!(!p.strict_allocate);
        assert_eq!(p.preallocation_end(0, 1 << 40), LOOSE_PREALLOCATION);
        assert_eq!(p.preallocation_end(100, 4096), 4096);
        assert_eq!(p.preallocation_end(u64::MAX - 1, u64::MAX), u64::MAX);
        let strict = SpacePolicy { strict_allocate: true, ..p };
        assert_eq!(strict.preallocation_end(0, 1 << 40), 1 << 40);
    }

    #[test]
    fn the_reserve_stays_free() {
        let p = SpacePolicy { strict_allocate: false, free_reserve: 1000 };
        assert!(p.admits(1500, 500));
        assert!(!p.admits(1500, 501));
        assert!(!p.admits(999, 0));
        assert!(!p.admits(u64::MAX, u64::MAX));
        assert!(SpacePolicy { free_reserve: 0, ..p }.admits(0, 0));
    }

    #[test]
    fn an_allocation_beyond_the_volume_is_disk_full_and_takes_nothing() {
        let t = crate::testutil::TempDir::new("space");
        let f = File::options().read(true).write(true).create(true).truncate(true).open(t.path().join("f")).unwrap();
        let before = f.metadata().unwrap();
        let p = SpacePolicy { strict_allocate: true, free_reserve: 0 };
        assert!(matches!(grow_allocation(&f, &p, 0, 0, 1 << 60), Err(FsError::DiskFull)));
        assert!(matches!(grow_allocation(&f, &p, 0, 0, u64::MAX), Err(FsError::DiskFull)));
        use std::os::unix::fs::MetadataExt;
        assert_eq!(f.metadata().unwrap().blocks(), before.blocks());
        // A reserve larger than any volume refuses even a small allocation.
        let all = SpacePolicy { strict_allocate: true, free_reserve: u64::MAX / 2 };
        assert!(matches!(grow_allocation(&f, &all, 0, 0, 4096), Err(FsError::DiskFull)));
        // Without strict allocation, at most the bound is preallocated.
        let loose = SpacePolicy { strict_allocate: false, free_reserve: 0 };
        grow_allocation(&f, &loose, 0, 0, 8 << 20).unwrap();
        assert!(f.metadata().unwrap().blocks() * 512 <= LOOSE_PREALLOCATION + 4096);
        assert_eq!(f.metadata().unwrap().len(), 0);
    }

    #[test]
    fn release_gives_back_what_was_preallocated() {
        use std::os::unix::fs::MetadataExt;
        let t = crate::testutil::TempDir::new("space");
        let f = File::options().read(true).write(true).create(true).truncate(true).open(t.path().join("f")).unwrap();
        if sys::reserve(f.as_fd(), 0, 1 << 20).is_err() {
            eprintln!("no fallocate on this file system; skipped");
            return;
        }
        assert!(f.metadata().unwrap().blocks() >= 2048);
        release(&f, 0, 1 << 20);
        assert_eq!(f.metadata().unwrap().blocks(), 0);
        assert_eq!(f.metadata().unwrap().len(), 0);
    }
}
