//! What a handler answers: a status and a body, and what the dispatcher does with them.

use crate::fault::Fault;
use crate::pending::Waiting;
use opportune_crypto::Signer;
use opportune_types::NtStatus;
use opportune_wire::error_response::encode_error;
use std::sync::Arc;

pub struct Reply {
    pub status: NtStatus,
    pub body: Vec<u8>,
    /// The connection ends for this fault instead of the reply being sent.
    pub disconnect: Option<Fault>,
    /// A session id to put in the response (new sessions).
    pub session_id: u64,
    /// A tree id to put in the response (new tree connects).
    pub tree_id: u32,
    /// Sign with this key whatever the request said (final SESSION_SETUP).
    pub signer: Option<Arc<Signer>>,
    /// Never sign this response, whatever the request or session says: the request did
    /// not prove the session's key (a bad signature), so the key must not sign for it.
    pub unsigned: bool,
    /// The request goes asynchronous: an interim STATUS_PENDING is sent now and the final
    /// response when the lock core reports what it waited for (MS-SMB2 3.3.4.2).
    pub pending: Option<Waiting>,
    /// What a CREATE that goes asynchronous holds while it waits (kept in its pending record).
    pub deferred: Option<Box<crate::deferred_create::DeferredCreate>>,
    /// The body starts with HEADER_LEN bytes reserved for the header, which the dispatcher
    /// fills in place instead of copying the body behind a new header (large READs).
    pub header_room: bool,
}

impl Reply {
    pub fn ok(body: Vec<u8>) -> Reply {
        Reply::with_status(NtStatus::SUCCESS, body)
    }

    pub fn with_status(status: NtStatus, body: Vec<u8>) -> Reply {
        Reply {
            status,
            body,
            disconnect: None,
            session_id: 0,
            tree_id: 0,
            signer: None,
            unsigned: false,
            pending: None,
            deferred: None,
            header_room: false,
        }
    }

    pub fn error(status: NtStatus) -> Reply {
        let mut body = Vec::with_capacity(9);
        encode_error(&mut body);
        Reply::with_status(status, body)
    }

    pub fn pending(waiting: Waiting) -> Reply {
        Reply { pending: Some(waiting), ..Reply::error(NtStatus::PENDING) }
    }

    /// A CREATE that waits for breaks: its pending record will hold `d`.
    pub fn pending_create(d: Box<crate::deferred_create::DeferredCreate>) -> Reply {
        let waiting = Waiting::Create { open: d.plan.open };
        Reply { pending: Some(waiting), deferred: Some(d), ..Reply::error(NtStatus::PENDING) }
    }

    /// The answer to a fault: its status, or the end of the connection when the fault ends
    /// it (`Fault::ends_connection`).
    pub fn fault(fault: Fault) -> Reply {
        let reply = Reply::error(fault.status());
        Reply { disconnect: fault.ends_connection().then_some(fault), ..reply }
    }
}

impl From<NtStatus> for Reply {
    fn from(s: NtStatus) -> Reply {
        Reply::error(s)
    }
}

/// Result type of handler bodies: `?` turns an NTSTATUS into an error reply.
pub type HResult = Result<Reply, NtStatus>;

pub fn empty_ok() -> Reply {
    let mut body = Vec::with_capacity(4);
    opportune_wire::session::encode_empty(&mut body);
    Reply::ok(body)
}
