//! The usage of one share behind its lock, and the one place a refusal becomes an NT
//! status (see the [module documentation](super)).

use super::table::{FileKey, Refusal, Table};
use opportune_types::{NtStatus, Sid};
use std::sync::{Mutex, MutexGuard};

/// The one place a refusal becomes an NT status (module documentation), so the
/// checks below pass it on with a plain `?`.
impl From<Refusal> for NtStatus {
    fn from(r: Refusal) -> NtStatus {
        match r {
            Refusal::User => NtStatus::QUOTA_EXCEEDED,
            Refusal::Share => NtStatus::DISK_FULL,
        }
    }
}

/// The usage of one share and its scan state.
#[derive(Debug)]
pub struct ShareQuota {
    table: Mutex<Table>,
}

impl ShareQuota {
    pub(super) fn new(table: Table) -> ShareQuota {
        ShareQuota { table: Mutex::new(table) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new file or directory of `owner`, with `allocation` bytes asked for.
    pub fn created(&self, key: FileKey, owner: Option<&Sid>, allocation: u64) -> Result<(), NtStatus> {
        let mut t = self.lock();
        t.admits_new(owner, allocation)?;
        Ok(t.create(key, owner)?)
    }

    /// An existing file was opened: its entry is made or corrected.
    pub fn opened(&self, key: FileKey, owner: Option<&Sid>, size: u64) {
        self.lock().observe(key, owner, size);
    }

    /// The file `key` is to grow to `size`: checked and charged; the old size comes back
    /// to undo with [`ShareQuota::undo_growth`] if the change fails.
    pub fn grow(&self, key: FileKey, size: u64) -> Result<Option<u64>, NtStatus> {
        Ok(self.lock().grow(key, size)?)
    }

    /// An allocation of `len` bytes: refused if end of file there would not fit.
    pub fn admits_size(&self, key: FileKey, len: u64) -> Result<(), NtStatus> {
        Ok(self.lock().admits_size(key, len)?)
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
