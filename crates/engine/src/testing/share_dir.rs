//! The share root of one world: a fresh directory under the system temporary directory,
//! unique per world, removed when the world is dropped (also when a test panics).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A temporary directory that is removed with everything in it on drop.
pub struct TempShare {
    path: PathBuf,
}

impl TempShare {
    /// Creates `$TMPDIR/opportune-world-<pid>-<n>-<label>`.
    pub fn new(label: &str) -> TempShare {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let clean: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(40).collect();
        let path = std::env::temp_dir().join(format!("opportune-world-{}-{n}-{clean}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("world share directory");
        TempShare { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `rel` (with `/` separators) inside the share.
    pub fn file(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempShare {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
