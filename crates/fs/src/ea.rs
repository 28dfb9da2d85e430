//! Extended attributes (MS-FSA 2.1.5.15.5 FileFullEaInformation) and security
//! descriptors of an open file, and the EAs of a name without an open, kept as
//! described in the `ea_blob` module.

use std::ffi::CStr;
use std::io;
use std::os::fd::AsFd;

use crate::ea_blob::{EA_XATTR, Ea, SD_XATTR, apply_ea, decode_eas, encode_eas, read_blob, read_blob_at, valid_ea_name};
use crate::error::FsError;
use crate::posix_handle::PosixHandle;
use crate::root::Root;
use crate::sys;

/// The EAs of the on-disk relative path `rel` (as in a directory listing),
/// read without opening the file for data where the kernel allows it.
pub(crate) fn eas_at(root: &Root, rel: &str) -> Result<Vec<Ea>, FsError> {
    let fd = root.open_rel(rel, libc::O_PATH)?;
    let reopen = || root.open_rel(rel, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY);
    Ok(read_blob_at(fd.as_fd(), EA_XATTR, reopen)?.map(|b| decode_eas(&b)).unwrap_or_default())
}

/// The security descriptor stored for the on-disk relative path `rel`, read
/// without opening the file for data where the kernel allows it.
pub(crate) fn security_descriptor_at(root: &Root, rel: &str) -> Result<Option<Vec<u8>>, FsError> {
    let fd = root.open_rel(rel, libc::O_PATH)?;
    let reopen = || root.open_rel(rel, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY);
    read_blob_at(fd.as_fd(), SD_XATTR, reopen)
}

impl PosixHandle {
    fn write_blob(&self, name: &CStr, value: &[u8]) -> Result<(), FsError> {
        let res = self.with_owner_write(false, || sys::fsetxattr(self.fd(), name, value))?;
        res.map_err(|e: io::Error| match e.raw_os_error() {
            Some(libc::ENOTSUP) => FsError::NotSupported,
            Some(libc::ENOSPC | libc::E2BIG) => FsError::DiskFull,
            _ => e.into(),
        })
    }

    /// The file's EAs, in the order they were added.
    pub fn eas(&self) -> Result<Vec<Ea>, FsError> {
        Ok(read_blob(self.fd(), EA_XATTR)?.map(|b| decode_eas(&b)).unwrap_or_default())
    }

    /// Applies a FileFullEaInformation list (MS-FSA 2.1.5.15.5): each EA
    /// replaces the one of the same name ignoring case, if any, and is added
    /// as written (name case included) unless its value is empty, which only
    /// removes. Invalid names are `InvalidEaName` and change nothing.
    pub fn set_eas(&self, changes: &[Ea]) -> Result<(), FsError> {
        if changes.iter().any(|e| !valid_ea_name(&e.name)) {
            return Err(FsError::InvalidEaName);
        }
        let mut eas = self.eas()?;
        for c in changes {
            apply_ea(&mut eas, c);
        }
        let blob = encode_eas(&eas);
        if blob.len() > u16::MAX as usize {
            return Err(FsError::DiskFull);
        }
        self.write_blob(EA_XATTR, &blob)
    }

    /// The security descriptor a client stored, if any.
    pub fn security_descriptor(&self) -> Result<Option<Vec<u8>>, FsError> {
        read_blob(self.fd(), SD_XATTR)
    }

    /// Stores a self-relative security descriptor.
    pub fn set_security_descriptor(&self, sd: &[u8]) -> Result<(), FsError> {
        self.write_blob(SD_XATTR, sd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SmbPath;
    use crate::testutil::{ea, params, xattr_share};
    use opportune_types::create::CreateDisposition::Create;

    #[test]
    fn set_replace_delete() {
        let Some((_t, s)) = xattr_share("ea") else {
            return;
        };
        let h = s.create(&SmbPath::parse("f").unwrap(), &params(Create, None)).unwrap().handle;
        assert!(h.eas().unwrap().is_empty());
        h.set_eas(&[ea("one", b"v1"), ea("Two", b"v2")]).unwrap();
        assert_eq!(h.eas().unwrap(), vec![ea("one", b"v1"), ea("Two", b"v2")], "case kept");
        h.set_eas(&[ea("ONE", b"new"), ea("two", b"")]).unwrap();
        assert_eq!(h.eas().unwrap(), vec![ea("ONE", b"new")], "the newest spelling wins");
        assert_eq!(s.eas_at("f").unwrap(), vec![ea("ONE", b"new")]);
        assert!(matches!(h.set_eas(&[ea("bad?", b"x")]), Err(FsError::InvalidEaName)));
        assert_eq!(h.security_descriptor().unwrap(), None);
        h.set_security_descriptor(&[1, 0, 4, 0x80]).unwrap();
        assert_eq!(h.security_descriptor().unwrap(), Some(vec![1, 0, 4, 0x80]));
    }

    #[test]
    fn lower_case_names_round_trip() {
        let Some((_t, s)) = xattr_share("ea-case") else {
            return;
        };
        let h = s.create(&SmbPath::parse("f").unwrap(), &params(Create, None)).unwrap().handle;
        h.set_eas(&[ea("user.tag", b"blue"), ea("user.Other", b"x")]).unwrap();
        assert_eq!(h.eas().unwrap(), vec![ea("user.tag", b"blue"), ea("user.Other", b"x")]);
        // Removing by another case removes the one EA, whatever its spelling.
        h.set_eas(&[ea("USER.OTHER", b"")]).unwrap();
        assert_eq!(h.eas().unwrap(), vec![ea("user.tag", b"blue")]);
        // Removing a name that does not exist changes nothing.
        h.set_eas(&[ea("user.none", b"")]).unwrap();
        assert_eq!(h.eas().unwrap(), vec![ea("user.tag", b"blue")]);
    }

    #[test]
    fn upper_cased_names_from_older_versions_still_work() {
        let Some((_t, s)) = xattr_share("ea-legacy") else {
            return;
        };
        let h = s.create(&SmbPath::parse("f").unwrap(), &params(Create, None)).unwrap().handle;
        // What the old code stored for set_eas([("user.tag", "v"), ("Second", "w")]).
        let old = encode_eas(&[ea("USER.TAG", b"v"), ea("SECOND", b"w")]);
        h.as_posix().unwrap().write_blob(EA_XATTR, &old).unwrap();
        assert_eq!(h.eas().unwrap(), vec![ea("USER.TAG", b"v"), ea("SECOND", b"w")]);
        h.set_eas(&[ea("user.tag", b"new")]).unwrap();
        assert_eq!(h.eas().unwrap(), vec![ea("SECOND", b"w"), ea("user.tag", b"new")]);
        h.set_eas(&[ea("second", b"")]).unwrap();
        assert_eq!(s.eas_at("f").unwrap(), vec![ea("user.tag", b"new")]);
    }
}
