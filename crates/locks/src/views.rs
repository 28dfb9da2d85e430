//! Read-only views of the lock core's tables for the server's status report and break
//! trace: which file an open is on, its share mode, the byte-range locks held.

use crate::byte_range::GrantedLock;
use crate::core::LockCore;
use crate::ids::{FileKey, LeaseId, OpenId};
use crate::share_mode::ShareEntry;

/// One open's place in the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenView {
    pub file: FileKey,
    /// Granted access and share access (MS-FSA Open.GrantedAccess, Open.SharingMode).
    pub share_mode: ShareEntry,
    pub is_directory: bool,
    pub delete_on_close: bool,
}

impl LockCore {
    /// Where `open` is registered, with its share mode; `None` for an unknown open.
    pub fn open_view(&self, open: OpenId) -> Option<OpenView> {
        let e = self.opens.get(&open)?;
        Some(OpenView { file: e.file, share_mode: e.share, is_directory: e.is_directory, delete_on_close: e.delete_on_close })
    }

    /// Whether a lease has a break outstanding; `None` for an unknown lease.
    pub fn lease_breaking(&self, id: LeaseId) -> Option<bool> {
        self.leases.get(&id).map(|l| l.breaking.is_some())
    }

    /// Every granted byte-range lock with the file it is on, files in key order (for
    /// `opportune status`; visits every file with locks).
    pub fn byte_range_locks(&self) -> Vec<(FileKey, GrantedLock)> {
        let mut files: Vec<(&FileKey, &crate::core::FileState)> = self.files.iter().filter(|(_, f)| f.locks.has_locks()).collect();
        files.sort_unstable_by_key(|(k, _)| **k);
        files.into_iter().flat_map(|(k, f)| f.locks.locks().map(move |l| (*k, l))).collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{Config, CreateOutcome, CreateRequest};
    use crate::byte_range::LockElement;
    use crate::caching::{CreatePolicy, RequestedCaching};
    use crate::core::LockCore;
    use crate::ids::{ConnId, FileKey, OpenId, RequestId};
    use opportune_types::{AccessMask, ShareAccess};
    use std::time::Instant;

    #[test]
    fn views_show_share_modes_and_locks() {
        let mut c = LockCore::new(Config::default());
        let file = FileKey { device: 1, inode: 2 };
        let req = CreateRequest {
            conn: ConnId(1),
            open: OpenId(10),
            file,
            access: AccessMask(AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA),
            share: ShareAccess(ShareAccess::READ),
            requested: RequestedCaching::None,
            is_directory: false,
            truncating: false,
            delete_on_close: false,
            policy: CreatePolicy::default(),
            base: None,
        };
        let now = Instant::now();
        assert!(matches!(c.handle_create(now, req), CreateOutcome::Granted { .. }));
        let v = c.open_view(OpenId(10)).expect("registered");
        assert_eq!((v.file, v.share_mode.share, v.is_directory), (file, ShareAccess(ShareAccess::READ), false));
        assert!(c.open_view(OpenId(11)).is_none());
        c.handle_lock(now, OpenId(10), RequestId(1), &[LockElement::lock(100, 10, true, true)]);
        let locks = c.byte_range_locks();
        assert_eq!(locks.len(), 1);
        assert_eq!((locks[0].0, locks[0].1.owner, locks[0].1.offset, locks[0].1.length, locks[0].1.exclusive), (file, OpenId(10), 100, 10, true));
    }
}
