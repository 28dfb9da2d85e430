//! The in-memory file system as a [`Backend`]: each operation under the tree's lock.

use std::os::fd::OwnedFd;

use crate::backend::Backend;
use crate::create_types::{CreateParams, Opened};
use crate::ea_blob::Ea;
use crate::error::FsError;
use crate::handle::Handle;
use crate::info::{FileInfo, FsStats};
use crate::path::SmbPath;
use crate::rel_path::split_rel_stream;
use crate::rename::Replaced;

use super::node::CLUSTER;
use super::{create, ops, MemoryFs};

/// Units a volume without a budget reports (4 TiB).
const UNBOUNDED_UNITS: u64 = 1 << 30;

impl Backend for MemoryFs {
    fn case_sensitive(&self) -> bool {
        self.shared.tree().case_sensitive
    }

    fn statfs(&self) -> Result<FsStats, FsError> {
        let tree = self.shared.tree();
        let total_units = (tree.budget / CLUSTER).min(UNBOUNDED_UNITS);
        let free_units = (tree.budget.saturating_sub(tree.used) / CLUSTER).min(total_units);
        Ok(FsStats { total_units, free_units, avail_units: free_units, sectors_per_unit: (CLUSTER / 512) as u32, bytes_per_sector: 512, max_name_len: 255 })
    }

    fn create(&self, path: &SmbPath, p: &CreateParams) -> Result<Opened, FsError> {
        create::create(&self.shared, path, p)
    }

    fn rename_replacing(&self, from: &str, to: &SmbPath, replace: bool) -> Result<(String, Option<Replaced>), FsError> {
        ops::rename(&mut self.shared.tree(), from, to, replace)
    }

    fn stat(&self, rel: &str) -> Result<FileInfo, FsError> {
        ops::stat(&self.shared.tree(), rel)
    }

    fn remove(&self, rel: &str, is_dir: bool) -> Result<(), FsError> {
        ops::remove(&mut self.shared.tree(), rel, is_dir)
    }

    fn remove_open(&self, handle: &Handle, is_dir: bool, base_only: bool) -> Result<Option<String>, FsError> {
        let Some(h) = handle.as_memory() else { return Err(FsError::InvalidParameter) };
        let Some(rel) = h.current_rel_path()? else { return Ok(None) };
        let (base, _) = split_rel_stream(&rel);
        let target = if base_only { base } else { rel.as_str() };
        ops::remove(&mut self.shared.tree(), target, is_dir && !base_only)?;
        Ok(Some(target.to_string()))
    }

    fn is_dir_empty(&self, rel: &str) -> Result<bool, FsError> {
        ops::is_dir_empty(&self.shared.tree(), rel)
    }

    fn eas_at(&self, rel: &str) -> Result<Vec<Ea>, FsError> {
        let tree = self.shared.tree();
        Ok(tree.node(tree.resolve(split_rel_stream(rel).0)?)?.eas.clone())
    }

    fn security_descriptor_at(&self, rel: &str) -> Result<Option<Vec<u8>>, FsError> {
        let tree = self.shared.tree();
        Ok(tree.node(tree.resolve(split_rel_stream(rel).0)?)?.sd.clone())
    }

    fn subdirectories(&self, rel: &str, max: usize) -> Result<Vec<String>, FsError> {
        ops::subdirectories(&self.shared.tree(), rel, max)
    }

    /// Nothing of it is on the host.
    fn on_host(&self) -> bool {
        false
    }

    /// No open file descriptions to share: nothing to do.
    fn share_descriptions(&self, _on: bool) {}

    /// No host directory to watch.
    fn open_dir(&self, _rel: &str) -> Result<OwnedFd, FsError> {
        Err(FsError::NotSupported)
    }

    fn identity_of(&self, _rel: &str) -> Result<(u64, u64), FsError> {
        Err(FsError::NotSupported)
    }
}
