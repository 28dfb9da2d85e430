//! CHANGE_NOTIFY watches (MS-SMB2 3.3.5.19, MS-FSA 2.1.5.11): which directory opens
//! watch what, and the changes made through this server that they are told about.
//! Changes other programs make on the host arrive through `host_notify.rs`.

use crate::host_notify::HostNotify;
use crate::locking::{ConnEvent, Locking};
use crate::notify_change::Change;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// FILE_NOTIFY_CHANGE_* (MS-FSCC 2.7.1 / MS-SMB2 2.2.35).
pub mod filter {
    pub const FILE_NAME: u32 = 0x001;
    pub const DIR_NAME: u32 = 0x002;
    pub const ATTRIBUTES: u32 = 0x004;
    pub const SIZE: u32 = 0x008;
    pub const LAST_WRITE: u32 = 0x010;
    pub const SECURITY: u32 = 0x100;
}

/// FILE_ACTION_* (MS-FSCC 2.4.42).
pub mod action {
    pub const ADDED: u32 = 1;
    pub const REMOVED: u32 = 2;
    pub const MODIFIED: u32 = 3;
    pub const RENAMED_OLD_NAME: u32 = 4;
    pub const RENAMED_NEW_NAME: u32 = 5;
}

struct Watch {
    conn: u64,
    share: usize,
    /// On-disk path of the watched directory ('/'-separated, "" for the root).
    dir: String,
    recursive: bool,
    filter: u32,
}

#[derive(Default)]
pub struct NotifyHub {
    watches: Mutex<HashMap<u64, Watch>>,
    /// Number of watches, read without the lock on hot paths (every WRITE).
    count: AtomicUsize,
}

impl NotifyHub {
    pub fn watch(&self, open: u64, conn: u64, share: usize, dir: String, recursive: bool, filter: u32) {
        if let Ok(mut w) = self.watches.lock() {
            w.insert(open, Watch { conn, share, dir, recursive, filter });
            self.count.store(w.len(), Ordering::Relaxed);
        }
    }

    /// Whether anyone watches at all: lets writers skip building a report.
    pub fn is_watched(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    pub fn unwatch(&self, open: u64) {
        if let Ok(mut w) = self.watches.lock() {
            w.remove(&open);
            self.count.store(w.len(), Ordering::Relaxed);
        }
    }

    /// Tells every watch that covers `rel` (an on-disk path in `share`) about a change
    /// made through this server. `mask` is the FILE_NOTIFY_CHANGE_* class of the change.
    /// The host watch is told the change is the server's own; the watchers hear of it
    /// through the lock core's connection events.
    pub fn report(&self, host: &HostNotify, locks: &Locking, share: usize, rel: &str, action: u32, mask: u32) {
        let now = locks.now();
        if action == self::action::MODIFIED {
            host.own_change(share, rel, now);
        } else {
            host.own_name_change(share, rel, now);
        }
        self.report_host(locks, share, rel, action, mask);
    }

    /// As [`NotifyHub::report`], for a change another program made on the host.
    pub fn report_host(&self, locks: &Locking, share: usize, rel: &str, action: u32, mask: u32) {
        let Ok(w) = self.watches.lock() else { return };
        let hits: Vec<(u64, u64, String)> = w
            .iter()
            .filter(|(_, w)| w.share == share && w.filter & mask != 0)
            .filter_map(|(open, w)| relative_to(&w.dir, rel, w.recursive).map(|n| (*open, w.conn, n)))
            .collect();
        drop(w);
        for (open, conn, name) in hits {
            locks.send_to(conn, ConnEvent::Change(Change { open, action, name }));
        }
    }
}

impl NotifyHub {
    /// A watched directory became delete-pending: the CHANGE_NOTIFYs waiting on it end
    /// with STATUS_DELETE_PENDING (MS-FSA 2.1.5.11 as Windows behaves in smbtorture
    /// smb2.notify.rmdir1-4).
    pub fn directory_deleted(&self, locks: &Locking, share: usize, dir: &str) {
        let Ok(w) = self.watches.lock() else { return };
        let hits: Vec<(u64, u64)> =
            w.iter().filter(|(_, w)| w.share == share && w.dir == dir).map(|(open, w)| (*open, w.conn)).collect();
        drop(w);
        for (open, conn) in hits {
            let status = opportune_types::NtStatus::DELETE_PENDING;
            locks.send_to(conn, ConnEvent::NotifyDone { open, request: None, status });
        }
    }
}

impl NotifyHub {
    /// Host changes were lost: the pending CHANGE_NOTIFYs of `share` end with
    /// STATUS_NOTIFY_ENUM_DIR, so their clients list the directories again.
    pub fn overflow(&self, locks: &Locking, share: usize) {
        let Ok(w) = self.watches.lock() else { return };
        let hits: Vec<(u64, u64)> = w.iter().filter(|(_, w)| w.share == share).map(|(open, w)| (*open, w.conn)).collect();
        drop(w);
        for (open, conn) in hits {
            let status = opportune_types::NtStatus::NOTIFY_ENUM_DIR;
            locks.send_to(conn, ConnEvent::NotifyDone { open, request: None, status });
        }
    }
}

/// `rel` seen from directory `dir`: its direct child name, or any descendant when recursive.
fn relative_to(dir: &str, rel: &str, recursive: bool) -> Option<String> {
    let rest = if dir.is_empty() { rel } else { rel.strip_prefix(dir)?.strip_prefix('/')? };
    if rest.is_empty() || (!recursive && rest.contains('/')) {
        return None;
    }
    Some(rest.replace('/', "\\"))
}

/// FILE_NOTIFY_INFORMATION entries (MS-FSCC 2.4.42), 4-byte aligned; None if they do not
/// fit `max` bytes (the client then gets STATUS_NOTIFY_ENUM_DIR).
pub fn encode(changes: &[(u32, String)], max: usize) -> Option<Vec<u8>> {
    use opportune_wire::cursor::{utf16_len, Put};
    let mut out = Vec::new();
    let mut prev: Option<usize> = None;
    for (action, name) in changes {
        while out.len() % 4 != 0 {
            out.push(0);
        }
        let start = out.len();
        if let Some(p) = prev {
            let off = (start - p) as u32;
            out[p..p + 4].copy_from_slice(&off.to_le_bytes());
        }
        prev = Some(start);
        out.put_u32(0);
        out.put_u32(*action);
        out.put_u32(utf16_len(name) as u32);
        out.put_utf16(name);
    }
    (out.len() <= max).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_paths() {
        assert_eq!(relative_to("", "a.txt", false).as_deref(), Some("a.txt"));
        assert_eq!(relative_to("", "d/a.txt", false), None);
        assert_eq!(relative_to("", "d/a.txt", true).as_deref(), Some("d\\a.txt"));
        assert_eq!(relative_to("d", "d/a.txt", false).as_deref(), Some("a.txt"));
        assert_eq!(relative_to("d", "dd/a.txt", true), None);
        assert_eq!(relative_to("d", "d", true), None);
    }

    #[test]
    fn entries_are_linked_and_bounded() {
        let v = encode(&[(1, "ab".into()), (2, "c".into())], 1000).unwrap();
        assert_eq!(u32::from_le_bytes(v[0..4].try_into().unwrap()), 16);
        assert_eq!(v.len(), 16 + 14);
        assert!(encode(&[(1, "abc".into())], 10).is_none());
    }
}
