//! Renaming a stream open to another stream of the same file (MS-FSA 2.1.5.14.11
//! FileRenameInformation with a target ":name[:$DATA]").

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::error::FsError;
use crate::posix_handle::PosixHandle;
use crate::rel_path::split_rel_stream;
use crate::stream::{self, StreamName};
use crate::stream_io::StreamIo;

impl PosixHandle {
    /// FileRenameInformation of a stream open to another stream of the same
    /// file (MS-FSA 2.1.5.14.11, target ":name[:$DATA]"; `target` `None` is
    /// the default stream "::$DATA"). Returns the new `rel_path` (also
    /// recorded here).
    ///
    /// * The source must be a named stream (`InvalidParameter` otherwise).
    /// * A target that exists (another stream, or the default stream, which
    ///   always exists) is `Exists` without `replace`; with `replace` it must
    ///   be empty (`InvalidParameter` otherwise, as NTFS answers).
    /// * The same name in another case changes the stored case.
    /// * Renaming to the default stream moves the data into the (empty) file;
    ///   this handle then stands for the file, read-only.
    ///
    /// Other opens of the old stream find it gone.
    pub fn rename_stream(&self, target: Option<&str>, replace: bool) -> Result<String, FsError> {
        let Some(src) = self.stream() else {
            return Err(FsError::InvalidParameter);
        };
        let rel = self.rel_path();
        let base_rel = split_rel_stream(&rel).0.to_string();
        let io = StreamIo { fd: self.fd(), s: src.clone() };
        match target {
            None => {
                if self.base_is_dir() {
                    return Err(FsError::InvalidParameter);
                }
                if !replace {
                    return Err(FsError::Exists);
                }
                if self.base_info()?.size != 0 {
                    return Err(FsError::InvalidParameter);
                }
                let data = io.data()?;
                let w = self
                    .root
                    .open_rel(&base_rel, libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY)?;
                File::from(w).write_all_at(&data, 0)?;
                self.with_owner_write(false, || stream::remove(self.fd(), &src))??;
                self.set_stream(None);
                self.set_rel_path(base_rel.clone());
                Ok(base_rel)
            }
            Some(name) => {
                let dst = StreamName::new(name)?;
                let same = dst.xattr == src.xattr;
                if !same
                    && let Some((_, d)) = stream::get(self.fd(), &dst)? {
                        if !replace {
                            return Err(FsError::Exists);
                        }
                        if !d.is_empty() {
                            return Err(FsError::InvalidParameter);
                        }
                    }
                let data = io.data()?;
                self.with_owner_write(false, || -> Result<(), FsError> {
                    stream::put(self.fd(), &dst.name, &dst.xattr, &data, 0)?;
                    if !same {
                        stream::remove(self.fd(), &src)?;
                    }
                    Ok(())
                })??;
                let new_rel = format!("{base_rel}:{}", dst.name);
                self.set_stream(Some(dst));
                self.set_rel_path(new_rel.clone());
                Ok(new_rel)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SmbPath;
    use crate::testutil::{params, parse, xattr_share};
    use opportune_types::create::CreateDisposition::*;

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
