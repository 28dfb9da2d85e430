//! Quotas (issue 10 item 6): per-share and per-user byte and file limits.
//!
//! * A share tracks usage when it has a limit of its own (`quota_bytes`, `quota_files`),
//!   a default for its users (`user_quota_bytes`, `user_quota_files`), or when any user
//!   has a limit in the users file (a user's limit applies on each share separately, as
//!   Windows quotas are per volume). Otherwise [`ShareState::quota`] is empty and no
//!   request pays anything for quotas.
//! * The usage table ([`table`]) is built by a background scan at start and at every
//!   reload ([`scan`]) and kept current by the requests that change it: CREATE of a new
//!   file or directory, WRITE past end of file, FileEndOfFileInformation,
//!   FileAllocationInformation below end of file, delete on close, a rename that
//!   replaces a file, an owner set by SET_INFO. Every CREATE of an existing file corrects
//!   that file's entry from the size it just stat'ed. Checks need no system call.
//! * Refusals map to NT status here and nowhere else ([`status`]): the owner's limit is
//!   STATUS_QUOTA_EXCEEDED (MS-ERREF 2.3.1 0xC0000044), the share's STATUS_DISK_FULL
//!   (0xC000007F), as NTFS answers for a per-user quota and a full volume.
//!
//! [`ShareState::quota`]: crate::server::ShareState::quota

pub mod scan;
pub mod table;

use crate::server::{ServerState, ShareState};
use opportune_types::{NtStatus, Sid};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
pub use table::{FileKey, Limits, Refusal, Table, Usage};

/// A share's quota settings (TOML keys `quota_bytes`, `quota_files`, `user_quota_bytes`,
/// `user_quota_files`; docs/CONFIG.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaConfig {
    /// Limits over everything on the share, whoever owns it.
    pub share: Limits,
    /// Limits of each user who has none of their own in the users file.
    pub user_default: Limits,
}

impl QuotaConfig {
    pub fn is_none(&self) -> bool {
        self.share.is_none() && self.user_default.is_none()
    }
}

/// The one place a refusal becomes an NT status (module documentation).
pub fn status(r: Refusal) -> NtStatus {
    match r {
        Refusal::User => NtStatus::QUOTA_EXCEEDED,
        Refusal::Share => NtStatus::DISK_FULL,
    }
}

/// The usage of one share and its scan state.
#[derive(Debug)]
pub struct ShareQuota {
    table: Mutex<Table>,
}

impl ShareQuota {
    fn new(table: Table) -> ShareQuota {
        ShareQuota { table: Mutex::new(table) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new file or directory of `owner`, with `allocation` bytes asked for.
    pub fn created(&self, key: FileKey, owner: Option<&Sid>, allocation: u64) -> Result<(), NtStatus> {
        let mut t = self.lock();
        t.admits_new(owner, allocation).map_err(status)?;
        t.create(key, owner).map_err(status)
    }

    /// An existing file was opened: its entry is made or corrected.
    pub fn opened(&self, key: FileKey, owner: Option<&Sid>, size: u64) {
        self.lock().observe(key, owner, size);
    }

    /// The file `key` is to grow to `size`: checked and charged; the old size comes back
    /// to undo with [`ShareQuota::undo_growth`] if the change fails.
    pub fn grow(&self, key: FileKey, size: u64) -> Result<Option<u64>, NtStatus> {
        self.lock().grow(key, size).map_err(status)
    }

    /// An allocation of `len` bytes: refused if end of file there would not fit.
    pub fn admits_size(&self, key: FileKey, len: u64) -> Result<(), NtStatus> {
        self.lock().admits_size(key, len).map_err(status)
    }

    /// A growth to `size` charged by [`ShareQuota::grow`] failed: the file is charged
    /// `old` again, unless something changed its entry meanwhile (another request's
    /// growth, which stays charged).
    pub fn undo_growth(&self, key: FileKey, old: u64, size: u64) {
        let mut t = self.lock();
        if t.size_of(key) == Some(size) {
            t.set_size(key, old);
        }
    }

    /// The file was truncated to `len` if it was longer (an allocation below end of
    /// file).
    pub fn truncated(&self, key: FileKey, len: u64) {
        let mut t = self.lock();
        if t.size_of(key).is_some_and(|s| s > len) {
            t.set_size(key, len);
        }
    }

    pub fn removed(&self, key: FileKey) {
        self.lock().remove(key);
    }

    pub fn set_owner(&self, key: FileKey, owner: Option<&Sid>) {
        self.lock().set_owner(key, owner);
    }

    /// What caps the sizes FileFsSizeInformation reports to `user` (MS-FSCC 2.5.8):
    /// the smallest byte limit that applies to the user's files (its own, the share's)
    /// and the fewest bytes those limits leave; None where no limit applies.
    pub fn space_for(&self, user: &Sid) -> (Option<u64>, Option<u64>) {
        let t = self.lock();
        let limits = [(t.limits_of(user).bytes, t.usage_of(user).bytes), (t.share_limits().bytes, t.total().bytes)];
        let mut out: (Option<u64>, Option<u64>) = (None, None);
        for (limit, used) in limits {
            if let Some(l) = limit {
                let left = l.saturating_sub(used);
                out = (Some(out.0.map_or(l, |t| t.min(l))), Some(out.1.map_or(left, |f| f.min(left))));
            }
        }
        out
    }

    /// The quota entry of `sid` (MS-FSCC 2.4.41): bytes used, and its byte limit
    /// (None: no limit).
    pub fn entry_of(&self, sid: &Sid) -> (u64, Option<u64>) {
        let t = self.lock();
        (t.usage_of(sid).bytes, t.limits_of(sid).bytes)
    }

    /// Every owner with a SID and its entry, in enumeration order.
    pub fn entries(&self) -> Vec<(Sid, u64, Option<u64>)> {
        let t = self.lock();
        t.owners().map(|(s, u)| (s.clone(), u.bytes, t.limits_of(s).bytes)).collect()
    }
}

/// The file key an open of `info` is charged under, if its share tracks quotas: files
/// and directories themselves, not named streams (which live in extended attributes,
/// bounded by their size).
pub fn key_for(share: &ShareState, info: &opportune_fs::FileInfo) -> Option<FileKey> {
    share.quota.get().filter(|_| info.stream == 0 && !info.is_dir).map(|_| (info.dev, info.file_id))
}

/// Whether `name` is NTFS's quota file, which clients open to query and set quotas
/// (smbcquotas, Explorer's Quota tab). An open of it is an open of the share's root
/// directory, on which the quota queries are answered (STATUS_NOT_SUPPORTED on a share
/// that tracks no quotas), reported as NTFS reports the file ([`mark_quota_file`]).
pub fn is_quota_file(name: &str) -> bool {
    name.trim_start_matches('\\').eq_ignore_ascii_case("$Extend\\$Quota:$Q:$INDEX_ALLOCATION")
}

/// The attributes NTFS reports for its quota file: HIDDEN | SYSTEM | DIRECTORY | ARCHIVE
/// (MS-FSCC 2.6).
const QUOTA_FILE_ATTRIBUTES: u32 = 0x2 | 0x4 | 0x10 | 0x20;
/// Where CreationTime (then the other times, AllocationSize and EndofFile, 8 bytes each)
/// and FileAttributes lie in an SMB2 CREATE response body (MS-SMB2 2.2.14).
const CREATE_RESPONSE_TIMES: usize = 8;
const CREATE_RESPONSE_ATTRIBUTES: usize = 56;

/// A CREATE response for the quota file reports what NTFS does: no times, no size, its
/// attributes.
pub fn mark_quota_file(create_response: &mut [u8]) {
    if let Some(a) = create_response.get_mut(CREATE_RESPONSE_TIMES..CREATE_RESPONSE_ATTRIBUTES + 4) {
        a.fill(0);
        a[CREATE_RESPONSE_ATTRIBUTES - CREATE_RESPONSE_TIMES..].copy_from_slice(&QUOTA_FILE_ATTRIBUTES.to_le_bytes());
    }
}

/// The quota table and key an open's growth is charged under, if any.
pub fn for_open(server: &ServerState, share: usize, key: Option<FileKey>) -> Option<(Arc<ShareQuota>, FileKey)> {
    let key = key?;
    server.shares.get(share)?.quota.get().cloned().map(|q| (q, key))
}

/// Per-user limits by account name (from the users file), turned into SIDs.
fn user_limits(server: &ServerState, by_name: &[(String, Limits)]) -> HashMap<Sid, Limits> {
    let dir = server.directory();
    by_name
        .iter()
        .filter_map(|(name, l)| dir.user(name).map(|u| (dir.sid(u.rid), *l)))
        .collect()
}

/// Gives each live share that should track usage its table (kept from `previous` for a
/// share whose slot stayed: a reload that kept its root), sets the limits and starts a
/// scan. Called at start and after every reload.
pub fn configure(server: &ServerState, by_name: &[(String, Limits)], previous: &[(usize, Arc<ShareQuota>)]) {
    let users = user_limits(server, by_name);
    let any_user = !users.is_empty();
    for (slot, share) in server.shares.live() {
        let c = share.config.quota;
        if c.is_none() && !any_user {
            continue;
        }
        let kept = previous.iter().find(|(i, _)| *i == slot).map(|(_, q)| q.clone());
        let q = share
            .quota
            .get_or_init(|| kept.unwrap_or_else(|| Arc::new(ShareQuota::new(Table::new(c.share, c.user_default, HashMap::new())))))
            .clone();
        q.lock().set_limits(c.share, c.user_default, users.clone());
        scan::start(share.name.clone(), share.fs.clone(), share.path.clone(), q);
    }
}

/// The quota tables of the live shares by slot (what a reload keeps).
pub fn tables(server: &ServerState) -> Vec<(usize, Arc<ShareQuota>)> {
    server.shares.live().into_iter().filter_map(|(i, s)| s.quota.get().map(|q| (i, q.clone()))).collect()
}
