//! One set of byte-range locks with the host (issue 11, item 4): the SMB locks of an
//! open on a share with `posix_locking` are mirrored as OFD locks on its descriptor
//! (`Handle::host_lock`), so local processes' POSIX and OFD locks and SMB locks see
//! each other. The lock core stays the authority on SMB semantics; the kernel is asked
//! after the core granted, and a refusal takes the grant back
//! (`LockCore::revoke_lock`).
//!
//! * Only what `off_t` can name is mirrored: the part of a range below 2^63. Bytes from
//!   2^63 on, and zero-length locks, are SMB-only (no host process can lock them anyway).
//! * OFD locks of one description merge by range, so the host state of a description
//!   over a range is recomputed from all the core locks there of the opens that use it
//!   ([`coverage`]): exclusive where one of them is exclusive, shared where only shared
//!   ones are, unlocked elsewhere. Unlocking one of two overlapping locks keeps what the
//!   other needs. An open has a description of its own, except on a share with kernel
//!   oplocks, where all opens of a file share one (`opportune_fs::Handle::shares_description`):
//!   there the coverage is the file's, over every open of it, and closing one open
//!   recomputes what the others need instead of unlocking everything. When the shared
//!   description is reopened read-write for a writer its locks went with the old one, and
//!   are taken again ([`HostMirror::reopened`]).
//! * A blocking lock refused by the host waits here ([`HostMirror`]) and is tried again
//!   with an exponential back-off from 10 ms to 1 s: Linux tells nobody when a POSIX or
//!   OFD lock goes, except a thread blocked in `F_OFD_SETLKW`, which cannot be
//!   cancelled without signals and would take the host lock before the core decided.
//!   Each try is one `F_OFD_GETLK` while the host lock stays, so a waiter costs at most
//!   one system call a second. CANCEL, close, disconnect and parking end it as they end
//!   the core's waiters.
//! * An exclusive lock through an open without write access becomes a host read lock
//!   (the kernel takes write locks only through descriptors open for writing): local
//!   writers are kept out, local readers are not.
//! * Strict locking asks the host after the core ([`host_conflict`], `F_OFD_GETLK`).
//! * Many locks on one shared description (more than [`COARSE_ABOVE`] ranges): the host
//!   holds their hulls instead of each lock ([`Hulls`]), so the kernel's
//!   per-inode lock list, which every `F_OFD_*` call walks, stays a few entries long.
//!   While coarse, a lock inside the hulls costs no system call, one outside grows
//!   them, and unlocks leave the host alone until fewer than [`EXACT_BELOW`] ranges are
//!   left, when the description is set exact again. A local lock where the hulls would
//!   grow makes the description exact at once (and it tries to become coarse again only
//!   at twice as many ranges), so a local process only ever meets more than the SMB
//!   locks, and an SMB lock is refused only by a local lock it really overlaps.
//! * Nothing here waits: `F_OFD_SETLK` and `F_OFD_GETLK` never block, so they may run
//!   under the lock-core mutex.

use super::host_ranges::{Cover, Hulls, coverage, host_part};
use opportune_fs::{Handle, HOST_LOCK_END};
use opportune_locks::{LockCore, LockElement, LockKind, LockOutcome, OpenId, RequestId};
use opportune_types::NtStatus;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The first retry of a blocking lock the host refused comes this soon after it...
const FIRST_RETRY: Duration = Duration::from_millis(10);
/// ...and each later one twice as late, at most this late.
const LAST_RETRY: Duration = Duration::from_secs(1);

/// A shared description whose opens hold more than this many distinct lock ranges
/// takes their hulls on the host instead of each lock...
pub(super) const COARSE_ABOVE: usize = 1024;
/// ...until fewer than this many are left.
pub(super) const EXACT_BELOW: usize = 256;

/// The descriptor of an open whose locks are mirrored on the host.
struct HostOpen {
    handle: Arc<Handle>,
    /// Whether a host lock was ever taken through it (else closing has nothing to drop).
    locked: bool,
}

/// A blocking lock the core granted and the host refused: it waits for the host lock
/// to go.
#[derive(Clone, Copy, Debug)]
struct HostWait {
    open: u64,
    element: LockElement,
    due: Instant,
    backoff: Duration,
}

impl HostWait {
    fn new(open: u64, element: LockElement, now: Instant) -> HostWait {
        HostWait { open, element, due: now + FIRST_RETRY, backoff: FIRST_RETRY }
    }

    fn later(&mut self, now: Instant) {
        self.backoff = (self.backoff * 2).min(LAST_RETRY);
        self.due = now + self.backoff;
    }
}

/// The host side of the lock adapter: the mirrored opens and the locks waiting for the
/// host. Methods that decide a waiting request return it as [`Decided`] for the adapter
/// to answer on its connection.
#[derive(Default)]
pub(super) struct HostMirror {
    opens: HashMap<u64, HostOpen>,
    /// The opens that share a description, by its descriptor number (shared ones only).
    shared: HashMap<i32, Vec<u64>>,
    waits: HashMap<u64, HostWait>,
    /// Shared descriptions whose host locks are hulls, by descriptor number.
    coarse: HashMap<i32, Hulls>,
    /// Shared descriptions a local lock kept from becoming coarse: they try again from
    /// this many ranges on.
    coarse_from: HashMap<i32, usize>,
}

/// Sets host locks to `pieces` through `handle`: every piece is tried, and the result
/// says whether all were taken (a refused piece keeps what was there). `Unlocked`
/// pieces are unlocked only with `unlock_gaps`.
fn set_pieces(handle: &Handle, open: u64, pieces: &[(u64, u64, Cover)], unlock_gaps: bool) -> bool {
    let mut all = true;
    for &(s, e, cover) in pieces {
        let r = match cover {
            Cover::Exclusive => handle.host_lock(s, e - s, true),
            Cover::Shared => handle.host_lock(s, e - s, false),
            Cover::Unlocked if unlock_gaps => handle.host_unlock(s, e - s).map(|()| true),
            Cover::Unlocked => Ok(true),
        };
        match r {
            Ok(true) => {}
            Ok(false) => all = false,
            // Not a conflict (no lock memory, say): the lock stays SMB-only.
            Err(err) => tracing::warn!(open, start = s, end = e, error = %err, "host lock failed"),
        }
    }
    all
}

/// A waiting lock request decided here: request, open, status.
pub(super) type Decided = (u64, u64, NtStatus);

impl HostMirror {
    /// Mirrors the locks of `open` from now on; `handle` is its descriptor.
    pub(super) fn add(&mut self, open: u64, handle: Arc<Handle>) {
        if handle.shares_description()
            && let Some(fd) = handle.lease_fd_number()
        {
            self.shared.entry(fd).or_default().push(open);
        }
        self.opens.insert(open, HostOpen { handle, locked: false });
    }

    /// The opens whose locks make up the host locks of `open`'s description: itself, and
    /// on a shared description every other open using it.
    fn sharers(&self, open: u64) -> Vec<u64> {
        self.shared_with(open).map_or_else(|| vec![open], <[u64]>::to_vec)
    }

    /// The opens of `open`'s shared description, when it has one that is listed.
    fn shared_with(&self, open: u64) -> Option<&[u64]> {
        match self.opens.get(&open) {
            Some(h) if h.handle.shares_description() => h.handle.lease_fd_number().and_then(|fd| self.shared.get(&fd)).map(Vec::as_slice),
            _ => None,
        }
    }

    /// The descriptor of `open` if its locks are mirrored.
    pub(super) fn handle(&self, open: u64) -> Option<Arc<Handle>> {
        self.opens.get(&open).map(|h| h.handle.clone())
    }

    /// The shared description `open` uses, by descriptor number (`None`: a description
    /// of its own, which stays exact).
    fn description(&self, open: u64) -> Option<i32> {
        let h = self.opens.get(&open)?;
        if h.handle.shares_description() { h.handle.lease_fd_number() } else { None }
    }

    /// How many distinct ranges the opens of `open`'s description hold locks on.
    fn ranges(&self, core: &LockCore, open: u64) -> usize {
        let count = |o: &u64| core.lock_ranges_of(OpenId(*o));
        self.shared_with(open).map_or_else(|| count(&open), |all| all.iter().map(count).sum())
    }

    /// The hulls of the host parts of every lock of `open`'s description.
    fn hulls(&self, core: &LockCore, open: u64) -> Hulls {
        Hulls::of(
            self.sharers(open)
                .iter()
                .flat_map(|&o| core.locks_of(OpenId(o)))
                .filter_map(|l| host_part(l.offset, l.length).map(|(s, e)| (s, e, l.exclusive))),
        )
    }

    /// Sets the host locks of `open` over `ranges` (host ranges) to what its core locks
    /// make of them. Returns false when the host refused a piece (a local process holds
    /// a conflicting lock); the other pieces are set all the same.
    fn sync(&mut self, core: &LockCore, open: u64, ranges: &[(u64, u64)]) -> bool {
        let sharers = self.sharers(open);
        let Some(h) = self.opens.get_mut(&open) else { return true };
        h.locked = true;
        let mut all = true;
        for &(start, end) in ranges {
            let locks: Vec<(u64, u64, bool)> = sharers
                .iter()
                .flat_map(|&o| core.locks_of_overlapping(OpenId(o), start, end - start))
                .filter_map(|l| host_part(l.offset, l.length).map(|(s, e)| (s, e, l.exclusive)))
                .collect();
            all &= set_pieces(&h.handle, open, &coverage(&locks, start, end), true);
        }
        all
    }

    /// A coarse description takes in locks just granted to `open`: nothing to do for
    /// those inside its hulls, the grown hulls taken for the others. False if the host
    /// refused part of the growth (the caller makes the description exact).
    fn widen(&mut self, open: u64, fd: i32, elements: &[LockElement]) -> bool {
        let Some(&hulls) = self.coarse.get(&fd) else { return false };
        let grown = elements
            .iter()
            .filter_map(|e| host_part(e.offset, e.length).map(|(s, t)| (s, t, e.kind == LockKind::Exclusive)))
            .fold(hulls, |h, (s, t, x)| if h.covers(s, t, x) { h } else { h.with(s, t, x) });
        if grown == hulls {
            return true;
        }
        let Some(h) = self.opens.get_mut(&open) else { return false };
        h.locked = true;
        // Only more is taken than before, so the gaps are left alone.
        if !set_pieces(&h.handle, open, &grown.pieces(), false) {
            return false;
        }
        self.coarse.insert(fd, grown);
        true
    }

    /// Sets `open`'s description exact again: every byte what its core locks need.
    fn make_exact(&mut self, core: &LockCore, open: u64, fd: i32) {
        self.coarse.remove(&fd);
        // Only the locks just granted can be refused here (the hulls held the rest);
        // the caller's own sync finds them.
        self.sync(core, open, &[(0, HOST_LOCK_END)]);
    }

    /// After a grant kept exact: a shared description over [`COARSE_ABOVE`] ranges takes
    /// its hulls on the host. If a local lock is in the way it stays exact (set so again)
    /// and tries once it holds twice as many ranges.
    fn maybe_coarsen(&mut self, core: &LockCore, open: u64) {
        let Some(fd) = self.description(open) else { return };
        let n = self.ranges(core, open);
        if n <= COARSE_ABOVE || n < self.coarse_from.get(&fd).copied().unwrap_or(0) {
            return;
        }
        let hulls = self.hulls(core, open);
        let Some(h) = self.opens.get(&open) else { return };
        if set_pieces(&h.handle, open, &hulls.pieces(), false) {
            tracing::debug!(open, ranges = n, "host locks of a shared description coarse");
            self.coarse.insert(fd, hulls);
            self.coarse_from.remove(&fd);
        } else {
            tracing::debug!(open, ranges = n, "host locks stay exact: a local lock lies between the SMB locks");
            self.sync(core, open, &[(0, HOST_LOCK_END)]);
            self.coarse_from.insert(fd, n * 2);
        }
    }

    /// A coarse description whose locks went down (unlocks, a close): exact again below
    /// [`EXACT_BELOW`] ranges; on a close (`shrink`) the hulls are recomputed from the
    /// locks left (less than was held, so nothing can be refused).
    fn after_release(&mut self, core: &LockCore, open: u64, fd: i32, shrink: bool) {
        if self.ranges(core, open) < EXACT_BELOW {
            self.make_exact(core, open, fd);
            return;
        }
        if !shrink {
            return;
        }
        let hulls = self.hulls(core, open);
        let Some(h) = self.opens.get(&open) else { return };
        if set_pieces(&h.handle, open, &hulls.pieces(), true) {
            self.coarse.insert(fd, hulls);
        } else {
            self.make_exact(core, open, fd);
        }
    }

    /// The core just granted `elements` to `open`: takes them on the host too. If the
    /// host refuses, the grants are taken back from the core and the host state is as
    /// before; returns whether they were kept.
    pub(super) fn grant(&mut self, core: &mut LockCore, open: u64, elements: &[LockElement]) -> bool {
        if !self.opens.contains_key(&open) {
            return true;
        }
        let ranges: Vec<(u64, u64)> = elements.iter().filter_map(|e| host_part(e.offset, e.length)).collect();
        if ranges.is_empty() {
            return true;
        }
        if let Some(fd) = self.description(open).filter(|fd| self.coarse.contains_key(fd)) {
            if self.widen(open, fd, elements) {
                return true;
            }
            tracing::debug!(open, "host locks exact again: a local lock lies where the hulls would grow");
            self.make_exact(core, open, fd);
            self.coarse_from.insert(fd, self.ranges(core, open) * 2);
        }
        if self.sync(core, open, &ranges) {
            self.maybe_coarsen(core, open);
            return true;
        }
        for e in elements.iter().rev() {
            core.revoke_lock(OpenId(open), e);
        }
        self.sync(core, open, &ranges);
        tracing::debug!(open, ?elements, "byte-range lock refused by a host lock");
        false
    }

    /// The host side of a LOCK request the core answered with `outcome`: unlocked
    /// ranges are set again from the locks left; granted locks are taken on the host,
    /// and if it refuses, a blocking lock waits here and any other request is
    /// STATUS_LOCK_NOT_GRANTED.
    pub(super) fn request(
        &mut self,
        core: &mut LockCore,
        open: u64,
        request: u64,
        elements: &[LockElement],
        outcome: LockOutcome,
        now: Instant,
    ) -> LockOutcome {
        if !self.opens.contains_key(&open) {
            return outcome;
        }
        if elements.first().is_some_and(|e| e.kind == LockKind::Unlock) {
            let ranges: Vec<(u64, u64)> = elements
                .iter()
                .filter(|e| e.kind == LockKind::Unlock)
                .filter_map(|e| host_part(e.offset, e.length))
                .collect();
            match self.description(open) {
                // Coarse: the hulls stay until few locks are left.
                Some(fd) if self.coarse.contains_key(&fd) => self.after_release(core, open, fd, false),
                // Only less is locked than before: nothing new is taken, nothing is refused.
                _ => {
                    self.sync(core, open, &ranges);
                }
            }
            return outcome;
        }
        if outcome != LockOutcome::Done(NtStatus::SUCCESS) || self.grant(core, open, elements) {
            return outcome;
        }
        match elements {
            [e] if !e.fail_immediately => {
                self.waits.insert(request, HostWait::new(open, *e, now));
                LockOutcome::Pending
            }
            _ => LockOutcome::Done(NtStatus::LOCK_NOT_GRANTED),
        }
    }

    /// Blocking lock `element` that the core granted after waiting (its
    /// `Event::CompleteLock` is being routed): returns false if the host refused it, and
    /// it now waits here.
    pub(super) fn late_grant(&mut self, core: &mut LockCore, request: u64, open: u64, element: LockElement, now: Instant) -> bool {
        if self.grant(core, open, &[element]) {
            return true;
        }
        self.waits.insert(request, HostWait::new(open, element, now));
        false
    }

    /// Tries the waiters that are due: each whose range the host now leaves free asks
    /// the core again; granted there and on the host, it is decided.
    pub(super) fn retry(&mut self, core: &mut LockCore, now: Instant) -> Vec<Decided> {
        let due: Vec<u64> = self.waits.iter().filter(|(_, w)| w.due <= now).map(|(r, _)| *r).collect();
        let mut decided = Vec::new();
        for request in due {
            let Some(mut w) = self.waits.remove(&request) else { continue };
            let free = match (self.opens.get(&w.open), host_part(w.element.offset, w.element.length)) {
                (Some(h), Some((s, e))) => {
                    h.handle.host_lockable(s, e - s, w.element.kind == LockKind::Exclusive).unwrap_or(true)
                }
                _ => true,
            };
            if !free {
                w.later(now);
                self.waits.insert(request, w);
                continue;
            }
            match core.handle_lock(now, OpenId(w.open), RequestId(request), &[w.element]) {
                // The core has it among its waiters now (an SMB lock came in between).
                LockOutcome::Pending => {}
                LockOutcome::Done(NtStatus::SUCCESS) => {
                    if self.grant(core, w.open, &[w.element]) {
                        decided.push((request, w.open, NtStatus::SUCCESS));
                    } else {
                        w.later(now);
                        self.waits.insert(request, w);
                    }
                }
                LockOutcome::Done(status) => decided.push((request, w.open, status)),
            }
        }
        decided
    }

    /// When the next waiter is due.
    pub(super) fn next_retry(&self) -> Option<Instant> {
        self.waits.values().map(|w| w.due).min()
    }

    /// SMB2 CANCEL of a lock waiting for the host: STATUS_CANCELLED; `None` if it does
    /// not wait here.
    pub(super) fn cancel(&mut self, request: u64) -> Option<Decided> {
        self.waits.remove(&request).map(|w| (request, w.open, NtStatus::CANCELLED))
    }

    /// Ends the waiters of `open` with `status` (closed or parked:
    /// STATUS_RANGE_NOT_LOCKED, as the core ends its own).
    pub(super) fn end_waits(&mut self, open: u64, status: NtStatus) -> Vec<Decided> {
        let requests: Vec<u64> = self.waits.iter().filter(|(_, w)| w.open == open).map(|(r, _)| *r).collect();
        for r in &requests {
            self.waits.remove(r);
        }
        requests.into_iter().map(|r| (r, open, status)).collect()
    }

    /// `open` is closing: its host locks go now, before the core lets waiters in (its
    /// descriptor may outlive the close a little), and its waiters end. On a shared
    /// description what the other opens of the file hold stays: the description's locks
    /// are recomputed from theirs.
    pub(super) fn release(&mut self, core: &LockCore, open: u64) -> Vec<Decided> {
        let decided = self.end_waits(open, NtStatus::RANGE_NOT_LOCKED);
        let fd = self.description(open);
        let Some(h) = self.opens.remove(&open) else { return decided };
        let others = self.leave_shared(open, &h.handle);
        if others.is_empty()
            && let Some(fd) = fd
        {
            self.coarse.remove(&fd);
            self.coarse_from.remove(&fd);
        }
        if let (Some(&other), Some(fd)) = (others.first(), fd.filter(|fd| self.coarse.contains_key(fd))) {
            self.after_release(core, other, fd, true);
            return decided;
        }
        match others.first() {
            Some(&other) if h.locked || self.opens.get(&other).is_some_and(|o| o.locked) => {
                self.sync(core, other, &[(0, HOST_LOCK_END)]);
            }
            Some(_) => {}
            None if h.locked => {
                if let Err(e) = h.handle.host_unlock_all() {
                    tracing::warn!(open, error = %e, "dropping host locks failed");
                }
            }
            None => {}
        }
        decided
    }

    /// Takes `open` out of its shared description's opens; returns the opens left there.
    fn leave_shared(&mut self, open: u64, handle: &Handle) -> Vec<u64> {
        if !handle.shares_description() {
            return Vec::new();
        }
        let Some(fd) = handle.lease_fd_number() else { return Vec::new() };
        let Some(list) = self.shared.get_mut(&fd) else { return Vec::new() };
        list.retain(|&o| o != open);
        let left = list.clone();
        if left.is_empty() {
            self.shared.remove(&fd);
        }
        left
    }

    /// The shared description `open` uses was reopened read-write (a writer joined): the
    /// OFD locks of the old description went with it, so the file's locks are taken
    /// again, now as write locks where exclusive.
    pub(super) fn reopened(&mut self, core: &LockCore, handle: &Handle) {
        let Some(&open) = handle.lease_fd_number().and_then(|fd| self.shared.get(&fd)).and_then(|l| l.first()) else { return };
        let any = self.sharers(open).iter().any(|o| self.opens.get(o).is_some_and(|h| h.locked));
        if let Some(fd) = self.description(open)
            && let Some(&hulls) = self.coarse.get(&fd)
        {
            let taken = self.opens.get(&open).is_some_and(|h| set_pieces(&h.handle, open, &hulls.pieces(), false));
            if taken {
                return;
            }
            self.coarse.remove(&fd);
            self.coarse_from.insert(fd, self.ranges(core, open) * 2);
        }
        if any && !self.sync(core, open, &[(0, HOST_LOCK_END)]) {
            tracing::warn!(open, "byte-range locks not all taken again on the host after a reopen (a local lock came in between)");
        }
    }
}

/// Whether a local process's lock conflicts with reading or writing this SMB range
/// through `handle`.
pub(super) fn host_conflict(handle: &Handle, offset: u64, length: u64, write: bool) -> bool {
    let Some((s, e)) = host_part(offset, length) else { return false };
    handle.host_conflict(s, e - s, write).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_a_second() {
        let now = Instant::now();
        let mut w = HostWait::new(1, LockElement::lock(0, 1, true, false), now);
        assert_eq!(w.due, now + FIRST_RETRY);
        for _ in 0..20 {
            w.later(now);
        }
        assert_eq!(w.backoff, LAST_RETRY);
        assert_eq!(w.due, now + LAST_RETRY);
    }
}
