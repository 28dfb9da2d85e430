//! Reading whole user xattr values, which the on-disk encodings (DOS attributes,
//! EAs, security descriptors, named streams) are kept in.

use std::ffi::CStr;
use std::io;
use std::os::fd::BorrowedFd;

use crate::error::FsError;
use crate::sys;

/// XATTR_SIZE_MAX: no xattr value can be larger.
pub(crate) const XATTR_SIZE_MAX: usize = 1 << 16;

/// Whether an xattr error only says "no record / no xattr support".
pub fn absent(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENODATA | libc::ENOTSUP | libc::ERANGE | libc::EBADF)
    )
}

/// The whole value of xattr `name` of the open `fd` (the buffer grows to
/// [`XATTR_SIZE_MAX`] when the value does not fit); `Ok(None)` when the error
/// is one `is_absent` takes for "there is none".
pub(crate) fn read_value(
    fd: BorrowedFd,
    name: &CStr,
    is_absent: impl Fn(&io::Error) -> bool,
) -> Result<Option<Vec<u8>>, FsError> {
    let mut buf = vec![0u8; 4096];
    loop {
        match sys::fgetxattr(fd, name, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) && buf.len() < XATTR_SIZE_MAX => {
                buf.resize(XATTR_SIZE_MAX, 0);
            }
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}
