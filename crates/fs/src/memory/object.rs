//! The in-memory file system's open object as a [`FileObject`]. It has no host: no
//! descriptor, no kernel lease, no OFD lock, no shared description — each of those
//! calls says so (`None`, `false`, `NotSupported`) rather than pretending.

use std::os::fd::BorrowedFd;

use crate::file_object::FileObject;
use crate::ea_blob::Ea;
use crate::error::FsError;
use crate::info::{BasicInfo, DirEntry, FileInfo};
use crate::link::Linked;
use crate::path::SmbPath;

use super::handle::MemHandle;

impl FileObject for MemHandle {
    fn is_dir(&self) -> bool {
        MemHandle::is_dir(self)
    }
    fn stream_name(&self) -> Option<String> {
        self.stream()
    }
    fn rel_path(&self) -> String {
        MemHandle::rel_path(self)
    }
    fn set_rel_path(&self, rel: String) {
        MemHandle::set_rel_path(self, rel)
    }
    fn current_rel_path(&self) -> Result<Option<String>, FsError> {
        MemHandle::current_rel_path(self)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, FsError> {
        MemHandle::read_at(self, buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, FsError> {
        MemHandle::write_at(self, buf, offset)
    }
    fn set_len(&self, len: u64) -> Result<(), FsError> {
        MemHandle::set_len(self, len)
    }
    fn set_allocation(&self, len: u64) -> Result<(), FsError> {
        MemHandle::set_allocation(self, len)
    }
    fn sync(&self) -> Result<(), FsError> {
        MemHandle::sync(self)
    }
    fn info(&self) -> Result<FileInfo, FsError> {
        MemHandle::info(self)
    }
    fn base_info(&self) -> Result<FileInfo, FsError> {
        MemHandle::base_info(self)
    }
    fn streams(&self) -> Result<Vec<(String, u64, u64)>, FsError> {
        MemHandle::streams(self)
    }
    fn set_basic(&self, b: &BasicInfo) -> Result<(), FsError> {
        MemHandle::set_basic(self, b)
    }
    fn read_dir(&self) -> Result<Vec<DirEntry>, FsError> {
        MemHandle::read_dir(self)
    }
    fn dir_entry(&self, name: &str) -> Result<Option<DirEntry>, FsError> {
        MemHandle::dir_entry(self, name)
    }
    fn eas(&self) -> Result<Vec<Ea>, FsError> {
        MemHandle::eas(self)
    }
    fn set_eas(&self, changes: &[Ea]) -> Result<(), FsError> {
        MemHandle::set_eas(self, changes)
    }
    fn security_descriptor(&self) -> Result<Option<Vec<u8>>, FsError> {
        MemHandle::security_descriptor(self)
    }
    fn set_security_descriptor(&self, sd: &[u8]) -> Result<(), FsError> {
        MemHandle::set_security_descriptor(self, sd)
    }
    fn link(&self, to: &SmbPath, replace: bool, in_use: &dyn Fn(&FileInfo) -> bool) -> Result<Linked, FsError> {
        MemHandle::link(self, to, replace, in_use)
    }
    fn rename_stream(&self, target: Option<&str>, replace: bool) -> Result<String, FsError> {
        MemHandle::rename_stream(self, target, replace)
    }

    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
    /// Without a descriptor there is no open mode to report; no lease asks.
    fn opened_for_writing(&self) -> bool {
        false
    }
    fn shares_description(&self) -> bool {
        false
    }
    fn is_last_writer(&self) -> bool {
        false
    }
    fn stop_writing(&self) -> std::io::Result<bool> {
        Ok(false)
    }
    fn take_lease(&self, _lease: crate::kernel_lease::Lease) -> Result<bool, FsError> {
        Err(FsError::NotSupported)
    }
    fn host_lock(&self, _offset: u64, _len: u64, _exclusive: bool) -> Result<bool, FsError> {
        Err(FsError::NotSupported)
    }
    fn host_lockable(&self, _offset: u64, _len: u64, _exclusive: bool) -> Result<bool, FsError> {
        Err(FsError::NotSupported)
    }
    fn host_unlock(&self, _offset: u64, _len: u64) -> Result<(), FsError> {
        Err(FsError::NotSupported)
    }
    fn host_unlock_all(&self) -> Result<(), FsError> {
        Err(FsError::NotSupported)
    }
    fn host_conflict(&self, _offset: u64, _len: u64, _write: bool) -> Result<bool, FsError> {
        Err(FsError::NotSupported)
    }
}
