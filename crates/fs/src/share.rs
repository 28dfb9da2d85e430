//! The share: the public face of the file-system layer. A [`Share`] holds the
//! share root (the `root` module) and hands each request to the operation that
//! implements it; the operations know nothing of it.

use std::path::Path;
use std::sync::Arc;

use crate::create;
use crate::create_types::{CreateParams, Opened};
use crate::ea::{eas_at, security_descriptor_at};
use crate::ea_blob::Ea;
use crate::error::FsError;
use crate::handle::Handle;
use crate::info::{FileInfo, FsStats};
use crate::path::SmbPath;
use crate::remove;
use crate::rename::{rename, Replaced};
use crate::root::Root;
use crate::space::SpacePolicy;
use crate::stat::stat;
use crate::volume;

/// A share root. Nothing outside it can be reached: not by "..", not by an
/// absolute path, not by a symlink inside the share that points out (such a
/// lookup fails with `Escape`). A symlink that stays inside is followed.
#[derive(Clone)]
pub struct Share {
    pub(crate) root: Arc<Root>,
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
        Ok(Share { root: Arc::new(Root::open(root, case_sensitive, space)?) })
    }

    /// Makes every open of a regular file from now on share one open file description
    /// of that file (on: a share with kernel oplocks, so that the server's own opens do
    /// not break its Linux leases; see the `description` module), or have its own (off,
    /// the default). Handles opened before keep theirs.
    pub fn share_descriptions(&self, on: bool) {
        self.root.descriptions.set_enabled(on);
    }

    /// Whether names are compared case-sensitively.
    pub fn case_sensitive(&self) -> bool {
        self.root.case_sensitive
    }

    /// Volume sizes (MS-FSCC 2.5.8 FileFsFullSizeInformation): allocation
    /// units of `f_frsize` bytes, reported as 512-byte sectors per unit.
    pub fn statfs(&self) -> Result<FsStats, FsError> {
        volume::stats(&self.root)
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
        create::create(&self.root, path, p)
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
        rename(&self.root, from, to, replace)
    }

    /// [`Share::rename`], also answering what object it replaced (device, inode, link
    /// count before), if any.
    pub fn rename_replacing(&self, from: &str, to: &SmbPath, replace: bool) -> Result<(String, Option<Replaced>), FsError> {
        let mut replaced = None;
        let rel = crate::rename::rename_replacing(&self.root, from, to, replace, &mut replaced)?;
        Ok((rel, replaced))
    }

    /// Info of an on-disk relative path (as in `Opened::rel_path`) without
    /// opening it for data, so no lease is broken. Symlinks inside the share
    /// are followed. A named stream ("base:name", see `Handle::rel_path`)
    /// reports as a stream open's `info` does; a missing one is `NotFound`.
    /// An `O_PATH` descriptor of the directory at on-disk `rel`, confined to the share
    /// (for an inotify watch: no data access, no lease break, no share-mode effect).
    pub fn open_dir(&self, rel: &str) -> Result<std::os::fd::OwnedFd, FsError> {
        self.root.open_dir(rel)
    }

    /// The on-disk relative paths of the subdirectories of the directory at `rel`, at
    /// most `max` of them (for a recursive host watch: symlinks are not followed, names
    /// that are not UTF-8 or are the server's own short-lived entries are left out).
    pub fn subdirectories(&self, rel: &str, max: usize) -> Result<Vec<String>, FsError> {
        use std::os::fd::AsFd;
        let dir = self.root.open_dir(rel)?;
        let mut out = Vec::new();
        for raw in crate::dirents::list_names(dir.as_fd())? {
            if out.len() >= max {
                break;
            }
            let Ok(name) = std::str::from_utf8(&raw) else { continue };
            if name.starts_with(".opportune-") {
                continue;
            }
            let Ok(c) = crate::rel_path::cstr(name) else { continue };
            match crate::sys::statx(dir.as_fd(), &c, libc::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if crate::info::statx_is_dir(&st) => out.push(crate::rel_path::join(rel, name)),
                _ => {}
            }
        }
        Ok(out)
    }

    pub fn stat(&self, rel: &str) -> Result<FileInfo, FsError> {
        stat(&self.root, rel)
    }

    /// unlink(2) or rmdir(2) of an on-disk relative path. A non-empty
    /// directory is `NotEmpty`; a symlink is removed itself, not its target.
    /// A named stream ("base:name", see `Handle::rel_path`) is removed
    /// alone, leaving its base and the other streams; a missing one is
    /// `NotFound`. Removing a file drops its streams with it.
    pub fn remove(&self, rel: &str, is_dir: bool) -> Result<(), FsError> {
        remove::remove(&self.root, rel, is_dir)
    }

    /// Removes the object `handle` has open (its delete-on-close), under the name it has
    /// now ([`Handle::current_rel_path`]): a file a host program renamed is removed under
    /// its new name, and a file the host put under the old name is left alone. Returns the
    /// path removed, or None when there was nothing to remove: the object has no name in
    /// the share any more, or the name stopped naming it between the look and the unlink
    /// (the one window left: a host rename in the microseconds between the two calls).
    /// `base_only`: for a stream open, remove its base file (the last open of a stream of
    /// a delete-pending file).
    pub fn remove_open(&self, handle: &Handle, is_dir: bool, base_only: bool) -> Result<Option<String>, FsError> {
        // The usual case, in one look: the recorded name still names the object.
        if handle.stream_name().is_none()
            && let Some(removed) = remove::remove_if_named(&self.root, handle, is_dir)?
        {
            return Ok(Some(removed));
        }
        let Some(rel) = handle.current_rel_path()? else { return Ok(None) };
        let (base, _) = crate::rel_path::split_rel_stream(&rel);
        let target = if base_only { base } else { rel.as_str() };
        if !handle.named_by(&self.root, base)? {
            return Ok(None);
        }
        remove::remove(&self.root, target, is_dir && !base_only)?;
        Ok(Some(target.to_string()))
    }

    /// Whether a directory has entries other than "." and ".." (MS-FSA 2.1.5.14.3
    /// FileDispositionInformation: a non-empty directory cannot be deleted).
    pub fn is_dir_empty(&self, rel: &str) -> Result<bool, FsError> {
        remove::is_dir_empty(&self.root, rel)
    }

    /// The EAs of the on-disk relative path `rel` (as in a directory listing),
    /// read without opening the file for data where the kernel allows it.
    pub fn eas_at(&self, rel: &str) -> Result<Vec<Ea>, FsError> {
        eas_at(&self.root, rel)
    }

    /// The security descriptor stored for the on-disk relative path `rel` (a
    /// directory whose children are being created or deleted), if any.
    pub fn security_descriptor_at(&self, rel: &str) -> Result<Option<Vec<u8>>, FsError> {
        security_descriptor_at(&self.root, rel)
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
