//! `opportune status` against a running server: sessions, open files with their caching,
//! disconnected durable handles; and a clear error when no server answers.

mod support;

use std::process::Command;
use std::time::Duration;
use support::client::*;
use support::start;

fn status(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_opportune")).arg("status").args(args).output().expect("run status");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn status_shows_opens_caching_and_durable_handles() {
    let s = start("status");
    let listen = s.addr.to_string();
    let mut a = Client::connect(s.addr, "user", "pass", "share");
    let (_, level) = a.create("report.txt", GENERIC_ALL, OPLOCK_BATCH).expect("open");
    assert_eq!(level, OPLOCK_BATCH);
    let (ok, text, err) = status(&["--listen", &listen]);
    assert!(ok, "status failed: {err}");
    assert!(text.contains("Sessions: 1"), "{text}");
    assert!(text.contains("user"), "{text}");
    let line = text.lines().find(|l| l.contains("report.txt")).unwrap_or_else(|| panic!("no open line in {text}"));
    assert!(line.contains("batch") && line.contains("share"), "{line}");

    let mut b = Client::connect_smb3(s.addr, "user", "pass", "share");
    b.create_durable("kept.txt", 60_000, [4; 16]).expect("durable open");
    drop(b);
    let mut seen = false;
    for _ in 0..50 {
        let (_, text, _) = status(&["--listen", &listen]);
        if text.lines().any(|l| l.contains("kept.txt") && l.contains("disconnected")) {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(seen, "the parked durable handle is listed as disconnected");
}

#[test]
fn status_without_a_server_says_so() {
    let dir = std::env::temp_dir().join(format!("opportune-status-none-{}", std::process::id()));
    let (ok, _, err) = status(&["--socket", &dir.join("nothing.sock").display().to_string()]);
    assert!(!ok);
    assert!(err.contains("no server answers"), "{err}");
}
