//! Per-connection protocol state (MS-SMB2 3.3.1.7): negotiated dialect, the
//! sequence window, sessions and opens. Owned by one connection task; never shared
//! while a request awaits.

use crate::credits::SequenceWindow;
use crate::open::Open;
use crate::session::Session;
use opportune_crypto::{PreauthHash, SigningAlgorithm};
use opportune_fs::UnixIdentity;
use opportune_types::NtStatus;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Default)]
pub struct Negotiated {
    pub dialect: u16,
    pub client_guid: [u8; 16],
    pub client_capabilities: u32,
    pub client_security_mode: u16,
    pub client_dialects: Vec<u16>,
    pub server_capabilities: u32,
    pub server_security_mode: u16,
    pub signing_algorithm: Option<SigningAlgorithm>,
    /// Encryption cipher id negotiated (0: none).
    pub cipher: u16,
}

/// What a break notification was about, to time its acknowledgment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakTarget {
    Open(u64),
    Lease([u8; 16]),
}

pub struct ConnState {
    pub id: u64,
    pub peer: SocketAddr,
    pub negotiated: Option<Negotiated>,
    /// Connection preauth integrity hash after NEGOTIATE (3.1.1 only).
    pub preauth: Option<PreauthHash>,
    pub window: SequenceWindow,
    pub sessions: HashMap<u64, Session>,
    pub opens: HashMap<u64, Open>,
    /// Named pipes open on IPC$ (`pipes`).
    pub pipes: crate::pipes::PipeTable,
    pub pending: crate::pending::PendingTable,
    /// Set when the connection must be dropped after the current reply.
    pub closing: bool,
    /// When each outstanding break was sent (for the link-quality guard).
    pub breaks_sent: HashMap<BreakTarget, std::time::Instant>,
    /// Windows' MaxLinkDelay / MinLinkThroughput verdict on this connection.
    pub link: crate::policy::LinkGuard,
    /// Opens held from this connection's client address, by all its connections.
    pub address_opens: crate::fd_budget::OpenCount,
    /// The NEGOTIATE response still has to be fed into the preauth hash (3.1.1).
    pub pending_preauth_response: bool,
    /// The answer to the frame just processed waits this long before it goes out (the
    /// failed-logon back-off, `throttle`); the connection task awaits it on a timer.
    pub answer_delay: Option<std::time::Duration>,
}

impl ConnState {
    /// Connection.ClientGuid (MS-SMB2 3.3.1.7), as NEGOTIATE set it; zero before (the
    /// lease table of a client that never said who it is).
    pub fn client_guid(&self) -> [u8; 16] {
        self.negotiated.as_ref().map_or([0; 16], |n| n.client_guid)
    }

    pub fn new(id: u64, peer: SocketAddr) -> Self {
        ConnState {
            id,
            peer,
            negotiated: None,
            preauth: None,
            window: SequenceWindow::default(),
            sessions: HashMap::new(),
            opens: HashMap::new(),
            pipes: Default::default(),
            pending: Default::default(),
            closing: false,
            breaks_sent: HashMap::new(),
            link: Default::default(),
            pending_preauth_response: false,
            address_opens: Default::default(),
            answer_delay: None,
        }
    }

    pub fn dialect(&self) -> u16 {
        self.negotiated.as_ref().map_or(0, |n| n.dialect)
    }

    pub fn cipher_id(&self) -> u16 {
        self.negotiated.as_ref().map_or(0, |n| n.cipher)
    }

    /// The UNIX identity that work for an open of tree `tree` runs as after its request (a
    /// delete-on-close, a deferred create or rename): its tree's. With `unix_identity` on
    /// (the server's setting, passed in) and the tree gone there is nobody to run it as,
    /// and it is never run as the server: STATUS_ACCESS_DENIED.
    pub fn unix_of_open(&self, unix_identity: bool, session: u64, tree: u32) -> Result<Option<Arc<UnixIdentity>>, NtStatus> {
        match self.sessions.get(&session).and_then(|s| s.trees.get(&tree)) {
            Some(t) => Ok(t.unix.clone()),
            None if unix_identity => {
                tracing::info!(conn = self.id, session, tree, "no UNIX identity for the open's tree: not done");
                Err(NtStatus::ACCESS_DENIED)
            }
            None => Ok(None),
        }
    }

    /// SMB 2.1 and later charge credits by payload size (MS-SMB2 3.3.5.2.5).
    pub fn supports_multi_credit(&self) -> bool {
        self.dialect() >= opportune_wire::negotiate::dialect::SMB210
    }
}
