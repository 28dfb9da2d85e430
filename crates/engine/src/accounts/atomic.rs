//! Replacing a small file atomically with mode 0600: the users file and the domain SID.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `bytes` to a temporary file beside `path` (mode 0600, flushed to disk), then
/// renames it over `path`, so readers see the old content or the new, never a part.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    place(path, bytes, |tmp, path| std::fs::rename(tmp, path))
}

/// As [`write`], but only if `path` does not exist yet (a hard link, which never
/// replaces): `AlreadyExists` otherwise, so two processes creating the same file at once
/// agree on one content.
pub fn create_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    place(path, bytes, |tmp, path| std::fs::hard_link(tmp, path).and_then(|()| std::fs::remove_file(tmp)))
}

fn place(path: &Path, bytes: &[u8], put: impl FnOnce(&Path, &Path) -> std::io::Result<()>) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".{}.{:016x}.tmp", name.to_string_lossy(), u64::from_le_bytes(nonce)));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        put(&tmp, path)?;
        // The new name itself reaches the disk with the directory.
        std::fs::File::open(dir).and_then(|d| d.sync_all()).or(Ok(()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
