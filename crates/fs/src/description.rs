//! Open file descriptions of regular files, one per file for every open of a share that
//! shares them (a share with kernel oplocks; docs/COHERENCE.md "Our own opens").
//!
//! A Linux lease (`F_SETLEASE`) belongs to an open file description, and the kernel breaks
//! it for any other open of the inode that conflicts — this process's own opens included
//! (fs/locks.c: a read lease is refused and broken while the inode is open for writing
//! anywhere, a write lease unless the only open of the inode is the lease's own
//! description). So on such a share every SMB open of a file uses one description,
//! [`Descriptions::file`]: the path is opened `O_PATH` first (an `O_PATH` open breaks no
//! lease: the kernel returns from `do_dentry_open` before `break_lease`), its device and
//! inode pick the share's description of that file, and only when there is none is the
//! file opened — through `/proc/self/fd/<the O_PATH descriptor>`, so a rename in between
//! cannot make it another file and nothing is resolved outside the share again.
//!
//! The description is read-only while no open of the file needs to write (it can then
//! carry a read lease as well as a write lease). The first open that writes reopens it
//! read-write and puts the new description under the same descriptor number with
//! `dup3` ([`crate::sys::dup_onto`]): every handle of the file follows at once, with no
//! lock on the I/O path. What belonged to the old description goes with it — its lease
//! (the caller lets go of it first: the read-write open would break it) and its OFD
//! byte-range locks, which the caller takes again ([`Opened::reopened`]). Each handle
//! that writes holds a [`Writing`] claim; when the last claim goes while other handles
//! still use the description, the caller may make it read-only again
//! ([`Handle::stop_writing`](crate::Handle::stop_writing)): the same `dup3`, the other way,
//! after letting go of the write lease, so that a read lease can cover read-only caching
//! again and a local reader no longer breaks it.
//!
//! Access is still checked per SMB open (the server asks each open's granted access
//! before READ, WRITE and SET_INFO), not by the description's mode.
//!
//! [`Opened::reopened`]: crate::Opened::reopened

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::sys;

/// A file as the kernel names it: device and inode.
type Key = (u64, u64);
type Table = Mutex<HashMap<Key, Weak<Description>>>;

/// The open file description behind one or more handles.
pub(crate) struct Description {
    /// Never replaced: a reopen puts the new description under this descriptor number.
    file: File,
    writable: AtomicBool,
    /// Handles that write through it ([`Writing`] claims).
    writers: AtomicUsize,
    /// The table it is listed in, and under which key (shared descriptions only).
    listed: Option<(Arc<Table>, Key)>,
    /// Held while a lease is taken on it ([`Description::take_lease`]) and while it is
    /// checked for a lease and reopened (`refuse_if_leased`), so that no lease of ours
    /// appears between the check and the reopen that would break it.
    lease_gate: Mutex<()>,
    /// The description under `file` announces lease breaks with the lease signal
    /// (`kernel_lease::take_signalled`); cleared by a reopen, under the gate.
    signalled: AtomicBool,
}

impl Description {
    /// A description of one handle's own (a directory, or a share that shares none);
    /// `writable`: it was opened for writing (the caller knows its open flags).
    pub(crate) fn own(file: File, writable: bool) -> Arc<Description> {
        Arc::new(Description { file, writable: AtomicBool::new(writable), writers: AtomicUsize::new(0), listed: None, lease_gate: Mutex::new(()), signalled: AtomicBool::new(false) })
    }

    fn listed(file: File, writable: bool, table: &Arc<Table>, k: Key) -> Arc<Description> {
        Arc::new(Description { file, writable: AtomicBool::new(writable), writers: AtomicUsize::new(0), listed: Some((table.clone(), k)), lease_gate: Mutex::new(()), signalled: AtomicBool::new(false) })
    }

    /// A claim to write through this description; the caller holds the table's lock.
    fn claim(self: &Arc<Self>) -> Writing {
        self.writers.fetch_add(1, Ordering::AcqRel);
        Writing(self.clone())
    }

    /// Whether `claim` is the only claim to write through this shared, writable
    /// description.
    pub(crate) fn is_last_writer(&self, claim: &Writing) -> bool {
        std::ptr::eq(Arc::as_ptr(&claim.0), self)
            && self.is_shared()
            && self.is_writable()
            && self.writers.load(Ordering::Acquire) == 1
    }

    /// Reopens the description read-only under the same descriptor number, if it is
    /// shared, read-write and nobody claims to write through it; whether it did. The
    /// table's lock is held throughout, so no writer joins in between. EWOULDBLOCK: a
    /// lease (the caller's own, not let go first, or another process's) is in the way.
    pub(crate) fn make_read_only_if_unwritten(&self) -> io::Result<bool> {
        let Some((table, _)) = &self.listed else { return Ok(false) };
        let _map = table.lock().map_err(|_| io::Error::from_raw_os_error(libc::EIO))?;
        if !self.is_writable() || self.writers.load(Ordering::Acquire) > 0 {
            return Ok(false);
        }
        // A read-only open breaks a write lease, ours included: see `refuse_if_leased`.
        let _gate = self.gate();
        self.refuse_if_leased(sys::Lease::Write)?;
        let new = reopen(self.file.as_fd(), false)?;
        sys::dup_onto(new.into(), self.file.as_fd())?;
        self.signalled.store(false, Ordering::Release);
        self.writable.store(false, Ordering::Release);
        Ok(true)
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lease_gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes, downgrades or drops the lease on this description (`kernel_lease::take`),
    /// never while it is being checked and reopened.
    pub(crate) fn take_lease(&self, lease: sys::Lease) -> Result<bool, crate::FsError> {
        let _gate = self.gate();
        crate::kernel_lease::take_signalled(self.file.as_fd(), lease, &self.signalled)
    }

    /// EWOULDBLOCK, without opening anything, if this description holds a lease that a
    /// reopen would break (`at_least` or stronger: a read-write reopen breaks a read
    /// lease, a read-only one only a write lease). The kernel does not tell our own opens
    /// from other processes': the reopen would start a break of our own lease, and its
    /// note, if read before the caller let go of the lease, would pass for a host open
    /// and break the SMB holders of the file. Asked first, the caller lets go of the lease
    /// (the server's `kernel_yield`) and tries again, and no break is ever raised. The
    /// caller holds the lease gate from the check through the reopen.
    fn refuse_if_leased(&self, at_least: sys::Lease) -> io::Result<()> {
        let held = sys::get_lease(self.file.as_fd())?;
        let breaks = match at_least {
            sys::Lease::Read => held != sys::Lease::Unlock,
            _ => held == sys::Lease::Write,
        };
        if breaks { Err(io::Error::from_raw_os_error(libc::EWOULDBLOCK)) } else { Ok(()) }
    }

    pub(crate) fn is_shared(&self) -> bool {
        self.listed.is_some()
    }

    /// The device and inode of the file, without a system call for a shared description
    /// (listed under them), else from fstatx(2).
    pub(crate) fn identity(&self) -> io::Result<(u64, u64)> {
        match &self.listed {
            Some((_, k)) => Ok(*k),
            None => Ok(key(&sys::fstatx(self.file.as_fd())?)),
        }
    }

    /// Whether the description is open for writing.
    pub(crate) fn is_writable(&self) -> bool {
        self.writable.load(Ordering::Acquire)
    }

    /// Reopens the description read-write under the same descriptor number. The caller
    /// holds the table's lock, so two opens do not reopen at once.
    fn make_writable(&self) -> io::Result<()> {
        // A read-write open breaks any lease, ours included: see `refuse_if_leased`.
        let _gate = self.gate();
        self.refuse_if_leased(sys::Lease::Read)?;
        let new = reopen(self.file.as_fd(), true)?;
        sys::dup_onto(new.into(), self.file.as_fd())?;
        self.signalled.store(false, Ordering::Release);
        self.writable.store(true, Ordering::Release);
        Ok(())
    }
}

impl Drop for Description {
    fn drop(&mut self) {
        let Some((table, key)) = &self.listed else { return };
        let Ok(mut map) = table.lock() else { return };
        // A later description of the same file may be listed already: keep that one.
        if map.get(key).is_some_and(|w| w.strong_count() == 0) {
            map.remove(key);
        }
    }
}

/// Opens the file `fd` refers to (any descriptor, O_PATH included) again, through its
/// /proc/self/fd link: the very inode, whatever its names are now. `O_NONBLOCK` makes an
/// open that would break a lease fail with EWOULDBLOCK instead of waiting.
fn reopen(fd: BorrowedFd, write: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The shared descriptions of a share's regular files, by device and inode; bounded by
/// the open handles (an entry goes with the last handle of its file).
#[derive(Default)]
pub(crate) struct Descriptions {
    enabled: AtomicBool,
    table: Arc<Table>,
}

/// One handle's claim to write through a shared description: while one exists the
/// description stays read-write.
pub(crate) struct Writing(Arc<Description>);

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.writers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What [`Descriptions::file`] found or made.
pub(crate) struct Found {
    pub(crate) description: Arc<Description>,
    /// This open's claim to write (an open that writes).
    pub(crate) writing: Option<Writing>,
    /// The description was reopened read-write for this open (its lease and OFD locks
    /// went with the old one).
    pub(crate) reopened: bool,
}

pub(crate) fn key(st: &libc::statx) -> Key {
    (libc::makedev(st.stx_dev_major, st.stx_dev_minor), st.stx_ino)
}

impl Descriptions {
    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// The description of the regular file `path_fd` (an O_PATH descriptor, `st` its
    /// statx) for an open that writes if `write`: the one its other handles use if there
    /// is one (reopened read-write first if this open writes and it is read-only), else a
    /// new one. EWOULDBLOCK: the open would break a lease (another process's, or ours
    /// on the read-only description being reopened).
    pub(crate) fn file(&self, path_fd: BorrowedFd, st: &libc::statx, write: bool) -> io::Result<Found> {
        let k = key(st);
        let mut map = self.table.lock().map_err(|_| io::Error::from_raw_os_error(libc::EIO))?;
        let listed = map.get(&k).and_then(Weak::upgrade);
        if let Some(d) = listed {
            let reopened = write && !d.is_writable();
            let made = if reopened { d.make_writable() } else { Ok(()) };
            let writing = (write && made.is_ok()).then(|| d.claim());
            // `d` may be the last reference if the other handles closed meanwhile: its
            // drop takes the table's lock, so the lock goes first.
            drop(map);
            made?;
            return Ok(Found { description: d, writing, reopened });
        }
        let file = reopen(path_fd, write)?;
        let d = Description::listed(file, write, &self.table, k);
        map.insert(k, Arc::downgrade(&d));
        let writing = write.then(|| d.claim());
        Ok(Found { description: d, writing, reopened: false })
    }

    /// A file just created through `file` (statx `st`; opened for writing if
    /// `writable`): its description is listed for the opens that follow. Unshared if the
    /// file has another listed description already (only a file reached under another
    /// name meanwhile could).
    pub(crate) fn adopt(&self, file: File, st: &libc::statx, writable: bool) -> (Arc<Description>, Option<Writing>) {
        if !self.is_enabled() {
            return (Description::own(file, writable), None);
        }
        let k = key(st);
        let Ok(mut map) = self.table.lock() else { return (Description::own(file, writable), None) };
        if map.get(&k).is_some_and(|w| w.strong_count() > 0) {
            return (Description::own(file, writable), None);
        }
        let d = Description::listed(file, writable, &self.table, k);
        map.insert(k, Arc::downgrade(&d));
        let writing = writable.then(|| d.claim());
        (d, writing)
    }

    /// How many files have a listed description (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.lock().map(|m| m.values().filter(|w| w.strong_count() > 0).count()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{params, parse, share};
    use opportune_types::create::CreateDisposition::{Create, Open, OverwriteIf};

    /// Every handle of a file shares one description; a writer reopens it read-write
    /// under the same number; the entry goes with the last handle.
    /// The description goes back to read-only when the last writer stops writing while
    /// readers remain, and read-write again with the next writer; a writer that is not the
    /// last, or the last handle of a file, changes nothing.
    #[test]
    fn read_only_again_after_the_last_writer() {
        let (t, s) = share("desc-down", false);
        s.share_descriptions(true);
        std::fs::write(t.path().join("f"), b"data").unwrap();
        let mut ro = params(Open, Some(false));
        ro.write = false;
        let r = s.create(&parse("f"), &ro).unwrap();
        let w1 = s.create(&parse("f"), &params(Open, None)).unwrap();
        let w2 = s.create(&parse("f"), &params(Open, None)).unwrap();
        assert!(r.handle.opened_for_writing());
        assert!(!r.handle.is_last_writer(), "a reader holds no claim");
        assert!(!w1.handle.is_last_writer(), "another writer remains");
        assert!(!w1.handle.stop_writing().unwrap(), "w2 still writes");
        assert!(r.handle.opened_for_writing());
        assert!(w2.handle.is_last_writer());
        let fd = r.handle.lease_fd_number();
        assert!(w2.handle.stop_writing().unwrap());
        assert!(!r.handle.opened_for_writing() && !w2.handle.opened_for_writing(), "every handle follows");
        assert_eq!(r.handle.lease_fd_number(), fd, "under the same descriptor number");
        let mut buf = [0u8; 4];
        r.handle.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"data");
        assert!(!w2.handle.stop_writing().unwrap(), "a claim goes once");
        let w3 = s.create(&parse("f"), &params(Open, None)).unwrap();
        assert!(w3.reopened && r.handle.opened_for_writing(), "the next writer reopens it read-write");
        drop((r, w1, w2));
        assert!(!w3.handle.is_last_writer(), "the last handle of the file: nothing to keep read-only for");
    }

    #[test]
    fn one_description_per_file() {
        let (t, s) = share("desc-one", false);
        s.share_descriptions(true);
        std::fs::write(t.path().join("f"), b"data").unwrap();
        let mut ro = params(Open, Some(false));
        ro.write = false;
        let a = s.create(&parse("f"), &ro).unwrap();
        let b = s.create(&parse("F"), &ro).unwrap();
        assert!(!a.reopened && !b.reopened);
        assert!(a.handle.same_description(&b.handle) && a.handle.shares_description());
        assert!(!a.handle.opened_for_writing());
        assert_eq!(s.root().descriptions.len(), 1);
        let w = s.create(&parse("f"), &params(Open, None)).unwrap();
        assert!(w.reopened && w.handle.same_description(&a.handle));
        assert!(a.handle.opened_for_writing(), "every handle follows the reopen");
        assert_eq!(a.handle.lease_fd_number(), w.handle.lease_fd_number());
        w.handle.write_at(b"DA", 0).unwrap();
        let mut buf = [0u8; 4];
        b.handle.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"DAta");
        let again = s.create(&parse("f"), &params(Open, None)).unwrap();
        assert!(!again.reopened, "already read-write");
        // Truncation through the shared description.
        let o = s.create(&parse("f"), &params(OverwriteIf, None)).unwrap();
        assert_eq!(b.handle.info().unwrap().size, 0);
        // A new file's description is listed too; a directory keeps its own.
        let n = s.create(&parse("new"), &params(Create, None)).unwrap();
        let n2 = s.create(&parse("new"), &ro).unwrap();
        assert!(n.handle.same_description(&n2.handle));
        let d = s.create(&parse(""), &params(Open, None)).unwrap();
        assert!(!d.handle.shares_description());
        assert_eq!(s.root().descriptions.len(), 2);
        drop((a, b, w, again, o));
        assert_eq!(s.root().descriptions.len(), 1, "the last handle of f took its entry");
        drop((n, n2));
        assert_eq!(s.root().descriptions.len(), 0);
    }

    /// A named stream's open uses its base's description; sharing off, nothing is shared.
    #[test]
    fn streams_share_their_base_and_off_shares_nothing() {
        let (t, s) = share("desc-stream", false);
        std::fs::write(t.path().join("f"), b"data").unwrap();
        let a = s.create(&parse("f"), &params(Open, None)).unwrap();
        let b = s.create(&parse("f"), &params(Open, None)).unwrap();
        assert!(!a.handle.same_description(&b.handle) && !a.handle.shares_description());
        s.share_descriptions(true);
        let f = s.create(&parse("f"), &params(Open, None)).unwrap();
        if crate::testutil::xattrs_supported(t.path()) {
            let st = s.create(&parse("f:st"), &params(OverwriteIf, None)).unwrap();
            assert!(st.handle.same_description(&f.handle));
        }
    }

    /// An open the file system cannot make writable fails and leaves the read-only
    /// description to its handles.
    #[test]
    fn a_refused_reopen_changes_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let (t, s) = share("desc-ro", false);
        s.share_descriptions(true);
        let p = t.path().join("ro");
        std::fs::write(&p, b"x").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
        if std::fs::OpenOptions::new().write(true).open(&p).is_ok() {
            return; // privileged: nothing refuses
        }
        let mut ro = params(Open, Some(false));
        ro.write = false;
        let a = s.create(&parse("ro"), &ro).unwrap();
        assert!(s.create(&parse("ro"), &params(Open, None)).is_err());
        assert!(!a.handle.opened_for_writing());
        let mut buf = [0u8; 1];
        assert_eq!(a.handle.read_at(&mut buf, 0).unwrap(), 1);
    }
}
