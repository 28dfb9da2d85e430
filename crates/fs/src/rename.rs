//! Rename (MS-FSA 2.1.5.14.11 FileRenameInformation, at the file-system level).

use std::os::fd::AsFd;

use crate::error::FsError;
use crate::path::SmbPath;
use crate::rel_path::{cstr, join, split_last, split_rel, split_rel_stream};
use crate::resolve::locate;
use crate::root::Root;
use crate::sys;

fn same_object(a: &libc::statx, b: &libc::statx) -> bool {
    (a.stx_ino, a.stx_dev_major, a.stx_dev_minor) == (b.stx_ino, b.stx_dev_major, b.stx_dev_minor)
}

fn is_dir(st: &libc::statx) -> bool {
    u32::from(st.stx_mode) & libc::S_IFMT == libc::S_IFDIR
}

/// What a rename put its source over: (device, inode, link count before), for the
/// server's quota accounting.
pub type Replaced = (u64, u64, u32);

/// The rename of MS-FSA 2.1.5.14.11 behind `Share::rename`, whose documentation
/// lists the rules, telling in `replaced` what object the rename replaced, if it did.
pub(crate) fn rename_replacing(
    root: &Root,
    from: &str,
    to: &SmbPath,
    replace: bool,
    replaced: &mut Option<Replaced>,
) -> Result<String, FsError> {
    if to.explicit_data_stream() || split_rel_stream(from).1.is_some() {
        return Err(FsError::InvalidParameter);
    }
    let Some(new_name) = to.file_name() else {
        return Err(FsError::AccessDenied);
    };
    if split_rel(from)?.is_empty() {
        return Err(FsError::AccessDenied); // the share root
    }
    let (src_parent, src_name) = split_last(from);
    let src_dir = root.open_dir(src_parent)?;
    let src_c = cstr(src_name)?;
    let src_st = sys::statx(src_dir.as_fd(), &src_c, libc::AT_SYMLINK_NOFOLLOW)?;

    let l = locate(root, to.components())?;
    let dst_dir = root.open_dir(&l.parent)?;
    let new_c = cstr(new_name)?;
    let new_rel = join(&l.parent, new_name);
    let map = |e: std::io::Error| match e.raw_os_error() {
        Some(libc::EINVAL) => FsError::InvalidParameter,
        Some(libc::ENOTEMPTY) => FsError::AccessDenied,
        _ => FsError::from(e),
    };
    if !l.found {
        rename_noreplace(&src_dir, &src_c, &dst_dir, &new_c).map_err(map)?;
        return Ok(new_rel);
    }
    let old_c = cstr(&l.name)?;
    let dst_st = sys::statx(dst_dir.as_fd(), &old_c, libc::AT_SYMLINK_NOFOLLOW)?;
    let src_dir_st = sys::fstatx(src_dir.as_fd())?;
    let dst_dir_st = sys::fstatx(dst_dir.as_fd())?;
    if same_object(&src_dir_st, &dst_dir_st)
        && l.name == src_name
        && same_object(&src_st, &dst_st)
    {
        // The target is the source: nothing to do, or a change of case.
        if new_name != src_name {
            rename_noreplace(&src_dir, &src_c, &dst_dir, &new_c).map_err(map)?;
        }
        return Ok(new_rel);
    }
    if !replace {
        return Err(FsError::Exists);
    }
    if is_dir(&dst_st) {
        return Err(FsError::AccessDenied);
    }
    if is_dir(&src_st) {
        // rename(2) cannot put a directory over a file: swap them
        // atomically, then drop the file now under the old name.
        sys::renameat2(
            src_dir.as_fd(),
            &src_c,
            dst_dir.as_fd(),
            &old_c,
            libc::RENAME_EXCHANGE,
        )
        .map_err(map)?;
        sys::unlinkat(src_dir.as_fd(), &src_c, 0)?;
    } else {
        sys::renameat2(src_dir.as_fd(), &src_c, dst_dir.as_fd(), &old_c, 0).map_err(map)?;
    }
    *replaced = Some((libc::makedev(dst_st.stx_dev_major, dst_st.stx_dev_minor), dst_st.stx_ino, dst_st.stx_nlink));
    if l.name == new_name {
        return Ok(new_rel);
    }
    // Give the replaced entry the client's spelling.
    match rename_noreplace(&dst_dir, &old_c, &dst_dir, &new_c) {
        Ok(()) => Ok(new_rel),
        Err(_) => Ok(join(&l.parent, &l.name)),
    }
}

/// renameat2(RENAME_NOREPLACE), falling back to a check-then-rename on file
/// systems that do not support the flag.
pub(crate) fn rename_noreplace(
    src_dir: &std::os::fd::OwnedFd,
    src: &std::ffi::CStr,
    dst_dir: &std::os::fd::OwnedFd,
    dst: &std::ffi::CStr,
) -> std::io::Result<()> {
    match sys::renameat2(
        src_dir.as_fd(),
        src,
        dst_dir.as_fd(),
        dst,
        libc::RENAME_NOREPLACE,
    ) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            // EINVAL is also "directory below itself"; only retry if the
            // flag is the problem, i.e. the target is absent.
            if sys::statx(dst_dir.as_fd(), dst, libc::AT_SYMLINK_NOFOLLOW).is_ok() {
                return Err(std::io::Error::from_raw_os_error(libc::EEXIST));
            }
            sys::renameat2(src_dir.as_fd(), src, dst_dir.as_fd(), dst, 0)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{parse as p, share};

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn rename_without_replace() {
        let (t, s) = share("rn-plain", false);
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("a.txt"), b"A").unwrap();
        std::fs::write(t.path().join("b.txt"), b"B").unwrap();
        assert_eq!(
            s.rename("a.txt", &p("D\\Moved.txt"), false).unwrap(),
            "d/Moved.txt"
        );
        assert_eq!(std::fs::read(t.path().join("d/Moved.txt")).unwrap(), b"A");
        assert!(matches!(
            s.rename("d/Moved.txt", &p("B.TXT"), false),
            Err(FsError::Exists)
        ));
        assert!(matches!(
            s.rename("d/Moved.txt", &p("b.txt"), false),
            Err(FsError::Exists)
        ));
        assert!(matches!(
            s.rename("d/Moved.txt", &p("nodir\\x"), false),
            Err(FsError::PathNotFound)
        ));
        assert!(matches!(
            s.rename("missing", &p("x"), false),
            Err(FsError::NotFound)
        ));
        assert!(matches!(
            s.rename("", &p("x"), false),
            Err(FsError::AccessDenied)
        ));
        assert!(matches!(
            s.rename("d", &p(""), false),
            Err(FsError::AccessDenied)
        ));
        assert!(matches!(
            s.rename("d", &p("d\\sub"), false),
            Err(FsError::InvalidParameter)
        ));
        assert_eq!(std::fs::read(t.path().join("b.txt")).unwrap(), b"B");
    }

    #[test]
    fn rename_with_replace() {
        let (t, s) = share("rn-replace", false);
        std::fs::write(t.path().join("src"), b"new").unwrap();
        std::fs::write(t.path().join("target.txt"), b"old").unwrap();
        std::fs::create_dir(t.path().join("dir")).unwrap();
        assert!(matches!(
            s.rename("src", &p("DIR"), true),
            Err(FsError::AccessDenied)
        ));
        assert_eq!(
            s.rename("src", &p("TARGET.txt"), true).unwrap(),
            "TARGET.txt"
        );
        assert_eq!(names(t.path()), ["TARGET.txt", "dir"]);
        assert_eq!(std::fs::read(t.path().join("TARGET.txt")).unwrap(), b"new");
        // A directory may replace a file.
        std::fs::write(t.path().join("dir/inside"), b"").unwrap();
        assert_eq!(
            s.rename("dir", &p("target.TXT"), true).unwrap(),
            "target.TXT"
        );
        assert_eq!(names(t.path()), ["target.TXT"]);
        assert!(t.path().join("target.TXT/inside").exists());
    }

    #[test]
    fn case_only_rename() {
        let (t, s) = share("rn-case", false);
        std::fs::write(t.path().join("file.txt"), b"x").unwrap();
        assert_eq!(
            s.rename("file.txt", &p("FILE.TXT"), false).unwrap(),
            "FILE.TXT"
        );
        assert_eq!(names(t.path()), ["FILE.TXT"]);
        assert_eq!(
            s.rename("FILE.TXT", &p("FILE.TXT"), false).unwrap(),
            "FILE.TXT"
        );
        assert_eq!(
            s.rename("FILE.TXT", &p("File.txt"), true).unwrap(),
            "File.txt"
        );
        assert_eq!(names(t.path()), ["File.txt"]);
        // A hard link under another name is a different entry: collision.
        std::fs::hard_link(t.path().join("File.txt"), t.path().join("link")).unwrap();
        assert!(matches!(
            s.rename("File.txt", &p("LINK"), false),
            Err(FsError::Exists)
        ));

        let (t2, cs) = share("rn-case-cs", true);
        std::fs::write(t2.path().join("a"), b"").unwrap();
        assert_eq!(cs.rename("a", &p("A"), false).unwrap(), "A");
        assert_eq!(names(t2.path()), ["A"]);
    }
}
