//! The Opportune SMB2/SMB3 server: a tokio listener, one task per connection, and the
//! protocol state of each connection (sessions, trees, opens, credits, compounding).
//! The wire codec, authentication, the file system and the lock core are separate
//! crates that do no networking.

pub mod config;
mod conn_state;
mod connection;
mod credits;
mod dispatch;
mod durable;
mod events;
mod frames;
mod handlers;
mod limits;
mod locking;
mod meta;
mod notify;
mod offload;
mod open;
mod pending;
mod policy;
mod security;
mod server;
mod session;
pub mod status;
mod wildcard;

pub use config::{ServerConfig, ShareCaching, ShareConfig, UserConfig};
pub use server::{ServerError, ServerState};

use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Binds the configured address; returns the listener and the server state.
pub async fn bind(config: ServerConfig) -> Result<(TcpListener, Arc<ServerState>), ServerError> {
    let addr = config.listen;
    let state = ServerState::new(config)?;
    let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Listen { addr, source })?;
    Ok((listener, state))
}

/// Accepts connections until the process ends.
pub async fn serve(listener: TcpListener, state: Arc<ServerState>) {
    let limit = Arc::new(Semaphore::new(state.config.max_connections));
    let timer_state = state.clone();
    tokio::spawn(async move { timer_state.locks.run_timer().await });
    if let Some(path) = state.config.status_socket.clone() {
        match status::bind(&path) {
            Ok(l) => {
                state.status_bound.store(true, std::sync::atomic::Ordering::Relaxed);
                tokio::spawn(status::serve(state.clone(), l));
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "no status socket"),
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
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached; refusing");
            drop(stream);
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            connection::run(state, stream, peer).await;
            drop(permit);
        });
    }
}
