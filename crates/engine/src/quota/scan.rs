//! The scan that builds a share's usage table: at start and at every reload, on a
//! thread of its own, so neither waits for it.
//!
//! * It walks the share's directory tree (symlinks are not followed), and records each
//!   file and directory under its (device, inode) with its size and the owner of its
//!   stored security descriptor (`user.opportune.sd`; none: unowned). Cost: one
//!   `lstat` per entry and one `getxattr` per entry with a readable name; at most
//!   [`MAX_ENTRIES`] entries (then it stops, logs a warning and drops nothing).
//! * Until it ends, requests are checked against what is known: the files the scan has
//!   seen and every file a request touched. A user may so exceed a limit by what they
//!   write during the scan after a restart (the limit then refuses further growth); a
//!   scan of a few thousand files takes milliseconds.
//! * Programs on the host change files behind the server: an open of a file corrects
//!   that file's entry, and the next reload's scan corrects everything (entries of files
//!   gone are dropped then).

use super::share_quota::ShareQuota;
use opportune_fs::Share;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;

/// The most entries a scan records (about 50 bytes of memory each).
pub const MAX_ENTRIES: usize = 1_000_000;

/// Starts a scan of the share `name` (root `path`) into `quota`.
pub fn start(name: String, fs: Arc<Share>, path: PathBuf, quota: Arc<ShareQuota>) {
    let epoch = quota.lock().begin_scan();
    let spawned = std::thread::Builder::new().name("quota-scan".into()).spawn(move || {
        // It sees every file, as the server: a thread starts with its creator's
        // credentials, whoever that was (runtime.rs).
        opportune_fs::become_the_server();
        let began = std::time::Instant::now();
        let outcome = if fs.on_host() { walk(&fs, &path, &quota, epoch) } else { walk_share(&fs, &quota, epoch) };
        let complete = outcome == Walk::Complete;
        let mut t = quota.lock();
        t.end_scan(epoch, complete);
        let total = t.total();
        drop(t);
        match outcome {
            Walk::Complete => tracing::info!(share = %name, files = total.files, bytes = total.bytes, took = ?began.elapsed(), "quota scan done"),
            Walk::Superseded => tracing::debug!(share = %name, "quota scan superseded by a newer one"),
            Walk::TooMany => tracing::warn!(share = %name, max = MAX_ENTRIES, "quota scan stopped: too many entries; usage is undercounted"),
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "quota scan not started");
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Walk {
    Complete,
    Superseded,
    TooMany,
}

/// The walk through the file-system layer, for a share that is no directory of the host
/// (the in-memory double): the same entries, ids and owners.
fn walk_share(fs: &Share, quota: &ShareQuota, epoch: u32) -> Walk {
    use opportune_fs::{CreateParams, SmbPath};
    use opportune_types::create::CreateDisposition;
    let p = CreateParams { disposition: CreateDisposition::Open, directory: Some(true), write: false, attributes: 0, allocation_size: 0, metadata_only: true };
    let mut dirs = vec![String::new()];
    let mut seen = 0usize;
    while let Some(dir) = dirs.pop() {
        let Ok(path) = SmbPath::parse(&dir.replace('/', "\\")) else { continue };
        let Ok(entries) = fs.create(&path, &p).and_then(|o| o.handle.read_dir()) else { continue };
        for e in entries {
            seen += 1;
            if seen > MAX_ENTRIES {
                return Walk::TooMany;
            }
            let rel = opportune_fs::join_rel(&dir, &e.name);
            let owner = fs.security_descriptor_at(&rel).ok().flatten().and_then(|b| crate::security::stored(Some(b))).and_then(|sd| sd.owner);
            let size = if e.info.is_dir { 0 } else { e.info.size };
            let mut t = quota.lock();
            t.scanned(epoch, (e.info.dev, e.info.file_id), owner.as_ref(), size);
            if t.epoch() != epoch {
                return Walk::Superseded;
            }
            drop(t);
            if e.info.is_dir {
                dirs.push(rel);
            }
        }
    }
    Walk::Complete
}

fn walk(fs: &Share, root: &std::path::Path, quota: &ShareQuota, epoch: u32) -> Walk {
    let mut dirs = vec![String::new()];
    let mut seen = 0usize;
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else { continue };
        for entry in entries.flatten() {
            let Ok(md) = entry.metadata() else { continue };
            if md.file_type().is_symlink() {
                continue;
            }
            seen += 1;
            if seen > MAX_ENTRIES {
                return Walk::TooMany;
            }
            let name = entry.file_name();
            let rel = name.to_str().map(|n| opportune_fs::join_rel(&dir, n));
            let owner = rel
                .as_deref()
                .and_then(|r| fs.security_descriptor_at(r).ok().flatten())
                .and_then(|b| crate::security::stored(Some(b)))
                .and_then(|sd| sd.owner);
            let size = if md.is_dir() { 0 } else { md.len() };
            let mut t = quota.lock();
            t.scanned(epoch, (md.dev(), md.ino()), owner.as_ref(), size);
            if t.epoch() != epoch {
                return Walk::Superseded;
            }
            drop(t);
            if md.is_dir()
                && let Some(r) = rel
            {
                dirs.push(r);
            }
        }
    }
    Walk::Complete
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::table::{Limits, Table};
    use opportune_fs::{CreateParams, MemoryFs, MemoryOptions, SmbPath};
    use opportune_types::create::CreateDisposition;

    /// A share that is no host directory (the in-memory double) is walked through the
    /// file-system layer: every file and directory below the root, with its size.
    #[test]
    fn a_memory_share_is_walked_through_the_file_system_layer() {
        let fs = Share::in_memory(MemoryFs::new(MemoryOptions::default()));
        assert!(!fs.on_host());
        let p = |d, dir| CreateParams { disposition: d, directory: dir, write: true, attributes: 0, allocation_size: 0, metadata_only: false };
        fs.create(&SmbPath::parse("d").unwrap(), &p(CreateDisposition::Create, Some(true))).unwrap();
        for (name, len) in [("a", 3usize), ("d\\b", 5)] {
            let h = fs.create(&SmbPath::parse(name).unwrap(), &p(CreateDisposition::Create, Some(false))).unwrap().handle;
            h.write_at(&vec![1; len], 0).unwrap();
        }
        let quota = ShareQuota::new(Table::new(Limits::default(), Limits::default(), Default::default()));
        let epoch = quota.lock().begin_scan();
        assert_eq!(walk_share(&fs, &quota, epoch), Walk::Complete);
        let total = quota.lock().total();
        assert_eq!((total.files, total.bytes), (3, 8), "d, a and d/b; 3 + 5 bytes");
    }
}
