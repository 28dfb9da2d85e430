//! The share root and the operations that take an on-disk relative path.

use std::fs::OpenOptions;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use crate::dosattr;
use crate::error::FsError;
use crate::info::{FileInfo, FsStats, statx_is_dir, statx_is_file};
use crate::rel_path::{cstr, split_last, split_rel, split_rel_stream};
use crate::stream::{self, StreamName};
use crate::sys;
use std::os::unix::fs::PermissionsExt;

/// State shared by a [`Share`] and the handles opened through it.
pub(crate) struct Inner {
    /// The share root, opened O_PATH | O_DIRECTORY. Every lookup starts here
    /// with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS).
    pub(crate) root: OwnedFd,
    pub(crate) case_sensitive: bool,
    /// Names of scanned directories, for case-insensitive misses.
    pub(crate) names: crate::namecache::NameCache,
    /// How disk space is handed out (the `space` module).
    pub(crate) space: crate::space::SpacePolicy,
}

/// A share root. Nothing outside it can be reached: not by "..", not by an
/// absolute path, not by a symlink inside the share that points out (such a
/// lookup fails with `Escape`). A symlink that stays inside is followed.
#[derive(Clone)]
pub struct Share {
    pub(crate) inner: Arc<Inner>,
}

impl Share {
    /// Opens `root` (which must be a directory) as a share. With
    /// `case_sensitive == false` names are matched ignoring case
    /// (MS-FSA 2.1.5.1 IsCaseInsensitive).
    pub fn new(root: &Path, case_sensitive: bool) -> Result<Share, FsError> {
        Share::with_space(root, case_sensitive, crate::space::SpacePolicy::default())
    }

    /// Like [`Share::new`], with the disk-space policy `space`.
    pub fn with_space(root: &Path, case_sensitive: bool, space: crate::space::SpacePolicy) -> Result<Share, FsError> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(root)
            .map_err(FsError::from)?;
        Ok(Share {
            inner: Arc::new(Inner {
                root: file.into(),
                case_sensitive,
                names: crate::namecache::NameCache::new(),
                space,
            }),
        })
    }

    /// Whether names are compared case-sensitively.
    pub fn case_sensitive(&self) -> bool {
        self.inner.case_sensitive
    }

    /// Volume sizes (MS-FSCC 2.5.8 FileFsFullSizeInformation): allocation
    /// units of `f_frsize` bytes, reported as 512-byte sectors per unit.
    pub fn statfs(&self) -> Result<FsStats, FsError> {
        let st = sys::fstatvfs(self.inner.root.as_fd())?;
        let frsize = if st.f_frsize != 0 {
            st.f_frsize
        } else {
            st.f_bsize
        } as u64;
        let (unit, scale_num) =
            if frsize >= 512 && frsize.is_multiple_of(512) && frsize / 512 <= u64::from(u32::MAX) {
                (frsize, 1)
            } else {
                (4096, frsize) // odd block size: express the volume in 4 KiB units
            };
        let conv = |blocks: u64| {
            if scale_num == 1 {
                blocks
            } else {
                blocks.saturating_mul(scale_num) / unit
            }
        };
        Ok(FsStats {
            total_units: conv(st.f_blocks as u64),
            free_units: conv(st.f_bfree as u64),
            avail_units: conv(st.f_bavail as u64),
            sectors_per_unit: (unit / 512) as u32,
            bytes_per_sector: 512,
            max_name_len: u32::try_from(st.f_namemax).unwrap_or(255).min(255),
        })
    }

    /// Info of an on-disk relative path (as in `Opened::rel_path`) without
    /// opening it for data, so no lease is broken. Symlinks inside the share
    /// are followed. A named stream ("base:name", see `Handle::rel_path`)
    /// reports as a stream open's `info` does; a missing one is `NotFound`.
    pub fn stat(&self, rel: &str) -> Result<FileInfo, FsError> {
        if let (base, Some(name)) = split_rel_stream(rel) {
            if split_rel(base)?.is_empty() {
                return Err(FsError::InvalidName);
            }
            let s = StreamName::new(name)?;
            let mut info = self.stat(base)?;
            let (fd, _) = self.inner.open_base(base)?;
            let (_, data) = stream::get(fd.as_fd(), &s)?.ok_or(FsError::NotFound)?;
            info.size = data.len() as u64;
            info.allocation_size = stream::allocation(info.size);
            info.is_dir = false;
            info.stream = s.hash;
            return Ok(info);
        }
        split_rel(rel)?;
        let fd = self
            .inner
            .open_rel(rel, libc::O_PATH)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOTDIR) => FsError::PathNotFound,
                _ => FsError::from(e),
            })?;
        let st = sys::fstatx(fd.as_fd())?;
        let dos = match dosattr::read_at(fd.as_fd(), c"") {
            Ok(Some(d)) => Some(d),
            // O_PATH fd and no getxattrat: open the object for reading.
            _ if statx_is_dir(&st) || statx_is_file(&st) => {
                let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
                let rd = self.inner.open_rel(rel, flags).ok();
                rd.and_then(|f| dosattr::read_fd(f.as_fd()).ok().flatten())
            }
            _ => None,
        };
        Ok(FileInfo::from_statx(&st, dos))
    }

    /// unlink(2) or rmdir(2) of an on-disk relative path. A non-empty
    /// directory is `NotEmpty`; a symlink is removed itself, not its target.
    /// A named stream ("base:name", see `Handle::rel_path`) is removed
    /// alone, leaving its base and the other streams; a missing one is
    /// `NotFound`. Removing a file drops its streams with it.
    pub fn remove(&self, rel: &str, is_dir: bool) -> Result<(), FsError> {
        if let (base, Some(name)) = split_rel_stream(rel) {
            if split_rel(base)?.is_empty() {
                return Err(FsError::InvalidName);
            }
            let s = StreamName::new(name)?;
            let (fd, base_is_dir) = self.inner.open_base(base)?;
            let st = sys::fstatx(fd.as_fd())?;
            let mode = u32::from(st.stx_mode) & 0o7777;
            // xattr changes need write permission on the inode: lend the
            // owner's write bit to a read-only file for the moment.
            let lend = !base_is_dir && mode & 0o200 == 0;
            let file = std::fs::File::from(fd);
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
        let dir = self.inner.open_dir(parent)?;
        let cname = cstr(name)?;
        let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
        match sys::unlinkat(dir.as_fd(), &cname, flags) {
            Ok(()) => Ok(()),
            Err(e) => match e.raw_os_error() {
                Some(libc::ENOTEMPTY | libc::EEXIST) => Err(FsError::NotEmpty),
                // A directory reached through a symlink: remove the link.
                Some(libc::ENOTDIR) if is_dir => {
                    let st = sys::statx(dir.as_fd(), &cname, libc::AT_SYMLINK_NOFOLLOW)?;
                    if u32::from(st.stx_mode) & libc::S_IFMT == libc::S_IFLNK {
                        Ok(sys::unlinkat(dir.as_fd(), &cname, 0)?)
                    } else {
                        Err(FsError::NotADirectory)
                    }
                }
                _ => Err(e.into()),
            },
        }
    }

    /// Whether a directory has entries other than "." and "..".
    pub fn is_dir_empty(&self, rel: &str) -> Result<bool, FsError> {
        split_rel(rel)?;
        let fd = self
            .inner
            .open_rel(rel, libc::O_RDONLY | libc::O_DIRECTORY)
            .map_err(FsError::from)?;
        Ok(crate::dirents::list_names(fd.as_fd())?.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn statfs_is_sane() {
        let t = TempDir::new("statfs");
        let s = Share::new(t.path(), false).unwrap();
        let st = s.statfs().unwrap();
        assert!(st.total_units > 0);
        assert!(st.free_units <= st.total_units);
        assert!(st.avail_units <= st.free_units);
        assert_eq!(st.bytes_per_sector, 512);
        assert!(st.sectors_per_unit >= 1);
        assert_eq!(st.max_name_len, 255);
    }

    #[test]
    fn new_requires_directory() {
        let t = TempDir::new("newdir");
        std::fs::write(t.path().join("f"), b"").unwrap();
        assert!(Share::new(&t.path().join("f"), false).is_err());
        assert!(matches!(
            Share::new(&t.path().join("missing"), false),
            Err(FsError::NotFound)
        ));
    }

    #[test]
    fn stat_remove_and_emptiness() {
        let t = TempDir::new("remove");
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/f"), b"abc").unwrap();
        let s = Share::new(t.path(), true).unwrap();
        let info = s.stat("d/f").unwrap();
        assert_eq!(info.size, 3);
        assert!(!info.is_dir);
        assert!(s.stat("").unwrap().is_dir);
        assert!(matches!(s.stat("d/nope"), Err(FsError::NotFound)));
        assert!(matches!(s.stat("d/f/x"), Err(FsError::PathNotFound)));
        assert!(matches!(s.stat("../etc"), Err(FsError::InvalidName)));
        assert!(!s.is_dir_empty("d").unwrap());
        assert!(matches!(s.remove("d", true), Err(FsError::NotEmpty)));
        assert!(matches!(s.remove("d/f", true), Err(FsError::NotADirectory)));
        s.remove("d/f", false).unwrap();
        assert!(s.is_dir_empty("d").unwrap());
        s.remove("d", true).unwrap();
        assert!(!t.path().join("d").exists());
        assert!(matches!(
            s.remove("d", true),
            Err(FsError::PathNotFound | FsError::NotFound)
        ));
        assert!(matches!(s.remove("", true), Err(FsError::AccessDenied)));
    }
}
