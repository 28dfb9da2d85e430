//! Extended attributes (MS-FSCC 2.4.15, MS-FSA 2.1.5.15.5 FileFullEaInformation)
//! and security descriptors (MS-DTYP 2.4.6), which a Linux file keeps in user
//! xattrs:
//!
//! * `user.opportune.ea`: all EAs of the file, version 1:
//!   `[0] = 1`, then per EA `flags u8, name length u8, value length u16 LE,
//!   name, value`. Names keep the case the client wrote (as Samba does; the
//!   Linux kernel client and Python smbprotocol look EAs up by exact name) and
//!   are matched without regard to ASCII case; an EA with an empty value does
//!   not exist. Setting a name that exists in another case replaces the EA and
//!   its spelling: the newest spelling wins (MS-FSA 2.1.5.15.5 removes the
//!   existing entry, then adds the one given). Files written before names kept
//!   their case hold upper-cased names; they read and match as before.
//! * `user.opportune.sd`: the self-relative security descriptor last set by
//!   a client, stored as given (the server merges partial sets).

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::FsError;
use crate::handle::Handle;
use crate::share::Share;
use crate::sys;
use crate::xattr::{XATTR_SIZE_MAX, absent, read_value};

const EA_XATTR: &CStr = c"user.opportune.ea";
const SD_XATTR: &CStr = c"user.opportune.sd";
const EA_VERSION: u8 = 1;

/// One extended attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ea {
    /// FILE_NEED_EA (0x80) or 0.
    pub flags: u8,
    /// ASCII, 1..=255 bytes.
    pub name: String,
    pub value: Vec<u8>,
}

/// Whether `name` may name an EA: 1..=255 printable ASCII characters that
/// are not among the characters FAT and NTFS refuse in EA names.
pub fn valid_ea_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| (0x20..0x7f).contains(&b) && !b"\"*+,/:;<=>?[\\]|".contains(&b))
}

/// One step of MS-FSA 2.1.5.15.5: drop the EA named `c.name` ignoring case,
/// then add `c` as written unless its value is empty.
fn apply_ea(eas: &mut Vec<Ea>, c: &Ea) {
    eas.retain(|e| !e.name.eq_ignore_ascii_case(&c.name));
    if !c.value.is_empty() {
        eas.push(c.clone());
    }
}

fn encode_eas(eas: &[Ea]) -> Vec<u8> {
    let mut out = vec![EA_VERSION];
    for ea in eas {
        out.push(ea.flags);
        out.push(ea.name.len() as u8);
        out.extend_from_slice(&(ea.value.len() as u16).to_le_bytes());
        out.extend_from_slice(ea.name.as_bytes());
        out.extend_from_slice(&ea.value);
    }
    out
}

fn decode_eas(b: &[u8]) -> Vec<Ea> {
    let mut out = Vec::new();
    if b.first() != Some(&EA_VERSION) {
        return out;
    }
    let mut i = 1;
    while let Some(h) = b.get(i..i + 4) {
        let (flags, nlen, vlen) = (h[0], usize::from(h[1]), usize::from(u16::from_le_bytes([h[2], h[3]])));
        let Some(name) = b.get(i + 4..i + 4 + nlen) else { break };
        let Some(value) = b.get(i + 4 + nlen..i + 4 + nlen + vlen) else { break };
        out.push(Ea { flags, name: String::from_utf8_lossy(name).into_owned(), value: value.to_vec() });
        i += 4 + nlen + vlen;
    }
    out
}

/// Reads xattr `name` of `fd` (an O_PATH descriptor will do) without opening
/// the file for data; `Ok(None)` when absent. Before Linux 6.13 (no
/// getxattrat) `reopen` supplies a readable descriptor instead.
fn read_blob_at(
    fd: BorrowedFd,
    name: &CStr,
    reopen: impl FnOnce() -> io::Result<OwnedFd>,
) -> Result<Option<Vec<u8>>, FsError> {
    let mut buf = vec![0u8; 1024];
    loop {
        match sys::getxattrat(fd, c"", libc::AT_EMPTY_PATH, name, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) && buf.len() < XATTR_SIZE_MAX => {
                buf.resize(XATTR_SIZE_MAX, 0);
            }
            // No getxattrat (ENOSYS), or a kernel that refuses it on O_PATH descriptors (EBADF).
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EBADF)) => break,
            Err(e) if absent(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    read_value(reopen()?.as_fd(), name, absent)
}

impl Share {
    /// The EAs of the on-disk relative path `rel` (as in a directory listing),
    /// read without opening the file for data where the kernel allows it.
    pub fn eas_at(&self, rel: &str) -> Result<Vec<Ea>, FsError> {
        let fd = self.inner.open_rel(rel, libc::O_PATH)?;
        let reopen = || self.inner.open_rel(rel, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY);
        Ok(read_blob_at(fd.as_fd(), EA_XATTR, reopen)?.map(|b| decode_eas(&b)).unwrap_or_default())
    }
}

impl Handle {
    fn read_blob(&self, name: &CStr) -> Result<Option<Vec<u8>>, FsError> {
        read_value(self.fd(), name, absent)
    }

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
        Ok(self.read_blob(EA_XATTR)?.map(|b| decode_eas(&b)).unwrap_or_default())
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
        self.read_blob(SD_XATTR)
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
    use crate::testutil::{params, xattr_share};
    use opportune_types::create::CreateDisposition::Create;

    fn ea(name: &str, value: &[u8]) -> Ea {
        Ea { flags: 0, name: name.into(), value: value.to_vec() }
    }

    #[test]
    fn encoding_round_trips() {
        let v = vec![ea("A", b"1"), ea("LONGER", b"")];
        assert_eq!(decode_eas(&encode_eas(&v)), v);
        assert!(decode_eas(&[2, 0]).is_empty());
        assert!(decode_eas(&[1, 0, 9, 0, 0]).is_empty());
        assert!(valid_ea_name("EAONE") && !valid_ea_name("a:b") && !valid_ea_name(""));
    }

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
        h.write_blob(EA_XATTR, &old).unwrap();
        assert_eq!(h.eas().unwrap(), vec![ea("USER.TAG", b"v"), ea("SECOND", b"w")]);
        h.set_eas(&[ea("user.tag", b"new")]).unwrap();
        assert_eq!(h.eas().unwrap(), vec![ea("SECOND", b"w"), ea("user.tag", b"new")]);
        h.set_eas(&[ea("second", b"")]).unwrap();
        assert_eq!(s.eas_at("f").unwrap(), vec![ea("user.tag", b"new")]);
    }
}
