//! NT ACLs over real connections (issue 10, items 3 and 4): what `smbcacls` reads, adds,
//! modifies and removes is enforced on the next open by another user; a deny ACE holds
//! for open, rename, delete and delete-on-close; inheritance set by one user applies to
//! another's files; MAXIMUM_ALLOWED and MxAc under deny-all; access-based enumeration;
//! an admin user's privileges (backup intent, ACCESS_SYSTEM_SECURITY, taking ownership).
//! Three configured users, alice, bob and carol (an admin user of the share "adm", on the
//! same directory); the shares' `default_acl` is "read".
//!
//! smbcacls (Samba 4.17) only connects to port 445, so each test forwards a loopback
//! address of its own, port 445, to the server's port; that needs root (CI runs as
//! root), and the tests are skipped without it or without smbcacls.

mod support;

use std::process::Command;

use support::client::*;
use support::{bind_445, forward, start_with, Server};

const FILE_READ_DATA: u32 = 0x1;
const FILE_WRITE_DATA: u32 = 0x2;
const FILE_READ_ATTRIBUTES: u32 = 0x80;
const DELETE: u32 = 0x0001_0000;
const READ_CONTROL: u32 = 0x0002_0000;
const WRITE_DAC: u32 = 0x0004_0000;
const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
const FILE_DIRECTORY_FILE: u32 = 0x1;
const FILE_NON_DIRECTORY_FILE: u32 = 0x40;
const FILE_DELETE_ON_CLOSE: u32 = 0x1000;
const CREATE: u32 = 2;
const OPEN: u32 = 1;

const CONFIG: &str = r#"
[[share]]
name = "share"
path = "{root}"
default_acl = "read"

[[share]]
name = "abe"
path = "{root}"
default_acl = "read"
access_based_enumeration = true

[[user]]
name = "alice"
password = "alice-pw"

[[share]]
name = "adm"
path = "{root}"
default_acl = "read"
admin_users = ["carol"]

[[user]]
name = "bob"
password = "bob-pw"

[[user]]
name = "carol"
password = "carol-pw"
"#;

/// The server, and the loopback address whose port 445 leads to it (for smbcacls).
struct Setup {
    server: Server,
    cacls_host: String,
}

impl std::ops::Deref for Setup {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

/// Starts the server and the forwarder on `host`:445; None (the test is skipped) when
/// smbcacls is missing or port 445 cannot be bound.
fn setup(name: &str, host: &str) -> Option<Setup> {
    if !Command::new("smbcacls").arg("--version").output().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: smbcacls not installed (scripts/install-deps)");
        return None;
    }
    let listener = bind_445(host)?;
    let server = start_with(name, Some(CONFIG));
    forward(listener, server.addr);
    Some(Setup { server, cacls_host: host.to_string() })
}

/// Runs smbcacls as `user` on `path` with `args`; its output (`--numeric`: SIDs, ACE
/// types 0 allowed / 1 denied, flags and masks in hex), or the error text.
fn cacls(s: &Setup, user: &str, path: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("smbcacls")
        .args([&format!("//{}/share", s.cacls_host), path])
        .args(["-U", &format!("{user}%{user}-pw"), "--numeric"])
        .args(args)
        .output()
        .expect("run smbcacls");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() { Ok(text) } else { Err(text) }
}

fn owner(listing: &str) -> String {
    listing.lines().find_map(|l| l.strip_prefix("OWNER:")).expect("an OWNER line").trim().to_string()
}

fn open(c: &mut Client, name: &str, access: u32, disposition: u32, options: u32) -> Result<Fid, u32> {
    let mid = c.send_create_full(name, access, OPLOCK_NONE, disposition, options, &[]);
    let r = c.wait(mid, std::time::Duration::from_secs(10)).expect("create answered");
    Client::created(&r).map(|(f, _)| f)
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

fn make(c: &mut Client, name: &str, dir: bool) {
    let options = if dir { FILE_DIRECTORY_FILE } else { FILE_NON_DIRECTORY_FILE };
    let f = open(c, name, GENERIC_ALL, CREATE, options).expect("create");
    c.close(f);
}

/// The user's SID, read as the owner of a file the user creates.
fn sid_of(s: &Setup, c: &mut Client, user: &str) -> String {
    let name = format!("{user}-probe.txt");
    make(c, &name, false);
    owner(&cacls(s, user, &name, &[]).expect("read own descriptor"))
}

/// A CREATE with the MxAc context: the status, and the maximal access answered.
fn maximal_access(c: &mut Client, name: &str) -> (u32, Option<u32>) {
    let mut ctx = vec![];
    ctx.extend_from_slice(&0u32.to_le_bytes()); // Next
    ctx.extend_from_slice(&16u16.to_le_bytes()); // NameOffset
    ctx.extend_from_slice(&4u16.to_le_bytes()); // NameLength
    ctx.extend_from_slice(&[0; 2]);
    ctx.extend_from_slice(&0u16.to_le_bytes()); // DataOffset
    ctx.extend_from_slice(&0u32.to_le_bytes()); // DataLength
    ctx.extend_from_slice(b"MxAc");
    ctx.extend_from_slice(&[0; 4]);
    let mid = c.send_create_full(name, MAXIMUM_ALLOWED, OPLOCK_NONE, OPEN, 0, &ctx);
    let r = c.wait(mid, std::time::Duration::from_secs(10)).expect("create answered");
    if r.status != STATUS_SUCCESS {
        return (r.status, None);
    }
    let at = r.body.windows(4).position(|w| w == b"MxAc").expect("MxAc answered") - 16;
    let data = at + usize::from(u16::from_le_bytes([r.body[at + 10], r.body[at + 11]]));
    let mask = u32::from_le_bytes(r.body[data + 4..data + 8].try_into().expect("mask"));
    if let Ok((f, _)) = Client::created(&r) {
        c.close(f);
    }
    (r.status, Some(mask))
}

#[test]
fn smbcacls_changes_are_enforced_for_another_user() {
    let Some(s) = setup("acl-cacls", "127.0.44.1") else { return };
    let mut alice = Client::connect(s.addr, "alice", "alice-pw", "share");
    let mut bob = Client::connect(s.addr, "bob", "bob-pw", "share");
    let alice_sid = sid_of(&s, &mut alice, "alice");
    let bob_sid = sid_of(&s, &mut bob, "bob");
    assert_ne!(alice_sid, bob_sid);
    make(&mut alice, "f.txt", false);

    // Read: the creator owns it; the share's default gives Everyone read.
    let listing = cacls(&s, "alice", "f.txt", &[]).expect("read");
    assert_eq!(owner(&listing), alice_sid);
    assert!(listing.contains(&format!("ACL:{alice_sid}:0/0x0/0x001f01ff")), "{listing}");
    assert_eq!(try_open(&mut bob, "f.txt", FILE_READ_DATA), STATUS_SUCCESS);
    assert_eq!(try_open(&mut bob, "f.txt", FILE_WRITE_DATA), STATUS_ACCESS_DENIED);
    // Bob may not change what he does not own.
    assert!(cacls(&s, "bob", "f.txt", &["-a", &format!("ACL:{bob_sid}:ALLOWED/0x0/FULL")]).is_err());

    // Add: bob may write.
    cacls(&s, "alice", "f.txt", &["-a", &format!("ACL:{bob_sid}:ALLOWED/0x0/CHANGE")]).expect("add");
    assert_eq!(try_open(&mut bob, "f.txt", FILE_WRITE_DATA), STATUS_SUCCESS);
    // Modify: back to read only.
    cacls(&s, "alice", "f.txt", &["-M", &format!("ACL:{bob_sid}:ALLOWED/0x0/READ")]).expect("modify");
    assert_eq!(try_open(&mut bob, "f.txt", FILE_WRITE_DATA), STATUS_ACCESS_DENIED);
    assert_eq!(try_open(&mut bob, "f.txt", FILE_READ_DATA), STATUS_SUCCESS);
    // A deny ACE beats Everyone's allow.
    cacls(&s, "alice", "f.txt", &["-a", &format!("ACL:{bob_sid}:DENIED/0x0/READ")]).expect("add deny");
    assert_eq!(try_open(&mut bob, "f.txt", FILE_READ_DATA), STATUS_ACCESS_DENIED);
    assert_eq!(try_open(&mut alice, "f.txt", FILE_READ_DATA), STATUS_SUCCESS);
    let listing = cacls(&s, "alice", "f.txt", &[]).expect("read");
    assert!(listing.contains(&format!("ACL:{bob_sid}:1/0x0/0x001200a9")), "{listing}");
    // Remove it again.
    cacls(&s, "alice", "f.txt", &["-D", &format!("ACL:{bob_sid}:DENIED/0x0/READ")]).expect("remove");
    assert_eq!(try_open(&mut bob, "f.txt", FILE_READ_DATA), STATUS_SUCCESS);

    // A directory: bob may not add files until alice lets him, inheritably.
    make(&mut alice, "d", true);
    assert_eq!(open(&mut bob, "d\\x.txt", GENERIC_ALL, CREATE, 0).err(), Some(STATUS_ACCESS_DENIED));
    cacls(&s, "alice", "d", &["-a", &format!("ACL:{bob_sid}:ALLOWED/OI|CI/FULL")]).expect("add on dir");
    let listing = cacls(&s, "alice", "d", &[]).expect("read dir");
    assert!(listing.contains(&format!("ACL:{bob_sid}:0/0x3/0x001f01ff")), "{listing}");
    make(&mut bob, "d\\x.txt", false);
    // Bob's new file inherited only the inheritable ACE: alice's own ACEs on d were not,
    // so she (not its owner) cannot read it, and its owner is bob.
    assert_eq!(try_open(&mut alice, "d\\x.txt", FILE_READ_DATA), STATUS_ACCESS_DENIED);
    let listing = cacls(&s, "bob", "d\\x.txt", &[]).expect("read inherited");
    assert_eq!(owner(&listing), bob_sid);
    assert!(listing.contains(&format!("ACL:{bob_sid}:0/")), "{listing}");
    // Removing the ACE from d stops bob adding more.
    cacls(&s, "alice", "d", &["-D", &format!("ACL:{bob_sid}:ALLOWED/OI|CI/FULL")]).expect("remove on dir");
    assert_eq!(open(&mut bob, "d\\y.txt", GENERIC_ALL, CREATE, 0).err(), Some(STATUS_ACCESS_DENIED));
}

#[test]
fn a_deny_ace_holds_for_open_rename_delete_and_delete_on_close() {
    let Some(s) = setup("acl-deny", "127.0.44.2") else { return };
    let mut alice = Client::connect(s.addr, "alice", "alice-pw", "share");
    let mut bob = Client::connect(s.addr, "bob", "bob-pw", "share");
    let bob_sid = sid_of(&s, &mut bob, "bob");
    make(&mut alice, "keep", true);
    make(&mut alice, "keep\\f.txt", false);
    // Everyone may do anything to the file but bob may not delete it; the directory
    // (alice's default) gives bob no FILE_DELETE_CHILD.
    let dacl = format!("ACL:{bob_sid}:DENIED/0x0/0x00010000,ACL:S-1-1-0:ALLOWED/0x0/FULL");
    cacls(&s, "alice", "keep\\f.txt", &["-S", &dacl]).expect("set");

    assert_eq!(try_open(&mut bob, "keep\\f.txt", FILE_READ_DATA | FILE_WRITE_DATA), STATUS_SUCCESS);
    assert_eq!(try_open(&mut bob, "keep\\f.txt", DELETE), STATUS_ACCESS_DENIED);
    assert_eq!(try_open(&mut bob, "keep\\f.txt", GENERIC_ALL), STATUS_ACCESS_DENIED);
    let f = open(&mut bob, "keep\\f.txt", FILE_READ_DATA, OPEN, 0).expect("open for reading");
    assert_eq!(bob.rename(f, "keep\\g.txt", false), STATUS_ACCESS_DENIED);
    assert_eq!(bob.set_info(f, 1, 13, &[1]), STATUS_ACCESS_DENIED, "FileDispositionInformation");
    bob.close(f);
    let doc = open(&mut bob, "keep\\f.txt", DELETE, OPEN, FILE_DELETE_ON_CLOSE);
    assert_eq!(doc.err(), Some(STATUS_ACCESS_DENIED));
    assert!(s.root.join("keep/f.txt").exists());

    // Alice is not denied: rename, then delete on close.
    let f = open(&mut alice, "keep\\f.txt", DELETE, OPEN, 0).expect("alice opens for delete");
    assert_eq!(alice.rename(f, "keep\\g.txt", false), STATUS_SUCCESS);
    alice.close(f);
    let f = open(&mut alice, "keep\\g.txt", DELETE, OPEN, FILE_DELETE_ON_CLOSE).expect("delete on close");
    alice.close(f);
    assert!(!s.root.join("keep/g.txt").exists());
    // Bob may not rename his own file into alice's directory either (no FILE_ADD_FILE).
    let f = open(&mut bob, "bob-probe.txt", DELETE, OPEN, 0).expect("bob's own file");
    assert_eq!(bob.rename(f, "keep\\moved.txt", false), STATUS_ACCESS_DENIED);
    bob.close(f);
}

#[test]
fn maximum_allowed_under_deny_all() {
    let Some(s) = setup("acl-max", "127.0.44.3") else { return };
    let mut alice = Client::connect(s.addr, "alice", "alice-pw", "share");
    let mut bob = Client::connect(s.addr, "bob", "bob-pw", "share");
    make(&mut alice, "locked", true);
    make(&mut alice, "locked\\f.txt", false);
    let (status, before) = maximal_access(&mut bob, "locked\\f.txt");
    assert_eq!((status, before.map(|m| m & FILE_WRITE_DATA)), (STATUS_SUCCESS, Some(0)), "bob reads only");
    cacls(&s, "alice", "locked\\f.txt", &["-S", "ACL:S-1-1-0:DENIED/0x0/FULL"]).expect("deny all");
    // The owner keeps READ_CONTROL and WRITE_DAC; DELETE and FILE_READ_ATTRIBUTES come
    // from the directory she owns.
    let owner_rights = READ_CONTROL | WRITE_DAC | DELETE | FILE_READ_ATTRIBUTES;
    assert_eq!(maximal_access(&mut alice, "locked\\f.txt"), (STATUS_SUCCESS, Some(owner_rights)));
    assert_eq!(try_open(&mut alice, "locked\\f.txt", FILE_READ_DATA), STATUS_ACCESS_DENIED);
    // Bob: only FILE_READ_ATTRIBUTES, which the directory's FILE_LIST_DIRECTORY gives.
    assert_eq!(maximal_access(&mut bob, "locked\\f.txt"), (STATUS_SUCCESS, Some(FILE_READ_ATTRIBUTES)));
    assert_eq!(try_open(&mut bob, "locked\\f.txt", READ_CONTROL), STATUS_ACCESS_DENIED);
    // Alice can still undo it (WRITE_DAC is the owner's).
    cacls(&s, "alice", "locked\\f.txt", &["-S", "ACL:S-1-1-0:ALLOWED/0x0/FULL"]).expect("allow all");
    assert_eq!(try_open(&mut bob, "locked\\f.txt", FILE_WRITE_DATA), STATUS_SUCCESS);
}

#[test]
fn access_based_enumeration_hides_what_the_user_cannot_read() {
    let Some(s) = setup("acl-abe", "127.0.44.4") else { return };
    let mut alice = Client::connect(s.addr, "alice", "alice-pw", "share");
    let alice_sid = sid_of(&s, &mut alice, "alice");
    make(&mut alice, "public.txt", false);
    make(&mut alice, "secret.txt", false);
    cacls(&s, "alice", "secret.txt", &["-S", &format!("ACL:{alice_sid}:ALLOWED/0x0/FULL")]).expect("alice only");
    let mut plain = Client::connect(s.addr, "bob", "bob-pw", "share");
    let mut abe = Client::connect(s.addr, "bob", "bob-pw", "abe");
    let seen = plain.list_dir("").expect("list");
    assert!(seen.iter().any(|n| n == "secret.txt") && seen.iter().any(|n| n == "public.txt"), "{seen:?}");
    let seen = abe.list_dir("").expect("list with abe");
    assert!(seen.iter().any(|n| n == "public.txt"), "{seen:?}");
    assert!(!seen.iter().any(|n| n == "secret.txt"), "{seen:?}");
    let mut alice_abe = Client::connect(s.addr, "alice", "alice-pw", "abe");
    assert!(alice_abe.list_dir("").expect("list").iter().any(|n| n == "secret.txt"));
}

/// A SID in string form, binary (MS-DTYP 2.4.2.2).
fn sid_bytes(sid: &str) -> Vec<u8> {
    let parts: Vec<u64> = sid.trim_start_matches("S-").split('-').map(|p| p.parse().expect("SID part")).collect();
    let mut b = vec![parts[0] as u8, (parts.len() - 2) as u8];
    b.extend_from_slice(&parts[1].to_be_bytes()[2..]);
    for sub in &parts[2..] {
        b.extend_from_slice(&(*sub as u32).to_le_bytes());
    }
    b
}

/// SET_INFO of a descriptor that names only an owner (OWNER_SECURITY_INFORMATION).
fn set_owner(c: &mut Client, f: Fid, sid: &str) -> u32 {
    let mut sd = vec![1, 0];
    sd.extend_from_slice(&0x8000u16.to_le_bytes()); // SE_SELF_RELATIVE
    sd.extend_from_slice(&20u32.to_le_bytes()); // OffsetOwner
    sd.extend_from_slice(&[0; 12]); // no group, SACL, DACL
    sd.extend_from_slice(&sid_bytes(sid));
    let mut body = set_info_body(f, 3, 0, &sd);
    body[12..16].copy_from_slice(&1u32.to_le_bytes());
    c.call(0x11, body).status
}

#[test]
fn admin_users_privileges_override_the_dacl() {
    const PRIVILEGE_NOT_HELD: u32 = 0xC000_0061;
    const WRITE_OWNER: u32 = 0x0008_0000;
    const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
    const BACKUP_INTENT: u32 = 0x4000;
    let Some(s) = setup("acl-admin", "127.0.44.5") else { return };
    let mut alice = Client::connect(s.addr, "alice", "alice-pw", "share");
    make(&mut alice, "locked.txt", false);
    cacls(&s, "alice", "locked.txt", &["-S", "ACL:S-1-1-0:DENIED/0x0/FULL"]).expect("deny all");
    // carol is an admin user of "adm" and an ordinary user of "share", same directory.
    let mut plain = Client::connect(s.addr, "carol", "carol-pw", "share");
    let carol_sid = sid_of(&s, &mut plain, "carol");
    let mut admin = Client::connect(s.addr, "carol", "carol-pw", "adm");

    // Without backup intent a privilege does not read or write through a deny-all DACL.
    assert_eq!(try_open(&mut admin, "locked.txt", FILE_READ_DATA), STATUS_ACCESS_DENIED);
    assert_eq!(try_open(&mut plain, "locked.txt", FILE_READ_DATA), STATUS_ACCESS_DENIED);
    // With it, SeBackupPrivilege reads and SeRestorePrivilege writes (MS-FSA 2.1.5.1).
    for access in [FILE_READ_DATA, FILE_WRITE_DATA] {
        let f = open(&mut admin, "locked.txt", access, OPEN, BACKUP_INTENT).expect("an admin's backup-intent open");
        admin.close(f);
        assert_eq!(open(&mut plain, "locked.txt", access, OPEN, BACKUP_INTENT).err(), Some(STATUS_ACCESS_DENIED), "backup intent is no privilege");
    }
    // ACCESS_SYSTEM_SECURITY needs SeSecurityPrivilege.
    assert_eq!(try_open(&mut admin, "locked.txt", ACCESS_SYSTEM_SECURITY), STATUS_SUCCESS);
    assert_eq!(try_open(&mut plain, "locked.txt", ACCESS_SYSTEM_SECURITY), PRIVILEGE_NOT_HELD);
    // SeTakeOwnershipPrivilege: WRITE_OWNER through a deny-all DACL, and the owner changes.
    assert_eq!(try_open(&mut plain, "locked.txt", WRITE_OWNER), STATUS_ACCESS_DENIED);
    let f = open(&mut admin, "locked.txt", WRITE_OWNER, OPEN, 0).expect("take ownership");
    assert_eq!(set_owner(&mut admin, f, &carol_sid), STATUS_SUCCESS);
    admin.close(f);
    assert_eq!(owner(&cacls(&s, "carol", "locked.txt", &[]).unwrap_or_else(|e| panic!("{e}"))), carol_sid, "carol owns it now, and as its owner reads its descriptor");
    // As its owner, carol may now change its DACL even on the share where she is no admin.
    assert_eq!(try_open(&mut plain, "locked.txt", WRITE_DAC), STATUS_SUCCESS, "an owner has WRITE_DAC");
}
