//! An open object's metadata in the in-memory file system: FileBasicInformation
//! (MS-FSA 2.1.5.14.2), EAs (2.1.5.15.5), the security descriptor, its named streams
//! and, for a directory, its entries (MS-FSA 2.1.5.5 QueryDirectory sees them in name
//! order, the same on every run).

use std::sync::atomic::Ordering;

use opportune_types::FileAttributes;

use crate::ea_blob::{apply_ea, encode_eas, valid_ea_name, Ea};
use crate::error::FsError;
use crate::info::{BasicInfo, DirEntry};

use super::handle::MemHandle;

/// MS-FSCC 2.4.7: 0 and -1/-2 in a time field mean "leave unchanged".
fn settable_time(t: Option<u64>) -> Option<u64> {
    t.filter(|&v| v != 0 && v < u64::MAX - 1)
}

impl MemHandle {
    /// As the POSIX backend's `set_basic` (documented at `Handle::set_basic`).
    pub(crate) fn set_basic(&self, b: &BasicInfo) -> Result<(), FsError> {
        let attrs = b.attributes.filter(|&a| a != 0);
        if let Some(a) = attrs
            && ((a & FileAttributes::DIRECTORY != 0 && !self.base_is_dir) || (a & FileAttributes::TEMPORARY != 0 && self.base_is_dir))
        {
            return Err(FsError::InvalidParameter);
        }
        let change = settable_time(b.change_time);
        if change.is_some() {
            self.user_set_change_time.store(true, Ordering::Relaxed);
        }
        let mut tree = self.fs.tree();
        let t_now = tree.now();
        let node = tree.node_mut(self.id)?;
        if let Some(t) = settable_time(b.last_access_time) {
            node.last_access_time = t;
        }
        let write = settable_time(b.last_write_time);
        if let Some(t) = write {
            node.last_write_time = t;
        }
        if let Some(c) = settable_time(b.creation_time) {
            node.creation_time = c;
        }
        if let Some(a) = attrs {
            node.attributes = a & FileAttributes::SETTABLE;
        }
        let anything = attrs.is_some() || settable_time(b.creation_time).is_some() || write.is_some();
        match change {
            Some(c) => node.change_time = c,
            None if anything && !self.user_set_change_time.load(Ordering::Relaxed) => node.change_time = t_now,
            None => {}
        }
        Ok(())
    }

    pub(crate) fn eas(&self) -> Result<Vec<Ea>, FsError> {
        Ok(self.fs.tree().node(self.id)?.eas.clone())
    }

    pub(crate) fn set_eas(&self, changes: &[Ea]) -> Result<(), FsError> {
        if changes.iter().any(|e| !valid_ea_name(&e.name)) {
            return Err(FsError::InvalidEaName);
        }
        let mut tree = self.fs.tree();
        let t = tree.now();
        let node = tree.node_mut(self.id)?;
        let mut eas = node.eas.clone();
        for c in changes {
            apply_ea(&mut eas, c);
        }
        if encode_eas(&eas).len() > u16::MAX as usize {
            return Err(FsError::DiskFull);
        }
        node.eas = eas;
        node.change_time = t;
        Ok(())
    }

    pub(crate) fn security_descriptor(&self) -> Result<Option<Vec<u8>>, FsError> {
        Ok(self.fs.tree().node(self.id)?.sd.clone())
    }

    pub(crate) fn set_security_descriptor(&self, sd: &[u8]) -> Result<(), FsError> {
        self.fs.tree().node_mut(self.id)?.sd = Some(sd.to_vec());
        Ok(())
    }

    pub(crate) fn streams(&self) -> Result<Vec<(String, u64, u64)>, FsError> {
        let tree = self.fs.tree();
        let mut out: Vec<(String, u64, u64)> = tree
            .node(self.id)?
            .streams
            .iter()
            .map(|s| {
                let size = s.data.len() as u64;
                (s.name.clone(), size, crate::stream::allocation(size))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    pub(crate) fn read_dir(&self) -> Result<Vec<DirEntry>, FsError> {
        if !self.is_dir() {
            return Err(FsError::NotADirectory);
        }
        let tree = self.fs.tree();
        let entries = tree.node(self.id)?.entries().ok_or(FsError::NotADirectory)?;
        Ok(entries
            .iter()
            .filter_map(|(name, id)| tree.nodes.get(id).map(|n| DirEntry { name: name.clone(), info: n.info() }))
            .collect())
    }

    pub(crate) fn dir_entry(&self, name: &str) -> Result<Option<DirEntry>, FsError> {
        if !self.is_dir() {
            return Err(FsError::NotADirectory);
        }
        let tree = self.fs.tree();
        let entries = tree.node(self.id)?.entries().ok_or(FsError::NotADirectory)?;
        Ok(entries.get(name).and_then(|id| tree.nodes.get(id)).map(|n| DirEntry { name: name.to_string(), info: n.info() }))
    }
}
