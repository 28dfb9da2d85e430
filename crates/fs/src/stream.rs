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
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;

use opportune_types::create::{CreateAction, CreateDisposition};

use crate::create::{CreateParams, Opened};
use crate::error::FsError;
use crate::handle::Handle;
use crate::info::{statx_is_dir, statx_is_file};
use crate::path::{SmbPath, check_stream_name};
use crate::share::{Inner, Share};
use crate::sys;
use crate::xattr::{XATTR_SIZE_MAX, read_value};

const PREFIX: &str = "user.opportune.stream.";
const PREFIX_HASHED: &str = "user.opportune.streamh.";
const VERSION: u8 = 1;
const HEADER: usize = 3;
/// XATTR_NAME_MAX.
const XATTR_NAME_MAX: usize = 255;

/// Serializes read-modify-write cycles of stream values (writes through
/// different handles of the same stream must not lose each other's data).
static RMW: Mutex<()> = Mutex::new(());

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

/// Data operations of a stream open (called by `Handle`).
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

/// Lookup/create races are retried this often.
const ATTEMPTS: usize = 4;

/// Flags to open a base object for its xattrs: files and directories alike,
/// never blocking on a FIFO.
pub(crate) const BASE_FLAGS: i32 = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;

impl Inner {
    /// Opens the base object at on-disk `rel` for stream access; it must be
    /// a regular file or a directory (`AccessDenied` otherwise). Returns the
    /// fd and whether it is a directory.
    pub(crate) fn open_base(&self, rel: &str) -> Result<(OwnedFd, bool), FsError> {
        let fd = self.open_rel(rel, BASE_FLAGS).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTDIR) => FsError::PathNotFound,
            _ => FsError::from(e),
        })?;
        let st = sys::fstatx(fd.as_fd())?;
        let is_dir = statx_is_dir(&st);
        if !is_dir && !statx_is_file(&st) {
            return Err(FsError::AccessDenied);
        }
        Ok((fd, is_dir))
    }
}

impl Share {
    /// `Share::create` of a named stream (MS-FSA 2.1.5.1): the base file or
    /// directory is looked up as usual; a missing base is created as an
    /// empty file when the disposition creates; the disposition applies to
    /// the stream.
    pub(crate) fn create_stream(&self, path: &SmbPath, sname: &str, p: &CreateParams) -> Result<Opened, FsError> {
        use CreateDisposition::*;
        let s = StreamName::new(sname)?;
        let base = path.base();
        if base.is_root() {
            return Err(FsError::InvalidName);
        }
        for _ in 0..ATTEMPTS {
            let l = self.inner.locate(base.components())?;
            let (fd, is_dir, rel, base_created) = if l.found {
                match self.inner.open_base(&l.rel()) {
                    Ok((fd, d)) => (fd, d, l.rel(), false),
                    Err(FsError::NotFound) => continue, // vanished meanwhile
                    Err(e) => return Err(e),
                }
            } else {
                if matches!(p.disposition, Open | Overwrite) {
                    return Err(FsError::NotFound);
                }
                let bp = CreateParams {
                    disposition: Create,
                    directory: Some(false),
                    write: false,
                    attributes: p.attributes,
                    allocation_size: 0,
                };
                match self.create_new(&l.parent, &l.name, &base, &bp) {
                    Ok(o) => (o.handle.into_file().into(), false, o.rel_path, true),
                    Err(FsError::Exists) => continue, // appeared meanwhile
                    Err(e) => return Err(e),
                }
            };
            let r = self.open_stream_on(fd, is_dir, &rel, s.clone(), p);
            if r.is_err() && base_created {
                let _ = self.remove(&rel, false);
            }
            return r.map(|(handle, mut action)| {
                if base_created {
                    action = CreateAction::Created;
                }
                let rel_path = handle.rel_path();
                Opened { handle, action, rel_path, info: None }
            });
        }
        Err(FsError::Exists)
    }

    /// Applies the disposition to stream `s` of the base object `fd`.
    fn open_stream_on(
        &self,
        fd: OwnedFd,
        is_dir: bool,
        rel: &str,
        mut s: StreamName,
        p: &CreateParams,
    ) -> Result<(Handle, CreateAction), FsError> {
        use CreateDisposition::*;
        let b = fd.as_fd();
        let existing = get(b, &s)?;
        let action = match (existing, p.disposition) {
            (None, Open | Overwrite) => return Err(FsError::NotFound),
            (Some(_), Create) => return Err(FsError::Exists),
            (Some((name, _)), Open | OpenIf) => {
                s.name = name;
                CreateAction::Opened
            }
            (Some((name, _)), Overwrite | OverwriteIf | Supersede) => {
                put(b, &name, &s.xattr, &[], libc::XATTR_REPLACE)?;
                s.name = name;
                if p.disposition == Supersede {
                    CreateAction::Superseded
                } else {
                    CreateAction::Overwritten
                }
            }
            (None, Create | OpenIf | OverwriteIf | Supersede) => {
                put(b, &s.name, &s.xattr, &[], libc::XATTR_CREATE).map_err(|e| match e {
                    FsError::Io(ref io) if io.raw_os_error() == Some(libc::EACCES) => FsError::AccessDenied,
                    e => e,
                })?;
                CreateAction::Created
            }
        };
        let full = format!("{rel}:{}", s.name);
        Ok((Handle::new_stream(fd.into(), is_dir, self.inner.clone(), full, s), action))
    }
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

#[cfg(test)]
mod share_tests {
    use super::*;
    use crate::testutil::{TempDir, params, xattr_share, xattrs_supported};
    use crate::{BasicInfo, FileInfo};
    use CreateDisposition::*;

    fn parse(s: &str) -> SmbPath {
        SmbPath::parse(s).unwrap()
    }

    fn read_all(h: &Handle) -> Vec<u8> {
        let mut buf = vec![0u8; 70_000];
        let n = h.read_at(&mut buf, 0).unwrap();
        buf.truncate(n);
        buf
    }

    fn names(h: &Handle) -> Vec<(String, u64)> {
        h.streams().unwrap().into_iter().map(|(n, s, _)| (n, s)).collect()
    }

    #[test]
    fn dispositions_on_a_file_stream() {
        let Some((t, s)) = xattr_share("st-disp") else {
            return;
        };
        std::fs::write(t.path().join("f"), b"base").unwrap();
        for d in [Open, Overwrite] {
            assert!(matches!(s.create(&parse("f:s"), &params(d, None)), Err(FsError::NotFound)), "{d:?}");
        }
        let o = s.create(&parse("f:s"), &params(Create, None)).unwrap();
        assert_eq!(o.action, CreateAction::Created);
        assert_eq!(o.rel_path, "f:s");
        assert_eq!(o.handle.rel_path(), "f:s");
        assert!(!o.handle.is_dir());
        assert_eq!(o.handle.info().unwrap().size, 0);
        o.handle.write_at(b"hello", 0).unwrap();
        assert!(matches!(s.create(&parse("f:s"), &params(Create, None)), Err(FsError::Exists)));
        for d in [Open, OpenIf] {
            let o = s.create(&parse("f:s:$DATA"), &params(d, Some(false))).unwrap();
            assert_eq!(o.action, CreateAction::Opened);
            assert_eq!(read_all(&o.handle), b"hello");
        }
        for (d, want) in [
            (Overwrite, CreateAction::Overwritten),
            (OverwriteIf, CreateAction::Overwritten),
            (Supersede, CreateAction::Superseded),
        ] {
            let h = s.create(&parse("f:s"), &params(Open, None)).unwrap().handle;
            h.write_at(b"data", 0).unwrap();
            let o = s.create(&parse("f:s"), &params(d, None)).unwrap();
            assert_eq!(o.action, want, "{d:?}");
            assert_eq!(o.handle.info().unwrap().size, 0, "{d:?}");
            assert!(read_all(&h).is_empty(), "{d:?}: other opens see the truncation");
        }
        for (i, d) in [OpenIf, OverwriteIf, Supersede].into_iter().enumerate() {
            let o = s.create(&parse(&format!("f:new{i}")), &params(d, None)).unwrap();
            assert_eq!(o.action, CreateAction::Created, "{d:?}");
        }
        // FILE_DIRECTORY_FILE with any data stream is NotADirectory.
        for name in ["f:s", "f:s:$DATA", "f::$DATA", "nothere:s"] {
            for d in [Open, Create, OpenIf] {
                let r = s.create(&parse(name), &params(d, Some(true)));
                assert!(matches!(r, Err(FsError::NotADirectory)), "{name} {d:?}: {r:?}");
            }
        }
        assert!(!t.path().join("nothere").exists());
        // The main stream is untouched by all this.
        assert_eq!(std::fs::read(t.path().join("f")).unwrap(), b"base");
        let main = s.create(&parse("f"), &params(Open, None)).unwrap().handle;
        assert_eq!(main.info().unwrap().size, 4);
        assert_eq!(main.info().unwrap().stream, 0);
        let listed: Vec<String> = names(&main).into_iter().map(|(n, _)| n).collect();
        assert_eq!(listed, ["new0", "new1", "new2", "s"]);
    }

    #[test]
    fn streams_on_directories() {
        let Some((t, s)) = xattr_share("st-dir") else {
            return;
        };
        std::fs::create_dir(t.path().join("d")).unwrap();
        let o = s.create(&parse("D:ds"), &params(Create, None)).unwrap();
        assert_eq!(o.rel_path, "d:ds");
        assert!(!o.handle.is_dir());
        let info = o.handle.info().unwrap();
        assert!(!info.is_dir);
        assert_ne!(info.stream, 0);
        o.handle.write_at(b"on a dir", 0).unwrap();
        assert!(matches!(o.handle.read_dir(), Err(FsError::NotADirectory)));
        let d = s.create(&parse("d"), &params(Open, Some(true))).unwrap().handle;
        assert_eq!(names(&d), [("ds".to_string(), 8)]);
        assert_eq!(names(&o.handle), names(&d));
        assert!(d.read_dir().unwrap().is_empty(), "streams are no directory entries");
        assert!(matches!(s.create(&parse("d::$DATA"), &params(Open, None)), Err(FsError::IsADirectory)));
        assert!(matches!(s.create(&parse("d::$DATA"), &params(Open, Some(true))), Err(FsError::NotADirectory)));
        assert!(matches!(s.create(&parse("d:ds"), &params(Open, Some(true))), Err(FsError::NotADirectory)));
        assert_eq!(read_all(&s.create(&parse("d:DS"), &params(Open, Some(false))).unwrap().handle), b"on a dir");
        // A stream keeps the directory from being removed only as an entry would not.
        s.remove("d:ds", false).unwrap();
        assert!(names(&d).is_empty());
        s.remove("d", true).unwrap();
    }

    #[test]
    fn base_is_created_when_the_disposition_creates() {
        let Some((t, s)) = xattr_share("st-base") else {
            return;
        };
        for d in [Open, Overwrite] {
            assert!(matches!(s.create(&parse("new:s"), &params(d, None)), Err(FsError::NotFound)));
            assert!(!t.path().join("new").exists());
        }
        assert!(matches!(s.create(&parse("nodir\\x:s"), &params(OpenIf, None)), Err(FsError::PathNotFound)));
        for (i, d) in [Create, OpenIf, OverwriteIf, Supersede].into_iter().enumerate() {
            let name = format!("New{i}");
            let o = s.create(&parse(&format!("{name}:s")), &params(d, None)).unwrap();
            assert_eq!(o.action, CreateAction::Created, "{d:?}");
            assert_eq!(o.rel_path, format!("{name}:s"));
            let meta = std::fs::metadata(t.path().join(&name)).unwrap();
            assert!(meta.is_file() && meta.len() == 0, "{d:?}");
            let base = s.create(&parse(&name.to_lowercase()), &params(Open, None)).unwrap().handle;
            assert_eq!(names(&base), [("s".to_string(), 0)]);
        }
    }

    #[test]
    fn data_round_trips_and_info() {
        let Some((t, s)) = xattr_share("st-io") else {
            return;
        };
        std::fs::write(t.path().join("f"), b"0123456789").unwrap();
        let h = s.create(&parse("f:s"), &params(Create, None)).unwrap().handle;
        assert_eq!(h.write_at(b"hello world", 0).unwrap(), 11);
        assert_eq!(h.write_at(b"W", 6).unwrap(), 1);
        assert_eq!(read_all(&h), b"hello World");
        let mut buf = [0u8; 4];
        assert_eq!(h.read_at(&mut buf, 2).unwrap(), 4);
        assert_eq!(&buf, b"llo ");
        assert_eq!(h.read_at(&mut buf, 11).unwrap(), 0);
        assert_eq!(h.read_at(&mut buf, u64::MAX).unwrap(), 0);
        // A write past the end fills the gap with zeros.
        h.write_at(b"!", 14).unwrap();
        assert_eq!(read_all(&h), b"hello World\0\0\0!");
        h.set_len(5).unwrap();
        assert_eq!(read_all(&h), b"hello");
        h.set_len(8).unwrap();
        assert_eq!(read_all(&h), b"hello\0\0\0");
        assert!(matches!(h.set_len(u64::MAX), Err(FsError::InvalidParameter)));
        h.set_allocation(2).unwrap();
        assert_eq!(read_all(&h), b"he");
        h.set_allocation(1 << 20).unwrap();
        assert_eq!(read_all(&h), b"he");
        h.sync().unwrap();
        let info: FileInfo = h.info().unwrap();
        let base: FileInfo = h.base_info().unwrap();
        assert_eq!(info.size, 2);
        assert_eq!(info.allocation_size, 8);
        assert_eq!(base.size, 10, "the main stream is untouched");
        assert_eq!(std::fs::read(t.path().join("f")).unwrap(), b"0123456789");
        assert_eq!((info.file_id, info.dev), (base.file_id, base.dev));
        assert_eq!(info.creation_time, base.creation_time);
        assert_eq!(info.attributes, base.attributes);
        assert_eq!(info.stream, stream_hash("S"));
        assert_ne!(info.stream, 0);
        let st = s.stat("f:s").unwrap();
        assert_eq!((st.size, st.stream, st.is_dir), (2, info.stream, false));
        assert!(matches!(s.stat("f:nope"), Err(FsError::NotFound)));
        assert_eq!(s.stat("f").unwrap().stream, 0);
        // FileBasicInformation through the stream lands on the base.
        let wt = 131_000_000_000_000_000u64;
        h.set_basic(&BasicInfo { last_write_time: Some(wt), ..Default::default() }).unwrap();
        assert_eq!(s.stat("f").unwrap().last_write_time, wt);
        assert_eq!(h.info().unwrap().last_write_time, wt);
        // Different streams are different files to share modes and caching.
        let h2 = s.create(&parse("f:other"), &params(Create, None)).unwrap().handle;
        assert_ne!(h2.info().unwrap().stream, info.stream);
    }

    #[test]
    fn size_is_bounded_by_the_xattr_limit() {
        let Some((t, s)) = xattr_share("st-size") else {
            return;
        };
        std::fs::write(t.path().join("f"), b"").unwrap();
        let h = s.create(&parse("f:big"), &params(Create, None)).unwrap().handle;
        h.write_at(b"keep", 0).unwrap();
        assert!(matches!(h.write_at(&vec![1u8; 1 << 20], 0), Err(FsError::DiskFull)));
        assert!(matches!(h.write_at(b"x", u64::MAX), Err(FsError::DiskFull)));
        assert!(matches!(h.write_at(b"x", 1 << 40), Err(FsError::DiskFull)));
        assert!(matches!(h.set_len(1 << 20), Err(FsError::DiskFull)));
        assert_eq!(FsError::DiskFull.status(), opportune_types::NtStatus::DISK_FULL);
        assert_eq!(read_all(&h), b"keep", "a refused write changes nothing");
        // Up to about a block fits (ext4); find the limit and check the boundary.
        let mut size = 1024usize;
        while size < XATTR_SIZE_MAX && h.set_len(size as u64 * 2).is_ok() {
            size *= 2;
        }
        h.set_len(size as u64).unwrap();
        assert_eq!(h.info().unwrap().size, size as u64);
        let tail = vec![7u8; 16];
        h.write_at(&tail, size as u64 - 16).unwrap();
        assert_eq!(&read_all(&h)[..4], b"keep");
    }

    #[test]
    fn names_are_case_insensitive_and_keep_their_case() {
        let Some((t, s)) = xattr_share("st-case") else {
            return;
        };
        std::fs::write(t.path().join("File.txt"), b"").unwrap();
        let o = s.create(&parse("file.TXT:MyStream"), &params(Create, None)).unwrap();
        assert_eq!(o.rel_path, "File.txt:MyStream");
        o.handle.write_at(b"x", 0).unwrap();
        for name in ["FILE.txt:mystream", "File.txt:MYSTREAM:$data", "file.txt:MyStream:$DATA"] {
            let o = s.create(&parse(name), &params(Open, None)).unwrap();
            assert_eq!(o.rel_path, "File.txt:MyStream", "{name}: stored case");
            assert_eq!(read_all(&o.handle), b"x");
        }
        let o = s.create(&parse("file.txt:MYSTREAM"), &params(Supersede, None)).unwrap();
        assert_eq!(o.rel_path, "File.txt:MyStream", "supersede keeps the case");
        assert!(matches!(s.create(&parse("file.txt:mystream"), &params(Create, None)), Err(FsError::Exists)));
        assert_eq!(names(&o.handle), [("MyStream".to_string(), 0)]);
        s.create(&parse("file.txt:Ünï"), &params(Create, None)).unwrap();
        assert!(s.create(&parse("file.txt:üNÏ"), &params(Open, None)).is_ok());
        assert!(s.stat("File.txt:mySTREAM").is_ok());
        s.remove("File.txt:MYSTREAM", false).unwrap();
        let listed: Vec<String> = names(&o.handle).into_iter().map(|(n, _)| n).collect();
        assert_eq!(listed, ["Ünï"]);
    }

    #[test]
    fn streams_live_and_die_with_their_file() {
        let Some((t, s)) = xattr_share("st-life") else {
            return;
        };
        std::fs::write(t.path().join("f"), b"main").unwrap();
        for (n, data) in [("a", &b"AAA"[..]), ("b", b"BB"), ("c", b"")] {
            let h = s.create(&parse(&format!("f:{n}")), &params(Create, None)).unwrap().handle;
            h.write_at(data, 0).unwrap();
        }
        let main = s.create(&parse("f"), &params(Open, None)).unwrap().handle;
        assert_eq!(names(&main), [("a".into(), 3), ("b".into(), 2), ("c".into(), 0)]);
        let sizes = main.streams().unwrap();
        assert_eq!(sizes[0].2, 8, "allocation");
        // Removing one stream keeps the file and the others.
        s.remove("f:a", false).unwrap();
        assert!(matches!(s.remove("f:a", false), Err(FsError::NotFound)));
        assert_eq!(names(&main), [("b".into(), 2), ("c".into(), 0)]);
        assert_eq!(std::fs::read(t.path().join("f")).unwrap(), b"main");
        // An open of a removed stream fails cleanly.
        let hb = s.create(&parse("f:b"), &params(Open, None)).unwrap().handle;
        s.remove("f:b", false).unwrap();
        assert!(matches!(hb.info(), Err(FsError::NotFound)));
        assert!(matches!(hb.write_at(b"x", 0), Err(FsError::NotFound)));
        // Rename of the file keeps its streams; streams are not renamed here.
        let new_rel = s.rename("f", &parse("g"), false).unwrap();
        assert_eq!(new_rel, "g");
        assert!(s.create(&parse("g:c"), &params(Open, None)).is_ok());
        assert!(matches!(s.rename("g:c", &parse("h"), false), Err(FsError::InvalidParameter)));
        assert!(matches!(s.rename("g", &parse("h:x"), false), Err(FsError::InvalidParameter)));
        // Overwriting the main stream drops the named ones.
        let o = s.create(&parse("g"), &params(Overwrite, None)).unwrap();
        assert!(names(&o.handle).is_empty());
        s.create(&parse("g:c"), &params(Create, None)).unwrap();
        // Unlinking the file drops its streams.
        s.remove("g", false).unwrap();
        std::fs::write(t.path().join("g"), b"").unwrap();
        assert!(matches!(s.create(&parse("g:c"), &params(Open, None)), Err(FsError::NotFound)));
    }

    #[test]
    fn confinement_holds_with_streams() {
        let outer = TempDir::new("st-conf");
        if !xattrs_supported(outer.path()) {
            return;
        }
        std::fs::write(outer.path().join("secret"), b"s").unwrap();
        let root = outer.path().join("share");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink("../secret", root.join("up")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        let s = Share::new(&root, false).unwrap();
        assert!(matches!(SmbPath::parse("..:x"), Err(FsError::PathSyntaxBad)));
        assert!(matches!(SmbPath::parse("..\\secret:x"), Err(FsError::PathSyntaxBad)));
        for d in [Open, Create, OpenIf, Supersede] {
            for name in ["up:x", "etc:x", "etc\\passwd:x", "UP:x:$DATA"] {
                let r = s.create(&parse(name), &params(d, None));
                assert!(matches!(r, Err(FsError::Escape)), "{name} {d:?}: {r:?}");
            }
        }
        for rel in ["../secret:x", "up:x", "/etc/passwd:x", ":x", "a/:x"] {
            assert!(s.stat(rel).is_err(), "{rel}");
            assert!(s.remove(rel, false).is_err(), "{rel}");
        }
        let f = std::fs::File::open(outer.path().join("secret")).unwrap();
        assert!(list(f.as_fd()).unwrap().is_empty(), "nothing was written outside");
        assert_eq!(std::fs::read(outer.path().join("secret")).unwrap(), b"s");
    }
}

#[cfg(test)]
mod rename_tests {
    use super::*;
    use crate::testutil::{params, xattr_share};
    use CreateDisposition::*;

    fn parse(s: &str) -> SmbPath {
        SmbPath::parse(s).unwrap()
    }

    #[test]
    fn stream_targets_parse() {
        assert_eq!(SmbPath::parse_stream_target(":a").unwrap(), Some("a".into()));
        assert_eq!(SmbPath::parse_stream_target(":A b:$data").unwrap(), Some("A b".into()));
        assert_eq!(SmbPath::parse_stream_target("::$DATA").unwrap(), None);
        for bad in ["a", ":", "::", ":a:$FOO", ":a:b:c", ":a/b", ""] {
            assert!(SmbPath::parse_stream_target(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn renames_between_streams() {
        let Some((t, s)) = xattr_share("st-rename") else {
            return;
        };
        let h = s.create(&parse("f:One"), &params(Create, None)).unwrap().handle;
        h.write_at(b"one", 0).unwrap();
        assert_eq!(h.rename_stream(Some("Two"), false).unwrap(), "f:Two");
        assert_eq!(h.rel_path(), "f:Two");
        assert!(matches!(s.stat("f:one"), Err(FsError::NotFound)));
        assert_eq!(s.stat("f:two").unwrap().size, 3);
        let mut buf = [0u8; 8];
        assert_eq!(h.read_at(&mut buf, 0).unwrap(), 3, "the handle follows");
        // Same name, other case: the stored case changes.
        assert_eq!(h.rename_stream(Some("TWO"), false).unwrap(), "f:TWO");
        assert_eq!(h.streams().unwrap()[0].0, "TWO");
        // Existing targets: Exists without replace, and only an empty one is replaced.
        let full = s.create(&parse("f:full"), &params(Create, None)).unwrap().handle;
        full.write_at(b"x", 0).unwrap();
        s.create(&parse("f:empty"), &params(Create, None)).unwrap();
        assert!(matches!(h.rename_stream(Some("empty"), false), Err(FsError::Exists)));
        assert!(matches!(h.rename_stream(Some("FULL"), true), Err(FsError::InvalidParameter)));
        assert_eq!(h.rename_stream(Some("Empty"), true).unwrap(), "f:Empty");
        let names: Vec<String> = h.streams().unwrap().into_iter().map(|x| x.0).collect();
        assert_eq!(names, ["Empty", "full"]);
        // To the default stream: only into an empty file, with replace.
        assert!(matches!(h.rename_stream(None, false), Err(FsError::Exists)));
        assert_eq!(h.rename_stream(None, true).unwrap(), "f");
        assert_eq!(std::fs::read(t.path().join("f")).unwrap(), b"one");
        assert_eq!(h.stream_name(), None);
        assert!(matches!(full.rename_stream(None, true), Err(FsError::InvalidParameter)));
        // A file or directory open is no stream to rename.
        assert!(matches!(h.rename_stream(Some("x"), true), Err(FsError::InvalidParameter)));
    }
}
