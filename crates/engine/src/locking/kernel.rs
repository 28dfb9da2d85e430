//! Kernel oplocks: a Linux lease (fcntl(2) `F_SETLEASE`, `opportune_fs::kernel_lease`)
//! behind each grant on a share with `kernel_oplocks`, so processes outside SMB — local
//! programs, knfsd — break SMB caching before they see the file (docs/COHERENCE.md).
//!
//! Caching with W or H needs a write lease, read-only caching (Level II, R) a read lease
//! (or a write lease, which covers it); what the kernel refuses is not granted
//! (`LockCore::handle_host_refused`, before the CREATE is answered). When the kernel
//! breaks a lease (a break note from the signalfd task), the file's SMB holders are broken
//! as for an SMB contender (`LockCore::handle_host_open`); the lease comes down only when
//! they have (`LockCore::host_caching` fits under what the host leaves), or at the
//! deadline — the break timeout, but never later than a second before the kernel's own
//! `lease-break-time`, after which the kernel would take the lease anyway.
//!
//! On such a share every SMB open of a file shares one open file description of it
//! (`opportune_fs::Share::share_descriptions`), so the lease is the file's, not an open's:
//! it is taken on that description, covers every SMB holder of the file, survives any
//! number of SMB opens (the kernel counts descriptions, and there is one) and goes when
//! the last open of the file closes. The description is read-only until an SMB open
//! needs to write; that open reopens it read-write ([`KernelLeases::reopened`]): the lease
//! goes with the old description and a write lease is taken back on the new one, which
//! covers Level II and R holders too. No read lease can exist beside a writable
//! description, so a local *reader* then breaks Level II and R holders, where beside a
//! read-only description it would not; when the last SMB writer closes, the description
//! is made read-only again (`Locking::stop_writing`: [`KernelLeases::let_go_of`] first)
//! and a read lease covers them.
//!
//! What remains of the self-break workaround is for opens that do not share the
//! description: the reopen itself (the read-write open would break the read-only
//! description's lease), and opens of the same file through another share. The file
//! system says so (`FsError::LeaseHeld`, O_NONBLOCK), the server lets go of its leases on
//! that file first ([`KernelLeases::yield_file`]); the file is then "unprotected" until
//! every holder is covered again ([`KernelLeases::reprotect`]): a holder whose lease
//! cannot be taken back is broken down to what can be.
//!
//! Tables are bounded by the opens (each description's entry lists its opens and goes
//! with the last of them); a parked durable open keeps its description and lease.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opportune_fs::Handle;
use opportune_fs::kernel_lease::{self, Lease, LeaseNote};
use opportune_locks::{FileKey, HostAccess, LeaseState, LockCore};

/// An open file description of ours on a kernel-oplocks share, the opens that use it,
/// and the lease it holds.
struct Desc {
    /// A handle of it (any: they all use the description), for the lease calls.
    handle: Arc<Handle>,
    file: FileKey,
    opens: BTreeSet<u64>,
    held: Lease,
}

/// A kernel break being served: what the SMB holders may keep, and by when the lease goes.
#[derive(Clone, Copy)]
struct HostBreak {
    allowed: LeaseState,
    deadline: Instant,
}

pub(super) struct KernelLeases {
    /// The task reading break notes runs: only then are leases taken (a lease whose
    /// break nobody reads would hold host openers for the whole lease-break-time).
    pub(super) active: bool,
    /// How long a kernel break may wait for the SMB holders.
    grace: Duration,
    /// Descriptions by descriptor number (what a break note names; handles that share a
    /// description share its number, and a reopen keeps it).
    descs: HashMap<i32, Desc>,
    /// Open → the number of its description.
    opens: HashMap<u64, i32>,
    breaks: HashMap<FileKey, HostBreak>,
    /// Files whose holders may have caching no lease covers (after a yield, a reopen or a
    /// break).
    unprotected: BTreeSet<FileKey>,
    /// Creates waiting for another process's lease to go, by open (at most
    /// [`MAX_HOST_WAITS`]).
    waits: HashMap<u64, HostWait>,
    /// SMB creates that made us let go of leases on a file and are not decided yet: the
    /// file is left alone until they are (their descriptor is open, the lock core has not
    /// judged them; taking a lease back now would misjudge the holders). One per create.
    opening: HashMap<u64, FileKey>,
}

/// A create whose open met another process's lease (the kernel is breaking it): it is
/// started over at `next`, backing off, and refused once the kernel's lease-break-time
/// (after which the kernel takes the lease itself) is over.
#[derive(Clone, Copy)]
struct HostWait {
    next: Instant,
    step: Duration,
    until: Instant,
}

/// Creates that may wait for host leases at once; more are refused (SHARING_VIOLATION).
const MAX_HOST_WAITS: usize = 4096;
const FIRST_RETRY: Duration = Duration::from_millis(20);
const LAST_RETRY: Duration = Duration::from_millis(500);

/// What is due for a waiting create.
pub(super) enum Due {
    Retry(u64),
    GiveUp(u64),
}

/// The lease caching `bits` needs.
fn needed(bits: LeaseState) -> Lease {
    if bits.intersects(LeaseState::W | LeaseState::H) {
        Lease::Write
    } else if bits.contains(LeaseState::R) {
        Lease::Read
    } else {
        Lease::Unlock
    }
}

/// The caching a lease protects.
fn covers(lease: Lease) -> LeaseState {
    match lease {
        Lease::Write => LeaseState::RWH,
        Lease::Read => LeaseState::R,
        Lease::Unlock => LeaseState::NONE,
    }
}

fn take(handle: &Handle, lease: Lease) -> bool {
    match handle.take_lease(lease) {
        Ok(ok) => ok,
        Err(e) => {
            tracing::debug!(error = %e, ?lease, "kernel lease refused");
            false
        }
    }
}

impl KernelLeases {
    pub(super) fn new(break_timeout: Duration) -> KernelLeases {
        let kernel = kernel_lease::lease_break_time().saturating_sub(Duration::from_secs(1));
        KernelLeases {
            active: false,
            grace: break_timeout.min(kernel.max(Duration::from_millis(100))),
            descs: HashMap::new(),
            opens: HashMap::new(),
            breaks: HashMap::new(),
            unprotected: BTreeSet::new(),
            waits: HashMap::new(),
            opening: HashMap::new(),
        }
    }

    /// Takes the lease behind `bits` just granted to `open`; returns the caching the host
    /// allows (all of `bits`, R, or none).
    pub(super) fn grant(&mut self, open: u64, file: FileKey, handle: &Arc<Handle>, bits: LeaseState) -> LeaseState {
        self.opening.remove(&open);
        // No host descriptor (the memory backend): no lease can protect the caching.
        let Some(fd) = handle.lease_fd_number() else { return LeaseState::NONE };
        let d = self.descs.entry(fd).or_insert_with(|| Desc { handle: handle.clone(), file, opens: BTreeSet::new(), held: Lease::Unlock });
        d.opens.insert(open);
        self.opens.insert(open, fd);
        if bits.is_empty() || !self.active {
            return LeaseState::NONE;
        }
        if self.breaks.contains_key(&file) {
            return LeaseState::NONE; // a host opener waits on this file: nothing new until it is in
        }
        bits & covers(self.protect(fd, bits))
    }

    /// Makes the lease of description `fd` cover `bits` if the kernel lets it: a write
    /// lease for W or H, or for R through a description open for writing (which can hold
    /// no read lease), else a read lease. A lease never comes down here (other holders of
    /// the file may need it): if the kernel refuses more, what was held stays. Returns the
    /// lease held.
    fn protect(&mut self, fd: i32, bits: LeaseState) -> Lease {
        let Some(d) = self.descs.get_mut(&fd) else { return Lease::Unlock };
        if covers(d.held).contains(bits) {
            return d.held;
        }
        let want = if needed(bits) == Lease::Write || d.handle.opened_for_writing() { Lease::Write } else { Lease::Read };
        if take(&d.handle, want) {
            d.held = want;
        } else if d.held == Lease::Unlock {
            // A refused take may leave a lease in place; none must stay unrecorded (its
            // break would go unanswered and hold the opener for the kernel's break time).
            take(&d.handle, Lease::Unlock);
        }
        d.held
    }

    /// The create of `open` met another process's lease: it waits. False when too many
    /// wait already.
    pub(super) fn wait(&mut self, open: u64, now: Instant) -> bool {
        if self.waits.len() >= MAX_HOST_WAITS && !self.waits.contains_key(&open) {
            return false;
        }
        let until = now + kernel_lease::lease_break_time() + Duration::from_secs(1);
        let w = self.waits.entry(open).or_insert(HostWait { next: now, step: FIRST_RETRY, until });
        w.next = now + w.step;
        w.step = (w.step * 2).min(LAST_RETRY);
        true
    }

    /// A waiting create was cancelled; whether it was waiting.
    pub(super) fn cancel_wait(&mut self, open: u64) -> bool {
        self.waits.remove(&open).is_some()
    }

    /// The waiting creates due at `now`: to be tried again, or given up.
    pub(super) fn due(&mut self, now: Instant) -> Vec<Due> {
        let due: Vec<(u64, HostWait)> = self.waits.iter().filter(|(_, w)| w.next <= now).map(|(o, w)| (*o, *w)).collect();
        let mut out = Vec::new();
        for (open, w) in due {
            if now >= w.until {
                self.waits.remove(&open);
                out.push(Due::GiveUp(open));
            } else {
                // Stays until the retry answers: it waits again, or the create goes on.
                if let Some(x) = self.waits.get_mut(&open) {
                    x.next = w.until;
                }
                out.push(Due::Retry(open));
            }
        }
        out
    }

    /// The create of `open` went on (opened, or failed otherwise): it no longer waits.
    pub(super) fn waited(&mut self, open: u64) {
        self.waits.remove(&open);
    }

    /// The create of `open`, for which leases on `file` were let go, is under way.
    pub(super) fn opening(&mut self, open: u64, file: FileKey) {
        self.opening.insert(open, file);
    }

    /// The create of `open` is decided (granted, refused, or started over).
    pub(super) fn decided(&mut self, open: u64) {
        self.opening.remove(&open);
    }

    /// `open` closes (or is purged); the lease goes with the last open of its description.
    pub(super) fn close(&mut self, open: u64) {
        self.waits.remove(&open);
        self.opening.remove(&open);
        let Some(fd) = self.opens.remove(&open) else { return };
        let Some(d) = self.descs.get_mut(&fd) else { return };
        d.opens.remove(&open);
        if d.opens.is_empty() {
            if d.held != Lease::Unlock {
                take(&d.handle, Lease::Unlock);
            }
            self.descs.remove(&fd);
        }
    }

    /// Whether `file` has a description of ours that all its opens through the share
    /// share (another SMB open of it then uses that one, and needs no lease to go unless
    /// it reopens the description for writing).
    pub(super) fn shared(&self, file: FileKey) -> bool {
        self.descs.values().any(|d| d.file == file && d.handle.shares_description())
    }

    /// Whether read leases could cover `file` after an SMB open (for writing if
    /// `write`): no description of ours on it is open for writing.
    pub(super) fn readable_after(&self, file: FileKey, write: bool) -> bool {
        !write && self.descs.values().filter(|d| d.file == file).all(|d| !d.handle.opened_for_writing())
    }

    /// An SMB open of `file` would break leases of ours: let them go (the open's own
    /// admission breaks the SMB holders as SMB says). Returns whether any was ours.
    pub(super) fn yield_file(&mut self, file: FileKey) -> bool {
        let mut any = false;
        for d in self.descs.values_mut().filter(|d| d.file == file && d.held != Lease::Unlock) {
            take(&d.handle, Lease::Unlock);
            d.held = Lease::Unlock;
            any = true;
        }
        if any {
            self.unprotected.insert(file);
        }
        any
    }

    /// The opens that use the description `handle` uses.
    pub(super) fn opens_sharing(&self, handle: &Handle) -> Vec<u64> {
        handle.lease_fd_number().and_then(|fd| self.descs.get(&fd)).map(|d| d.opens.iter().copied().collect()).unwrap_or_default()
    }

    /// The shared description `handle` uses is about to be reopened read-only (its last
    /// writer closes): our lease on it goes first, or the read-only open would break it.
    /// The file is covered again at the next settle after the reopen ([`Self::reopened`]).
    pub(super) fn let_go_of(&mut self, handle: &Handle) {
        if let Some(d) = handle.lease_fd_number().and_then(|fd| self.descs.get_mut(&fd)) {
            if d.held != Lease::Unlock {
                take(&d.handle, Lease::Unlock);
                d.held = Lease::Unlock;
            }
            self.unprotected.insert(d.file);
        }
    }

    /// The file system reopened the shared description `handle` uses (read-write for a
    /// writer that joined, or read-only after the last writer): its lease went with the
    /// old description. The file's holders are covered
    /// again, by a write lease on the new one, at the next settle.
    pub(super) fn reopened(&mut self, handle: &Handle) {
        if let Some(d) = handle.lease_fd_number().and_then(|fd| self.descs.get_mut(&fd)) {
            d.held = Lease::Unlock;
            self.unprotected.insert(d.file);
        }
    }

    /// A note from the signalfd: which file's lease the kernel breaks, and for what.
    pub(super) fn noted(&self, note: LeaseNote) -> Vec<(FileKey, HostAccess)> {
        let suspects: Vec<i32> = match note {
            LeaseNote::Break { fd } => vec![fd],
            LeaseNote::Overflow => self.descs.keys().copied().collect(),
        };
        let mut out = Vec::new();
        for fd in suspects {
            let Some(d) = self.descs.get(&fd).filter(|d| d.held != Lease::Unlock) else { continue };
            let Some(Ok(now)) = d.handle.lease_fd().map(kernel_lease::held) else { continue };
            // A stale note (a lease we let go, a descriptor number used again) changes nothing.
            if now == d.held {
                continue;
            }
            // Read caching survives only if every lease on the file can come down to read.
            let readable = self
                .descs
                .values()
                .filter(|o| o.file == d.file && o.held != Lease::Unlock)
                .all(|o| !o.handle.opened_for_writing());
            let access = if now == Lease::Read && readable { HostAccess::Read } else { HostAccess::Write };
            out.push((d.file, access));
        }
        out
    }

    /// A kernel break on `file` is being served from `now`.
    pub(super) fn broken(&mut self, file: FileKey, access: HostAccess, now: Instant) {
        let b = self.breaks.entry(file).or_insert(HostBreak { allowed: LeaseState::RWH, deadline: now + self.grace });
        b.allowed &= access.allowed();
    }

    /// Lets the leases of files whose holders came down (or whose deadline passed) come
    /// down too, then takes leases back where holders are left uncovered; returns whether
    /// the core was asked to break anything.
    pub(super) fn settle(&mut self, core: &mut LockCore, now: Instant) -> bool {
        let done: Vec<(FileKey, HostBreak)> = self
            .breaks
            .iter()
            .filter(|(f, b)| b.allowed.contains(core.host_caching(**f)) || now >= b.deadline)
            .map(|(f, b)| (*f, *b))
            .collect();
        for (file, b) in done {
            self.breaks.remove(&file);
            if now >= b.deadline && !b.allowed.contains(core.host_caching(file)) {
                tracing::warn!(?file, "kernel lease break: SMB holders did not acknowledge in time; the host opener goes on");
            }
            for d in self.descs.values_mut().filter(|d| d.file == file && d.held != Lease::Unlock) {
                d.held = if b.allowed.contains(LeaseState::R) && d.held == Lease::Write && take(&d.handle, Lease::Read) {
                    Lease::Read
                } else {
                    take(&d.handle, Lease::Unlock);
                    Lease::Unlock
                };
            }
            self.unprotected.insert(file);
        }
        let files: Vec<FileKey> = self
            .unprotected
            .iter()
            .copied()
            .filter(|f| !self.breaks.contains_key(f) && !self.opening.values().any(|o| o == f))
            .collect();
        let mut broke = false;
        for file in files {
            broke |= self.reprotect(core, now, file);
        }
        broke
    }

    /// Covers every SMB holder of `file` with a lease again, or breaks the holders down
    /// to what the kernel gives (a host process has the file open, or descriptions of
    /// ours beside the shared one keep the kernel from it). Returns whether anything was
    /// broken.
    fn reprotect(&mut self, core: &mut LockCore, now: Instant, file: FileKey) -> bool {
        let mut allowed = LeaseState::RWH;
        let mut caching = LeaseState::NONE;
        let mut wanted: HashMap<i32, LeaseState> = HashMap::new();
        for open in core.opens_of(file) {
            let bits = core.caching_of(open).map_or(LeaseState::NONE, |c| c.bits);
            caching |= bits;
            match self.opens.get(&open.0) {
                _ if bits.is_empty() => {}
                Some(fd) => *wanted.entry(*fd).or_default() |= bits,
                None => allowed = LeaseState::NONE, // not an open of ours to lease (another share's)
            }
        }
        for (fd, bits) in wanted {
            let got = covers(self.protect(fd, bits));
            if !got.contains(bits) {
                allowed &= got;
            }
        }
        if allowed.contains(caching) {
            self.unprotected.remove(&file);
            return false;
        }
        let access = if allowed.contains(LeaseState::R) { HostAccess::Read } else { HostAccess::Write };
        core.handle_host_open(now, file, access);
        // Still unprotected until the holders are down; the next settle looks again.
        true
    }

    /// When [`KernelLeases::settle`] or [`KernelLeases::due`] must run at the latest.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.breaks.values().map(|b| b.deadline).chain(self.waits.values().map(|w| w.next)).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: LeaseState = LeaseState::R;
    const H: LeaseState = LeaseState::H;
    const W: LeaseState = LeaseState::W;
    const RWH: LeaseState = LeaseState::RWH;

    #[test]
    fn leases_for_caching() {
        assert_eq!(needed(R), Lease::Read);
        assert_eq!(needed(R | H), Lease::Write);
        assert_eq!(needed(R | W), Lease::Write);
        assert_eq!(needed(RWH), Lease::Write);
        assert_eq!(needed(LeaseState::NONE), Lease::Unlock);
        assert_eq!(covers(Lease::Read), R);
        assert_eq!(RWH & covers(Lease::Unlock), LeaseState::NONE);
    }

    #[test]
    fn the_grace_stays_inside_the_kernels_lease_break_time() {
        let k = KernelLeases::new(Duration::from_secs(3600));
        assert!(k.grace < kernel_lease::lease_break_time());
        assert_eq!(KernelLeases::new(Duration::from_secs(1)).grace, Duration::from_secs(1));
    }
}
