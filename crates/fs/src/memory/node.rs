//! One object of the in-memory file system: a file or a directory, with what NTFS keeps
//! for it (MS-FSA 2.1.1.3 File: times, attributes, EAs, named streams, a security
//! descriptor) and a stable id (its inode number).

use std::collections::BTreeMap;

use opportune_types::FileAttributes;

use crate::ea_blob::Ea;
use crate::info::FileInfo;

/// The unit of allocation (FileInfo::allocation_size and the budget are counted in it).
pub(super) const CLUSTER: u64 = 4096;

/// The device number every object of a memory share reports.
pub(super) const DEVICE: u64 = 0x6d65_6d66;

pub(super) enum Kind {
    /// Data, and the allocation last asked for beyond it (FileAllocationInformation).
    File { data: Vec<u8>, reserved: u64 },
    /// Entries by name as created; a BTreeMap, so a listing's order is the names'.
    Dir { entries: BTreeMap<String, u64> },
}

/// A named stream (MS-FSCC 2.1.5.3): its name as created and its data.
pub(super) struct Stream {
    pub name: String,
    pub data: Vec<u8>,
}

pub(super) struct Node {
    pub id: u64,
    pub kind: Kind,
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
    /// The settable FILE_ATTRIBUTE_* bits (DIRECTORY is derived).
    pub attributes: u32,
    pub eas: Vec<Ea>,
    pub sd: Option<Vec<u8>>,
    pub streams: Vec<Stream>,
    /// Names of it in the tree (hard links); 0: deleted, kept while handles remain.
    pub nlink: u32,
    /// Handles open on it.
    pub opens: u32,
}

impl Node {
    pub(super) fn new(id: u64, kind: Kind, attributes: u32, now: u64) -> Node {
        Node {
            id,
            kind,
            creation_time: now,
            last_access_time: now,
            last_write_time: now,
            change_time: now,
            attributes,
            eas: Vec::new(),
            sd: None,
            streams: Vec::new(),
            nlink: 1,
            opens: 0,
        }
    }

    pub(super) fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir { .. })
    }

    pub(super) fn size(&self) -> u64 {
        match &self.kind {
            Kind::File { data, .. } => data.len() as u64,
            Kind::Dir { .. } => 0,
        }
    }

    /// What the file holds of the volume: its data or its reservation, whole clusters.
    pub(super) fn allocation(&self) -> u64 {
        match &self.kind {
            Kind::File { data, reserved } => (data.len() as u64).max(*reserved).next_multiple_of(CLUSTER),
            Kind::Dir { .. } => 0,
        }
    }

    /// What the object charges to the budget: its allocation and its streams'.
    pub(super) fn charge(&self) -> u64 {
        self.allocation() + self.streams.iter().map(|s| crate::stream::allocation(s.data.len() as u64)).sum::<u64>()
    }

    pub(super) fn entries(&self) -> Option<&BTreeMap<String, u64>> {
        match &self.kind {
            Kind::Dir { entries } => Some(entries),
            Kind::File { .. } => None,
        }
    }

    pub(super) fn entries_mut(&mut self) -> Option<&mut BTreeMap<String, u64>> {
        match &mut self.kind {
            Kind::Dir { entries } => Some(entries),
            Kind::File { .. } => None,
        }
    }

    /// The named stream `name`, ignoring case (stream names are, MS-FSCC 2.1.5.3).
    pub(super) fn stream(&self, name: &str) -> Option<usize> {
        self.streams.iter().position(|s| crate::path::eq_ignore_case(&s.name, name))
    }

    /// The SMB view, as the POSIX backend builds it from statx and its record.
    pub(super) fn info(&self) -> FileInfo {
        let is_dir = self.is_dir();
        let mut attributes = self.attributes & FileAttributes::SETTABLE;
        if is_dir {
            attributes |= FileAttributes::DIRECTORY;
        }
        FileInfo {
            file_id: self.id,
            dev: DEVICE,
            size: self.size(),
            allocation_size: self.allocation(),
            creation_time: self.creation_time,
            last_access_time: self.last_access_time,
            last_write_time: self.last_write_time,
            change_time: self.change_time,
            attributes,
            nlink: self.nlink,
            is_dir,
            stream: 0,
        }
    }
}
