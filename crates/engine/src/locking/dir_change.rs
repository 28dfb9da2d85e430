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
        // The changer's open may be in another shard than the directory: its lease is read
        // first, that shard let go, then the directory's shard is taken (one at a time).
        let except = match by {
            Changer::Open(o) => self.at_open(o).core.parent_lease_of(OpenId(o)),
            Changer::Under { client, parent } => parent.map(|p| LeaseId { client: ClientGuid(client), key: LeaseKey(p) }),
            Changer::Host => None,
        };
        self.run(self.at_open(dir_open), Cause::by(what, None, open), |c, now| {
            let Some(dir) = c.open_view(OpenId(dir_open)).map(|v| v.file) else { return };
            c.handle_directory_change(now, dir, except);
        });
    }

    /// `Changer::Open(open)` resolved now, for a change noticed after the open is gone.
    pub fn changer_of(&self, open: u64) -> Changer {
        let g = self.at_open(open);
        match g.core.parent_lease_of(OpenId(open)) {
            Some(l) => Changer::Under { client: l.client.0, parent: Some(l.key.0) },
            None => Changer::NO_LEASE,
        }
    }

    /// Whether `client` may be granted another directory lease under `key`: it already
    /// holds that lease, or holds fewer than `budget` directory leases.
    pub fn directory_lease_fits(&self, client: [u8; 16], key: [u8; 16], budget: usize) -> bool {
        // The registry knows every shard's leases; the count visits every shard, and only
        // as far as the budget.
        if self.leases.file_of(LeaseId { client: ClientGuid(client), key: LeaseKey(key) }).is_some() {
            return true;
        }
        let mut held = 0;
        for i in 0..super::SHARDS {
            held += self.shard(i).core.directory_leases_of(ClientGuid(client));
            if held >= budget {
                return false;
            }
        }
        true
    }
}

impl Locking {
    /// The opens of `share` at on-disk `rel`, in id order (a linear scan of every shard:
    /// only for host changes).
    pub fn opens_at(&self, share: usize, rel: &str) -> Vec<u64> {
        let mut opens: Vec<u64> = (0..super::SHARDS)
            .flat_map(|i| self.shard(i).paths.iter().filter(|(_, (s, p))| *s == share && p == rel).map(|(o, _)| *o).collect::<Vec<_>>())
            .collect();
        opens.sort_unstable();
        opens
    }

    /// Whether the lock layer still knows `open` (granted and not closed or purged).
    pub fn knows(&self, open: u64) -> bool {
        self.at_open(open).paths.contains_key(&open)
    }

    /// The file `open` is an open of lost its name on the host: handle caching on it
    /// breaks (`LockCore::handle_host_unlink`).
    pub fn host_unlinked(&self, open: u64) {
        self.run(self.at_open(open), Cause::by("host", None, None), |c, now| {
            if let Some(file) = c.open_view(OpenId(open)).map(|v| v.file) {
                c.handle_host_unlink(now, file);
            }
        });
    }
}
