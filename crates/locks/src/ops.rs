//! Close, disconnect, delete-on-close, data-changing operations and rename.

use crate::api::{CloseOutcome, Event, RenameOutcome};
use crate::breaks::{self, HolderId, Trigger};
use crate::caching::LeaseState;
use crate::core::{LockCore, OpenCaching, Waiter, WaiterKind};
use crate::ids::{ConnId, OpenId, RequestId};
use opportune_types::{AccessMask, NtStatus};
use std::time::Instant;

impl LockCore {
    /// MS-FSA 2.1.5.4 (close): drops the open's caching, byte-range locks and pending
    /// locks; a FILE_DELETE_ON_CLOSE open makes the file delete-pending; the last open
    /// of a delete-pending file tells the server to unlink it. Deferred operations on
    /// the file are re-evaluated. `None` for an unknown open.
    pub fn handle_close(&mut self, now: Instant, open: OpenId) -> Option<CloseOutcome> {
        self.forget_break(HolderId::Oplock(open));
        let entry = self.opens.remove(&open)?;
        if let OpenCaching::Lease(lid) = entry.caching
            && self.leases.get(&lid).is_some_and(|l| l.opens.len() == 1 && l.opens[0] == open)
        {
            self.forget_break(HolderId::Lease(lid));
        }
        if let OpenCaching::Lease(lid) = entry.caching
            && let Some(l) = self.leases.get_mut(&lid)
        {
            l.opens.retain(|o| *o != open);
            if l.opens.is_empty() {
                let file = l.file;
                self.leases.remove(&lid);
                if let Some(reg) = &self.registry {
                    reg.release(lid, file);
                }
            }
        }
        // Renames waiting on behalf of this open cannot go on.
        let mut i = 0;
        while i < self.waiters.len() {
            if let WaiterKind::Rename { request, open: o } = self.waiters[i].kind
                && o == open
            {
                self.waiters.remove(i);
                self.events.push_back(Event::CompleteRename { request, open, status: NtStatus::FILE_CLOSED });
            } else {
                i += 1;
            }
        }
        let file_key = entry.file;
        let f = self.files.get_mut(&file_key).expect("open's file exists");
        f.opens.retain(|o| *o != open);
        for request in f.locks.remove_open(open) {
            self.pending_locks.remove(&request);
            self.events.push_back(Event::CompleteLock { request, open, status: NtStatus::RANGE_NOT_LOCKED });
        }
        for p in f.locks.retry_pending() {
            self.pending_locks.remove(&p.request);
            self.events.push_back(Event::CompleteLock { request: p.request, open: p.owner, status: NtStatus::SUCCESS });
        }
        let f = self.files.get_mut(&file_key).expect("file exists");
        if entry.delete_on_close {
            f.delete_pending = true;
        }
        let base = f.base;
        let last = f.opens.is_empty();
        // A delete-pending file whose named streams are still open goes with the last of
        // them (MS-FSA 2.1.5.4: the file is deleted when its last open, of any stream, closes).
        let streams_open = last && base.is_none() && self.has_open_streams(file_key);
        let f = self.files.get_mut(&file_key).expect("file exists");
        let delete_file = last && f.delete_pending && !streams_open;
        if last && !(streams_open && f.delete_pending) {
            self.remove_file(file_key);
        }
        let mut delete_base = false;
        if let (true, Some(b)) = (last, base)
            && !self.has_open_streams(b)
            && self.files.get(&b).is_some_and(|bf| bf.opens.is_empty())
        {
            delete_base = self.remove_file(b).is_some_and(|bf| bf.delete_pending);
        }
        if delete_file {
            // The name is gone: waiting creates must look the path up again.
            let mut i = 0;
            while i < self.waiters.len() {
                let w = self.waiters[i];
                if w.file == file_key
                    && let WaiterKind::Create(req) = w.kind
                {
                    self.waiters.remove(i);
                    self.events.push_back(Event::CompleteCreate { open: req.open, outcome: crate::api::CreateOutcome::Restart });
                } else {
                    i += 1;
                }
            }
        } else {
            self.retry_waiters(now, file_key);
        }
        Some(CloseOutcome { file: file_key, delete_file, delete_base })
    }

    /// The connection is gone: its deferred creates are dropped and its opens closed
    /// (durable handles are not modelled yet).
    pub fn handle_disconnect(&mut self, now: Instant, conn: ConnId) -> Vec<(OpenId, CloseOutcome)> {
        self.waiters.retain(|w| !matches!(w.kind, WaiterKind::Create(r) if r.conn == conn));
        let mut mine: Vec<OpenId> = self.opens.iter().filter(|(_, e)| e.conn == conn).map(|(id, _)| *id).collect();
        // In id order, whatever the hash order: the events come out the same every run.
        mine.sort_unstable();
        mine.into_iter().filter_map(|o| self.handle_close(now, o).map(|c| (o, c))).collect()
    }

    /// FileDispositionInformation (MS-FSA 2.1.5.15.3 via MS-SMB2 3.3.5.21.1): sets or
    /// clears delete-pending on the file at once. Needs DELETE access.
    pub fn handle_set_delete_on_close(&mut self, open: OpenId, delete: bool) -> Result<(), NtStatus> {
        let e = self.opens.get_mut(&open).ok_or(NtStatus::FILE_CLOSED)?;
        if !e.share.access.intersects(AccessMask::DELETE) {
            return Err(NtStatus::ACCESS_DENIED);
        }
        if !delete {
            e.delete_on_close = false;
        }
        let file = e.file;
        self.files.get_mut(&file).expect("file exists").delete_pending = delete;
        Ok(())
    }

    /// A WRITE is about to be performed through `open` (MS-FSA 2.1.5.3 → 2.1.4.12,
    /// Operation WRITE): every Level II oplock on the file, the writer's own included
    /// (smbtorture smb2.oplock.batch1 "self break to none"), and every read-caching lease
    /// of another lease key is broken to none. The write does not wait: Level II and
    /// R-only breaks need no acknowledgment, and the events are queued before this
    /// returns, so the breaks go out before the write is answered.
    pub fn handle_write(&mut self, now: Instant, open: OpenId) {
        self.break_read_caching(now, open);
    }

    /// Truncation or extension (SET_INFO end-of-file / allocation, MS-FSA 2.1.5.15.4):
    /// breaks caching exactly like a write.
    pub fn handle_truncate(&mut self, now: Instant, open: OpenId) {
        self.break_read_caching(now, open);
    }

    pub(crate) fn break_read_caching(&mut self, now: Instant, open: OpenId) {
        let Some(e) = self.opens.get(&open) else { return };
        let file = e.file;
        let own_lease = match e.caching {
            OpenCaching::Lease(l) => Some(l),
            _ => None,
        };
        let holders: Vec<_> = self
            .holders(file, own_lease)
            .into_iter()
            .filter(|h| !(h.id == HolderId::Oplock(open) && h.bits.intersects(LeaseState::W)))
            .collect();
        let plan = breaks::plan(&holders, LeaseState::RWH, Trigger::Other, |_| false);
        self.apply_plan(now, &plan, false);
        // Holders already breaking keep the caching they are breaking to; "none" is
        // queued behind that break (leases by apply_plan, oplocks here).
        for (id, _) in plan.queue {
            if let HolderId::Oplock(o) = id
                && let Some(e) = self.opens.get_mut(&o)
            {
                e.then_none = true;
            }
        }
    }

    /// A rename or link change of the file opened as `open` (MS-FSA 2.1.5.15.12 →
    /// 2.1.4.12): handle caching of other opens (batch oplocks, H leases of other lease
    /// keys) is broken first and the rename waits for the acknowledgments.
    pub fn handle_rename(&mut self, now: Instant, open: OpenId, request: RequestId) -> RenameOutcome {
        let Some(file) = self.opens.get(&open).map(|e| e.file) else { return RenameOutcome::Proceed };
        if self.evaluate_rename(now, open, false) {
            let deadline = now + self.config.break_timeout;
            self.waiters.push(Waiter { kind: WaiterKind::Rename { request, open }, file, deadline });
            RenameOutcome::Deferred
        } else {
            RenameOutcome::Proceed
        }
    }

    /// Plans the rename's breaks; returns whether it must wait.
    pub(crate) fn evaluate_rename(&mut self, now: Instant, open: OpenId, force: bool) -> bool {
        let Some(e) = self.opens.get(&open) else { return false };
        let file = e.file;
        let own_lease = match e.caching {
            OpenCaching::Lease(l) => Some(l),
            _ => None,
        };
        let holders: Vec<_> = self.holders(file, own_lease).into_iter().filter(|h| h.id != HolderId::Oplock(open)).collect();
        let plan = breaks::plan(&holders, LeaseState::H, Trigger::Other, |h| h.bits.intersects(LeaseState::W | LeaseState::H));
        self.apply_plan(now, &plan, force)
    }
}
