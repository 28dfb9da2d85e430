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
//! * Refusals map to NT status in one place (`From<Refusal> for NtStatus`): the owner's limit is
//!   STATUS_QUOTA_EXCEEDED (MS-ERREF 2.3.1 0xC0000044), the share's STATUS_DISK_FULL
//!   (0xC000007F), as NTFS answers for a per-user quota and a full volume.
//!
//! [`ShareState::quota`]: crate::share_state::ShareState::quota

pub mod scan;
pub mod share_quota;
pub mod table;

use crate::accounts::Directory;
use crate::share_state::ShareState;
use crate::share_table::ShareTable;
use opportune_types::Sid;
use std::collections::HashMap;
use std::sync::Arc;
pub use share_quota::ShareQuota;
pub use table::{FileKey, Limits, QuotaConfig, Refusal, Table, Usage};

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
pub fn for_open(shares: &ShareTable, share: usize, key: Option<FileKey>) -> Option<(Arc<ShareQuota>, FileKey)> {
    let key = key?;
    shares.get(share)?.quota.get().cloned().map(|q| (q, key))
}

/// Per-user limits by account name (from the users file), turned into SIDs.
fn user_limits(dir: &Directory, by_name: &[(String, Limits)]) -> HashMap<Sid, Limits> {
    by_name
        .iter()
        .filter_map(|(name, l)| dir.user(name).map(|u| (dir.sid(u.rid), *l)))
        .collect()
}

/// Gives each live share that should track usage its table (kept from `previous` for a
/// share whose slot stayed: a reload that kept its root), sets the limits and starts a
/// scan. Called at start and after every reload.
/// The users' SIDs are looked up in `directory`.
pub fn configure(shares: &ShareTable, directory: &Directory, by_name: &[(String, Limits)], previous: &[(usize, Arc<ShareQuota>)]) {
    let users = user_limits(directory, by_name);
    let any_user = !users.is_empty();
    for (slot, share) in shares.live() {
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
pub fn tables(shares: &ShareTable) -> Vec<(usize, Arc<ShareQuota>)> {
    shares.live().into_iter().filter_map(|(i, s)| s.quota.get().map(|q| (i, q.clone()))).collect()
}
