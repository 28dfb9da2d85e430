//! Server-wide state shared by every connection task.

use crate::config::ServerConfig;
use crate::identity::Identity;
use crate::server_error::ServerError;
use crate::share_state::ShareState;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

/// Produces the configuration a reload applies.
pub type Reloader = Arc<dyn Fn() -> Result<ServerConfig, String> + Send + Sync>;

pub struct ServerState {
    pub config: ServerConfig,
    /// The shares, changed by a reload (`reload.rs`).
    pub shares: crate::share_table::ShareTable,
    /// The users who may log on, replaced by a reload (`config.users` is what the server
    /// started with).
    users: std::sync::RwLock<Arc<Vec<crate::config::UserConfig>>>,
    /// The account domain (users and groups with their SIDs), replaced with the users.
    directory: std::sync::RwLock<Arc<crate::accounts::Directory>>,
    pub server_guid: [u8; 16],
    /// A random NT hash, drawn at start, that unknown user names are checked against so
    /// they cost what a known user's check costs (nobody knows a password for it).
    pub dummy_hash: opportune_auth::NtHash,
    pub start_time: SystemTime,
    /// Where the engine reads the time (the real clocks, or virtual time in tests).
    pub clock: Arc<dyn crate::clock::Clock>,
    /// Where the engine draws its randomness (the OS, or a seed in tests).
    pub entropy: Arc<dyn crate::entropy::Entropy>,
    pub locks: Arc<crate::locking::Locking>,
    pub notify: crate::notify::NotifyHub,
    /// Host changes for CHANGE_NOTIFY (inotify).
    pub host_notify: crate::host_notify::HostNotify,
    /// Directories under a directory lease, by path.
    pub dir_leases: crate::dir_leases::DirLeases,
    /// Host watches behind handle caching.
    pub host_names: crate::host_names::HostNames,
    /// Every established session, for session binding checks (MS-SMB2 3.3.1.5 GlobalSessionTable).
    pub sessions: std::sync::Mutex<std::collections::HashMap<u64, crate::session::SessionInfo>>,
    /// Recycled large buffers (frames received, responses built), shared with the driver.
    pub buffers: Arc<crate::buffers::BufferPool>,
    /// Failed-logon counters and the back-off they impose (hardening #10).
    pub throttle: crate::throttle::LogonThrottle,
    /// Session ids handed out and not yet forgotten (established or still authenticating).
    session_ids: std::sync::Mutex<std::collections::HashSet<u64>>,
    /// The descriptor budget opens are admitted against (hardening #7).
    pub fds: crate::fd_budget::FdBudget,
    /// Transport-liveness knobs and what they decided (issue 12).
    pub liveness: Arc<crate::liveness::Liveness>,
    /// Reads the configuration again for a reload (set by whoever built it: the CLI).
    reloader: std::sync::Mutex<Option<Reloader>>,
    /// Parsed security descriptors by file, validated by ctime (`access_check`).
    pub descriptors: crate::descriptor_cache::DescriptorCache,
    next_id: AtomicU64,
}

impl ServerState {
    /// The server state on the real clocks and the operating system's randomness.
    pub fn new(config: ServerConfig) -> Result<Arc<ServerState>, ServerError> {
        Self::with_sources(config, Arc::new(crate::clock::SystemClock), Arc::new(crate::entropy::OsEntropy))
    }

    /// The server state reading the time from `clock` and drawing randomness from
    /// `entropy` (a test world passes virtual time and a seeded generator).
    pub fn with_sources(
        config: ServerConfig,
        clock: Arc<dyn crate::clock::Clock>,
        entropy: Arc<dyn crate::entropy::Entropy>,
    ) -> Result<Arc<ServerState>, ServerError> {
        Self::with_file_systems(config, clock, entropy, &|_| None)
    }

    /// [`ServerState::with_sources`], each share on the file system `fs` gives for it (a
    /// test world passes the in-memory double, `opportune_fs::Share::in_memory`), or, where
    /// it gives none, on the POSIX share root at the configured path.
    pub fn with_file_systems(
        mut config: ServerConfig,
        clock: Arc<dyn crate::clock::Clock>,
        entropy: Arc<dyn crate::entropy::Entropy>,
        fs: &dyn Fn(&crate::config::ShareConfig) -> Option<opportune_fs::Share>,
    ) -> Result<Arc<ServerState>, ServerError> {
        if config.unix_identity {
            crate::unix_id::check_can_switch().map_err(ServerError::UnixIdentity)?;
        }
        let fds = crate::fd_budget::FdBudget::of_process();
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
            shares.push(match fs(s) {
                Some(given) => ShareState::with_fs(s, config.encryption, config.kernel_oplocks, Arc::new(given)),
                None => ShareState::open(s, config.encryption, config.kernel_oplocks)?,
            });
        }
        let mut server_guid = [0u8; 16];
        entropy.fill(&mut server_guid)?;
        let mut dummy = [0u8; 16];
        entropy.fill(&mut dummy)?;
        let mut seed = [0u8; 8];
        entropy.fill(&mut seed)?;
        // Ids start at a random point so they are not guessable across restarts.
        let start = (u64::from_le_bytes(seed) >> 16).max(1);
        let state = Arc::new(ServerState {
            locks: Arc::new(crate::locking::Locking::new(
                config.oplock_break_timeout,
                config.break_history,
                shares.iter().map(|s| s.name.clone()).collect(),
                clock.clone(),
            )),
            users: std::sync::RwLock::new(Arc::new(config.users.clone())),
            directory: std::sync::RwLock::new(Arc::new(crate::accounts::Directory::new(
                crate::accounts::sids::resolve(config.state_dir.as_deref(), &config.server_name),
                &config.users,
                &config.groups,
            ))),
            sessions: Default::default(),
            session_ids: Default::default(),
            throttle: Default::default(),
            fds,
            liveness: Arc::new(crate::liveness::Liveness { config: config.liveness.clone(), counters: Default::default() }),
            notify: Default::default(),
            host_notify: Default::default(),
            dir_leases: Default::default(),
            host_names: Default::default(),
            reloader: Default::default(),
            descriptors: Default::default(),
            buffers: Default::default(),
            config,
            shares: crate::share_table::ShareTable::new(shares),
            server_guid,
            dummy_hash: opportune_auth::NtHash(dummy),
            start_time: clock.wall(),
            clock,
            entropy,
            next_id: AtomicU64::new(start),
        });
        crate::quota::configure(&state.shares, &state.directory(), &state.config.user_quotas, &[]);
        Ok(state)
    }

    /// A fresh nonzero id for sessions, async requests, opens and connections.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh session id (MS-SMB2 3.3.5.5.1 leaves its choice to the server): random, so
    /// that nobody can guess another client's session; non-zero; and unique among the ids
    /// in use until [`ServerState::forget_session`] releases it.
    pub fn new_session_id(&self) -> Result<u64, ServerError> {
        let mut ids = self.session_ids.lock().map_err(|_| ServerError::Random("session table poisoned".into()))?;
        loop {
            let mut b = [0u8; 8];
            self.random_bytes(&mut b)?;
            let id = u64::from_le_bytes(b);
            // u64::MAX means "the session of the previous request" in a related compound.
            if id != 0 && id != u64::MAX && ids.insert(id) {
                return Ok(id);
            }
        }
    }

    /// Fills `buf` from the server's randomness ([`ServerState::entropy`]).
    pub fn random_bytes(&self, buf: &mut [u8]) -> Result<(), ServerError> {
        self.entropy.fill(buf)
    }

    /// The monotonic time now, on the server's clock.
    pub fn now(&self) -> std::time::Instant {
        self.clock.now()
    }

    /// The wall-clock time now, on the server's clock.
    pub fn wall(&self) -> SystemTime {
        self.clock.wall()
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
            crate::metrics::sessions_now(m.len());
        }
    }

    /// STATUS_TOO_MANY_OPENED_FILES unless one more open fits the descriptor budget, the
    /// session's cap and the client address's share, with `session_opens` held by the
    /// session and `address_opens` from its address (see `fd_budget`).
    pub fn admit_open(&self, session_opens: usize, address_opens: usize) -> Result<(), opportune_types::NtStatus> {
        let connections = self.locks.connection_count();
        self.fds.admit(session_opens, address_opens, self.config.max_opens_per_session, connections)
    }

    /// The session is gone: it leaves the global table and its id may be handed out again.
    pub fn forget_session(&self, id: u64) {
        if let Ok(mut m) = self.sessions.lock() {
            m.remove(&id);
            crate::metrics::sessions_now(m.len());
        }
        if let Ok(mut ids) = self.session_ids.lock() {
            ids.remove(&id);
        }
    }

    pub fn share(&self, name: &str) -> Option<usize> {
        self.shares.find(name).map(|(i, _)| i)
    }

    /// Whether a session of `identity` may connect to `share`: users to every share;
    /// guest and anonymous sessions only to guest_ok shares, and only while guest access is
    /// on. A share the session may not use is answered as if it did not exist
    /// (STATUS_BAD_NETWORK_NAME, MS-SMB2 3.3.5.7), so share names are not revealed to
    /// whoever cannot use them.
    pub fn may_use(&self, share: &ShareState, identity: Identity) -> bool {
        identity == Identity::User || (self.config.guest && share.guest_ok)
    }

    /// How a reload gets the new configuration (the CLI reads its files and flags again).
    pub fn set_reloader(&self, r: Reloader) {
        *self.reloader.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
    }

    /// How a reload gets the new configuration, if anyone set it (`reload.rs`).
    pub(crate) fn reloader(&self) -> Option<Reloader> {
        self.reloader.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The users who may log on now.
    pub fn users(&self) -> Arc<Vec<crate::config::UserConfig>> {
        self.users.read().map_or_else(|p| p.into_inner().clone(), |u| u.clone())
    }

    /// The account domain now: users and groups with their SIDs.
    pub fn directory(&self) -> Arc<crate::accounts::Directory> {
        self.directory.read().map_or_else(|p| p.into_inner().clone(), |d| d.clone())
    }

    /// Replaces the users and groups (a reload); the domain SID stays.
    pub fn set_users(&self, users: Vec<crate::config::UserConfig>, groups: &[crate::config::GroupConfig]) {
        let domain = self.directory().domain.clone();
        let directory = Arc::new(crate::accounts::Directory::new(domain, &users, groups));
        *self.directory.write().unwrap_or_else(|p| p.into_inner()) = directory;
        let mut w = self.users.write().unwrap_or_else(|p| p.into_inner());
        *w = Arc::new(users);
    }
}
