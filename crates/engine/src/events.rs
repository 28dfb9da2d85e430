//! Lock-core events on the connection they concern: break notifications (MS-SMB2
//! 3.3.4.6, 3.3.4.7) and the final responses of requests that waited (3.3.4.2).
//! [`handle`] decides; what goes out is returned as [`Output`]s for the driver to carry
//! out in order.

use crate::conn_state::ConnState;
use crate::fault::Fault;
use crate::dispatch::async_final;
use crate::handlers::reply::{empty_ok, Reply};
use crate::locking::ConnEvent;
use crate::conn_state::BreakTarget;
use crate::pending::{PendingOp, Waiting};
use std::time::Duration;
use crate::server::ServerState;
use opportune_locks::Event;
use opportune_types::{FileId, NtStatus};
use opportune_wire::header::{flags, Command, Header, HEADER_LEN};
use opportune_wire::oplock::{encode_oplock_break, LeaseBreakNotification, LEASE_BREAK_FLAG_ACK_REQUIRED};

/// What an event makes the connection do, in order.
#[derive(Debug)]
pub enum Output {
    /// Send this frame.
    Frame(Vec<u8>),
    /// Send this break notification (the transport watch times its acknowledgment).
    Break(Vec<u8>),
    /// Send this break notification after `wait` (`oplock_break_wait`): the driver queues
    /// it back as [`ConnEvent::Send`] then.
    BreakLater { wait: Duration, msg: Vec<u8> },
    /// Check that the peer is alive (`link_watch`).
    Probe(&'static str),
    /// Answer with this connection's figures (the driver adds its socket's).
    Figures(crate::locking::FiguresReply),
}

/// Whether an event is an unsolicited break notification.
pub fn is_break(ev: &ConnEvent) -> bool {
    matches!(ev, ConnEvent::Lock(Event::SendOplockBreak { .. } | Event::SendLeaseBreak { .. }))
}

pub fn handle(server: &ServerState, conn: &mut ConnState, ev: ConnEvent, out: &mut Vec<Output>) -> Result<(), Fault> {
    match ev {
        ConnEvent::Lock(e) => handle_lock_event(server, conn, e, out),
        ConnEvent::Change(change) => match crate::handlers::notify::on_change(conn, change) {
            Some((async_id, op, reply)) => complete(server, conn, out, async_id, op, reply, None),
            None => Ok(()),
        },
        ConnEvent::Send(msg) => {
            // Only delayed break notifications come this way.
            out.push(Output::Break(msg));
            Ok(())
        }
        ConnEvent::Stop => {
            conn.closing = true;
            Ok(())
        }
        ConnEvent::Figures(reply) => {
            out.push(Output::Figures(reply));
            Ok(())
        }
        ConnEvent::Probe { why } => {
            out.push(Output::Probe(why));
            Ok(())
        }
        ConnEvent::ExpireSession { session, why } => {
            crate::handlers::close::close_session_opens(server, conn, session, None);
            conn.sessions.remove(&session);
            server.forget_session(session);
            tracing::info!(conn = conn.id, session, why, "session ended");
            Ok(())
        }
        ConnEvent::ForceClose { open, delete_file } => {
            crate::handlers::close::forced(server, conn, open, delete_file);
            Ok(())
        }
        ConnEvent::NotifyDone { open, request, status } => {
            if let Some(async_id) = request {
                let Some(op) = conn.pending.take(async_id).filter(|op| op.waiting == Waiting::Notify { open }) else { return Ok(()) };
                return complete(server, conn, out, async_id, op, Reply::error(status), None);
            }
            while let Some((async_id, op)) = conn.pending.take_waiting(Waiting::Notify { open }) {
                complete(server, conn, out, async_id, op, Reply::error(status), None)?;
            }
            Ok(())
        }
    }
}

fn handle_lock_event(server: &ServerState, conn: &mut ConnState, ev: Event, out: &mut Vec<Output>) -> Result<(), Fault> {
    match ev {
        Event::SendOplockBreak { open, to_level, .. } => {
            let Some(o) = conn.opens.get_mut(&open.0) else { return Ok(()) };
            let (sid, fid) = (o.session_id, o.file_id);
            tracing::info!(conn = conn.id, peer = %conn.peer, ?fid, to_level = to_level.to_wire(), "oplock break");
            let msg = oplock_break(sid, fid, to_level.to_wire());
            let enc = conn.sessions.get(&sid).filter(|s| s.encryption_seen).and_then(|s| s.encryptor.clone());
            let msg = match enc {
                Some(e) => e.encrypt(sid, &msg),
                None => msg,
            };
            conn.breaks_sent.insert(BreakTarget::Open(open.0), server.now());
            send_break(server, out, msg)
        }
        Event::SendLeaseBreak { lease, epoch, v2, from, to, ack_required, .. } => {
            let n = LeaseBreakNotification {
                new_epoch: if v2 { epoch } else { 0 },
                flags: if ack_required { LEASE_BREAK_FLAG_ACK_REQUIRED } else { 0 },
                lease_key: lease.key.0,
                current_state: from.bits(),
                new_state: to.bits(),
            };
            tracing::info!(conn = conn.id, peer = %conn.peer, from = from.bits(), to = to.bits(), ack_required, "lease break");
            let mut msg = break_header(0);
            n.encode(&mut msg);
            if ack_required {
                conn.breaks_sent.insert(BreakTarget::Lease(lease.key.0), server.now());
            }
            send_break(server, out, msg)
        }
        Event::CompleteLock { request, status, .. } => {
            let Some((async_id, op)) = conn.pending.take_waiting(Waiting::Lock { request: request.0 }) else { return Ok(()) };
            let reply = if status == NtStatus::SUCCESS { empty_ok() } else { Reply::error(status) };
            complete(server, conn, out, async_id, op, reply, None)
        }
        Event::CompleteCreate { open, outcome } => {
            let Some((async_id, mut op)) = conn.pending.take_waiting(Waiting::Create { open: open.0 }) else {
                return Ok(());
            };
            tracing::info!(
                conn = conn.id,
                peer = %conn.peer,
                open = open.0,
                ?outcome,
                waited_ms = server.now().saturating_duration_since(op.since).as_millis() as u64,
                "deferred create decided"
            );
            // `unix_identity`: resumed as the request's user; with its tree gone, refused.
            let (unix, outcome) = match conn.unix_of_open(server.config.unix_identity, op.header.session_id, op.header.tree_id) {
                Ok(unix) => (unix, outcome),
                Err(status) => (None, opportune_locks::CreateOutcome::Denied(status)),
            };
            let done = crate::unix_id::act_as(unix.as_deref(), || crate::handlers::deferred::complete_create(server, conn, &mut op, outcome));
            match done.unwrap_or_else(|status| Some((Reply::error(status), None))) {
                Some((reply, file_id)) => complete(server, conn, out, async_id, op, reply, file_id),
                None => {
                    conn.pending.insert(async_id, op);
                    Ok(())
                }
            }
        }
        Event::CompleteRename { request, open, status } => {
            let Some((async_id, op)) = conn.pending.take_waiting(Waiting::Rename { request: request.0 }) else { return Ok(()) };
            let reply = conn.unix_of_open(server.config.unix_identity, op.header.session_id, op.header.tree_id)
                .and_then(|unix| crate::unix_id::act_as(unix.as_deref(), || crate::handlers::info_set::complete_rename(server, conn, open.0, status)))
                .unwrap_or_else(Reply::error);
            complete(server, conn, out, async_id, op, reply, None)
        }
    }
}

/// The figures of one connection, from its state, its socket and its liveness watch.
pub fn figures(
    conn: &ConnState,
    tcp: Option<opportune_fs::TcpFigures>,
    liveness: &'static str,
) -> crate::figures::ConnFigures {
    crate::figures::ConnFigures {
        conn: conn.id,
        peer: conn.peer,
        dialect: conn.negotiated.as_ref().map(|n| crate::figures::dialect_name(n.dialect)),
        sessions: conn.sessions.len(),
        opens: conn.opens.len(),
        pending_requests: conn.pending.len(),
        tcp: tcp.map(crate::figures::Tcp::from),
        last_ack_latency_ms: conn.link.last_ack().map(|d| d.as_millis() as u64),
        link_guard: if conn.link.is_suspended() { "suspended" } else { "ok" },
        liveness,
    }
}

/// Sends a break notification now, or after the configured `oplock_break_wait` (Samba's
/// "oplock break wait time") through this connection's own event queue.
fn send_break(server: &ServerState, out: &mut Vec<Output>, msg: Vec<u8>) -> Result<(), Fault> {
    let wait = server.config.oplock_break_wait;
    out.push(if wait.is_zero() { Output::Break(msg) } else { Output::BreakLater { wait, msg } });
    Ok(())
}

/// Sends the final response of a pending request, then runs the rest of its compound chain.
fn complete(
    server: &ServerState,
    conn: &mut ConnState,
    out: &mut Vec<Output>,
    async_id: u64,
    mut op: PendingOp,
    reply: Reply,
    file_id: Option<FileId>,
) -> Result<(), Fault> {
    let status = reply.status;
    out.push(Output::Frame(async_final(conn, async_id, &op, reply)));
    let Some(rest) = op.rest.take() else { return Ok(()) };
    // The rest of the chain is processed as it would have been at once: what it answers
    // goes out, and a fault in it ends the connection as it would have then (MS-SMB2 3.3.5.2).
    match crate::dispatch::resume_chain(server, conn, *rest, op.header.session_id, status, file_id)? {
        crate::dispatch::FrameResult::Send(bytes) => out.push(Output::Frame(bytes)),
        crate::dispatch::FrameResult::Nothing | crate::dispatch::FrameResult::NeedMemory(_) => {}
    }
    Ok(())
}

/// Header of an unsolicited break notification: MessageId all ones, no credits, unsigned.
fn break_header(session_id: u64) -> Vec<u8> {
    let h = Header {
        command: Command::OplockBreak as u16,
        flags: flags::SERVER_TO_REDIR,
        message_id: u64::MAX,
        session_id,
        ..Header::default()
    };
    let mut msg = Vec::with_capacity(HEADER_LEN + 44);
    h.encode(&mut msg);
    msg
}

fn oplock_break(session_id: u64, fid: FileId, level: u8) -> Vec<u8> {
    let mut msg = break_header(session_id);
    encode_oplock_break(&mut msg, level, fid);
    msg
}
