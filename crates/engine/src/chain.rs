//! Compound chains (MS-SMB2 3.3.5.2.7): what one message of a chain hands the next, and
//! the rest of a chain that waits behind an asynchronous request. The dispatcher owns
//! them; the handlers read and set the state, the pending table keeps a waiting rest.

use opportune_types::{FileId, NtStatus};

/// State carried from one message of a compound chain to the next (MS-SMB2 3.3.5.2.7).
#[derive(Clone, Default)]
pub struct ChainState {
    pub session_id: u64,
    pub tree_id: u32,
    pub file_id: Option<FileId>,
    pub last_status: NtStatus,
    /// The frame arrived encrypted: responses are encrypted, not signed.
    pub encrypted: bool,
    /// The session whose key decrypted the frame (0 for a plaintext frame): the only
    /// session a message of this chain may act for (MS-SMB2 3.3.5.2.1.1).
    pub decrypted_by: u64,
    /// A CREATE of this chain failed: related requests after it fail the same way.
    pub create_error: Option<NtStatus>,
    /// The message being processed is the last of its chain.
    pub last: bool,
    /// The message just processed went asynchronous with this AsyncId.
    pub went_async: Option<u64>,
    /// Bytes the responses still to come in this chain's frame may take (the frame's
    /// length field has 24 bits, and the memory was reserved for this much).
    pub response_room: usize,
    /// Bytes of the frame after the message being processed (kept if it goes async).
    pub rest_len: usize,
    /// The message being processed carried a signature that did not verify: its answer
    /// goes out unsigned (no signing with a key the requester has not proven).
    pub signature_failed: bool,
}

/// The part of a compound chain that waits for an asynchronous request before it.
#[derive(Clone)]
pub struct RestOfChain {
    pub frame: Vec<u8>,
    pub chain: ChainState,
}
