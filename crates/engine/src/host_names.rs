//! Handle caching against host unlinks and renames (issue 11, item 7). A file open with
//! H caching (an RH/RWH lease, a batch oplock) has its directory watched through the
//! host watch (`host_notify.rs`); when a program on the host removes or renames it, or
//! renames another file over its name, its SMB holders' handle caching is broken at
//! once (the kernel cannot defer the host's unlink the way an SMB delete is deferred:
//! see docs/COHERENCE.md). The server's own renames and deletes are not host changes:
//! they were already decided with the lock core.
//!
//! One kernel watch serves every H-cached file of a directory: the first such open
//! opens the directory (`O_PATH`) and adds it, the others join it without a system
//! call. A watcher whose open went without a close through this server (a parked
//! durable handle purged later) is swept every [`SWEEP_EVERY`] grants.

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::host_notify::HostNotify;
use crate::locking::Locking;
use crate::share_table::ShareTable;

/// Host-watch ids of handle-caching watches: the open id with this bit.
const WATCH_ID_BIT: u64 = 1 << 61;
/// Grants between two sweeps of watchers whose open is gone.
const SWEEP_EVERY: usize = 4096;

#[derive(Default)]
pub struct HostNames {
    grants: AtomicUsize,
}

impl HostNames {
    /// `open` (a file at `rel` in `share`) was granted handle caching: `host` watches its
    /// directory (opened through `shares` when no watch has it yet); the sweep asks `locks`
    /// which opens are still there.
    pub fn granted(&self, host: &HostNotify, locks: &Locking, shares: &ShareTable, open: u64, share: usize, rel: &str) {
        let (dir, _) = opportune_fs::split_rel(rel);
        let id = open | WATCH_ID_BIT;
        let Some(s) = shares.get(share) else { return };
        if !host.watch_existing(id, share, dir, &s.fs) {
            match s.fs.open_dir(dir) {
                Ok(fd) => host.watch(id, share, dir, fd.as_fd()),
                Err(e) => tracing::debug!(open, dir, error = %e, "no host watch for handle caching"),
            }
        }
        if self.grants.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            host.sweep(|id| id & WATCH_ID_BIT == 0 || locks.knows(id & !WATCH_ID_BIT));
        }
    }

    /// `open` closed: its watch, if it had one, goes.
    pub fn closed(&self, host: &HostNotify, open: u64) {
        if host.is_active() {
            host.unwatch(open | WATCH_ID_BIT);
        }
    }
}

/// A program on the host made `rel` of `share` name something else (or nothing): the
/// handle caching of the opens `locks` knows there breaks.
pub fn host_lost_name(locks: &Locking, share: usize, rel: &str) {
    for open in locks.opens_at(share, rel) {
        tracing::debug!(open, rel, "host unlink or rename: handle caching breaks");
        locks.host_unlinked(open);
    }
}
