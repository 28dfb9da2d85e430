//! What the server serves and to whom. Built by the CLI from flags or a TOML file.

use opportune_auth::NtHash;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ShareConfig {
    /// The name clients connect to (compared case-insensitively).
    pub name: String,
    pub path: PathBuf,
    pub read_only: bool,
    /// Guest and anonymous sessions may connect to this share.
    pub guest_ok: bool,
    /// Names are looked up case-sensitively (faster, not what Windows clients expect).
    pub case_sensitive: bool,
}

#[derive(Clone)]
pub struct UserConfig {
    pub name: String,
    pub nt_hash: NtHash,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig").field("name", &self.name).finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub shares: Vec<ShareConfig>,
    pub users: Vec<UserConfig>,
    /// Unknown users and anonymous logons become guest sessions (only guest_ok shares).
    pub guest: bool,
    /// NetBIOS-style name announced in NTLM target info.
    pub server_name: String,
    /// Require signing of every session that is not guest or anonymous.
    pub signing_required: bool,
    /// Largest READ/WRITE/transact payload advertised and enforced (MS-SMB2 3.3.5.4).
    pub max_io_size: u32,
    /// Concurrent connections admitted.
    pub max_connections: usize,
    /// How long a client gets to acknowledge an oplock or lease break.
    pub oplock_break_timeout: Duration,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr) -> Self {
        ServerConfig {
            listen,
            shares: Vec::new(),
            users: Vec::new(),
            guest: false,
            server_name: "OPPORTUNE".to_string(),
            signing_required: false,
            max_io_size: 8 * 1024 * 1024,
            max_connections: 4096,
            oplock_break_timeout: Duration::from_secs(35),
        }
    }

    pub fn share(&self, name: &str) -> Option<(usize, &ShareConfig)> {
        self.shares.iter().enumerate().find(|(_, s)| s.name.eq_ignore_ascii_case(name))
    }
}
