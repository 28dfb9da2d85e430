//! Reading, writing and resizing one named stream (MS-FSA 2.1.5.2 read, 2.1.5.3
//! write, 2.1.5.14.4 end of file on a stream open). The data is the stream's whole
//! xattr value (see the `stream` module for the layout): a write or resize is a
//! read-modify-write of it under one lock.

use std::os::fd::BorrowedFd;
use std::sync::Mutex;

use crate::error::FsError;
use crate::stream::{StreamName, get, put};
use crate::xattr::XATTR_SIZE_MAX;

/// Serializes read-modify-write cycles of stream values (writes through
/// different handles of the same stream must not lose each other's data).
static RMW: Mutex<()> = Mutex::new(());

/// Data operations of a stream open (called by `Handle`): stream `s` of the base
/// object `fd`.
pub(crate) struct StreamIo<'a> {
    pub fd: BorrowedFd<'a>,
    pub s: StreamName,
}

impl StreamIo<'_> {
    pub fn data(&self) -> Result<Vec<u8>, FsError> {
        match get(self.fd, &self.s)? {
            Some((_, d)) => Ok(d),
            None => Err(FsError::NotFound), // removed while open
        }
    }

    pub fn len(&self) -> Result<u64, FsError> {
        Ok(self.data()?.len() as u64)
    }

    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, FsError> {
        let d = self.data()?;
        let Some(src) = usize::try_from(offset).ok().and_then(|o| d.get(o..)) else {
            return Ok(0);
        };
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }

    /// Read-modify-write of the whole value under the global lock.
    fn modify(&self, f: impl FnOnce(&mut Vec<u8>) -> Result<(), FsError>) -> Result<(), FsError> {
        let _g = RMW.lock().unwrap_or_else(|p| p.into_inner());
        let (name, mut d) = get(self.fd, &self.s)?.ok_or(FsError::NotFound)?;
        f(&mut d)?;
        put(self.fd, &name, &self.s.xattr, &d, libc::XATTR_REPLACE)
    }

    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, FsError> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= XATTR_SIZE_MAX as u64)
            .ok_or(FsError::DiskFull)? as usize;
        let start = end - buf.len();
        self.modify(|d| {
            if d.len() < end {
                d.resize(end, 0);
            }
            d[start..end].copy_from_slice(buf);
            Ok(())
        })?;
        Ok(buf.len())
    }

    pub fn set_len(&self, len: u64) -> Result<(), FsError> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= XATTR_SIZE_MAX)
            .ok_or(FsError::DiskFull)?;
        self.modify(|d| {
            d.resize(len, 0);
            Ok(())
        })
    }
}
