//! The share: the public face of the file-system layer. A [`Share`] holds a backend
//! (`backend`): the POSIX one on a directory of the host (`posix_backend`, the share root
//! of the `root` module), or the in-memory double (`memory`); it hands each request to it.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

use crate::backend::Backend;
use crate::create_types::{CreateParams, Opened};
use crate::ea_blob::Ea;
use crate::error::FsError;
use crate::handle::Handle;
use crate::info::{FileInfo, FsStats};
use crate::memory::MemoryFs;
use crate::path::SmbPath;
use crate::posix_backend::PosixShare;
use crate::rename::Replaced;
use crate::root::Root;
use crate::space::SpacePolicy;

/// A share root. Nothing outside it can be reached: not by "..", not by an
/// absolute path, not by a symlink inside the share that points out (such a
/// lookup fails with `Escape`). A symlink that stays inside is followed.
#[derive(Clone)]
pub struct Share {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Posix(PosixShare),
    Memory(Arc<MemoryFs>),
}

impl Share {
    /// Opens `root` (which must be a directory) as a share. With
    /// `case_sensitive == false` names are matched ignoring case
    /// (MS-FSA 2.1.5.1 IsCaseInsensitive).
    pub fn new(root: &Path, case_sensitive: bool) -> Result<Share, FsError> {
        Share::with_space(root, case_sensitive, SpacePolicy::default())
    }

    /// Like [`Share::new`], with the disk-space policy `space`.
    pub fn with_space(root: &Path, case_sensitive: bool, space: SpacePolicy) -> Result<Share, FsError> {
        let root = Arc::new(Root::open(root, case_sensitive, space)?);
        Ok(Share { inner: Inner::Posix(PosixShare(root)) })
    }

    /// A share on the in-memory double `fs` (the test world's): no host, so no kernel
    /// leases, host locks or host watches ([`Handle::host_fd`] is `None`).
    pub fn in_memory(fs: Arc<MemoryFs>) -> Share {
        Share { inner: Inner::Memory(fs) }
    }

    /// The in-memory file system behind this share, if it is one (for faults and budgets).
    pub fn memory(&self) -> Option<&Arc<MemoryFs>> {
        match &self.inner {
            Inner::Memory(m) => Some(m),
            Inner::Posix(_) => None,
        }
    }

    #[inline]
    fn backend(&self) -> &dyn Backend {
        match &self.inner {
            Inner::Posix(p) => p,
            Inner::Memory(m) => &**m,
        }
    }

    /// The POSIX share root (unit tests of the POSIX modules).
    #[cfg(test)]
    pub(crate) fn root(&self) -> &Arc<Root> {
        match &self.inner {
            Inner::Posix(p) => &p.0,
            Inner::Memory(_) => panic!("not a POSIX share"),
        }
    }

    /// Makes every open of a regular file from now on share one open file description
    /// of that file (on: a share with kernel oplocks, so that the server's own opens do
    /// not break its Linux leases; see the `description` module), or have its own (off,
    /// the default). Handles opened before keep theirs. No effect without a host.
    pub fn share_descriptions(&self, on: bool) {
        self.backend().share_descriptions(on)
    }

    /// Whether the share is a directory tree of the host (the POSIX backend), which host
    /// programs and `std::fs` walks see; not the in-memory double.
    pub fn on_host(&self) -> bool {
        self.backend().on_host()
    }

    /// Whether names are compared case-sensitively.
    pub fn case_sensitive(&self) -> bool {
        self.backend().case_sensitive()
    }

    /// Volume sizes (MS-FSCC 2.5.8 FileFsFullSizeInformation): allocation
    /// units of `f_frsize` bytes, reported as 512-byte sectors per unit.
    pub fn statfs(&self) -> Result<FsStats, FsError> {
        self.backend().statfs()
    }

    /// Opens or creates `path` following the CreateDisposition rules of
    /// MS-FSA 2.1.5.1:
    ///
    /// | disposition | exists | missing |
    /// |---|---|---|
    /// | Open | open | `NotFound` |
    /// | Create | `Exists` | create |
    /// | OpenIf | open | create |
    /// | Overwrite | truncate | `NotFound` |
    /// | OverwriteIf | truncate | create |
    /// | Supersede | truncate | create |
    ///
    /// A missing parent is `PathNotFound`. FILE_DIRECTORY_FILE on a file is
    /// `NotADirectory`, FILE_NON_DIRECTORY_FILE on a directory is
    /// `IsADirectory`. FILE_DIRECTORY_FILE with a truncating disposition, or
    /// a truncating disposition on an existing directory, is
    /// `InvalidParameter` (directories are created only by Create/OpenIf).
    /// Overwriting a HIDDEN or SYSTEM file without asking for that
    /// attribute is `AccessDenied` (MS-FSA 2.1.5.1.2.1). A trailing `\`
    /// demands a directory (`InvalidName` otherwise).
    ///
    /// Named streams (`name:stream[:$DATA]`): FILE_DIRECTORY_FILE is
    /// `NotADirectory` (also with `name::$DATA`, which on a directory is
    /// `IsADirectory`); the base is looked up as usual and created as an
    /// empty file if missing and the disposition creates; the disposition
    /// applies to the stream (see the `stream` module).
    pub fn create(&self, path: &SmbPath, p: &CreateParams) -> Result<Opened, FsError> {
        self.backend().create(path, p)
    }

    /// Renames the object at on-disk relative path `from` to the client
    /// path `to`; returns the new on-disk relative path.
    ///
    /// * The target is looked up like any name (case-insensitively on such
    ///   shares); its parent must exist (`PathNotFound`).
    /// * An existing target is `Exists` unless `replace`; with `replace`, a
    ///   file is replaced atomically but a directory never is (`AccessDenied`).
    /// * A target that is the source itself (a case-only change) is renamed
    ///   to the client's spelling.
    /// * The new name keeps the client's case, also when replacing.
    /// * Moving a directory below itself is `InvalidParameter`.
    /// * Streams are not renamed: a named stream as source or target is
    ///   `InvalidParameter` (see `rename_stream`).
    pub fn rename(&self, from: &str, to: &SmbPath, replace: bool) -> Result<String, FsError> {
        self.backend().rename_replacing(from, to, replace).map(|(rel, _)| rel)
    }

    /// [`Share::rename`], also answering what object it replaced (device, inode, link
    /// count before), if any.
    pub fn rename_replacing(&self, from: &str, to: &SmbPath, replace: bool) -> Result<(String, Option<Replaced>), FsError> {
        self.backend().rename_replacing(from, to, replace)
    }

    /// An `O_PATH` descriptor of the directory at on-disk `rel`, confined to the share
    /// (for an inotify watch: no data access, no lease break, no share-mode effect).
    /// `NotSupported` without a host.
    pub fn open_dir(&self, rel: &str) -> Result<OwnedFd, FsError> {
        self.backend().open_dir(rel)
    }

    /// Device and inode of what on-disk `rel` names now, in one statx (a final symlink
    /// not followed, nothing opened): whether a kept inotify watch of `rel` still
    /// watches what `rel` names. `NotSupported` without a host.
    pub fn identity_of(&self, rel: &str) -> Result<(u64, u64), FsError> {
        self.backend().identity_of(rel)
    }

    /// The on-disk relative paths of the subdirectories of the directory at `rel`, at
    /// most `max` of them (for a recursive host watch: symlinks are not followed, names
    /// that are not UTF-8 or are the server's own short-lived entries are left out).
    pub fn subdirectories(&self, rel: &str, max: usize) -> Result<Vec<String>, FsError> {
        self.backend().subdirectories(rel, max)
    }

    /// Info of an on-disk relative path (as in `Opened::rel_path`) without
    /// opening it for data, so no lease is broken. Symlinks inside the share
    /// are followed. A named stream ("base:name", see `Handle::rel_path`)
    /// reports as a stream open's `info` does; a missing one is `NotFound`.
    pub fn stat(&self, rel: &str) -> Result<FileInfo, FsError> {
        self.backend().stat(rel)
    }

    /// unlink(2) or rmdir(2) of an on-disk relative path. A non-empty
    /// directory is `NotEmpty`; a symlink is removed itself, not its target.
    /// A named stream ("base:name", see `Handle::rel_path`) is removed
    /// alone, leaving its base and the other streams; a missing one is
    /// `NotFound`. Removing a file drops its streams with it.
    pub fn remove(&self, rel: &str, is_dir: bool) -> Result<(), FsError> {
        self.backend().remove(rel, is_dir)
    }

    /// Removes the object `handle` has open (its delete-on-close), under the name it has
    /// now ([`Handle::current_rel_path`]): a file a host program renamed is removed under
    /// its new name, and a file the host put under the old name is left alone. Returns the
    /// path removed, or None when there was nothing to remove: the object has no name in
    /// the share any more, or the name stopped naming it between the look and the unlink
    /// (the one window left: a host rename in the microseconds between the two calls).
    /// `base_only`: for a stream open, remove its base file (the last open of a stream of
    /// a delete-pending file). A handle of another backend is `InvalidParameter`.
    pub fn remove_open(&self, handle: &Handle, is_dir: bool, base_only: bool) -> Result<Option<String>, FsError> {
        self.backend().remove_open(handle, is_dir, base_only)
    }

    /// Whether a directory has entries other than "." and ".." (MS-FSA 2.1.5.14.3
    /// FileDispositionInformation: a non-empty directory cannot be deleted).
    pub fn is_dir_empty(&self, rel: &str) -> Result<bool, FsError> {
        self.backend().is_dir_empty(rel)
    }

    /// The EAs of the on-disk relative path `rel` (as in a directory listing),
    /// read without opening the file for data where the kernel allows it.
    pub fn eas_at(&self, rel: &str) -> Result<Vec<Ea>, FsError> {
        self.backend().eas_at(rel)
    }

    /// The security descriptor stored for the on-disk relative path `rel` (a
    /// directory whose children are being created or deleted), if any.
    pub fn security_descriptor_at(&self, rel: &str) -> Result<Option<Vec<u8>>, FsError> {
        self.backend().security_descriptor_at(rel)
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
