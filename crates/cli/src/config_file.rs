//! The TOML configuration file: the same settings as the command line plus per-share
//! options. Unknown keys are errors that name the key.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub guest: Option<bool>,
    pub server_name: Option<String>,
    /// The workgroup RPC clients are told (default "WORKGROUP").
    pub workgroup: Option<String>,
    /// The server comment RPC clients are told (default "Opportune").
    pub server_comment: Option<String>,
    pub signing_required: Option<bool>,
    /// "off", "desired" or "required".
    pub encryption: Option<String>,
    pub max_connections: Option<usize>,
    pub oplock_break_timeout_secs: Option<u64>,
    pub enable_oplocks: Option<bool>,
    pub directory_leases: Option<bool>,
    pub max_directory_leases_per_client: Option<usize>,
    /// A Linux lease behind every grant (docs/COHERENCE.md).
    pub kernel_oplocks: Option<bool>,
    pub oplock_break_wait_ms: Option<u64>,
    pub max_link_delay_secs: Option<u64>,
    pub min_link_throughput: Option<u64>,
    /// Unix socket for `opportune status`; "" turns it off.
    pub status_socket: Option<PathBuf>,
    /// Where Prometheus metrics are served (`--metrics`); absent: nowhere.
    pub metrics_listen: Option<String>,
    /// Finished break records kept for `opportune status --breaks`.
    pub break_history: Option<usize>,
    /// How long a stop (SIGTERM, Ctrl-C) may take.
    pub shutdown_timeout_secs: Option<u64>,
    /// Threads that run connections (the runtime's workers); absent or 0: one per core but
    /// one, at least one (`serve::worker_threads`).
    pub worker_threads: Option<usize>,
    /// Budgets and deadlines (docs/SECURITY.md).
    #[serde(default)]
    pub limits: FileLimits,
    /// Transport liveness (docs/CONFIG.md).
    #[serde(default)]
    pub liveness: FileLiveness,
    /// Opens one session may hold (docs/SECURITY.md).
    pub max_opens_per_session: Option<usize>,
    /// Sessions one connection may hold.
    pub max_sessions_per_connection: Option<usize>,
    /// Tree connects one session may hold.
    pub max_trees_per_session: Option<usize>,
    /// mDNS / DNS-SD announcements (default: on unless listening on loopback).
    pub mdns: Option<bool>,
    /// The WS-Discovery responder (default: on unless listening on loopback).
    pub wsd: Option<bool>,
    /// The `_device-info._tcp` model Finder draws the server's icon from.
    pub model: Option<String>,
    /// The users file managed by `opportune user` / `opportune group` (docs/CONFIG.md);
    /// absent: none, only `[[user]]` tables.
    pub users_file: Option<PathBuf>,
    /// Where the server keeps its state (the domain SID); "" turns it off.
    pub state_dir: Option<PathBuf>,
    /// Each session's file-system calls run as its user's UNIX uid/gid (root only).
    pub unix_identity: Option<bool>,
    #[serde(default)]
    pub share: Vec<FileShare>,
    #[serde(default)]
    pub user: Vec<FileUser>,
}

/// The `[limits]` table: each key overrides one default of `opportune_server::Limits`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub negotiate_timeout_secs: Option<u64>,
    pub logon_timeout_secs: Option<u64>,
    pub max_preauth_frame: Option<usize>,
    pub max_pending_logons: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    pub receive_memory: Option<usize>,
    pub send_memory: Option<usize>,
    pub stall_timeout_secs: Option<u64>,
    pub max_compound_response: Option<usize>,
    pub max_pending_requests: Option<usize>,
    pub max_pending_bytes: Option<usize>,
}

impl FileLimits {
    /// Applies what the file says over `l`.
    pub fn apply(&self, l: &mut opportune_server::Limits) {
        use std::time::Duration;
        let secs = |v: Option<u64>, d: &mut Duration| {
            if let Some(s) = v {
                *d = Duration::from_secs(s);
            }
        };
        secs(self.negotiate_timeout_secs, &mut l.negotiate_timeout);
        secs(self.logon_timeout_secs, &mut l.logon_timeout);
        secs(self.stall_timeout_secs, &mut l.stall_timeout);
        let set = |v: Option<usize>, d: &mut usize| {
            if let Some(n) = v {
                *d = n;
            }
        };
        set(self.max_preauth_frame, &mut l.max_preauth_frame);
        set(self.max_pending_logons, &mut l.max_pending_logons);
        set(self.max_connections_per_address, &mut l.max_connections_per_address);
        set(self.receive_memory, &mut l.receive_memory);
        set(self.send_memory, &mut l.send_memory);
        set(self.max_compound_response, &mut l.max_compound_response);
        set(self.max_pending_requests, &mut l.max_pending_requests);
        set(self.max_pending_bytes, &mut l.max_pending_bytes);
    }
}

/// The `[liveness]` table: each key overrides one default of
/// `opportune_server::LivenessConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLiveness {
    pub enabled: Option<bool>,
    pub break_ack_timeout_ms: Option<u64>,
    pub probe_idle_secs: Option<u64>,
    pub probe_interval_secs: Option<u64>,
    pub probe_count: Option<u32>,
    pub probe_timeout_ms: Option<u64>,
    pub probe_window_secs: Option<u64>,
    pub keepalive_idle_secs: Option<u64>,
    pub keepalive_interval_secs: Option<u64>,
    pub keepalive_count: Option<u32>,
    /// 0: the kernel's retransmission limits.
    pub user_timeout_secs: Option<u64>,
}

impl FileLiveness {
    /// Applies what the file says over `l` (keepalive times of 0 s count as 1 s: the
    /// kernel's smallest).
    pub fn apply(&self, l: &mut opportune_server::LivenessConfig) {
        use std::time::Duration;
        let set = |v: Option<u64>, d: &mut Duration, unit: fn(u64) -> Duration| {
            if let Some(n) = v {
                *d = unit(n);
            }
        };
        if let Some(e) = self.enabled {
            l.enabled = e;
        }
        set(self.break_ack_timeout_ms, &mut l.break_ack_timeout, Duration::from_millis);
        set(self.probe_idle_secs, &mut l.probe.idle, Duration::from_secs);
        set(self.probe_interval_secs, &mut l.probe.interval, Duration::from_secs);
        set(self.probe_timeout_ms, &mut l.probe_timeout, Duration::from_millis);
        set(self.probe_window_secs, &mut l.probe_window, Duration::from_secs);
        set(self.keepalive_idle_secs, &mut l.idle.idle, Duration::from_secs);
        set(self.keepalive_interval_secs, &mut l.idle.interval, Duration::from_secs);
        l.probe.count = self.probe_count.unwrap_or(l.probe.count);
        l.idle.count = self.keepalive_count.unwrap_or(l.idle.count);
        if let Some(s) = self.user_timeout_secs {
            l.user_timeout = (s > 0).then(|| Duration::from_secs(s));
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileShare {
    pub name: String,
    pub path: PathBuf,
    /// Shown next to the name in share listings.
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub guest_ok: bool,
    #[serde(default)]
    pub case_sensitive: bool,
    /// "off", "desired" or "required": the stricter of this and the server's applies.
    pub encryption: Option<String>,
    pub oplocks: Option<bool>,
    pub level2_oplocks: Option<bool>,
    pub leases: Option<bool>,
    #[serde(default)]
    pub veto_oplock_files: Vec<String>,
    pub oplock_contention_limit: Option<u32>,
    pub strict_locking: Option<bool>,
    pub locking: Option<bool>,
    /// Mirror byte-range locks as OFD locks local processes see (Samba's "posix locking").
    pub posix_locking: Option<bool>,
    /// With the server's kernel_oplocks: Linux leases behind this share's grants.
    pub kernel_oplocks: Option<bool>,
    /// Preallocate the whole of an allocation request (Samba's "strict allocate").
    pub strict_allocate: Option<bool>,
    /// Bytes of the share's volume kept free; growth below answers STATUS_DISK_FULL.
    pub disk_free_reserve: Option<u64>,
    /// With the server's unix_identity: false serves this share as the server.
    pub unix_identity: Option<bool>,
    /// Only these users (names, `@group`) may connect (Samba's "valid users").
    #[serde(default)]
    pub valid_users: Vec<String>,
    /// These users may never connect, whatever else says (Samba's "invalid users").
    #[serde(default)]
    pub invalid_users: Vec<String>,
    /// These users get the share read-only (Samba's "read list").
    #[serde(default)]
    pub read_list: Vec<String>,
    /// These users may write even to a read-only share (Samba's "write list").
    #[serde(default)]
    pub write_list: Vec<String>,
    /// These users' trees hold BUILTIN\Administrators and every privilege (Samba's
    /// "admin users").
    #[serde(default)]
    pub admin_users: Vec<String>,
    /// Only these hosts (addresses, CIDR networks, ALL) may connect (Samba's "hosts allow").
    #[serde(default)]
    pub hosts_allow: Vec<String>,
    /// These hosts may not connect unless hosts_allow names them (Samba's "hosts deny").
    #[serde(default)]
    pub hosts_deny: Vec<String>,
    /// What Everyone gets on new files when the parent makes nothing inheritable:
    /// "owner", "read", "change" or "full" (default); the owner gets full control.
    pub default_acl: Option<String>,
    /// Directory listings show only what the user could open for reading.
    pub access_based_enumeration: Option<bool>,
    /// Bytes and files the whole share may hold (STATUS_DISK_FULL beyond).
    pub quota_bytes: Option<u64>,
    pub quota_files: Option<u64>,
    /// Bytes and files each user's own files may hold on this share, for users without
    /// limits of their own in the users file (STATUS_QUOTA_EXCEEDED beyond).
    pub user_quota_bytes: Option<u64>,
    pub user_quota_files: Option<u64>,
}

impl FileShare {
    /// The share's disk-space knobs, defaults for what the file does not say.
    pub fn space(&self) -> opportune_server::config::SpacePolicy {
        let d = opportune_server::config::SpacePolicy::default();
        opportune_server::config::SpacePolicy {
            strict_allocate: self.strict_allocate.unwrap_or(d.strict_allocate),
            free_reserve: self.disk_free_reserve.unwrap_or(d.free_reserve),
        }
    }

    /// The share's quota limits (none for what the file does not say).
    pub fn quota(&self) -> opportune_server::quota::QuotaConfig {
        use opportune_server::quota::{Limits, QuotaConfig};
        QuotaConfig {
            share: Limits { bytes: self.quota_bytes, files: self.quota_files },
            user_default: Limits { bytes: self.user_quota_bytes, files: self.user_quota_files },
        }
    }

    /// The share's access rules; the error names the share, the key and the entry.
    pub fn access(&self) -> Result<opportune_server::share_access::AccessRules, String> {
        opportune_server::share_access::AccessRules::parse([
            ("valid_users", &self.valid_users),
            ("invalid_users", &self.invalid_users),
            ("read_list", &self.read_list),
            ("write_list", &self.write_list),
            ("admin_users", &self.admin_users),
            ("hosts_allow", &self.hosts_allow),
            ("hosts_deny", &self.hosts_deny),
        ])
        .map_err(|e| format!("share {}: {e}", self.name))
    }

    /// The share's security settings, defaults for what the file does not say.
    pub fn security(&self) -> Result<opportune_server::security::ShareSecurity, String> {
        Ok(opportune_server::security::ShareSecurity {
            default_acl: match &self.default_acl {
                Some(s) => s.parse()?,
                None => Default::default(),
            },
            access_based_enumeration: self.access_based_enumeration.unwrap_or(false),
        })
    }

    /// The share's caching knobs, defaults for what the file does not say.
    pub fn caching(&self) -> opportune_server::ShareCaching {
        let d = opportune_server::ShareCaching::default();
        opportune_server::ShareCaching {
            oplocks: self.oplocks.unwrap_or(d.oplocks),
            level2_oplocks: self.level2_oplocks.unwrap_or(d.level2_oplocks),
            leases: self.leases.unwrap_or(d.leases),
            veto_oplock_files: self.veto_oplock_files.clone(),
            oplock_contention_limit: self.oplock_contention_limit.unwrap_or(d.oplock_contention_limit),
            strict_locking: self.strict_locking.unwrap_or(d.strict_locking),
            locking: self.locking.unwrap_or(d.locking),
            posix_locking: self.posix_locking.unwrap_or(d.posix_locking),
            kernel_oplocks: self.kernel_oplocks.unwrap_or(d.kernel_oplocks),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUser {
    pub name: String,
    /// Plain password (hashed at load; never kept).
    pub password: Option<String>,
    /// Or the NT hash as 32 hex digits.
    pub nt_hash: Option<String>,
    /// The UNIX uid and gid under `unix_identity` (both or neither).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

pub fn load(path: &std::path::Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    /// The example in docs/CONFIG.md is a valid file, and its `[limits]` values are the
    /// defaults it claims.
    #[test]
    fn the_documented_example_parses_with_the_default_limits() {
        let doc = include_str!("../../../docs/CONFIG.md");
        let start = doc.find("```toml\n").expect("toml block") + 8;
        let len = doc[start..].find("```").expect("end of block");
        let c: super::FileConfig = toml::from_str(&doc[start..start + len]).expect("docs/CONFIG.md example");
        let mut limits = opportune_server::Limits::default();
        c.limits.apply(&mut limits);
        assert_eq!(format!("{limits:?}"), format!("{:?}", opportune_server::Limits::default()));
        let mut changed = opportune_server::Limits::default();
        toml::from_str::<super::FileConfig>("[limits]\nmax_pending_logons = 2\nstall_timeout_secs = 5\n")
            .expect("limits")
            .limits
            .apply(&mut changed);
        assert_eq!((changed.max_pending_logons, changed.stall_timeout.as_secs()), (2, 5));
        let mut live = opportune_server::LivenessConfig::default();
        c.liveness.apply(&mut live);
        assert_eq!(live, opportune_server::LivenessConfig::default(), "[liveness] example shows the defaults");
    }

    #[test]
    fn liveness_knobs_parse() {
        let c: super::FileConfig = toml::from_str(
            "[liveness]\nbreak_ack_timeout_ms = 500\nprobe_count = 5\nprobe_window_secs = 7\nkeepalive_idle_secs = 30\nuser_timeout_secs = 90\n",
        )
        .expect("liveness");
        let mut l = opportune_server::LivenessConfig::default();
        c.liveness.apply(&mut l);
        assert_eq!(l.break_ack_timeout.as_millis(), 500);
        assert_eq!((l.probe.count, l.probe_window.as_secs(), l.idle.idle.as_secs()), (5, 7, 30));
        assert_eq!(l.user_timeout.map(|d| d.as_secs()), Some(90));
        toml::from_str::<super::FileConfig>("[liveness]\nuser_timeout_secs = 0\n").expect("zero").liveness.apply(&mut l);
        assert_eq!(l.user_timeout, None);
        let err = toml::from_str::<super::FileConfig>("[liveness]\nbreak_timeout_ms = 1\n").unwrap_err();
        assert!(err.to_string().contains("break_timeout_ms"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = toml::from_str::<super::FileConfig>("listen = \"127.0.0.1:1\"\nlisten_port = 3\n").unwrap_err();
        assert!(err.to_string().contains("listen_port"), "{err}");
        let err = toml::from_str::<super::FileConfig>("[[share]]\nname='a'\npath='/x'\nreadonly=true\n").unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }

    #[test]
    fn share_knobs_parse_with_defaults() {
        let c: super::FileConfig = toml::from_str(
            "enable_oplocks = false\noplock_break_wait_ms = 20\n[[share]]\nname='db'\npath='/srv/db'\nlevel2_oplocks = false\nveto_oplock_files = ['*.mdb']\nlocking = false\nposix_locking = false\n",
        )
        .unwrap();
        assert_eq!(c.enable_oplocks, Some(false));
        let k = c.share[0].caching();
        assert!(k.oplocks && !k.level2_oplocks && k.leases && k.strict_locking && !k.locking && !k.posix_locking);
        assert_eq!(k.veto_oplock_files, vec!["*.mdb".to_string()]);
        assert_eq!(c.share[0].space(), opportune_server::config::SpacePolicy::default());
    }

    #[test]
    fn resource_knobs_parse() {
        let c: super::FileConfig = toml::from_str(
            "max_opens_per_session = 100\nmax_sessions_per_connection = 2\nmax_trees_per_session = 3\n[[share]]\nname='s'\npath='/s'\nstrict_allocate = true\ndisk_free_reserve = 4096\n",
        )
        .unwrap();
        assert_eq!((c.max_opens_per_session, c.max_sessions_per_connection, c.max_trees_per_session), (Some(100), Some(2), Some(3)));
        let space = c.share[0].space();
        assert!(space.strict_allocate);
        assert_eq!(space.free_reserve, 4096);
    }

    #[test]
    fn access_lists_parse_and_bad_entries_are_named() {
        let c: super::FileConfig = toml::from_str(
            "users_file = '/etc/opportune/users.toml'\n[[share]]\nname='team'\npath='/srv/team'\nvalid_users = ['@staff', 'bob']\nhosts_deny = ['10.0.0.0/8']\n",
        )
        .unwrap();
        let a = c.share[0].access().unwrap();
        assert_eq!(a.valid_users.len(), 2);
        assert!(a.hosts_deny[0].matches("10.1.2.3".parse().unwrap()));
        let c: super::FileConfig = toml::from_str("[[share]]\nname='x'\npath='/x'\nhosts_allow = ['10.0.0.0/99']\n").unwrap();
        let e = c.share[0].access().unwrap_err();
        assert!(e.contains("share x") && e.contains("hosts_allow") && e.contains("10.0.0.0/99"), "{e}");
    }

    #[test]
    fn full_example_parses() {
        let c: super::FileConfig = toml::from_str(
            "listen = \"0.0.0.0:445\"\nguest = true\n[[share]]\nname = \"docs\"\npath = \"/srv/docs\"\nread_only = true\nguest_ok = true\n[[user]]\nname = \"alice\"\npassword = \"pw\"\n",
        )
        .unwrap();
        assert_eq!(c.share.len(), 1);
        assert!(c.share[0].read_only);
        assert_eq!(c.user[0].name, "alice");
    }
}
