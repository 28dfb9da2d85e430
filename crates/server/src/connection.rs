//! One task per connection. It owns the socket and all of the connection's protocol
//! state, and takes, in order of priority, lock-core events for this connection (breaks,
//! completions of pending requests, changes to watched directories) and then frames.
//! Reading, processing and writing happen in this one task: no hand-off per request.

use crate::conn_state::ConnState;
use crate::dispatch::{process_frame, FrameResult};
use crate::events;
use crate::frames::{write_frame, FrameReader};
use crate::server::ServerState;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Response buffers at least this big are kept for the next READ instead of freed.
const RECYCLE_MIN: usize = 1 << 20;

/// Where a connection's outgoing messages go.
pub struct Outbox {
    wr: OwnedWriteHalf,
}

pub async fn run(server: Arc<ServerState>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let id = server.next_id();
    tracing::debug!(conn = id, %peer, "connection opened");
    let (rd, wr) = stream.into_split();
    let mut out = Outbox { wr };
    let mut reader = FrameReader::new(rd);
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    server.locks.register_connection(id, peer, ev_tx);
    let mut conn = ConnState::new(id, peer);
    let reason = loop {
        match reader.try_frame() {
            Ok(Some(frame)) => {
                if let Some((bytes, took)) = reader.take_transfer() {
                    check_throughput(&server, &mut conn, bytes, took);
                }
                let result = on_frame(&server, &mut conn, &frame, &mut ev_rx, &mut out).await;
                reader.recycle(frame);
                if let Err(reason) = result {
                    break reason;
                }
                continue;
            }
            Ok(None) => {}
            Err(reason) => break reason,
        }
        tokio::select! {
            biased;
            Some(ev) = ev_rx.recv() => {
                if events::handle(&server, &mut conn, ev, &mut out).await.is_err() {
                    break "write error";
                }
            }
            r = reader.fill() => {
                if let Err(reason) = r {
                    break reason;
                }
            }
        }
    };
    tracing::debug!(conn = id, %peer, reason, "connection closed");
    cleanup(&server, &mut conn);
    let _ = out.wr.shutdown().await;
}

/// Processes one frame and sends what it produced. Break notifications this request
/// caused for this connection go before its response (a Level II holder hears of a write
/// before the writer does); completions of pending requests go after it, so a final
/// response never overtakes its own interim response.
async fn on_frame(
    server: &ServerState,
    conn: &mut ConnState,
    frame: &[u8],
    ev_rx: &mut mpsc::UnboundedReceiver<crate::locking::ConnEvent>,
    out: &mut Outbox,
) -> Result<(), &'static str> {
    let result = process_frame(server, conn, frame);
    if let Some(delay) = conn.answer_delay.take() {
        // The failed-logon back-off: only this connection waits, on a timer.
        tokio::time::sleep(delay).await;
    }
    let mut later = Vec::new();
    while let Ok(ev) = ev_rx.try_recv() {
        if events::is_break(&ev) {
            events::handle(server, conn, ev, out).await.map_err(|()| "write error")?;
        } else {
            later.push(ev);
        }
    }
    match result {
        FrameResult::Send(msg) => {
            write_frame(&mut out.wr, &msg).await.map_err(|_| "write error")?;
            if msg.capacity() >= RECYCLE_MIN {
                conn.spare_buffer = Some(msg);
            }
        }
        FrameResult::Nothing => {}
        FrameResult::Disconnect => return Err("protocol violation"),
    }
    for ev in later {
        events::handle(server, conn, ev, out).await.map_err(|()| "write error")?;
    }
    if conn.closing {
        return Err("closed by server");
    }
    Ok(())
}

/// Windows' MinLinkThroughput: a connection that moves large frames too slowly gets no
/// new oplocks or leases.
fn check_throughput(server: &ServerState, conn: &mut ConnState, bytes: usize, took: std::time::Duration) {
    let min = server.config.min_link_throughput;
    if conn.link.record_transfer(bytes, took, min) {
        tracing::warn!(conn = conn.id, peer = %conn.peer, bytes, ?took, min, "slow link: no more oplocks or leases");
    }
}

/// Sends one message (or compound chain) with its transport header.
pub async fn send(out: &mut Outbox, msg: Vec<u8>) -> Result<(), ()> {
    write_frame(&mut out.wr, &msg).await.map_err(|_| ())
}

/// Everything the connection held goes: opens (with delete-on-close), waiting requests.
fn cleanup(server: &ServerState, conn: &mut ConnState) {
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
