//! The share root as every layer above the encodings sees it: the root directory's
//! descriptor, how names are matched (MS-FSA 2.1.5.1 IsCaseInsensitive), the cache of
//! scanned directory names and the disk-space policy, shared by a `Share` and the
//! handles opened through it; and the confined opens every lookup is made of.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use crate::description::{Description, Descriptions, Found};
use crate::error::FsError;
use crate::info::{statx_is_dir, statx_is_file};
use crate::namecache::NameCache;
use crate::rel_path::cstr;
use crate::space::SpacePolicy;
use crate::sys;

/// Flags to open a base object for its xattrs: files and directories alike,
/// never blocking on a FIFO.
const BASE_FLAGS: i32 = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;

/// What [`Root::open_shared`] found. Returned once per open and matched at once, never
/// stored: the statx stays inline rather than costing an allocation per open.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Shared {
    /// The file's shared description (or why it could not be had), and its statx.
    Found(io::Result<Found>, libc::statx),
    /// No object has the name.
    Missing,
    /// Not for a shared description: the caller opens it itself.
    Unshared,
}

/// State shared by a `Share` and the handles opened through it.
pub(crate) struct Root {
    /// The share root, opened O_PATH | O_DIRECTORY. Every lookup starts here
    /// with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS).
    pub(crate) fd: OwnedFd,
    pub(crate) case_sensitive: bool,
    /// Names of scanned directories, for case-insensitive misses.
    pub(crate) names: NameCache,
    /// How disk space is handed out (the `space` module).
    pub(crate) space: SpacePolicy,
    /// The shared descriptions of its regular files, when it shares them.
    pub(crate) descriptions: Descriptions,
}

impl Root {
    /// Opens `root`, which must be a directory.
    pub(crate) fn open(root: &Path, case_sensitive: bool, space: SpacePolicy) -> Result<Root, FsError> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(root)
            .map_err(FsError::from)?;
        Ok(Root {
            fd: file.into(),
            case_sensitive,
            names: NameCache::new(),
            space,
            descriptions: Descriptions::default(),
        })
    }

    /// openat2 of an on-disk relative path ("" is the root), confined.
    pub(crate) fn open_rel(&self, rel: &str, flags: i32) -> io::Result<OwnedFd> {
        let c = cstr(rel).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        sys::openat2(self.fd.as_fd(), &c, flags, 0, sys::CONFINED)
    }

    /// An O_PATH fd of a directory that is expected to exist (a parent):
    /// missing or not a directory is `PathNotFound`.
    pub(crate) fn open_dir(&self, rel: &str) -> Result<OwnedFd, FsError> {
        self.open_rel(rel, libc::O_PATH | libc::O_DIRECTORY)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT | libc::ENOTDIR) => FsError::PathNotFound,
                _ => e.into(),
            })
    }

    /// Device and inode of what on-disk `rel` names now ("" is the root), in one statx
    /// and without opening it; the last component is not followed if a symlink. Not
    /// confined: for comparing with an identity known to be in the share only.
    pub(crate) fn identity_of(&self, rel: &str) -> io::Result<(u64, u64)> {
        let st = if rel.is_empty() {
            sys::fstatx(self.fd.as_fd())?
        } else {
            let c = cstr(rel).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            sys::statx(self.fd.as_fd(), &c, libc::AT_SYMLINK_NOFOLLOW)?
        };
        Ok(crate::description::key(&st))
    }

    /// Opens the base object at on-disk `rel` for stream access; it must be
    /// a regular file or a directory (`AccessDenied` otherwise). Returns the
    /// fd and whether it is a directory.
    /// The file at `rel` is leased and an open would break the lease: which file it is
    /// (an O_PATH open breaks no lease).
    pub(crate) fn lease_held(&self, rel: &str) -> FsError {
        match self.open_rel(rel, libc::O_PATH).and_then(|fd| sys::fstatx(fd.as_fd())) {
            Ok(st) => FsError::LeaseHeld { dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor), ino: st.stx_ino },
            Err(e) => e.into(),
        }
    }

    /// On a share that shares descriptions, the regular file at `rel` through the
    /// description all its opens share (an O_PATH open first, which breaks no lease), with
    /// its statx. [`Shared::Missing`] when nothing has that name (ENOENT: the caller need
    /// not look again); [`Shared::Unshared`] when sharing is off or `rel` is not a regular
    /// file that can be looked up, for the caller's own open (which reports why not).
    pub(crate) fn open_shared(&self, rel: &str, write: bool) -> Shared {
        if !self.descriptions.is_enabled() {
            return Shared::Unshared;
        }
        let path_fd = match self.open_rel(rel, libc::O_PATH) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Shared::Missing,
            Err(_) => return Shared::Unshared,
        };
        let Ok(st) = sys::fstatx(path_fd.as_fd()) else { return Shared::Unshared };
        if !statx_is_file(&st) {
            return Shared::Unshared;
        }
        match self.descriptions.file(path_fd.as_fd(), &st, write) {
            // No /proc to reopen through (or the file went meanwhile): the caller's own
            // open decides, unshared.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Shared::Unshared,
            found => Shared::Found(found, st),
        }
    }

    pub(crate) fn open_base(&self, rel: &str) -> Result<(Arc<Description>, bool), FsError> {
        match self.open_shared(rel, false) {
            Shared::Found(Ok(f), _) => return Ok((f.description, false)),
            Shared::Found(Err(e), _) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => return Err(self.lease_held(rel)),
            Shared::Found(Err(e), _) => return Err(e.into()),
            Shared::Missing => return Err(FsError::NotFound),
            Shared::Unshared => {}
        }
        let fd = self.open_rel(rel, BASE_FLAGS).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTDIR) => FsError::PathNotFound,
            // O_NONBLOCK met a Linux lease this open conflicts with.
            Some(libc::EWOULDBLOCK) => self.lease_held(rel),
            _ => FsError::from(e),
        })?;
        let st = sys::fstatx(fd.as_fd())?;
        let is_dir = statx_is_dir(&st);
        if !is_dir && !statx_is_file(&st) {
            return Err(FsError::AccessDenied);
        }
        Ok((Description::own(fd.into(), false), is_dir))
    }
}
