//! One task per connection: read frames, process them, write responses. Responses
//! and (later) break notifications go through one writer task so they never interleave.

use crate::conn_state::ConnState;
use crate::dispatch::{process_frame, FrameResult};
use crate::server::ServerState;
use opportune_wire::transport::{frame_header, frame_length, MAX_FRAME};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Frames queued for the writer before the reader waits (backpressure).
const WRITE_QUEUE: usize = 64;

pub async fn run(server: Arc<ServerState>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let id = server.next_id();
    tracing::info!(conn = id, %peer, "connection opened");
    let (rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut conn = ConnState::new(id, peer);
    let reason = read_loop(&server, &mut conn, BufReader::with_capacity(256 * 1024, rd), &tx).await;
    tracing::info!(conn = id, %peer, reason, "connection closed");
    cleanup(&server, &mut conn);
    drop(tx);
    let _ = writer.await;
}

async fn read_loop(
    server: &ServerState,
    conn: &mut ConnState,
    mut rd: BufReader<tokio::net::tcp::OwnedReadHalf>,
    tx: &mpsc::Sender<Vec<u8>>,
) -> &'static str {
    loop {
        let mut head = [0u8; 4];
        if rd.read_exact(&mut head).await.is_err() {
            return "peer closed";
        }
        let Some(len) = frame_length(head) else { return "not a direct-TCP frame" };
        if len > MAX_FRAME {
            return "frame too large";
        }
        if len == 0 {
            continue;
        }
        let mut frame = vec![0u8; len];
        if rd.read_exact(&mut frame).await.is_err() {
            return "truncated frame";
        }
        match process_frame(server, conn, &frame) {
            FrameResult::Send(out) => {
                if send(tx, out).await.is_err() {
                    return "writer gone";
                }
            }
            FrameResult::Nothing => {}
            FrameResult::Disconnect => return "protocol violation",
        }
        if conn.closing {
            return "closed by server";
        }
    }
}

async fn send(tx: &mpsc::Sender<Vec<u8>>, msg: Vec<u8>) -> Result<(), ()> {
    let mut framed = Vec::with_capacity(4 + msg.len());
    framed.extend_from_slice(&frame_header(msg.len()));
    framed.extend_from_slice(&msg);
    tx.send(framed).await.map_err(|_| ())
}

/// Everything the connection held goes: opens (with delete-on-close), pending requests.
fn cleanup(server: &ServerState, conn: &mut ConnState) {
    server.pending.drop_connection(conn.id);
    let sessions: Vec<u64> = conn.sessions.keys().copied().collect();
    for sid in sessions {
        crate::handlers::close::close_session_opens(server, conn, sid, None);
    }
    let rest: Vec<u64> = conn.opens.keys().copied().collect();
    for id in rest {
        if let Some(open) = conn.opens.remove(&id) {
            crate::handlers::close::finish_close(server, conn, open);
        }
    }
    server.locks.disconnect(conn.id);
}
