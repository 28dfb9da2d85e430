//! Parsed security descriptors by file, validated by the change time an open already
//! read, so an unchanged file's access check costs no system call (`access_check`).

use crate::security::Descriptor;
use opportune_fs::FileInfo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Entries the cache holds before it starts over (a few MiB at most).
const MAX_CACHED: usize = 16 * 1024;

/// A file's stored descriptor, or None when it has none (`security::unstored`).
pub type Stored = Option<Arc<Descriptor>>;

/// Parsed descriptors by (device, inode), each with the change time it was read at.
#[derive(Default)]
pub struct DescriptorCache {
    entries: Mutex<HashMap<(u64, u64), (u64, Stored)>>,
}

impl DescriptorCache {
    /// The cached descriptor of `info`'s file, if it was read at the change time `info` has.
    pub fn get(&self, info: &FileInfo) -> Option<Stored> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(info.dev, info.file_id)).filter(|(t, _)| *t == info.change_time).map(|(_, sd)| sd.clone())
    }

    /// Keeps `sd` as the descriptor of `info`'s file at `info`'s change time.
    pub fn put(&self, info: &FileInfo, sd: Stored) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert((info.dev, info.file_id), (info.change_time, sd));
    }

    /// Drops what is cached for the file `info` describes (its descriptor was set).
    pub fn forget(&self, info: &FileInfo) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(&(info.dev, info.file_id));
    }
}
