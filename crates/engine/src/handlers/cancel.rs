//! CANCEL (MS-SMB2 3.3.5.16): no response of its own; the cancelled request, if it is
//! still pending, completes with STATUS_CANCELLED through the lock core's events.

use crate::conn_state::ConnState;
use crate::locking::ConnEvent;
use crate::pending::Waiting;
use crate::server::ServerState;
use opportune_wire::header::Header;

pub fn handle_cancel(server: &ServerState, conn: &mut ConnState, hdr: &Header) {
    match conn.pending.find_cancel_target(hdr) {
        Some((_, Waiting::Lock { request })) => server.locks.cancel_lock(request),
        Some((_, Waiting::Create { open })) => server.locks.cancel_create(conn.id, open),
        Some((async_id, Waiting::Notify { open })) => {
            // This watch only: others on the same open keep waiting.
            let done = ConnEvent::NotifyDone { open, request: Some(async_id), status: opportune_types::NtStatus::CANCELLED };
            server.locks.send_to(conn.id, done);
        }
        Some((_, Waiting::Rename { .. })) | None => {}
    }
}
