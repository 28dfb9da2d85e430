//! An open object of the in-memory file system, and its data: read, write, end of file
//! and allocation (MS-FSA 2.1.5.2, 2.1.5.3, 2.1.5.14.1, 2.1.5.14.4), flush (2.1.5.6).
//! A handle keeps its object alive: deleted, it stays readable and writable through
//! the handles still open on it, as an unlinked inode does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::error::FsError;
use crate::info::FileInfo;

use super::node::{Kind, Node, CLUSTER};
use super::tree::Tree;
use super::Shared;

pub(crate) struct MemHandle {
    pub(super) fs: Arc<Shared>,
    pub(super) id: u64,
    /// Whether the base object is a directory (also for a stream open).
    pub(super) base_is_dir: bool,
    /// The named stream of a stream open, as stored.
    pub(super) stream: RwLock<Option<String>>,
    pub(super) rel: RwLock<String>,
    /// Open.UserSetChangeTime (MS-FSA 2.1.5.14.2).
    pub(super) user_set_change_time: AtomicBool,
    /// The allocation last asked for through this open beyond what the file holds.
    pub(super) requested_allocation: AtomicU64,
}

/// The end of a write, `DiskFull` past what a file can hold (as the POSIX backend).
fn end_of(offset: u64, len: usize) -> Result<u64, FsError> {
    offset.checked_add(len as u64).filter(|&e| e <= i64::MAX as u64).ok_or(FsError::DiskFull)
}

impl MemHandle {
    /// A handle on `id` (counted among its opens); the tree is locked by the caller.
    pub(super) fn open(fs: &Arc<Shared>, tree: &mut Tree, id: u64, rel: String, stream: Option<String>) -> Result<MemHandle, FsError> {
        let node = tree.node_mut(id)?;
        node.opens += 1;
        Ok(MemHandle {
            fs: fs.clone(),
            id,
            base_is_dir: node.is_dir(),
            stream: RwLock::new(stream),
            rel: RwLock::new(rel),
            user_set_change_time: AtomicBool::new(false),
            requested_allocation: AtomicU64::new(0),
        })
    }

    pub(crate) fn stream(&self) -> Option<String> {
        self.stream.read().ok().and_then(|s| s.clone())
    }

    pub(super) fn set_stream(&self, s: Option<String>) {
        if let Ok(mut cur) = self.stream.write() {
            *cur = s;
        }
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.base_is_dir && self.stream().is_none()
    }

    pub(crate) fn rel_path(&self) -> String {
        self.rel.read().map(|r| r.clone()).unwrap_or_default()
    }

    pub(crate) fn set_rel_path(&self, rel: String) {
        if let Ok(mut r) = self.rel.write() {
            *r = rel;
        }
    }

    /// The stream's index in its base, `NotFound` if another open removed or renamed it.
    fn stream_index(&self, node: &Node, name: &str) -> Result<usize, FsError> {
        node.stream(name).ok_or(FsError::NotFound)
    }

    pub(crate) fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, FsError> {
        let tree = self.fs.tree();
        let node = tree.node(self.id)?;
        let data: &[u8] = match (self.stream(), &node.kind) {
            (Some(s), _) => &node.streams[self.stream_index(node, &s)?].data,
            (None, Kind::File { data, .. }) => data,
            (None, Kind::Dir { .. }) => return Err(FsError::IsADirectory),
        };
        let Some(start) = usize::try_from(offset).ok().filter(|&o| o < data.len()) else { return Ok(0) };
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    pub(crate) fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize, FsError> {
        if self.is_dir() {
            return Err(FsError::IsADirectory);
        }
        let end = end_of(offset, buf.len())?;
        self.fs.write_fault()?;
        self.resize_with(end, false, |data| {
            let start = offset as usize;
            data[start..start + buf.len()].copy_from_slice(buf);
        })?;
        Ok(buf.len())
    }

    /// Grows the data to at least `len` (exactly `len` if `exact`), within the budget,
    /// then lets `f` change it; the times follow.
    fn resize_with(&self, len: u64, exact: bool, f: impl FnOnce(&mut Vec<u8>)) -> Result<(), FsError> {
        let len_usize = usize::try_from(len).map_err(|_| FsError::DiskFull)?;
        let stream = self.stream();
        let mut tree = self.fs.tree();
        let node = tree.node(self.id)?;
        let old = node.charge();
        let index = stream.as_deref().map(|s| self.stream_index(node, s)).transpose()?;
        let (cur, reserved) = match (index, &node.kind) {
            (Some(i), _) => (node.streams[i].data.len() as u64, 0),
            (None, Kind::File { data, reserved }) => (data.len() as u64, *reserved),
            (None, Kind::Dir { .. }) => return Err(FsError::IsADirectory),
        };
        let new_len = if exact { len } else { len.max(cur) };
        if let Some(i) = index
            && new_len > cur
            && !crate::stream::fits(&node.streams[i].name, new_len)
        {
            return Err(FsError::DiskFull); // as the POSIX backend's xattr value would be
        }
        let new_alloc = match index {
            Some(_) => crate::stream::allocation(new_len),
            None => new_len.max(if new_len < cur || (exact && new_len == cur) { 0 } else { reserved }).next_multiple_of(CLUSTER),
        };
        let cur_alloc = match index {
            Some(_) => crate::stream::allocation(cur),
            None => node.allocation(),
        };
        tree.admit(old, old - cur_alloc + new_alloc)?;
        let t = tree.now();
        let node = tree.node_mut(self.id)?;
        let data = match (index, &mut node.kind) {
            (Some(i), _) => &mut node.streams[i].data,
            (None, Kind::File { data, reserved }) => {
                if new_len < cur || (exact && new_len == cur) {
                    *reserved = 0; // truncation gives back what lay beyond the end
                }
                data
            }
            (None, Kind::Dir { .. }) => return Err(FsError::IsADirectory),
        };
        data.resize(len_usize.max(if exact { 0 } else { data.len() }), 0);
        f(data);
        node.last_write_time = t;
        node.change_time = t;
        tree.settle(self.id, old);
        Ok(())
    }

    pub(crate) fn set_len(&self, len: u64) -> Result<(), FsError> {
        if len > i64::MAX as u64 {
            return Err(FsError::InvalidParameter);
        }
        if self.is_dir() {
            return Err(FsError::IsADirectory);
        }
        self.fs.write_fault()?;
        self.resize_with(len, true, |_| {})
    }

    pub(crate) fn set_allocation(&self, len: u64) -> Result<(), FsError> {
        self.requested_allocation.store(0, Ordering::Relaxed);
        if self.stream().is_some() {
            return if len < self.info()?.size { self.set_len(len) } else { Ok(()) };
        }
        if self.is_dir() {
            return Err(FsError::IsADirectory);
        }
        let info = self.info()?;
        if len < info.size {
            return self.set_len(len);
        }
        if len < info.allocation_size {
            return self.set_len(info.size);
        }
        self.fs.write_fault()?;
        let mut tree = self.fs.tree();
        let node = tree.node(self.id)?;
        let old = node.charge();
        let grown = old - node.allocation() + len.next_multiple_of(CLUSTER);
        tree.admit(old, grown)?;
        if let Kind::File { reserved, .. } = &mut tree.node_mut(self.id)?.kind {
            *reserved = len;
        }
        tree.settle(self.id, old);
        self.requested_allocation.store(len.next_multiple_of(CLUSTER), Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn sync(&self) -> Result<(), FsError> {
        self.fs.sync_fault()?;
        self.fs.tree().node(self.id).map(|_| ())
    }

    pub(crate) fn base_info(&self) -> Result<FileInfo, FsError> {
        Ok(self.fs.tree().node(self.id)?.info())
    }

    pub(crate) fn info(&self) -> Result<FileInfo, FsError> {
        let tree = self.fs.tree();
        let node = tree.node(self.id)?;
        let mut info = node.info();
        if let Some(s) = self.stream() {
            let st = &node.streams[self.stream_index(node, &s)?];
            info.size = st.data.len() as u64;
            info.allocation_size = crate::stream::allocation(info.size);
            info.is_dir = false;
            info.stream = crate::stream::stream_hash(&st.name);
        } else if !info.is_dir {
            info.allocation_size = info.allocation_size.max(self.requested_allocation.load(Ordering::Relaxed));
        }
        Ok(info)
    }
}

impl Drop for MemHandle {
    fn drop(&mut self) {
        let mut tree = self.fs.tree();
        if let Ok(n) = tree.node_mut(self.id) {
            n.opens = n.opens.saturating_sub(1);
        }
        tree.reap(self.id);
    }
}
