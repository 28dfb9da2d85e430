//! Inputs and outputs of [`crate::LockCore`]: configuration, requests, outcomes, events.

use crate::caching::{CreatePolicy, GrantedCaching, LeaseState, OplockLevel, RequestedCaching};
use crate::ids::{ConnId, FileKey, LeaseId, OpenId, RequestId};
use opportune_types::{AccessMask, NtStatus, ShareAccess};
use std::time::Duration;

/// Server-wide settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Oplock and lease break acknowledgment timer (MS-SMB2 3.3.2.1, 3.3.2.5; Windows
    /// and Samba use 35 s).
    pub break_timeout: Duration,
    pub oplocks: bool,
    pub level2_oplocks: bool,
    pub leases: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { break_timeout: Duration::from_secs(35), oplocks: true, level2_oplocks: true, leases: true }
    }
}

/// One CREATE after the server resolved the path and checked access (MS-SMB2 3.3.5.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    pub conn: ConnId,
    pub open: OpenId,
    pub file: FileKey,
    /// Granted access, generic rights already mapped.
    pub access: AccessMask,
    pub share: ShareAccess,
    pub requested: RequestedCaching,
    pub is_directory: bool,
    /// FILE_SUPERSEDE, FILE_OVERWRITE or FILE_OVERWRITE_IF on an existing file.
    pub truncating: bool,
    /// FILE_DELETE_ON_CLOSE in CreateOptions.
    pub delete_on_close: bool,
    pub policy: CreatePolicy,
    /// For an open of a named stream: the file it belongs to (Stream.File). The file's
    /// delete-pending state and DELETE sharing span its streams (MS-FSA 2.1.5.1.2).
    pub base: Option<FileKey>,
}

/// The answer to [`crate::LockCore::handle_create`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The open is registered; answer the CREATE with this caching.
    Granted { caching: GrantedCaching },
    /// Breaks are outstanding: answer STATUS_PENDING (interim response) and wait for
    /// [`Event::CompleteCreate`] (MS-SMB2 3.3.4.2 async processing).
    Deferred,
    /// STATUS_SHARING_VIOLATION, STATUS_DELETE_PENDING, STATUS_INVALID_PARAMETER (lease
    /// key bound to another file). Nothing was registered.
    Denied(NtStatus),
    /// Only in [`Event::CompleteCreate`]: the file the create waited on was deleted when
    /// its last open closed; redo the create from the path lookup.
    Restart,
}

/// What the server must do after a close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseOutcome {
    pub file: FileKey,
    /// The last open of a delete-pending file closed: unlink it now (MS-FSA 2.1.5.4).
    pub delete_file: bool,
    /// The last open of a named stream closed, and the file it belongs to is
    /// delete-pending with no opens left: unlink the file now.
    pub delete_base: bool,
}

/// The answer to [`crate::LockCore::handle_lock`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockOutcome {
    Done(NtStatus),
    /// A blocking lock waits: answer STATUS_PENDING; [`Event::CompleteLock`] follows.
    Pending,
}

/// The answer to [`crate::LockCore::handle_rename`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameOutcome {
    Proceed,
    /// Handle caching of other opens is being broken; [`Event::CompleteRename`] follows.
    Deferred,
}

/// Work for the server, drained with [`crate::LockCore::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// MS-SMB2 3.3.4.6: send an Oplock Break Notification. A break from LEVEL_II needs no
    /// acknowledgment and is already in force. `to_level` is LEVEL_II or NONE.
    SendOplockBreak { conn: ConnId, open: OpenId, to_level: OplockLevel },
    /// MS-SMB2 3.3.4.7: send a Lease Break Notification (`epoch` is NewEpoch, for v2;
    /// `from` and `to` are CurrentLeaseState and NewLeaseState).
    SendLeaseBreak { conn: ConnId, lease: LeaseId, epoch: u16, v2: bool, from: LeaseState, to: LeaseState, ack_required: bool },
    /// A deferred create is decided.
    CompleteCreate { open: OpenId, outcome: CreateOutcome },
    /// A pending lock is decided (SUCCESS, CANCELLED, or RANGE_NOT_LOCKED when its open closed).
    CompleteLock { request: RequestId, open: OpenId, status: NtStatus },
    /// A deferred rename may proceed (SUCCESS) or its open went away (FILE_CLOSED).
    CompleteRename { request: RequestId, open: OpenId, status: NtStatus },
}
