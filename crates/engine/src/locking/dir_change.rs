//! The lock adapter's side of directory leases: a change to a directory's entries
//! becomes the lock core's `handle_directory_change` (see `crates/locks/src/dir_lease.rs`
//! and `crate::dir_leases`).

use super::{Cause, Locking};
use opportune_locks::{ClientGuid, LeaseId, LeaseKey, OpenId};

/// Who changed a directory's entry.
#[derive(Clone, Copy, Debug)]
pub enum Changer {
    /// A request on this open (its lease's ParentLeaseKey is spared).
    Open(u64),
    /// A change under a lease with this client and ParentLeaseKey (a create, whose open
    /// is not registered yet, or a close, whose open is gone).
    Under { client: [u8; 16], parent: Option<[u8; 16]> },
    /// A program on the host: every lease on the directory is broken.
    Host,
}

impl Changer {
    /// A change through the server under no lease (or by an open already gone): every
    /// lease on the directory breaks, the trace naming no one.
    pub const NO_LEASE: Changer = Changer::Under { client: [0; 16], parent: None };
}

impl Locking {
    /// An entry of the directory that `dir_open` (an open under a directory lease) is an
    /// open of has changed: its leases are broken, the changer's own excepted.
    pub fn directory_changed(&self, dir_open: u64, by: Changer) {
        let (what, open) = match by {
            Changer::Open(o) => ("entry-change", Some(o)),
            Changer::Under { .. } => ("entry-change", None),
            Changer::Host => ("host", None),
        };
        self.with(Cause::by(what, None, open), |c, now| {
            let Some(dir) = c.open_view(OpenId(dir_open)).map(|v| v.file) else { return };
            let except = match by {
                Changer::Open(o) => c.parent_lease_of(OpenId(o)),
                Changer::Under { client, parent } => parent.map(|p| LeaseId { client: ClientGuid(client), key: LeaseKey(p) }),
                Changer::Host => None,
            };
            c.handle_directory_change(now, dir, except);
        });
    }

    /// `Changer::Open(open)` resolved now, for a change noticed after the open is gone.
    pub fn changer_of(&self, open: u64) -> Changer {
        let g = self.lock();
        match g.core.parent_lease_of(OpenId(open)) {
            Some(l) => Changer::Under { client: l.client.0, parent: Some(l.key.0) },
            None => Changer::NO_LEASE,
        }
    }

    /// Whether `client` may be granted another directory lease under `key`: it already
    /// holds that lease, or holds fewer than `budget` directory leases.
    pub fn directory_lease_fits(&self, client: [u8; 16], key: [u8; 16], budget: usize) -> bool {
        let g = self.lock();
        g.core.has_lease(ClientGuid(client), LeaseKey(key)) || g.core.directory_leases_of(ClientGuid(client)) < budget
    }
}

impl Locking {
    /// The opens of `share` at on-disk `rel` (a linear scan: only for host changes).
    pub fn opens_at(&self, share: usize, rel: &str) -> Vec<u64> {
        let g = self.lock();
        g.paths.iter().filter(|(_, (s, p))| *s == share && p == rel).map(|(o, _)| *o).collect()
    }

    /// Whether the lock layer still knows `open` (granted and not closed or purged).
    pub fn knows(&self, open: u64) -> bool {
        self.lock().paths.contains_key(&open)
    }

    /// The file `open` is an open of lost its name on the host: handle caching on it
    /// breaks (`LockCore::handle_host_unlink`).
    pub fn host_unlinked(&self, open: u64) {
        self.with(Cause::by("host", None, None), |c, now| {
            if let Some(file) = c.open_view(OpenId(open)).map(|v| v.file) {
                c.handle_host_unlink(now, file);
            }
        });
    }
}
