//! CANCEL (MS-SMB2 3.3.5.16): no response of its own; the cancelled request, if it is
//! still pending, completes with STATUS_CANCELLED.

use crate::conn_state::ConnState;
use crate::server::ServerState;
use opportune_wire::header::Header;

pub fn handle_cancel(server: &ServerState, conn: &mut ConnState, hdr: &Header) {
    let target = if hdr.is_async() { crate::pending::Target::Async(hdr.async_id) } else { crate::pending::Target::Message(hdr.message_id) };
    server.pending.cancel(conn.id, target);
}
