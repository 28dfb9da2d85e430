//! The POSIX backend's open object ([`PosixHandle`]) as a [`FileObject`]: each method is
//! the handle's own (in `posix_handle` and the operation modules), unchanged.

use std::os::fd::{AsFd, BorrowedFd};

use crate::file_object::FileObject;
use crate::ea_blob::Ea;
use crate::error::FsError;
use crate::info::{BasicInfo, DirEntry, FileInfo};
use crate::link::Linked;
use crate::path::SmbPath;
use crate::posix_handle::PosixHandle;

impl FileObject for PosixHandle {
    fn is_dir(&self) -> bool {
        PosixHandle::is_dir(self)
    }
    fn stream_name(&self) -> Option<String> {
        PosixHandle::stream_name(self)
    }
    fn rel_path(&self) -> String {
        PosixHandle::rel_path(self)
    }
    fn set_rel_path(&self, rel: String) {
        PosixHandle::set_rel_path(self, rel)
    }
    fn current_rel_path(&self) -> Result<Option<String>, FsError> {
        PosixHandle::current_rel_path(self)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, FsError> {
        PosixHandle::read_at(self, buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, FsError> {
        PosixHandle::write_at(self, buf, offset)
    }
    fn set_len(&self, len: u64) -> Result<(), FsError> {
        PosixHandle::set_len(self, len)
    }
    fn set_allocation(&self, len: u64) -> Result<(), FsError> {
        PosixHandle::set_allocation(self, len)
    }
    fn sync(&self) -> Result<(), FsError> {
        PosixHandle::sync(self)
    }
    fn info(&self) -> Result<FileInfo, FsError> {
        PosixHandle::info(self)
    }
    fn base_info(&self) -> Result<FileInfo, FsError> {
        PosixHandle::base_info(self)
    }
    fn streams(&self) -> Result<Vec<(String, u64, u64)>, FsError> {
        PosixHandle::streams(self)
    }
    fn set_basic(&self, b: &BasicInfo) -> Result<(), FsError> {
        PosixHandle::set_basic(self, b)
    }
    fn read_dir(&self) -> Result<Vec<DirEntry>, FsError> {
        PosixHandle::read_dir(self)
    }
    fn dir_entry(&self, name: &str) -> Result<Option<DirEntry>, FsError> {
        PosixHandle::dir_entry(self, name)
    }
    fn eas(&self) -> Result<Vec<Ea>, FsError> {
        PosixHandle::eas(self)
    }
    fn set_eas(&self, changes: &[Ea]) -> Result<(), FsError> {
        PosixHandle::set_eas(self, changes)
    }
    fn security_descriptor(&self) -> Result<Option<Vec<u8>>, FsError> {
        PosixHandle::security_descriptor(self)
    }
    fn set_security_descriptor(&self, sd: &[u8]) -> Result<(), FsError> {
        PosixHandle::set_security_descriptor(self, sd)
    }
    fn link(&self, to: &SmbPath, replace: bool, in_use: &dyn Fn(&FileInfo) -> bool) -> Result<Linked, FsError> {
        PosixHandle::link(self, to, replace, in_use)
    }
    fn rename_stream(&self, target: Option<&str>, replace: bool) -> Result<String, FsError> {
        PosixHandle::rename_stream(self, target, replace)
    }
    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
    fn opened_for_writing(&self) -> bool {
        PosixHandle::opened_for_writing(self)
    }
    fn shares_description(&self) -> bool {
        PosixHandle::shares_description(self)
    }
    fn is_last_writer(&self) -> bool {
        PosixHandle::is_last_writer(self)
    }
    fn stop_writing(&self) -> std::io::Result<bool> {
        PosixHandle::stop_writing(self)
    }
    fn take_lease(&self, lease: crate::kernel_lease::Lease) -> Result<bool, FsError> {
        PosixHandle::take_lease(self, lease)
    }
    fn host_lock(&self, offset: u64, len: u64, exclusive: bool) -> Result<bool, FsError> {
        PosixHandle::host_lock(self, offset, len, exclusive)
    }
    fn host_lockable(&self, offset: u64, len: u64, exclusive: bool) -> Result<bool, FsError> {
        PosixHandle::host_lockable(self, offset, len, exclusive)
    }
    fn host_unlock(&self, offset: u64, len: u64) -> Result<(), FsError> {
        PosixHandle::host_unlock(self, offset, len)
    }
    fn host_unlock_all(&self) -> Result<(), FsError> {
        PosixHandle::host_unlock_all(self)
    }
    fn host_conflict(&self, offset: u64, len: u64, write: bool) -> Result<bool, FsError> {
        PosixHandle::host_conflict(self, offset, len, write)
    }
}
