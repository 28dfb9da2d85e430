//! Carries out what the engine decided for a connection event ([`opportune_engine::events`]):
//! frames and break notifications written in order, delayed breaks queued back after
//! their wait, probes and figures handed to the connection's transport watch.

use crate::outbox::Outbox;
use opportune_engine::conn_state::ConnState;
use opportune_engine::events::{self, Output};
use opportune_engine::fault::Fault;
use opportune_engine::locking::ConnEvent;
use opportune_engine::server::ServerState;
use std::time::Instant;

/// Lets the engine decide on `ev`, then does what it returned.
pub async fn handle(server: &ServerState, conn: &mut ConnState, ev: ConnEvent, out: &mut Outbox) -> Result<(), Fault> {
    let mut todo = Vec::new();
    let decided = events::handle(server, conn, ev, &mut todo);
    for o in todo {
        match o {
            Output::Frame(msg) => out.write(&msg).await?,
            Output::Break(msg) => {
                out.watch(|w| w.break_sent(Instant::now()));
                out.write(&msg).await?;
            }
            Output::BreakLater { wait, msg } => {
                let (locks, id) = (server.locks_handle(), conn.id);
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    locks.send_to(id, ConnEvent::Send(msg));
                });
            }
            Output::Probe(why) => out.watch(|w| w.probe(Instant::now(), why)),
            Output::Figures(reply) => {
                let (tcp, liveness) = out.figures();
                (reply.0)(events::figures(conn, tcp, liveness));
            }
        }
    }
    decided
}
