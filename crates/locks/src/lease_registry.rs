//! [`LeaseRegistry`]: the file each lease is on, shared by lock cores that each hold the
//! state of some files only (the server partitions its lock state by file). A lease key
//! names one file (MS-SMB2 3.3.5.9.8); a core sees only its own leases, so a create that
//! names a lease key asks the registry whether another core's file uses it.
//!
//! A lease is claimed when a core creates it (the claim fails if another file holds the
//! key: the create is refused as if the lease were the core's own) and released when its
//! last open goes. The registry's mutexes are leaves: held for one map operation, never
//! while taking another lock.

use crate::ids::{FileKey, LeaseId};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Independent parts of the registry, so that unrelated lease keys rarely meet.
const PARTS: usize = 16;

#[derive(Debug)]
pub struct LeaseRegistry {
    parts: Vec<Mutex<HashMap<LeaseId, FileKey>>>,
}

impl Default for LeaseRegistry {
    fn default() -> Self {
        LeaseRegistry { parts: (0..PARTS).map(|_| Mutex::new(HashMap::new())).collect() }
    }
}

impl LeaseRegistry {
    fn part(&self, id: LeaseId) -> MutexGuard<'_, HashMap<LeaseId, FileKey>> {
        let h = id.key.0.iter().chain(id.client.0.iter()).fold(0u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
        let m = &self.parts[(h >> 32) as usize % PARTS];
        // Every critical section is one map operation: a poisoned part is still consistent.
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file the lease `id` is on, in any core.
    pub fn file_of(&self, id: LeaseId) -> Option<FileKey> {
        self.part(id).get(&id).copied()
    }

    /// Records that `id` is on `file`; false if it is on another file.
    pub(crate) fn claim(&self, id: LeaseId, file: FileKey) -> bool {
        *self.part(id).entry(id).or_insert(file) == file
    }

    /// The lease `id` on `file` is gone.
    pub(crate) fn release(&self, id: LeaseId, file: FileKey) {
        let mut p = self.part(id);
        if p.get(&id) == Some(&file) {
            p.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{Config, CreateOutcome, CreateRequest};
    use crate::caching::{CreatePolicy, LeaseState, RequestedCaching};
    use crate::core::LockCore;
    use crate::ids::{ClientGuid, ConnId, FileKey, LeaseKey, OpenId};
    use crate::lease_registry::LeaseRegistry;
    use opportune_types::{AccessMask, NtStatus, ShareAccess};
    use std::sync::Arc;
    use std::time::Instant;

    fn create(open: u64, inode: u64, key: u8) -> CreateRequest {
        CreateRequest {
            conn: ConnId(1),
            open: OpenId(open),
            file: FileKey { device: 1, inode },
            access: AccessMask(AccessMask::FILE_READ_DATA),
            share: ShareAccess(ShareAccess::ALL),
            requested: RequestedCaching::Lease {
                client: ClientGuid([1; 16]),
                key: LeaseKey([key; 16]),
                state: LeaseState::RWH,
                parent: None,
                epoch: None,
            },
            is_directory: false,
            truncating: false,
            delete_on_close: false,
            policy: CreatePolicy::default(),
            base: None,
        }
    }

    #[test]
    fn a_lease_key_is_one_files_across_cores() {
        let registry = Arc::new(LeaseRegistry::default());
        let mut a = LockCore::partitioned(Config::default(), registry.clone());
        let mut b = LockCore::partitioned(Config::default(), registry.clone());
        let now = Instant::now();
        assert!(matches!(a.handle_create(now, create(1, 10, 7)), CreateOutcome::Granted { .. }));
        assert_eq!(b.handle_create(now, create(2, 20, 7)), CreateOutcome::Denied(NtStatus::INVALID_PARAMETER));
        assert!(b.has_lease(ClientGuid([1; 16]), LeaseKey([7; 16])));
        // A second open of the same file under the lease, in its own core, joins it.
        assert!(matches!(a.handle_create(now, create(3, 10, 7)), CreateOutcome::Granted { .. }));
        a.handle_close(now, OpenId(1));
        assert_eq!(b.handle_create(now, create(4, 20, 7)), CreateOutcome::Denied(NtStatus::INVALID_PARAMETER));
        a.handle_close(now, OpenId(3));
        assert!(!b.has_lease(ClientGuid([1; 16]), LeaseKey([7; 16])));
        assert!(matches!(b.handle_create(now, create(5, 20, 7)), CreateOutcome::Granted { .. }));
        assert_eq!(a.handle_create(now, create(6, 10, 7)), CreateOutcome::Denied(NtStatus::INVALID_PARAMETER));
    }

    #[test]
    fn a_claim_keeps_the_first_file() {
        let r = LeaseRegistry::default();
        let id = crate::ids::LeaseId { client: ClientGuid([2; 16]), key: LeaseKey([3; 16]) };
        let (f, g) = (FileKey { device: 1, inode: 1 }, FileKey { device: 1, inode: 2 });
        assert!(r.claim(id, f));
        assert!(r.claim(id, f));
        assert!(!r.claim(id, g));
        r.release(id, g);
        assert_eq!(r.file_of(id), Some(f), "only the holder's release counts");
        r.release(id, f);
        assert_eq!(r.file_of(id), None);
        assert!(r.claim(id, g));
    }
}
