//! Reloading the configuration of a running server (issue 13, item 3): `opportune reload`
//! and SIGHUP add a share and a user and remove another share while a client keeps files
//! open on a third; that client is unaffected, the new share and user work, the removed
//! share's tree answers STATUS_NETWORK_NAME_DELETED, a removed user's session ends.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::client::*;


fn config(root: &std::path::Path, shares: &[(&str, bool)], users: &[(&str, &str)]) -> String {
    let mut c = String::new();
    for (name, read_only) in shares {
        c.push_str(&format!("[[share]]\nname = \"{name}\"\npath = \"{}\"\nread_only = {read_only}\n", root.join(name).display()));
    }
    for (name, pw) in users {
        c.push_str(&format!("[[user]]\nname = \"{name}\"\npassword = \"{pw}\"\n"));
    }
    c
}

fn reload_cmd(addr: std::net::SocketAddr) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_opportune")).args(["reload", "--listen", &addr.to_string()]).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn shares_and_users_change_without_dropping_connections() {
    // The test share "share" is {root}; the others live beside it.
    let s = support::start_with("reload", Some("[[share]]\nname = \"share\"\npath = \"{root}\"\n"));
    let base = s.root.with_extension("shares");
    let _ = std::fs::remove_dir_all(&base);
    for d in ["kept", "gone", "added"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    struct Cleanup(std::path::PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(base.clone());
    let file = s.root.with_extension("toml");
    std::fs::write(&file, config(&base, &[("kept", false), ("gone", false)], &[("user", "pass"), ("carol", "c1")])).unwrap();
    let (ok, out, err) = reload_cmd(s.addr);
    assert!(ok, "first reload: {out} {err}");
    assert!(out.contains("shares added: kept, gone; removed: share"), "{out}");

    // A client with an open file (and a byte-range lock) on "kept", one on "gone",
    // and carol's session.
    let mut keeper = Client::connect(s.addr, "user", "pass", "kept");
    let (fid, _) = keeper.create("ledger.txt", GENERIC_ALL, OPLOCK_BATCH).expect("open on kept");
    assert_eq!(keeper.write(fid, 0, b"before"), STATUS_SUCCESS);
    assert_eq!(keeper.lock(fid, 0, 10), STATUS_SUCCESS);
    let mut leaving = Client::connect(s.addr, "user", "pass", "gone");
    let (gone_fid, _) = leaving.create("x.txt", GENERIC_ALL, OPLOCK_NONE).expect("open on gone");
    let mut carol = Client::connect(s.addr, "carol", "c1", "kept");

    // The reload: "gone" goes, "added" comes, "kept" stays as it is; dave is added, carol
    // removed. Through SIGHUP this time.
    std::fs::write(&file, config(&base, &[("kept", false), ("added", false)], &[("user", "pass"), ("dave", "d1")])).unwrap();
    let _ = Command::new("kill").arg("-HUP").arg(s.pid().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut dave = loop {
        if let Ok(c) = std::panic::catch_unwind(|| Client::connect(s.addr, "dave", "d1", "added")) {
            break c;
        }
        assert!(Instant::now() < deadline, "dave never got in after SIGHUP");
        std::thread::sleep(Duration::from_millis(100));
    };
    // The new share works for the new user.
    let (nf, _) = dave.create("new.txt", GENERIC_ALL, OPLOCK_NONE).expect("dave creates on the new share");
    assert_eq!(dave.write(nf, 0, b"hello"), STATUS_SUCCESS);
    // The keeper is unaffected: same open, same lock, same oplock.
    assert_eq!(keeper.write(fid, 6, b" after"), STATUS_SUCCESS);
    assert_eq!(keeper.read_data(fid, 0, 64).1, b"before after");
    assert_eq!(keeper.close(fid), STATUS_SUCCESS);
    // The removed share's tree answers NETWORK_NAME_DELETED; its handle can still be closed.
    assert_eq!(leaving.write(gone_fid, 0, b"x"), STATUS_NETWORK_NAME_DELETED);
    assert_eq!(leaving.create("y.txt", GENERIC_ALL, OPLOCK_NONE).err(), Some(STATUS_NETWORK_NAME_DELETED));
    assert_eq!(leaving.close(gone_fid), STATUS_SUCCESS);
    assert_eq!(leaving.try_tree_connect("gone"), STATUS_BAD_NETWORK_NAME);
    // carol was removed: her session is gone, and she cannot log on again.
    assert_eq!(carol.create("c.txt", GENERIC_ALL, OPLOCK_NONE).err(), Some(STATUS_USER_SESSION_DELETED));
    assert!(Client::try_login(s.addr, "carol", "c1").is_err());

    // A changed setting applies to the share's existing trees; a share that does not open
    // refuses the whole reload and changes nothing.
    std::fs::write(&file, config(&base, &[("kept", true), ("added", false)], &[("user", "pass"), ("dave", "d1")])).unwrap();
    let (ok, out, _) = reload_cmd(s.addr);
    assert!(ok && out.contains("changed: kept"), "{out}");
    assert_eq!(keeper.create("ro.txt", GENERIC_ALL, OPLOCK_NONE).err(), Some(STATUS_ACCESS_DENIED), "kept is read-only now");
    std::fs::write(&file, config(&base, &[("kept", true), ("nowhere", false)], &[("user", "pass")])).unwrap();
    let (ok, _, err) = reload_cmd(s.addr);
    assert!(!ok && err.contains("nowhere"), "{err}");
    let (nf2, _) = dave.create("still.txt", GENERIC_ALL, OPLOCK_NONE).expect("nothing was applied");
    assert_eq!(dave.close(nf2), STATUS_SUCCESS);
    // A setting that needs a restart is named.
    std::fs::write(&file, format!("oplock_break_timeout_secs = 5\n{}", config(&base, &[("kept", true), ("added", false)], &[("user", "pass"), ("dave", "d1")]))).unwrap();
    let (ok, out, _) = reload_cmd(s.addr);
    assert!(ok && out.contains("needs a restart to change: oplock_break_timeout_secs"), "{out}");
}
