//! The in-memory double of the file system: a [`MemoryFs`] behind a
//! [`Share`](crate::Share) (`Share::in_memory`) keeps a tree of directories and files in
//! memory, with the rules of the POSIX backend (MS-FSA 2.1.5: create dispositions,
//! rename and replace, delete of a non-empty directory, named streams, EAs, times and
//! attributes), so the test world runs the engine without a disk, the same way on every
//! run. It is bounded by a byte budget (growth beyond it is `DiskFull`, as ENOSPC is on
//! the host) and takes injected faults ([`MemoryFs::fail_writes`],
//! [`MemoryFs::fail_syncs`]). What only a host has — kernel leases, OFD host locks,
//! inotify watches, shared open file descriptions — it does not pretend to have: a
//! handle has no descriptor (`Handle::host_fd` is `None`) and those calls are
//! `NotSupported`; it is no tree of the host (`Share::on_host` is false, so the quota
//! scan walks it through the file-system layer); and it checks no UNIX permissions (a
//! thread's fsuid, `UnixIdentity`, changes nothing here: access is the engine's check).
//!
//! * `node`: one object; `tree`: the nodes, name lookup, the budget;
//! * `create`: the dispositions; `ops`: rename, remove, link;
//! * `handle`: an open object and its data; `meta`: its metadata and listing; `names`:
//!   its path, hard links, stream renames; `object`: it as a `FileObject`;
//! * `backend`: the share's operations as a `Backend`.

mod backend;
mod create;
mod handle;
mod meta;
mod names;
mod node;
mod object;
mod ops;
mod tree;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::FsError;

pub(crate) use handle::MemHandle;
use tree::Tree;

/// How a [`MemoryFs`] is made.
#[derive(Clone, Copy, Debug)]
pub struct MemoryOptions {
    /// Names compared case-sensitively (as `Share::new`'s `case_sensitive`).
    pub case_sensitive: bool,
    /// Bytes the files may hold (data and reservations in 4 KiB clusters, streams).
    pub budget: u64,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions { case_sensitive: false, budget: 1 << 30 }
    }
}

/// An in-memory file system (see the module documentation).
pub struct MemoryFs {
    pub(crate) shared: Arc<Shared>,
}

/// What the file system and its handles share.
pub(crate) struct Shared {
    tree: Mutex<Tree>,
    failing_writes: AtomicU32,
    failing_syncs: AtomicU32,
}

impl Shared {
    fn tree(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The injected error for a write, if one is armed (EIO, as a failing disk gives).
    fn write_fault(&self) -> Result<(), FsError> {
        take_one(&self.failing_writes)
    }

    fn sync_fault(&self) -> Result<(), FsError> {
        take_one(&self.failing_syncs)
    }
}

fn take_one(counter: &AtomicU32) -> Result<(), FsError> {
    let armed = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok();
    if armed { Err(FsError::Io(std::io::Error::from_raw_os_error(libc::EIO))) } else { Ok(()) }
}

/// A wall clock for the file times (a test world's virtual one).
pub type WallClock = Arc<dyn Fn() -> std::time::SystemTime + Send + Sync>;

/// The time now as a FILETIME, on the system's clock.
fn now() -> u64 {
    opportune_types::time::filetime_from_system(std::time::SystemTime::now())
}

impl MemoryFs {
    pub fn new(options: MemoryOptions) -> Arc<MemoryFs> {
        let tree = Tree::new(options.case_sensitive, options.budget, now());
        Arc::new(MemoryFs {
            shared: Arc::new(Shared { tree: Mutex::new(tree), failing_writes: AtomicU32::new(0), failing_syncs: AtomicU32::new(0) }),
        })
    }

    /// Takes the file times from `clock` from now on; the root's times are set to its now.
    pub fn set_clock(&self, clock: WallClock) {
        let mut tree = self.shared.tree();
        tree.clock = Some(clock);
        let t = tree.now();
        if let Ok(root) = tree.node_mut(tree::ROOT) {
            (root.creation_time, root.last_access_time, root.last_write_time, root.change_time) = (t, t, t, t);
        }
    }

    /// Bytes held now (of [`MemoryOptions::budget`]).
    pub fn used(&self) -> u64 {
        self.shared.tree().used
    }

    /// Sets the byte budget (below what is held, every growth is `DiskFull`).
    pub fn set_budget(&self, budget: u64) {
        self.shared.tree().budget = budget;
    }

    /// The next `n` writes (`write_at`, `set_len`, `set_allocation`) fail with EIO and
    /// change nothing.
    pub fn fail_writes(&self, n: u32) {
        self.shared.failing_writes.store(n, Ordering::Release);
    }

    /// The next `n` flushes (`sync`) fail with EIO.
    pub fn fail_syncs(&self, n: u32) {
        self.shared.failing_syncs.store(n, Ordering::Release);
    }

    /// Objects in the tree, the root and deleted ones still open included.
    pub fn objects(&self) -> usize {
        self.shared.tree().nodes.len()
    }
}
