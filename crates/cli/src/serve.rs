//! `opportune serve`: builds the server configuration from flags and an optional
//! config file, prints how to connect, and runs until interrupted.

use crate::config_file::{self, FileConfig};
use clap::Args;
use opportune_auth::NtHash;
use opportune_server::{ServerConfig, ShareConfig, UserConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Threads the runtime may start for blocking work: the frames that may wait for the disk
/// run in `block_in_place` (the engine's `offload`, through the driver's runner), each of which moves its worker's
/// other tasks to one of these. Beyond this many at once, further hand-offs wait for one to
/// return (docs/SECURITY.md).
pub const MAX_BLOCKING_THREADS: usize = 128;

/// Loopback only: nothing is exposed to the network unless asked for.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4445";

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// A folder to serve as a share named after it.
    path: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:4445].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// A share as NAME=PATH (repeatable).
    #[arg(long = "share", value_name = "NAME=PATH")]
    shares: Vec<String>,
    /// A user as NAME:PASSWORD (repeatable).
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    users: Vec<String>,
    /// Guest access: anonymous logons, unknown users and wrong passwords become guest
    /// sessions (only shares with guest_ok, or all shares given on the command line,
    /// accept guests); without it they are refused.
    #[arg(long)]
    guest: bool,
    /// Serve every share read-only.
    #[arg(long)]
    read_only: bool,
    /// Require signing on every authenticated session.
    #[arg(long)]
    signing_required: bool,
    /// Encryption of every session: off (the server does not ask), desired (SMB 3.x
    /// clients are asked to encrypt) or required (clients that cannot are refused)
    /// [default: off].
    #[arg(long, value_name = "off|desired|required")]
    encryption: Option<opportune_server::Encryption>,
    /// A TOML configuration file (see docs/CONFIG.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Unix socket for `opportune status`, in a directory only this user (or root) can
    /// write [default: opportune-IP-PORT.sock in $XDG_RUNTIME_DIR/opportune, else
    /// /run/opportune for root, else a 0700 /tmp/opportune-UID].
    #[arg(long, value_name = "PATH")]
    status_socket: Option<PathBuf>,
    /// Serve Prometheus metrics over HTTP at ADDR (e.g. 127.0.0.1:9445; any path answers)
    /// [default: off; TOML `metrics_listen`]. Keep it on loopback unless the network
    /// that reaches it is trusted: the figures name shares and NT statuses.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Check the configuration (file, shares, users) and exit: 0 and a summary when it
    /// would serve, 2 and the problem otherwise.
    #[arg(long)]
    check_config: bool,
    /// The users file (accounts and groups managed by `opportune user` and `opportune
    /// group`) [default: the configuration's `users_file`, else none].
    #[arg(long, value_name = "PATH")]
    users_file: Option<PathBuf>,
    /// Where the server keeps its state, the domain SID of its accounts [default: the
    /// configuration's `state_dir`, else /var/lib/opportune for root,
    /// $XDG_STATE_HOME/opportune or ~/.local/state/opportune for others].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// No mDNS announcements and no WS-Discovery responder, whatever the configuration
    /// says (docs/CONFIG.md).
    #[arg(long)]
    no_discovery: bool,
}

/// How long a stop may take unless `shutdown_timeout_secs` says otherwise: breaks in
/// flight get half of it, connections' cleanups the rest.
pub const DEFAULT_SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub fn run(args: ServeArgs) -> Result<(), String> {
    // Before any thread exists: a lease-break signal reaching a thread that does not
    // block it would end the process.
    opportune_server::prepare_kernel_leases().map_err(|e| format!("blocking the lease-break signals: {e}"))?;
    init_logging();
    let file = match &args.config {
        Some(p) => config_file::load(p)?,
        None => FileConfig::default(),
    };
    let metrics = match (args.metrics, &file.metrics_listen) {
        (Some(a), _) => Some(a),
        (None, Some(s)) => Some(s.parse::<SocketAddr>().map_err(|e| format!("metrics_listen = {s:?}: {e}"))?),
        (None, None) => None,
    };
    let shutdown_timeout = file.shutdown_timeout_secs.map_or(DEFAULT_SHUTDOWN_TIMEOUT, std::time::Duration::from_secs);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let workers = worker_threads(file.worker_threads, cores, std::env::var_os("TOKIO_WORKER_THREADS").is_some())?;
    let discovery = crate::discovery::Settings::new(&file, args.no_discovery);
    let (config, generated) = build_config(&args, file)?;
    if args.check_config {
        return check_config(&config);
    }
    // Before any thread exists: every runtime thread starts as the server (runtime.rs).
    let runtime = opportune_server::runtime::builder(MAX_BLOCKING_THREADS)
        .and_then(|mut b| {
            if let Some(n) = workers {
                b.worker_threads(n);
            }
            b.build()
        })
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        if let Some(addr) = metrics {
            // Before the server exists, so every counter it creates is recorded.
            install_metrics(addr)?;
        }
        let (listener, state) = opportune_server::bind(config).await.map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        announce(&state.config, addr, generated.as_ref());
        let announcements = discovery.start(&state.config.server_name, addr);
        let st = state.clone();
        st.set_reloader(reloader(args.clone(), generated.clone()));
        let reloading = st.clone();
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                let st = reloading.clone();
                crate::sd_notify::notify("RELOADING=1");
                match tokio::task::spawn_blocking(move || st.reload()).await {
                    Ok(Ok(report)) => eprintln!("opportune: reloaded: {report}"),
                    Ok(Err(e)) => eprintln!("opportune: reload refused: {e}"),
                    Err(e) => eprintln!("opportune: reload failed: {e}"),
                }
                crate::sd_notify::notify("READY=1");
            }
        });
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
        crate::sd_notify::notify(&format!("READY=1\nSTATUS=serving {} shares on {addr}", st.shares.len()));
        if let Some(every) = crate::sd_notify::watchdog_interval() {
            let watched = st.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    // Taking the lock core's mutex proves the core is not wedged.
                    let _ = watched.locks_handle().connection_count();
                    crate::sd_notify::notify("WATCHDOG=1");
                }
            });
        }
        tokio::select! {
            () = opportune_server::serve(listener, state) => {}
            _ = tokio::signal::ctrl_c() => eprintln!("opportune: interrupted, stopping"),
            _ = term.recv() => eprintln!("opportune: terminated, stopping"),
        }
        // The listener is gone with `serve`; pending breaks and requests finish within the bound.
        crate::sd_notify::notify("STOPPING=1");
        if let Some(d) = announcements {
            d.stop().await;
        }
        let report = opportune_server::stop(&st, shutdown_timeout).await;
        if report.breaks_left > 0 || report.connections_left > 0 {
            eprintln!(
                "opportune: stopped after {:?} with {} breaks unacknowledged and {} connections still closing",
                report.took, report.breaks_left, report.connections_left
            );
        }
        if let (Some(p), true) = (&st.config.status_socket, st.status_bound.load(std::sync::atomic::Ordering::Relaxed)) {
            let _ = std::fs::remove_file(p);
        }
        Ok(())
    })
}

/// What a reload applies: the configuration file and the flags read again. A first-run
/// user generated at start stays (with its password) while no user is configured.
fn reloader(args: ServeArgs, generated: Option<(String, String)>) -> opportune_server::Reloader {
    std::sync::Arc::new(move || {
        let file = match &args.config {
            Some(p) => config_file::load(p)?,
            None => FileConfig::default(),
        };
        let (mut config, fresh) = build_config(&args, file)?;
        if let (Some(_), Some((name, pw))) = (fresh, &generated) {
            config.users = vec![UserConfig { name: name.clone(), nt_hash: NtHash::from_password(pw), rid: None, unix: None }];
        }
        Ok(config)
    })
}

/// Most worker threads `worker_threads` may ask for.
pub const MAX_WORKER_THREADS: usize = 1024;

/// The runtime's worker threads: `worker_threads` if set (not 0); else what
/// `TOKIO_WORKER_THREADS` says (None: tokio reads it); else one per core but one, at
/// least one. The core left over is the kernel's network processing, the blocking pool's
/// and the clients' on the same machine: a worker there only steals work back and forth
/// (measured on 2 cores: 25.5 against 36 µs of server CPU per open+close, less per echo
/// and per oplock break too; docs/BENCHMARKS.md).
fn worker_threads(asked: Option<usize>, cores: usize, env_says: bool) -> Result<Option<usize>, String> {
    match asked {
        Some(n) if n > MAX_WORKER_THREADS => Err(format!("worker_threads = {n}: at most {MAX_WORKER_THREADS}")),
        Some(n) if n > 0 => Ok(Some(n)),
        _ if env_says => Ok(None),
        _ => Ok(Some(cores.saturating_sub(1).max(1))),
    }
}

/// `--check-config`: what `serve` would serve, or why it would not.
fn check_config(config: &ServerConfig) -> Result<(), String> {
    if config.unix_identity {
        opportune_server::unix_id::check_can_switch()?;
    }
    for s in &config.shares {
        match std::fs::metadata(&s.path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("share {}: {} is not a directory", s.name, s.path.display())),
            Err(e) => return Err(format!("share {}: {}: {e}", s.name, s.path.display())),
        }
    }
    println!(
        "configuration OK: {} share{}, {} user{}, listening on {}",
        config.shares.len(),
        if config.shares.len() == 1 { "" } else { "s" },
        config.users.len(),
        if config.users.len() == 1 { "" } else { "s" },
        config.listen
    );
    Ok(())
}

/// The Prometheus exporter on `addr` (its own HTTP listener on this runtime).
fn install_metrics(addr: SocketAddr) -> Result<(), String> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets(opportune_server::metrics::SECONDS_BUCKETS)
        .map_err(|e| format!("metrics: {e}"))?
        .install()
        .map_err(|e| format!("metrics on {addr}: {e}"))?;
    opportune_server::metrics::describe();
    eprintln!("opportune: metrics at http://{addr}/metrics");
    Ok(())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPPORTUNE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// The configuration, and the password generated for the first-run user if there was one.
fn build_config(args: &ServeArgs, file: FileConfig) -> Result<(ServerConfig, Option<(String, String)>), String> {
    let listen = match (args.listen, &file.listen) {
        (Some(a), _) => a,
        (None, Some(s)) => s.parse().map_err(|e| format!("listen = {s:?}: {e}"))?,
        (None, None) => DEFAULT_LISTEN.parse().map_err(|e| format!("{e}"))?,
    };
    let mut config = ServerConfig::new(listen);
    config.guest = args.guest || file.guest.unwrap_or(false);
    config.signing_required = args.signing_required || file.signing_required.unwrap_or(false);
    config.encryption = match (args.encryption, &file.encryption) {
        (Some(e), _) => e,
        (None, Some(s)) => s.parse()?,
        (None, None) => opportune_server::Encryption::Off,
    };
    if let Some(w) = file.workgroup {
        config.workgroup = w;
    }
    if let Some(c) = file.server_comment {
        config.server_comment = c;
    }
    if let Some(n) = file.server_name {
        config.server_name = n;
    }
    if let Some(n) = file.max_connections {
        config.max_connections = n;
    }
    file.limits.apply(&mut config.limits);
    file.liveness.apply(&mut config.liveness);
    if let Some(s) = file.oplock_break_timeout_secs {
        config.oplock_break_timeout = std::time::Duration::from_secs(s);
    }
    config.enable_oplocks = file.enable_oplocks.unwrap_or(config.enable_oplocks);
    config.directory_leases = file.directory_leases.unwrap_or(config.directory_leases);
    if let Some(n) = file.max_directory_leases_per_client {
        config.max_directory_leases_per_client = n;
    }
    config.kernel_oplocks = file.kernel_oplocks.unwrap_or(config.kernel_oplocks);
    if let Some(ms) = file.oplock_break_wait_ms {
        config.oplock_break_wait = std::time::Duration::from_millis(ms);
    }
    config.max_link_delay = file.max_link_delay_secs.filter(|&s| s > 0).map(std::time::Duration::from_secs);
    config.min_link_throughput = file.min_link_throughput.unwrap_or(0);
    config.status_socket = match (&args.status_socket, &file.status_socket) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(p)) if p.as_os_str().is_empty() => None,
        (None, Some(p)) => Some(p.clone()),
        (None, None) => Some(opportune_server::status::default_socket(listen)),
    };
    config.max_opens_per_session = file.max_opens_per_session.unwrap_or(config.max_opens_per_session);
    config.max_sessions_per_connection =
        file.max_sessions_per_connection.unwrap_or(config.max_sessions_per_connection);
    config.max_trees_per_session = file.max_trees_per_session.unwrap_or(config.max_trees_per_session);
    config.break_history = file.break_history.unwrap_or(config.break_history);
    config.unix_identity = file.unix_identity.unwrap_or(false);
    config.state_dir = match (&args.state_dir, &file.state_dir) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(p)) if p.as_os_str().is_empty() => None,
        (None, Some(p)) => Some(p.clone()),
        (None, None) => opportune_server::accounts::sids::default_state_dir(),
    };
    let users_file = args.users_file.clone().or_else(|| file.users_file.clone());
    for s in file.share {
        let caching = s.caching();
        let space = s.space();
        let access = s.access()?;
        let security = s.security()?;
        let quota = s.quota();
        config.shares.push(ShareConfig {
            name: s.name,
            comment: s.comment,
            path: s.path,
            read_only: s.read_only || args.read_only,
            guest_ok: s.guest_ok,
            case_sensitive: s.case_sensitive,
            caching,
            encryption: match &s.encryption {
                Some(e) => e.parse()?,
                None => opportune_server::Encryption::Off,
            },
            space,
            access,
            security,
            unix_identity: s.unix_identity.unwrap_or(true),
            quota,
        });
    }
    let cli_shares = args.shares.iter().map(|s| parse_share(s)).collect::<Result<Vec<_>, _>>()?;
    let folder = args.path.iter().map(|p| folder_share(p)).collect::<Result<Vec<_>, _>>()?;
    for (name, path) in cli_shares.into_iter().chain(folder) {
        config.shares.push(ShareConfig {
            comment: String::new(),
            name,
            path,
            read_only: args.read_only,
            guest_ok: config.guest,
            case_sensitive: false,
            caching: opportune_server::ShareCaching::default(),
            encryption: opportune_server::Encryption::Off,
            space: Default::default(),
            access: Default::default(),
            security: Default::default(),
            unix_identity: true,
            quota: Default::default(),
        });
    }
    if config.shares.is_empty() {
        return Err("nothing to serve: give a folder, --share NAME=PATH or --config FILE".into());
    }
    check_unique_shares(&config.shares)?;
    for u in file.user {
        config.users.push(file_user(u)?);
    }
    if let Some(path) = &users_file {
        add_users_file(&mut config, path)?;
    }
    for u in &args.users {
        let (name, pw) = u.split_once(':').ok_or_else(|| format!("--user {u:?}: expected NAME:PASSWORD"))?;
        if name.is_empty() {
            return Err(format!("--user {u:?}: empty user name"));
        }
        config.users.push(UserConfig { name: name.to_string(), nt_hash: NtHash::from_password(pw), rid: None, unix: None });
    }
    let mut generated = None;
    if config.users.is_empty() && !config.guest {
        let (name, pw) = first_run_user()?;
        config.users.push(UserConfig { name: name.clone(), nt_hash: NtHash::from_password(&pw), rid: None, unix: None });
        generated = Some((name, pw));
    }
    Ok((config, generated))
}

/// The users and groups of the users file at `path`, with their RIDs; a name also
/// configured as a `[[user]]` table is an error.
fn add_users_file(config: &mut ServerConfig, path: &std::path::Path) -> Result<(), String> {
    use opportune_server::accounts::users_file::{hash_from_hex, UsersFile};
    let f = UsersFile::load(path)?;
    for u in &f.users {
        if config.users.iter().any(|c| c.name.eq_ignore_ascii_case(&u.name)) {
            return Err(format!("user {}: both a [[user]] table and in the users file {}", u.name, path.display()));
        }
        let nt_hash = hash_from_hex(&u.nt_hash).ok_or_else(|| format!("users file {}: user {}: bad nt_hash", path.display(), u.name))?;
        config.users.push(UserConfig { name: u.name.clone(), nt_hash, rid: Some(u.rid), unix: u.uid.zip(u.gid) });
        let limits = opportune_server::quota::Limits { bytes: u.quota_bytes, files: u.quota_files };
        if !limits.is_none() {
            config.user_quotas.push((u.name.clone(), limits));
        }
    }
    config.groups = f
        .groups
        .iter()
        .map(|g| opportune_server::GroupConfig { name: g.name.clone(), rid: Some(g.rid), members: g.members.clone(), gid: g.gid })
        .collect();
    Ok(())
}

fn parse_share(s: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = s.split_once('=').ok_or_else(|| format!("--share {s:?}: expected NAME=PATH"))?;
    if name.is_empty() || name.contains(['\\', '/']) {
        return Err(format!("--share {s:?}: bad share name"));
    }
    Ok((name.to_string(), PathBuf::from(path)))
}

fn folder_share(p: &std::path::Path) -> Result<(String, PathBuf), String> {
    let abs = std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let name = abs.file_name().and_then(|n| n.to_str()).unwrap_or("share").to_string();
    Ok((name, abs))
}

fn check_unique_shares(shares: &[ShareConfig]) -> Result<(), String> {
    for (i, s) in shares.iter().enumerate() {
        if s.name.eq_ignore_ascii_case("IPC$") || shares[..i].iter().any(|o| o.name.eq_ignore_ascii_case(&s.name)) {
            return Err(format!("share name {:?} is used twice or reserved", s.name));
        }
    }
    Ok(())
}

fn file_user(u: config_file::FileUser) -> Result<UserConfig, String> {
    let nt_hash = match (u.password, u.nt_hash) {
        (Some(pw), None) => NtHash::from_password(&pw),
        (None, Some(hex)) => NtHash(parse_hex16(&hex).ok_or_else(|| format!("user {}: nt_hash must be 32 hex digits", u.name))?),
        _ => return Err(format!("user {}: give exactly one of password or nt_hash", u.name)),
    };
    if u.uid.is_some() != u.gid.is_some() {
        return Err(format!("user {}: give both uid and gid, or neither", u.name));
    }
    Ok(UserConfig { name: u.name, nt_hash, rid: None, unix: u.uid.zip(u.gid) })
}

fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// With no user configured and guests off, a user named after the login with a random
/// password is created for this run and printed once.
fn first_run_user() -> Result<(String, String), String> {
    let name = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "opportune".into());
    let mut raw = [0u8; 12];
    getrandom::fill(&mut raw).map_err(|e| e.to_string())?;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let pw = raw.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    Ok((name, pw))
}

/// Prints where the server listens and how to connect. A closed standard output must not
/// stop the server, so write errors are ignored.
fn announce(config: &ServerConfig, addr: SocketAddr, generated: Option<&(String, String)>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = announce_to(&mut out, config, addr, generated);
    let _ = out.flush();
}

fn announce_to(
    out: &mut impl std::io::Write,
    config: &ServerConfig,
    addr: SocketAddr,
    generated: Option<&(String, String)>,
) -> std::io::Result<()> {
    writeln!(out, "opportune listening on {addr}")?;
    let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
    let port = if addr.port() == 445 { String::new() } else { format!("-p {} ", addr.port()) };
    let user = match (generated, config.users.first()) {
        (Some((n, p)), _) => format!("-U {n}%{p}"),
        (None, Some(u)) => format!("-U {}", u.name),
        (None, None) => "-N".to_string(),
    };
    for s in &config.shares {
        writeln!(out, "  share {:<12} {}{}", s.name, s.path.display(), if s.read_only { " (read-only)" } else { "" })?;
        writeln!(out, "    connect: smbclient {port}//{host}/{} {user}", s.name)?;
    }
    if let Some((n, p)) = generated {
        writeln!(out, "  first-run user {n} with password {p} (give --user NAME:PASSWORD to choose)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_default_to_one_per_core_but_one() {
        assert_eq!(worker_threads(None, 2, false), Ok(Some(1)));
        assert_eq!(worker_threads(Some(0), 8, false), Ok(Some(7)));
        assert_eq!(worker_threads(None, 1, false), Ok(Some(1)), "at least one");
        assert_eq!(worker_threads(None, 2, true), Ok(None), "TOKIO_WORKER_THREADS decides");
        assert_eq!(worker_threads(Some(3), 2, true), Ok(Some(3)), "the configuration wins");
        assert_eq!(worker_threads(Some(MAX_WORKER_THREADS), 2, false), Ok(Some(MAX_WORKER_THREADS)));
        assert!(worker_threads(Some(MAX_WORKER_THREADS + 1), 2, false).unwrap_err().contains("worker_threads"));
    }
}
