//! One task per connection. It owns the socket and all of the connection's protocol
//! state, and takes, in order of priority, lock-core events for this connection (breaks,
//! completions of pending requests, changes to watched directories) and then frames.
//! Reading, processing and writing happen in this one task: no hand-off per request.

use crate::admission::Ticket;
use crate::budget::Reservation;
use opportune_engine::conn_state::ConnState;
use opportune_engine::dispatch::{process_frame, FrameResult};
use crate::events;
use opportune_engine::fault::Fault;
use crate::outbox::Outbox;
use crate::frames::FrameReader;
use crate::Server;
use opportune_engine::locking::{ConnEvent, EventSink};
use opportune_engine::server::ServerState;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Where a connection stands in its logon, for its deadlines (docs/SECURITY.md).
struct Handshake {
    accepted: Instant,
    authenticated: bool,
}

impl Handshake {
    /// The deadline the connection has now: NEGOTIATE, then an established session; none
    /// once logged on.
    fn deadline(&self, conn: &ConnState, limits: &opportune_engine::limits::Limits) -> Option<(Instant, &'static str)> {
        if self.authenticated {
            None
        } else if conn.negotiated.is_none() {
            Some((self.accepted + limits.negotiate_timeout, "no NEGOTIATE in time"))
        } else {
            Some((self.accepted + limits.logon_timeout, "no logon in time"))
        }
    }
}

/// The connection's event queue, as the lock layer sees it.
struct Queue(mpsc::UnboundedSender<ConnEvent>);

impl EventSink for Queue {
    fn send(&self, ev: ConnEvent) -> bool {
        self.0.send(ev).is_ok()
    }
}

pub async fn run(driver: Arc<Server>, stream: TcpStream, peer: SocketAddr, id: u64, ticket: Ticket) {
    let server: &ServerState = &driver.state;
    let _ = stream.set_nodelay(true);
    tracing::debug!(conn = id, %peer, "connection opened");
    let limits = server.config.limits.clone();
    let (rd, wr) = stream.into_split();
    let link = opportune_engine::link_watch::LinkWatch::new(server.liveness.clone(), id, peer);
    let mut out = Outbox { wr, stall: limits.stall_timeout, link };
    out.watch(opportune_engine::link_watch::LinkWatch::start);
    let mut reader = FrameReader::new(rd, driver.memory.clone(), limits.max_preauth_frame);
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    server.locks.register_connection(id, peer, Arc::new(Queue(ev_tx)));
    opportune_engine::metrics::connections(1.0);
    let mut conn = ConnState::new(id, peer);
    conn.address_opens = server.fds.address(peer.ip());
    let mut hs = Handshake { accepted: Instant::now(), authenticated: false };
    let mut last_progress = Instant::now();
    let fault = loop {
        match reader.try_frame() {
            Ok(Some(frame)) => {
                if let Some((bytes, took)) = reader.take_transfer() {
                    check_throughput(server, &mut conn, bytes, took);
                }
                let result = on_frame(&driver, &mut conn, &frame, &mut ev_rx, &mut out).await;
                reader.recycle(frame);
                if let Err(fault) = result {
                    break fault;
                }
                if !hs.authenticated && conn.sessions.values().any(opportune_engine::session::Session::is_valid) {
                    hs.authenticated = true;
                    ticket.authenticated();
                    reader.set_max_frame(opportune_wire::transport::MAX_FRAME);
                }
                continue;
            }
            Ok(None) => {}
            Err(fault) => break fault,
        }
        // The first deadline that applies: the logon's, or a frame stuck half-way.
        let stalled = reader.mid_frame().then(|| (last_progress + limits.stall_timeout, "frame stalled"));
        let deadline = [hs.deadline(&conn, &limits), stalled].into_iter().flatten().min_by_key(|(t, _)| *t);
        let (when, why) = deadline.unwrap_or((Instant::now(), ""));
        let live_at = out.link.next_wake().map(Instant::from_std);
        let interim_at = conn.pending.next_interim_due().map(Instant::from_std);
        tokio::select! {
            biased;
            Some(ev) = ev_rx.recv() => {
                if let Err(fault) = events::handle(server, &mut conn, ev, &mut out).await {
                    break fault;
                }
                if conn.closing {
                    break Fault::Closed("server stopping");
                }
            }
            r = reader.fill() => {
                if let Err(fault) = r {
                    break fault;
                }
                last_progress = Instant::now();
            }
            () = ticket.evicted() => break Fault::Closed("evicted to make room (server full)"),
            () = tokio::time::sleep_until(when), if deadline.is_some() => break Fault::Closed(why),
            () = tokio::time::sleep_until(live_at.unwrap_or(when)), if live_at.is_some() => {
                out.watch(|w| w.tick(std::time::Instant::now()));
            }
            // Interim responses held back (opportune_engine::pending::HeldInterim) go out
            // for the requests still waiting when their delay is over.
            () = tokio::time::sleep_until(interim_at.unwrap_or(when)), if interim_at.is_some() => {
                if let Err(fault) = send_due_interims(server, &mut conn, &mut out).await {
                    break fault;
                }
            }
        }
    };
    // The one place a connection's end is logged, with the fault that ended it.
    if let Fault::Closed(reason) = fault {
        tracing::debug!(conn = id, %peer, reason, "connection closed");
    } else {
        tracing::info!(conn = id, %peer, reason = %fault, "connection dropped");
    }
    let verdict = out.link.closed(&fault);
    server.locks.connection_ending(id, verdict);
    opportune_engine::connection_end::end(server, &mut conn);
    opportune_engine::metrics::connections(-1.0);
    let _ = out.wr.shutdown().await;
}

/// Processes one frame and sends what it produced. Break notifications this request
/// caused for this connection go before its response (a Level II holder hears of a write
/// before the writer does); completions of pending requests go after it, so a final
/// response never overtakes its own interim response. A frame whose answer may be large
/// waits for send memory first (and is then processed with it reserved until sent).
async fn on_frame(
    driver: &Server,
    conn: &mut ConnState,
    frame: &[u8],
    ev_rx: &mut mpsc::UnboundedReceiver<ConnEvent>,
    out: &mut Outbox,
) -> Result<(), Fault> {
    let server: &ServerState = &driver.state;
    let mut reserved = Reservation::none();
    let result = match process_frame(server, conn, frame, false) {
        Ok(FrameResult::NeedMemory(bytes)) => {
            reserved = driver.memory.send.reserve(bytes).await;
            process_frame(server, conn, frame, true)
        }
        other => other,
    };
    if let Some(delay) = conn.answer_delay.take() {
        // The failed-logon back-off: only this connection waits, on a timer.
        tokio::time::sleep(delay).await;
    }
    let mut later = Vec::new();
    while let Ok(ev) = ev_rx.try_recv() {
        if opportune_engine::events::is_break(&ev) {
            events::handle(server, conn, ev, out).await?;
        } else {
            later.push(ev);
        }
    }
    match result? {
        FrameResult::Send(msg) => {
            out.write(&msg).await?;
            server.buffers.give(msg);
        }
        FrameResult::Nothing => {}
        FrameResult::NeedMemory(_) => return Err(Fault::Internal("send memory wanted again once reserved")),
    }
    drop(reserved);
    for ev in later {
        events::handle(server, conn, ev, out).await?;
    }
    if conn.closing {
        return Err(Fault::Closed("closed by server"));
    }
    Ok(())
}

async fn send_due_interims(server: &ServerState, conn: &mut ConnState, out: &mut Outbox) -> Result<(), Fault> {
    for frame in conn.pending.take_due_interims(server.now()) {
        out.write(&frame).await?;
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
