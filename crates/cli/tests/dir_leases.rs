//! Directory leases (issue 11, item 5) over real connections: an SMB 3.0.2 client holds
//! an RH lease on a directory; a program on the host (this test process) creating,
//! renaming or deleting an entry breaks it within a second; another client's create
//! breaks it, the creating client's own lease (named as its ParentLeaseKey) is spared;
//! and a client's budget of directory leases is enforced without failing its opens.

mod support;

use std::time::{Duration, Instant};
use support::client::*;
use support::{start, start_with};

const FILE_LIST_DIRECTORY: u32 = 0x1;
const SYNCHRONIZE: u32 = 0x0010_0000;
const FILE_DIRECTORY_FILE: u32 = 0x1;
const OPEN: u32 = 1;
const OPLOCK_LEASE: u8 = 0xFF;
const R: u32 = 1;
const H: u32 = 2;
const W: u32 = 4;

/// SMB2_CREATE_REQUEST_LEASE_V2 (MS-SMB2 2.2.13.2.10) with `state` and, if given, a
/// ParentLeaseKey.
fn lease_v2(key: [u8; 16], state: u32, parent: Option<[u8; 16]>) -> Vec<u8> {
    let mut d = key.to_vec();
    d.extend_from_slice(&state.to_le_bytes());
    d.extend_from_slice(&(if parent.is_some() { 0x4u32 } else { 0 }).to_le_bytes());
    d.extend_from_slice(&0u64.to_le_bytes());
    d.extend_from_slice(&parent.unwrap_or([0; 16]));
    d.extend_from_slice(&0u16.to_le_bytes());
    d.extend_from_slice(&0u16.to_le_bytes());
    create_context(b"RqLs", &d)
}

/// Opens directory `name` asking for an RH lease under `key`: the file id and the
/// granted oplock level (0xFF: a lease).
fn open_dir_leased(c: &mut Client, name: &str, key: [u8; 16]) -> (Fid, u8) {
    let access = FILE_LIST_DIRECTORY | SYNCHRONIZE;
    let mid = c.send_create_full(name, access, OPLOCK_LEASE, OPEN, FILE_DIRECTORY_FILE, &lease_v2(key, R | H | W, None));
    Client::created(&c.wait(mid, Duration::from_secs(10)).expect("create answered")).expect("directory opens")
}

/// A LEASE_BREAK acknowledgment (MS-SMB2 2.2.24.2) to state `state`.
fn ack_lease(c: &mut Client, key: [u8; 16], state: u32) -> u32 {
    let mut b = vec![];
    b.extend_from_slice(&36u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&key);
    b.extend_from_slice(&state.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    c.call(0x12, b).status
}

/// The lease key of the next lease break notification within `timeout` (the support
/// client files lease breaks under the bytes where an oplock break has its file id).
fn next_lease_break(c: &mut Client, timeout: Duration) -> Option<[u8; 16]> {
    c.next_break(timeout).map(|(fid, _)| fid.0)
}

#[test]
fn host_changes_break_a_directory_lease_within_a_second() {
    let server = start("dir-lease-host");
    let dir = server.root.join("d");
    std::fs::create_dir(&dir).unwrap();
    let key = [0xD1; 16];
    let mut c = Client::connect_smb3(server.addr, "user", "pass", "share");
    for (i, change) in ["create", "rename", "delete", "write"].iter().enumerate() {
        let (fid, level) = open_dir_leased(&mut c, "d", key);
        assert_eq!(level, OPLOCK_LEASE, "round {i}: a directory lease is granted");
        assert!(next_lease_break(&mut c, Duration::from_millis(300)).is_none(), "round {i}: no break yet");
        let t = Instant::now();
        match *change {
            "create" => std::fs::write(dir.join("a.txt"), b"").unwrap(),
            "rename" => std::fs::rename(dir.join("a.txt"), dir.join("b.txt")).unwrap(),
            "delete" => std::fs::remove_file(dir.join("b.txt")).unwrap(),
            _ => std::fs::write(dir.join("c.txt"), b"written on the host").unwrap(),
        }
        let broken = next_lease_break(&mut c, Duration::from_secs(1));
        assert_eq!(broken, Some(key), "round {i} ({change}): the lease is broken");
        assert!(t.elapsed() < Duration::from_secs(1), "round {i} ({change}): within 1 s");
        assert_eq!(ack_lease(&mut c, key, 0), STATUS_SUCCESS);
        assert_eq!(c.close(fid), STATUS_SUCCESS);
    }
    // A change next door (the parent directory) leaves the lease alone.
    let (_fid, _) = open_dir_leased(&mut c, "d", key);
    std::fs::write(server.root.join("beside.txt"), b"").unwrap();
    assert!(next_lease_break(&mut c, Duration::from_millis(600)).is_none());
}

#[test]
fn another_clients_create_breaks_the_lease_the_creators_own_does_not() {
    let server = start("dir-lease-smb");
    std::fs::create_dir(server.root.join("d")).unwrap();
    let (ka, kb) = ([0xA1; 16], [0xB2; 16]);
    let mut a = Client::connect_smb3(server.addr, "user", "pass", "share");
    let mut b = Client::connect_smb3(server.addr, "user", "pass", "share");
    assert_eq!(open_dir_leased(&mut a, "d", ka).1, OPLOCK_LEASE);
    assert_eq!(open_dir_leased(&mut b, "d", kb).1, OPLOCK_LEASE);
    // B creates a file under a lease whose parent is its directory lease.
    let file_key = [0xB3; 16];
    let ctx = lease_v2(file_key, R | H | W, Some(kb));
    let mid = b.send_create_full("d\\from-b.txt", GENERIC_ALL, OPLOCK_LEASE, 2, 0, &ctx);
    let (f, _) = Client::created(&b.wait(mid, Duration::from_secs(10)).unwrap()).expect("create");
    assert_eq!(next_lease_break(&mut a, Duration::from_secs(1)), Some(ka), "A's listing is stale");
    assert!(next_lease_break(&mut b, Duration::from_millis(500)).is_none(), "B made the change itself");
    assert_eq!(ack_lease(&mut a, ka, 0), STATUS_SUCCESS);
    // A write does not break at once; the close of the written file does.
    assert_eq!(open_dir_leased(&mut a, "d", ka).1, OPLOCK_LEASE);
    assert_eq!(b.write(f, 0, b"data"), STATUS_SUCCESS);
    assert!(next_lease_break(&mut a, Duration::from_millis(500)).is_none(), "no break on the write itself");
    assert_eq!(b.close(f), STATUS_SUCCESS);
    assert_eq!(next_lease_break(&mut a, Duration::from_secs(1)), Some(ka), "the close of a written file breaks");
}

#[test]
fn a_clients_directory_lease_budget_is_enforced_and_opens_still_succeed() {
    let config = "max_directory_leases_per_client = 2\n[[share]]\nname = \"share\"\npath = \"{root}\"\n";
    let server = start_with("dir-lease-budget", Some(config));
    for d in ["one", "two", "three"] {
        std::fs::create_dir(server.root.join(d)).unwrap();
    }
    let mut c = Client::connect_smb3(server.addr, "user", "pass", "share");
    assert_eq!(open_dir_leased(&mut c, "one", [1; 16]).1, OPLOCK_LEASE);
    let (two, level) = open_dir_leased(&mut c, "two", [2; 16]);
    assert_eq!(level, OPLOCK_LEASE);
    // The third lease is refused; the open is not.
    let (_, level) = open_dir_leased(&mut c, "three", [3; 16]);
    assert_eq!(level, OPLOCK_NONE);
    // Reopening under a lease it already holds does not count twice.
    assert_eq!(open_dir_leased(&mut c, "one", [1; 16]).1, OPLOCK_LEASE);
    // A lease given back makes room.
    assert_eq!(c.close(two), STATUS_SUCCESS);
    assert_eq!(open_dir_leased(&mut c, "three", [3; 16]).1, OPLOCK_LEASE);
    // An SMB 2.1 client gets no directory lease at all.
    let mut old = Client::connect(server.addr, "user", "pass", "share");
    let mid = old.send_create_full("one", FILE_LIST_DIRECTORY | SYNCHRONIZE, OPLOCK_LEASE, OPEN, FILE_DIRECTORY_FILE, &lease_v2([9; 16], R | H, None));
    let (_, level) = Client::created(&old.wait(mid, Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(level, OPLOCK_NONE);
}
