//! A connection's end: everything it held goes (MS-SMB2 3.3.7.1): its waiting requests,
//! its sessions' opens (durable ones are parked, the rest closed with delete-on-close
//! carried out), and its place in the lock layer.

use crate::conn_state::ConnState;
use crate::server::ServerState;

/// Everything the connection held goes: opens (with delete-on-close), waiting requests.
pub fn end(server: &ServerState, conn: &mut ConnState) {
    for op in conn.pending.all() {
        if let crate::pending::Waiting::Lock { request } = op.waiting {
            server.locks.cancel_lock(request);
        }
    }
    let sessions: Vec<u64> = conn.sessions.keys().copied().collect();
    for sid in sessions {
        crate::handlers::close::close_session_opens(server, conn, sid, None);
        server.forget_session(sid);
    }
    let rest: Vec<u64> = conn.opens.keys().copied().collect();
    for id in rest {
        if let Some(open) = conn.opens.remove(&id) {
            crate::handlers::close::release(server, conn, open);
        }
    }
    server.locks.disconnect(conn.id);
}
