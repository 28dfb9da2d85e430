//! One open object's operations, as each backend implements them (see the `backend`
//! module): the POSIX backend's `PosixHandle` (`posix_object`) and the memory double's
//! handle (`memory::object`). [`Handle`](crate::Handle) dispatches to it.

use std::os::fd::BorrowedFd;

use crate::ea_blob::Ea;
use crate::error::FsError;
use crate::info::{BasicInfo, DirEntry, FileInfo};
use crate::link::Linked;
use crate::path::SmbPath;

/// One open object's operations (the methods of [`Handle`](crate::Handle), which
/// documents them).
pub trait FileObject: Send + Sync {
    fn is_dir(&self) -> bool;
    fn stream_name(&self) -> Option<String>;
    fn rel_path(&self) -> String;
    fn set_rel_path(&self, rel: String);
    fn current_rel_path(&self) -> Result<Option<String>, FsError>;
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, FsError>;
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, FsError>;
    fn set_len(&self, len: u64) -> Result<(), FsError>;
    fn set_allocation(&self, len: u64) -> Result<(), FsError>;
    fn sync(&self) -> Result<(), FsError>;
    fn info(&self) -> Result<FileInfo, FsError>;
    fn base_info(&self) -> Result<FileInfo, FsError>;
    fn streams(&self) -> Result<Vec<(String, u64, u64)>, FsError>;
    fn set_basic(&self, b: &BasicInfo) -> Result<(), FsError>;
    fn read_dir(&self) -> Result<Vec<DirEntry>, FsError>;
    fn dir_entry(&self, name: &str) -> Result<Option<DirEntry>, FsError>;
    fn eas(&self) -> Result<Vec<Ea>, FsError>;
    fn set_eas(&self, changes: &[Ea]) -> Result<(), FsError>;
    fn security_descriptor(&self) -> Result<Option<Vec<u8>>, FsError>;
    fn set_security_descriptor(&self, sd: &[u8]) -> Result<(), FsError>;
    fn link(&self, to: &SmbPath, replace: bool, in_use: &dyn Fn(&FileInfo) -> bool) -> Result<Linked, FsError>;
    fn rename_stream(&self, target: Option<&str>, replace: bool) -> Result<String, FsError>;

    // What only a host has: `None`, `false` or `NotSupported` without one.

    /// The descriptor for host features (leases, OFD locks, inotify).
    fn host_fd(&self) -> Option<BorrowedFd<'_>>;
    fn opened_for_writing(&self) -> bool;
    fn shares_description(&self) -> bool;
    fn is_last_writer(&self) -> bool;
    fn stop_writing(&self) -> std::io::Result<bool>;
    fn take_lease(&self, lease: crate::kernel_lease::Lease) -> Result<bool, FsError>;
    fn host_lock(&self, offset: u64, len: u64, exclusive: bool) -> Result<bool, FsError>;
    fn host_lockable(&self, offset: u64, len: u64, exclusive: bool) -> Result<bool, FsError>;
    fn host_unlock(&self, offset: u64, len: u64) -> Result<(), FsError>;
    fn host_unlock_all(&self) -> Result<(), FsError>;
    fn host_conflict(&self, offset: u64, len: u64, write: bool) -> Result<bool, FsError>;
}
