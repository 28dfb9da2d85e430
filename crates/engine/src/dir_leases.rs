//! Which directories are under a directory lease, by share and path, so that a change
//! to an entry finds the leases of its parent without a system call (MS-SMB2 3.3.4.7,
//! 3.3.5.9.11; issue 11, item 5). The lock core holds the leases themselves; this is
//! the index from a path to the directory opens under them, and the host watch that
//! lets changes made by other programs on the host break them too.
//!
//! What breaks a directory's leases (the changer's own lease, named by the ParentLeaseKey
//! of its lease on the entry, excepted): an entry created (files, directories, hard
//! links), deleted, renamed into or out of it, its attributes, times or size set
//! (SET_INFO), the close of an entry written through this server (the last-write time a
//! listing shows changes then, as Windows does), and any name change or write a program
//! on the host makes in it (inotify, within about 100 ms).

use std::collections::{HashMap, HashSet};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::host_notify::HostNotify;
use crate::locking::{Changer, Locking};

/// Host-watch ids of directory-lease watches: the open id with this bit (CHANGE_NOTIFY
/// watches use plain open ids).
const WATCH_ID_BIT: u64 = 1 << 62;

#[derive(Default)]
pub struct DirLeases {
    /// (share, on-disk directory path) → the directory opens under a lease there.
    held: Mutex<HashMap<(usize, String), Vec<u64>>>,
    /// Opens registered, read without a lock on hot paths.
    count: AtomicUsize,
    /// Opens that wrote since they were opened: their close changes their directory.
    written: Mutex<HashSet<u64>>,
}

impl DirLeases {
    /// Whether any directory lease is held at all (else nothing here costs anything).
    pub fn is_active(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// The directory open `open` (at `rel` in `share`, on host descriptor `fd` if it has one) was granted
    /// a directory lease; the host watch `host` watches the directory for it.
    pub fn granted(&self, host: &HostNotify, open: u64, share: usize, rel: &str, fd: Option<BorrowedFd<'_>>) {
        let Ok(mut h) = self.held.lock() else { return };
        h.entry((share, rel.to_string())).or_default().push(open);
        self.count.fetch_add(1, Ordering::Relaxed);
        drop(h);
        // Without a host descriptor (the memory backend) only the server's own changes break it.
        if let Some(fd) = fd {
            host.watch(open | WATCH_ID_BIT, share, rel, fd);
        }
    }

    /// `open` closed: if it was a leased directory, forget it (and its host watch).
    pub fn closed(&self, host: &HostNotify, open: u64, share: usize, rel: &str) {
        if !self.is_active() {
            return;
        }
        if let Ok(mut w) = self.written.lock() {
            w.remove(&open);
        }
        let Ok(mut h) = self.held.lock() else { return };
        let key = (share, rel.to_string());
        let Some(opens) = h.get_mut(&key) else { return };
        let before = opens.len();
        opens.retain(|o| *o != open);
        if opens.len() == before {
            return;
        }
        if opens.is_empty() {
            h.remove(&key);
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
        drop(h);
        host.unwatch(open | WATCH_ID_BIT);
    }

    /// A leased directory (or one above it) moved from `from` to `to`.
    pub fn renamed(&self, share: usize, from: &str, to: &str) {
        if !self.is_active() {
            return;
        }
        let Ok(mut h) = self.held.lock() else { return };
        let prefix = format!("{from}/");
        let moved: Vec<(usize, String)> =
            h.keys().filter(|(s, p)| *s == share && (p == from || p.starts_with(&prefix))).cloned().collect();
        for key in moved {
            if let Some(opens) = h.remove(&key) {
                let rest = &key.1[from.len()..];
                h.entry((share, format!("{to}{rest}"))).or_default().extend(opens);
            }
        }
    }

    /// `open` wrote data: its close will count as a change of its directory.
    pub fn wrote(&self, open: u64) {
        if self.is_active()
            && let Ok(mut w) = self.written.lock()
        {
            w.insert(open);
        }
    }

    /// Whether `open` wrote since it was opened (and forgets it).
    pub fn take_written(&self, open: u64) -> bool {
        self.is_active() && self.written.lock().is_ok_and(|mut w| w.remove(&open))
    }

    /// The directory opens under a lease on the parent directory of `rel` (a file's
    /// path: `entry_changed` has taken any stream name off).
    fn parent_opens(&self, share: usize, rel: &str) -> Vec<u64> {
        let (parent, _) = opportune_fs::split_rel(rel);
        self.held.lock().ok().and_then(|h| h.get(&(share, parent.to_string())).cloned()).unwrap_or_default()
    }

    /// The entry `rel` of `share` changed (by `by`): the leases on its directory break
    /// (in the lock core, `locks`).
    pub fn entry_changed(&self, locks: &Locking, share: usize, rel: &str, by: Changer) {
        if !self.is_active() {
            return;
        }
        // A named stream's change is its file's.
        let rel = rel.split(':').next().unwrap_or(rel);
        // All the directory's opens under one lease share it; breaking through the first
        // open of each is enough, and the core skips leases already broken.
        for open in self.parent_opens(share, rel) {
            locks.directory_changed(open, by);
        }
    }

    /// Host changes to `share` were lost: every directory lease on it breaks.
    pub fn share_changed(&self, locks: &Locking, share: usize) {
        let opens: Vec<u64> = match self.held.lock() {
            Ok(h) => h.iter().filter(|((s, _), _)| *s == share).flat_map(|(_, o)| o.iter().copied()).collect(),
            Err(_) => return,
        };
        for open in opens {
            locks.directory_changed(open, Changer::Host);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_move_the_paths_below() {
        let d = DirLeases::default();
        {
            let mut h = d.held.lock().unwrap();
            h.insert((0, "a".into()), vec![1]);
            h.insert((0, "a/b".into()), vec![2]);
            h.insert((0, "ab".into()), vec![3]);
            h.insert((1, "a".into()), vec![4]);
        }
        d.count.store(4, Ordering::Relaxed);
        d.renamed(0, "a", "z");
        assert_eq!(d.parent_opens(0, "z/file"), vec![1]);
        assert_eq!(d.parent_opens(0, "z/b/file"), vec![2]);
        assert_eq!(d.parent_opens(0, "ab/file"), vec![3]);
        assert_eq!(d.parent_opens(1, "a/file"), vec![4]);
        assert!(d.parent_opens(0, "a/file").is_empty());
    }

    #[test]
    fn writes_are_remembered_until_the_close() {
        let d = DirLeases::default();
        d.wrote(5);
        assert!(!d.take_written(5), "nothing is tracked while no directory lease is held");
        d.count.store(1, Ordering::Relaxed);
        d.wrote(5);
        assert!(d.take_written(5));
        assert!(!d.take_written(5));
    }
}
