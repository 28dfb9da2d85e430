//! Open or create (MS-FSA 2.1.5.1 "Server Requests an Open of a File").

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use opportune_types::create::{CreateAction, CreateDisposition};

use crate::create_types::{CreateParams, Opened, truncating};
use crate::description::Description;
use crate::dosattr;
use crate::error::FsError;
use crate::posix_handle::PosixHandle;
use crate::info::{FileInfo, statx_is_dir, statx_is_file};
use crate::make::{create_new, overwrite};
use crate::path::SmbPath;
use crate::resolve::locate;
use crate::root::{Root, Shared};
use crate::stream_open::create_stream;
use crate::sys;

/// Lookup/open races (a name appearing or vanishing in between) are retried this often.
const ATTEMPTS: usize = 4;

/// The open or create of MS-FSA 2.1.5.1 behind `Share::create`, whose
/// documentation lists the dispositions and the errors.
pub(crate) fn create(root: &Arc<Root>, path: &SmbPath, p: &CreateParams) -> Result<Opened, FsError> {
    if p.directory == Some(true) && path.explicit_data_stream() {
        return Err(FsError::NotADirectory);
    }
    if let Some(s) = path.stream() {
        return create_stream(root, path, s, p);
    }
    crate::create_types::refuse_create(path, p)?;
    if path.is_root() {
        if p.disposition == CreateDisposition::Create {
            return Err(FsError::Exists);
        }
        return open_existing(root, "", path, p);
    }
    // Fast path: the name exactly as given, one openat2.
    if p.disposition != CreateDisposition::Create {
        match open_existing(root, &path.to_rel(), path, p) {
            Err(FsError::NotFound | FsError::PathNotFound) => {}
            other => return other,
        }
    }
    for _ in 0..ATTEMPTS {
        let l = locate(root, path.components())?;
        if l.found {
            if p.disposition == CreateDisposition::Create {
                return Err(FsError::Exists);
            }
            match open_existing(root, &l.rel(), path, p) {
                Err(FsError::NotFound | FsError::PathNotFound) => continue, // vanished meanwhile
                other => return other,
            }
        }
        if matches!(
            p.disposition,
            CreateDisposition::Open | CreateDisposition::Overwrite
        ) {
            return Err(FsError::NotFound);
        }
        match create_new(root, &l.parent, &l.name, path, p) {
            Err(FsError::Exists) => continue, // appeared meanwhile
            other => return other,
        }
    }
    // Something keeps occupying the name without being openable (a
    // dangling symlink, say).
    Err(FsError::Exists)
}

/// Opens an existing object at on-disk `rel` and applies the
/// disposition. `NotFound`/`PathNotFound` mean "not there (any more)".
fn open_existing(
    root: &Arc<Root>,
    rel: &str,
    path: &SmbPath,
    p: &CreateParams,
) -> Result<Opened, FsError> {
    let trunc = truncating(p.disposition);
    let rw = if p.write || trunc {
        libc::O_RDWR
    } else {
        libc::O_RDONLY
    };
    // The share's root is a directory: no probe for a shared file description first
    // (an O_PATH open, a statx and a close fewer for the most frequent open of all).
    let known_dir = rel.is_empty() && p.directory != Some(false);
    if p.directory != Some(true) && !path.trailing_separator() && !known_dir {
        match root.open_shared(rel, p.write || trunc) {
            Shared::Found(Ok(found), st) => {
                return finish_open(root, rel, p, found.description, &st, found.reopened).map(|o| o.writing(found.writing));
            }
            // No read permission (`unix_identity`) for an open of attributes only: an
            // O_PATH descriptor of its own, below.
            Shared::Found(Err(e), _) if e.raw_os_error() == Some(libc::EACCES) && p.metadata_only && !p.write && !trunc => {}
            Shared::Found(Err(e), _) => return Err(open_error(root, rel, e)),
            Shared::Missing => return Err(FsError::NotFound),
            Shared::Unshared => {}
        }
    }
    let dir_flags = libc::O_RDONLY | libc::O_DIRECTORY;
    let first = if p.directory == Some(true) || known_dir {
        dir_flags
    } else {
        rw | libc::O_NONBLOCK | libc::O_NOCTTY
    };
    // Whether the descriptor below is open for writing: only the first try can be.
    let mut writes = first & libc::O_ACCMODE == libc::O_RDWR;
    let fd: OwnedFd = match root.open_rel(rel, first) {
        Ok(fd) => fd,
        Err(e) => match e.raw_os_error() {
            Some(libc::ENOENT) => return Err(FsError::NotFound),
            // O_DIRECTORY on a file, or a file used as a parent.
            Some(libc::ENOTDIR) if p.directory == Some(true) => {
                return match root.open_rel(rel, libc::O_PATH) {
                    Ok(_) => Err(FsError::NotADirectory),
                    Err(_) => Err(FsError::PathNotFound),
                };
            }
            Some(libc::ENOTDIR) => return Err(FsError::PathNotFound),
            // A directory opened for writing.
            Some(libc::EISDIR) if p.directory == Some(false) => {
                return Err(FsError::IsADirectory);
            }
            Some(libc::EISDIR) if trunc => return Err(FsError::InvalidParameter),
            Some(libc::EISDIR) => {
                writes = false;
                root.open_rel(rel, dir_flags)?
            }
            Some(libc::EACCES) if p.metadata_only && !p.write && !trunc => {
                writes = false;
                root.open_rel(rel, libc::O_PATH)?
            }
            _ => return Err(open_error(root, rel, e)),
        },
    };
    let st = sys::fstatx(fd.as_fd())?;
    let is_dir = statx_is_dir(&st);
    if !is_dir && !statx_is_file(&st) {
        return Err(FsError::AccessDenied); // devices, FIFOs, sockets are not served
    }
    if is_dir && (p.directory == Some(false) || path.explicit_data_stream()) {
        return Err(FsError::IsADirectory);
    }
    if !is_dir && (p.directory == Some(true) || path.trailing_separator()) {
        return Err(if path.trailing_separator() {
            FsError::InvalidName
        } else {
            FsError::NotADirectory
        });
    }
    if is_dir && trunc {
        return Err(FsError::InvalidParameter);
    }
    finish_open(root, rel, p, Description::own(File::from(fd), writes), &st, false)
}

/// An open of an existing file that failed for `e`, as the file system reports it.
fn open_error(root: &Root, rel: &str, e: std::io::Error) -> FsError {
    match e.raw_os_error() {
        Some(libc::EROFS | libc::ETXTBSY) => FsError::AccessDenied,
        // O_NONBLOCK met a Linux lease (F_SETLEASE) this open conflicts with.
        Some(libc::EWOULDBLOCK) => root.lease_held(rel),
        _ => e.into(),
    }
}

/// The disposition applied to an existing object opened through `desc` (`st` its statx).
fn finish_open(
    root: &Arc<Root>,
    rel: &str,
    p: &CreateParams,
    desc: Arc<Description>,
    st: &libc::statx,
    reopened: bool,
) -> Result<Opened, FsError> {
    let is_dir = statx_is_dir(st);
    let (action, info) = if truncating(p.disposition) {
        (overwrite(&root.space, desc.file(), st, p)?, None)
    } else {
        let dos = dosattr::read_fd(desc.file().as_fd())?;
        (CreateAction::Opened, Some(FileInfo::from_statx(st, dos)))
    };
    let handle = PosixHandle::new(desc, is_dir, root.clone(), rel.to_string());
    Ok(Opened {
        handle: crate::handle::Handle::posix(handle),
        action,
        rel_path: rel.to_string(),
        info,
        reopened,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{params, parse, share};
    use CreateDisposition::*;

    const ALL: [CreateDisposition; 6] = [Supersede, Open, Create, OpenIf, Overwrite, OverwriteIf];
    const KINDS: [Option<bool>; 3] = [None, Some(false), Some(true)];

    #[test]
    fn dispositions_on_missing_names() {
        let (t, s) = share("c-missing", false);
        for (i, d) in ALL.into_iter().enumerate() {
            for (j, k) in KINDS.into_iter().enumerate() {
                let name = format!("n{i}{j}");
                let r = s.create(&parse(&name), &params(d, k));
                let case = format!("{d:?} {k:?}");
                if k == Some(true) && truncating(d) {
                    assert!(matches!(r, Err(FsError::InvalidParameter)), "{case}: {r:?}");
                } else if matches!(d, Open | Overwrite) {
                    assert!(matches!(r, Err(FsError::NotFound)), "{case}: {r:?}");
                } else {
                    let o = r.unwrap_or_else(|e| panic!("{case}: {e:?}"));
                    assert_eq!(o.action, CreateAction::Created, "{case}");
                    assert_eq!(o.rel_path, name);
                    assert_eq!(o.handle.is_dir(), k == Some(true), "{case}");
                    assert_eq!(t.path().join(&name).is_dir(), k == Some(true), "{case}");
                    continue;
                }
                assert!(!t.path().join(&name).exists(), "{case}");
            }
        }
    }

    #[test]
    fn dispositions_on_existing_file() {
        let (t, s) = share("c-file", false);
        for d in ALL {
            for k in KINDS {
                std::fs::write(t.path().join("f"), b"data").unwrap();
                let r = s.create(&parse("f"), &params(d, k));
                let case = format!("{d:?} {k:?}");
                let len = std::fs::metadata(t.path().join("f")).unwrap().len();
                match (d, k) {
                    (_, Some(true)) if truncating(d) => {
                        assert!(matches!(r, Err(FsError::InvalidParameter)), "{case}: {r:?}")
                    }
                    (Create, _) => assert!(matches!(r, Err(FsError::Exists)), "{case}: {r:?}"),
                    (_, Some(true)) => {
                        assert!(matches!(r, Err(FsError::NotADirectory)), "{case}: {r:?}")
                    }
                    (Open | OpenIf, _) => {
                        let o = r.unwrap();
                        assert_eq!(o.action, CreateAction::Opened, "{case}");
                        assert!(!o.handle.is_dir());
                        assert_eq!(len, 4, "{case}");
                    }
                    _ => {
                        let o = r.unwrap();
                        let want = if d == Supersede {
                            CreateAction::Superseded
                        } else {
                            CreateAction::Overwritten
                        };
                        assert_eq!(o.action, want, "{case}");
                        assert_eq!(len, 0, "{case}");
                        assert_eq!(o.handle.info().unwrap().size, 0);
                    }
                }
                if !matches!((d, k), (Open | OpenIf, None | Some(false)))
                    && (!truncating(d) || k == Some(true))
                {
                    assert_eq!(len, 4, "{case}: file must be untouched on failure");
                }
            }
        }
    }

    #[test]
    fn dispositions_on_existing_directory() {
        let (t, s) = share("c-dir", false);
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/inner"), b"x").unwrap();
        for d in ALL {
            for k in KINDS {
                let r = s.create(&parse("d"), &params(d, k));
                let case = format!("{d:?} {k:?}");
                match (d, k) {
                    (_, Some(true)) if truncating(d) => {
                        assert!(matches!(r, Err(FsError::InvalidParameter)), "{case}: {r:?}")
                    }
                    (Create, _) => assert!(matches!(r, Err(FsError::Exists)), "{case}: {r:?}"),
                    (_, Some(false)) => {
                        assert!(matches!(r, Err(FsError::IsADirectory)), "{case}: {r:?}")
                    }
                    (Open | OpenIf, _) => {
                        let o = r.unwrap();
                        assert_eq!(o.action, CreateAction::Opened);
                        assert!(o.handle.is_dir(), "{case}");
                    }
                    _ => assert!(matches!(r, Err(FsError::InvalidParameter)), "{case}: {r:?}"),
                }
                assert!(t.path().join("d/inner").exists(), "{case}");
            }
        }
    }

    #[test]
    fn root_and_parents() {
        let (t, s) = share("c-root", false);
        std::fs::write(t.path().join("file"), b"").unwrap();
        let root = s.create(&parse(""), &params(Open, None)).unwrap();
        assert!(root.handle.is_dir());
        assert_eq!(root.rel_path, "");
        assert!(matches!(
            s.create(&parse(""), &params(Create, Some(true))),
            Err(FsError::Exists)
        ));
        assert!(matches!(
            s.create(&parse(""), &params(OverwriteIf, None)),
            Err(FsError::InvalidParameter)
        ));
        assert!(matches!(
            s.create(&parse(""), &params(Open, Some(false))),
            Err(FsError::IsADirectory)
        ));
        for d in ALL {
            let r = s.create(&parse("nodir\\x"), &params(d, None));
            assert!(matches!(r, Err(FsError::PathNotFound)), "{d:?}: {r:?}");
            let r = s.create(&parse("file\\x"), &params(d, None));
            assert!(matches!(r, Err(FsError::PathNotFound)), "{d:?}: {r:?}");
        }
        let (_t2, cs) = share("c-root-cs", true);
        assert!(matches!(
            cs.create(&parse("nodir\\x"), &params(OpenIf, None)),
            Err(FsError::PathNotFound)
        ));
        assert!(matches!(
            cs.create(&parse("nodir\\x"), &params(Open, Some(true))),
            Err(FsError::PathNotFound)
        ));
    }

    #[test]
    fn case_insensitive_names() {
        let (t, s) = share("c-case", false);
        std::fs::create_dir(t.path().join("dir")).unwrap();
        std::fs::write(t.path().join("dir/file.txt"), b"hello").unwrap();
        let o = s
            .create(&parse("DIR\\FILE.TXT"), &params(Open, Some(false)))
            .unwrap();
        assert_eq!(o.rel_path, "dir/file.txt");
        let mut buf = [0u8; 16];
        assert_eq!(o.handle.read_at(&mut buf, 0).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");
        assert!(matches!(
            s.create(&parse("Dir\\File.Txt"), &params(Create, None)),
            Err(FsError::Exists)
        ));
        let n = s
            .create(&parse("DIR\\NewFile.TXT"), &params(Create, None))
            .unwrap();
        assert_eq!(n.rel_path, "dir/NewFile.TXT");
        assert!(t.path().join("dir/NewFile.TXT").is_file());
        let d = s.create(&parse("dir"), &params(Open, Some(true))).unwrap();
        assert_eq!(d.rel_path, "dir");

        let (t2, cs) = share("c-case-cs", true);
        std::fs::create_dir(t2.path().join("dir")).unwrap();
        std::fs::write(t2.path().join("dir/file.txt"), b"").unwrap();
        assert!(matches!(
            cs.create(&parse("DIR\\FILE.TXT"), &params(Open, None)),
            Err(FsError::PathNotFound)
        ));
        assert!(matches!(
            cs.create(&parse("dir\\FILE.TXT"), &params(Open, None)),
            Err(FsError::NotFound)
        ));
        assert!(
            cs.create(&parse("dir\\file.txt"), &params(Open, None))
                .is_ok()
        );
    }

    #[test]
    fn streams_and_trailing_separators() {
        let (t, s) = share("c-stream", false);
        std::fs::write(t.path().join("file"), b"abc").unwrap();
        let o = s
            .create(&parse("file::$DATA"), &params(Open, None))
            .unwrap();
        assert_eq!(o.rel_path, "file");
        assert_eq!(o.handle.info().unwrap().size, 3);
        assert!(matches!(
            SmbPath::parse("file:stream\\"),
            Err(FsError::InvalidName)
        ));
        assert!(matches!(
            s.create(&parse("file\\"), &params(Open, None)),
            Err(FsError::InvalidName)
        ));
        assert!(matches!(
            s.create(&parse("new\\"), &params(Create, None)),
            Err(FsError::InvalidName)
        ));
        assert!(matches!(
            s.create(&parse("new\\"), &params(Create, Some(false))),
            Err(FsError::InvalidName)
        ));
        let d = s
            .create(&parse("new\\"), &params(Create, Some(true)))
            .unwrap();
        assert!(d.handle.is_dir());
        assert!(
            s.create(&parse("new\\"), &params(Open, None))
                .unwrap()
                .handle
                .is_dir()
        );
    }
}
