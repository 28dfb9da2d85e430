//! Opens: what a FileId names (MS-SMB2 3.3.1.10).

use opportune_fs::Handle;
use opportune_types::{AccessMask, FileId};
use std::sync::Arc;

/// The state of the enumerations an open can run: QUERY_DIRECTORY on a
/// directory, and FileFullEaInformation queries (MS-FSA 2.1.5.12.? Open.NextEaEntry).
#[derive(Default)]
pub struct DirSearch {
    pub pattern: Option<String>,
    /// The entries of the current enumeration, including "." and "..", and how many were returned.
    pub entries: Option<Vec<(String, opportune_wire::fscc::FileMeta)>>,
    pub position: usize,
    /// The index of the next EA a FileFullEaInformation query returns.
    pub next_ea: usize,
    /// The index of the next entry a quota enumeration returns (MS-SMB2 3.3.5.20.4).
    pub next_quota: usize,
}

/// Changes seen on a watched directory open that no CHANGE_NOTIFY has collected yet.
#[derive(Default)]
pub struct NotifyState {
    pub changes: Vec<(u32, String)>,
    /// More changes happened than are kept: the client must re-enumerate.
    pub overflow: bool,
    /// How much the answer to the current CHANGE_NOTIFY may hold: its OutputBufferLength,
    /// but never more than the first request on the handle asked for (Windows sizes the
    /// handle's change buffer once; smbtorture smb2.notify.valid-req).
    pub max: u32,
    /// OutputBufferLength of the first CHANGE_NOTIFY on this handle.
    pub first_max: Option<u32>,
}

pub struct Open {
    pub file_id: FileId,
    pub session_id: u64,
    pub tree_id: u32,
    /// Index of the share in the server's share list.
    pub share: usize,
    pub handle: Arc<Handle>,
    pub access: AccessMask,
    pub is_dir: bool,
    pub delete_on_close: bool,
    pub dir: DirSearch,
    /// FilePositionInformation (MS-FSCC 2.4.35): set by SET_INFO and advanced by
    /// READ and WRITE; SMB2 I/O always names its offset, so it is only reported.
    pub position: u64,
    pub mode: u32,
    pub notify: NotifyState,
    /// A rename of this open waiting for handle-caching breaks of other opens.
    pub pending_rename: Option<PendingRename>,
    /// Set for a durable handle: the open outlives its connection (see `durable`).
    pub durable: Option<crate::durable::Durable>,
    /// FSCTL_LMR_REQUEST_RESILIENCY was granted (MS-SMB2 3.3.5.15.9).
    pub resilient: bool,
    /// Open.LockSequenceArray (MS-SMB2 3.3.1.10): the sequence number of the last
    /// successful LOCK per index 1..=64, for replay detection. Allocated on first use.
    pub lock_sequences: Option<Box<[Option<u8>; 64]>>,
    /// This open's place in the descriptor budget and its session's open count.
    pub ticket: crate::fd_budget::OpenTicket,
    /// The file's key in its share's quota table, when the share tracks quotas (a file's
    /// own data, not a directory or named stream): growth through this open is checked.
    pub quota: Option<crate::quota::table::FileKey>,
}

/// The parameters of a deferred FileRenameInformation (MS-SMB2 3.3.5.21.1).
pub struct PendingRename {
    pub target: opportune_fs::SmbPath,
    pub replace: bool,
}

impl Open {
    /// Whether any of the rights in `any_of` was granted at create time.
    pub fn has_access(&self, any_of: u32) -> bool {
        self.access.intersects(any_of)
    }
}

