//! Where a connection's outgoing messages go: its socket's write half, the stall
//! deadline and the transport watch (`link_watch.rs`). Used by the connection task
//! (`connection.rs`) and by event delivery (`events.rs`).

use opportune_engine::fault::{Fault, WRITE_FAILED};
use crate::frames::write_frame;
use std::time::Duration;
use tokio::net::tcp::OwnedWriteHalf;

/// Where a connection's outgoing messages go.
pub struct Outbox {
    pub(crate) wr: OwnedWriteHalf,
    /// A send that makes no progress for this long ends the connection.
    pub(crate) stall: Duration,
    /// Transport deadlines and probes in force on this socket (`link_watch.rs`).
    pub(crate) link: opportune_engine::link_watch::LinkWatch,
}

impl Outbox {
    /// Sends one message (or compound chain) with its transport header.
    pub(crate) async fn write(&mut self, msg: &[u8]) -> Result<(), Fault> {
        match tokio::time::timeout(self.stall, write_frame(&mut self.wr, msg)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Fault::Closed(WRITE_FAILED)),
            Err(_) => Err(Fault::Closed("client stopped reading")),
        }
    }

    /// The kernel's TCP figures of this socket and the liveness state, for `opportune status`.
    pub fn figures(&self) -> (Option<opportune_fs::TcpFigures>, &'static str) {
        use std::os::fd::AsFd;
        (opportune_fs::tcp_info(self.wr.as_ref().as_fd()).ok(), self.link.state())
    }

    /// Runs a liveness decision and applies the socket options it asks for.
    pub fn watch(&mut self, decide: impl FnOnce(&mut opportune_engine::link_watch::LinkWatch) -> Option<opportune_engine::liveness::TcpOptions>) {
        let Some(o) = decide(&mut self.link) else { return };
        if let Err(e) = crate::sockopt::apply(self.wr.as_ref(), &o) {
            self.link.failed();
            tracing::warn!(error = %e, options = ?o, "liveness: socket options refused");
        }
    }
}

