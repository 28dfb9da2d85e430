//! The Opportune server's driver: tokio. It owns what does I/O and waits: the TCP
//! listener and one task per connection (`connection.rs`: frames in and out through
//! `frames.rs` and `outbox.rs`, the socket options in `sockopt.rs`), the memory budgets
//! that make a connection wait for send or receive memory (`budget.rs`), admission of
//! connections (`admission.rs`), the lock layer's timer and kernel lease signals
//! (`timers.rs`), the inotify task (`host_events.rs`), the status socket
//! (`status_serve.rs`), a graceful stop (`stop.rs`) and the runtime itself
//! (`runtime.rs`). What to do with each frame and event is the engine's
//! (`opportune_engine`), which has no tokio in its dependency tree.

#![forbid(unsafe_code)]

mod admission;
mod budget;
mod connection;
mod events;
mod frames;
mod host_events;
mod outbox;
pub mod runtime;
mod sockopt;
mod status_serve;
pub mod stop;
mod timers;

pub use opportune_engine::{
    accounts, config, metrics, quota, security, share_access, status, unix_id, Encryption, GroupConfig, Keepalive, Limits,
    LivenessConfig, Reloader, ServerConfig, ServerError, ServerState, ShareCaching, ShareConfig, UserConfig,
};
pub use stop::{stop, StopReport};

use opportune_engine::break_trace::BreakRecord;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, Notify};

/// Finished break records a `opportune trace` subscriber may fall behind by before it
/// loses some.
const TRACE_BACKLOG: usize = 1024;

/// A running server: the engine's state and what the driver adds around it.
pub struct Server {
    pub state: Arc<ServerState>,
    /// Memory budgets and recycled buffers for large transfers.
    memory: Arc<budget::Memory>,
    /// Which connections are let in (per-address and global caps).
    admission: Arc<admission::Admission>,
    /// The status socket was bound by this server (so it is this server's to remove).
    pub status_bound: AtomicBool,
    /// The status socket, bound by [`bind`] before the TCP listener (so whoever can
    /// connect can ask), until [`serve`] starts answering on it.
    status_listener: Mutex<Option<std::os::unix::net::UnixListener>>,
    /// Finished break records, for `opportune trace` (a subscriber that falls behind
    /// loses the oldest; nothing here waits for it).
    trace: broadcast::Sender<Arc<BreakRecord>>,
    /// Wakes the lock layer's timer when a deadline may have moved earlier.
    timer: Arc<Notify>,
}

impl std::ops::Deref for Server {
    type Target = ServerState;
    fn deref(&self) -> &ServerState {
        &self.state
    }
}

impl Server {
    /// The driver around `state`: budgets, admission, the engine's hooks installed.
    pub fn new(state: Arc<ServerState>) -> Arc<Server> {
        runtime::install_offload();
        let memory = Arc::new(budget::Memory::new(&state.config.limits, state.buffers.clone()));
        let admission = admission::Admission::new(state.config.max_connections, state.config.limits.max_connections_per_address);
        let (trace, _) = broadcast::channel(TRACE_BACKLOG);
        let timer = Arc::new(Notify::new());
        let (wake, tx) = (timer.clone(), trace.clone());
        state.locks.install(opportune_engine::locking::Hooks {
            wake_timer: Box::new(move || wake.notify_one()),
            trace: Box::new(move |r| {
                let _ = tx.send(r);
            }),
        });
        Arc::new(Server {
            state,
            memory,
            admission,
            status_bound: AtomicBool::new(false),
            status_listener: Mutex::new(None),
            trace,
            timer,
        })
    }
}

/// Blocks the kernel-lease break signals in the calling thread and every thread it starts
/// later: call it before the tokio runtime is built (see `opportune_fs::kernel_lease`).
/// Without it no kernel lease is ever taken (kernel oplocks then grant no caching that
/// needs one).
pub fn prepare_kernel_leases() -> std::io::Result<()> {
    opportune_fs::kernel_lease::block_lease_signals()
}

/// Binds the configured address; returns the listener and the server.
pub async fn bind(config: ServerConfig) -> Result<(TcpListener, Arc<Server>), ServerError> {
    let addr = config.listen;
    let server = Server::new(ServerState::new(config)?);
    // Before the listener: a client that can connect finds the status socket too.
    if let Some(path) = server.config.status_socket.clone() {
        match status::bind(&path) {
            Ok(l) => {
                server.status_bound.store(true, std::sync::atomic::Ordering::Relaxed);
                *server.status_listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(l);
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "no status socket"),
        }
    }
    let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Listen { addr, source })?;
    Ok((listener, server))
}

/// Accepts connections until the process ends.
pub async fn serve(listener: TcpListener, server: Arc<Server>) {
    let mut refusals = RefusalLog::default();
    tokio::spawn(timers::run(server.locks_handle(), server.timer.clone()));
    tokio::spawn(host_events::run(server.state.clone()));
    if server.config.kernel_oplocks {
        tokio::spawn(timers::run_kernel_leases(server.locks_handle()));
    }
    let status = server.status_listener.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(l) = status {
        match tokio::net::UnixListener::from_std(l) {
            Ok(l) => {
                tokio::spawn(status_serve::serve(server.clone(), l));
            }
            Err(e) => tracing::warn!(error = %e, "no status socket"),
        }
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
        let id = server.next_id();
        let ticket = match server.admission.admit(id, peer.ip()) {
            Ok(t) => t,
            Err(why) => {
                refusals.note(peer, why);
                drop(stream);
                continue;
            }
        };
        tokio::spawn(connection::run(server.clone(), stream, peer, id, ticket));
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
