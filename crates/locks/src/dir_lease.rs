//! Directory leases (MS-SMB2 3.3.5.9.11, 3.3.4.7; MS-FSA 2.1.5.1 and the parent-break
//! steps of delete, rename, set-info and close): a client caching a directory's
//! listing and metadata under an RH (or R) lease is told when the directory's entries
//! change, by anyone but itself.
//!
//! A change breaks every lease on the directory to none without waiting for
//! acknowledgments: the operation that changed the entry has already happened (a
//! created file exists, a renamed one has its new name), so there is nothing to defer.
//! The lease of the client that made the change, named by the ParentLeaseKey of the
//! lease on the changed entry (MS-SMB2 2.2.13.2.10), is left alone: that client knows.

use crate::breaks::{self, Trigger};
use crate::caching::LeaseState;
use crate::core::LockCore;
use crate::ids::{ClientGuid, FileKey, LeaseId, LeaseKey};
use std::time::Instant;

impl LockCore {
    /// An entry of the directory `dir` was created, deleted, renamed, or had its
    /// attributes, size or times changed. `except` is the lease the change was made
    /// under (its client and ParentLeaseKey), if any.
    pub fn handle_directory_change(&mut self, now: Instant, dir: FileKey, except: Option<LeaseId>) {
        let holders = self.holders(dir, except);
        if holders.is_empty() {
            return;
        }
        let plan = breaks::plan(&holders, LeaseState::RWH, Trigger::Other, |_| false);
        self.apply_plan(now, &plan, false);
    }

    /// Leases `client` holds on directories now with some caching (a lease broken to
    /// none costs the server nothing), for the server's per-client budget.
    pub fn directory_leases_of(&self, client: ClientGuid) -> usize {
        let from = LeaseId { client, key: LeaseKey([0; 16]) };
        let to = LeaseId { client, key: LeaseKey([0xFF; 16]) };
        self.leases
            .range(from..=to)
            .filter(|(_, l)| !l.state.is_empty())
            .filter(|(_, l)| l.opens.first().and_then(|o| self.opens.get(o)).is_some_and(|e| e.is_directory))
            .count()
    }

    /// Whether `client` already holds the lease `key` (on any file).
    pub fn has_lease(&self, client: ClientGuid, key: LeaseKey) -> bool {
        let id = LeaseId { client, key };
        self.leases.contains_key(&id) || self.foreign_lease_file(id).is_some()
    }
}

impl LockCore {
    /// The lease a change through `open` is made under, as a directory lease it spares:
    /// the open's client and its lease's ParentLeaseKey. None without a parent key.
    pub fn parent_lease_of(&self, open: crate::ids::OpenId) -> Option<LeaseId> {
        let e = self.opens.get(&open)?;
        let crate::core::OpenCaching::Lease(lid) = e.caching else { return None };
        let parent = self.leases.get(&lid)?.parent?;
        Some(LeaseId { client: lid.client, key: parent })
    }
}
