//! SMB2 LOCK (MS-SMB2 3.3.5.14) and I/O range checks on top of [`crate::byte_range`].

use crate::api::{Event, LockOutcome};
use crate::core::LockCore;
use crate::ids::{OpenId, RequestId};
use crate::lock_records::{LockElement, LockKind, PendingLock, range_is_valid};
use opportune_types::NtStatus;
use std::time::Instant;

impl LockCore {
    /// MS-SMB2 3.3.5.14: one LOCK request, `request` being the server's async id.
    ///
    /// * The first element decides: an unlock request must hold only unlocks (3.3.5.14.1),
    ///   processed in order and not rolled back when one fails; a lock request must hold
    ///   only locks (3.3.5.14.2), and with more than one element each must carry
    ///   FAIL_IMMEDIATELY; otherwise STATUS_INVALID_PARAMETER.
    /// * A range past 2^64-1 is STATUS_INVALID_LOCK_RANGE (MS-FSA 2.1.5.8).
    /// * Locks are all-or-nothing: on a conflict the ones granted by this request are
    ///   released and STATUS_LOCK_NOT_GRANTED answered, unless the request is a single
    ///   blocking lock, which waits ([`LockOutcome::Pending`]) until released locks let
    ///   it in ([`Event::CompleteLock`]) or it is cancelled.
    /// * Taking a lock breaks Level II / read caching like a write (MS-FSA 2.1.5.8 →
    ///   2.1.4.12; smbtorture smb2.oplock.brl1).
    pub fn handle_lock(&mut self, now: Instant, open: OpenId, request: RequestId, elements: &[LockElement]) -> LockOutcome {
        use LockOutcome::Done;
        let Some(e) = self.opens.get(&open) else { return Done(NtStatus::FILE_CLOSED) };
        if e.is_directory || elements.is_empty() {
            return Done(NtStatus::INVALID_PARAMETER);
        }
        let file = e.file;
        if elements[0].kind == LockKind::Unlock {
            let mut status = NtStatus::SUCCESS;
            for el in elements {
                if el.kind != LockKind::Unlock {
                    status = NtStatus::INVALID_PARAMETER;
                    break;
                }
                if !range_is_valid(el.offset, el.length) {
                    status = NtStatus::INVALID_LOCK_RANGE;
                    break;
                }
                let locks = &mut self.files.get_mut(&file).expect("file exists").locks;
                status = locks.unlock(open, el.offset, el.length);
                if status != NtStatus::SUCCESS {
                    break;
                }
            }
            self.wake_pending_locks(file);
            return Done(status);
        }
        if elements.iter().any(|el| matches!(el.kind, LockKind::Unlock | LockKind::Invalid))
            || (elements.len() > 1 && elements.iter().any(|el| !el.fail_immediately))
        {
            return Done(NtStatus::INVALID_PARAMETER);
        }
        if elements.iter().any(|el| !range_is_valid(el.offset, el.length)) {
            return Done(NtStatus::INVALID_LOCK_RANGE);
        }
        self.break_read_caching(now, open);
        let locks = &mut self.files.get_mut(&file).expect("file exists").locks;
        match locks.lock_all(open, elements) {
            Ok(()) => Done(NtStatus::SUCCESS),
            Err(_) if elements.len() == 1 && !elements[0].fail_immediately => {
                locks.add_pending(PendingLock { request, owner: open, element: elements[0] });
                self.pending_locks.insert(request, file);
                LockOutcome::Pending
            }
            Err(_) => Done(NtStatus::LOCK_NOT_GRANTED),
        }
    }

    /// SMB2 CANCEL of a pending lock: answered through [`Event::CompleteLock`] with
    /// STATUS_CANCELLED (smbtorture smb2.lock.cancel). Returns whether it was pending.
    pub fn handle_cancel_lock(&mut self, request: RequestId) -> bool {
        let Some(file) = self.pending_locks.remove(&request) else { return false };
        let Some(p) = self.files.get_mut(&file).and_then(|f| f.locks.remove_pending(request)) else { return false };
        self.events.push_back(Event::CompleteLock { request, open: p.owner, status: NtStatus::CANCELLED });
        true
    }

    /// Ends the blocking lock requests `open` waits in with `status`, as closing it would
    /// (a durable open kept after its session ended must not be granted a lock nobody
    /// waits for any more).
    pub fn end_pending_locks(&mut self, open: OpenId, status: NtStatus) {
        let Some(file) = self.opens.get(&open).map(|e| e.file) else { return };
        let Some(f) = self.files.get_mut(&file) else { return };
        let requests: Vec<RequestId> = f.locks.pending_of(open).map(|p| p.request).collect();
        for request in requests {
            f.locks.remove_pending(request);
            self.pending_locks.remove(&request);
            self.events.push_back(Event::CompleteLock { request, open, status });
        }
    }

    /// Takes back lock `element` that [`LockCore::handle_lock`] (or a
    /// [`Event::CompleteLock`] with STATUS_SUCCESS) just granted to `open`, when the server
    /// cannot keep it (a local process holds a conflicting lock on the host): exactly
    /// that lock goes, as if it had never been granted, and blocking requests it kept out
    /// are tried again (their [`Event::CompleteLock`] follows). Returns whether it was held.
    pub fn revoke_lock(&mut self, open: OpenId, element: &LockElement) -> bool {
        let Some(file) = self.opens.get(&open).map(|e| e.file) else { return false };
        let Some(f) = self.files.get_mut(&file) else { return false };
        let exclusive = element.kind == LockKind::Exclusive;
        let revoked = f.locks.revoke(open, element.offset, element.length, exclusive);
        self.wake_pending_locks(file);
        revoked
    }

    /// The byte-range locks of `open` that overlap `[offset, offset + length)`, stacked
    /// shared locks once; cheap however many locks the open holds elsewhere.
    pub fn locks_of_overlapping(&self, open: OpenId, offset: u64, length: u64) -> Vec<crate::lock_records::GrantedLock> {
        let Some(e) = self.opens.get(&open) else { return Vec::new() };
        self.files.get(&e.file).map(|f| f.locks.locks_of_overlapping(open, offset, length)).unwrap_or_default()
    }

    /// How many distinct ranges `open` holds byte-range locks on (stacked locks once);
    /// O(1), for callers that choose how to mirror them by their number.
    pub fn lock_ranges_of(&self, open: OpenId) -> usize {
        let Some(e) = self.opens.get(&open) else { return 0 };
        self.files.get(&e.file).map_or(0, |f| f.locks.ranges_of(open))
    }

    /// The byte-range locks `open` holds (stacked locks repeated), by range.
    pub fn locks_of(&self, open: OpenId) -> Vec<crate::lock_records::GrantedLock> {
        let Some(e) = self.opens.get(&open) else { return Vec::new() };
        self.files.get(&e.file).map(|f| f.locks.locks_of(open).collect()).unwrap_or_default()
    }

    /// MS-SMB2 3.3.5.12 / 3.3.5.13 via MS-FSA 2.1.4.10: may `open` read or write this
    /// range? STATUS_FILE_LOCK_CONFLICT when another open's exclusive lock covers it, or
    /// (writes only) when any shared lock does, the writer's own included.
    pub fn check_io(&self, open: OpenId, offset: u64, length: u64, write: bool) -> Result<(), NtStatus> {
        let e = self.opens.get(&open).ok_or(NtStatus::FILE_CLOSED)?;
        self.files[&e.file].locks.check_io(open, offset, length, write)
    }

    fn wake_pending_locks(&mut self, file: crate::ids::FileKey) {
        let Some(f) = self.files.get_mut(&file) else { return };
        for p in f.locks.retry_pending() {
            self.pending_locks.remove(&p.request);
            self.events.push_back(Event::CompleteLock { request: p.request, open: p.owner, status: NtStatus::SUCCESS });
        }
    }
}
