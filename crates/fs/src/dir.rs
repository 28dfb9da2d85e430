//! Directory enumeration (the data behind MS-FSCC 2.4 directory information
//! classes such as FileIdBothDirectoryInformation).

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd};

use crate::dirents::list_names;
use crate::dosattr;
use crate::error::FsError;
use crate::posix_handle::PosixHandle;
use crate::info::{DirEntry, FileInfo, statx_is_dir, statx_is_file};
use crate::path::check_component;
use crate::rel_path::join;
use crate::sys;

impl PosixHandle {
    /// The entries of this directory except "." and "..", each with its
    /// info (statx relative to the directory fd, not following symlinks).
    ///
    /// Left out: names that are not UTF-8 or not valid Windows names
    /// (MS-FSCC 2.1.5.2; the client could not open them), objects that are
    /// neither regular files nor directories, and symlinks that are
    /// dangling or lead outside the share. A symlink that stays inside is
    /// listed with the info of its target, as opening it would follow it.
    pub fn read_dir(&self) -> Result<Vec<DirEntry>, FsError> {
        if !self.is_dir() {
            return Err(FsError::NotADirectory);
        }
        let me = self.fd();
        let names = list_names(me)?;
        // Symlinks are resolved from the share root through our path when it
        // still names this directory, so links to siblings work; otherwise
        // (renamed meanwhile) only links that stay beneath this directory.
        let rel = self.rel_path();
        let rel_valid = self.path_is_current(&rel);
        let mut out = Vec::with_capacity(names.len());
        for raw in names {
            if let Ok(name) = String::from_utf8(raw)
                && let Some(e) = self.entry(me, &rel, rel_valid, name)
            {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// The entry `name` of this directory as [`Handle::read_dir`] would list it, or
    /// None if it is not there or a listing would leave it out.
    pub fn dir_entry(&self, name: &str) -> Result<Option<DirEntry>, FsError> {
        if !self.is_dir() {
            return Err(FsError::NotADirectory);
        }
        let rel = self.rel_path();
        let rel_valid = self.path_is_current(&rel);
        Ok(self.entry(self.fd(), &rel, rel_valid, name.to_string()))
    }

    /// One entry of the directory `me` (on-disk path `rel`, still naming it if
    /// `rel_valid`), with the filters and symlink rules of [`Handle::read_dir`].
    fn entry(&self, me: BorrowedFd, rel: &str, rel_valid: bool, name: String) -> Option<DirEntry> {
        if check_component(&name).is_err() {
            return None;
        }
        let cname = CString::new(name.as_str()).ok()?;
        let st = sys::statx(me, &cname, libc::AT_SYMLINK_NOFOLLOW).ok()?;
        let (st, dos) = if u32::from(st.stx_mode) & libc::S_IFMT == libc::S_IFLNK {
            let target = if rel_valid {
                self.root.open_rel(&join(rel, &name), libc::O_PATH)
            } else {
                sys::openat2(me, &cname, libc::O_PATH, 0, sys::CONFINED)
            };
            let t = target.ok()?;
            let tst = sys::fstatx(t.as_fd()).ok()?;
            (tst, dosattr::read_at(t.as_fd(), c"").ok().flatten())
        } else {
            let dos = if statx_is_dir(&st) || statx_is_file(&st) {
                dosattr::read_at(me, &cname).ok().flatten()
            } else {
                None
            };
            (st, dos)
        };
        if !statx_is_dir(&st) && !statx_is_file(&st) {
            return None;
        }
        Some(DirEntry {
            name,
            info: FileInfo::from_statx(&st, dos),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::SmbPath;
    use crate::testutil::{params, share};
    use opportune_types::create::CreateDisposition::Open;
    use std::os::unix::fs::symlink;

    #[test]
    fn dir_entry_agrees_with_the_listing() {
        let (t, s) = share("dir-entry", false);
        let root = t.path();
        std::fs::write(root.join("file"), b"abc").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        symlink("/etc", root.join("out")).unwrap();
        symlink("file", root.join("alias")).unwrap();
        std::fs::write(root.join("bad:name"), b"").unwrap();
        let made = std::process::Command::new("mkfifo").arg(root.join("pipe")).status().unwrap();
        assert!(made.success());
        let d = s.create(&SmbPath::parse("").unwrap(), &params(Open, Some(true))).unwrap();
        let listed: Vec<String> = d.handle.read_dir().unwrap().into_iter().map(|e| e.name).collect();
        for name in ["file", "sub", "out", "alias", "bad:name", "pipe", "missing", "FILE"] {
            let e = d.handle.dir_entry(name).unwrap();
            assert_eq!(e.is_some(), listed.iter().any(|n| n == name), "{name}");
        }
        assert_eq!(d.handle.dir_entry("alias").unwrap().unwrap().info.size, 3);
        assert!(d.handle.dir_entry("sub").unwrap().unwrap().info.is_dir);
    }

    #[test]
    fn read_dir_lists_files_and_dirs_and_hides_escapes() {
        let (t, s) = share("dir-list", false);
        let root = t.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), b"12345").unwrap();
        std::fs::create_dir(root.join("sub/inner")).unwrap();
        std::fs::create_dir(root.join("sibling")).unwrap();
        symlink("/etc", root.join("sub/etc")).unwrap();
        symlink("../../..", root.join("sub/up")).unwrap();
        symlink("nowhere", root.join("sub/dangling")).unwrap();
        symlink("../sibling", root.join("sub/tosib")).unwrap();
        symlink("a.txt", root.join("sub/alias")).unwrap();
        std::fs::write(root.join("sub/bad:name"), b"").unwrap();

        let d = s
            .create(&SmbPath::parse("SUB").unwrap(), &params(Open, Some(true)))
            .unwrap();
        let mut entries = d.handle.read_dir().unwrap();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<(&str, bool)> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.info.is_dir))
            .collect();
        assert_eq!(
            names,
            [
                ("a.txt", false),
                ("alias", false),
                ("inner", true),
                ("tosib", true)
            ]
        );
        assert_eq!(entries[0].info.size, 5);
        assert_eq!(
            entries[1].info.file_id, entries[0].info.file_id,
            "a symlink shows its target"
        );
        assert_eq!(entries[2].info.size, 0);

        // After the directory is renamed behind our back, links stay confined.
        std::fs::rename(root.join("sub"), root.join("moved")).unwrap();
        let mut entries = d.handle.read_dir().unwrap();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "alias", "inner"]);
        d.handle.set_rel_path("moved".into());
        assert_eq!(d.handle.read_dir().unwrap().len(), 4);

        let f = s
            .create(
                &SmbPath::parse("moved\\a.txt").unwrap(),
                &params(Open, None),
            )
            .unwrap();
        assert!(f.handle.read_dir().is_err());
    }
}
