//! What the server serves and to whom. Built by the CLI from flags or a TOML file.

use opportune_auth::NtHash;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use opportune_fs::SpacePolicy;

#[derive(Clone, Debug)]
pub struct ShareConfig {
    /// The name clients connect to (compared case-insensitively).
    pub name: String,
    /// What share listings (NetrShareEnum) show next to the name. Default empty.
    pub comment: String,
    pub path: PathBuf,
    pub read_only: bool,
    /// Guest and anonymous sessions may connect to this share.
    pub guest_ok: bool,
    /// Names are looked up case-sensitively (faster, not what Windows clients expect).
    pub case_sensitive: bool,
    pub caching: ShareCaching,
    /// Encryption this share asks for, on top of the server's (Share.EncryptData).
    pub encryption: Encryption,
    /// Disk-space knobs: `strict_allocate` (default off) and `disk_free_reserve` (default
    /// 64 MiB); see `opportune_fs::SpacePolicy` and docs/SECURITY.md.
    pub space: SpacePolicy,
    /// Who may connect and how (valid_users, read_list, hosts_allow, ...; Samba's
    /// parameters of the same names): see `share_access` and docs/SECURITY.md.
    pub access: crate::share_access::AccessRules,
    /// `default_acl` and `access_based_enumeration` (see `security::ShareSecurity`).
    pub security: crate::security::ShareSecurity,
    /// With the server's `unix_identity`: this share's requests run as the session's
    /// UNIX identity (default); false: as the server. Ignored when the server's is off.
    pub unix_identity: bool,
    /// `quota_bytes`, `quota_files`, `user_quota_bytes`, `user_quota_files` (see `quota`).
    pub quota: crate::quota::table::QuotaConfig,
}

/// Whether the server asks SMB 3.x clients to encrypt, and refuses those that cannot
/// (MS-SMB2 3.3.1.5 EncryptData and RejectUnencryptedAccess; per share, Share.EncryptData).
/// The stricter of the server's and a share's setting applies to that share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encryption {
    /// The server does not ask; a client may still encrypt its own sessions (and once
    /// it has, its plaintext requests on that session are refused).
    #[default]
    Off,
    /// SMB 3.x clients that can encrypt are told to (SESSION_FLAG_ENCRYPT_DATA,
    /// SHAREFLAG_ENCRYPT_DATA) and their plaintext requests refused; others are served
    /// in plaintext.
    Desired,
    /// As `Desired`, and clients that cannot encrypt (below SMB 3.0, no cipher, guest or
    /// anonymous sessions) are refused with STATUS_ACCESS_DENIED.
    Required,
}

impl Encryption {
    /// Clients able to encrypt are told to.
    pub fn asks(self) -> bool {
        self >= Encryption::Desired
    }

    /// Clients unable to encrypt are refused.
    pub fn rejects_unencrypted(self) -> bool {
        self == Encryption::Required
    }
}

impl std::str::FromStr for Encryption {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(Encryption::Off),
            "desired" => Ok(Encryption::Desired),
            "required" => Ok(Encryption::Required),
            _ => Err(format!("encryption {s:?}: expected off, desired or required")),
        }
    }
}

/// The per-share oplock, lease and lock knobs. Each default is what a client expects of a
/// Windows server; turning one off trades speed for safety on files that need it.
#[derive(Clone, Debug)]
pub struct ShareCaching {
    /// Grant oplocks and leases on this share (Samba "oplocks"). Default on.
    pub oplocks: bool,
    /// Grant Level II (shared read) oplocks; off, contended files get no oplock at all
    /// (Samba "level2 oplocks"; the seeds' advice for databases). Default on.
    pub level2_oplocks: bool,
    /// Grant SMB 2.1+ leases. Default on.
    pub leases: bool,
    /// File names (globs with `*` and `?`, case-insensitive) that never get an oplock or
    /// lease, e.g. `["*.mdb", "*.dbf"]` for shared databases. Default none.
    pub veto_oplock_files: Vec<String>,
    /// A file with this many opens already gets no caching for the next open; 0 turns the
    /// limit off (Samba "oplock contention limit"). Default 0.
    pub oplock_contention_limit: u32,
    /// READ and WRITE are checked against other opens' byte-range locks. Default on.
    pub strict_locking: bool,
    /// Off: byte-range lock requests succeed without being recorded (read-only media).
    /// Default on.
    pub locking: bool,
    /// Byte-range locks are mirrored as OFD locks on the host, so local processes'
    /// `fcntl`/`lockf` locks and SMB locks see each other (Samba "posix locking"); bytes
    /// from 2^63 on stay SMB-only. Default on.
    pub posix_locking: bool,
    /// With the server's `kernel_oplocks`: a Linux lease behind every oplock and lease
    /// granted on this share (Samba "kernel oplocks"). Default on.
    pub kernel_oplocks: bool,
}

impl Default for ShareCaching {
    fn default() -> Self {
        ShareCaching {
            oplocks: true,
            level2_oplocks: true,
            leases: true,
            veto_oplock_files: Vec::new(),
            oplock_contention_limit: 0,
            strict_locking: true,
            locking: true,
            posix_locking: true,
            kernel_oplocks: true,
        }
    }
}

#[derive(Clone)]
pub struct UserConfig {
    pub name: String,
    pub nt_hash: NtHash,
    /// The RID the users file allocated; None for `[[user]]` tables and `--user`
    /// (a name-derived RID, see `accounts`).
    pub rid: Option<u32>,
    /// The UNIX uid and gid this user's file-system calls run as under `unix_identity`
    /// (both or neither); None: the system account of the same name (see `unix_id`).
    pub unix: Option<(u32, u32)>,
}

/// A group of the users file: its RID and its members (user names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    pub name: String,
    pub rid: Option<u32>,
    pub members: Vec<String>,
    /// A UNIX gid its members get as a supplementary group under `unix_identity`.
    pub gid: Option<u32>,
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
    /// Groups of users (the users file's), for `@group` in share lists and in tokens.
    pub groups: Vec<GroupConfig>,
    /// Where the server keeps its state (the domain SID); None: nowhere, the domain SID
    /// is derived from the server name. Read at start only.
    pub state_dir: Option<PathBuf>,
    /// Unknown users and anonymous logons become guest sessions (only guest_ok shares).
    pub guest: bool,
    /// NetBIOS-style name announced in NTLM target info.
    pub server_name: String,
    /// The workgroup the server names as its primary domain over RPC (wkssvc, lsarpc).
    /// Default "WORKGROUP".
    pub workgroup: String,
    /// The server's comment in NetrServerGetInfo. Default "Opportune".
    pub server_comment: String,
    /// Require signing of every session that is not guest or anonymous.
    pub signing_required: bool,
    /// Encryption of every session (MS-SMB2 3.3.1.5 EncryptData). Default off.
    pub encryption: Encryption,
    /// Largest READ/WRITE/transact payload advertised and enforced (MS-SMB2 3.3.5.4).
    pub max_io_size: u32,
    /// Concurrent connections admitted.
    pub max_connections: usize,
    /// How long a client gets to acknowledge an oplock or lease break (Windows'
    /// OplockBreakWait, 35 s).
    pub oplock_break_timeout: Duration,
    /// Server-wide switch for oplocks and leases (Windows' EnableOplocks). Default on.
    pub enable_oplocks: bool,
    /// SMB 3.x directory leases (MS-SMB2 3.3.5.9.11; SMB2_GLOBAL_CAP_DIRECTORY_LEASING).
    /// Default on.
    pub directory_leases: bool,
    /// Directory leases one client (ClientGuid) may hold with caching at once; beyond
    /// it a directory open gets no lease (the open itself succeeds). Default 1024.
    pub max_directory_leases_per_client: usize,
    /// Kernel oplocks: a Linux lease (F_SETLEASE) behind each grant of a file on a share
    /// whose `kernel_oplocks` is on too, so local processes and knfsd break SMB caching
    /// (docs/COHERENCE.md). Default on: all SMB opens of a file share one open file
    /// description, so the server's own opens never break its leases and SMB grants what
    /// it grants without kernel oplocks unless a host process has the file open.
    pub kernel_oplocks: bool,
    /// Delay before a break notification is sent (Samba "oplock break wait time"); gives a
    /// client that is about to close a chance to do so. Default 0.
    pub oplock_break_wait: Duration,
    /// How long a request that goes asynchronous alone in its frame (a deferred CREATE, a
    /// blocking lock, a deferred rename, CHANGE_NOTIFY) waits before its interim
    /// STATUS_PENDING is sent (MS-SMB2 3.3.4.2). One decided sooner is answered with one
    /// synchronous response and no interim. Default 500 µs, as Samba does; 0: at once.
    pub interim_delay: Duration,
    /// A connection whose break acknowledgment takes longer than this gets no new oplocks or
    /// leases (Windows' MaxLinkDelay). None: off (default).
    pub max_link_delay: Option<Duration>,
    /// A connection whose measured throughput is below this many bytes per second gets no
    /// new oplocks or leases (Windows' MinLinkThroughput). 0: off (default).
    pub min_link_throughput: u64,
    /// Where `opportune status` finds the server (a Unix socket); None: no status socket.
    pub status_socket: Option<std::path::PathBuf>,
    /// Budgets and deadlines for every peer (docs/SECURITY.md).
    pub limits: crate::limits::Limits,
    /// Opens one session may hold at once; more answer STATUS_TOO_MANY_OPENED_FILES. The
    /// descriptor budget bounds it further (see `limits`). Default 16384.
    pub max_opens_per_session: usize,
    /// Sessions one connection may hold (established or being set up); more answer
    /// STATUS_INSUFFICIENT_RESOURCES. Default 64.
    pub max_sessions_per_connection: usize,
    /// Tree connects one session may hold; more answer STATUS_INSUFFICIENT_RESOURCES.
    /// Default 1024.
    pub max_trees_per_session: usize,
    /// Transport liveness: break deadlines, probes of holders others wait on, idle
    /// keepalive (the `[liveness]` table; docs/CONFIG.md).
    pub liveness: crate::liveness::LivenessConfig,
    /// Finished break records kept for `opportune status --breaks`. Default 1000.
    pub break_history: usize,
    /// Each session's file-system calls run with its user's UNIX uid, gid and groups
    /// (`unix_id`; docs/SECURITY.md "UNIX identities"). Only as root. Default off.
    pub unix_identity: bool,
    /// Per-user quota limits (the users file's `quota_bytes`, `quota_files`), by user
    /// name; they apply on each share separately (see `quota`).
    pub user_quotas: Vec<(String, crate::quota::table::Limits)>,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr) -> Self {
        ServerConfig {
            listen,
            shares: Vec::new(),
            users: Vec::new(),
            groups: Vec::new(),
            state_dir: None,
            guest: false,
            server_name: "OPPORTUNE".to_string(),
            workgroup: "WORKGROUP".to_string(),
            server_comment: "Opportune".to_string(),
            signing_required: false,
            encryption: Encryption::Off,
            max_io_size: 8 * 1024 * 1024,
            max_connections: 4096,
            oplock_break_timeout: Duration::from_secs(35),
            enable_oplocks: true,
            directory_leases: true,
            max_directory_leases_per_client: 1024,
            kernel_oplocks: true,
            oplock_break_wait: Duration::ZERO,
            interim_delay: Duration::from_micros(500),
            max_link_delay: None,
            min_link_throughput: 0,
            status_socket: None,
            limits: Default::default(),
            max_opens_per_session: 16384,
            max_sessions_per_connection: 64,
            max_trees_per_session: 1024,
            liveness: Default::default(),
            break_history: 1000,
            unix_identity: false,
            user_quotas: Vec::new(),
        }
    }

    pub fn share(&self, name: &str) -> Option<(usize, &ShareConfig)> {
        self.shares.iter().enumerate().find(|(_, s)| s.name.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::Encryption;

    #[test]
    fn encryption_settings_parse_and_order() {
        assert_eq!("Required".parse::<Encryption>(), Ok(Encryption::Required));
        assert_eq!("off".parse::<Encryption>(), Ok(Encryption::Off));
        assert!("sometimes".parse::<Encryption>().is_err());
        assert_eq!(Encryption::Off.max(Encryption::Desired), Encryption::Desired);
        assert!(Encryption::Desired.asks() && !Encryption::Desired.rejects_unencrypted());
        assert!(Encryption::Required.asks() && Encryption::Required.rejects_unencrypted());
        assert!(!Encryption::Off.asks());
    }
}
