//! The usage table of one share: what each owner's files hold, and whether a change fits
//! under the limits. Pure: no I/O, no clock; the server tells it what happened.
//!
//! * Files are named by (device, inode), so hard links and renames change nothing and a
//!   file is charged once. Each file is charged to one owner (the owner SID of its
//!   stored security descriptor, or "unowned" for files without one) with its logical
//!   size (end of file, as Windows quotas charge); a directory counts as a file of
//!   size 0.
//! * A change is checked before it is made ([`Table::grow`], [`Table::create`]): the
//!   owner's own limits first (STATUS_QUOTA_EXCEEDED), then the share's
//!   (STATUS_DISK_FULL). Shrinking, and changes the server only observes (an open of a
//!   file whose size changed on the host, the start-up scan), are never refused.
//! * Scans are told apart by an epoch: an entry neither seen by the scan of the current
//!   epoch nor touched while it ran is dropped when it ends ([`Table::end_scan`]).

use opportune_types::Sid;
use std::collections::HashMap;

/// (device, inode) of a file or directory.
pub type FileKey = (u64, u64);

/// Byte and file limits; None: no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub bytes: Option<u64>,
    pub files: Option<u64>,
}

impl Limits {
    pub fn is_none(&self) -> bool {
        self.bytes.is_none() && self.files.is_none()
    }

    /// Whether `usage` plus `bytes` and `files` more stays within these limits.
    fn admits(&self, usage: Usage, bytes: u64, files: u64) -> bool {
        let fits = |limit: Option<u64>, used: u64, more: u64| limit.is_none_or(|l| used.saturating_add(more) <= l);
        fits(self.bytes, usage.bytes, bytes) && fits(self.files, usage.files, files)
    }
}

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

/// What an owner (or the whole share) holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub files: u64,
}

impl Usage {
    fn add(&mut self, bytes: u64, files: u64) {
        self.bytes = self.bytes.saturating_add(bytes);
        self.files = self.files.saturating_add(files);
    }

    fn sub(&mut self, bytes: u64, files: u64) {
        self.bytes = self.bytes.saturating_sub(bytes);
        self.files = self.files.saturating_sub(files);
    }
}

/// Whose limit a refused change met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The owner's: STATUS_QUOTA_EXCEEDED.
    User,
    /// The share's: STATUS_DISK_FULL.
    Share,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    owner: u32,
    size: u64,
    epoch: u32,
}

#[derive(Clone, Debug)]
struct Owner {
    /// None: files without a stored descriptor.
    sid: Option<Sid>,
    usage: Usage,
}

/// The usage table of a share (see the module documentation).
#[derive(Debug)]
pub struct Table {
    files: HashMap<FileKey, Entry>,
    /// Interned owners; index 0 is "unowned". Never shrinks (bounded by the accounts
    /// that ever owned a file on the share).
    owners: Vec<Owner>,
    by_sid: HashMap<Sid, u32>,
    total: Usage,
    /// The share-wide limits.
    share: Limits,
    /// Per-user limits by SID, and what users without their own get.
    users: HashMap<Sid, Limits>,
    user_default: Limits,
    epoch: u32,
}

impl Table {
    pub fn new(share: Limits, user_default: Limits, users: HashMap<Sid, Limits>) -> Table {
        Table {
            files: HashMap::new(),
            owners: vec![Owner { sid: None, usage: Usage::default() }],
            by_sid: HashMap::new(),
            total: Usage::default(),
            share,
            users,
            user_default,
            epoch: 0,
        }
    }

    /// New limits (a reload); what is charged stays.
    pub fn set_limits(&mut self, share: Limits, user_default: Limits, users: HashMap<Sid, Limits>) {
        self.share = share;
        self.user_default = user_default;
        self.users = users;
    }

    /// The limits that apply to `sid`'s own files.
    pub fn limits_of(&self, sid: &Sid) -> Limits {
        self.users.get(sid).copied().unwrap_or(self.user_default)
    }

    pub fn share_limits(&self) -> Limits {
        self.share
    }

    pub fn total(&self) -> Usage {
        self.total
    }

    /// What `sid` owns on this share.
    pub fn usage_of(&self, sid: &Sid) -> Usage {
        self.by_sid.get(sid).map_or_else(Usage::default, |&i| self.owners[i as usize].usage)
    }

    /// The owners with a SID, in the order they were first seen (the quota query's
    /// enumeration order), with what each holds.
    pub fn owners(&self) -> impl Iterator<Item = (&Sid, Usage)> + '_ {
        self.owners.iter().filter_map(|o| o.sid.as_ref().map(|s| (s, o.usage)))
    }

    /// Whether the file `key` is charged.
    pub fn contains(&self, key: FileKey) -> bool {
        self.files.contains_key(&key)
    }

    fn intern(&mut self, sid: Option<&Sid>) -> u32 {
        let Some(sid) = sid else { return 0 };
        if let Some(&i) = self.by_sid.get(sid) {
            return i;
        }
        let i = self.owners.len() as u32;
        self.owners.push(Owner { sid: Some(sid.clone()), usage: Usage::default() });
        self.by_sid.insert(sid.clone(), i);
        i
    }

    /// Whether `owner` may hold `bytes` and `files` more: its own limits, then the share's.
    fn admit(&self, owner: u32, bytes: u64, files: u64) -> Result<(), Refusal> {
        let o = &self.owners[owner as usize];
        if let Some(sid) = &o.sid
            && !self.limits_of(sid).admits(o.usage, bytes, files)
        {
            return Err(Refusal::User);
        }
        if !self.share.admits(self.total, bytes, files) {
            return Err(Refusal::Share);
        }
        Ok(())
    }

    fn charge(&mut self, owner: u32, bytes: u64, files: u64) {
        self.owners[owner as usize].usage.add(bytes, files);
        self.total.add(bytes, files);
    }

    fn uncharge(&mut self, owner: u32, bytes: u64, files: u64) {
        self.owners[owner as usize].usage.sub(bytes, files);
        self.total.sub(bytes, files);
    }

    /// Whether a new file or directory owned by `owner` fits (MS-FSA 2.1.5.1.1: the
    /// create fails before anything is made), and `len` bytes more for it (a CREATE's
    /// AllocationSize).
    pub fn admits_new(&mut self, owner: Option<&Sid>, len: u64) -> Result<(), Refusal> {
        let o = self.intern(owner);
        self.admit(o, len, 1)
    }

    /// A new file or directory: checked, then charged with size 0. A stale entry
    /// under the same key (an inode reused after a host delete) is replaced.
    pub fn create(&mut self, key: FileKey, owner: Option<&Sid>) -> Result<(), Refusal> {
        self.admits_new(owner, 0)?;
        self.remove(key);
        let o = self.intern(owner);
        self.charge(o, 0, 1);
        self.files.insert(key, Entry { owner: o, size: 0, epoch: self.epoch });
        Ok(())
    }

    /// The server saw the file `key` with `owner` and `size` (an open, the scan): the
    /// entry is made or corrected, never refused.
    pub fn observe(&mut self, key: FileKey, owner: Option<&Sid>, size: u64) {
        let o = self.intern(owner);
        match self.files.get(&key).copied() {
            Some(e) if e.owner == o => {
                self.uncharge(o, e.size, 0);
                self.charge(o, size, 0);
            }
            Some(e) => {
                self.uncharge(e.owner, e.size, 1);
                self.charge(o, size, 1);
            }
            None => self.charge(o, size, 1),
        }
        self.files.insert(key, Entry { owner: o, size, epoch: self.epoch });
    }

    /// The file `key` grows to `size` bytes (a write past end of file, a larger end of
    /// file): checked, then charged. Returns the size it had, to give back with
    /// [`Table::set_size`] if the change then fails; None when nothing was charged (not
    /// larger, or a file the table does not know).
    pub fn grow(&mut self, key: FileKey, size: u64) -> Result<Option<u64>, Refusal> {
        let Some(e) = self.files.get(&key).copied() else { return Ok(None) };
        if size <= e.size {
            return Ok(None);
        }
        self.admit(e.owner, size - e.size, 0)?;
        self.set_size(key, size);
        Ok(Some(e.size))
    }

    /// Whether the file `key` could grow to `size` (an allocation request, which is
    /// checked but charged only as end of file moves).
    pub fn admits_size(&self, key: FileKey, size: u64) -> Result<(), Refusal> {
        match self.files.get(&key) {
            Some(e) if size > e.size => self.admit(e.owner, size - e.size, 0),
            _ => Ok(()),
        }
    }

    /// The size the file `key` is charged with, if it is charged.
    pub fn size_of(&self, key: FileKey) -> Option<u64> {
        self.files.get(&key).map(|e| e.size)
    }

    /// The scan of `epoch` saw the file `key`: recorded as [`Table::observe`] does,
    /// unless a request touched the entry after the scan began (it knows better than
    /// the scan's earlier stat).
    pub fn scanned(&mut self, epoch: u32, key: FileKey, owner: Option<&Sid>, size: u64) {
        if epoch != self.epoch || self.files.get(&key).is_some_and(|e| e.epoch == epoch) {
            return;
        }
        self.observe(key, owner, size);
    }

    /// The file `key` now has `size` bytes (a shrink, or a failed growth undone).
    pub fn set_size(&mut self, key: FileKey, size: u64) {
        let Some(e) = self.files.get(&key).copied() else { return };
        self.uncharge(e.owner, e.size, 0);
        self.charge(e.owner, size, 0);
        self.files.insert(key, Entry { size, epoch: self.epoch, ..e });
    }

    /// The file `key` has a new owner (its descriptor's owner was set).
    pub fn set_owner(&mut self, key: FileKey, owner: Option<&Sid>) {
        if let Some(e) = self.files.get(&key).copied() {
            self.observe(key, owner, e.size);
        }
    }

    /// The file `key` is gone.
    pub fn remove(&mut self, key: FileKey) {
        if let Some(e) = self.files.remove(&key) {
            self.uncharge(e.owner, e.size, 1);
        }
    }

    /// A scan begins: what it sees ([`Table::observe`]) and what changes meanwhile is
    /// marked with the returned epoch.
    pub fn begin_scan(&mut self) -> u32 {
        self.epoch = self.epoch.wrapping_add(1);
        self.epoch
    }

    /// The scan of `epoch` has seen every file: entries it did not see and nothing
    /// touched since it began are dropped (files deleted behind the server). A scan
    /// that was cut short (`complete == false`) drops nothing.
    pub fn end_scan(&mut self, epoch: u32, complete: bool) {
        if !complete || epoch != self.epoch {
            return;
        }
        let stale: Vec<FileKey> = self.files.iter().filter(|(_, e)| e.epoch != epoch).map(|(k, _)| *k).collect();
        for k in stale {
            self.remove(k);
        }
    }

    /// The epoch of the latest scan.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// How many files and directories the table holds (about 50 bytes each).
    pub fn tracked(&self) -> usize {
        self.files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(rid: u32) -> Sid {
        Sid::new(5, &[21, 1, 2, 3, rid])
    }

    fn table(share: Limits, user: Limits) -> Table {
        Table::new(share, user, HashMap::new())
    }

    #[test]
    fn growth_is_checked_against_the_owner_then_the_share() {
        let (alice, bob) = (sid(1000), sid(1001));
        let mut users = HashMap::new();
        users.insert(alice.clone(), Limits { bytes: Some(100), files: None });
        let mut t = Table::new(Limits { bytes: Some(150), files: None }, Limits::default(), users);
        t.create((1, 1), Some(&alice)).unwrap();
        t.create((1, 2), Some(&bob)).unwrap();
        assert_eq!(t.grow((1, 1), 100), Ok(Some(0)));
        assert_eq!(t.grow((1, 1), 101), Err(Refusal::User));
        // Within the file: nothing to charge, never refused.
        assert_eq!(t.grow((1, 1), 50), Ok(None));
        // Bob has no limit of his own; the share's stops him.
        assert_eq!(t.grow((1, 2), 50), Ok(Some(0)));
        assert_eq!(t.grow((1, 2), 51), Err(Refusal::Share));
        assert_eq!(t.usage_of(&alice), Usage { bytes: 100, files: 1 });
        assert_eq!(t.total(), Usage { bytes: 150, files: 2 });
        // Shrinking gives back; a failed growth is undone the same way.
        t.set_size((1, 1), 10);
        assert_eq!(t.usage_of(&alice).bytes, 10);
        assert_eq!(t.admits_size((1, 1), 100), Ok(()));
        assert_eq!(t.admits_size((1, 1), 101), Err(Refusal::User));
        t.remove((1, 2));
        assert_eq!(t.total(), Usage { bytes: 10, files: 1 });
        assert_eq!(t.grow((9, 9), 1 << 40), Ok(None));
    }

    #[test]
    fn files_limits_refuse_creates() {
        let a = sid(1000);
        let mut t = table(Limits { bytes: None, files: Some(3) }, Limits { bytes: None, files: Some(2) });
        t.create((1, 1), Some(&a)).unwrap();
        t.create((1, 2), Some(&a)).unwrap();
        assert_eq!(t.create((1, 3), Some(&a)), Err(Refusal::User));
        assert_eq!(t.admits_new(Some(&a), 0), Err(Refusal::User));
        // Unowned files count for the share only.
        t.create((1, 3), None).unwrap();
        assert_eq!(t.create((1, 4), None), Err(Refusal::Share));
        // A reused inode replaces its stale entry instead of counting twice.
        t.remove((1, 2));
        t.create((1, 1), Some(&a)).unwrap();
        assert_eq!(t.usage_of(&a).files, 1);
        // An allocation request counts against bytes too.
        let mut b = table(Limits::default(), Limits { bytes: Some(10), files: None });
        assert_eq!(b.admits_new(Some(&a), 11), Err(Refusal::User));
        assert_eq!(b.admits_new(Some(&a), 10), Ok(()));
    }

    #[test]
    fn observations_correct_and_move_charges() {
        let (a, b) = (sid(1000), sid(1001));
        let mut t = table(Limits::default(), Limits::default());
        t.observe((1, 1), Some(&a), 500);
        t.observe((1, 1), Some(&a), 200);
        assert_eq!(t.usage_of(&a), Usage { bytes: 200, files: 1 });
        t.set_owner((1, 1), Some(&b));
        assert_eq!(t.usage_of(&a), Usage::default());
        assert_eq!(t.usage_of(&b), Usage { bytes: 200, files: 1 });
        assert_eq!(t.total(), Usage { bytes: 200, files: 1 });
        let owners: Vec<_> = t.owners().map(|(s, _)| s.clone()).collect();
        assert_eq!(owners, vec![a, b]);
    }

    #[test]
    fn a_complete_scan_drops_what_it_did_not_see() {
        let a = sid(1000);
        let mut t = table(Limits::default(), Limits::default());
        t.observe((1, 1), Some(&a), 10);
        t.observe((1, 2), Some(&a), 20);
        t.observe((1, 3), Some(&a), 30);
        let e = t.begin_scan();
        t.observe((1, 1), Some(&a), 11);
        // Touched by a request while the scan ran: kept.
        t.set_size((1, 2), 21);
        t.end_scan(e, true);
        assert!(!t.contains((1, 3)));
        assert_eq!(t.usage_of(&a), Usage { bytes: 32, files: 2 });
        // An incomplete or superseded scan drops nothing.
        t.observe((1, 4), Some(&a), 1);
        let old = t.begin_scan();
        let new = t.begin_scan();
        t.end_scan(old, true);
        t.end_scan(new, false);
        assert_eq!(t.tracked(), 3);
        // What the scan saw of an entry a request touched meanwhile is ignored.
        let e = t.begin_scan();
        t.set_size((1, 4), 7);
        t.scanned(e, (1, 4), Some(&a), 1);
        t.scanned(e, (1, 5), Some(&a), 5);
        t.scanned(e.wrapping_sub(1), (1, 6), Some(&a), 5);
        assert_eq!((t.size_of((1, 4)), t.size_of((1, 5)), t.size_of((1, 6))), (Some(7), Some(5), None));
    }
}
