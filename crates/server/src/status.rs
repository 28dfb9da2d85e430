//! `opportune status`: who is connected, who has which file open with which caching,
//! which durable handles wait for their client and how many operations wait for breaks.
//! The server answers every connection to a Unix socket (mode 0600, so only its own
//! user can read paths and user names) with one text snapshot.

use crate::server::ServerState;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

/// The socket a server listening on `listen` uses unless told otherwise:
/// `$XDG_RUNTIME_DIR` (else the temporary directory) `/opportune-IP-PORT.sock`.
pub fn default_socket(listen: SocketAddr) -> PathBuf {
    let dir = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    dir.join(format!("opportune-{}-{}.sock", listen.ip(), listen.port()))
}

/// Binds `path` (replacing a stale socket nobody answers on, never a live one).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "another server answers on it"));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Answers each connection with a snapshot.
pub async fn serve(state: Arc<ServerState>, listener: UnixListener) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let text = snapshot(&state);
        let _ = stream.write_all(text.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}

/// The report, as `opportune status` prints it.
pub fn snapshot(state: &ServerState) -> String {
    let mut out = String::new();
    let up = state.start_time.elapsed().unwrap_or_default().as_secs();
    let _ = writeln!(
        out,
        "Opportune {} on {}, up {}:{:02}:{:02}",
        env!("CARGO_PKG_VERSION"),
        state.config.listen,
        up / 3600,
        up / 60 % 60,
        up % 60
    );
    let report = state.locks.report();
    let peer = |conn: u64| report.peers.get(&conn).map_or_else(|| "-".to_string(), |p| p.to_string());
    let mut sessions: Vec<_> = state.sessions.lock().map(|m| m.iter().map(|(id, s)| (*id, s.conn, s.user.clone(), s.dialect)).collect()).unwrap_or_default();
    sessions.sort();
    let _ = writeln!(out, "\nSessions: {}", sessions.len());
    if !sessions.is_empty() {
        let _ = writeln!(out, "  {:<20} {:<16} {:<22} dialect", "session", "user", "client");
        for (id, conn, user, dialect) in sessions {
            let user = if user.is_empty() { "(anonymous)".to_string() } else { user };
            let _ = writeln!(out, "  {id:<20} {user:<16} {:<22} {}", peer(conn), dialect_name(dialect));
        }
    }
    let _ = writeln!(out, "\nOpen files: {}", report.opens.len());
    if !report.opens.is_empty() {
        let _ = writeln!(out, "  {:<20} {:<22} {:<12} {:<14} path", "open", "client", "share", "caching");
        for o in &report.opens {
            let share = state.shares.get(o.share).map_or("-", |s| s.name.as_str());
            let client = match o.expires_in {
                Some(left) => format!("disconnected, {} s left", left.as_secs()),
                None => peer(o.conn),
            };
            let mut caching = caching_name(o.bits, o.lease);
            if o.breaking {
                caching.push_str(", breaking");
            }
            let _ = writeln!(out, "  {:<20} {client:<22} {share:<12} {caching:<14} {}", o.open, o.path);
        }
    }
    let _ = writeln!(out, "\nOperations waiting for breaks: {}", report.waiting);
    out
}

fn dialect_name(d: u16) -> String {
    format!("{}.{}.{}", d >> 8, (d >> 4) & 0xF, d & 0xF)
}

/// "batch", "exclusive", "level II", "lease RWH", … for R/W/H caching bits.
fn caching_name(bits: u32, lease: bool) -> String {
    if lease {
        let s: String = [(1, 'R'), (4, 'W'), (2, 'H')].iter().filter(|(b, _)| bits & b != 0).map(|(_, c)| *c).collect();
        return if s.is_empty() { "lease none".into() } else { format!("lease {s}") };
    }
    match crate::durable::oplock_level_of(bits) {
        opportune_types::create::oplock::BATCH => "batch",
        opportune_types::create::oplock::EXCLUSIVE => "exclusive",
        opportune_types::create::oplock::LEVEL_II => "level II",
        _ => "none",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(caching_name(7, false), "batch");
        assert_eq!(caching_name(1, false), "level II");
        assert_eq!(caching_name(7, true), "lease RWH");
        assert_eq!(caching_name(3, true), "lease RH");
        assert_eq!(caching_name(0, false), "none");
        assert_eq!(dialect_name(0x0311), "3.1.1");
        let p = default_socket("127.0.0.1:4445".parse().unwrap());
        assert!(p.to_string_lossy().ends_with("opportune-127.0.0.1-4445.sock"));
    }
}
