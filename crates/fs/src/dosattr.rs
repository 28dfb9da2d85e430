//! DOS attributes and creation time, which POSIX has no place for, kept in
//! the user xattr `user.opportune.dos` (MS-FSCC 2.6 attributes, MS-FSCC 2.4.7
//! CreationTime).
//!
//! Record, version 2, 40 bytes little-endian:
//! `[0] version = 2, [1..4] zero, [4..8] attributes, [8..16] creation FILETIME,
//! [16..24] change FILETIME, [24..32] mtime stamp FILETIME, [32..40] size stamp`.
//! Version 1 records (the first 16 bytes only) are still read.
//! Attributes are stored without DIRECTORY (derived from the file type);
//! a creation or change time of 0 means "not stored". Unknown versions are ignored.
//!
//! ChangeTime (MS-FSA 2.1.5.14.2: a client may set LastChangeTime, and
//! Open.UserSetChangeTime then keeps it through later operations on that
//! open) cannot be written to the POSIX ctime, so a set value is kept here
//! together with the mtime and size of the file at that moment. It is
//! reported only while mtime and size still match the stamp: once the data
//! changes by any other means, the real ctime is reported again.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use opportune_types::FileAttributes;

use crate::sys;
use crate::xattr::absent;

/// The xattr name.
pub const XATTR_NAME: &CStr = c"user.opportune.dos";
const VERSION: u8 = 2;
const VERSION_1: u8 = 1;
const LEN_1: usize = 16;
const LEN: usize = 40;

/// The stored DOS information of one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DosRecord {
    /// FILE_ATTRIBUTE_* bits (only [`FileAttributes::SETTABLE`] ones).
    pub attributes: u32,
    /// FILETIME, 0 when unknown.
    pub creation_time: u64,
    /// A client-set ChangeTime (FILETIME), 0 when none is stored.
    pub change_time: u64,
    /// The file's mtime (FILETIME) when `change_time` was stored.
    pub stamp_mtime: u64,
    /// The file's size when `change_time` was stored.
    pub stamp_size: u64,
}

impl DosRecord {
    pub fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = VERSION;
        b[4..8].copy_from_slice(&(self.attributes & FileAttributes::SETTABLE).to_le_bytes());
        b[8..16].copy_from_slice(&self.creation_time.to_le_bytes());
        b[16..24].copy_from_slice(&self.change_time.to_le_bytes());
        b[24..32].copy_from_slice(&self.stamp_mtime.to_le_bytes());
        b[32..40].copy_from_slice(&self.stamp_size.to_le_bytes());
        b
    }

    /// The stored ChangeTime if the file is unchanged since it was stored.
    pub fn change_time_for(&self, mtime: u64, size: u64) -> Option<u64> {
        let current = self.stamp_mtime == mtime && self.stamp_size == size;
        (self.change_time != 0 && current).then_some(self.change_time)
    }

    /// Decodes a record; `None` if it is short or of an unknown version.
    pub fn decode(b: &[u8]) -> Option<DosRecord> {
        let u64_at = |i: usize| b.get(i..i + 8).and_then(|s| s.try_into().ok()).map(u64::from_le_bytes);
        let ok = match b.first() {
            Some(&VERSION) => b.len() >= LEN,
            Some(&VERSION_1) => b.len() >= LEN_1,
            _ => false,
        };
        if !ok {
            return None;
        }
        let attributes = u32::from_le_bytes(b[4..8].try_into().ok()?) & FileAttributes::SETTABLE;
        let v2 = b[0] == VERSION;
        let field = |i: usize| if v2 { u64_at(i).unwrap_or(0) } else { 0 };
        Some(DosRecord {
            attributes,
            creation_time: u64_at(8)?,
            change_time: field(16),
            stamp_mtime: field(24),
            stamp_size: field(32),
        })
    }
}

/// Reads the record of an open fd.
pub fn read_fd(fd: BorrowedFd) -> io::Result<Option<DosRecord>> {
    let mut buf = [0u8; 64];
    match sys::fgetxattr(fd, XATTR_NAME, &mut buf) {
        Ok(n) => Ok(DosRecord::decode(&buf[..n])),
        Err(e) if absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Set once getxattrat(2) turned out to be missing (kernel before 6.13).
static NO_GETXATTRAT: AtomicBool = AtomicBool::new(false);

/// Reads the record of the single-component `name` in `dir` (or of `dir`
/// itself, which may be an O_PATH fd, when `name` is empty: through its
/// /proc/self/fd link) without opening the file, so that no lease on it is
/// broken; a final symlink is not followed. Before Linux 6.13 (no getxattrat)
/// this falls back to opening `name` read-only (no symlinks, confined to
/// `dir`); without /proc, an O_PATH `dir` yields an error (EBADF).
pub fn read_at(dir: BorrowedFd, name: &CStr) -> io::Result<Option<DosRecord>> {
    let mut buf = [0u8; 64];
    if name.is_empty() {
        // getxattrat(AT_EMPTY_PATH) refuses O_PATH descriptors: their /proc link.
        match sys::getxattr_via_fd_link(dir, XATTR_NAME, &mut buf) {
            Ok(n) => return Ok(DosRecord::decode(&buf[..n])),
            Err(e) if absent(&e) => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return read_fd(dir), // no /proc
            Err(e) => return Err(e),
        }
    }
    if !NO_GETXATTRAT.load(Ordering::Relaxed) {
        match sys::getxattrat(dir, name, libc::AT_SYMLINK_NOFOLLOW, XATTR_NAME, &mut buf) {
            Ok(n) => return Ok(DosRecord::decode(&buf[..n])),
            Err(e) if absent(&e) => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                NO_GETXATTRAT.store(true, Ordering::Relaxed)
            }
            Err(e) => return Err(e),
        }
    }
    let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
    let fd = sys::openat2(
        dir,
        name,
        flags,
        0,
        sys::CONFINED | sys::RESOLVE_NO_SYMLINKS,
    )?;
    read_fd(fd.as_fd())
}

/// Writes the record. ENOTSUP (no user xattrs on this file system) is
/// reported to the caller, which usually ignores it.
pub fn write_fd(fd: BorrowedFd, rec: &DosRecord) -> io::Result<()> {
    sys::fsetxattr(fd, XATTR_NAME, &rec.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = DosRecord {
            attributes: FileAttributes::HIDDEN | FileAttributes::ARCHIVE,
            creation_time: 0x0123_4567_89ab_cdef,
            change_time: 7,
            stamp_mtime: 8,
            stamp_size: 9,
        };
        let b = r.encode();
        assert_eq!(b[0], 2);
        assert_eq!(DosRecord::decode(&b), Some(r));
        assert_eq!(r.change_time_for(8, 9), Some(7));
        assert_eq!(r.change_time_for(8, 10), None);
        // A version 1 record is the first 16 bytes.
        let mut v1 = b[..16].to_vec();
        v1[0] = 1;
        let d = DosRecord::decode(&v1).unwrap();
        assert_eq!((d.creation_time, d.change_time), (r.creation_time, 0));
    }

    #[test]
    fn rejects_unknown_and_short() {
        let mut b = DosRecord {
            attributes: 1,
            creation_time: 2,
            ..Default::default()
        }
        .encode();
        assert_eq!(DosRecord::decode(&b[..39]), None);
        b[0] = 3;
        assert_eq!(DosRecord::decode(&b), None);
        assert_eq!(DosRecord::decode(&[]), None);
    }

    #[test]
    fn strips_unsettable_bits() {
        let r = DosRecord {
            attributes: FileAttributes::DIRECTORY
                | FileAttributes::NORMAL
                | FileAttributes::READONLY,
            ..Default::default()
        };
        assert_eq!(
            DosRecord::decode(&r.encode()).unwrap().attributes,
            FileAttributes::READONLY
        );
    }
}
