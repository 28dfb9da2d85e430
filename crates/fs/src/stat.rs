//! Metadata of an on-disk relative path without opening it for data, so that no
//! lease is broken.

use std::os::fd::AsFd;

use crate::dosattr;
use crate::error::FsError;
use crate::info::{FileInfo, statx_is_dir, statx_is_file};
use crate::rel_path::{split_rel, split_rel_stream};
use crate::root::Root;
use crate::stream::{self, StreamName};
use crate::sys;

/// Info of an on-disk relative path, as documented at `Share::stat`.
pub(crate) fn stat(root: &Root, rel: &str) -> Result<FileInfo, FsError> {
    if let (base, Some(name)) = split_rel_stream(rel) {
        if split_rel(base)?.is_empty() {
            return Err(FsError::InvalidName);
        }
        let s = StreamName::new(name)?;
        let mut info = stat(root, base)?;
        let (fd, _) = root.open_base(base)?;
        let (_, data) = stream::get(fd.file().as_fd(), &s)?.ok_or(FsError::NotFound)?;
        info.size = data.len() as u64;
        info.allocation_size = stream::allocation(info.size);
        info.is_dir = false;
        info.stream = s.hash;
        return Ok(info);
    }
    split_rel(rel)?;
    let fd = root
        .open_rel(rel, libc::O_PATH)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTDIR) => FsError::PathNotFound,
            _ => FsError::from(e),
        })?;
    let st = sys::fstatx(fd.as_fd())?;
    let dos = match dosattr::read_at(fd.as_fd(), c"") {
        Ok(d) => d,
        // O_PATH fd and no /proc: open the object for reading.
        Err(_) if statx_is_dir(&st) || statx_is_file(&st) => {
            let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
            let rd = root.open_rel(rel, flags).ok();
            rd.and_then(|f| dosattr::read_fd(f.as_fd()).ok().flatten())
        }
        _ => None,
    };
    Ok(FileInfo::from_statx(&st, dos))
}
