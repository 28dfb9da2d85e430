//! An open file or directory: positional I/O and metadata
//! (MS-FSA 2.1.5.2 read, 2.1.5.3 write, 2.1.5.14.2 FileBasicInformation).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use opportune_types::FileAttributes;
use opportune_types::time::filetime_to_unix;

use crate::description::{Description, Writing};
use crate::dosattr::{self, DosRecord};
use crate::error::FsError;
use crate::info::{BasicInfo, FileInfo};
use crate::root::Root;
use crate::space;
use crate::stream::{self, StreamName};
use crate::stream_io::StreamIo;
use crate::sys;

/// One open file, directory or named stream. `Send + Sync`: all I/O is
/// positional.
///
/// A named-stream open holds a descriptor of its base file or directory;
/// its data lives in an xattr of the base (see the `stream` module), its
/// times, attributes and ids are the base's.
pub struct PosixHandle {
    /// Its open file description: its own, or on a share that shares them the one every
    /// handle of the file uses (the `description` module).
    desc: Arc<Description>,
    /// Whether the base object is a directory (also for a stream open).
    is_dir: bool,
    /// The named stream of a stream open (it can be renamed, see `rename_stream`).
    stream: RwLock<Option<StreamName>>,
    pub(crate) root: Arc<Root>,
    /// On-disk path relative to the share root, for confined symlink checks
    /// in `read_dir`; the server updates it after a rename.
    rel: RwLock<String>,
    /// Open.UserSetChangeTime (MS-FSA 2.1.5.14.2): a ChangeTime set through
    /// this open survives later attribute changes made through it.
    user_set_change_time: AtomicBool,
    /// The allocation size last set through this open (FileAllocationInformation), as
    /// reported while it is more than what is on disk: without strict allocation it is
    /// recorded, not preallocated (see the `space` module). 0: none.
    requested_allocation: AtomicU64,
    /// Its claim to write through a shared description (an open that writes), until
    /// [`Handle::stop_writing`] or the handle goes.
    writing: std::sync::Mutex<Option<Writing>>,
}

/// MS-FSCC 2.4.7: 0 and -1/-2 in a time field mean "leave unchanged".
fn settable_time(t: Option<u64>) -> Option<u64> {
    t.filter(|&v| v != 0 && v < u64::MAX - 1)
}

impl PosixHandle {
    pub(crate) fn new(desc: Arc<Description>, is_dir: bool, root: Arc<Root>, rel: String) -> PosixHandle {
        PosixHandle {
            desc,
            is_dir,
            stream: RwLock::new(None),
            root,
            rel: RwLock::new(rel),
            user_set_change_time: AtomicBool::new(false),
            requested_allocation: AtomicU64::new(0),
            writing: std::sync::Mutex::new(None),
        }
    }

    /// The handle writes through its shared description: it holds `w`, the claim that
    /// keeps the description read-write.
    pub(crate) fn with_writing(self, w: Option<Writing>) -> PosixHandle {
        *self.writing.lock().unwrap_or_else(|e| e.into_inner()) = w;
        self
    }

    /// Whether this handle is the last one writing through a shared description that
    /// other handles still use (its close may then make the description read-only again:
    /// [`Handle::stop_writing`]). The last handle of a file closing is not: its
    /// description goes with it.
    pub fn is_last_writer(&self) -> bool {
        let w = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        // This handle and its claim hold two references; any more are other handles'.
        w.as_ref().is_some_and(|w| self.desc.is_last_writer(w)) && Arc::strong_count(&self.desc) > 2
    }

    /// The handle writes no more (it is closing): its claim goes, and if no handle writes
    /// through the shared description any more it is reopened read-only under the same
    /// descriptor number (the `description` module). Whether it was. What belonged to the
    /// read-write description goes with it, as for the reopen the other way
    /// ([`crate::Opened::reopened`]): the caller lets go of its lease first (else
    /// EWOULDBLOCK) and takes the OFD locks of the other opens again after.
    pub fn stop_writing(&self) -> std::io::Result<bool> {
        let claim = self.writing.lock().unwrap_or_else(|e| e.into_inner()).take();
        if claim.is_none() {
            return Ok(false);
        }
        drop(claim);
        self.desc.make_read_only_if_unwritten()
    }

    /// An open of named stream `s` of the base object `file`; `rel` is
    /// "base:name".
    pub(crate) fn new_stream(desc: Arc<Description>, base_is_dir: bool, root: Arc<Root>, rel: String, s: StreamName) -> PosixHandle {
        PosixHandle {
            stream: RwLock::new(Some(s)),
            ..PosixHandle::new(desc, base_is_dir, root, rel)
        }
    }

    /// The description of the base object, for reuse by a stream create.
    pub(crate) fn into_description(self) -> Arc<Description> {
        self.desc
    }

    fn file(&self) -> &File {
        self.desc.file()
    }

    /// Whether this handle shares its open file description with the other handles of
    /// its file (a share with kernel oplocks): leases and OFD byte-range locks taken
    /// through it are then the file's, not this open's.
    pub fn shares_description(&self) -> bool {
        self.desc.is_shared()
    }

    /// The device (as makedev(3) packs it) and inode of the object.
    pub(crate) fn identity(&self) -> std::io::Result<(u64, u64)> {
        self.desc.identity()
    }

    /// Whether `st` (a statx of some name) is of this very object.
    pub(crate) fn is_object_of(&self, st: &libc::statx) -> std::io::Result<bool> {
        Ok(crate::description::key(st) == self.identity()?)
    }

    /// Whether `other` uses the same open file description.
    pub fn same_description(&self, other: &PosixHandle) -> bool {
        Arc::ptr_eq(&self.desc, &other.desc)
    }

    /// The named stream of a stream open.
    pub(crate) fn stream(&self) -> Option<StreamName> {
        self.stream.read().ok().and_then(|s| s.clone())
    }

    /// Records that this open now stands for named stream `s` (`None`: the
    /// file itself), after a rename of its stream.
    pub(crate) fn set_stream(&self, s: Option<StreamName>) {
        if let Ok(mut cur) = self.stream.write() {
            *cur = s;
        }
    }

    /// Whether the base object is a directory (also for a stream open).
    pub(crate) fn base_is_dir(&self) -> bool {
        self.is_dir
    }

    fn stream_io(&self) -> Option<StreamIo<'_>> {
        self.stream().map(|s| StreamIo { fd: self.fd(), s })
    }

    /// The named stream this handle opened; `None` for a file or directory.
    pub fn stream_name(&self) -> Option<String> {
        self.stream().map(|s| s.name)
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.desc.file().as_fd()
    }

    /// Its open file description (for the lease calls, `kernel_lease`).
    pub(crate) fn description(&self) -> &Description {
        &self.desc
    }

    /// Whether the open file description is open for writing.
    pub(crate) fn description_writable(&self) -> bool {
        self.desc.is_writable()
    }

    /// Whether this is a directory (a named stream of a directory is not).
    pub fn is_dir(&self) -> bool {
        self.is_dir && self.stream().is_none()
    }

    /// The on-disk path relative to the share root, as last known; for a
    /// named stream "base:name" (file names never contain ':'), which
    /// `Share::remove` and `Share::stat` understand.
    pub fn rel_path(&self) -> String {
        self.rel.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Records the new on-disk path after `Share::rename` of this object.
    pub fn set_rel_path(&self, rel: String) {
        if let Ok(mut r) = self.rel.write() {
            *r = rel;
        }
    }

    /// Whether `rel` still names this very object.
    pub(crate) fn path_is_current(&self, rel: &str) -> bool {
        let Ok(fd) = self.root.open_rel(rel, libc::O_PATH) else {
            return false;
        };
        match (sys::fstatx(fd.as_fd()), sys::fstatx(self.fd())) {
            (Ok(a), Ok(b)) => {
                (a.stx_ino, a.stx_dev_major, a.stx_dev_minor)
                    == (b.stx_ino, b.stx_dev_major, b.stx_dev_minor)
            }
            _ => false,
        }
    }

    /// Reads at `offset` until `buf` is full or end of file; returns the count.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, FsError> {
        if let Some(s) = self.stream_io() {
            return s.read_at(buf, offset);
        }
        if self.is_dir {
            return Err(FsError::IsADirectory);
        }
        let mut done = 0;
        while done < buf.len() {
            let Some(pos) = offset
                .checked_add(done as u64)
                .filter(|&p| p <= i64::MAX as u64)
            else {
                break;
            };
            match self.file().read_at(&mut buf[done..], pos) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done)
    }

    /// Writes all of `buf` at `offset`.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, FsError> {
        if let Some(s) = self.stream_io() {
            return self.with_owner_write(false, || s.write_at(buf, offset))?;
        }
        if self.is_dir {
            return Err(FsError::IsADirectory);
        }
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or(FsError::DiskFull)?;
        if end > i64::MAX as u64 {
            return Err(FsError::DiskFull);
        }
        let size = sys::fstatx(self.fd())?.stx_size;
        if end > size {
            // Extending: the new bytes must leave the volume's reserve free.
            let new_bytes = (end - size).min(buf.len() as u64);
            space::ensure(self.fd(), &self.root.space, new_bytes)?;
        }
        self.file().write_all_at(buf, offset)?;
        Ok(buf.len())
    }

    /// Sets the end of file (MS-FSA 2.1.5.14.4 FileEndOfFileInformation).
    /// A named stream beyond what an xattr value can hold is `DiskFull`.
    pub fn set_len(&self, len: u64) -> Result<(), FsError> {
        if len > i64::MAX as u64 {
            return Err(FsError::InvalidParameter);
        }
        if let Some(s) = self.stream_io() {
            return self.with_owner_write(false, || s.set_len(len))?;
        }
        if self.is_dir {
            return Err(FsError::IsADirectory);
        }
        if len > sys::fstatx(self.fd())?.stx_size {
            // A longer file is sparse and takes no blocks yet, but it is not granted on a
            // volume already below its reserve.
            space::ensure(self.fd(), &self.root.space, 0)?;
        }
        Ok(self.file().set_len(len)?)
    }

    /// FileAllocationInformation (MS-FSA 2.1.5.14.1): below end of file the
    /// file is truncated; a smaller allocation than the current one gives back
    /// what lies beyond end of file; a larger one is granted only if it leaves
    /// the volume's reserve free (`DiskFull` otherwise, with nothing consumed)
    /// and is preallocated (fallocate KEEP_SIZE) as the share's
    /// [`SpacePolicy`](crate::SpacePolicy) allows: in full with strict
    /// allocation, else at most `LOOSE_PREALLOCATION` past end of file, the rest
    /// being recorded and reported by [`Handle::info`].
    pub fn set_allocation(&self, len: u64) -> Result<(), FsError> {
        self.requested_allocation.store(0, Ordering::Relaxed);
        if let Some(s) = self.stream_io() {
            // Nothing to reserve: below the end of the stream it truncates.
            return if len < s.len()? { self.set_len(len) } else { Ok(()) };
        }
        if self.is_dir {
            return Err(FsError::IsADirectory);
        }
        let info = self.info()?;
        if len < info.size {
            return self.set_len(len);
        }
        if len < info.allocation_size {
            // Truncating to the current size frees blocks past end of file.
            return self.set_len(info.size);
        }
        space::grow_allocation(self.file(), &self.root.space, info.size, info.allocation_size, len)?;
        self.requested_allocation.store(len.next_multiple_of(4096), Ordering::Relaxed);
        Ok(())
    }

    /// fsync(2) (MS-FSA 2.1.5.6 flush).
    pub fn sync(&self) -> Result<(), FsError> {
        Ok(self.file().sync_all()?)
    }

    /// Current metadata. A named stream reports its base's times,
    /// attributes and ids with its own size, `is_dir == false` and
    /// `stream` set.
    pub fn info(&self) -> Result<FileInfo, FsError> {
        let mut info = self.base_info()?;
        if let Some(s) = self.stream_io() {
            info.size = s.len()?;
            info.allocation_size = stream::allocation(info.size);
            info.is_dir = false;
            info.stream = s.s.hash;
        } else if !info.is_dir {
            let requested = self.requested_allocation.load(Ordering::Relaxed);
            info.allocation_size = info.allocation_size.max(requested);
        }
        Ok(info)
    }

    /// Metadata of the file or directory itself (the base of a stream open).
    pub fn base_info(&self) -> Result<FileInfo, FsError> {
        let st = sys::fstatx(self.fd())?;
        let dos = dosattr::read_fd(self.fd())?;
        Ok(FileInfo::from_statx(&st, dos))
    }

    /// The named streams of the file or directory (of the base, for a
    /// stream open): (name as created, size, allocation size), sorted by
    /// name. The default data stream is not included.
    pub fn streams(&self) -> Result<Vec<(String, u64, u64)>, FsError> {
        Ok(stream::list(self.fd())?
            .into_iter()
            .map(|(n, size)| (n, size, stream::allocation(size)))
            .collect())
    }

    /// Applies FileBasicInformation (MS-FSCC 2.4.7, MS-FSA 2.1.5.14.2); on a
    /// named stream it applies to the base file or directory.
    ///
    /// * Access and write times go to the POSIX atime/mtime (futimens).
    /// * Creation time, attributes and ChangeTime go to the
    ///   `user.opportune.dos` xattr (ChangeTime with a stamp of the data it
    ///   belongs to, see `dosattr`). Without user xattrs they are dropped.
    /// * Attributes: DIRECTORY on a file or TEMPORARY on a directory is
    ///   `InvalidParameter` (MS-FSA 2.1.5.14.2); NORMAL alone clears all
    ///   attributes; 0 leaves them unchanged. READONLY is only recorded in
    ///   the xattr, but clearing it gives the owner back a missing write bit.
    /// * A change without a new ChangeTime drops a stored one (the file
    ///   changed) unless this open set it (Open.UserSetChangeTime).
    pub fn set_basic(&self, b: &BasicInfo) -> Result<(), FsError> {
        let attrs = b.attributes.filter(|&a| a != 0);
        if let Some(a) = attrs
            && ((a & FileAttributes::DIRECTORY != 0 && !self.is_dir)
                || (a & FileAttributes::TEMPORARY != 0 && self.is_dir))
            {
                return Err(FsError::InvalidParameter);
            }
        let to_unix = |t: Option<u64>| settable_time(t).map(filetime_to_unix);
        let times = [to_unix(b.last_access_time), to_unix(b.last_write_time)];
        if times.iter().any(Option::is_some) {
            sys::futimens(self.fd(), times)?;
        }
        let change = settable_time(b.change_time);
        if change.is_some() {
            self.user_set_change_time.store(true, Ordering::Relaxed);
        }
        let update = RecordUpdate {
            attributes: attrs.map(|a| a & FileAttributes::SETTABLE),
            creation_time: settable_time(b.creation_time),
            change_time: change,
        };
        let anything = update.attributes.is_some() || update.creation_time.is_some() || change.is_some();
        if anything || times[1].is_some() {
            self.update_record(&update)?;
        }
        Ok(())
    }

    fn update_record(&self, u: &RecordUpdate) -> Result<(), FsError> {
        let now = FileInfo::from_statx(&sys::fstatx(self.fd())?, None);
        let mut rec = match dosattr::read_fd(self.fd())? {
            Some(r) => r,
            None => {
                let attributes = if self.is_dir {
                    0
                } else {
                    FileAttributes::ARCHIVE
                };
                DosRecord {
                    attributes,
                    creation_time: now.creation_time,
                    ..Default::default()
                }
            }
        };
        if let Some(a) = u.attributes {
            rec.attributes = a;
        }
        if let Some(c) = u.creation_time {
            rec.creation_time = c;
        }
        match u.change_time {
            Some(c) => rec.change_time = c,
            None if self.user_set_change_time.load(Ordering::Relaxed) => {}
            None => rec.change_time = 0,
        }
        rec.stamp_mtime = now.last_write_time;
        rec.stamp_size = now.size;
        let clearing_readonly = u.attributes.is_some_and(|a| a & FileAttributes::READONLY == 0);
        let res = self.with_owner_write(clearing_readonly, || dosattr::write_fd(self.fd(), &rec))?;
        match res {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs `f`, which writes a user xattr, with the owner write bit lent to
    /// a file whose owner lacks it (xattr writes need write permission on the
    /// inode); the bit is taken back afterwards unless `keep` is set.
    pub(crate) fn with_owner_write<R>(&self, keep: bool, f: impl FnOnce() -> R) -> Result<R, FsError> {
        let st = sys::fstatx(self.fd())?;
        let mode = u32::from(st.stx_mode) & 0o7777;
        let lend = !self.is_dir && mode & 0o200 == 0;
        if lend {
            self.file()
                .set_permissions(std::fs::Permissions::from_mode(mode | 0o200))?;
        }
        let r = f();
        if lend && !keep {
            self.file()
                .set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        Ok(r)
    }
}

/// What `update_record` changes; `None` keeps a field.
struct RecordUpdate {
    attributes: Option<u32>,
    creation_time: Option<u64>,
    change_time: Option<u64>,
}

impl AsFd for PosixHandle {
    /// The open descriptor, for byte-range locks and leases.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}


/// The kernel-lease face of a handle (`kernel_lease`).
impl PosixHandle {
    /// [`take`](crate::kernel_lease::take) on [`Handle::lease_fd`], never between the check and the reopen of its
    /// shared description that a lease of ours would be broken by (the description's
    /// lease gate): use this, not [`take`](crate::kernel_lease::take), for a handle's lease.
    pub fn take_lease(&self, lease: crate::kernel_lease::Lease) -> Result<bool, FsError> {
        self.description().take_lease(lease)
    }

    /// Whether the descriptor was opened for writing (a read lease needs one that was not).
    pub fn opened_for_writing(&self) -> bool {
        self.description_writable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Handle;
    use crate::SmbPath;
    use crate::Share;
    use crate::testutil::{params, share, xattr_share, xattrs_supported};
    use opportune_types::create::CreateDisposition::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn positional_io() {
        assert_send_sync::<Handle>();
        let (_t, s) = share("h-io", false);
        let h = s
            .create(&SmbPath::parse("f").unwrap(), &params(Create, None))
            .unwrap()
            .handle;
        assert_eq!(h.write_at(b"hello world", 0).unwrap(), 11);
        assert_eq!(h.write_at(b"W", 6).unwrap(), 1);
        let mut buf = [0u8; 32];
        assert_eq!(h.read_at(&mut buf, 0).unwrap(), 11);
        assert_eq!(&buf[..11], b"hello World");
        assert_eq!(h.read_at(&mut buf, 100).unwrap(), 0);
        assert_eq!(h.read_at(&mut buf, u64::MAX).unwrap(), 0);
        assert!(matches!(h.write_at(b"x", u64::MAX), Err(FsError::DiskFull)));
        h.set_len(5).unwrap();
        assert_eq!(h.info().unwrap().size, 5);
        assert!(matches!(
            h.set_len(u64::MAX),
            Err(FsError::InvalidParameter)
        ));
        h.sync().unwrap();
        let d = s
            .create(&SmbPath::parse("").unwrap(), &params(Open, None))
            .unwrap()
            .handle;
        assert!(matches!(d.read_at(&mut buf, 0), Err(FsError::IsADirectory)));
        assert!(matches!(d.write_at(b"x", 0), Err(FsError::IsADirectory)));
        d.sync().unwrap();
    }

    #[test]
    fn set_basic_round_trips() {
        let (t, s) = share("h-basic", false);
        let h = s
            .create(&SmbPath::parse("f").unwrap(), &params(Create, None))
            .unwrap()
            .handle;
        // 100-ns FILETIME units survive the round trip through timespec.
        let (ct, at, wt) = (
            130_000_000_000_000_000u64,
            131_000_000_000_000_100u64,
            132_000_000_000_001_200u64,
        );
        let attrs = FileAttributes::HIDDEN | FileAttributes::SYSTEM;
        let b = BasicInfo {
            creation_time: Some(ct),
            last_access_time: Some(at),
            last_write_time: Some(wt),
            change_time: Some(1),
            attributes: Some(attrs),
        };
        h.set_basic(&b).unwrap();
        let info = h.info().unwrap();
        assert_eq!(info.last_access_time, at);
        assert_eq!(info.last_write_time, wt);
        if xattrs_supported(t.path()) {
            assert_eq!(info.creation_time, ct);
            assert_eq!(info.attributes, attrs);
            // Seen the same way without the handle (stat and listings).
            assert_eq!(s.stat("f").unwrap().attributes, attrs);
            assert_eq!(s.stat("f").unwrap().creation_time, ct);
            let root = s
                .create(&SmbPath::parse("").unwrap(), &params(Open, None))
                .unwrap()
                .handle;
            let e = root
                .read_dir()
                .unwrap()
                .into_iter()
                .find(|e| e.name == "f")
                .unwrap();
            assert_eq!((e.info.attributes, e.info.creation_time), (attrs, ct));
            // 0 and -1 leave things unchanged; NORMAL alone clears.
            h.set_basic(&BasicInfo {
                creation_time: Some(u64::MAX),
                attributes: Some(0),
                ..Default::default()
            })
            .unwrap();
            assert_eq!(h.info().unwrap().attributes, attrs);
            assert_eq!(h.info().unwrap().creation_time, ct);
            h.set_basic(&BasicInfo {
                attributes: Some(FileAttributes::NORMAL),
                ..Default::default()
            })
            .unwrap();
            assert_eq!(h.info().unwrap().attributes, 0);
        }
        let bad = BasicInfo {
            attributes: Some(FileAttributes::DIRECTORY),
            ..Default::default()
        };
        assert!(matches!(h.set_basic(&bad), Err(FsError::InvalidParameter)));
        let d = s
            .create(&SmbPath::parse("d").unwrap(), &params(Create, Some(true)))
            .unwrap()
            .handle;
        let bad = BasicInfo {
            attributes: Some(FileAttributes::TEMPORARY),
            ..Default::default()
        };
        assert!(matches!(d.set_basic(&bad), Err(FsError::InvalidParameter)));
        let ok = BasicInfo {
            attributes: Some(FileAttributes::DIRECTORY | FileAttributes::HIDDEN),
            ..Default::default()
        };
        d.set_basic(&ok).unwrap();
        if xattrs_supported(t.path()) {
            assert_eq!(
                d.info().unwrap().attributes,
                FileAttributes::DIRECTORY | FileAttributes::HIDDEN
            );
        }
    }

    #[test]
    fn change_time_is_kept_until_the_data_changes() {
        let Some((_t, s)) = xattr_share("h-ctime") else {
            return;
        };
        let h = s.create(&SmbPath::parse("f").unwrap(), &params(Create, None)).unwrap().handle;
        let ct = 130_000_000_000_000_000u64;
        h.set_basic(&BasicInfo { change_time: Some(ct), ..Default::default() }).unwrap();
        assert_eq!(h.info().unwrap().change_time, ct);
        // Same open (UserSetChangeTime): an attribute change keeps it.
        h.set_basic(&BasicInfo { attributes: Some(FileAttributes::HIDDEN), ..Default::default() }).unwrap();
        assert_eq!(h.info().unwrap().change_time, ct);
        assert_eq!(s.stat("f").unwrap().change_time, ct);
        h.write_at(b"data", 0).unwrap();
        assert_ne!(h.info().unwrap().change_time, ct);
    }

    #[test]
    fn allocation_grows_and_shrinks() {
        let (_t, s) = share("h-alloc", false);
        let h = s.create(&SmbPath::parse("f").unwrap(), &params(Create, None)).unwrap().handle;
        h.write_at(b"0123456789", 0).unwrap();
        h.set_allocation(4).unwrap();
        assert_eq!(h.info().unwrap().size, 4);
        h.set_allocation(1 << 20).unwrap();
        let info = h.info().unwrap();
        assert_eq!(info.size, 4);
        assert!(info.allocation_size == 0 || info.allocation_size >= 1 << 20);
        h.set_allocation(4).unwrap();
        assert!(h.info().unwrap().allocation_size < 1 << 20);
    }

    #[test]
    fn a_huge_allocation_is_disk_full_and_holds_nothing() {
        use std::os::unix::fs::MetadataExt;
        let (t, s) = share("h-huge", false);
        let h = s.create(&SmbPath::parse("f").unwrap(), &params(Create, None)).unwrap().handle;
        assert!(matches!(h.set_allocation(1 << 62), Err(FsError::DiskFull)));
        assert!(matches!(h.set_allocation(u64::MAX), Err(FsError::DiskFull)));
        let on_disk = || std::fs::metadata(t.path().join("f")).unwrap().blocks() * 512;
        assert_eq!(on_disk(), 0);
        // Without strict allocation the request is recorded and reported, not preallocated.
        h.set_allocation(16 << 20).unwrap();
        assert_eq!(h.info().unwrap().allocation_size, 16 << 20);
        assert!(on_disk() <= crate::LOOSE_PREALLOCATION + 4096, "{} bytes held", on_disk());
        assert_eq!(h.info().unwrap().size, 0);
    }

    #[test]
    fn a_volume_below_the_reserve_refuses_growth_but_not_shrinking() {
        let (t, s) = share("h-reserve", false);
        let h = s.create(&SmbPath::parse("f").unwrap(), &params(Create, None)).unwrap().handle;
        h.write_at(b"0123456789", 0).unwrap();
        let policy = crate::SpacePolicy { strict_allocate: true, free_reserve: u64::MAX / 4 };
        let tight = Share::with_space(t.path(), false, policy).unwrap();
        let p = params(Open, None);
        let h = tight.create(&SmbPath::parse("f").unwrap(), &p).unwrap().handle;
        assert!(matches!(h.write_at(b"more", 10), Err(FsError::DiskFull)));
        assert!(matches!(h.set_len(1 << 20), Err(FsError::DiskFull)));
        assert!(matches!(h.set_allocation(1 << 20), Err(FsError::DiskFull)));
        assert_eq!(h.write_at(b"AB", 0).unwrap(), 2, "a write inside the file takes no space");
        h.set_len(4).unwrap();
        assert_eq!(h.info().unwrap().size, 4);
    }

    #[test]
    fn clearing_readonly_restores_the_write_bit() {
        let (t, s) = share("h-ro", false);
        let p = t.path().join("ro");
        std::fs::write(&p, b"").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
        let mut rd = params(Open, None);
        rd.write = false;
        let h = s
            .create(&SmbPath::parse("ro").unwrap(), &rd)
            .unwrap()
            .handle;
        assert_ne!(h.info().unwrap().attributes & FileAttributes::READONLY, 0);
        h.set_basic(&BasicInfo {
            attributes: Some(FileAttributes::READONLY | FileAttributes::ARCHIVE),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o444,
            "mode restored"
        );
        h.set_basic(&BasicInfo {
            attributes: Some(FileAttributes::ARCHIVE),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o200,
            0o200
        );
        assert_eq!(h.info().unwrap().attributes & FileAttributes::READONLY, 0);
    }
}
