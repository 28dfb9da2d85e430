//! Temporary directories for unit tests (under `std::env::temp_dir()`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory, removed (best effort) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("opportune-fs-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

use opportune_types::create::CreateDisposition;

use crate::{CreateParams, Ea, Share, SmbPath};

/// A temp dir with a share on it.
pub fn share(tag: &str, case_sensitive: bool) -> (TempDir, Share) {
    let t = TempDir::new(tag);
    let s = Share::new(t.path(), case_sensitive).unwrap();
    (t, s)
}

/// A case-insensitive share on a temp dir whose file system takes user xattrs; None
/// (the test is skipped) where it does not.
pub fn xattr_share(tag: &str) -> Option<(TempDir, Share)> {
    let (t, s) = share(tag, false);
    xattrs_supported(t.path()).then_some((t, s))
}

/// CreateParams with no attributes and no allocation.
pub fn params(disposition: CreateDisposition, directory: Option<bool>) -> CreateParams {
    CreateParams {
        disposition,
        directory,
        write: true,
        attributes: 0,
        allocation_size: 0,
        metadata_only: false,
    }
}

/// A client path that must parse.
pub fn parse(s: &str) -> SmbPath {
    SmbPath::parse(s).unwrap()
}

/// An EA without flags.
pub fn ea(name: &str, value: &[u8]) -> Ea {
    Ea { flags: 0, name: name.into(), value: value.to_vec() }
}

/// Whether the file system under `dir` takes user xattrs.
pub fn xattrs_supported(dir: &Path) -> bool {
    use std::os::fd::AsFd;
    let p = dir.join(".xattr-probe");
    let f = std::fs::File::create(&p).unwrap();
    let ok = crate::sys::fsetxattr(f.as_fd(), c"user.opportune.probe", b"1").is_ok();
    let _ = std::fs::remove_file(&p);
    if !ok {
        eprintln!(
            "note: no user xattrs under {}; skipping xattr assertions",
            dir.display()
        );
    }
    ok
}
