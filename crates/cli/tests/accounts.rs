//! Users, groups and per-share access over real connections (issue 10, items 1, 2, 7):
//! `opportune user` / `opportune group` manage the users file (mode 0600) a running
//! server reloads; `valid_users`, `invalid_users`, `read_list`, `write_list`,
//! `admin_users` with names and `@group`; `hosts_allow` / `hosts_deny` from distinct
//! loopback addresses; smbpasswd import; `opportune status --json` shows each session's
//! SID and groups.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::client::*;


/// A directory beside the test's share root that is removed at the end.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("opportune-it-{name}-{}.d", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// Runs `opportune ARGS` with `stdin`; (success, stdout, stderr).
fn opportune(args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_opportune"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn users(file: &Path, args: &[&str], stdin: &str) {
    let mut all = vec![args[0], "--users-file", file.to_str().unwrap()];
    all.extend_from_slice(&args[1..]);
    let (ok, out, err) = opportune(&all, stdin);
    assert!(ok, "opportune {args:?}: {out} {err}");
}

fn share(dir: &Path, name: &str, extra: &str) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    format!("[[share]]\nname = \"{name}\"\npath = \"{}\"\n{extra}\n", path.display())
}

/// The tree connect status of `user` on `share` (the logon must succeed).
fn tree(addr: std::net::SocketAddr, user: &str, pw: &str, share: &str) -> u32 {
    let mut c = Client::try_login(addr, user, pw).unwrap_or_else(|st| panic!("{user} logon: {st:#x}"));
    c.try_tree_connect(share)
}

fn reload(addr: std::net::SocketAddr) {
    let (ok, out, err) = opportune(&["reload", "--listen", &addr.to_string()], "");
    assert!(ok, "reload: {out} {err}");
}

#[test]
fn users_groups_and_share_lists() {
    let d = scratch("accounts");
    let file = d.0.join("users.toml");
    let state = d.0.join("state");
    users(&file, &["user", "add", "alice"], "alice-pw\n");
    users(&file, &["user", "add", "bob", "bob-pw"], "");
    users(&file, &["user", "add", "carol"], "carol-pw\n");
    users(&file, &["group", "add", "staff"], "");
    users(&file, &["group", "members", "staff", "--add", "bob", "--add", "carol"], "");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "the users file is private");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("alice-pw") && !text.contains("bob-pw"), "no password is stored: {text}");

    let mut config = format!("users_file = \"{}\"\nstate_dir = \"{}\"\n", file.display(), state.display());
    config.push_str(&share(&d.0, "alices", "valid_users = [\"alice\"]"));
    config.push_str(&share(&d.0, "staff", "valid_users = [\"@staff\"]\ninvalid_users = [\"carol\"]"));
    config.push_str(&share(&d.0, "ro", "read_only = true\nwrite_list = [\"alice\"]"));
    config.push_str(&share(&d.0, "rl", "read_list = [\"bob\"]"));
    config.push_str(&share(&d.0, "adm", "admin_users = [\"alice\"]\nvalid_users = [\"alice\", \"bob\"]"));
    let s = support::start_with("accounts", Some(&config));

    // valid_users by name and by @group; invalid_users wins; a missing share stays missing.
    assert_eq!(tree(s.addr, "alice", "alice-pw", "alices"), STATUS_SUCCESS);
    assert_eq!(tree(s.addr, "bob", "bob-pw", "alices"), STATUS_ACCESS_DENIED);
    assert_eq!(tree(s.addr, "bob", "bob-pw", "staff"), STATUS_SUCCESS);
    assert_eq!(tree(s.addr, "alice", "alice-pw", "staff"), STATUS_ACCESS_DENIED, "alice is not in @staff");
    assert_eq!(tree(s.addr, "carol", "carol-pw", "staff"), STATUS_ACCESS_DENIED, "invalid_users wins over valid_users");
    assert_eq!(tree(s.addr, "alice", "alice-pw", "nowhere"), STATUS_BAD_NETWORK_NAME);
    // A [[user]]-style user (the harness's --user) is still served, and is no member.
    assert_eq!(tree(s.addr, "user", "pass", "rl"), STATUS_SUCCESS);
    assert_eq!(tree(s.addr, "user", "pass", "staff"), STATUS_ACCESS_DENIED);

    // write_list opens a read-only share for alice only; read_list closes one for bob.
    let mut a = Client::connect(s.addr, "alice", "alice-pw", "ro");
    let (f, _) = a.create("alice.txt", GENERIC_ALL, OPLOCK_NONE).expect("alice writes on ro");
    assert_eq!(a.write(f, 0, b"hi"), STATUS_SUCCESS);
    assert_eq!(a.close(f), STATUS_SUCCESS);
    let mut b = Client::connect(s.addr, "bob", "bob-pw", "ro");
    assert_eq!(b.create("bob.txt", GENERIC_ALL, OPLOCK_NONE).err(), Some(STATUS_ACCESS_DENIED));
    let mut b = Client::connect(s.addr, "bob", "bob-pw", "rl");
    assert_eq!(b.create("bob.txt", GENERIC_ALL, OPLOCK_NONE).err(), Some(STATUS_ACCESS_DENIED), "read_list");
    b.list_dir("").expect("bob may still read rl");
    let mut a = Client::connect(s.addr, "alice", "alice-pw", "rl");
    let (f, _) = a.create("alice.txt", GENERIC_ALL, OPLOCK_NONE).expect("alice writes on rl");
    a.close(f);
    // admin_users connect (their tree's token carries Administrators: unit-tested).
    assert_eq!(tree(s.addr, "alice", "alice-pw", "adm"), STATUS_SUCCESS);
    assert_eq!(tree(s.addr, "bob", "bob-pw", "adm"), STATUS_SUCCESS);

    // The status shows each session's SID (the stored domain SID + the file's RID) and groups.
    let domain = std::fs::read_to_string(state.join("domain-sid")).expect("domain SID stored").trim().to_string();
    assert!(domain.starts_with("S-1-5-21-"), "{domain}");
    let mut held = Client::connect(s.addr, "bob", "bob-pw", "staff");
    let (ok, out, err) = opportune(&["status", "--json", "--listen", &s.addr.to_string()], "");
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let bob = v["sessions"].as_array().unwrap().iter().find(|x| x["user"] == "bob").expect("bob's session").clone();
    assert_eq!(bob["user_sid"].as_str(), Some(format!("{domain}-1001").as_str()), "{bob}");
    let groups = bob["groups"].as_array().unwrap();
    assert!(groups.iter().any(|g| g["name"] == "staff" && g["sid"] == format!("{domain}-1003")), "{bob}");
    assert!(groups.iter().any(|g| g["sid"] == "S-1-1-0" && g["name"] == "Everyone"), "{bob}");
    let (_, text, _) = opportune(&["status", "--listen", &s.addr.to_string()], "");
    assert!(text.contains(&format!("sid {domain}-1001")) && text.contains("staff ("), "{text}");

    // lsarpc sees the same SIDs, groups included (rpcclient, when installed).
    if let Some(text) = rpcclient(&s, "alice%alice-pw", "lookupnames staff alice") {
        assert!(text.contains(&format!("staff {domain}-1003")) && text.contains(&format!("alice {domain}-1000")), "{text}");
        let text = rpcclient(&s, "alice%alice-pw", &format!("lookupsids {domain}-1003")).unwrap();
        assert!(text.contains("staff"), "{text}");
    }

    // user del / passwd / add, then reload: bob's session ends and he cannot log on,
    // alice's new password works and the old one does not, dave is new.
    users(&file, &["user", "del", "bob"], "");
    users(&file, &["user", "passwd", "alice"], "alice-pw2\n");
    users(&file, &["user", "add", "dave", "dave-pw"], "");
    let (_, listed, _) = opportune(&["user", "list", "--users-file", file.to_str().unwrap(), "--state-dir", state.to_str().unwrap()], "");
    assert!(listed.contains("dave") && listed.contains(&format!("{domain}-1004")) && !listed.contains("bob"), "{listed}");
    reload(s.addr);
    assert_eq!(held.create("x.txt", GENERIC_ALL, OPLOCK_NONE).err(), Some(STATUS_USER_SESSION_DELETED));
    assert_eq!(Client::try_login(s.addr, "bob", "bob-pw").err(), Some(STATUS_LOGON_FAILURE));
    assert_eq!(Client::try_login(s.addr, "alice", "alice-pw").err(), Some(STATUS_LOGON_FAILURE));
    assert_eq!(tree(s.addr, "alice", "alice-pw2", "alices"), STATUS_SUCCESS);
    assert_eq!(tree(s.addr, "dave", "dave-pw", "rl"), STATUS_SUCCESS);

    // Accounts from `pdbedit -L -w` log on with their old passwords.
    let hash: String = opportune_auth::NtHash::from_password("old-pw").0.iter().map(|b| format!("{b:02X}")).collect();
    let passwd = d.0.join("smbpasswd");
    std::fs::write(&passwd, format!("erin:1005:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:{hash}:[U          ]:LCT-5F5E1000:\n")).unwrap();
    users(&file, &["user", "import-smbpasswd", passwd.to_str().unwrap()], "");
    reload(s.addr);
    assert_eq!(tree(s.addr, "erin", "old-pw", "rl"), STATUS_SUCCESS);

    // A corrupt users file is refused with a clear error, and the server keeps serving.
    std::fs::write(&file, "version = 1\nnext_rid = \"x\"\n").unwrap();
    let (ok, _, err) = opportune(&["reload", "--listen", &s.addr.to_string()], "");
    assert!(!ok && err.contains("users.toml"), "{err}");
    assert_eq!(tree(s.addr, "erin", "old-pw", "rl"), STATUS_SUCCESS);
}

/// `rpcclient -c CMDS` against the server as `creds`; None when rpcclient is not installed.
fn rpcclient(s: &support::Server, creds: &str, cmds: &str) -> Option<String> {
    let conf = s.root.with_extension("rpcclient.conf");
    std::fs::write(&conf, "[global]\n").unwrap();
    let port = s.addr.port().to_string();
    let out = Command::new("timeout")
        .args(["60", "rpcclient", "-s", conf.to_str().unwrap(), "-p", &port, "-U", creds, "-c", cmds, "127.0.0.1"])
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&conf);
    if out.status.code() == Some(127) {
        eprintln!("note: no rpcclient; skipping the lsarpc checks");
        return None;
    }
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "rpcclient {cmds}: {text}");
    Some(text)
}

#[test]
fn hosts_allow_and_deny() {
    let d = scratch("hosts");
    let mut config = String::from("state_dir = \"\"\n");
    config.push_str(&share(&d.0, "allow", "hosts_allow = [\"127.0.0.2\"]"));
    config.push_str(&share(&d.0, "deny", "hosts_deny = [\"127.0.0.3/32\"]"));
    config.push_str(&share(&d.0, "both", "hosts_allow = [\"127.0.0.4\"]\nhosts_deny = [\"127.0.0.0/8\"]"));
    let s = support::start_with("hosts", Some(&config));
    let denied = |r: Result<Client, String>| match r {
        Err(e) => e == "tree connect: 0xc0000022",
        Ok(_) => false,
    };
    let from = |ip: &str, share: &str| Client::connect_from(ip, s.addr, "user", "pass", share);
    assert!(from("127.0.0.2", "allow").is_ok());
    assert!(denied(from("127.0.0.3", "allow")), "not in hosts_allow");
    assert!(from("127.0.0.1", "allow").is_ok(), "127.0.0.1 unless denied, as in Samba");
    assert!(denied(from("127.0.0.3", "deny")));
    assert!(from("127.0.0.2", "deny").is_ok());
    assert!(from("127.0.0.4", "both").is_ok(), "the allow list wins where the lists conflict");
    assert!(denied(from("127.0.0.5", "both")));
    assert!(denied(from("127.0.0.1", "both")), "127.0.0.1 when denied");
}

#[test]
fn a_bad_cidr_is_a_clear_error() {
    let d = scratch("badcidr");
    let conf = d.0.join("bad.toml");
    std::fs::write(&conf, share(&d.0, "s", "hosts_deny = [\"10.0.0.0/33\"]")).unwrap();
    let (ok, _, err) = opportune(&["serve", "--check-config", "--config", conf.to_str().unwrap()], "");
    assert!(!ok && err.contains("hosts_deny") && err.contains("10.0.0.0/33"), "{err}");
    let (ok, _, err) = opportune(&["user", "list"], "");
    assert!(!ok && err.contains("--users-file"), "{err}");
}

#[test]
fn refusals_are_logged_with_their_rule_and_admin_trees_are_marked() {
    use std::io::{BufRead, BufReader};
    let d = scratch("acclog");
    let mut config = String::from("state_dir = \"\"\n[[user]]\nname = \"alice\"\npassword = \"alice-pw\"\n[[user]]\nname = \"bob\"\npassword = \"bob-pw\"\n");
    config.push_str(&share(&d.0, "adm", "admin_users = [\"alice\"]\ninvalid_users = [\"bob\"]"));
    let conf = d.0.join("conf.toml");
    std::fs::write(&conf, config).unwrap();
    let log = d.0.join("log");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_opportune"))
        .args(["serve", "--listen", &addr.to_string(), "--config", conf.to_str().unwrap()])
        .env("OPPORTUNE_LOG", "opportune_engine=debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut first = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    lines.read_line(&mut first).unwrap();
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let _child = Kill(child);
    assert!(first.contains("listening"), "{first}");
    assert_eq!(tree(addr, "alice", "alice-pw", "adm"), STATUS_SUCCESS);
    assert_eq!(tree(addr, "bob", "bob-pw", "adm"), STATUS_ACCESS_DENIED);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&log).unwrap();
        let refused = text.lines().any(|l| l.contains("INFO") && l.contains("tree connect refused") && l.contains("rule=invalid_users bob"));
        let admin = text.lines().any(|l| l.contains("tree connect") && l.contains("admin=true"));
        if refused && admin {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "refusal and admin tree not logged:\n{text}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_reload_applies_the_share_rules_to_connected_trees() {
    let d = scratch("readmit");
    let users = "[[user]]\nname = \"alice\"\npassword = \"alice-pw\"\n[[user]]\nname = \"bob\"\npassword = \"bob-pw\"\n";
    let config = |extra: &str| format!("state_dir = \"\"\n{users}{}", share(&d.0, "docs", extra));
    let s = support::start_with("readmit", Some(&config("")));
    let file = s.root.with_extension("toml");
    let mut alice = Client::connect(s.addr, "alice", "alice-pw", "docs");
    let mut bob = Client::connect(s.addr, "bob", "bob-pw", "docs");
    let (held, _) = bob.create("held.txt", GENERIC_ALL, OPLOCK_NONE).expect("bob writes before the reload");

    // Read-only for everyone but the write_list: bob's connected tree follows.
    std::fs::write(&file, config("read_only = true\nwrite_list = [\"alice\"]")).unwrap();
    reload(s.addr);
    assert_eq!(bob.create("bob.txt", GENERIC_ALL, OPLOCK_NONE).err(), Some(STATUS_ACCESS_DENIED), "bob's tree is read-only now");
    let (f, _) = alice.create("alice.txt", GENERIC_ALL, OPLOCK_NONE).expect("alice is in the write_list");
    assert_eq!(alice.write(f, 0, b"a"), STATUS_SUCCESS);
    assert_eq!(alice.close(f), STATUS_SUCCESS);
    // An open keeps the access it was granted when it was opened (MS-FSA 2.1.5.1).
    assert_eq!(bob.write(held, 0, b"b"), STATUS_SUCCESS);
    bob.list_dir("").expect("bob still reads");

    // valid_users without bob: his tree is revoked, but he may close what he holds.
    std::fs::write(&file, config("valid_users = [\"alice\"]")).unwrap();
    reload(s.addr);
    assert_eq!(bob.list_dir("").err(), Some(STATUS_ACCESS_DENIED), "bob's tree is revoked");
    assert_eq!(bob.write(held, 0, b"b"), STATUS_ACCESS_DENIED);
    assert_eq!(bob.close(held), STATUS_SUCCESS);
    assert_eq!(bob.try_tree_connect("docs"), STATUS_ACCESS_DENIED);
    alice.list_dir("").expect("alice is still admitted");

    // Rules that admit bob again give his tree back.
    std::fs::write(&file, config("")).unwrap();
    reload(s.addr);
    let (f, _) = bob.create("bob.txt", GENERIC_ALL, OPLOCK_NONE).expect("bob's tree admitted again");
    assert_eq!(bob.close(f), STATUS_SUCCESS);
}
