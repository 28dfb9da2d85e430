//! Hard links (MS-FSA 2.1.5.15.6 FileLinkInformation; MS-FSCC 2.4.27.2
//! FILE_LINK_INFORMATION_TYPE_2 for SMB2).
//!
//! The new name is found like any client path (case-insensitively on such
//! shares, every component confined by openat2(RESOLVE_BENEATH)); the link is
//! made with linkat(2) from the open's own inode into the confined parent
//! directory under a single component, so neither "..", an absolute name nor a
//! symlinked parent can put a name outside the share, and nothing but the
//! file that was opened can be linked.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use opportune_types::FileAttributes;

use crate::dosattr;
use crate::error::FsError;
use crate::posix_handle::PosixHandle;
use crate::info::{FileInfo, statx_is_dir};
use crate::path::SmbPath;
use crate::rel_path::{cstr, join};
use crate::rename::rename_noreplace;
use crate::resolve::locate;
use crate::sys;

/// Links a file may have; MS-FSA 2.1.5.15.6 refuses a 1025th with
/// STATUS_TOO_MANY_LINKS (NTFS's limit), whatever the Linux file system allows.
pub const MAX_LINKS: u32 = 1024;

/// Numbers the temporary names of replacing links.
static TEMP: AtomicU64 = AtomicU64::new(0);

/// What [`Handle::link`](crate::Handle::link) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linked {
    /// On-disk path of the new name, relative to the share root.
    pub rel: String,
    /// Whether another file had that name and lost it.
    pub replaced: bool,
}

fn same_object(a: &libc::statx, b: &libc::statx) -> bool {
    (a.stx_ino, a.stx_dev_major, a.stx_dev_minor) == (b.stx_ino, b.stx_dev_major, b.stx_dev_minor)
}

/// Errors of linkat(2) as MS-FSA 2.1.5.15.6 names them.
fn link_error(e: std::io::Error) -> FsError {
    match e.raw_os_error() {
        Some(libc::EMLINK) => FsError::TooManyLinks,
        Some(libc::EXDEV) => FsError::NotSameDevice,
        // The open's file has no name left (deleted meanwhile): Open.Link.IsDeleted.
        Some(libc::ENOENT) => FsError::AccessDenied,
        Some(libc::EPERM | libc::EOPNOTSUPP) => FsError::AccessDenied,
        _ => FsError::from(e),
    }
}

impl PosixHandle {
    /// FileLinkInformation (MS-FSA 2.1.5.15.6): gives the file this handle is
    /// open on the additional name `to` (a client path from the share root).
    ///
    /// * A named stream open is `InvalidParameter`; a directory is
    ///   `IsADirectory` (no hard links to directories); a file without names
    ///   left is `AccessDenied`; one with [`MAX_LINKS`] links `TooManyLinks`.
    /// * `to` must name a file, not a stream (`InvalidName`); its parent must
    ///   exist (`PathNotFound`) inside the share (`Escape`).
    /// * An existing `to` is `Exists` unless `replace`. With `replace` a
    ///   directory is never replaced and neither is a read-only file
    ///   (`AccessDenied`), nor one `in_use` says is open (`AccessDenied`, as
    ///   Windows refuses to replace an open file); any other file is replaced
    ///   atomically, and the new name keeps the client's case. A `to` that
    ///   already names this file is left as it is.
    pub fn link(&self, to: &SmbPath, replace: bool, in_use: impl Fn(&FileInfo) -> bool) -> Result<Linked, FsError> {
        let new_name = crate::fsa_rules::link_name(self.stream_name().is_some(), self.is_dir(), to)?;
        let src = sys::fstatx(self.fd())?;
        if src.stx_nlink == 0 {
            return Err(FsError::AccessDenied);
        }
        if src.stx_nlink >= MAX_LINKS {
            return Err(FsError::TooManyLinks);
        }
        let l = locate(&self.root, to.components())?;
        let dir = self.root.open_dir(&l.parent)?;
        let new_c = cstr(new_name)?;
        let new_rel = join(&l.parent, new_name);
        if !l.found {
            sys::link_fd(self.fd(), dir.as_fd(), &new_c).map_err(link_error)?;
            return Ok(Linked { rel: new_rel, replaced: false });
        }
        let old_c = cstr(&l.name)?;
        let old = sys::statx(dir.as_fd(), &old_c, libc::AT_SYMLINK_NOFOLLOW)?;
        if same_object(&old, &src) {
            return if replace { Ok(Linked { rel: l.rel(), replaced: false }) } else { Err(FsError::Exists) };
        }
        if !replace {
            return Err(FsError::Exists);
        }
        let info = FileInfo::from_statx(&old, dosattr::read_at(dir.as_fd(), &old_c).ok().flatten());
        if statx_is_dir(&old) || info.attributes & FileAttributes::READONLY != 0 || in_use(&info) {
            return Err(FsError::AccessDenied);
        }
        self.link_over(&dir, &old_c)?;
        if l.name == new_name {
            return Ok(Linked { rel: new_rel, replaced: true });
        }
        // Give the new entry the client's spelling, as rename does.
        match rename_noreplace(&dir, &old_c, &dir, &new_c) {
            Ok(()) => Ok(Linked { rel: new_rel, replaced: true }),
            Err(_) => Ok(Linked { rel: l.rel(), replaced: true }),
        }
    }

    /// Replaces the entry `old` of `dir` by a link to this file in one step:
    /// link under a temporary name, then rename(2) it over `old`. The
    /// temporary name is removed again if the rename fails.
    fn link_over(&self, dir: &OwnedFd, old: &CStr) -> Result<(), FsError> {
        let tmp = loop {
            let n = TEMP.fetch_add(1, Ordering::Relaxed);
            let tmp = CString::new(format!(".opportune-link.{}.{n}", std::process::id()))
                .map_err(|_| FsError::InvalidName)?;
            match sys::link_fd(self.fd(), dir.as_fd(), &tmp) {
                Ok(()) => break tmp,
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
                Err(e) => return Err(link_error(e)),
            }
        };
        if let Err(e) = sys::renameat2(dir.as_fd(), &tmp, dir.as_fd(), old, 0) {
            let _ = sys::unlinkat(dir.as_fd(), &tmp, 0);
            return Err(e.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{params, parse as p, share};
    use crate::{Handle, Share};
    use opportune_types::create::CreateDisposition::{Create, Open};
    use std::os::unix::fs::MetadataExt;

    fn open(s: &Share, name: &str) -> Handle {
        s.create(&p(name), &params(Open, None)).unwrap().handle
    }

    fn free(_: &FileInfo) -> bool {
        false
    }

    #[test]
    fn link_gives_a_second_name_to_the_same_file() {
        let (t, s) = share("ln-plain", false);
        std::fs::create_dir(t.path().join("Dir")).unwrap();
        std::fs::write(t.path().join("a.txt"), b"data").unwrap();
        let h = open(&s, "A.TXT");
        assert_eq!(h.info().unwrap().nlink, 1);
        let l = h.link(&p("dir\\B.txt"), false, free).unwrap();
        assert_eq!(l, Linked { rel: "Dir/B.txt".into(), replaced: false });
        let (a, b) = (t.path().join("a.txt"), t.path().join("Dir/B.txt"));
        assert_eq!(std::fs::metadata(&a).unwrap().ino(), std::fs::metadata(&b).unwrap().ino());
        assert_eq!(h.info().unwrap().nlink, 2);
        assert_eq!(s.stat("Dir/B.txt").unwrap().nlink, 2);
        // Written through one name, read through the other.
        h.write_at(b"DATA!", 0).unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"DATA!");
    }

    #[test]
    fn refusals() {
        let (t, s) = share("ln-refuse", false);
        std::fs::create_dir(t.path().join("dir")).unwrap();
        std::fs::write(t.path().join("f"), b"f").unwrap();
        std::fs::write(t.path().join("other"), b"o").unwrap();
        let h = open(&s, "f");
        let d = s.create(&p("dir"), &params(Open, Some(true))).unwrap().handle;
        assert!(matches!(d.link(&p("dir2"), false, free), Err(FsError::IsADirectory)));
        assert!(matches!(h.link(&p("OTHER"), false, free), Err(FsError::Exists)));
        assert!(matches!(h.link(&p("dir"), false, free), Err(FsError::Exists)));
        assert!(matches!(h.link(&p("DIR"), true, free), Err(FsError::AccessDenied)));
        assert!(matches!(h.link(&p("nodir\\x"), false, free), Err(FsError::PathNotFound)));
        assert!(matches!(h.link(&p("x:stream"), false, free), Err(FsError::InvalidName)));
        assert!(matches!(h.link(&p(""), false, free), Err(FsError::InvalidName)));
        // An open target is not replaced.
        assert!(matches!(h.link(&p("other"), true, |_| true), Err(FsError::AccessDenied)));
        // Neither is a read-only one.
        let mut perm = std::fs::metadata(t.path().join("other")).unwrap().permissions();
        perm.set_readonly(true);
        std::fs::set_permissions(t.path().join("other"), perm).unwrap();
        assert!(matches!(h.link(&p("other"), true, free), Err(FsError::AccessDenied)));
        assert_eq!(std::fs::read(t.path().join("other")).unwrap(), b"o");
        assert_eq!(h.info().unwrap().nlink, 1, "no refusal left a link behind");
        // The file itself, under its own name or another link: nothing changes.
        assert!(matches!(h.link(&p("F"), false, free), Err(FsError::Exists)));
        assert_eq!(h.link(&p("F"), true, free).unwrap(), Linked { rel: "f".into(), replaced: false });
        // A file whose last name is gone.
        std::fs::remove_file(t.path().join("f")).unwrap();
        assert!(matches!(h.link(&p("again"), false, free), Err(FsError::AccessDenied)));
        assert!(!t.path().join("again").exists());
    }

    #[test]
    fn replace_keeps_the_clients_case_and_leaves_no_temporary() {
        let (t, s) = share("ln-replace", false);
        std::fs::write(t.path().join("src"), b"new").unwrap();
        std::fs::write(t.path().join("target.txt"), b"old").unwrap();
        let h = open(&s, "src");
        let l = h.link(&p("TARGET.TXT"), true, free).unwrap();
        assert_eq!(l, Linked { rel: "TARGET.TXT".into(), replaced: true });
        let mut names: Vec<String> =
            std::fs::read_dir(t.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["TARGET.TXT", "src"]);
        assert_eq!(std::fs::read(t.path().join("TARGET.TXT")).unwrap(), b"new");
        assert_eq!(h.info().unwrap().nlink, 2);
    }

    #[test]
    fn the_name_cache_sees_the_new_name() {
        let (t, s) = share("ln-cache", false);
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/x"), b"").unwrap();
        // Misses scan "d" and then let the cache answer there.
        for _ in 0..2 {
            assert!(matches!(s.create(&p("d\\nothere"), &params(Open, None)), Err(FsError::NotFound)));
        }
        let h = s.create(&p("f"), &params(Create, None)).unwrap().handle;
        h.link(&p("d\\NewName"), false, free).unwrap();
        let o = open(&s, "D\\newname");
        assert_eq!(o.info().unwrap().file_id, h.info().unwrap().file_id);
        assert!(matches!(h.link(&p("d\\NEWNAME"), false, free), Err(FsError::Exists)));
    }

    #[test]
    fn links_on_a_case_sensitive_share() {
        let (t, s) = share("ln-cs", true);
        std::fs::write(t.path().join("a"), b"").unwrap();
        let h = open(&s, "a");
        assert_eq!(h.link(&p("A"), false, free).unwrap().rel, "A");
        assert_eq!(std::fs::metadata(t.path().join("A")).unwrap().nlink(), 2);
    }
}
