//! Where an open object is now. A program on the host may rename or delete a file the
//! server holds open, and then the path recorded at open (`Handle::rel_path`) names
//! nothing — or another file, one the host put there. The kernel keeps following the
//! open description's name through renames, and `/proc/self/fd/N` reads it back; this is
//! used wherever acting on a stale name would harm someone: delete-on-close (it must
//! never remove the host's new file under the old name), the source of a rename, and the
//! names a client reads back (FileNameInformation and its kin).
//!
//! Two readlink(2) calls (the object's and the share root's, which the host may have
//! renamed too); nothing is cached, so nothing goes stale.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Component, Path, PathBuf};

use crate::error::FsError;
use crate::handle::Handle;
use crate::rel_path::{cstr, split_last};
use crate::root::Root;
use crate::sys;

/// The path the kernel holds for descriptor `fd` (of this process).
fn fd_path(fd: BorrowedFd) -> Result<PathBuf, FsError> {
    Ok(std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?)
}

/// `path` relative to `root`, as an on-disk relative path ("" for the root itself), or
/// None when it is outside `root` or not valid UTF-8 (no SMB name can reach it).
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for c in rest.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_str()?),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

impl Handle {
    /// The object's on-disk path relative to the share root as it is now, recorded as
    /// [`Handle::rel_path`] if it changed (a host rename); for a named stream
    /// "base:name" with the base's current path. `None` when the object has no name in
    /// the share any more: unlinked (by the host), moved out of the share, or under a
    /// name no SMB client can use (not UTF-8).
    pub fn current_rel_path(&self) -> Result<Option<String>, FsError> {
        let path = match fd_path(self.fd()) {
            Ok(p) => p,
            // No /proc: the recorded name, if it still names this object.
            Err(FsError::NotFound | FsError::PathNotFound) => {
                let rel = self.rel_path();
                let (base, _) = crate::rel_path::split_rel_stream(&rel);
                return Ok(self.named_by(&self.root, base)?.then_some(rel));
            }
            Err(e) => return Err(e),
        };
        if sys::fstatx(self.fd())?.stx_nlink == 0 {
            return Ok(None); // unlinked: readlink shows "<old path> (deleted)"
        }
        let root = fd_path(self.root.fd.as_fd())?;
        let Some(base) = relative(&root, &path) else { return Ok(None) };
        let now = match self.stream_name() {
            Some(s) => format!("{base}:{s}"),
            None => base,
        };
        if now != self.rel_path() {
            self.set_rel_path(now.clone());
        }
        Ok(Some(now))
    }

    /// Whether the name `rel` (no stream part) names this very object, not following a
    /// final symlink.
    pub(crate) fn named_by(&self, root: &Root, rel: &str) -> Result<bool, FsError> {
        let (parent, name) = split_last(rel);
        let dir = root.open_dir(parent)?;
        let at = match sys::statx(dir.as_fd(), &cstr(name)?, libc::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let me = sys::fstatx(self.fd())?;
        Ok((at.stx_ino, at.stx_dev_major, at.stx_dev_minor) == (me.stx_ino, me.stx_dev_major, me.stx_dev_minor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_below_the_root_only() {
        let root = Path::new("/srv/share");
        assert_eq!(relative(root, Path::new("/srv/share")).as_deref(), Some(""));
        assert_eq!(relative(root, Path::new("/srv/share/a/b.txt")).as_deref(), Some("a/b.txt"));
        assert_eq!(relative(root, Path::new("/srv/shared/x")), None);
        assert_eq!(relative(root, Path::new("/srv/other/x")), None);
        use std::os::unix::ffi::OsStrExt;
        let odd = Path::new(std::ffi::OsStr::from_bytes(b"/srv/share/\xff.txt"));
        assert_eq!(relative(root, odd), None, "not UTF-8: no SMB name reaches it");
    }
}
