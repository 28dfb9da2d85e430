//! Where an open object is now. A program on the host may rename or delete a file the
//! server holds open, and then the path recorded at open (`Handle::rel_path`) names
//! nothing — or another file, one the host put there. The kernel keeps following the
//! open description's name through renames, and `/proc/self/fd/N` reads it back; this is
//! used wherever acting on a stale name would harm someone: delete-on-close (it must
//! never remove the host's new file under the old name), the source of a rename, and the
//! names a client reads back (FileNameInformation and its kin).
//!
//! One statx(2) when the recorded name still names the object (the usual case); after
//! a host rename two readlink(2) calls (the object's and the share root's, which the
//! host may have renamed too). Nothing is cached, so nothing goes stale.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Component, Path, PathBuf};

use crate::error::FsError;
use crate::posix_handle::PosixHandle;
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

impl PosixHandle {
    /// The object's on-disk path relative to the share root as it is now, recorded as
    /// [`Handle::rel_path`] if it changed (a host rename); for a named stream
    /// "base:name" with the base's current path. `None` when the object has no name in
    /// the share any more: unlinked (by the host), moved out of the share, or under a
    /// name no SMB client can use (not UTF-8).
    pub fn current_rel_path(&self) -> Result<Option<String>, FsError> {
        // The usual case, in one statx: the recorded name still names this object.
        let rel = self.rel_path();
        let (base, _) = crate::rel_path::split_rel_stream(&rel);
        if base.is_empty() || self.recorded_name_holds(base) {
            return Ok(Some(rel));
        }
        let path = match fd_path(self.fd()) {
            Ok(p) => p,
            // No /proc: the recorded name, if it still names this object.
            Err(FsError::NotFound | FsError::PathNotFound) => return Ok(self.named_by(&self.root, base)?.then_some(rel)),
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
        if now != rel {
            self.set_rel_path(now.clone());
        }
        Ok(Some(now))
    }

    /// Whether `base`, looked up from the share root, leads to this very object (not
    /// following a final symlink). Only a comparison: whatever the lookup passes through,
    /// a name is reported or acted on only after a confined lookup of its own.
    fn recorded_name_holds(&self, base: &str) -> bool {
        let Ok(name) = cstr(base) else { return false };
        sys::statx(self.root.fd.as_fd(), &name, libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT)
            .and_then(|at| self.is_object_of(&at))
            .unwrap_or(false)
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
        Ok(self.is_object_of(&at)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{params, parse, share};
    use opportune_types::create::CreateDisposition::Open;

    /// The recorded name while it holds; the new one after a host rename, also when the
    /// host put another file under the old name; none once the host unlinked it.
    #[test]
    fn follows_host_renames_and_unlinks() {
        for shared in [false, true] {
            let (t, s) = share("current-path", false);
            s.share_descriptions(shared);
            std::fs::create_dir(t.path().join("d")).unwrap();
            std::fs::write(t.path().join("d/a"), b"mine").unwrap();
            let h = s.create(&parse("d\\a"), &params(Open, None)).unwrap().handle;
            assert_eq!(h.current_rel_path().unwrap().as_deref(), Some("d/a"));
            std::fs::rename(t.path().join("d/a"), t.path().join("b")).unwrap();
            std::fs::write(t.path().join("d/a"), b"the host's").unwrap();
            assert_eq!(h.current_rel_path().unwrap().as_deref(), Some("b"), "shared: {shared}");
            assert_eq!(h.rel_path(), "b", "recorded");
            std::fs::remove_file(t.path().join("b")).unwrap();
            assert_eq!(h.current_rel_path().unwrap(), None);
        }
    }

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
