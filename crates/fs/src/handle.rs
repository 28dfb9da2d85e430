//! An open file, directory or named stream as the server sees it: a [`Handle`] of one of
//! the backends (`backend`), the POSIX one or the in-memory double, dispatching each call
//! to it (one match and one call through the [`FileObject`] table, no allocation).

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::file_object::FileObject;
use crate::ea_blob::Ea;
use crate::error::FsError;
use crate::info::{BasicInfo, DirEntry, FileInfo};
use crate::link::Linked;
use crate::memory::MemHandle;
use crate::path::SmbPath;
use crate::posix_handle::PosixHandle;

/// One open file, directory or named stream. `Send + Sync`: all I/O is positional.
pub struct Handle(Inner);

enum Inner {
    Posix(PosixHandle),
    Memory(MemHandle),
}

impl Handle {
    pub(crate) fn posix(h: PosixHandle) -> Handle {
        Handle(Inner::Posix(h))
    }

    pub(crate) fn memory(h: MemHandle) -> Handle {
        Handle(Inner::Memory(h))
    }

    /// The POSIX handle behind it, if it is one.
    pub(crate) fn as_posix(&self) -> Option<&PosixHandle> {
        match &self.0 {
            Inner::Posix(h) => Some(h),
            Inner::Memory(_) => None,
        }
    }

    /// The memory handle behind it, if it is one.
    pub(crate) fn as_memory(&self) -> Option<&MemHandle> {
        match &self.0 {
            Inner::Memory(h) => Some(h),
            Inner::Posix(_) => None,
        }
    }

    pub(crate) fn into_posix(self) -> Option<PosixHandle> {
        match self.0 {
            Inner::Posix(h) => Some(h),
            Inner::Memory(_) => None,
        }
    }

    /// The handle writes through its shared description (POSIX only).
    pub(crate) fn with_writing(self, w: Option<crate::description::Writing>) -> Handle {
        match self.0 {
            Inner::Posix(h) => Handle::posix(h.with_writing(w)),
            other => Handle(other),
        }
    }

    #[inline]
    fn obj(&self) -> &dyn FileObject {
        match &self.0 {
            Inner::Posix(h) => h,
            Inner::Memory(h) => h,
        }
    }

    /// Whether `other` uses the same open file description (POSIX only).
    pub fn same_description(&self, other: &Handle) -> bool {
        match (&self.0, &other.0) {
            (Inner::Posix(a), Inner::Posix(b)) => a.same_description(b),
            _ => false,
        }
    }

    /// Whether this is a directory (a named stream of a directory is not).
    pub fn is_dir(&self) -> bool {
        self.obj().is_dir()
    }

    /// The named stream this handle opened; `None` for a file or directory.
    pub fn stream_name(&self) -> Option<String> {
        self.obj().stream_name()
    }

    /// The on-disk path relative to the share root, as last known; for a
    /// named stream "base:name" (file names never contain ':'), which
    /// `Share::remove` and `Share::stat` understand.
    pub fn rel_path(&self) -> String {
        self.obj().rel_path()
    }

    /// Records the new on-disk path after `Share::rename` of this object.
    pub fn set_rel_path(&self, rel: String) {
        self.obj().set_rel_path(rel)
    }

    /// The object's path now, if it changed since [`Handle::rel_path`] (a host rename);
    /// `None`: it has no name in the share any more.
    pub fn current_rel_path(&self) -> Result<Option<String>, FsError> {
        self.obj().current_rel_path()
    }

    /// Reads at `offset` until `buf` is full or end of file; returns the count
    /// (MS-FSA 2.1.5.2).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, FsError> {
        self.obj().read_at(buf, offset)
    }

    /// Writes all of `buf` at `offset` (MS-FSA 2.1.5.3); growth the volume cannot hold is
    /// `DiskFull`.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, FsError> {
        self.obj().write_at(buf, offset)
    }

    /// Sets the end of file (MS-FSA 2.1.5.14.4 FileEndOfFileInformation).
    pub fn set_len(&self, len: u64) -> Result<(), FsError> {
        self.obj().set_len(len)
    }

    /// FileAllocationInformation (MS-FSA 2.1.5.14.1): below end of file it truncates; a
    /// larger allocation is granted only if the volume can hold it (`DiskFull`).
    pub fn set_allocation(&self, len: u64) -> Result<(), FsError> {
        self.obj().set_allocation(len)
    }

    /// Flush (MS-FSA 2.1.5.6).
    pub fn sync(&self) -> Result<(), FsError> {
        self.obj().sync()
    }

    /// Current metadata. A named stream reports its base's times, attributes and ids
    /// with its own size, `is_dir == false` and `stream` set.
    pub fn info(&self) -> Result<FileInfo, FsError> {
        self.obj().info()
    }

    /// Metadata of the file or directory itself (the base of a stream open).
    pub fn base_info(&self) -> Result<FileInfo, FsError> {
        self.obj().base_info()
    }

    /// The named streams of the file or directory (of the base, for a stream open):
    /// (name as created, size, allocation size), sorted by name. The default data
    /// stream is not included.
    pub fn streams(&self) -> Result<Vec<(String, u64, u64)>, FsError> {
        self.obj().streams()
    }

    /// Applies FileBasicInformation (MS-FSCC 2.4.7, MS-FSA 2.1.5.14.2); on a named stream
    /// it applies to the base. DIRECTORY on a file or TEMPORARY on a directory is
    /// `InvalidParameter`; NORMAL alone clears the attributes, 0 leaves them; time
    /// fields 0 and -1/-2 leave them unchanged.
    pub fn set_basic(&self, b: &BasicInfo) -> Result<(), FsError> {
        self.obj().set_basic(b)
    }

    /// The entries of this directory except "." and "..", each with its info.
    pub fn read_dir(&self) -> Result<Vec<DirEntry>, FsError> {
        self.obj().read_dir()
    }

    /// The entry `name` of this directory as [`Handle::read_dir`] would list it, or None.
    pub fn dir_entry(&self, name: &str) -> Result<Option<DirEntry>, FsError> {
        self.obj().dir_entry(name)
    }

    /// The file's EAs, in the order they were added.
    pub fn eas(&self) -> Result<Vec<Ea>, FsError> {
        self.obj().eas()
    }

    /// Applies a FileFullEaInformation list (MS-FSA 2.1.5.15.5): each EA replaces the one
    /// of the same name ignoring case, an empty value only removes; invalid names are
    /// `InvalidEaName` and change nothing.
    pub fn set_eas(&self, changes: &[Ea]) -> Result<(), FsError> {
        self.obj().set_eas(changes)
    }

    /// The security descriptor a client stored, if any.
    pub fn security_descriptor(&self) -> Result<Option<Vec<u8>>, FsError> {
        self.obj().security_descriptor()
    }

    /// Stores a self-relative security descriptor.
    pub fn set_security_descriptor(&self, sd: &[u8]) -> Result<(), FsError> {
        self.obj().set_security_descriptor(sd)
    }

    /// FileLinkInformation (MS-FSA 2.1.5.15.6): a new name `to` for this file; an existing
    /// target is replaced only with `replace` and when `in_use` says nobody has it open.
    pub fn link(&self, to: &SmbPath, replace: bool, in_use: impl Fn(&FileInfo) -> bool) -> Result<Linked, FsError> {
        self.obj().link(to, replace, &in_use)
    }

    /// Renames the named stream of this open (MS-FSA 2.1.5.14.11 on a stream): to stream
    /// `target`, or with `None` to the default data stream; returns the new rel path.
    pub fn rename_stream(&self, target: Option<&str>, replace: bool) -> Result<String, FsError> {
        self.obj().rename_stream(target, replace)
    }

    /// The descriptor host features work on (kernel leases, OFD locks, inotify watches):
    /// `None` on a backend without a host (the memory double), where the server skips them.
    pub fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        self.obj().host_fd()
    }

    /// The descriptor a kernel lease of this open is taken on; `None` without a host.
    pub fn lease_fd(&self) -> Option<BorrowedFd<'_>> {
        self.obj().host_fd()
    }

    /// The number of [`Handle::lease_fd`] (what a lease break note names); `None` without a host.
    pub fn lease_fd_number(&self) -> Option<i32> {
        self.obj().host_fd().map(|fd| fd.as_raw_fd())
    }

    /// Takes, downgrades or drops the kernel lease of this open (never between the check and
    /// the reopen of a shared description); `NotSupported` without a host.
    pub fn take_lease(&self, lease: crate::kernel_lease::Lease) -> Result<bool, FsError> {
        self.obj().take_lease(lease)
    }

    /// Whether the descriptor was opened for writing (a read lease needs one that was not).
    pub fn opened_for_writing(&self) -> bool {
        self.obj().opened_for_writing()
    }

    /// Whether this handle shares its open file description with the other handles of its
    /// file (a share with kernel oplocks); never without a host.
    pub fn shares_description(&self) -> bool {
        self.obj().shares_description()
    }

    /// Whether this handle is the last one writing through a shared description that other
    /// handles still use ([`Handle::stop_writing`]).
    pub fn is_last_writer(&self) -> bool {
        self.obj().is_last_writer()
    }

    /// The handle writes no more (it is closing): a shared description nobody writes
    /// through any more is reopened read-only; whether it was.
    pub fn stop_writing(&self) -> std::io::Result<bool> {
        self.obj().stop_writing()
    }

    /// Mirrors a byte-range lock as a host (OFD) lock; `Ok(false)`: a local process holds a
    /// conflicting one. `NotSupported` without a host.
    pub fn host_lock(&self, offset: u64, len: u64, exclusive: bool) -> Result<bool, FsError> {
        self.obj().host_lock(offset, len, exclusive)
    }

    /// Whether [`Handle::host_lock`] would succeed now; `NotSupported` without a host.
    pub fn host_lockable(&self, offset: u64, len: u64, exclusive: bool) -> Result<bool, FsError> {
        self.obj().host_lockable(offset, len, exclusive)
    }

    /// Drops the host lock over a range; `NotSupported` without a host.
    pub fn host_unlock(&self, offset: u64, len: u64) -> Result<(), FsError> {
        self.obj().host_unlock(offset, len)
    }

    /// Drops every host lock of this open; `NotSupported` without a host.
    pub fn host_unlock_all(&self) -> Result<(), FsError> {
        self.obj().host_unlock_all()
    }

    /// Whether a local process's lock conflicts with reading (or writing) the range;
    /// `NotSupported` without a host.
    pub fn host_conflict(&self, offset: u64, len: u64, write: bool) -> Result<bool, FsError> {
        self.obj().host_conflict(offset, len, write)
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("rel", &self.rel_path())
            .field("is_dir", &self.is_dir())
            .field("stream", &self.stream_name())
            .finish()
    }
}
