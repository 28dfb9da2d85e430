//! Completion of creates that waited for oplock or lease breaks (MS-SMB2 3.3.4.2, 3.3.5.9).

use super::create_open::{resume, Step};
use super::reply::Reply;
use crate::conn_state::ConnState;
use crate::pending::PendingOp;
use crate::server::ServerState;
use opportune_locks::CreateOutcome;
use opportune_types::NtStatus;

/// The final answer to a parked create, or None when it must wait again (its file was
/// deleted meanwhile and the re-run had to defer: `op` holds it again).
pub fn complete_create(
    server: &ServerState,
    conn: &mut ConnState,
    op: &mut PendingOp,
    outcome: CreateOutcome,
) -> Option<(Reply, Option<opportune_types::FileId>)> {
    let Some(d) = op.create.take() else {
        // Waiting::Create records are only made with their create (Reply::pending_create).
        return Some((Reply::error(NtStatus::INTERNAL_ERROR), None));
    };
    match resume(server, conn, &op.header, *d, outcome) {
        Step::Done(reply, file_id) => Some((reply, file_id)),
        Step::Wait(d) => {
            op.create = Some(d);
            None
        }
    }
}
