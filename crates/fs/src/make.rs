//! Making and remaking files: creation of a new file or directory
//! (MS-FSA 2.1.5.1.1) and truncation of an existing one for
//! Overwrite/OverwriteIf/Supersede (MS-FSA 2.1.5.1.2.1).

use std::fs::File;
use std::os::fd::AsFd;
use std::sync::Arc;

use opportune_types::FileAttributes;
use opportune_types::create::{CreateAction, CreateDisposition};

use crate::create_types::{CreateParams, Opened};
use crate::description::Description;
use crate::dosattr::{self, DosRecord};
use crate::error::FsError;
use crate::posix_handle::PosixHandle;
use crate::info::FileInfo;
use crate::path::SmbPath;
use crate::rel_path::{cstr, join};
use crate::root::Root;
use crate::space::{SpacePolicy, grow_allocation};
use crate::stream;
use crate::sys;

/// New files and directories (the process umask still applies).
const FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o755;

/// Truncates an existing file for Overwrite/OverwriteIf/Supersede and
/// replaces its attributes (MS-FSA 2.1.5.1.2.1); keeps its creation time.
pub(crate) fn overwrite(
    space: &SpacePolicy,
    file: &File,
    st: &libc::statx,
    p: &CreateParams,
) -> Result<CreateAction, FsError> {
    let old = dosattr::read_fd(file.as_fd()).ok().flatten();
    let current = FileInfo::from_statx(st, old);
    for bit in [FileAttributes::HIDDEN, FileAttributes::SYSTEM] {
        if current.attributes & bit != 0 && p.attributes & bit == 0 {
            return Err(FsError::AccessDenied);
        }
    }
    file.set_len(0)?;
    // Overwriting the default stream drops the named ones (as NTFS does).
    match stream::remove_all(file.as_fd()) {
        Ok(()) | Err(FsError::NotSupported) => {}
        Err(e) => return Err(e),
    }
    grow_allocation(file, space, 0, 0, p.allocation_size)?;
    let rec = DosRecord {
        attributes: (p.attributes & FileAttributes::SETTABLE) | FileAttributes::ARCHIVE,
        creation_time: current.creation_time,
        ..Default::default()
    };
    store(file, &rec)?;
    Ok(if p.disposition == CreateDisposition::Supersede {
        CreateAction::Superseded
    } else {
        CreateAction::Overwritten
    })
}

/// Creates `name` (client's case) in on-disk directory `parent`
/// (MS-FSA 2.1.5.1.1). `Exists` if the name was taken meanwhile.
pub(crate) fn create_new(
    root: &Arc<Root>,
    parent: &str,
    name: &str,
    path: &SmbPath,
    p: &CreateParams,
) -> Result<Opened, FsError> {
    let want_dir = p.directory == Some(true);
    if path.trailing_separator() && !want_dir {
        return Err(FsError::InvalidName);
    }
    let rel = join(parent, name);
    let dir = root.open_dir(parent)?;
    let cname = cstr(name)?;
    let no_parent = |e: std::io::Error| match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR) => FsError::PathNotFound,
        _ => FsError::from(e),
    };
    let fd = if want_dir {
        sys::mkdirat(dir.as_fd(), &cname, DIR_MODE).map_err(no_parent)?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        let resolve = sys::CONFINED | sys::RESOLVE_NO_SYMLINKS;
        match sys::openat2(dir.as_fd(), &cname, flags, 0, resolve) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = sys::unlinkat(dir.as_fd(), &cname, libc::AT_REMOVEDIR);
                return Err(e.into());
            }
        }
    } else {
        let rw = if p.write || p.allocation_size > 0 {
            libc::O_RDWR
        } else {
            libc::O_RDONLY
        };
        let flags = rw | libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY;
        sys::openat2(dir.as_fd(), &cname, flags, FILE_MODE, sys::CONFINED).map_err(no_parent)?
    };
    let writable = !want_dir && (p.write || p.allocation_size > 0);
    let file = File::from(fd);
    let finish = || -> Result<(FileInfo, libc::statx), FsError> {
        let st = sys::fstatx(file.as_fd())?;
        let kind = if want_dir { 0 } else { FileAttributes::ARCHIVE };
        let rec = DosRecord {
            attributes: (p.attributes & FileAttributes::SETTABLE) | kind,
            creation_time: FileInfo::from_statx(&st, None).creation_time,
            ..Default::default()
        };
        if !want_dir {
            grow_allocation(&file, &root.space, 0, 0, p.allocation_size)?;
        }
        let stored = store(&file, &rec)?;
        // The times and sizes as they are after the reservation and the record.
        let st = sys::fstatx(file.as_fd())?;
        Ok((FileInfo::from_statx(&st, stored.then_some(rec)), st))
    };
    let (info, st) = match finish() {
        Ok(done) => done,
        Err(e) => {
            // Do not leave a half-made object behind.
            let flags = if want_dir { libc::AT_REMOVEDIR } else { 0 };
            let _ = sys::unlinkat(dir.as_fd(), &cname, flags);
            return Err(e);
        }
    };
    let (desc, writing) = if want_dir {
        (Description::own(file, false), None)
    } else {
        root.descriptions.adopt(file, &st, writable)
    };
    let handle = PosixHandle::new(desc, want_dir, root.clone(), rel.clone()).with_writing(writing);
    Ok(Opened {
        handle: crate::handle::Handle::posix(handle),
        action: CreateAction::Created,
        rel_path: rel,
        info: Some(info),
        reopened: false,
    })
}

/// Writes the DOS record; no xattr support just loses it (`Ok(false)`).
fn store(file: &File, rec: &DosRecord) -> Result<bool, FsError> {
    match dosattr::write_fd(file.as_fd(), rec) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{params, parse, share, xattr_share};
    use CreateDisposition::*;

    #[test]
    fn attributes_of_new_and_overwritten_files() {
        let Some((_t, s)) = xattr_share("c-attrs") else {
            return;
        };
        let mut p = params(Create, None);
        p.attributes = FileAttributes::HIDDEN | FileAttributes::NORMAL;
        let o = s.create(&parse("h"), &p).unwrap();
        let a = o.handle.info().unwrap().attributes;
        assert_eq!(a, FileAttributes::HIDDEN | FileAttributes::ARCHIVE);
        let created = o.handle.info().unwrap().creation_time;
        // Overwriting a HIDDEN file without HIDDEN is refused (MS-FSA 2.1.5.1.2.1).
        assert!(matches!(
            s.create(&parse("h"), &params(OverwriteIf, None)),
            Err(FsError::AccessDenied)
        ));
        let mut p = params(Overwrite, None);
        p.attributes = FileAttributes::HIDDEN | FileAttributes::SYSTEM;
        let o = s.create(&parse("h"), &p).unwrap();
        let info = o.handle.info().unwrap();
        assert_eq!(
            info.attributes,
            FileAttributes::HIDDEN | FileAttributes::SYSTEM | FileAttributes::ARCHIVE
        );
        assert_eq!(
            info.creation_time, created,
            "overwrite keeps the creation time"
        );
        let d = s.create(&parse("d"), &params(Create, Some(true))).unwrap();
        assert_eq!(
            d.handle.info().unwrap().attributes,
            FileAttributes::DIRECTORY
        );
        let mut p = params(Create, Some(true));
        p.attributes = FileAttributes::TEMPORARY;
        assert!(matches!(
            s.create(&parse("d2"), &p),
            Err(FsError::InvalidParameter)
        ));
    }

    #[test]
    fn allocation_and_access() {
        let (t, s) = share("c-alloc", false);
        let mut p = params(Create, None);
        p.allocation_size = 1 << 20;
        let o = s.create(&parse("big"), &p).unwrap();
        let info = o.handle.info().unwrap();
        assert_eq!(info.size, 0);
        assert!(info.allocation_size == 0 || info.allocation_size >= 1 << 20);
        p.allocation_size = u64::MAX;
        assert!(matches!(
            s.create(&parse("huge"), &p),
            Err(FsError::DiskFull)
        ));
        assert!(
            !t.path().join("huge").exists(),
            "a failed create leaves nothing behind"
        );

        let ro = t.path().join("ro");
        std::fs::write(&ro, b"").unwrap();
        std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
        let privileged = std::fs::OpenOptions::new().write(true).open(&ro).is_ok();
        let r = s.create(&parse("ro"), &params(Open, None));
        if !privileged {
            assert!(matches!(r, Err(FsError::AccessDenied)), "{r:?}");
        }
        let mut rd = params(Open, None);
        rd.write = false;
        let h = s.create(&parse("ro"), &rd).unwrap();
        assert_ne!(
            h.handle.info().unwrap().attributes & FileAttributes::READONLY,
            0
        );
    }
}
