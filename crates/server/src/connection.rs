//! One task per connection. A reader task turns the socket into frames, a writer task
//! sends what is queued; the connection task owns all protocol state and takes, in
//! order of priority, lock-core events for this connection (breaks, completions of
//! pending requests) and then frames.

use crate::conn_state::ConnState;
use crate::dispatch::{process_frame, FrameResult};
use crate::events;
use crate::server::ServerState;
use opportune_wire::transport::{frame_header, frame_length, MAX_FRAME};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Frames queued for the writer before the connection task waits (backpressure).
const WRITE_QUEUE: usize = 64;
/// Frames read ahead of processing.
const READ_AHEAD: usize = 8;

pub type Outbox = mpsc::Sender<Vec<u8>>;

pub async fn run(server: Arc<ServerState>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let id = server.next_id();
    tracing::debug!(conn = id, %peer, "connection opened");
    let (rd, mut wr) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(frame) = out_rx.recv().await {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let (frame_tx, mut frame_rx) = mpsc::channel(READ_AHEAD);
    let reader = tokio::spawn(read_frames(BufReader::with_capacity(16 * 1024, rd), frame_tx));
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    server.locks.register_connection(id, ev_tx);
    let mut conn = ConnState::new(id, peer);
    let reason = loop {
        tokio::select! {
            biased;
            Some(ev) = ev_rx.recv() => {
                if events::handle(&server, &mut conn, ev, &out_tx).await.is_err() {
                    break "writer gone";
                }
            }
            f = frame_rx.recv() => {
                let frame = match f {
                    Some(Ok(frame)) => frame,
                    Some(Err(reason)) => break reason,
                    None => break "reader gone",
                };
                let result = process_frame(&server, &mut conn, &frame);
                // Break notifications this request caused for this connection go before its
                // response (a Level II holder hears of a write before the writer does);
                // completions of pending requests go after it, so a final response never
                // overtakes its own interim response.
                let mut later = Vec::new();
                while let Ok(ev) = ev_rx.try_recv() {
                    if events::is_break(&ev) {
                        if events::handle(&server, &mut conn, ev, &out_tx).await.is_err() {
                            break;
                        }
                    } else {
                        later.push(ev);
                    }
                }
                match result {
                    FrameResult::Send(out) => {
                        if send(&out_tx, out).await.is_err() {
                            break "writer gone";
                        }
                    }
                    FrameResult::Nothing => {}
                    FrameResult::Disconnect => break "protocol violation",
                };
                for ev in later {
                    if events::handle(&server, &mut conn, ev, &out_tx).await.is_err() {
                        break;
                    }
                }
                if conn.closing {
                    break "closed by server";
                }
            }
        }
    };
    tracing::debug!(conn = id, %peer, reason, "connection closed");
    reader.abort();
    cleanup(&server, &mut conn);
    drop(out_tx);
    let _ = writer.await;
}

async fn read_frames(mut rd: BufReader<OwnedReadHalf>, tx: mpsc::Sender<Result<Vec<u8>, &'static str>>) {
    loop {
        let r = read_frame(&mut rd).await;
        let stop = r.is_err();
        if tx.send(r).await.is_err() || stop {
            return;
        }
    }
}

async fn read_frame(rd: &mut BufReader<OwnedReadHalf>) -> Result<Vec<u8>, &'static str> {
    loop {
        let mut head = [0u8; 4];
        rd.read_exact(&mut head).await.map_err(|_| "peer closed")?;
        let len = frame_length(head).ok_or("not a direct-TCP frame")?;
        if len > MAX_FRAME {
            return Err("frame too large");
        }
        if len == 0 {
            continue;
        }
        let mut frame = vec![0u8; len];
        rd.read_exact(&mut frame).await.map_err(|_| "truncated frame")?;
        return Ok(frame);
    }
}

/// Queues one message (or compound chain) with its transport header.
pub async fn send(tx: &Outbox, msg: Vec<u8>) -> Result<(), ()> {
    let mut framed = Vec::with_capacity(4 + msg.len());
    framed.extend_from_slice(&frame_header(msg.len()));
    framed.extend_from_slice(&msg);
    tx.send(framed).await.map_err(|_| ())
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
            crate::handlers::close::finish_close(server, conn, open);
        }
    }
    server.locks.disconnect(conn.id);
}
