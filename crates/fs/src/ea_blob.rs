//! On-disk encoding of extended attributes (MS-FSCC 2.4.15 FILE_FULL_EA_INFORMATION
//! entries) and security descriptors (MS-DTYP 2.4.6), which a Linux file keeps in user
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
use crate::sys;
use crate::xattr::{XATTR_SIZE_MAX, absent, read_value};

pub(crate) const EA_XATTR: &CStr = c"user.opportune.ea";
pub(crate) const SD_XATTR: &CStr = c"user.opportune.sd";
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
pub(crate) fn apply_ea(eas: &mut Vec<Ea>, c: &Ea) {
    eas.retain(|e| !e.name.eq_ignore_ascii_case(&c.name));
    if !c.value.is_empty() {
        eas.push(c.clone());
    }
}

pub(crate) fn encode_eas(eas: &[Ea]) -> Vec<u8> {
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

pub(crate) fn decode_eas(b: &[u8]) -> Vec<Ea> {
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
/// the file for data, through its /proc/self/fd link
/// ([`sys::getxattr_via_fd_link`]); `Ok(None)` when absent. Without /proc
/// `reopen` supplies a readable descriptor instead.
pub(crate) fn read_blob_at(
    fd: BorrowedFd,
    name: &CStr,
    reopen: impl FnOnce() -> io::Result<OwnedFd>,
) -> Result<Option<Vec<u8>>, FsError> {
    let mut buf = vec![0u8; 1024];
    loop {
        match sys::getxattr_via_fd_link(fd, name, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) && buf.len() < XATTR_SIZE_MAX => {
                buf.resize(XATTR_SIZE_MAX, 0);
            }
            // No /proc.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
            Err(e) if absent(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    read_value(reopen()?.as_fd(), name, absent)
}

/// Reads xattr `name` of the open `fd`; `Ok(None)` when absent.
pub(crate) fn read_blob(fd: BorrowedFd, name: &CStr) -> Result<Option<Vec<u8>>, FsError> {
    read_value(fd, name, absent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::ea;

    #[test]
    fn encoding_round_trips() {
        let v = vec![ea("A", b"1"), ea("LONGER", b"")];
        assert_eq!(decode_eas(&encode_eas(&v)), v);
        assert!(decode_eas(&[2, 0]).is_empty());
        assert!(decode_eas(&[1, 0, 9, 0, 0]).is_empty());
        assert!(valid_ea_name("EAONE") && !valid_ea_name("a:b") && !valid_ea_name(""));
    }
}
