//! Removing a name (MS-FSA 2.1.5.4 close of an open with DeletePending set: the
//! server removes the object when its last open goes): unlink(2) or rmdir(2) of an
//! on-disk relative path, or the xattr of one named stream.

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;

use crate::dirents::list_names;
use crate::error::FsError;
use crate::posix_handle::PosixHandle;
use crate::rel_path::{cstr, split_last, split_rel, split_rel_stream};
use crate::root::Root;
use crate::stream::{self, StreamName};
use crate::sys;

/// unlink(2) or rmdir(2) of an on-disk relative path, or removal of one named
/// stream, as documented at `Share::remove`.
pub(crate) fn remove(root: &Root, rel: &str, is_dir: bool) -> Result<(), FsError> {
    if let (base, Some(name)) = split_rel_stream(rel) {
        if split_rel(base)?.is_empty() {
            return Err(FsError::InvalidName);
        }
        let s = StreamName::new(name)?;
        let (desc, base_is_dir) = root.open_base(base)?;
        let file = desc.file();
        let st = sys::fstatx(file.as_fd())?;
        let mode = u32::from(st.stx_mode) & 0o7777;
        // xattr changes need write permission on the inode: lend the
        // owner's write bit to a read-only file for the moment.
        let lend = !base_is_dir && mode & 0o200 == 0;
        if lend {
            file.set_permissions(std::fs::Permissions::from_mode(mode | 0o200))?;
        }
        let r = stream::remove(file.as_fd(), &s);
        if lend {
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        return r;
    }
    if split_rel(rel)?.is_empty() {
        return Err(FsError::AccessDenied);
    }
    let (parent, name) = split_last(rel);
    let dir = root.open_dir(parent)?;
    unlink_at(dir.as_fd(), &cstr(name)?, is_dir)
}

/// Removes the object `handle` has open (no stream) under its recorded name if that
/// name still names it, looked up and removed through one descriptor of the parent:
/// the removed path, or None when the name is gone or names another object now (a host
/// rename: the caller finds the current name).
pub(crate) fn remove_if_named(root: &Root, handle: &PosixHandle, is_dir: bool) -> Result<Option<String>, FsError> {
    let rel = handle.rel_path();
    if split_rel(&rel)?.is_empty() {
        return Err(FsError::AccessDenied);
    }
    let (parent, name) = split_last(&rel);
    let dir = match root.open_dir(parent) {
        Ok(d) => d,
        Err(FsError::PathNotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let cname = cstr(name)?;
    let at = match sys::statx(dir.as_fd(), &cname, libc::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if !handle.is_object_of(&at)? {
        return Ok(None);
    }
    unlink_at(dir.as_fd(), &cname, is_dir)?;
    Ok(Some(rel))
}

/// unlink(2), or rmdir(2) if `is_dir`, of `name` in the directory `dir`.
fn unlink_at(dir: BorrowedFd, cname: &CStr, is_dir: bool) -> Result<(), FsError> {
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    match sys::unlinkat(dir, cname, flags) {
        Ok(()) => Ok(()),
        Err(e) => match e.raw_os_error() {
            Some(libc::ENOTEMPTY | libc::EEXIST) => Err(FsError::NotEmpty),
            // A directory reached through a symlink: remove the link.
            Some(libc::ENOTDIR) if is_dir => {
                let st = sys::statx(dir, cname, libc::AT_SYMLINK_NOFOLLOW)?;
                if u32::from(st.stx_mode) & libc::S_IFMT == libc::S_IFLNK {
                    Ok(sys::unlinkat(dir, cname, 0)?)
                } else {
                    Err(FsError::NotADirectory)
                }
            }
            _ => Err(e.into()),
        },
    }
}

/// Whether a directory has entries other than "." and "..".
pub(crate) fn is_dir_empty(root: &Root, rel: &str) -> Result<bool, FsError> {
    split_rel(rel)?;
    let fd = root
        .open_rel(rel, libc::O_RDONLY | libc::O_DIRECTORY)
        .map_err(FsError::from)?;
    Ok(list_names(fd.as_fd())?.is_empty())
}
