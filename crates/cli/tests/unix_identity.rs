//! UNIX identities over real connections (`unix_identity = true`, issue 10 item 5): a
//! file alice creates is owned by her uid and gid; the kernel refuses what the mode bits
//! refuse even though the server is root and no NT ACL denies; two sessions on one
//! connection, and two clients at once, each run as their own user; a user without a
//! mapping is refused at TREE_CONNECT; guests are `nobody`; supplementary groups come
//! from the users file; off, nothing changes. The uids are numbers only (40001...): no
//! system account is made.
//! Needs root (the server switches identities); skipped otherwise.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::client::*;
use support::{start_with, Server};

const FILE_READ_DATA: u32 = 0x1;
const FILE_WRITE_DATA: u32 = 0x2;
const DELETE: u32 = 0x0001_0000;
const FILE_DIRECTORY_FILE: u32 = 0x1;
const FILE_NON_DIRECTORY_FILE: u32 = 0x40;
const FILE_DELETE_ON_CLOSE: u32 = 0x1000;
const CREATE: u32 = 2;
const OPEN: u32 = 1;

const ALICE: u32 = 40001;
const BOB: u32 = 40002;

const CONFIG: &str = r#"
unix_identity = true

[[share]]
name = "share"
path = "{root}"

[[share]]
name = "plain"
path = "{root}"
unix_identity = false

[[user]]
name = "alice"
password = "alice-pw"
uid = 40001
gid = 40001

[[user]]
name = "bob"
password = "bob-pw"
uid = 40002
gid = 40002

[[user]]
name = "nomap-opportune-test"
password = "nomap-pw"
"#;

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The server with CONFIG (or `config`), its share root writable by everyone (as a
/// share for several users is).
fn setup(name: &str, config: &str) -> Option<Server> {
    if !is_root() {
        eprintln!("skipped: unix_identity needs root");
        return None;
    }
    let s = start_with(name, Some(config));
    std::fs::set_permissions(&s.root, std::fs::Permissions::from_mode(0o777)).expect("chmod share root");
    Some(s)
}

fn open(c: &mut Client, name: &str, access: u32, disposition: u32, options: u32) -> Result<Fid, u32> {
    let mid = c.send_create_full(name, access, OPLOCK_NONE, disposition, options, &[]);
    let r = c.wait(mid, Duration::from_secs(10)).expect("create answered");
    Client::created(&r).map(|(f, _)| f)
}

/// Creates `name` (a directory when `dir`) and closes it: the create's status.
fn make(c: &mut Client, name: &str, dir: bool) -> u32 {
    let options = if dir { FILE_DIRECTORY_FILE } else { FILE_NON_DIRECTORY_FILE };
    match open(c, name, GENERIC_ALL, CREATE, options) {
        Ok(f) => {
            c.close(f);
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

/// Opens `name` for `access` and closes it again: the create's status.
fn try_open(c: &mut Client, name: &str, access: u32) -> u32 {
    match open(c, name, access, OPEN, 0) {
        Ok(f) => {
            c.close(f);
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

fn owner(path: &Path) -> (u32, u32) {
    let m = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (m.uid(), m.gid())
}

/// A file the test (root) makes in the share with `mode`, owned by `uid`:`gid`.
fn host_file(s: &Server, name: &str, mode: u32, uid: u32, gid: u32) {
    let p = s.root.join(name);
    std::fs::write(&p, b"host data").expect("host file");
    std::os::unix::fs::chown(&p, Some(uid), Some(gid)).expect("chown");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn host_dir(s: &Server, name: &str, mode: u32, uid: u32, gid: u32) {
    let p = s.root.join(name);
    std::fs::create_dir(&p).expect("host dir");
    std::os::unix::fs::chown(&p, Some(uid), Some(gid)).expect("chown");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn files_are_created_with_the_users_owner() {
    let Some(s) = setup("unix-owner", CONFIG) else { return };
    let mut alice = Client::connect(s.addr, "alice", "alice-pw", "share");
    let mut bob = Client::connect(s.addr, "bob", "bob-pw", "share");
    assert_eq!(make(&mut alice, "a.txt", false), STATUS_SUCCESS);
    assert_eq!(make(&mut alice, "adir", true), STATUS_SUCCESS);
    assert_eq!(make(&mut alice, "adir\\inner.txt", false), STATUS_SUCCESS);
    assert_eq!(make(&mut bob, "b.txt", false), STATUS_SUCCESS);
    assert_eq!(owner(&s.root.join("a.txt")), (ALICE, ALICE));
    assert_eq!(owner(&s.root.join("adir")), (ALICE, ALICE));
    assert_eq!(owner(&s.root.join("adir/inner.txt")), (ALICE, ALICE));
    assert_eq!(owner(&s.root.join("b.txt")), (BOB, BOB));
    // Writing through the handle and the metadata the server keeps in xattrs work as
    // the owner.
    let f = open(&mut alice, "a.txt", FILE_WRITE_DATA, OPEN, 0).expect("open own file");
    assert_eq!(alice.write(f, 0, b"hello"), STATUS_SUCCESS);
    alice.close(f);
    assert_eq!(std::fs::read(s.root.join("a.txt")).expect("read"), b"hello");
    // `opportune status` shows what each session runs as.
    let out = Command::new(env!("CARGO_BIN_EXE_opportune")).args(["status", "--listen", &s.addr.to_string()]).output().expect("status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unix uid 40001 gid 40001; groups: 40001") && text.contains("unix uid 40002 gid 40002"), "{text}");
}

#[test]
fn the_kernel_refuses_what_the_mode_bits_refuse() {
    let Some(s) = setup("unix-mode", CONFIG) else { return };
    let mut alice = Client::connect(s.addr, "alice", "alice-pw", "share");
    let mut bob = Client::connect(s.addr, "bob", "bob-pw", "share");
    // No descriptor is stored: the NT side grants Everyone everything.
    host_file(&s, "bobs-secret.txt", 0o600, BOB, BOB);
    assert_eq!(try_open(&mut alice, "bobs-secret.txt", FILE_READ_DATA), STATUS_ACCESS_DENIED);
    assert_eq!(try_open(&mut alice, "bobs-secret.txt", FILE_WRITE_DATA), STATUS_ACCESS_DENIED);
    assert_eq!(try_open(&mut bob, "bobs-secret.txt", FILE_READ_DATA), STATUS_SUCCESS);
    // What POSIX lets anyone do stays possible: its attributes, and listing it.
    assert_eq!(try_open(&mut alice, "bobs-secret.txt", READ_ATTRS_ONLY), STATUS_SUCCESS);
    assert!(alice.list_dir("").expect("list").iter().any(|n| n == "bobs-secret.txt"));
    // Readable by all, writable by its owner only.
    host_file(&s, "bobs-public.txt", 0o644, BOB, BOB);
    assert_eq!(try_open(&mut alice, "bobs-public.txt", FILE_READ_DATA), STATUS_SUCCESS);
    assert_eq!(try_open(&mut alice, "bobs-public.txt", FILE_WRITE_DATA), STATUS_ACCESS_DENIED);
    assert_eq!(try_open(&mut bob, "bobs-public.txt", FILE_WRITE_DATA), STATUS_SUCCESS);
    // A root-only file is out of everyone's reach although the server is root.
    host_file(&s, "roots.txt", 0o600, 0, 0);
    assert_eq!(try_open(&mut alice, "roots.txt", FILE_READ_DATA), STATUS_ACCESS_DENIED);
    assert_eq!(try_open(&mut bob, "roots.txt", FILE_READ_DATA), STATUS_ACCESS_DENIED);
    assert_eq!(std::fs::read(s.root.join("bobs-secret.txt")).expect("untouched"), b"host data");
}

#[test]
fn a_directory_only_alice_can_write_keeps_bob_out() {
    let Some(s) = setup("unix-dir", CONFIG) else { return };
    let mut alice = Client::connect(s.addr, "alice", "alice-pw", "share");
    let mut bob = Client::connect(s.addr, "bob", "bob-pw", "share");
    host_dir(&s, "alices", 0o755, ALICE, ALICE);
    assert_eq!(make(&mut bob, "alices\\bobs.txt", false), STATUS_ACCESS_DENIED);
    assert_eq!(make(&mut bob, "alices\\bobdir", true), STATUS_ACCESS_DENIED);
    assert_eq!(make(&mut alice, "alices\\hers.txt", false), STATUS_SUCCESS);
    assert!(!s.root.join("alices/bobs.txt").exists() && !s.root.join("alices/bobdir").exists());
    // Bob may list and read there, not delete: not by delete-on-close at close...
    assert_eq!(try_open(&mut bob, "alices\\hers.txt", FILE_READ_DATA), STATUS_SUCCESS);
    // (The NT side lets him: no descriptor, Everyone has full control.)
    let f = open(&mut bob, "alices\\hers.txt", DELETE, OPEN, FILE_DELETE_ON_CLOSE).expect("bob opens for delete");
    bob.close(f);
    assert!(s.root.join("alices/hers.txt").exists(), "bob's delete on close ran as bob");
    // ... nor when his connection drops with the file delete-pending.
    let mut bob2 = Client::connect(s.addr, "bob", "bob-pw", "share");
    open(&mut bob2, "alices\\hers.txt", DELETE, OPEN, FILE_DELETE_ON_CLOSE).expect("bob opens for delete again");
    drop(bob2);
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.root.join("alices/hers.txt").exists(), "the disconnect's cleanup ran as bob");
    // Alice may.
    let f = open(&mut alice, "alices\\hers.txt", DELETE, OPEN, FILE_DELETE_ON_CLOSE).expect("alice opens for delete");
    alice.close(f);
    assert!(!s.root.join("alices/hers.txt").exists(), "alice deletes her own file");
}

#[test]
fn two_sessions_on_one_connection_each_run_as_their_user() {
    let Some(s) = setup("unix-sessions", CONFIG) else { return };
    let mut c = Client::connect(s.addr, "alice", "alice-pw", "share");
    let alice_ids = c.ids();
    c.add_session("bob", "bob-pw").expect("bob's session");
    c.tree_connect("share");
    let bob_ids = c.ids();
    assert_ne!(alice_ids.0, bob_ids.0);
    for i in 0..5 {
        c.set_ids(alice_ids.0, alice_ids.1);
        assert_eq!(make(&mut c, &format!("alice-{i}.txt"), false), STATUS_SUCCESS);
        c.set_ids(bob_ids.0, bob_ids.1);
        assert_eq!(make(&mut c, &format!("bob-{i}.txt"), false), STATUS_SUCCESS);
    }
    for i in 0..5 {
        assert_eq!(owner(&s.root.join(format!("alice-{i}.txt"))), (ALICE, ALICE));
        assert_eq!(owner(&s.root.join(format!("bob-{i}.txt"))), (BOB, BOB));
    }
    host_file(&s, "alices-secret.txt", 0o600, ALICE, ALICE);
    c.set_ids(bob_ids.0, bob_ids.1);
    assert_eq!(try_open(&mut c, "alices-secret.txt", FILE_READ_DATA), STATUS_ACCESS_DENIED);
    c.set_ids(alice_ids.0, alice_ids.1);
    assert_eq!(try_open(&mut c, "alices-secret.txt", FILE_READ_DATA), STATUS_SUCCESS);
}

#[test]
fn concurrent_clients_never_see_each_others_identity() {
    let Some(s) = setup("unix-concurrent", CONFIG) else { return };
    host_file(&s, "alices-secret.txt", 0o600, ALICE, ALICE);
    host_file(&s, "bobs-secret.txt", 0o600, BOB, BOB);
    let run = |user: &'static str, mine: &'static str, theirs: &'static str| {
        let addr = s.addr;
        std::thread::spawn(move || {
            let mut c = Client::connect(addr, user, &format!("{user}-pw"), "share");
            for i in 0..150 {
                assert_eq!(make(&mut c, &format!("{user}-{i}.txt"), false), STATUS_SUCCESS);
                // Large writes go through the blocking pool (block_in_place).
                let f = open(&mut c, &format!("{user}-{i}.txt"), FILE_WRITE_DATA, OPEN, 0).expect("open own");
                assert_eq!(c.write(f, 0, &vec![7u8; 128 * 1024]), STATUS_SUCCESS);
                c.close(f);
                assert_eq!(try_open(&mut c, mine, FILE_READ_DATA), STATUS_SUCCESS, "{user} reads {mine}");
                assert_eq!(try_open(&mut c, theirs, FILE_READ_DATA), STATUS_ACCESS_DENIED, "{user} reads {theirs}");
            }
        })
    };
    let a = run("alice", "alices-secret.txt", "bobs-secret.txt");
    let b = run("bob", "bobs-secret.txt", "alices-secret.txt");
    a.join().expect("alice's client");
    b.join().expect("bob's client");
    for i in 0..150 {
        assert_eq!(owner(&s.root.join(format!("alice-{i}.txt"))), (ALICE, ALICE), "alice-{i}");
        assert_eq!(owner(&s.root.join(format!("bob-{i}.txt"))), (BOB, BOB), "bob-{i}");
    }
}

#[test]
fn a_user_without_a_unix_identity_gets_ipc_only() {
    let Some(s) = setup("unix-nomap", CONFIG) else { return };
    let mut c = Client::try_login(s.addr, "nomap-opportune-test", "nomap-pw").expect("logon works");
    assert_eq!(c.try_tree_connect("share"), STATUS_ACCESS_DENIED);
    assert_eq!(c.try_tree_connect("IPC$"), STATUS_SUCCESS);
}

#[test]
fn supplementary_groups_come_from_the_users_file() {
    if !is_root() {
        eprintln!("skipped: unix_identity needs root");
        return;
    }
    // The users file sits in the state directory, which the server's Drop removes.
    let root = std::env::temp_dir().join(format!("opportune-it-unix-groups-{}", std::process::id()));
    let state = root.with_extension("state");
    std::fs::create_dir_all(&state).expect("state dir");
    let users = state.join("users.toml");
    let bin = env!("CARGO_BIN_EXE_opportune");
    let opportune = |args: &[&str]| {
        let out = Command::new(bin).args(args).arg("--users-file").arg(&users).output().expect("opportune user");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    opportune(&["user", "add", "carol", "carol-pw", "--uid", "40003", "--gid", "40003"]);
    opportune(&["user", "add", "dave", "dave-pw"]);
    opportune(&["user", "unix", "dave", "--uid", "40004", "--gid", "40004"]);
    opportune(&["group", "add", "projects", "--gid", "40100"]);
    opportune(&["group", "members", "projects", "--add", "carol"]);
    let config = format!(
        "unix_identity = true\nusers_file = \"{}\"\nstate_dir = \"{}\"\n[[share]]\nname = \"share\"\npath = \"{{root}}\"\n",
        users.display(),
        state.display()
    );
    let s = start_with("unix-groups", Some(&config));
    std::fs::set_permissions(&s.root, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    host_dir(&s, "project", 0o770, 0, 40100);
    let mut carol = Client::connect(s.addr, "carol", "carol-pw", "share");
    let mut dave = Client::connect(s.addr, "dave", "dave-pw", "share");
    assert_eq!(make(&mut carol, "project\\plan.txt", false), STATUS_SUCCESS);
    assert_eq!(owner(&s.root.join("project/plan.txt")), (40003, 40003));
    assert_eq!(make(&mut dave, "project\\dave.txt", false), STATUS_ACCESS_DENIED);
    assert_eq!(make(&mut dave, "dave.txt", false), STATUS_SUCCESS);
    assert_eq!(owner(&s.root.join("dave.txt")), (40004, 40004));
    // A changed mapping counts from the next logon after a reload; a session keeps its own.
    opportune(&["user", "unix", "dave", "--uid", "40005", "--gid", "40005"]);
    let out = Command::new(bin).args(["reload", "--listen", &s.addr.to_string()]).output().expect("reload");
    assert!(out.status.success(), "reload: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(make(&mut dave, "dave-old-session.txt", false), STATUS_SUCCESS);
    assert_eq!(owner(&s.root.join("dave-old-session.txt")), (40004, 40004));
    let mut dave2 = Client::connect(s.addr, "dave", "dave-pw", "share");
    assert_eq!(make(&mut dave2, "dave-new-session.txt", false), STATUS_SUCCESS);
    assert_eq!(owner(&s.root.join("dave-new-session.txt")), (40005, 40005));
}

#[test]
fn off_the_server_acts_as_itself() {
    let config = CONFIG.replace("unix_identity = true", "unix_identity = false");
    let Some(s) = setup("unix-off", &config) else { return };
    let mut alice = Client::connect(s.addr, "alice", "alice-pw", "share");
    assert_eq!(make(&mut alice, "a.txt", false), STATUS_SUCCESS);
    assert_eq!(owner(&s.root.join("a.txt")), (0, 0), "created by the server's own uid");
    host_file(&s, "bobs-secret.txt", 0o600, BOB, BOB);
    assert_eq!(try_open(&mut alice, "bobs-secret.txt", FILE_READ_DATA), STATUS_SUCCESS);
    // A user without a mapping is served as before.
    let mut n = Client::try_login(s.addr, "nomap-opportune-test", "nomap-pw").expect("logon");
    assert_eq!(n.try_tree_connect("share"), STATUS_SUCCESS);
}

#[test]
fn a_server_that_is_not_root_refuses_to_start() {
    if !is_root() || !Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: needs root and setpriv");
        return;
    }
    let dir = std::env::temp_dir().join(format!("opportune-it-unix-notroot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let config = dir.join("c.toml");
    let text = format!("unix_identity = true\nstate_dir = \"\"\nstatus_socket = \"\"\n[[share]]\nname = \"s\"\npath = \"{}\"\n", dir.display());
    std::fs::write(&config, text).expect("config");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let as_nobody = |extra: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_opportune"), "serve"])
            .args(["--listen", "127.0.0.1:0", "--user", "u:p", "--config"])
            .arg(&config)
            .args(extra)
            .output()
            .expect("run opportune as nobody")
    };
    for extra in [&["--check-config"][..], &[][..]] {
        let out = as_nobody(extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?}: started as nobody: {err}");
        assert!(err.contains("unix_identity = true needs the server to run as root"), "{extra:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn guests_run_as_nobody() {
    let config = CONFIG.replace("unix_identity = true", "unix_identity = true\nguest = true").replace(
        "path = \"{root}\"",
        "path = \"{root}\"\nguest_ok = true",
    );
    let Some(s) = setup("unix-guest", &config) else { return };
    let Ok(Some(nobody)) = nobody_account() else {
        eprintln!("skipped: no system account nobody");
        return;
    };
    // A password that does not verify makes a guest session (guest = true).
    let mut g = Client::try_login(s.addr, "visitor", "whatever").expect("guest logon");
    assert_eq!(g.try_tree_connect("share"), STATUS_SUCCESS);
    assert_eq!(make(&mut g, "guest.txt", false), STATUS_SUCCESS);
    assert_eq!(owner(&s.root.join("guest.txt")), nobody);
    host_file(&s, "alices-secret.txt", 0o600, ALICE, ALICE);
    assert_eq!(try_open(&mut g, "alices-secret.txt", FILE_READ_DATA), STATUS_ACCESS_DENIED);
}

/// The uid and gid of the system account `nobody`, from /etc/passwd.
fn nobody_account() -> Result<Option<(u32, u32)>, std::io::Error> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    Ok(passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"nobody") && f.len() > 3).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?))).flatten()
    }))
}

#[test]
fn a_share_with_unix_identity_off_is_served_as_the_server() {
    let Some(s) = setup("unix-share-off", CONFIG) else { return };
    let mut alice = Client::connect(s.addr, "alice", "alice-pw", "plain");
    assert_eq!(make(&mut alice, "plain.txt", false), STATUS_SUCCESS);
    assert_eq!(owner(&s.root.join("plain.txt")), (0, 0));
    host_file(&s, "bobs-secret.txt", 0o600, BOB, BOB);
    assert_eq!(try_open(&mut alice, "bobs-secret.txt", FILE_READ_DATA), STATUS_SUCCESS);
    // The unmapped user may use it too, and not the other share.
    let mut n = Client::try_login(s.addr, "nomap-opportune-test", "nomap-pw").expect("logon");
    assert_eq!(n.try_tree_connect("share"), STATUS_ACCESS_DENIED);
    assert_eq!(n.try_tree_connect("plain"), STATUS_SUCCESS);
}

/// Threads the runtime starts while a request acts as its user do not keep that user:
/// alice's large writes, from several connections at once, run in `block_in_place`,
/// which grows the blocking pool from her requests' threads (a new Linux thread starts
/// with its creator's credentials), and bob's files on the share served as the server,
/// created meanwhile, are still the server's.
#[test]
fn threads_started_during_a_users_request_do_not_serve_others_as_that_user() {
    let Some(s) = setup("unix-new-threads", CONFIG) else { return };
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let addr = s.addr;
            std::thread::spawn(move || {
                let mut alice = Client::connect(addr, "alice", "alice-pw", "share");
                let name = format!("big-{w}.bin");
                let f = open(&mut alice, &name, GENERIC_ALL, CREATE, FILE_NON_DIRECTORY_FILE).expect("alice creates");
                let big = vec![7u8; 128 * 1024];
                for i in 0..30u64 {
                    assert_eq!(alice.write(f, i * big.len() as u64, &big), STATUS_SUCCESS);
                }
                alice.close(f);
                name
            })
        })
        .collect();
    let mut bob = Client::connect(s.addr, "bob", "bob-pw", "plain");
    let mut owners = Vec::new();
    for i in 0..60 {
        let name = format!("bob-{i}.txt");
        assert_eq!(make(&mut bob, &name, false), STATUS_SUCCESS);
        owners.push(owner(&s.root.join(&name)));
    }
    for w in writers {
        let name = w.join().expect("writer");
        assert_eq!(owner(&s.root.join(name)), (ALICE, ALICE));
    }
    assert!(owners.iter().all(|&o| o == (0, 0)), "bob's files on the plain share: {owners:?}");
}

/// Opens `name` delete-on-close with a batch oplock and a durable v2 handle that lives
/// `timeout_ms` after a disconnect; whether durability was granted.
fn open_durable_delete_on_close(c: &mut Client, name: &str, timeout_ms: u32) -> bool {
    let mut data = timeout_ms.to_le_bytes().to_vec();
    data.extend_from_slice(&[0; 12]);
    data.extend_from_slice(&[0x5a; 16]);
    let ctx = create_context(b"DH2Q", &data);
    let mid = c.send(5, create_body(name, DELETE | FILE_READ_DATA, OPLOCK_BATCH, OPEN, FILE_DELETE_ON_CLOSE, &ctx));
    let r = c.wait(mid, Duration::from_secs(10)).expect("create answered");
    assert_eq!(r.status, STATUS_SUCCESS, "open {name} for delete");
    r.body.windows(4).any(|w| w == b"DH2Q")
}

#[test]
fn a_durable_handles_expiry_deletes_as_its_user() {
    let Some(s) = setup("unix-durable", CONFIG) else { return };
    host_dir(&s, "alices", 0o755, ALICE, ALICE);
    for name in ["alices/a.txt", "alices/b.txt"] {
        std::fs::write(s.root.join(name), b"x").expect("file");
        std::os::unix::fs::chown(s.root.join(name), Some(ALICE), Some(ALICE)).expect("chown");
    }
    let mut bob = Client::connect_smb3(s.addr, "bob", "bob-pw", "share");
    assert!(open_durable_delete_on_close(&mut bob, "alices\\a.txt", 300), "durable granted to bob");
    let mut alice = Client::connect_smb3(s.addr, "alice", "alice-pw", "share");
    assert!(open_durable_delete_on_close(&mut alice, "alices\\b.txt", 300), "durable granted to alice");
    drop(bob);
    drop(alice);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.root.join("alices/b.txt").exists() {
        assert!(std::time::Instant::now() < deadline, "alice's parked delete-on-close never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.root.join("alices/a.txt").exists(), "bob's parked delete-on-close ran as bob");
}
