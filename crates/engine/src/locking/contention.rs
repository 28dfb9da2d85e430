//! Contention probes (issue 12, item 2): a request that waits on, or is refused because
//! of, another connection's byte-range lock or share mode tells that connection to
//! check its peer is alive (`ConnEvent::Probe`, handled by `link_watch.rs`). A vanished
//! holder's connection then ends within seconds and what it held goes with it.

use super::{ConnEvent, Inner, PARKED_IN_CORE, read};
use opportune_locks::{ConnId, LockElement, LockKind, LockOutcome};
use opportune_types::NtStatus;

impl Inner {
    /// Probes the blockers of a LOCK request that failed or waits.
    pub(super) fn probe_lock_blockers(&self, open: u64, elements: &[LockElement], outcome: LockOutcome) {
        let refused = matches!(outcome, LockOutcome::Pending | LockOutcome::Done(NtStatus::LOCK_NOT_GRANTED));
        if !refused {
            return;
        }
        let id = opportune_locks::OpenId(open);
        let blockers = elements
            .iter()
            .filter(|e| matches!(e.kind, LockKind::Shared | LockKind::Exclusive))
            .flat_map(|e| self.core.lock_blockers(id, e.offset, e.length, e.kind == LockKind::Exclusive));
        self.probe(open, blockers.collect(), "another open waits on or was refused by its byte-range lock");
    }

    /// Probes the holders of the locks a READ or WRITE ran into.
    pub(super) fn probe_io_blockers(&self, open: u64, offset: u64, length: u64, write: bool) {
        let blockers = self.core.lock_blockers(opportune_locks::OpenId(open), offset, length, write);
        self.probe(open, blockers, "a read or write was refused by its byte-range lock");
    }

    /// Probes the opens whose share modes refused a create.
    pub(super) fn probe_share_blockers(&self, open: u64, blockers: Vec<ConnId>) {
        self.probe(open, blockers, "an open was refused by its share mode");
    }

    /// Sends a probe to each live connection among `blockers` other than the requester's.
    fn probe(&self, open: u64, mut blockers: Vec<ConnId>, why: &'static str) {
        let requester = self.conn_of(open);
        blockers.sort_unstable();
        blockers.dedup();
        for c in blockers.into_iter().map(|c| c.0).filter(|c| *c != PARKED_IN_CORE.0 && Some(*c) != requester) {
            if read(&self.conns).routes.contains_key(&c) {
                tracing::debug!(conn = c, open, why, "contention: probing the holder");
                self.send(c, ConnEvent::Probe { why });
            }
        }
    }
}
