//! The POSIX backend's share operations: a [`Root`] (a directory of the host) as a
//! [`Backend`], each operation the module that implements it.

use std::os::fd::{AsFd, OwnedFd};

use crate::backend::Backend;
use crate::create;
use crate::create_types::{CreateParams, Opened};
use crate::ea::{eas_at, security_descriptor_at};
use crate::ea_blob::Ea;
use crate::error::FsError;
use crate::handle::Handle;
use crate::info::{FileInfo, FsStats};
use crate::path::SmbPath;
use crate::remove;
use crate::rename::{rename_replacing, Replaced};
use crate::root::Root;
use crate::stat::stat;
use crate::volume;

/// A share root as a backend (the root is shared with the handles it opens).
#[derive(Clone)]
pub(crate) struct PosixShare(pub(crate) std::sync::Arc<Root>);

impl Backend for PosixShare {
    fn case_sensitive(&self) -> bool {
        self.0.case_sensitive
    }

    fn statfs(&self) -> Result<FsStats, FsError> {
        volume::stats(&self.0)
    }

    fn create(&self, path: &SmbPath, p: &CreateParams) -> Result<Opened, FsError> {
        create::create(&self.0, path, p)
    }

    fn rename_replacing(&self, from: &str, to: &SmbPath, replace: bool) -> Result<(String, Option<Replaced>), FsError> {
        let mut replaced = None;
        let rel = rename_replacing(&self.0, from, to, replace, &mut replaced)?;
        Ok((rel, replaced))
    }

    fn stat(&self, rel: &str) -> Result<FileInfo, FsError> {
        stat(&self.0, rel)
    }

    fn remove(&self, rel: &str, is_dir: bool) -> Result<(), FsError> {
        remove::remove(&self.0, rel, is_dir)
    }

    fn remove_open(&self, handle: &Handle, is_dir: bool, base_only: bool) -> Result<Option<String>, FsError> {
        let Some(handle) = handle.as_posix() else { return Err(FsError::InvalidParameter) };
        // The usual case, in one look: the recorded name still names the object.
        if handle.stream_name().is_none()
            && let Some(removed) = remove::remove_if_named(&self.0, handle, is_dir)?
        {
            return Ok(Some(removed));
        }
        let Some(rel) = handle.current_rel_path()? else { return Ok(None) };
        let (base, _) = crate::rel_path::split_rel_stream(&rel);
        let target = if base_only { base } else { rel.as_str() };
        if !handle.named_by(&self.0, base)? {
            return Ok(None);
        }
        remove::remove(&self.0, target, is_dir && !base_only)?;
        Ok(Some(target.to_string()))
    }

    fn is_dir_empty(&self, rel: &str) -> Result<bool, FsError> {
        remove::is_dir_empty(&self.0, rel)
    }

    fn eas_at(&self, rel: &str) -> Result<Vec<Ea>, FsError> {
        eas_at(&self.0, rel)
    }

    fn security_descriptor_at(&self, rel: &str) -> Result<Option<Vec<u8>>, FsError> {
        security_descriptor_at(&self.0, rel)
    }

    fn subdirectories(&self, rel: &str, max: usize) -> Result<Vec<String>, FsError> {
        let dir = self.0.open_dir(rel)?;
        let mut out = Vec::new();
        for raw in crate::dirents::list_names(dir.as_fd())? {
            if out.len() >= max {
                break;
            }
            let Ok(name) = std::str::from_utf8(&raw) else { continue };
            if name.starts_with(".opportune-") {
                continue;
            }
            let Ok(c) = crate::rel_path::cstr(name) else { continue };
            match crate::sys::statx(dir.as_fd(), &c, libc::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if crate::info::statx_is_dir(&st) => out.push(crate::rel_path::join(rel, name)),
                _ => {}
            }
        }
        Ok(out)
    }

    fn on_host(&self) -> bool {
        true
    }

    fn share_descriptions(&self, on: bool) {
        self.0.descriptions.set_enabled(on);
    }

    fn open_dir(&self, rel: &str) -> Result<OwnedFd, FsError> {
        self.0.open_dir(rel)
    }

    fn identity_of(&self, rel: &str) -> Result<(u64, u64), FsError> {
        Ok(self.0.identity_of(rel)?)
    }
}
