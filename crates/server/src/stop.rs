//! A graceful stop (SIGTERM): the listener is already gone (the caller stopped
//! [`crate::serve`]); breaks in flight get the first half of the bound to be acknowledged
//! (holders flush their cached writes, waiting opens complete), then every connection
//! ends after the request it is processing, and the second half waits for their
//! cleanups (opens closed, delete-on-close carried out). What was acknowledged to a
//! client is already in the file system; a request never answered was never
//! acknowledged.

use opportune_engine::server::ServerState;
use std::time::{Duration, Instant};

/// What a stop did, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopReport {
    /// Breaks still unacknowledged when connections were told to end.
    pub breaks_left: usize,
    /// Connections still open when the bound ran out.
    pub connections_left: usize,
    pub took: Duration,
}

/// Stops the server within `bound` (see the module documentation).
pub async fn stop(state: &ServerState, bound: Duration) -> StopReport {
    let t0 = Instant::now();
    let half = bound / 2;
    let breaks_left = wait_until(t0 + half, || {
        let n = state.locks.pending_breaks().len() + state.locks.report().waiting;
        (n == 0).then_some(0).ok_or(n)
    })
    .await;
    // Each connection hears it through its event queue (no cost per request while the
    // server runs); a connection that registered meanwhile is told at the next poll.
    let mut told = std::collections::HashSet::new();
    let connections_left = wait_until(t0 + bound, || {
        for (conn, tx) in state.locks.routes() {
            if told.insert(conn) {
                let _ = tx.send(opportune_engine::locking::ConnEvent::Stop);
            }
        }
        let n = state.locks.connection_count();
        (n == 0).then_some(0).ok_or(n)
    })
    .await;
    let report = StopReport { breaks_left, connections_left, took: t0.elapsed() };
    tracing::info!(?report, "stopped");
    report
}

/// Polls `done` every 20 ms until it says Ok or `deadline`; returns what is left.
async fn wait_until(deadline: Instant, mut done: impl FnMut() -> Result<usize, usize>) -> usize {
    loop {
        match done() {
            Ok(n) => return n,
            Err(n) if Instant::now() >= deadline => return n,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
