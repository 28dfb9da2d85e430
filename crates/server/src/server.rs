//! Server-wide state shared by every connection task.

use crate::config::ServerConfig;
use opportune_fs::Share;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

/// One configured share, opened.
pub struct ShareState {
    pub name: String,
    pub fs: Arc<Share>,
    pub read_only: bool,
    pub guest_ok: bool,
    pub caching: crate::config::ShareCaching,
}

pub struct ServerState {
    pub config: ServerConfig,
    pub shares: Vec<ShareState>,
    pub server_guid: [u8; 16],
    pub start_time: SystemTime,
    pub locks: Arc<crate::locking::Locking>,
    pub notify: crate::notify::NotifyHub,
    /// Every established session, for session binding checks (MS-SMB2 3.3.1.5 GlobalSessionTable).
    pub sessions: std::sync::Mutex<std::collections::HashMap<u64, crate::session::SessionInfo>>,
    /// The status socket was bound by this server (so it is this server's to remove).
    pub status_bound: std::sync::atomic::AtomicBool,
    /// The descriptor budget opens are admitted against (hardening #7).
    pub fds: crate::limits::FdBudget,
    next_id: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("share {name}: {source}")]
    Share { name: String, source: opportune_fs::FsError },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("no randomness available: {0}")]
    Random(String),
}

impl ServerState {
    pub fn new(mut config: ServerConfig) -> Result<Arc<ServerState>, ServerError> {
        let fds = crate::limits::FdBudget::of_process();
        if config.max_connections > fds.connection_cap() {
            tracing::warn!(
                configured = config.max_connections,
                allowed = fds.connection_cap(),
                nofile = fds.limit(),
                "max_connections lowered to half of the descriptor budget"
            );
            config.max_connections = fds.connection_cap();
        }
        let mut shares = Vec::new();
        for s in &config.shares {
            let fs = Share::with_space(&s.path, s.case_sensitive, s.space)
                .map_err(|source| ServerError::Share { name: s.name.clone(), source })?;
            shares.push(ShareState {
                name: s.name.clone(),
                fs: Arc::new(fs),
                read_only: s.read_only,
                guest_ok: s.guest_ok,
                caching: s.caching.clone(),
            });
        }
        let mut server_guid = [0u8; 16];
        random_bytes(&mut server_guid)?;
        let mut seed = [0u8; 8];
        random_bytes(&mut seed)?;
        // Ids start at a random point so they are not guessable across restarts.
        let start = (u64::from_le_bytes(seed) >> 16).max(1);
        Ok(Arc::new(ServerState {
            locks: Arc::new(crate::locking::Locking::new(config.oplock_break_timeout)),
            sessions: Default::default(),
            status_bound: Default::default(),
            fds,
            notify: Default::default(),
            config,
            shares,
            server_guid,
            start_time: SystemTime::now(),
            next_id: AtomicU64::new(start),
        }))
    }

    /// A fresh nonzero id for sessions, async requests, opens and connections.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The lock core, for tasks that outlive a request.
    pub fn locks_handle(&self) -> Arc<crate::locking::Locking> {
        self.locks.clone()
    }

    pub fn global_session(&self, id: u64) -> Option<crate::session::SessionInfo> {
        self.sessions.lock().ok()?.get(&id).cloned()
    }

    pub fn register_session(&self, id: u64, info: crate::session::SessionInfo) {
        if let Ok(mut m) = self.sessions.lock() {
            m.insert(id, info);
        }
    }

    /// STATUS_TOO_MANY_OPENED_FILES unless one more open fits the descriptor budget and
    /// the session's cap, with `session_opens` held by the session (see `limits`).
    pub fn admit_open(&self, session_opens: usize) -> Result<(), opportune_types::NtStatus> {
        let connections = self.locks.connection_count();
        self.fds.admit(session_opens, self.config.max_opens_per_session, connections)
    }

    pub fn forget_session(&self, id: u64) {
        if let Ok(mut m) = self.sessions.lock() {
            m.remove(&id);
        }
    }

    pub fn share(&self, name: &str) -> Option<usize> {
        self.shares.iter().position(|s| s.name.eq_ignore_ascii_case(name))
    }
}

pub fn random_bytes(buf: &mut [u8]) -> Result<(), ServerError> {
    getrandom::fill(buf).map_err(|e| ServerError::Random(e.to_string()))
}
