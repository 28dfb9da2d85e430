//! The Opportune SMB2/SMB3 server: a tokio listener, one task per connection, and the
//! protocol state of each connection (sessions, trees, opens, credits, compounding).
//! The wire codec, authentication, the file system and the lock core are separate
//! crates that do no networking.

#![forbid(unsafe_code)]

pub mod accounts;
mod admission;
pub mod break_trace;
mod budget;
mod buffers;
mod chain;
pub mod config;
mod conn_state;
mod create_plan;
mod connection;
mod credits;
mod deferred_create;
mod descriptor_cache;
mod dir_leases;
mod dispatch;
mod durable;
mod events;
mod fault;
mod frames;
mod handlers;
mod host_events;
mod host_names;
mod host_notify;
mod identity;
mod link_watch;
pub mod liveness;
mod fd_budget;
pub mod figures;
pub mod limits;
mod locking;
mod meta;
pub mod metrics;
mod notify;
mod notify_change;
mod offload;
mod open;
mod outbox;
mod parked;
mod pending;
mod pipes;
mod policy;
pub mod quota;
pub mod security;
mod access_check;
mod server;
mod server_error;
mod server_view;
mod session;
pub mod share_access;
mod share_state;
mod share_table;
pub mod reload;
pub mod runtime;
pub mod stop;
mod sockopt;
pub mod throttle;
pub mod status;
pub mod unix_id;
mod wildcard;

pub use config::{Encryption, GroupConfig, ServerConfig, ShareCaching, ShareConfig, UserConfig};
pub use limits::Limits;
pub use liveness::{Keepalive, LivenessConfig};
pub use server::{Reloader, ServerState};
pub use server_error::ServerError;
pub use stop::{stop, StopReport};

/// Blocks the kernel-lease break signals in the calling thread and every thread it starts
/// later: call it before the tokio runtime is built (see `opportune_fs::kernel_lease`).
/// Without it no kernel lease is ever taken (kernel oplocks then grant no caching that
/// needs one).
pub fn prepare_kernel_leases() -> std::io::Result<()> {
    opportune_fs::kernel_lease::block_lease_signals()
}

use std::sync::Arc;
use tokio::net::TcpListener;

/// Binds the configured address; returns the listener and the server state.
pub async fn bind(config: ServerConfig) -> Result<(TcpListener, Arc<ServerState>), ServerError> {
    let addr = config.listen;
    let state = ServerState::new(config)?;
    // Before the listener: a client that can connect finds the status socket too.
    if let Some(path) = state.config.status_socket.clone() {
        match status::bind(&path) {
            Ok(l) => {
                state.status_bound.store(true, std::sync::atomic::Ordering::Relaxed);
                *state.status_listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(l);
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "no status socket"),
        }
    }
    let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Listen { addr, source })?;
    Ok((listener, state))
}

/// Accepts connections until the process ends.
pub async fn serve(listener: TcpListener, state: Arc<ServerState>) {
    let mut refusals = RefusalLog::default();
    let timer_state = state.clone();
    tokio::spawn(async move { timer_state.locks.run_timer().await });
    tokio::spawn(host_events::run(state.clone()));
    if state.config.kernel_oplocks {
        tokio::spawn(state.locks.clone().run_kernel_leases());
    }
    let status = state.status_listener.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(l) = status {
        tokio::spawn(status::serve(state.clone(), l));
    }
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = state.next_id();
        let ticket = match state.admission.admit(id, peer.ip()) {
            Ok(t) => t,
            Err(why) => {
                refusals.note(peer, why);
                drop(stream);
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(connection::run(state, stream, peer, id, ticket));
    }
}

/// Refused connections are logged at most once per 10 s (with how many there were), so a
/// flood of connections cannot become a flood of log lines.
#[derive(Default)]
struct RefusalLog {
    since: Option<std::time::Instant>,
    count: u64,
}

impl RefusalLog {
    fn note(&mut self, peer: std::net::SocketAddr, why: admission::Refusal) {
        self.count += 1;
        let now = std::time::Instant::now();
        if self.since.is_none_or(|t| now.duration_since(t) >= std::time::Duration::from_secs(10)) {
            tracing::warn!(%peer, ?why, refused = self.count, "connection refused");
            self.since = Some(now);
            self.count = 0;
        }
    }
}
