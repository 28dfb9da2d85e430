//! Sessions and tree connects of one connection (MS-SMB2 3.3.1.8, 3.3.1.9).

use opportune_auth::NtlmAcceptor;
use opportune_crypto::{PreauthHash, Signer};
use std::collections::HashMap;

pub enum AuthState {
    /// SESSION_SETUP in progress: the NTLM exchange and, for SPNEGO, the client's mech list.
    InProgress { ntlm: Box<NtlmAcceptor>, spnego: bool, mech_types: Option<Vec<u8>> },
    Valid,
}

pub use crate::identity::Identity;

/// What other connections may learn of a session: enough to judge a binding request.
#[derive(Clone)]
pub struct SessionInfo {
    pub conn: u64,
    pub user: String,
    pub dialect: u16,
    pub signing_algorithm: opportune_crypto::SigningAlgorithm,
    pub cipher: u16,
    pub signer: Option<std::sync::Arc<Signer>>,
    pub identity: Identity,
    /// The session's token, for `opportune status`.
    pub token: std::sync::Arc<opportune_types::Token>,
    /// Its UNIX identity under `unix_identity`, for `opportune status`.
    pub unix: Option<std::sync::Arc<opportune_fs::UnixIdentity>>,
}

impl SessionInfo {
    /// As [`Session::owner`]: the proven user name, None for guests and anonymous.
    pub fn owner(&self) -> Option<&str> {
        (self.identity == Identity::User).then_some(self.user.as_str())
    }
}

/// Whether two proven user names are the same user (names compare case-insensitively).
pub fn same_user(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

/// What a tree connects to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeKind {
    /// A disk share: its index in the share table.
    Disk(usize),
    /// IPC$: named pipes only (MS-SMB2 3.3.5.7, SMB2_SHARE_TYPE_PIPE).
    Ipc,
}

pub struct Tree {
    pub kind: TreeKind,
    pub read_only: bool,
    pub maximal_access: u32,
    /// TreeConnect.EncryptData: requests on this tree must come encrypted (MS-SMB2 3.3.5.7).
    pub encrypt_data: bool,
    /// The token access checks on this tree use: the session's, with what the share
    /// adds (an admin user of the share gets Administrators and the privileges).
    pub token: std::sync::Arc<opportune_types::Token>,
    /// `ShareState::generation` of the settings this tree was admitted under.
    pub share_generation: u64,
    /// The share's access rules, applied again after a reload, no longer admit this
    /// session: everything but CLOSE and TREE_DISCONNECT is refused.
    pub revoked: bool,
    /// The UNIX identity requests on this tree run as (`unix_identity`; `unix_id`).
    pub unix: Option<std::sync::Arc<opportune_fs::UnixIdentity>>,
}

impl Tree {
    pub fn is_ipc(&self) -> bool {
        self.kind == TreeKind::Ipc
    }

    /// The disk share's index; None for IPC$.
    pub fn share(&self) -> Option<usize> {
        match self.kind {
            TreeKind::Disk(i) => Some(i),
            TreeKind::Ipc => None,
        }
    }
}

pub struct Session {
    pub state: AuthState,
    pub user: String,
    pub identity: Identity,
    pub signer: Option<std::sync::Arc<Signer>>,
    pub signing_required: bool,
    /// SMB 3.x encryption keys, when a cipher was negotiated (MS-SMB2 3.3.5.5.3).
    pub encryptor: Option<std::sync::Arc<opportune_crypto::Encryptor>>,
    pub decryptor: Option<std::sync::Arc<opportune_crypto::Decryptor>>,
    /// The client has sent encrypted requests: unsolicited messages go encrypted too, and
    /// plaintext requests are refused from then on.
    pub encryption_seen: bool,
    /// Session.EncryptData: the server asked this session to encrypt (MS-SMB2 3.3.5.5.3).
    pub encrypt_data: bool,
    /// SMB 3.1.1 session preauth hash, updated until the session is established.
    pub preauth: Option<PreauthHash>,
    pub trees: HashMap<u32, Tree>,
    next_tree_id: u32,
    /// When the session setup began, so a logon left half-way expires.
    pub started: std::time::Instant,
    /// The session has been established at least once (a re-authentication in progress
    /// is not a half-finished logon).
    pub established: bool,
    /// The opens this session holds, for `max_opens_per_session` (see `limits`).
    pub opens: crate::fd_budget::OpenCount,
    /// Who the session is for access checks, set when it is established (anonymous
    /// until then).
    pub token: std::sync::Arc<opportune_types::Token>,
    /// With `unix_identity`: the session's UNIX identity or why it has none, set with
    /// the token (`unix_id::resolve`); None when `unix_identity` is off.
    pub unix: Option<crate::unix_id::Mapping>,
}

impl Session {
    pub fn new(ntlm: NtlmAcceptor, preauth: Option<PreauthHash>, started: std::time::Instant) -> Session {
        Session {
            state: AuthState::InProgress { ntlm: Box::new(ntlm), spnego: false, mech_types: None },
            user: String::new(),
            identity: Identity::Anonymous,
            signer: None,
            signing_required: false,
            encryptor: None,
            decryptor: None,
            encryption_seen: false,
            encrypt_data: false,
            preauth,
            trees: HashMap::new(),
            next_tree_id: 1,
            started,
            established: false,
            opens: Default::default(),
            token: std::sync::Arc::new(crate::accounts::anonymous_token()),
            unix: None,
        }
    }

    /// A first logon begun and not finished.
    pub fn is_half_open(&self) -> bool {
        !self.established && !self.is_valid()
    }

    /// The user name this session proved, for matching it against other sessions and
    /// opens: None for guest and anonymous sessions, which never match each other
    /// (two guests who sent the same name are not the same person).
    pub fn owner(&self) -> Option<String> {
        (self.identity == Identity::User).then(|| self.user.clone())
    }

    /// Requests on this session must come encrypted: the server asked for it, or the
    /// client has been encrypting (MS-SMB2 3.3.5.2.9).
    pub fn must_encrypt(&self) -> bool {
        self.encrypt_data || self.encryption_seen
    }

    pub fn is_valid(&self) -> bool {
        matches!(self.state, AuthState::Valid)
    }

    pub fn add_tree(&mut self, tree: Tree) -> u32 {
        let id = self.next_tree_id;
        self.next_tree_id = self.next_tree_id.wrapping_add(1).max(1);
        self.trees.insert(id, tree);
        id
    }
}
