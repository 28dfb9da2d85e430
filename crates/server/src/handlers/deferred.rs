//! Completion of creates that waited for oplock or lease breaks (MS-SMB2 3.3.4.2, 3.3.5.9).

use super::Reply;
use crate::conn_state::ConnState;
use crate::pending::PendingOp;
use crate::server::ServerState;
use opportune_locks::CreateOutcome;
use opportune_types::NtStatus;

/// The final answer to a deferred create. Creates are only deferred when caching is granted,
/// which this server does not do yet, so a completion can only refuse.
pub fn complete_create(server: &ServerState, _conn: &mut ConnState, _op: &PendingOp, open: u64, outcome: CreateOutcome) -> Reply {
    match outcome {
        CreateOutcome::Denied(status) => Reply::error(status),
        CreateOutcome::Granted { .. } | CreateOutcome::Deferred | CreateOutcome::Restart => {
            server.locks.close_id(open);
            Reply::error(NtStatus::SHARING_VIOLATION)
        }
    }
}
