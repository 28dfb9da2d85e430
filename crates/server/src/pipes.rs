//! Named pipes on IPC$ (MS-SMB2 3.3.5.9: a CREATE on a pipe share opens a named pipe):
//! the pipes one connection holds, and the view of the server the RPC services answer
//! from (`opportune_rpc::Provider`), limited to what the caller's session may see.

use crate::server::ServerState;
use crate::session::Identity;
use opportune_rpc::provider::{stype, Account, Provider, ShareEntry};
use opportune_rpc::sid::Sid;
use opportune_rpc::Pipe;
use opportune_types::FileId;
use std::collections::HashMap;

/// Pipes one connection may hold open; one more CREATE answers
/// STATUS_INSUFFICIENT_RESOURCES.
pub const MAX_PIPES_PER_CONNECTION: usize = 32;
/// Bytes all of a connection's pipes may hold (partial input, requests being
/// reassembled, answers not yet read); a WRITE beyond answers
/// STATUS_INSUFFICIENT_RESOURCES until the client reads.
pub const MAX_PIPE_MEMORY_PER_CONNECTION: usize = 8 << 20;

pub struct PipeOpen {
    pub file_id: FileId,
    pub session_id: u64,
    pub tree_id: u32,
    pub pipe: Pipe,
}

/// A connection's open pipes, by volatile file id (drawn from the same counter as
/// file opens, so the two never collide).
#[derive(Default)]
pub struct PipeTable {
    pub open: HashMap<u64, PipeOpen>,
}

impl PipeTable {
    /// Closes the pipes of `session` (of its tree `tree` only, if given).
    pub fn close_session(&mut self, session: u64, tree: Option<u32>) {
        self.open.retain(|_, p| !(p.session_id == session && tree.is_none_or(|t| p.tree_id == t)));
    }

    pub fn memory(&self) -> usize {
        self.open.values().map(|p| p.pipe.memory()).sum()
    }
}

/// The server as one session sees it over RPC.
pub struct ServerView<'a> {
    pub server: &'a ServerState,
    pub identity: Identity,
}

/// IPC$ as share listings show it (Windows: type STYPE_IPC | STYPE_SPECIAL).
const IPC_COMMENT: &str = "Remote IPC";

impl Provider for ServerView<'_> {
    fn server_name(&self) -> String {
        self.server.config.server_name.clone()
    }

    fn server_comment(&self) -> String {
        self.server.config.server_comment.clone()
    }

    fn workgroup(&self) -> String {
        self.server.config.workgroup.clone()
    }

    /// The shares this session may connect to, in configuration order, then IPC$.
    /// Hidden shares (names ending in `$`) are listed too, as Windows lists them; clients
    /// such as `net view` leave them out themselves.
    fn shares(&self) -> Vec<ShareEntry> {
        let mut out: Vec<ShareEntry> = self
            .server
            .shares
            .live()
            .into_iter()
            .filter(|(_, s)| crate::handlers::tree::may_use(self.server, s, self.identity))
            .map(|(_, s)| {
                ShareEntry {
                    name: s.name.clone(),
                    stype: stype::DISKTREE,
                    comment: s.comment.clone(),
                    path: windows_path(&s.path),
                    // Tree connects live in their connections' tasks and are not counted.
                    current_uses: 0,
                }
            })
            .collect();
        out.push(ShareEntry {
            name: "IPC$".into(),
            stype: stype::IPC | stype::SPECIAL,
            comment: IPC_COMMENT.into(),
            path: String::new(),
            current_uses: 0,
        });
        out
    }

    fn authenticated(&self) -> bool {
        self.identity == Identity::User
    }

    fn domain_sid(&self) -> Sid {
        self.server.directory().domain.clone()
    }

    fn accounts(&self) -> Vec<Account> {
        self.server.directory().accounts()
    }
}

/// A share root as Windows shows local paths (shi2_path): `C:` and the path with
/// backslashes, as Samba shows it.
fn windows_path(p: &std::path::Path) -> String {
    format!("C:{}", p.to_string_lossy().replace('/', "\\"))
}
