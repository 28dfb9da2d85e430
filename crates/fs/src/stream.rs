//! Named data streams (NTFS alternate data streams, MS-FSCC 2.1.5.3
//! "file.txt:name:$DATA"), kept in user xattrs of the base file or
//! directory so that they follow it through rename and die with it.
//!
//! One xattr per stream:
//! * name `user.opportune.stream.<lowercased stream name>`, or, when that
//!   would exceed the 255-byte limit of xattr names,
//!   `user.opportune.streamh.<32 hex digits of a hash of the lowercased name>`;
//! * value, version 1: `[0] = 1, [1..3] name length u16 LE, name (UTF-8,
//!   original case), data`.
//!
//! Stream names compare without regard to case (Unicode simple lowercase,
//! as file names) and are reported in the case they were created with. A
//! stream's size is bounded by what the file system takes for one xattr
//! value (ext4 without `ea_inode`: about one block, shared with the file's
//! other xattrs; never more than 64 KiB): beyond it writes fail with
//! `DiskFull`.

use std::ffi::CString;
use std::io;
use std::os::fd::BorrowedFd;

use crate::error::FsError;
use crate::path::check_stream_name;
use crate::sys;
use crate::xattr::{XATTR_SIZE_MAX, read_value};

const PREFIX: &str = "user.opportune.stream.";
const PREFIX_HASHED: &str = "user.opportune.streamh.";
const VERSION: u8 = 1;
const HEADER: usize = 3;
/// XATTR_NAME_MAX.
const XATTR_NAME_MAX: usize = 255;

/// Unicode simple lowercase, as `path::eq_ignore_case` compares.
fn lower(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// FNV-1a over `bytes`, starting from `seed`.
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The 64-bit id of a stream name (`FileInfo::stream`): never 0, equal for
/// names that differ only in case.
pub(crate) fn stream_hash(name: &str) -> u64 {
    match fnv1a(0xcbf2_9ce4_8422_2325, lower(name).as_bytes()) {
        0 => 1,
        h => h,
    }
}

/// A validated stream name and where it is stored.
#[derive(Clone, Debug)]
pub(crate) struct StreamName {
    /// As the client spelled it (or as stored, for an existing stream).
    pub name: String,
    pub xattr: CString,
    pub hash: u64,
}

impl StreamName {
    pub fn new(name: &str) -> Result<StreamName, FsError> {
        check_stream_name(name)?;
        let key = lower(name);
        let plain = format!("{PREFIX}{key}");
        let full = if plain.len() <= XATTR_NAME_MAX {
            plain
        } else {
            let a = fnv1a(0xcbf2_9ce4_8422_2325, key.as_bytes());
            let b = fnv1a(0x6c62_272e_07bb_0142, key.as_bytes());
            format!("{PREFIX_HASHED}{a:016x}{b:016x}")
        };
        Ok(StreamName {
            name: name.to_string(),
            xattr: CString::new(full).map_err(|_| FsError::InvalidName)?,
            hash: stream_hash(name),
        })
    }
}

/// Whether a stream named `name` of `len` bytes fits in one xattr value (the most any
/// Linux file system keeps; the memory double holds its streams to it too).
pub(crate) fn fits(name: &str, len: u64) -> bool {
    (HEADER + name.len()) as u64 + len <= XATTR_SIZE_MAX as u64
}

fn encode(name: &str, data: &[u8]) -> Result<Vec<u8>, FsError> {
    let n = u16::try_from(name.len()).map_err(|_| FsError::InvalidName)?;
    let total = HEADER + name.len() + data.len();
    if total > XATTR_SIZE_MAX {
        return Err(FsError::DiskFull);
    }
    let mut v = Vec::with_capacity(total);
    v.push(VERSION);
    v.extend_from_slice(&n.to_le_bytes());
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(data);
    Ok(v)
}

/// (stored name, data offset) of a value; `None` if it is not ours.
fn decode(v: &[u8]) -> Option<(String, usize)> {
    if v.first() != Some(&VERSION) {
        return None;
    }
    let n = usize::from(u16::from_le_bytes([*v.get(1)?, *v.get(2)?]));
    let name = std::str::from_utf8(v.get(HEADER..HEADER + n)?).ok()?;
    Some((name.to_string(), HEADER + n))
}

fn xattr_error(e: io::Error) -> FsError {
    match e.raw_os_error() {
        Some(libc::ENOTSUP) => FsError::NotSupported,
        Some(libc::ENOSPC | libc::E2BIG | libc::ERANGE | libc::EDQUOT) => FsError::DiskFull,
        Some(libc::EEXIST) => FsError::Exists,
        Some(libc::ENODATA) => FsError::NotFound,
        _ => e.into(),
    }
}

/// The raw value of xattr `name`; `None` when absent.
fn get_raw(fd: BorrowedFd, name: &CString) -> Result<Option<Vec<u8>>, FsError> {
    read_value(fd, name, |e| matches!(e.raw_os_error(), Some(libc::ENODATA | libc::ENOTSUP)))
}

/// A stream of the object `fd`: (stored name, data); `None` when absent.
pub(crate) fn get(fd: BorrowedFd, s: &StreamName) -> Result<Option<(String, Vec<u8>)>, FsError> {
    let Some(mut v) = get_raw(fd, &s.xattr)? else {
        return Ok(None);
    };
    // A foreign or damaged value reads as an empty stream of that name.
    let (name, off) = decode(&v).unwrap_or_else(|| (s.name.clone(), v.len()));
    v.drain(..off);
    Ok(Some((name, v)))
}

/// Stores a stream's whole value. `flags`: 0, XATTR_CREATE or XATTR_REPLACE.
pub(crate) fn put(fd: BorrowedFd, name: &str, xattr: &CString, data: &[u8], flags: i32) -> Result<(), FsError> {
    let v = encode(name, data)?;
    sys::fsetxattr_flags(fd, xattr, &v, flags).map_err(xattr_error)
}

/// Removes one stream; `NotFound` when there is none.
pub(crate) fn remove(fd: BorrowedFd, s: &StreamName) -> Result<(), FsError> {
    sys::fremovexattr(fd, &s.xattr).map_err(xattr_error)
}

/// The xattr names of our streams on `fd`.
fn stream_xattrs(fd: BorrowedFd) -> Result<Vec<CString>, FsError> {
    let mut buf = vec![0u8; 4096];
    let n = loop {
        match sys::flistxattr(fd, &mut buf) {
            Ok(n) => break n,
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) && buf.len() < XATTR_SIZE_MAX => {
                buf.resize(XATTR_SIZE_MAX, 0);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    };
    Ok(buf[..n.min(buf.len())]
        .split(|&b| b == 0)
        .filter(|n| n.starts_with(PREFIX.as_bytes()) || n.starts_with(PREFIX_HASHED.as_bytes()))
        .filter_map(|n| CString::new(n).ok())
        .collect())
}

/// The named streams of `fd`: (name in stored case, size), sorted by name.
pub(crate) fn list(fd: BorrowedFd) -> Result<Vec<(String, u64)>, FsError> {
    let mut out = Vec::new();
    for x in stream_xattrs(fd)? {
        let Some(v) = get_raw(fd, &x)? else { continue }; // removed meanwhile
        let (name, off) = match decode(&v) {
            Some(d) => d,
            None => {
                // Not written by us: show what the xattr name says.
                let raw = x.to_bytes();
                let tail = raw.strip_prefix(PREFIX.as_bytes()).unwrap_or(b"");
                match std::str::from_utf8(tail) {
                    Ok(t) if check_stream_name(t).is_ok() => (t.to_string(), v.len()),
                    _ => continue,
                }
            }
        };
        out.push((name, (v.len() - off) as u64));
    }
    out.sort();
    Ok(out)
}

/// Drops every named stream of `fd` (overwrite or supersede of the file).
pub(crate) fn remove_all(fd: BorrowedFd) -> Result<(), FsError> {
    for x in stream_xattrs(fd)? {
        match sys::fremovexattr(fd, &x) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// What a stream reports as its allocation: the size rounded up to 8 bytes
/// (as NTFS does for small, resident streams).
pub(crate) fn allocation(size: u64) -> u64 {
    size.saturating_add(7) & !7
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_and_names() {
        let v = encode("Name", b"data").unwrap();
        assert_eq!(decode(&v), Some(("Name".to_string(), 7)));
        assert_eq!(&v[7..], b"data");
        assert_eq!(decode(&[1, 9, 0, b'x']), None);
        assert_eq!(decode(&[2, 0, 0]), None);
        assert_eq!(decode(&[]), None);
        assert!(matches!(encode("n", &vec![0; XATTR_SIZE_MAX]), Err(FsError::DiskFull)));
        assert_eq!(stream_hash("Stream"), stream_hash("sTREAM"));
        assert_ne!(stream_hash("a"), stream_hash("b"));
        assert_ne!(stream_hash("a"), 0);
        let s = StreamName::new("ÄBc").unwrap();
        assert_eq!(s.xattr.to_str().unwrap(), "user.opportune.stream.äbc");
        let long = StreamName::new(&"é".repeat(255)).unwrap();
        assert!(long.xattr.to_bytes().len() <= XATTR_NAME_MAX);
        assert!(long.xattr.to_str().unwrap().starts_with(PREFIX_HASHED));
        assert!(StreamName::new(&"x".repeat(256)).is_err());
        assert!(StreamName::new("a/b").is_err());
        assert_eq!(allocation(0), 0);
        assert_eq!(allocation(9), 16);
    }
}
