//! [`LockCore`]: the tables (files, opens, leases, deferred operations), the create
//! path (MS-SMB2 3.3.5.9 with MS-FSA 2.1.5.1.2 and 2.1.4.12) and break delivery.

use crate::api::{Config, CreateOutcome, CreateRequest, Event};
use crate::breaks::{self, Holder, HolderId, Plan, Trigger};
use crate::byte_range::ByteRangeLocks;
use crate::caching::{LeaseState, OplockLevel, RequestedCaching};
use crate::ids::{ConnId, FileKey, LeaseId, OpenId, RequestId};
use crate::lease::{self, Lease, LeaseBreak};
use crate::oplock::Oplock;
use crate::share_mode::{self, ShareEntry};
use opportune_types::NtStatus;
use crate::table::Table;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

/// The caching an open has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenCaching {
    None,
    Oplock(Oplock),
    Lease(LeaseId),
}

/// One registered open.
#[derive(Clone, Debug)]
pub(crate) struct OpenEntry {
    pub conn: ConnId,
    pub file: FileKey,
    pub share: ShareEntry,
    pub is_directory: bool,
    pub level2_ok: bool,
    pub caching: OpenCaching,
    /// FILE_DELETE_ON_CLOSE: the file becomes delete-pending when this open closes.
    pub delete_on_close: bool,
    /// A write arrived while this open's oplock was breaking to LEVEL_II: break it on
    /// to NONE as soon as the first break completes.
    pub then_none: bool,
}

/// One file (MS-FSA 2.1.1.4) with at least one open or waiter.
#[derive(Debug, Default)]
pub(crate) struct FileState {
    pub opens: Vec<OpenId>,
    /// MS-FSA File.PendingDelete / Stream.DeletePending.
    pub delete_pending: bool,
    /// For a named stream: the file it belongs to. A file stays here while opens of
    /// its streams remain, even with no opens of its own.
    pub base: Option<FileKey>,
    pub locks: ByteRangeLocks,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum WaiterKind {
    Create(CreateRequest),
    Rename { request: RequestId, open: OpenId },
}

/// A deferred operation; completed at the latest at `deadline` (deferral + break timeout).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Waiter {
    pub kind: WaiterKind,
    pub file: FileKey,
    pub deadline: Instant,
}

/// A read-only view of an open's caching, for callers and invariant checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachingView {
    /// The caching in force (a breaking holder keeps its old caching until it acks).
    pub bits: LeaseState,
    pub breaking: bool,
    pub lease: Option<LeaseId>,
}

/// The lock core. See the crate documentation.
#[derive(Debug)]
pub struct LockCore {
    pub(crate) config: Config,
    /// Files and opens are hash tables ([`Table`]): an operation on one file or open
    /// looks up its own entries and never depends on how many others there are (a
    /// B-tree lookup walks a longer path, and takes more cache misses, as it grows).
    pub(crate) files: Table<FileKey, FileState>,
    pub(crate) opens: Table<OpenId, OpenEntry>,
    pub(crate) leases: BTreeMap<LeaseId, Lease>,
    pub(crate) waiters: Vec<Waiter>,
    pub(crate) events: VecDeque<Event>,
    /// The named streams in `files`, by the file they belong to.
    pub(crate) streams: BTreeMap<FileKey, BTreeSet<FileKey>>,
    /// The file each pending (blocking) lock request waits on, so that a cancel finds
    /// it without visiting every file.
    pub(crate) pending_locks: BTreeMap<RequestId, FileKey>,
    /// Break acknowledgment deadlines (MS-SMB2 3.3.6.3/3.3.6.4 timers) by time. An entry
    /// counts only while its holder is still breaking with that deadline ([`LockCore::
    /// break_pending`]); acknowledgments and closes remove theirs, timeouts pop them.
    pub(crate) break_deadlines: BTreeSet<(Instant, HolderId)>,
    /// The leases of the cores that hold the other files, when this core holds some files
    /// only ([`LockCore::partitioned`]).
    pub(crate) registry: Option<std::sync::Arc<crate::lease_registry::LeaseRegistry>>,
}

impl LockCore {
    pub fn new(config: Config) -> LockCore {
        LockCore {
            config,
            files: Table::default(),
            opens: Table::default(),
            leases: BTreeMap::new(),
            waiters: Vec::new(),
            events: VecDeque::new(),
            streams: BTreeMap::new(),
            pending_locks: BTreeMap::new(),
            break_deadlines: BTreeSet::new(),
            registry: None,
        }
    }

    /// A core for some of the server's files: leases are registered in `registry`, which
    /// the cores of the other files share, so that a lease key used for a file of another
    /// core is refused as one of this core's own would be (MS-SMB2 3.3.5.9.8).
    pub fn partitioned(config: Config, registry: std::sync::Arc<crate::lease_registry::LeaseRegistry>) -> LockCore {
        LockCore { registry: Some(registry), ..LockCore::new(config) }
    }

    /// The file of the lease `id` if another core's file has it.
    pub(crate) fn foreign_lease_file(&self, id: LeaseId) -> Option<FileKey> {
        self.registry.as_ref()?.file_of(id)
    }

    /// Drops a file's state (it has no opens left), and a stream from its file's index.
    pub(crate) fn remove_file(&mut self, key: FileKey) -> Option<FileState> {
        let f = self.files.remove(&key)?;
        if let Some(b) = f.base
            && let Some(set) = self.streams.get_mut(&b)
        {
            set.remove(&key);
            if set.is_empty() {
                self.streams.remove(&b);
            }
        }
        Some(f)
    }

    /// Next piece of work for the server.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`LockCore::handle_timeout`] must next be called: the earliest break
    /// acknowledgment deadline or deferred-operation deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let breaks = self.break_deadlines.iter().find(|&&(d, id)| self.break_pending(d, id)).map(|&(d, _)| d);
        debug_assert_eq!(breaks, self.scan_break_deadlines(), "break deadline index out of step");
        let waiters = self.waiters.iter().map(|w| w.deadline);
        breaks.into_iter().chain(waiters).min()
    }

    /// The earliest break deadline by a scan of every open and lease (what the index
    /// replaces; kept to check it in debug builds).
    fn scan_break_deadlines(&self) -> Option<Instant> {
        let opens = self.opens.values().filter_map(|o| match o.caching {
            OpenCaching::Oplock(op) => op.deadline(),
            _ => None,
        });
        let leases = self.leases.values().filter_map(|l| l.breaking.map(|b| b.deadline));
        opens.chain(leases).min()
    }

    /// The deadline of the break `id` is waiting for, if it is breaking.
    pub(crate) fn break_deadline(&self, id: HolderId) -> Option<Instant> {
        match id {
            HolderId::Oplock(open) => match self.opens.get(&open)?.caching {
                OpenCaching::Oplock(o) => o.deadline(),
                _ => None,
            },
            HolderId::Lease(lid) => self.leases.get(&lid)?.breaking.map(|b| b.deadline),
        }
    }

    /// Whether holder `id` is still breaking with deadline `d`.
    pub(crate) fn break_pending(&self, d: Instant, id: HolderId) -> bool {
        self.break_deadline(id) == Some(d)
    }

    /// Forgets the deadline of `id`'s break, if it is breaking (before its break ends).
    pub(crate) fn forget_break(&mut self, id: HolderId) {
        if let Some(d) = self.break_deadline(id) {
            self.break_deadlines.remove(&(d, id));
        }
    }

    /// Whether a new open of this file would get STATUS_DELETE_PENDING.
    pub fn is_delete_pending(&self, file: FileKey) -> bool {
        self.files.get(&file).is_some_and(|f| f.delete_pending)
    }

    /// Whether an open of one of `file`'s named streams takes part in sharing and does
    /// not share delete.
    fn stream_refuses_delete(&self, file: FileKey) -> bool {
        self.streams
            .get(&file)
            .into_iter()
            .flatten()
            .filter_map(|s| self.files.get(s))
            .flat_map(|f| f.opens.iter())
            .filter_map(|o| self.opens.get(o))
            .any(|e| share_mode::takes_part(e.share.access) && !e.share.share.allows_delete())
    }

    /// Whether some named stream of `file` is still open (a stream's state lives only
    /// while it has opens).
    pub(crate) fn has_open_streams(&self, file: FileKey) -> bool {
        self.streams.contains_key(&file)
    }

    /// Opens registered on a file.
    pub fn opens_of(&self, file: FileKey) -> Vec<OpenId> {
        self.files.get(&file).map(|f| f.opens.clone()).unwrap_or_default()
    }

    /// The caching an open holds now, or `None` for an unknown open.
    pub fn caching_of(&self, open: OpenId) -> Option<CachingView> {
        let e = self.opens.get(&open)?;
        Some(match e.caching {
            OpenCaching::None => CachingView { bits: LeaseState::NONE, breaking: false, lease: None },
            OpenCaching::Oplock(o) => CachingView { bits: o.bits(), breaking: o.deadline().is_some(), lease: None },
            OpenCaching::Lease(id) => {
                let l = &self.leases[&id];
                CachingView { bits: l.state, breaking: l.breaking.is_some(), lease: Some(id) }
            }
        })
    }

    /// The opens under a lease (Lease.LeaseOpens).
    pub fn lease_opens(&self, id: LeaseId) -> Vec<OpenId> {
        self.leases.get(&id).map(|l| l.opens.clone()).unwrap_or_default()
    }

    /// The epoch of a lease (reported to v2 lease holders).
    pub fn lease_epoch(&self, id: LeaseId) -> Option<u16> {
        self.leases.get(&id).map(|l| l.epoch)
    }

    /// The open now belongs to `conn`: its breaks (and its lease's) go there. A durable
    /// open is moved when its connection is lost and again when it is reconnected
    /// (MS-SMB2 3.3.5.9.7); its share mode, caching and byte-range locks stay as they are.
    pub fn move_open(&mut self, open: OpenId, conn: ConnId) -> bool {
        let Some(e) = self.opens.get_mut(&open) else { return false };
        e.conn = conn;
        if let OpenCaching::Lease(id) = e.caching
            && let Some(l) = self.leases.get_mut(&id)
        {
            l.conn = conn;
        }
        true
    }

    /// Number of deferred operations.
    pub fn deferred_count(&self) -> usize {
        self.waiters.len()
    }

    /// MS-SMB2 3.3.5.9: decides a create. The order follows MS-FSA 2.1.5.1.2: delete
    /// pending first, then the sharing check; a sharing violation is final only once
    /// no other open holds handle caching (batch oplock, H lease), since such a holder
    /// may close when told; otherwise write caching of other opens is broken (and read
    /// caching too when truncating), and the create waits for acknowledgments.
    pub fn handle_create(&mut self, now: Instant, req: CreateRequest) -> CreateOutcome {
        match self.evaluate_create(now, &req, false) {
            Some(outcome) => outcome,
            None => {
                let deadline = now + self.config.break_timeout;
                self.waiters.push(Waiter { kind: WaiterKind::Create(req), file: req.file, deadline });
                CreateOutcome::Deferred
            }
        }
    }

    /// A client cancelled a deferred create (or gave up on it); the server answers
    /// STATUS_CANCELLED itself. Returns whether it was waiting.
    pub fn handle_cancel_create(&mut self, open: OpenId) -> bool {
        let before = self.waiters.len();
        self.waiters.retain(|w| !matches!(w.kind, WaiterKind::Create(r) if r.open == open));
        before != self.waiters.len()
    }

    pub(crate) fn lease_id_of(&self, req: &CreateRequest) -> Option<LeaseId> {
        match req.requested {
            RequestedCaching::Lease { client, key, .. } if self.config.leases && req.policy.leases_allowed => {
                Some(LeaseId { client, key })
            }
            _ => None,
        }
    }

    /// Evaluates a create; `None` means it must wait. With `force` (its deadline has
    /// passed) every break it would wait for is completed as timed out instead.
    pub(crate) fn evaluate_create(&mut self, now: Instant, req: &CreateRequest, force: bool) -> Option<CreateOutcome> {
        let lease_id = self.lease_id_of(req);
        // MS-SMB2 3.3.5.9.8: a lease key already used for another file is refused.
        if let Some(l) = lease_id.and_then(|id| self.leases.get(&id))
            && l.file != req.file
        {
            return Some(CreateOutcome::Denied(NtStatus::INVALID_PARAMETER));
        }
        if let Some(id) = lease_id
            && !self.leases.contains_key(&id)
            && self.foreign_lease_file(id).is_some_and(|f| f != req.file)
        {
            return Some(CreateOutcome::Denied(NtStatus::INVALID_PARAMETER));
        }
        // MS-FSA 2.1.5.1.2: an open of a delete-pending file fails.
        if self.is_delete_pending(req.file) || req.base.is_some_and(|b| self.is_delete_pending(b)) {
            return Some(CreateOutcome::Denied(NtStatus::DELETE_PENDING));
        }
        // MS-FSA 2.1.5.1.2: DELETE on a file needs every open of its named streams to
        // share delete (smbtorture smb2.streams.delete).
        if req.base.is_none() && req.access.is_delete() && self.stream_refuses_delete(req.file) {
            return Some(CreateOutcome::Denied(NtStatus::SHARING_VIOLATION));
        }
        let new_entry = ShareEntry { access: req.access, share: req.share };
        if !self.share_ok(req.file, new_entry) {
            // MS-FSA 2.1.5.1.2 / 2.1.4.12: break handle caching before failing.
            let holders = self.holders(req.file, lease_id);
            let plan = breaks::plan(&holders, LeaseState::H, Trigger::Open, |h| h.bits.intersects(LeaseState::W | LeaseState::H));
            if plan.breaks.is_empty() && plan.wait_on.is_empty() {
                return Some(CreateOutcome::Denied(NtStatus::SHARING_VIOLATION));
            }
            if self.apply_plan(now, &plan, force) {
                return None;
            }
            if !self.share_ok(req.file, new_entry) {
                return Some(CreateOutcome::Denied(NtStatus::SHARING_VIOLATION));
            }
        }
        // MS-FSA 2.1.4.12 Operation OPEN: stat opens break nothing unless they truncate;
        // READ_CONTROL on top of the stat rights still leaves leases alone (smbtorture
        // smb2.lease.statopen4) but breaks oplocks (smb2.oplock.statopen1). Only write
        // caching makes the open wait: a handle-caching break for an overwrite is sent
        // without waiting (smb2.lease.breaking4).
        if !share_mode::is_stat_open(req.access) || req.truncating {
            let mut remove = if req.truncating { LeaseState::RWH } else { LeaseState::W };
            // An open that will delete the file breaks handle caching, so that holders
            // can close (smbtorture smb2.lease.unlink: RH → R, acknowledgment required).
            if req.delete_on_close {
                remove |= LeaseState::H;
            }
            let lease_stat = share_mode::is_lease_stat_open(req.access) && !req.truncating;
            let holders: Vec<Holder> = self
                .holders(req.file, lease_id)
                .into_iter()
                .filter(|h| !(lease_stat && matches!(h.id, HolderId::Lease(_))))
                .collect();
            let plan = breaks::plan(&holders, remove, Trigger::Open, |h| {
                h.bits.intersects(LeaseState::W) || (req.delete_on_close && h.bits.intersects(LeaseState::H))
            });
            if self.apply_plan(now, &plan, force) {
                return None;
            }
        }
        Some(self.grant(req, lease_id))
    }

    /// Whether an open with this access and share mode would pass the sharing check
    /// against the opens of `file` (used for the implicit parent-directory open of a
    /// rename).
    pub fn would_share(&self, file: FileKey, access: opportune_types::AccessMask, share: opportune_types::ShareAccess) -> bool {
        self.share_ok(file, ShareEntry { access, share })
    }

    /// The connections of the opens of `file` whose share modes refuse an open with this
    /// access and sharing (MS-FSA 2.1.5.1.2.1), so the server can check they are alive.
    pub fn share_blockers(&self, file: FileKey, access: opportune_types::AccessMask, share: opportune_types::ShareAccess) -> Vec<ConnId> {
        let new = ShareEntry { access, share };
        let Some(f) = self.files.get(&file) else { return Vec::new() };
        let conns = f.opens.iter().filter_map(|o| self.opens.get(o)).filter(|e| share_mode::conflicts(e.share, new));
        conns.map(|e| e.conn).collect()
    }

    /// The connections of the other opens whose byte-range locks overlap this range in a
    /// way that refuses it (an exclusive lock, or any lock when `exclusive`), so the
    /// server can check they are alive.
    pub fn lock_blockers(&self, open: OpenId, offset: u64, length: u64, exclusive: bool) -> Vec<ConnId> {
        let Some(f) = self.opens.get(&open).and_then(|e| self.files.get(&e.file)) else { return Vec::new() };
        let owners = f.locks.blockers(open, offset, length, exclusive);
        owners.into_iter().filter_map(|o| self.opens.get(&o)).map(|e| e.conn).collect()
    }

    fn share_ok(&self, file: FileKey, new: ShareEntry) -> bool {
        let Some(f) = self.files.get(&file) else { return true };
        share_mode::check(f.opens.iter().map(|o| &self.opens[o].share), new)
    }

    /// The caching holders of a file, leaving out the lease `exclude`.
    pub(crate) fn holders(&self, file: FileKey, exclude: Option<LeaseId>) -> Vec<Holder> {
        let mut out = Vec::new();
        let Some(f) = self.files.get(&file) else { return out };
        for id in &f.opens {
            let e = &self.opens[id];
            match e.caching {
                OpenCaching::None => {}
                OpenCaching::Oplock(o) => out.push(Holder {
                    id: HolderId::Oplock(*id),
                    bits: o.bits(),
                    breaking: o.deadline().is_some(),
                    breaking_to: match o {
                        Oplock::Breaking { to, .. } => to.caching(),
                        Oplock::Held(_) => LeaseState::NONE,
                    },
                    // An exclusive or batch oplock always breaks away write caching.
                    blocking: o.deadline().is_some(),
                    level2_ok: e.level2_ok,
                }),
                OpenCaching::Lease(lid) => {
                    if Some(lid) == exclude || out.iter().any(|h: &Holder| h.id == HolderId::Lease(lid)) {
                        continue;
                    }
                    let l = &self.leases[&lid];
                    if !l.state.is_empty() {
                        out.push(Holder {
                            id: HolderId::Lease(lid),
                            bits: l.state,
                            breaking: l.breaking.is_some(),
                            breaking_to: l.breaking.map_or(LeaseState::NONE, |b| b.to),
                            blocking: l.breaking.is_some_and(|b| b.blocking),
                            level2_ok: true,
                        });
                    }
                }
            }
        }
        out
    }

    /// Sends the planned breaks; returns whether the operation must wait. With `force`,
    /// every awaited break is completed at once as if its timer had fired.
    pub(crate) fn apply_plan(&mut self, now: Instant, plan: &Plan, force: bool) -> bool {
        for &(id, target, blocking) in &plan.breaks {
            self.send_break(now, id, target, blocking);
        }
        for &(id, target) in &plan.queue {
            if let HolderId::Lease(lid) = id
                && let Some(l) = self.leases.get_mut(&lid)
            {
                l.queued = Some(l.queued.map_or(target, |q| q & target));
            }
        }
        if plan.wait_on.is_empty() {
            return false;
        }
        if force {
            for &id in &plan.wait_on {
                self.expire(now, id);
            }
            return false;
        }
        true
    }

    /// MS-SMB2 3.3.4.6 / 3.3.4.7: notifies a holder that its caching drops to `target`.
    pub(crate) fn send_break(&mut self, now: Instant, id: HolderId, target: LeaseState, blocking: bool) {
        self.send_break_ex(now, id, target, blocking, true);
    }

    /// [`LockCore::send_break`]; `new_epoch` is false for the follow-up steps of one
    /// break, which report the epoch of its first notification (smbtorture
    /// smb2.lease.v2_breaking3).
    pub(crate) fn send_break_ex(&mut self, now: Instant, id: HolderId, target: LeaseState, blocking: bool, new_epoch: bool) {
        let deadline = now + self.config.break_timeout;
        match id {
            HolderId::Oplock(open) => {
                let e = self.opens.get_mut(&open).expect("holder open exists");
                let OpenCaching::Oplock(Oplock::Held(level)) = e.caching else { return };
                let to_level = if target.contains(LeaseState::R) { OplockLevel::LevelII } else { OplockLevel::None };
                if level == OplockLevel::LevelII {
                    // A Level II break needs no acknowledgment (MS-SMB2 3.3.4.6).
                    e.caching = OpenCaching::None;
                } else {
                    e.caching = OpenCaching::Oplock(Oplock::Breaking { from: level, to: to_level, deadline });
                    self.break_deadlines.insert((deadline, id));
                }
                self.events.push_back(Event::SendOplockBreak { conn: e.conn, open, to_level });
            }
            HolderId::Lease(lid) => {
                let l = self.leases.get_mut(&lid).expect("holder lease exists");
                let from = l.state;
                let ack_required = lease::ack_required(from);
                if new_epoch {
                    l.epoch = l.epoch.wrapping_add(1);
                }
                if ack_required {
                    l.breaking = Some(LeaseBreak { to: target, deadline, blocking });
                    self.break_deadlines.insert((deadline, id));
                } else {
                    l.state = target;
                }
                self.events.push_back(Event::SendLeaseBreak {
                    conn: l.conn,
                    lease: lid,
                    epoch: l.epoch,
                    v2: l.v2,
                    from,
                    to: target,
                    ack_required,
                });
            }
        }
    }

    /// Completes an outstanding break without an acknowledgment: MS-SMB2 3.3.6.3 (oplock
    /// break acknowledgment timer: the oplock is set to NONE) and the lease break
    /// acknowledgment timer: the lease is dropped to NONE, whatever it was breaking to
    /// (smbtorture smb2.lease.timeout: after the timeout the lease reports "" and a
    /// write through another lease breaks nothing of it).
    pub(crate) fn expire(&mut self, now: Instant, id: HolderId) {
        match id {
            HolderId::Oplock(open) => {
                if let Some(e) = self.opens.get_mut(&open)
                    && matches!(e.caching, OpenCaching::Oplock(Oplock::Breaking { .. }))
                {
                    e.caching = OpenCaching::None;
                    e.then_none = false;
                }
            }
            HolderId::Lease(lid) => {
                if let Some(l) = self.leases.get_mut(&lid)
                    && let Some(b) = l.breaking.take()
                {
                    l.state = LeaseState::NONE;
                    l.queued = None;
                    self.after_lease_break(now, lid, b.blocking);
                }
            }
        }
    }

    /// A lease break finished (ack or timeout): a lower state queued behind it is broken
    /// to now, in steps ([`lease::next_step`]); the follow-up break blocks like the first.
    pub(crate) fn after_lease_break(&mut self, now: Instant, lid: LeaseId, blocking: bool) {
        let Some(l) = self.leases.get_mut(&lid) else { return };
        let Some(t) = l.queued else { return };
        let required = lease::normalize_state(l.state & t);
        if required == l.state {
            l.queued = None;
            return;
        }
        let step = lease::next_step(l.state, required);
        if step == required {
            l.queued = None;
        }
        self.send_break_ex(now, HolderId::Lease(lid), step, blocking, false);
    }

    /// An oplock break finished at LEVEL_II while a write wanted NONE: break on now.
    pub(crate) fn after_oplock_break(&mut self, now: Instant, open: OpenId) {
        let Some(e) = self.opens.get_mut(&open) else { return };
        if std::mem::take(&mut e.then_none) && matches!(e.caching, OpenCaching::Oplock(Oplock::Held(_))) {
            self.send_break(now, HolderId::Oplock(open), LeaseState::NONE, false);
        }
    }

    /// Re-evaluates the deferred operations on a file after its caching changed.
    pub(crate) fn retry_waiters(&mut self, now: Instant, file: FileKey) {
        let mut i = 0;
        while i < self.waiters.len() {
            let w = self.waiters[i];
            if w.file != file {
                i += 1;
                continue;
            }
            let done = match w.kind {
                WaiterKind::Create(req) => self.evaluate_create(now, &req, false).map(|outcome| Event::CompleteCreate { open: req.open, outcome }),
                WaiterKind::Rename { request, open } => {
                    (!self.evaluate_rename(now, open, false)).then_some(Event::CompleteRename { request, open, status: NtStatus::SUCCESS })
                }
            };
            match done {
                Some(ev) => {
                    self.waiters.remove(i);
                    self.events.push_back(ev);
                }
                None => i += 1,
            }
        }
    }
}
