//! One set of byte-range locks with the host (issue 11, item 4), over real connections
//! with real local processes: a Python process holding POSIX (`F_SETLK`) or OFD
//! (`F_OFD_SETLK`) locks on the share's file, driven line by line, against SMB locks,
//! blocking SMB locks, unlocks and strict-locking reads and writes.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use support::client::*;
use support::{start, start_with, Server};


const SHARED: u32 = 0x1;
const EXCLUSIVE: u32 = 0x2;
const UNLOCK: u32 = 0x4;
const FAIL_IMMEDIATELY: u32 = 0x10;

/// The local process: opens the file read-write and answers one line per command:
/// `lock r|w START LEN` (ok | busy), `unlock START LEN` (ok), `test r|w START LEN`
/// (free | held r|w), with POSIX or OFD locks as its first argument says. LEN 0 is
/// "to the end", as fcntl(2) has it.
const HOLDER: &str = r#"
import fcntl, os, struct, sys
path, kind = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR)
SET = fcntl.F_SETLK if kind == "posix" else fcntl.F_OFD_SETLK
GET = fcntl.F_GETLK if kind == "posix" else fcntl.F_OFD_GETLK
TYPES = {"r": fcntl.F_RDLCK, "w": fcntl.F_WRLCK, "u": fcntl.F_UNLCK}
NAMES = {fcntl.F_RDLCK: "r", fcntl.F_WRLCK: "w"}
FMT = "hhqqixxxx"  # struct flock on 64-bit Linux
print("ready", flush=True)
for line in sys.stdin:
    w = line.split()
    if w[0] == "unlock":
        w = ["lock", "u"] + w[1:]
    op, t, start, length = w[0], TYPES[w[1]], int(w[2]), int(w[3])
    fl = struct.pack(FMT, t, 0, start, length, 0)
    if op == "lock":
        try:
            fcntl.fcntl(fd, SET, fl)
            print("ok", flush=True)
        except OSError:
            print("busy", flush=True)
    else:
        got = struct.unpack(FMT, fcntl.fcntl(fd, GET, fl))
        print("free" if got[0] == fcntl.F_UNLCK else "held " + NAMES[got[0]], flush=True)
"#;

/// A local process holding locks on one file of the share.
struct Local {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Local {
    /// `kind`: "posix" or "ofd". None (the test is skipped) without python3.
    fn start(path: &Path, kind: &str) -> Option<Local> {
        let spawned = Command::new("python3")
            .args(["-c", HOLDER])
            .arg(path)
            .arg(kind)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn();
        let Ok(mut child) = spawned else {
            eprintln!("note: no python3; skipping");
            return None;
        };
        let input = child.stdin.take().expect("stdin");
        let mut output = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        output.read_line(&mut first).expect("holder starts");
        assert_eq!(first.trim(), "ready");
        Some(Local { child, input, output })
    }

    fn ask(&mut self, line: &str) -> String {
        writeln!(self.input, "{line}").expect("to the holder");
        let mut answer = String::new();
        self.output.read_line(&mut answer).expect("from the holder");
        answer.trim().to_string()
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(s: &Server) -> Client {
    Client::connect(s.addr, "user", "pass", "share")
}

fn lock(c: &mut Client, fid: Fid, offset: u64, length: u64, flags: u32) -> u32 {
    c.call(10, lock_body(fid, offset, length, flags)).status
}

/// A file of the share, opened by `c`, with a local process on it.
fn setup(s: &Server, c: &mut Client, name: &str, kind: &str) -> Option<(Fid, Local)> {
    let (fid, _) = c.create(name, GENERIC_ALL, OPLOCK_NONE).expect("create");
    assert_eq!(c.write(fid, 0, &[7; 64]), STATUS_SUCCESS);
    Some((fid, Local::start(&s.root.join(name), kind)?))
}

/// A local POSIX or OFD lock makes a conflicting SMB lock fail at once; what does not
/// conflict is granted, and the SMB lock is granted once the local lock is gone.
#[test]
fn a_local_lock_refuses_a_conflicting_smb_lock() {
    let s = start("host-refuses");
    let mut c = client(&s);
    for kind in ["posix", "ofd"] {
        let name = format!("{kind}.dat");
        let Some((fid, mut local)) = setup(&s, &mut c, &name, kind) else { return };
        assert_eq!(local.ask("lock w 0 10"), "ok");
        assert_eq!(lock(&mut c, fid, 5, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_LOCK_NOT_GRANTED, "{kind}");
        assert_eq!(lock(&mut c, fid, 5, 10, SHARED | FAIL_IMMEDIATELY), STATUS_LOCK_NOT_GRANTED, "{kind}");
        assert_eq!(lock(&mut c, fid, 10, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS, "{kind}: next to it");
        // A local read lock keeps SMB exclusive locks out, not shared ones.
        assert_eq!(local.ask("lock r 100 10"), "ok");
        assert_eq!(lock(&mut c, fid, 105, 1, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_LOCK_NOT_GRANTED, "{kind}");
        assert_eq!(lock(&mut c, fid, 105, 1, SHARED | FAIL_IMMEDIATELY), STATUS_SUCCESS, "{kind}");
        // The refused locks were not kept by the server either.
        assert_eq!(lock(&mut c, fid, 5, 10, UNLOCK), STATUS_RANGE_NOT_LOCKED, "{kind}");
        // All or nothing: the local lock refuses the second element, the first goes too.
        let both = locks_body(fid, &[(30, 5, EXCLUSIVE | FAIL_IMMEDIATELY), (8, 1, EXCLUSIVE | FAIL_IMMEDIATELY)]);
        assert_eq!(c.call(10, both).status, STATUS_LOCK_NOT_GRANTED, "{kind}");
        assert_eq!(local.ask("test w 30 5"), "free", "{kind}: the first element was taken back");
        assert_eq!(lock(&mut c, fid, 30, 5, UNLOCK), STATUS_RANGE_NOT_LOCKED, "{kind}");
        assert_eq!(local.ask("unlock 0 10"), "ok");
        assert_eq!(lock(&mut c, fid, 0, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS, "{kind}: the local lock is gone");
        assert_eq!(c.close(fid), STATUS_SUCCESS);
    }
}

/// An SMB lock makes a conflicting local F_SETLK/F_OFD_SETLK fail, F_GETLK reports it,
/// and unlocking (or closing) lets the local process in.
#[test]
fn an_smb_lock_refuses_a_conflicting_local_lock() {
    let s = start("smb-refuses");
    let mut c = client(&s);
    for kind in ["posix", "ofd"] {
        let name = format!("{kind}.dat");
        let Some((fid, mut local)) = setup(&s, &mut c, &name, kind) else { return };
        assert_eq!(lock(&mut c, fid, 0, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS);
        assert_eq!(local.ask("lock r 5 1"), "busy", "{kind}");
        assert_eq!(local.ask("test w 0 100"), "held w", "{kind}");
        assert_eq!(local.ask("lock w 10 10"), "ok", "{kind}: next to it");
        assert_eq!(lock(&mut c, fid, 20, 10, SHARED | FAIL_IMMEDIATELY), STATUS_SUCCESS);
        assert_eq!(local.ask("lock r 25 1"), "ok", "{kind}: shared with a shared lock");
        assert_eq!(local.ask("lock w 26 1"), "busy", "{kind}");
        assert_eq!(local.ask("test w 26 1"), "held r", "{kind}");
        assert_eq!(lock(&mut c, fid, 0, 10, UNLOCK), STATUS_SUCCESS);
        assert_eq!(local.ask("lock w 0 10"), "ok", "{kind}: unlocked");
        assert_eq!(c.close(fid), STATUS_SUCCESS);
        assert_eq!(local.ask("lock w 20 10"), "ok", "{kind}: the close dropped the shared lock");
    }
}

/// Through an open without write access an exclusive SMB lock is a host read lock (the
/// kernel takes write locks only on descriptors open for writing): it keeps local
/// writers out, not local readers; SMB semantics are unchanged. Without kernel oplocks,
/// where each open has a description of its own (with them, the file's one description
/// is read-write once any open writes: `a_shared_description_keeps_each_opens_locks`).
#[test]
fn an_exclusive_lock_through_a_read_only_open() {
    const FILE_GENERIC_READ: u32 = 0x0012_0089;
    let config = "kernel_oplocks = false\n[[share]]\nname = \"share\"\npath = \"{root}\"\n";
    let s = start_with("host-readonly", Some(config));
    let mut c = client(&s);
    let Some((rw, mut local)) = setup(&s, &mut c, "ro.dat", "ofd") else { return };
    let (ro, _) = c.create("ro.dat", FILE_GENERIC_READ, OPLOCK_NONE).expect("read-only open");
    assert_eq!(lock(&mut c, ro, 0, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(local.ask("lock w 0 1"), "busy");
    assert_eq!(local.ask("lock r 0 1"), "ok");
    assert_eq!(local.ask("unlock 0 1"), "ok");
    assert_eq!(lock(&mut c, rw, 5, 1, SHARED | FAIL_IMMEDIATELY), STATUS_LOCK_NOT_GRANTED, "SMB: exclusive");
    assert_eq!(lock(&mut c, ro, 0, 10, UNLOCK), STATUS_SUCCESS);
    assert_eq!(local.ask("lock w 0 10"), "ok");
}

/// A blocking SMB lock behind a local lock waits (STATUS_PENDING), and is granted soon
/// after the local process lets go.
#[test]
fn a_blocking_smb_lock_is_granted_when_the_local_lock_goes() {
    let s = start("host-blocking");
    let mut c = client(&s);
    let Some((fid, mut local)) = setup(&s, &mut c, "wait.dat", "posix") else { return };
    assert_eq!(local.ask("lock w 0 10"), "ok");
    let mid = c.send(10, lock_body(fid, 5, 1, EXCLUSIVE));
    assert!(c.wait(mid, Duration::from_millis(2500)).is_none(), "the lock waits while the local lock stays");
    assert_eq!(local.ask("unlock 0 10"), "ok");
    let released = Instant::now();
    let r = c.wait(mid, Duration::from_secs(5)).expect("the waiting lock completes");
    let took = released.elapsed();
    assert_eq!(r.status, STATUS_SUCCESS);
    assert!(took < Duration::from_millis(1500), "granted {took:?} after the local lock went");
    assert_eq!(local.ask("lock r 5 1"), "busy", "the SMB lock is on the host now");
    assert_eq!(local.ask("lock r 6 1"), "ok");
}

/// A blocking lock that waited behind another SMB open's lock, and that a local lock
/// still refuses when that one goes, waits on for the local lock.
#[test]
fn a_lock_freed_by_smb_still_waits_for_the_host() {
    let s = start("host-late");
    let mut a = client(&s);
    let mut b = client(&s);
    let Some((fa, mut local)) = setup(&s, &mut a, "late.dat", "posix") else { return };
    let (fb, _) = b.create("late.dat", GENERIC_ALL, OPLOCK_NONE).expect("second open");
    assert_eq!(lock(&mut a, fa, 0, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(local.ask("lock w 15 1"), "ok");
    let mid = b.send(10, lock_body(fb, 0, 20, EXCLUSIVE));
    assert!(b.wait(mid, Duration::from_millis(300)).is_none(), "behind A's lock");
    assert_eq!(lock(&mut a, fa, 0, 10, UNLOCK), STATUS_SUCCESS);
    assert!(b.wait(mid, Duration::from_millis(1500)).is_none(), "behind the local lock");
    assert_eq!(lock(&mut a, fa, 0, 1, SHARED | FAIL_IMMEDIATELY), STATUS_SUCCESS, "B's lock was taken back");
    assert_eq!(lock(&mut a, fa, 0, 1, UNLOCK), STATUS_SUCCESS);
    assert_eq!(local.ask("unlock 15 1"), "ok");
    assert_eq!(b.wait(mid, Duration::from_secs(3)).expect("granted").status, STATUS_SUCCESS);
    assert_eq!(local.ask("test w 0 1"), "held w");
    assert_eq!(lock(&mut a, fa, 19, 1, SHARED | FAIL_IMMEDIATELY), STATUS_LOCK_NOT_GRANTED);
}

/// A blocking lock waiting for a local lock ends with CANCEL (STATUS_CANCELLED) and with
/// the close of its handle (STATUS_RANGE_NOT_LOCKED), leaving nothing locked.
#[test]
fn a_lock_waiting_for_the_host_is_cancelled_and_closed() {
    let s = start("host-cancel");
    let mut c = client(&s);
    let Some((fid, mut local)) = setup(&s, &mut c, "cancel.dat", "ofd") else { return };
    assert_eq!(local.ask("lock w 0 10"), "ok");
    let mid = c.send(10, lock_body(fid, 0, 4, EXCLUSIVE));
    assert!(c.wait(mid, Duration::from_millis(300)).is_none());
    let (sid, tid) = c.ids();
    let (_, mut cancel) = c.message(0x0C, &[4, 0, 0, 0], sid, tid, 0);
    cancel[24..32].copy_from_slice(&mid.to_le_bytes());
    c.send_raw(&cancel);
    assert_eq!(c.wait(mid, Duration::from_secs(5)).expect("cancelled").status, STATUS_CANCELLED);
    assert_eq!(local.ask("unlock 0 10"), "ok");
    thread_sleep(1200);
    assert_eq!(local.ask("test w 0 100"), "free", "the cancelled lock was never taken");

    assert_eq!(local.ask("lock w 0 10"), "ok");
    let mid = c.send(10, lock_body(fid, 0, 4, SHARED));
    assert!(c.wait(mid, Duration::from_millis(300)).is_none());
    let mut other = client(&s);
    let (f2, _) = other.create("cancel.dat", GENERIC_ALL, OPLOCK_NONE).expect("second open");
    assert_eq!(c.close(fid), STATUS_SUCCESS);
    assert_eq!(c.wait(mid, Duration::from_secs(5)).expect("ended by the close").status, STATUS_RANGE_NOT_LOCKED);
    assert_eq!(local.ask("unlock 0 10"), "ok");
    thread_sleep(1200);
    assert_eq!(local.ask("test w 0 100"), "free");
    assert_eq!(lock(&mut other, f2, 0, 4, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS);
}

/// A lock waiting for the host goes with its connection: nothing is taken later.
#[test]
fn a_lock_waiting_for_the_host_goes_with_its_connection() {
    let s = start("host-disconnect");
    let mut c = client(&s);
    let Some((fid, mut local)) = setup(&s, &mut c, "gone.dat", "posix") else { return };
    assert_eq!(local.ask("lock w 0 10"), "ok");
    let mid = c.send(10, lock_body(fid, 0, 4, EXCLUSIVE));
    assert!(c.wait(mid, Duration::from_millis(300)).is_none());
    drop(c);
    thread_sleep(200);
    assert_eq!(local.ask("unlock 0 10"), "ok");
    thread_sleep(1200);
    assert_eq!(local.ask("test w 0 0"), "free");
}

fn thread_sleep(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// OFD locks of one open merge: unlocking one of two overlapping SMB locks keeps the
/// host lock the other needs, and an unlocked exclusive lock stacked with a shared one
/// leaves a shared host lock.
#[test]
fn an_unlock_keeps_what_the_other_locks_need() {
    let s = start("host-overlap");
    let mut c = client(&s);
    let Some((fid, mut local)) = setup(&s, &mut c, "overlap.dat", "posix") else { return };
    assert_eq!(lock(&mut c, fid, 0, 10, SHARED | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(lock(&mut c, fid, 5, 10, SHARED | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(lock(&mut c, fid, 0, 10, UNLOCK), STATUS_SUCCESS);
    assert_eq!(local.ask("lock w 0 5"), "ok", "nothing covers 0..5 any more");
    assert_eq!(local.ask("lock w 5 1"), "busy", "5..15 is still locked");
    assert_eq!(local.ask("lock w 14 1"), "busy");
    assert_eq!(local.ask("lock r 5 10"), "ok");
    assert_eq!(local.ask("unlock 0 0"), "ok");

    assert_eq!(lock(&mut c, fid, 100, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(lock(&mut c, fid, 100, 10, SHARED | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(local.ask("lock r 100 1"), "busy");
    // The unlock removes the exclusive lock first; the shared one stays.
    assert_eq!(lock(&mut c, fid, 100, 10, UNLOCK), STATUS_SUCCESS);
    assert_eq!(local.ask("lock r 100 10"), "ok");
    assert_eq!(local.ask("lock w 109 1"), "busy");
    assert_eq!(local.ask("unlock 0 0"), "ok");
    assert_eq!(lock(&mut c, fid, 100, 10, UNLOCK), STATUS_SUCCESS);
    assert_eq!(local.ask("lock w 0 0"), "busy", "5..15 is still locked");
    assert_eq!(lock(&mut c, fid, 5, 10, UNLOCK), STATUS_SUCCESS);
    assert_eq!(local.ask("lock w 0 0"), "ok", "nothing is locked");
}

/// Strict locking: a local lock refuses a conflicting SMB WRITE (and, a write lock, a
/// READ) with STATUS_FILE_LOCK_CONFLICT; elsewhere I/O goes on.
#[test]
fn strict_locking_sees_local_locks() {
    let s = start("host-strict");
    let mut c = client(&s);
    let Some((fid, mut local)) = setup(&s, &mut c, "strict.dat", "posix") else { return };
    assert_eq!(local.ask("lock w 0 10"), "ok");
    assert_eq!(c.write(fid, 5, b"x"), STATUS_FILE_LOCK_CONFLICT);
    assert_eq!(c.read(fid, 0, 4), STATUS_FILE_LOCK_CONFLICT);
    assert_eq!(c.write(fid, 20, b"x"), STATUS_SUCCESS);
    assert_eq!(local.ask("lock r 0 10"), "ok");
    assert_eq!(c.read(fid, 0, 4), STATUS_SUCCESS, "a read lock lets readers in");
    assert_eq!(c.write(fid, 0, b"x"), STATUS_FILE_LOCK_CONFLICT);
    assert_eq!(local.ask("unlock 0 10"), "ok");
    assert_eq!(c.write(fid, 0, b"x"), STATUS_SUCCESS);
}

/// Bytes from 2^63 on are SMB-only: locks there keep their SMB semantics and no local
/// lock touches them; a range across 2^63 is mirrored below it.
#[test]
fn ranges_from_two_to_the_63_are_smb_only() {
    let s = start("host-high");
    let mut c = client(&s);
    let mut other = client(&s);
    let Some((fid, mut local)) = setup(&s, &mut c, "high.dat", "posix") else { return };
    let (f2, _) = other.create("high.dat", GENERIC_ALL, OPLOCK_NONE).expect("second open");
    let high = 1u64 << 63;
    assert_eq!(lock(&mut c, fid, high, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(lock(&mut other, f2, high + 5, 1, SHARED | FAIL_IMMEDIATELY), STATUS_LOCK_NOT_GRANTED);
    assert_eq!(local.ask("lock w 0 0"), "ok", "nothing below 2^63 is locked");
    assert_eq!(lock(&mut c, fid, high + 100, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(lock(&mut c, fid, high - 10, 20, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_LOCK_NOT_GRANTED, "its low part");
    assert_eq!(local.ask("unlock 0 0"), "ok");
    assert_eq!(lock(&mut c, fid, high - 10, 20, SHARED | FAIL_IMMEDIATELY), STATUS_SUCCESS, "stacked on its own lock above");
    assert_eq!(local.ask(&format!("lock w {} 1", high - 5)), "busy", "the low part is on the host");
    assert_eq!(local.ask(&format!("lock r {} 1", high - 5)), "ok");
    assert_eq!(local.ask("unlock 0 0"), "ok");
    assert_eq!(lock(&mut other, f2, 0, high, SHARED | FAIL_IMMEDIATELY), STATUS_SUCCESS, "all the host can name");
    assert_eq!(local.ask("lock w 0 0"), "busy");
    assert_eq!(local.ask("test w 12345 1"), "held r");
}

/// `posix_locking = false`: SMB locks and local locks do not see each other.
#[test]
fn posix_locking_off_keeps_them_apart() {
    let config = "[[share]]\nname = \"share\"\npath = \"{root}\"\nposix_locking = false\n[[user]]\nname = \"user\"\npassword = \"pass\"\n";
    let s = start_with("host-off", Some(config));
    let mut c = client(&s);
    let Some((fid, mut local)) = setup(&s, &mut c, "off.dat", "posix") else { return };
    assert_eq!(local.ask("lock w 0 10"), "ok");
    assert_eq!(lock(&mut c, fid, 0, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(c.write(fid, 20, b"x"), STATUS_SUCCESS);
    assert_eq!(local.ask("lock w 20 10"), "ok");
}

/// [`Local::start`] on a file that `c` holds a batch oplock on: the local open breaks it
/// (kernel oplocks), and `c` acknowledges the break so the local process need not wait
/// out the break timeout.
fn local_breaking(c: &mut Client, path: &Path, kind: &'static str) -> Option<Local> {
    let path = path.to_path_buf();
    let opener = std::thread::spawn(move || Local::start(&path, kind));
    if let Some((fid, level)) = c.next_break(Duration::from_secs(5)) {
        assert_eq!(c.ack_break(fid, level), STATUS_SUCCESS);
    }
    opener.join().expect("the local process started")
}

/// A durable handle parked after its connection dropped keeps its descriptor, so its
/// host locks stay until it is reconnected and closed, or expires.
#[test]
fn a_parked_durable_handle_keeps_its_host_locks() {
    let s = start("host-durable");
    let mut a = Client::connect_smb3(s.addr, "user", "pass", "share");
    let guid = [5; 16];
    let (fid, _) = a.create_durable("kept.dat", 60_000, guid).expect("durable open");
    assert_eq!(a.lock(fid, 0, 10), STATUS_SUCCESS);
    let Some(mut local) = local_breaking(&mut a, &s.root.join("kept.dat"), "ofd") else { return };
    assert_eq!(local.ask("lock r 0 1"), "busy");
    drop(a);
    thread_sleep(300);
    assert_eq!(local.ask("lock r 0 1"), "busy", "parked with its lock");
    let mut b = Client::connect_smb3(s.addr, "user", "pass", "share");
    let (again, _) = b.reconnect(fid, guid).expect("reconnect");
    assert_eq!(local.ask("lock r 0 1"), "busy", "reconnected with its lock");
    assert_eq!(b.close(again), STATUS_SUCCESS);
    assert_eq!(local.ask("lock w 0 10"), "ok", "closed");

    let (brief, _) = b.create_durable("brief.dat", 100, [6; 16]).expect("durable open");
    assert_eq!(b.lock(brief, 0, 10), STATUS_SUCCESS);
    let Some(mut local) = local_breaking(&mut b, &s.root.join("brief.dat"), "posix") else { return };
    drop(b);
    thread_sleep(1500);
    assert_eq!(local.ask("lock w 0 10"), "ok", "expired and purged");
}

/// With kernel oplocks every SMB open of a file shares one open file description, so the
/// host locks are the file's: what each open holds stays when the description is reopened
/// read-write for a writer (exclusive locks become host write locks then), and closing one
/// open drops its locks only, not the others'.
#[test]
fn a_shared_description_keeps_each_opens_locks() {
    const FILE_GENERIC_READ: u32 = 0x0012_0089;
    let config = "kernel_oplocks = true\n[[share]]\nname = \"share\"\npath = \"{root}\"\n";
    let s = start_with("host-shared", Some(config));
    std::fs::write(s.root.join("shared.dat"), [7u8; 64]).expect("seed");
    let mut c = client(&s);
    let (ro, _) = c.create("shared.dat", FILE_GENERIC_READ, OPLOCK_NONE).expect("read-only open");
    assert_eq!(lock(&mut c, ro, 0, 10, SHARED | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    let Some(mut local) = Local::start(&s.root.join("shared.dat"), "ofd") else { return };
    assert_eq!(local.ask("lock w 0 1"), "busy");
    let (rw, _) = c.create("shared.dat", GENERIC_ALL, OPLOCK_NONE).expect("read-write open");
    assert_eq!(local.ask("lock w 0 1"), "busy", "the read-only open's lock survives the reopen");
    assert_eq!(local.ask("lock r 0 1"), "ok");
    assert_eq!(local.ask("unlock 0 1"), "ok");
    assert_eq!(lock(&mut c, rw, 20, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(lock(&mut c, ro, 40, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(local.ask("lock r 20 1"), "busy");
    assert_eq!(local.ask("lock r 40 1"), "busy", "a write lock now, through the read-write description");
    assert_eq!(lock(&mut c, rw, 25, 1, SHARED | FAIL_IMMEDIATELY), STATUS_SUCCESS, "its own range, stacked");
    assert_eq!(lock(&mut c, ro, 25, 1, SHARED | FAIL_IMMEDIATELY), STATUS_LOCK_NOT_GRANTED, "SMB still tells the opens apart");
    assert_eq!(c.close(rw), STATUS_SUCCESS);
    assert_eq!(local.ask("lock r 20 10"), "ok", "the closed open's locks went");
    assert_eq!(local.ask("unlock 20 10"), "ok");
    assert_eq!(local.ask("lock w 0 1"), "busy", "the other open's locks stayed");
    assert_eq!(local.ask("lock r 45 1"), "busy");
    assert_eq!(lock(&mut c, ro, 0, 10, UNLOCK), STATUS_SUCCESS);
    assert_eq!(local.ask("lock w 0 10"), "ok");
    assert_eq!(local.ask("lock w 40 1"), "busy");
}

/// Lock `i` of the many-locks tests: [16i, 16i + 8), exclusive for even i, shared for odd.
fn nth_lock(i: u64) -> (u64, u64, u32) {
    (16 * i, 8, if i.is_multiple_of(2) { EXCLUSIVE } else { SHARED } | FAIL_IMMEDIATELY)
}

/// Takes (or, with `UNLOCK`, releases) locks `from..to` in requests of 100 elements.
fn many(c: &mut Client, fid: Fid, from: u64, to: u64, unlock: bool) {
    let all: Vec<(u64, u64, u32)> =
        (from..to).map(nth_lock).map(|(o, l, f)| (o, l, if unlock { UNLOCK } else { f })).collect();
    for chunk in all.chunks(100) {
        assert_eq!(c.call(10, locks_body(fid, chunk)).status, STATUS_SUCCESS, "locks {from}..{to}");
    }
}

/// More than 1,024 lock ranges on a file: the host holds their hulls (one write lock
/// over the exclusive ones, a read lock over the rest of the shared ones), so a local
/// process meets a lock in the gaps too, and beyond them nothing; other SMB opens of the
/// file lock in the gaps as before and grow the hulls. Unlocked down to fewer than 256,
/// the host locks are exact again.
#[test]
fn many_locks_are_held_as_their_hulls() {
    let config = "kernel_oplocks = true\n[[share]]\nname = \"share\"\npath = \"{root}\"\n";
    let s = start_with("host-coarse", Some(config));
    let mut c = client(&s);
    let mut other = client(&s);
    let Some((fid, mut local)) = setup(&s, &mut c, "many.dat", "ofd") else { return };
    many(&mut c, fid, 0, 1000, false);
    assert_eq!(local.ask("test w 10 4"), "free", "1,000 locks: exact, the gaps are free");
    assert_eq!(local.ask("test w 0 1"), "held w");
    assert_eq!(local.ask("test w 16 1"), "held r");
    many(&mut c, fid, 1000, 1100, false);
    assert_eq!(local.ask("test w 10 4"), "held w", "1,100 locks: a gap inside the hulls is held");
    assert_eq!(local.ask("lock r 10 4"), "busy");
    let end = 16 * 1099 + 8;
    assert_eq!(local.ask(&format!("test w {end} 100")), "free", "beyond the hulls");

    let (f2, _) = other.create("many.dat", GENERIC_ALL, OPLOCK_NONE).expect("second open");
    assert_eq!(lock(&mut other, f2, 16 * 7 + 10, 4, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS, "SMB: a gap is free");
    assert_eq!(lock(&mut other, f2, 16 * 7 + 4, 1, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_LOCK_NOT_GRANTED, "SMB: a lock is not");
    assert_eq!(lock(&mut other, f2, 100_000, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS);
    assert_eq!(local.ask("test w 50000 1"), "held w", "the hulls grew to take it in");
    assert_eq!(local.ask("test w 100010 1"), "free");
    assert_eq!(other.close(f2), STATUS_SUCCESS);
    assert_eq!(local.ask("test w 50000 1"), "free", "a close sets the hulls from the locks left");
    assert_eq!(local.ask("test w 10 4"), "held w");

    many(&mut c, fid, 200, 1100, true);
    assert_eq!(local.ask("test w 10 4"), "free", "200 locks left: exact again");
    assert_eq!(local.ask(&format!("test w {} 1", 16 * 1099)), "free", "unlocked");
    assert_eq!(local.ask("test w 0 1"), "held w");
    assert_eq!(local.ask(&format!("test w {} 1", 16 * 199)), "held r");
    assert_eq!(c.close(fid), STATUS_SUCCESS);
    assert_eq!(local.ask("lock w 0 0"), "ok", "closed: nothing is locked");
}

/// A local lock where the hulls would lie keeps the host locks exact: between the SMB
/// locks when they pass 1,024 ranges, or where coarse hulls would grow (they become
/// exact at once). An SMB lock is refused only by a local lock it overlaps.
#[test]
fn a_local_lock_keeps_many_locks_exact() {
    let config = "kernel_oplocks = true\n[[share]]\nname = \"share\"\npath = \"{root}\"\n";
    let s = start_with("host-exact", Some(config));
    let mut c = client(&s);
    let Some((fid, mut local)) = setup(&s, &mut c, "between.dat", "ofd") else { return };
    assert_eq!(local.ask("lock r 26 4"), "ok", "in the gap after lock 1");
    many(&mut c, fid, 0, 1100, false);
    assert_eq!(local.ask("test w 42 4"), "free", "stayed exact: the other gaps are free");
    assert_eq!(local.ask("test w 32 1"), "held w");
    assert_eq!(local.ask("unlock 26 4"), "ok");
    many(&mut c, fid, 1100, 1200, false);
    assert_eq!(local.ask("test w 42 4"), "free", "tries again only at twice as many ranges");

    let Some((fid, mut local)) = setup(&s, &mut c, "grow.dat", "ofd") else { return };
    assert_eq!(local.ask("lock w 1000000 10"), "ok", "far above the SMB locks");
    many(&mut c, fid, 0, 1100, false);
    assert_eq!(local.ask("test w 10 4"), "held w", "coarse");
    assert_eq!(lock(&mut c, fid, 2_000_000, 10, EXCLUSIVE | FAIL_IMMEDIATELY), STATUS_SUCCESS, "granted exactly");
    assert_eq!(local.ask("test w 10 4"), "free", "exact again: the hulls could not grow over the local lock");
    assert_eq!(local.ask("test w 2000000 1"), "held w");
    assert_eq!(local.ask("test w 1500000 1"), "free");
    assert_eq!(lock(&mut c, fid, 1_000_005, 1, SHARED | FAIL_IMMEDIATELY), STATUS_LOCK_NOT_GRANTED, "the local lock");
}
