//! The systemd notification protocol (sd_notify(3)), without libsystemd: datagrams to
//! `$NOTIFY_SOCKET` (a path, or an abstract name written with a leading `@`). Without
//! that variable (not started by systemd with `Type=notify`) every call does nothing.
//!
//! `READY=1` once the server listens, `STOPPING=1` when a stop begins, `WATCHDOG=1` at
//! half the `WatchdogSec=` interval from a task that first takes the lock core's mutex,
//! so a wedged server stops pinging and systemd restarts it.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends `state` (newline-separated `KEY=value` lines) to the service manager.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let Ok(sock) = UnixDatagram::unbound() else { return };
    let bytes = path.as_encoded_bytes();
    let sent = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name).and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
        }
        None => sock.send_to(state.as_bytes(), std::path::Path::new(&path)),
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}

/// How often to ping the watchdog: half of `$WATCHDOG_USEC`, if it is meant for this
/// process (`$WATCHDOG_PID` absent or ours).
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var("WATCHDOG_PID").ok().and_then(|p| p.parse::<u32>().ok())
        && pid != std::process::id()
    {
        return None;
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    #[test]
    fn notifications_reach_a_socket() {
        let dir = std::env::temp_dir().join(format!("opportune-sdnotify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let server = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        // set_var is unsafe in edition 2024 (and the crate forbids unsafe): the variable
        // goes to a child process that runs `child_sends`.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sd_notify::tests::child_sends", "--nocapture"])
            .env("NOTIFY_SOCKET", &path)
            .env("OPPORTUNE_SD_CHILD", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let mut buf = [0u8; 64];
        server.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn child_sends() {
        if std::env::var_os("OPPORTUNE_SD_CHILD").is_some() {
            super::notify("READY=1");
        }
    }
}
