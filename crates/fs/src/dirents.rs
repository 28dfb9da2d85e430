//! Reading a directory's raw entry names with getdents64(2).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use crate::sys;

/// Raw names of the entries of an open directory, except "." and "..".
/// Works on an O_PATH fd too: the directory is reopened, so the caller's
/// file offset is neither used nor moved.
pub(crate) fn list_names(dir: BorrowedFd) -> io::Result<Vec<Vec<u8>>> {
    let fd = sys::openat2(
        dir,
        c".",
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
        sys::CONFINED,
    )?;
    let mut buf = vec![0u8; 32 * 1024];
    let mut names = Vec::new();
    loop {
        let n = sys::getdents64(fd.as_fd(), &mut buf)?;
        if n == 0 {
            return Ok(names);
        }
        parse_dirents(&buf[..n.min(buf.len())], &mut names);
    }
}

/// Parses `struct linux_dirent64` records: `u64 ino, i64 off, u16 reclen,
/// u8 type, name NUL-terminated`. Malformed records end the parse.
fn parse_dirents(mut buf: &[u8], out: &mut Vec<Vec<u8>>) {
    const NAME_OFF: usize = 19;
    while buf.len() >= NAME_OFF {
        let reclen = usize::from(u16::from_ne_bytes([buf[16], buf[17]]));
        if reclen < NAME_OFF || reclen > buf.len() {
            return;
        }
        let raw = &buf[NAME_OFF..reclen];
        let name = match raw.iter().position(|&b| b == 0) {
            Some(end) => &raw[..end],
            None => raw,
        };
        if name != b"." && name != b".." && !name.is_empty() {
            out.push(name.to_vec());
        }
        buf = &buf[reclen..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &[u8], reclen: u16) -> Vec<u8> {
        let mut r = vec![0u8; 19];
        r[16..18].copy_from_slice(&reclen.to_ne_bytes());
        r.extend_from_slice(name);
        r.resize(usize::from(reclen), 0);
        r
    }

    #[test]
    fn parses_records_and_skips_dots() {
        let mut buf = record(b".", 24);
        buf.extend(record(b"..", 24));
        buf.extend(record(b"hello", 32));
        buf.extend(record(b"x", 24));
        let mut out = Vec::new();
        parse_dirents(&buf, &mut out);
        assert_eq!(out, vec![b"hello".to_vec(), b"x".to_vec()]);
    }

    #[test]
    fn malformed_records_stop_the_parse() {
        let mut buf = record(b"ok", 24);
        buf.extend(record(b"bad", 24));
        buf[24 + 16] = 200; // reclen past the end
        let mut out = Vec::new();
        parse_dirents(&buf, &mut out);
        assert_eq!(out, vec![b"ok".to_vec()]);
        out.clear();
        parse_dirents(&[0u8; 10], &mut out);
        let mut zero = record(b"z", 24);
        zero[16] = 0;
        zero[17] = 0;
        parse_dirents(&zero, &mut out);
        assert!(out.is_empty());
    }
}
