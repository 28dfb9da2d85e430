//! Confined, optionally case-insensitive name resolution (MS-FSA 2.1.5.1,
//! "IsCaseInsensitive"). Every lookup is an openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_MAGICLINKS) relative to the share root.

use std::os::fd::AsFd;

use crate::dirents::list_names;
use crate::error::FsError;
use crate::namecache::Check;
use crate::path::eq_ignore_case;
use crate::rel_path::join;
use crate::root::Root;

/// Where a client path lands on disk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Lookup {
    /// On-disk path of the parent directory ("" for the root).
    pub parent: String,
    /// On-disk name of the object if `found`, else the client's name.
    pub name: String,
    pub found: bool,
}

impl Lookup {
    pub fn rel(&self) -> String {
        join(&self.parent, &self.name)
    }
}

/// Resolves client components to on-disk names. Parents must exist
/// (else `PathNotFound`); the last one may be missing (`found == false`,
/// keeping the client's case for a new file).
pub(crate) fn locate(root: &Root, comps: &[String]) -> Result<Lookup, FsError> {
    let mut parent = String::new();
    for (i, c) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        match find_entry(root, &parent, c)? {
            Some(name) if last => {
                return Ok(Lookup {
                    parent,
                    name,
                    found: true,
                });
            }
            Some(name) => parent = join(&parent, &name),
            None if last => {
                return Ok(Lookup {
                    parent,
                    name: c.clone(),
                    found: false,
                });
            }
            None => return Err(FsError::PathNotFound),
        }
    }
    Err(FsError::InvalidName) // the root has no entry to locate
}

/// The on-disk name of `name` in directory `dir`: the exact name if it
/// exists, else (case-insensitive shares) the first entry equal ignoring
/// case. `dir` missing or not a directory is `PathNotFound`.
fn find_entry(root: &Root, dir: &str, name: &str) -> Result<Option<String>, FsError> {
    match root.open_rel(&join(dir, name), libc::O_PATH) {
        Ok(_) => return Ok(Some(name.to_string())),
        Err(e) => match e.raw_os_error() {
            Some(libc::ENOENT) => {}
            Some(libc::ENOTDIR) => return Err(FsError::PathNotFound),
            _ => return Err(e.into()),
        },
    }
    if root.case_sensitive {
        // Tell "parent missing" from "name missing".
        root.open_dir(dir)?;
        return Ok(None);
    }
    let fd = root
        .open_rel(dir, libc::O_RDONLY | libc::O_DIRECTORY)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTDIR) => FsError::PathNotFound,
            _ => e.into(),
        })?;
    let ticket = match root.names.check(fd.as_fd(), name) {
        Check::NoOther => return Ok(None),
        Check::Scan(ticket) => ticket,
    };
    let names = list_names(fd.as_fd())?;
    let found = names
        .iter()
        .filter_map(|n| std::str::from_utf8(n).ok())
        // The exact name was tried already (a dangling symlink, say).
        .find(|n| *n != name && eq_ignore_case(n, name))
        .map(str::to_string);
    if let Some(t) = ticket {
        root.names.fill(t, &names);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Share;
    use crate::testutil::TempDir;

    fn comps(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn case_insensitive_locate() {
        let t = TempDir::new("locate");
        std::fs::create_dir_all(t.path().join("Dir/Sub")).unwrap();
        std::fs::write(t.path().join("Dir/Sub/File.txt"), b"").unwrap();
        let s = Share::new(t.path(), false).unwrap();
        let l = locate(s.root(), &comps(&["dir", "SUB", "file.TXT"])).unwrap();
        assert_eq!(
            l,
            Lookup {
                parent: "Dir/Sub".into(),
                name: "File.txt".into(),
                found: true
            }
        );
        let l = locate(s.root(), &comps(&["DIR", "NewFile"])).unwrap();
        assert_eq!(
            l,
            Lookup {
                parent: "Dir".into(),
                name: "NewFile".into(),
                found: false
            }
        );
        assert!(matches!(
            locate(s.root(), &comps(&["nope", "x"])),
            Err(FsError::PathNotFound)
        ));
        assert!(matches!(
            locate(s.root(), &comps(&["dir", "sub", "file.txt", "x"])),
            Err(FsError::PathNotFound)
        ));
    }

    #[test]
    fn case_sensitive_locate() {
        let t = TempDir::new("locate-cs");
        std::fs::create_dir(t.path().join("Dir")).unwrap();
        let s = Share::new(t.path(), true).unwrap();
        assert!(locate(s.root(), &comps(&["Dir"])).unwrap().found);
        assert!(!locate(s.root(), &comps(&["dir"])).unwrap().found);
        assert!(matches!(
            locate(s.root(), &comps(&["dir", "x"])),
            Err(FsError::PathNotFound)
        ));
    }
}

#[cfg(test)]
mod confinement_tests {
    use super::*;
    use crate::testutil::{TempDir, params, share};
    use crate::{Share, SmbPath};
    use opportune_types::NtStatus;
    use opportune_types::create::CreateDisposition::*;
    use std::os::unix::fs::symlink;

    fn open(s: &Share, name: &str) -> Result<crate::Opened, FsError> {
        s.create(&SmbPath::parse(name)?, &params(Open, None))
    }

    #[test]
    fn dotdot_and_absolute_names_are_refused() {
        let outer = TempDir::new("conf-outer");
        std::fs::write(outer.path().join("secret"), b"s").unwrap();
        std::fs::create_dir(outer.path().join("share")).unwrap();
        let s = Share::new(&outer.path().join("share"), false).unwrap();
        assert!(matches!(
            open(&s, "..\\secret"),
            Err(FsError::PathSyntaxBad)
        ));
        assert!(matches!(
            open(&s, "\\etc\\passwd"),
            Err(FsError::InvalidName)
        ));
        assert!(matches!(open(&s, "/etc/passwd"), Err(FsError::InvalidName)));
        assert!(matches!(open(&s, "C:\\Windows"), Err(FsError::InvalidName)));
        // On-disk relative paths handed back by the server are checked too.
        assert!(s.stat("../secret").is_err());
        assert!(s.stat("/etc").is_err());
        assert!(s.remove("../secret", false).is_err());
        assert!(s.is_dir_empty("..").is_err());
        assert!(outer.path().join("secret").exists());
        // Hard links take client paths: the same rules keep them inside.
        std::fs::write(outer.path().join("share/f"), b"f").unwrap();
        let h = open(&s, "f").unwrap().handle;
        let link = |name: &str| h.link(&SmbPath::parse(name)?, true, |_| false);
        assert!(matches!(link("..\\linked"), Err(FsError::PathSyntaxBad)));
        assert!(matches!(link("\\tmp\\linked"), Err(FsError::InvalidName)));
        assert!(matches!(link("/tmp/linked"), Err(FsError::InvalidName)));
        assert!(matches!(link("C:\\linked"), Err(FsError::InvalidName)));
        assert!(matches!(link("..\\secret"), Err(FsError::PathSyntaxBad)));
        assert!(!outer.path().join("linked").exists());
        assert_eq!(std::fs::read(outer.path().join("secret")).unwrap(), b"s");
    }

    #[test]
    fn symlinks_out_of_the_share_are_refused() {
        let outer = TempDir::new("conf-link");
        std::fs::write(outer.path().join("secret"), b"s").unwrap();
        let root = outer.path().join("share");
        std::fs::create_dir(&root).unwrap();
        symlink("/etc", root.join("etc")).unwrap();
        symlink("../secret", root.join("up")).unwrap();
        symlink(outer.path().join("secret"), root.join("abs")).unwrap();
        for cs in [false, true] {
            let s = Share::new(&root, cs).unwrap();
            for name in ["etc", "etc\\passwd", "ETC\\passwd", "up", "abs"] {
                if cs && name.starts_with('E') {
                    continue;
                }
                let r = open(&s, name);
                assert!(matches!(r, Err(FsError::Escape)), "{name}: {r:?}");
                assert_eq!(r.unwrap_err().status(), NtStatus::ACCESS_DENIED);
            }
            let r = s.create(&SmbPath::parse("etc\\new").unwrap(), &params(OpenIf, None));
            assert!(matches!(r, Err(FsError::Escape)), "{r:?}");
            assert!(matches!(s.stat("etc/passwd"), Err(FsError::Escape)));
            assert!(matches!(
                s.rename("up", &SmbPath::parse("etc\\x").unwrap(), false),
                Err(FsError::Escape)
            ));
            // A link whose parent is a symlink out of the share, or that would
            // replace one, goes nowhere outside.
            std::fs::write(root.join("f"), b"f").unwrap();
            let h = open(&s, "f").unwrap().handle;
            for name in ["etc\\linked", "up\\linked", "abs\\linked"] {
                let r = h.link(&SmbPath::parse(name).unwrap(), true, |_| false);
                assert!(matches!(r, Err(FsError::Escape | FsError::PathNotFound)), "{name}: {r:?}");
            }
            // A name that is a symlink out of the share is refused as a target too.
            let r = h.link(&SmbPath::parse("up").unwrap(), true, |_| false);
            assert!(matches!(r, Err(FsError::Escape)), "{r:?}");
            assert!(root.join("up").symlink_metadata().unwrap().file_type().is_symlink());
            assert_eq!(std::fs::read(outer.path().join("secret")).unwrap(), b"s");
        }
        assert!(!std::path::Path::new("/etc/linked").exists());
        assert!(!outer.path().join("linked").exists());
        assert!(!std::path::Path::new("/etc/new").exists());
    }

    #[test]
    fn symlinks_inside_the_share_work() {
        let (t, s) = share("conf-inside", false);
        std::fs::create_dir(t.path().join("dir")).unwrap();
        std::fs::create_dir(t.path().join("other")).unwrap();
        std::fs::write(t.path().join("dir/f"), b"content").unwrap();
        symlink("dir", t.path().join("sib")).unwrap();
        symlink("../dir/f", t.path().join("other/lf")).unwrap();
        let o = open(&s, "sib\\f").unwrap();
        assert_eq!(o.handle.info().unwrap().size, 7);
        let o = open(&s, "OTHER\\LF").unwrap();
        let mut buf = [0u8; 7];
        o.handle.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"content");
        assert!(s.stat("sib").unwrap().is_dir);
    }
}
