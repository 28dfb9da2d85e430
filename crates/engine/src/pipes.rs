//! Named pipes on IPC$ (MS-SMB2 3.3.5.9: a CREATE on a pipe share opens a named pipe):
//! the pipes one connection holds. The RPC services behind them answer from
//! `server_view.rs`.

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
