//! What must hold in every state of a world (the property test checks it after every
//! step):
//! - every request gets at most one interim and at most one final response, and only
//!   requests that were sent get any (MS-SMB2 3.3.4.1, 3.3.4.2);
//! - a client's credits never go negative, and the server's count of credits the client
//!   holds is the client's own plus those charged by frames still on the wire or lost
//!   (MS-SMB2 3.3.1.2);
//! - nothing is sent on, or offered to, a connection that ended;
//! - nothing of an ended connection is left in the lock layer: no open (durable opens
//!   are parked, owned by no connection), no byte-range lock, no route (MS-SMB2 3.3.7.1).
//!
//! [`settled`] adds what holds once the world is quiet: every delivered request on a
//! live connection is answered or has gone async; [`all_gone`] what holds once every
//! connection ended: no waiter and no descriptor is left but the parked durable opens'.

use super::world::World;

/// Checks the invariants of any state.
pub fn check(w: &World) -> Result<(), String> {
    let report = w.server.locks.report();
    let locks = w.server.locks.byte_range_locks();
    for cl in &w.clients {
        if let Some(v) = cl.violations.first() {
            return Err(v.clone());
        }
        if cl.min_credits < 0 {
            return Err(format!("client {}: credit balance went to {}", cl.index, cl.min_credits));
        }
        if cl.queue.late() > 0 {
            return Err(format!("client {}: {} events offered after its connection ended", cl.index, cl.queue.late()));
        }
        if cl.sent_after_end > 0 {
            return Err(format!("client {}: {} frames sent after its connection ended", cl.index, cl.sent_after_end));
        }
        let id = cl.conn.id;
        if cl.alive {
            // Credits of an interim response held back are the server's still, not the client's.
            let server_view = cl.conn.window.outstanding() as i64 - cl.conn.pending.held_credits() as i64;
            let client_view = cl.credits + cl.credits_in_flight();
            if server_view != client_view {
                return Err(format!(
                    "client {}: server counts {server_view} credits outstanding, client {} held + {} in flight",
                    cl.index,
                    cl.credits,
                    cl.credits_in_flight()
                ));
            }
            continue;
        }
        if let Some(o) = report.opens.iter().find(|o| o.conn == Some(id)) {
            return Err(format!("client {}: open {} ({}) outlives its connection", cl.index, o.open, o.path));
        }
        if let Some(l) = locks.iter().find(|l| l.conn == Some(id)) {
            return Err(format!("client {}: byte-range lock at {} outlives its connection", cl.index, l.offset));
        }
        if report.peers.contains_key(&id) {
            return Err(format!("client {}: the lock layer still routes to its ended connection", cl.index));
        }
        // (Its table of pending requests goes with the ConnState, which the driver drops;
        // what matters is that the lock layer forgot them, checked above and in `all_gone`.)
        if !cl.conn.opens.is_empty() {
            return Err(format!("client {}: its connection state keeps opens", cl.index));
        }
    }
    Ok(())
}

/// Checks, once the world is quiet, that every request delivered on a live connection
/// got its final response or an interim one (it waits, asynchronously), or waits behind
/// an async request of its compound chain.
pub fn settled(w: &World) -> Result<(), String> {
    check(w)?;
    for cl in w.clients.iter().filter(|c| c.alive) {
        for (mid, t) in &cl.requests {
            let waits = !t.interim.is_empty() || cl.conn.pending.holds_interim_of(*mid) || cl.waits_in_chain(*mid);
            if t.delivered > 0 && t.finals.is_empty() && !waits {
                return Err(format!("client {}: request {mid} (command {:#x}) delivered and never answered", cl.index, t.command));
            }
        }
    }
    Ok(())
}

/// Checks, once every connection ended, that no waiting request is left and that the
/// only descriptors the server holds are its parked durable opens'.
pub fn all_gone(w: &World) -> Result<(), String> {
    check(w)?;
    if w.clients.iter().any(|c| c.alive) {
        return Err("a connection is still alive".into());
    }
    let report = w.server.locks.report();
    if report.waiting != 0 {
        return Err(format!("{} requests still wait in the lock core", report.waiting));
    }
    // A parked durable open is owned by no connection (`conn` None).
    let parked = report.opens.iter().filter(|o| o.conn.is_none()).count();
    if let Some(o) = report.opens.iter().find(|o| o.conn.is_some()) {
        return Err(format!("open {} ({}) of connection {:?} is left", o.open, o.path, o.conn));
    }
    if w.server.locks.connection_count() != 0 {
        return Err(format!("{} connections still registered", w.server.locks.connection_count()));
    }
    let fds = w.server.fds.opens();
    if fds > parked {
        return Err(format!("{fds} descriptors held with {parked} parked durable opens"));
    }
    Ok(())
}
