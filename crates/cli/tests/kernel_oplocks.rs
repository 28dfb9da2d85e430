//! Kernel oplocks (issue 11, items 1-3), over real connections with real local
//! processes: a Linux lease behind each grant, so a local opener breaks the SMB client's
//! caching first — a writer waits for the acknowledgment and then reads what the client
//! flushed — and what the kernel refuses is not granted.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};
use support::client::*;
use support::{start_with, Server};

const CONFIG: &str = "kernel_oplocks = true\n[[share]]\nname = \"share\"\npath = \"{root}\"\n";
const FILE_GENERIC_READ: u32 = 0x0012_0089;
const OPLOCK_EXCLUSIVE: u8 = 8;
const LEVEL_NONE: u8 = 0;
const LEVEL_II: u8 = 1;

/// The local process: opens the file (for writing with "w", else for reading), says
/// "opened", prints the file's first bytes in hex, then holds the file open until its
/// standard input closes.
const OPENER: &str = r#"
import os, sys
path, mode = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR if mode == "w" else os.O_RDONLY)
print("opened", flush=True)
print(os.pread(fd, 64, 0).hex(), flush=True)
sys.stdin.read()
"#;

struct Local {
    child: Child,
    input: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Local {
    /// None (the test is skipped) without python3.
    fn open(path: &Path, write: bool) -> Option<Local> {
        let spawned = Command::new("python3")
            .args(["-c", OPENER])
            .arg(path)
            .arg(if write { "w" } else { "r" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn();
        let Ok(mut child) = spawned else {
            eprintln!("note: no python3; skipping");
            return None;
        };
        let input = child.stdin.take();
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Some(Local { child, input, lines })
    }

    /// Waits up to `wait` for the open to complete; then returns the bytes it read.
    fn opened_within(&self, wait: Duration) -> Option<Vec<u8>> {
        let first = self.lines.recv_timeout(wait).ok()?;
        assert_eq!(first, "opened");
        let hex = self.lines.recv_timeout(Duration::from_secs(5)).expect("contents");
        Some((0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex")).collect())
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        drop(self.input.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(name: &str) -> Server {
    start_with(name, Some(CONFIG))
}

fn client(s: &Server) -> Client {
    Client::connect(s.addr, "user", "pass", "share")
}

fn seed(s: &Server, name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = s.root.join(name);
    std::fs::write(&p, data).expect("seed file");
    p
}

/// A LEASE_BREAK acknowledgment (MS-SMB2 2.2.24.2) of `key` to `state`.
fn ack_lease(c: &mut Client, key: [u8; 16], state: u32) -> u32 {
    let mut b = vec![];
    b.extend_from_slice(&36u16.to_le_bytes());
    b.extend_from_slice(&[0; 6]);
    b.extend_from_slice(&key);
    b.extend_from_slice(&state.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    c.call(0x12, b).status
}

/// A local writer against a batch oplock: the client is told to break to none, the
/// local open waits until it acknowledged, and then reads what the client wrote before
/// acknowledging (its cached writes, flushed).
#[test]
fn a_local_writer_waits_for_the_batch_holder_and_reads_its_flushed_data() {
    let s = server("kop-batch");
    let p = seed(&s, "batch.txt", b"old contents");
    let mut c = client(&s);
    let (fid, level) = c.create("batch.txt", GENERIC_ALL, OPLOCK_BATCH).expect("create");
    assert_eq!(level, OPLOCK_BATCH);
    let Some(local) = Local::open(&p, true) else { return };
    let (bfid, to) = c.next_break(Duration::from_secs(5)).expect("a break for the local writer");
    assert_eq!((bfid, to), (fid, LEVEL_NONE), "a writer leaves the holder nothing");
    assert!(local.opened_within(Duration::from_millis(300)).is_none(), "the local open waits for the holder");
    assert_eq!(c.write(fid, 0, b"flushed data"), STATUS_SUCCESS);
    assert_eq!(c.ack_break(fid, LEVEL_NONE), STATUS_SUCCESS);
    let seen = local.opened_within(Duration::from_secs(5)).expect("the local open goes on after the ack");
    assert_eq!(&seen[..12], b"flushed data");
    assert_eq!(c.close(fid), STATUS_SUCCESS);
    // The break trace names the host as the trigger.
    let out = Command::new(env!("CARGO_BIN_EXE_opportune"))
        .args(["status", "--json", "--breaks", "--listen", &s.addr.to_string()])
        .output()
        .expect("run status");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let record = &v["breaks"][0];
    assert_eq!(record["trigger"]["cause"], "host", "{v}");
    assert_eq!((record["from"].as_str(), record["to"].as_str()), (Some("batch"), Some("none")));
    assert_eq!(record["outcome"], "acknowledged");
}

/// A local writer against an RWH lease: the lease breaks (acknowledgment required), the
/// local open waits for it and reads what the client wrote before acknowledging.
#[test]
fn a_local_writer_waits_for_the_rwh_lease_holder() {
    let s = server("kop-lease");
    let p = seed(&s, "lease.txt", b"old contents");
    let mut c = client(&s);
    let key = [0x42; 16];
    let (fid, level) = c.create_lease("lease.txt", key, 7).expect("create");
    assert_eq!(level, 0xFF, "a lease is granted");
    let Some(local) = Local::open(&p, true) else { return };
    // A lease break notification carries the lease key where an oplock break has the FileId.
    let (bkey, _) = c.next_break(Duration::from_secs(5)).expect("a lease break for the local writer");
    assert_eq!(bkey.0, key);
    assert!(local.opened_within(Duration::from_millis(300)).is_none(), "the local open waits for the holder");
    assert_eq!(c.write(fid, 0, b"lease flushed"), STATUS_SUCCESS);
    assert_eq!(ack_lease(&mut c, key, 0), STATUS_SUCCESS);
    let seen = local.opened_within(Duration::from_secs(5)).expect("the local open goes on after the ack");
    assert_eq!(&seen[..13], b"lease flushed");
}

/// Read-only caching for tests: Level II, or an R lease under a key.
#[derive(Clone, Copy)]
enum ReadCaching {
    LevelII,
    RLease([u8; 16]),
}

/// Opens `name` read-only with `caching` granted; what its break notifications name (the
/// file id, or the lease key) .
fn open_read_cached(c: &mut Client, name: &str, caching: ReadCaching) -> [u8; 16] {
    match caching {
        ReadCaching::LevelII => {
            let (fid, level) = c.create(name, FILE_GENERIC_READ, LEVEL_II).expect("create");
            assert_eq!(level, LEVEL_II);
            fid.0
        }
        ReadCaching::RLease(key) => {
            let (_, level) = c.create_lease_for(name, FILE_GENERIC_READ, key, 1).expect("create");
            assert_eq!(level, 0xFF, "an R lease is granted");
            key
        }
    }
}

/// A local writer against read-only caching: broken within a second (Level II to none),
/// and the local open does not wait for an acknowledgment (none is due).
fn a_local_writer_breaks_read_caching_without_waiting(tag: &str, caching: ReadCaching) {
    let s = server(tag);
    let p = seed(&s, "shared.txt", b"shared");
    let mut c = client(&s);
    let names = open_read_cached(&mut c, "shared.txt", caching);
    let at = Instant::now();
    let Some(local) = Local::open(&p, true) else { return };
    assert!(local.opened_within(Duration::from_secs(1)).is_some(), "the local writer does not wait");
    let (named, to) = c.next_break(Duration::from_secs(1)).expect("read caching broken");
    assert_eq!(named.0, names);
    if matches!(caching, ReadCaching::LevelII) {
        assert_eq!(to, LEVEL_NONE);
    }
    assert!(at.elapsed() < Duration::from_secs(2));
}

/// A local reader leaves read-only caching alone.
fn a_local_reader_leaves_read_caching_alone(tag: &str, caching: ReadCaching) {
    let s = server(tag);
    let p = seed(&s, "shared.txt", b"shared");
    let mut c = client(&s);
    open_read_cached(&mut c, "shared.txt", caching);
    let Some(local) = Local::open(&p, false) else { return };
    assert_eq!(local.opened_within(Duration::from_secs(1)).expect("a reader does not wait"), b"shared");
    assert!(c.next_break(Duration::from_millis(500)).is_none(), "no break for a reader");
}

#[test]
fn a_local_writer_breaks_level2_to_none_without_waiting() {
    a_local_writer_breaks_read_caching_without_waiting("kop-l2w", ReadCaching::LevelII);
}

#[test]
fn a_local_reader_leaves_level2_alone() {
    a_local_reader_leaves_read_caching_alone("kop-l2r", ReadCaching::LevelII);
}

/// A break from R needs no acknowledgment either.
#[test]
fn a_local_writer_breaks_an_r_lease_without_waiting() {
    a_local_writer_breaks_read_caching_without_waiting("kop-rw", ReadCaching::RLease([0x52; 16]));
}

#[test]
fn a_local_reader_leaves_an_r_lease_alone() {
    a_local_reader_leaves_read_caching_alone("kop-rr", ReadCaching::RLease([0x53; 16]));
}

/// The self-break trap: two SMB clients sharing a Level II file through Opportune see no
/// kernel-lease break (and a local reader after them none either).
#[test]
fn two_smb_clients_share_level2_without_a_kernel_break() {
    let s = server("kop-self");
    let p = seed(&s, "both.txt", b"shared");
    let (mut a, mut b) = (client(&s), client(&s));
    let (_, la) = a.create("both.txt", FILE_GENERIC_READ, LEVEL_II).expect("create a");
    let (_, lb) = b.create("both.txt", FILE_GENERIC_READ, LEVEL_II).expect("create b");
    assert_eq!((la, lb), (LEVEL_II, LEVEL_II));
    assert!(a.next_break(Duration::from_millis(300)).is_none(), "the second SMB open breaks nothing");
    let Some(local) = Local::open(&p, false) else { return };
    assert!(local.opened_within(Duration::from_secs(1)).is_some());
    assert!(a.next_break(Duration::from_millis(300)).is_none());
    assert!(b.next_break(Duration::from_millis(100)).is_none());
}

/// Listing a directory reads each entry's DOS attributes and EAs by name, without opening
/// the entries (through the O_PATH descriptor's /proc link): a file held under a batch
/// oplock, and so under a write lease, sees no break when another client lists its
/// directory.
#[test]
fn listing_a_directory_breaks_no_lease_of_its_files() {
    let s = server("kop-list");
    std::fs::create_dir(s.root.join("d")).expect("mkdir");
    seed(&s, "d/held.txt", b"cached");
    let (mut a, mut b) = (client(&s), client(&s));
    let (_, level) = a.create("d\\held.txt", GENERIC_ALL, OPLOCK_BATCH).expect("create a");
    assert_eq!(level, OPLOCK_BATCH);
    let names = b.list_dir("d").expect("list d");
    assert!(names.iter().any(|n| n == "held.txt"), "{names:?}");
    assert!(a.next_break(Duration::from_millis(500)).is_none(), "a listing breaks no lease");
}

/// A second SMB open of a file whose first open holds a batch oplock (and so a write
/// lease) is not held up by the server's own lease, and the holder is broken as SMB says,
/// to Level II, as without kernel oplocks: both opens use the file's one description, so
/// the write lease stays and covers them both.
#[test]
fn a_second_smb_open_is_not_held_up_by_our_own_lease() {
    let s = server("kop-second");
    seed(&s, "two.txt", b"x");
    let (mut a, mut b) = (client(&s), client(&s));
    let (fid, level) = a.create("two.txt", GENERIC_ALL, OPLOCK_BATCH).expect("create a");
    assert_eq!(level, OPLOCK_BATCH);
    let mid = b.send_create("two.txt", GENERIC_ALL, LEVEL_II);
    let (bfid, to) = a.next_break(Duration::from_secs(5)).expect("batch broken for the second open");
    assert_eq!((bfid, to), (fid, LEVEL_II), "broken as SMB says, not down to what a second descriptor would leave");
    assert_eq!(a.ack_break(fid, LEVEL_II), STATUS_SUCCESS);
    let at = Instant::now();
    let r = b.wait(mid, Duration::from_secs(10)).expect("second create answered");
    assert_eq!(r.status, STATUS_SUCCESS);
    assert!(at.elapsed() < Duration::from_secs(5), "not held for the kernel's lease-break-time");
    assert!(a.next_break(Duration::from_millis(300)).is_none(), "one break only");
}

/// The self-break trap with writers (issue 11, item 2): SMB clients sharing Level II on a
/// file, one of them through a read-only open first and then others with write access,
/// see no break from one another's opens — the server's own opens share one description,
/// so its lease is never broken by them (the first writer reopens the description
/// read-write, and a write lease on it covers every Level II holder). The lease is there
/// all along: a local writer still breaks them all to none at once.
#[test]
fn smb_writers_joining_level2_holders_break_no_kernel_lease() {
    let s = server("kop-join");
    let p = seed(&s, "join.txt", b"shared");
    let (mut a, mut b, mut c) = (client(&s), client(&s), client(&s));
    let (fa, la) = a.create("join.txt", FILE_GENERIC_READ, LEVEL_II).expect("create a (read-only)");
    let (fb, lb) = b.create("join.txt", GENERIC_ALL, LEVEL_II).expect("create b (read-write)");
    let (fc, lc) = c.create("join.txt", GENERIC_ALL, LEVEL_II).expect("create c (read-write)");
    assert_eq!((la, lb, lc), (LEVEL_II, LEVEL_II, LEVEL_II), "every open keeps Level II");
    assert!(a.next_break(Duration::from_millis(300)).is_none(), "no break for a when a writer joined");
    assert!(b.next_break(Duration::from_millis(100)).is_none(), "no break for b when c opened");
    let Some(local) = Local::open(&p, true) else { return };
    assert!(local.opened_within(Duration::from_secs(1)).is_some(), "the local writer does not wait for Level II");
    for (cl, fid) in [(&mut a, fa), (&mut b, fb), (&mut c, fc)] {
        assert_eq!(cl.next_break(Duration::from_secs(1)), Some((fid, LEVEL_NONE)), "the kernel lease was held");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_opportune"))
        .args(["status", "--json", "--breaks", "--listen", &s.addr.to_string()])
        .output()
        .expect("run status");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    let records = v["breaks"].as_array().expect("break records");
    assert!(!records.is_empty() && records.iter().all(|r| r["trigger"]["cause"] == "host"), "the local writer's breaks only: {v}");
}

/// When the last SMB writer of a file closes, its shared description goes back to
/// read-only (issue 11): the Level II holder left is covered by a read lease again, so a
/// local reader leaves it alone, as before any writer came; a local writer still breaks it.
#[test]
fn the_description_is_read_only_again_after_the_last_writer_closes() {
    let s = server("kop-down");
    let p = seed(&s, "down.txt", b"shared");
    let (mut a, mut b) = (client(&s), client(&s));
    // The writer first, so the description is read-write from the start (the reopen the
    // other way, a writer joining readers, has a test of its own above).
    let (fb, lb) = b.create("down.txt", GENERIC_ALL, LEVEL_II).expect("create b (read-write)");
    let (fa, la) = a.create("down.txt", FILE_GENERIC_READ, LEVEL_II).expect("create a (read-only)");
    assert_eq!((la, lb), (LEVEL_II, LEVEL_II));
    assert_eq!(b.close(fb), STATUS_SUCCESS);
    assert!(a.next_break(Duration::from_millis(300)).is_none(), "the writer's close breaks nothing");
    let Some(reader) = Local::open(&p, false) else { return };
    assert_eq!(reader.opened_within(Duration::from_secs(1)).expect("a reader does not wait"), b"shared");
    assert!(a.next_break(Duration::from_millis(500)).is_none(), "a local reader leaves Level II alone once no SMB open writes");
    let Some(writer) = Local::open(&p, true) else { return };
    assert!(writer.opened_within(Duration::from_secs(1)).is_some(), "the local writer does not wait for Level II");
    assert_eq!(a.next_break(Duration::from_secs(1)), Some((fa, LEVEL_NONE)), "the read lease was held");
}

/// The self-break trap, over and over: writers come and go beside a Level II holder, so
/// the shared description is reopened read-write and read-only again each time, and each
/// reopen would break the lease of ours on it. The file system refuses such a reopen
/// before opening anything (the server lets go of the lease and tries again), so no
/// kernel break is ever raised and the holder sees none. Before, the reopen raised one
/// and its note could be read before the lease was let go, passing for a host open.
#[test]
fn writers_coming_and_going_beside_level2_raise_no_kernel_break() {
    let s = server("kop-cycle");
    seed(&s, "cycle.txt", b"shared");
    let (mut a, mut b) = (client(&s), client(&s));
    let (_fa, la) = a.create("cycle.txt", FILE_GENERIC_READ, LEVEL_II).expect("create a (read-only)");
    assert_eq!(la, LEVEL_II);
    for round in 0..30 {
        let (fb, lb) = b.create("cycle.txt", GENERIC_ALL, LEVEL_II).expect("create b (read-write)");
        assert_eq!(lb, LEVEL_II, "round {round}: the writer gets Level II beside the reader");
        assert_eq!(b.close(fb), STATUS_SUCCESS);
    }
    assert!(a.next_break(Duration::from_millis(300)).is_none(), "no break for the Level II holder");
    let out = Command::new(env!("CARGO_BIN_EXE_opportune"))
        .args(["status", "--json", "--breaks", "--listen", &s.addr.to_string()])
        .output()
        .expect("run status");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert!(v["breaks"].as_array().is_some_and(|r| r.is_empty()), "no break at all: {v}");
}

/// A local process holding a lease of its own (F_SETLEASE) on the file: an SMB open waits
/// for the kernel to break that lease, without holding up other requests of its
/// connection, and then succeeds.
#[test]
fn an_smb_open_waits_for_a_local_lease_holder() {
    let s = server("kop-foreign");
    let p = seed(&s, "held.txt", b"held");
    // The local holder: takes a write lease, and lets it go 1 s after the break signal.
    let script = r#"
import fcntl, os, signal, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
broken = []
signal.signal(signal.SIGIO, lambda *a: broken.append(1))
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
print("leased", flush=True)
while not broken:
    time.sleep(0.01)
time.sleep(1)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
print("released", flush=True)
sys.stdin.read()
"#;
    let Ok(mut child) = Command::new("python3").args(["-c", script]).arg(&p).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn() else {
        return;
    };
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("holder starts");
    assert_eq!(line.trim(), "leased");
    let mut c = client(&s);
    let mid = c.send_create("held.txt", GENERIC_ALL, OPLOCK_NONE);
    let at = Instant::now();
    let (other, _) = c.create("other.txt", GENERIC_ALL, OPLOCK_NONE).expect("another create meanwhile");
    assert!(at.elapsed() < Duration::from_millis(800), "the connection is not held up");
    assert_eq!(c.close(other), STATUS_SUCCESS);
    let r = c.wait(mid, Duration::from_secs(10)).expect("the waiting create is answered");
    assert_eq!(r.status, STATUS_SUCCESS);
    assert!(at.elapsed() >= Duration::from_millis(900), "it waited for the holder");
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
}

/// A kernel lease refused because a local process holds the file open: the SMB client
/// gets less caching (none for a batch request through a writable open, since a read
/// lease cannot be had while the local writer is there).
#[test]
fn a_refused_kernel_lease_gives_less_caching() {
    let s = server("kop-refused");
    let p = seed(&s, "busy.txt", b"busy");
    let Some(local) = Local::open(&p, true) else { return };
    assert!(local.opened_within(Duration::from_secs(2)).is_some());
    let mut c = client(&s);
    let (_, level) = c.create("busy.txt", GENERIC_ALL, OPLOCK_BATCH).expect("create");
    assert_eq!(level, LEVEL_NONE, "no caching the host cannot protect");
    let (_, level) = c.create("busy.txt", FILE_GENERIC_READ, LEVEL_II).expect("create");
    assert_eq!(level, LEVEL_NONE, "no read lease while a local writer has the file open");
    drop(local);
    let mut d = client(&s);
    let (_, level) = d.create("other.txt", GENERIC_ALL, OPLOCK_EXCLUSIVE).expect("create other");
    assert_eq!(level, OPLOCK_EXCLUSIVE, "a file nobody else has open keeps full caching");
}
