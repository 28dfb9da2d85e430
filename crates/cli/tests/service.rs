//! Running as a service (issue 13, item 3): readiness and stop notifications to systemd,
//! a stop that lets a pending break finish and is bounded when a holder never answers,
//! and `--check-config`.

mod support;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};
use support::client::*;

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("opportune-service-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn systemd_hears_ready_and_stopping() {
    let dir = scratch("notify");
    let path = dir.join("notify.sock");
    let manager = UnixDatagram::bind(&path).unwrap();
    manager.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_opportune"));
    cmd.env("NOTIFY_SOCKET", &path).env("WATCHDOG_USEC", "200000");
    let mut s = support::launch(cmd, "notify", None, &[]);
    let mut buf = [0u8; 256];
    let n = manager.recv(&mut buf).unwrap();
    let ready = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(ready.starts_with("READY=1\nSTATUS=serving 1 shares on 127.0.0.1:"), "{ready:?}");
    let n = manager.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"WATCHDOG=1", "the watchdog is pinged at half its interval");
    let status = s.terminate(Duration::from_secs(10)).expect("the server stops");
    assert!(status.success(), "{status:?}");
    let mut last = Vec::new();
    while let Ok(n) = manager.recv(&mut buf) {
        last = buf[..n].to_vec();
        if last == b"STOPPING=1" {
            break;
        }
    }
    assert_eq!(last, b"STOPPING=1");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stop_lets_a_pending_break_finish() {
    let mut s = support::start("stop-break");
    let mut holder = Client::connect(s.addr, "user", "pass", "share");
    let (fid, _) = holder.create("ledger.txt", GENERIC_ALL, OPLOCK_BATCH).expect("holder opens");
    let mut other = Client::connect(s.addr, "user", "pass", "share");
    let mid = other.send_create("ledger.txt", GENERIC_ALL, OPLOCK_NONE);
    holder.next_break(Duration::from_secs(5)).expect("break sent");
    let pid = s.pid();
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    // The holder flushes its cached write, then acknowledges, while the server stops.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(holder.write(fid, 0, b"flushed"), STATUS_SUCCESS, "the holder's flush is still served");
    assert_eq!(holder.ack_break(fid, OPLOCK_LEVEL_II), STATUS_SUCCESS);
    let r = other.wait(mid, Duration::from_secs(5)).expect("the waiting open is answered before the server goes");
    Client::created(&r).expect("the waiting open succeeds");
    let status = s.terminate(Duration::from_secs(10)).expect("the server stops");
    assert!(status.success(), "{status:?}");
    assert_eq!(std::fs::read(s.root.join("ledger.txt")).unwrap(), b"flushed");
}

#[test]
fn a_stop_is_bounded_when_a_holder_never_answers() {
    let config = "shutdown_timeout_secs = 2\n[[share]]\nname = \"share\"\npath = \"{root}\"\n";
    let mut s = support::start_with("stop-bounded", Some(config));
    let mut holder = Client::connect(s.addr, "user", "pass", "share");
    holder.create("stuck.txt", GENERIC_ALL, OPLOCK_BATCH).expect("holder opens");
    let mut other = Client::connect(s.addr, "user", "pass", "share");
    other.send_create("stuck.txt", GENERIC_ALL, OPLOCK_NONE);
    holder.next_break(Duration::from_secs(5)).expect("break sent");
    let t0 = Instant::now();
    let status = s.terminate(Duration::from_secs(10)).expect("the server stops");
    let took = t0.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(4), "stop took {took:?} with a 2 s bound");
}

#[test]
fn check_config_validates_and_exits() {
    let dir = scratch("check");
    let share = dir.join("share");
    std::fs::create_dir_all(&share).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(&good, format!("[[share]]\nname = \"s\"\npath = \"{}\"\n[[user]]\nname = \"u\"\npassword = \"p\"\n", share.display())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opportune")).args(["serve", "--check-config", "--config"]).arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("configuration OK: 1 share, 1 user"));
    let missing = dir.join("missing.toml");
    std::fs::write(&missing, format!("[[share]]\nname = \"s\"\npath = \"{}\"\n", dir.join("nowhere").display())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opportune")).args(["serve", "--check-config", "--config"]).arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"), "{}", String::from_utf8_lossy(&out.stderr));
    let typo = dir.join("typo.toml");
    std::fs::write(&typo, "liste = \"0.0.0.0:445\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opportune")).args(["serve", "--check-config", "--config"]).arg(&typo).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("liste"));
    let _ = std::fs::remove_dir_all(&dir);
}
