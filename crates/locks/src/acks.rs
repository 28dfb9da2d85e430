//! Break acknowledgments (MS-SMB2 3.3.5.22) and break timeouts (MS-SMB2 3.3.6.3/3.3.6.4).

use crate::breaks::HolderId;
use crate::caching::{LeaseState, OplockLevel};
use crate::core::{LockCore, OpenCaching, WaiterKind};
use crate::ids::{ClientGuid, FileKey, LeaseId, LeaseKey, OpenId};
use crate::lease;
use crate::oplock::{self, Oplock};
use opportune_types::NtStatus;
use std::collections::BTreeSet;
use std::time::Instant;

impl LockCore {
    /// MS-SMB2 3.3.5.22.1: an Oplock Break Acknowledgment. Returns the level to put in
    /// the response, or the error status (state may still have changed: see
    /// [`oplock::acknowledge`]). Deferred operations waiting on this break resume.
    pub fn handle_oplock_break_ack(&mut self, now: Instant, open: OpenId, acked: OplockLevel) -> Result<OplockLevel, NtStatus> {
        if !self.opens.contains_key(&open) {
            return Err(NtStatus::FILE_CLOSED);
        }
        self.forget_break(HolderId::Oplock(open));
        let e = self.opens.get_mut(&open).ok_or(NtStatus::FILE_CLOSED)?;
        let current = match e.caching {
            OpenCaching::Oplock(o) => Some(o),
            _ => None,
        };
        let r = oplock::acknowledge(current, acked);
        if let Some(Oplock::Breaking { .. }) = current {
            e.caching = if r.new_level == OplockLevel::None {
                OpenCaching::None
            } else {
                OpenCaching::Oplock(Oplock::Held(r.new_level))
            };
            let file = e.file;
            self.after_oplock_break(now, open);
            self.retry_waiters(now, file);
        }
        if r.status == NtStatus::SUCCESS { Ok(r.new_level) } else { Err(r.status) }
    }

    /// MS-SMB2 3.3.5.22.2: a Lease Break Acknowledgment. Returns the new lease state.
    pub fn handle_lease_break_ack(
        &mut self,
        now: Instant,
        client: ClientGuid,
        key: LeaseKey,
        state: LeaseState,
    ) -> Result<LeaseState, NtStatus> {
        let lid = LeaseId { client, key };
        let l = self.leases.get_mut(&lid).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        let new = lease::check_ack(l.breaking, state)?;
        let blocking = l.breaking.is_some_and(|b| b.blocking);
        self.forget_break(HolderId::Lease(lid));
        let l = self.leases.get_mut(&lid).expect("lease exists");
        l.state = new;
        l.breaking = None;
        let file = l.file;
        self.after_lease_break(now, lid, blocking);
        self.retry_waiters(now, file);
        Ok(new)
    }

    /// Fires due timers: unacknowledged breaks complete as the spec's timers say
    /// (oplock → NONE, lease → BreakToLeaseState), then every deferred operation whose
    /// deadline passed is decided, forcing whatever it still waits for.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut touched = BTreeSet::<FileKey>::new();
        // Due breaks, oplocks in open id order then leases in lease id order, as a scan
        // of the open and lease tables would find them.
        let mut due_opens: Vec<OpenId> = Vec::new();
        let mut due_leases: Vec<LeaseId> = Vec::new();
        while let Some(&(d, id)) = self.break_deadlines.first()
            && d <= now
        {
            self.break_deadlines.pop_first();
            if self.break_pending(d, id) {
                match id {
                    HolderId::Oplock(o) => due_opens.push(o),
                    HolderId::Lease(l) => due_leases.push(l),
                }
            }
        }
        due_opens.sort_unstable();
        due_leases.sort_unstable();
        for o in due_opens {
            touched.insert(self.opens[&o].file);
            self.expire(now, HolderId::Oplock(o));
        }
        for lid in due_leases {
            touched.insert(self.leases[&lid].file);
            self.expire(now, HolderId::Lease(lid));
        }
        let mut i = 0;
        while i < self.waiters.len() {
            let w = self.waiters[i];
            if w.deadline > now {
                i += 1;
                continue;
            }
            self.waiters.remove(i);
            touched.insert(w.file);
            let ev = match w.kind {
                WaiterKind::Create(req) => {
                    let outcome = self.evaluate_create(now, &req, true).expect("a forced create is decided");
                    crate::api::Event::CompleteCreate { open: req.open, outcome }
                }
                WaiterKind::Rename { request, open } => {
                    self.evaluate_rename(now, open, true);
                    crate::api::Event::CompleteRename { request, open, status: NtStatus::SUCCESS }
                }
            };
            self.events.push_back(ev);
        }
        for f in touched {
            self.retry_waiters(now, f);
        }
    }
}
