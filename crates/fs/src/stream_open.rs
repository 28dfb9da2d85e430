//! Opening and creating named streams (MS-FSA 2.1.5.1 on "file:name:$DATA",
//! MS-FSCC 2.1.5.3): the base file or directory is found like any name, the
//! disposition applies to the stream, kept as described in the `stream` module.

use std::os::fd::AsFd;
use std::sync::Arc;

use opportune_types::create::{CreateAction, CreateDisposition};

use crate::create_types::{CreateParams, Opened};
use crate::description::Description;
use crate::error::FsError;
use crate::posix_handle::PosixHandle;
use crate::make::create_new;
use crate::path::SmbPath;
use crate::remove::remove;
use crate::resolve::locate;
use crate::root::Root;
use crate::stream::{StreamName, get, put};

/// Lookup/create races are retried this often.
const ATTEMPTS: usize = 4;

/// The create of a named stream (MS-FSA 2.1.5.1): the base file or
/// directory is looked up as usual; a missing base is created as an
/// empty file when the disposition creates; the disposition applies to
/// the stream.
pub(crate) fn create_stream(root: &Arc<Root>, path: &SmbPath, sname: &str, p: &CreateParams) -> Result<Opened, FsError> {
    use CreateDisposition::*;
    let s = StreamName::new(sname)?;
    let base = path.base();
    if base.is_root() {
        return Err(FsError::InvalidName);
    }
    for _ in 0..ATTEMPTS {
        let l = locate(root, base.components())?;
        let (fd, is_dir, rel, base_created) = if l.found {
            match root.open_base(&l.rel()) {
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
                metadata_only: false,
            };
            match create_new(root, &l.parent, &l.name, &base, &bp) {
                Ok(o) => match o.handle.into_posix() {
                    Some(h) => (h.into_description(), false, o.rel_path, true),
                    None => return Err(FsError::NotSupported),
                },
                Err(FsError::Exists) => continue, // appeared meanwhile
                Err(e) => return Err(e),
            }
        };
        let r = open_stream_on(root, fd, is_dir, &rel, s.clone(), p);
        if r.is_err() && base_created {
            let _ = remove(root, &rel, false);
        }
        return r.map(|(handle, mut action)| {
            if base_created {
                action = CreateAction::Created;
            }
            let rel_path = handle.rel_path();
            Opened { handle: crate::handle::Handle::posix(handle), action, rel_path, info: None, reopened: false }
        });
    }
    Err(FsError::Exists)
}

/// Applies the disposition to stream `s` of the base object `fd`.
fn open_stream_on(
    root: &Arc<Root>,
    desc: Arc<Description>,
    is_dir: bool,
    rel: &str,
    mut s: StreamName,
    p: &CreateParams,
) -> Result<(PosixHandle, CreateAction), FsError> {
    use CreateDisposition::*;
    let b = desc.file().as_fd();
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
    Ok((PosixHandle::new_stream(desc, is_dir, root.clone(), full, s), action))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Handle;
    use crate::stream::{list, stream_hash};
    use crate::testutil::{TempDir, params, parse, xattr_share, xattrs_supported};
    use crate::xattr::XATTR_SIZE_MAX;
    use crate::{BasicInfo, FileInfo, Share};
    use CreateDisposition::*;

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
