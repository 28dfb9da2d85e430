//! What a file-system backend does: [`Backend`] for a share's operations,
//! [`FileObject`](crate::FileObject) (the `file_object` module) for those of one open
//! object. [`Share`](crate::Share) and [`Handle`](crate::Handle) are the faces the
//! server sees; behind them is either the POSIX backend (a directory
//! of the host, the `root`, `posix_handle` and operation modules) or the in-memory
//! double (the `memory` module), which the test world runs on.
//!
//! Both follow the same rules (MS-FSA 2.1.5, the documentation of each method on
//! `Share` and `Handle`), and the parity tests (`tests/parity.rs`) hold them to it. What
//! only a real host has — kernel leases, OFD byte-range locks local processes see,
//! inotify watches, open file descriptions shared between opens — is asked for
//! separately (`FileObject::host_fd`, the `host_*` and lease methods): the memory
//! backend answers "not available" (`None`, [`FsError::NotSupported`]), never a
//! pretended success.

use std::os::fd::OwnedFd;

use crate::create_types::{CreateParams, Opened};
use crate::ea_blob::Ea;
use crate::error::FsError;
use crate::handle::Handle;
use crate::info::{FileInfo, FsStats};
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

    /// Whether the share is a directory tree of the host (that programs of the host, and
    /// walks with `std::fs` such as the quota scan's, see).
    fn on_host(&self) -> bool;

    /// Open file descriptions shared between opens (for kernel leases); a backend
    /// without descriptions ignores it.
    fn share_descriptions(&self, on: bool);
    /// A descriptor of a directory for an inotify watch; `NotSupported` without a host.
    fn open_dir(&self, rel: &str) -> Result<OwnedFd, FsError>;
    /// Device and inode of what `rel` names now, not following a final symlink, without
    /// opening it (to tell whether a kept inotify watch still watches `rel`);
    /// `NotSupported` without a host.
    fn identity_of(&self, rel: &str) -> Result<(u64, u64), FsError>;
}
