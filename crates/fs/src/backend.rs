//! What a file-system backend does: [`Backend`] for a share's operations, [`FileObject`]
//! for those of one open object. [`Share`](crate::Share) and [`Handle`](crate::Handle)
//! are the faces the server sees; behind them is either the POSIX backend (a directory
//! of the host, the `root`, `posix_handle` and operation modules) or the in-memory
//! double (the `memory` module), which the test world runs on.
//!
//! Both follow the same rules (MS-FSA 2.1.5, the documentation of each method on
//! `Share` and `Handle`), and the parity tests (`tests/parity.rs`) hold them to it. What
//! only a real host has — kernel leases, OFD byte-range locks local processes see,
//! inotify watches, open file descriptions shared between opens — is asked for
//! separately ([`FileObject::host_fd`], the `host_*` and lease methods): the memory
//! backend answers "not available" (`None`, [`FsError::NotSupported`]), never a
//! pretended success.

use std::os::fd::{BorrowedFd, OwnedFd};

use crate::create_types::{CreateParams, Opened};
use crate::ea_blob::Ea;
use crate::error::FsError;
use crate::handle::Handle;
use crate::info::{BasicInfo, DirEntry, FileInfo, FsStats};
use crate::link::Linked;
use crate::path::SmbPath;
use crate::rename::Replaced;

/// A share's operations (the methods of [`Share`](crate::Share), which documents them).
pub trait Backend: Send + Sync {
    fn case_sensitive(&self) -> bool;
    fn statfs(&self) -> Result<FsStats, FsError>;
    fn create(&self, path: &SmbPath, p: &CreateParams) -> Result<Opened, FsError>;
    fn rename_replacing(&self, from: &str, to: &SmbPath, replace: bool) -> Result<(String, Option<Replaced>), FsError>;
    fn stat(&self, rel: &str) -> Result<FileInfo, FsError>;
    fn remove(&self, rel: &str, is_dir: bool) -> Result<(), FsError>;
    fn remove_open(&self, handle: &Handle, is_dir: bool, base_only: bool) -> Result<Option<String>, FsError>;
    fn is_dir_empty(&self, rel: &str) -> Result<bool, FsError>;
    fn eas_at(&self, rel: &str) -> Result<Vec<Ea>, FsError>;
    fn security_descriptor_at(&self, rel: &str) -> Result<Option<Vec<u8>>, FsError>;
    /// The subdirectories of `rel`, at most `max` (for a recursive watch).
    fn subdirectories(&self, rel: &str, max: usize) -> Result<Vec<String>, FsError>;

    // What only a host has.

    /// Open file descriptions shared between opens (for kernel leases); a backend
    /// without descriptions ignores it.
    fn share_descriptions(&self, on: bool);
    /// A descriptor of a directory for an inotify watch; `NotSupported` without a host.
    fn open_dir(&self, rel: &str) -> Result<OwnedFd, FsError>;
}

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
