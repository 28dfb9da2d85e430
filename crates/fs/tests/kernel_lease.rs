//! The kernel-lease primitives against real local processes: a lease is taken, a child
//! process's open breaks it, the break is read from the signalfd, and the child's open
//! completes only when the lease is let go. Its own `main` (harness = false): the lease
//! signal must be blocked before any other thread exists.

use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use opportune_fs::kernel_lease::{self, Lease, LeaseNote, LeaseSignals};

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch() -> Scratch {
    let d = std::env::temp_dir().join(format!("opportune-klease-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    Scratch(d)
}

fn file(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, b"hello").expect("write");
    p
}

/// A local process that opens `p` for writing (appends) or reading.
fn local(p: &Path, write: bool) -> Child {
    let script = if write { "echo local >> \"$0\"" } else { "cat \"$0\" > /dev/null" };
    Command::new("sh").arg("-c").arg(script).arg(p).spawn().expect("spawn sh")
}

/// The break notifications that arrive within `wait`.
fn breaks(sig: &LeaseSignals, wait: Duration) -> Vec<LeaseNote> {
    let end = Instant::now() + wait;
    let mut out = Vec::new();
    while Instant::now() < end {
        sig.read(&mut out).expect("read signalfd");
        if !out.is_empty() {
            return out;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    out
}

fn finished_within(child: &mut Child, wait: Duration) -> bool {
    let end = Instant::now() + wait;
    while Instant::now() < end {
        if child.try_wait().expect("try_wait").is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

fn refused_while_the_signal_is_not_blocked(dir: &Path) {
    let f = File::open(file(dir, "unblocked")).expect("open");
    assert!(!kernel_lease::lease_signals_blocked());
    assert!(!kernel_lease::take(f.as_fd(), Lease::Read).expect("take"));
    assert_eq!(kernel_lease::held(f.as_fd()).expect("held"), Lease::Unlock);
}

fn local_writer_breaks_a_write_lease_and_waits(dir: &Path, sig: &LeaseSignals) {
    let p = file(dir, "w");
    let f = OpenOptions::new().read(true).write(true).open(&p).expect("open rw");
    assert!(kernel_lease::take(f.as_fd(), Lease::Write).expect("take"));
    assert_eq!(kernel_lease::held(f.as_fd()).expect("held"), Lease::Write);
    let mut child = local(&p, true);
    let notes = breaks(sig, Duration::from_secs(3));
    assert_eq!(notes, vec![LeaseNote::Break { fd: f.as_raw_fd() }]);
    assert_eq!(kernel_lease::held(f.as_fd()).expect("held"), Lease::Unlock, "a writer breaks to none");
    assert!(!finished_within(&mut child, Duration::from_millis(200)), "the local open waits for the holder");
    assert!(kernel_lease::take(f.as_fd(), Lease::Unlock).expect("unlock"));
    assert!(finished_within(&mut child, Duration::from_secs(3)), "the local open goes on once the lease is gone");
    assert_eq!(std::fs::read(&p).expect("read"), b"hellolocal\n");
}

fn local_reader_downgrades_a_write_lease_to_read(dir: &Path, sig: &LeaseSignals) {
    let p = file(dir, "wr");
    // A write lease through a read-only description can come down to a read lease.
    let f = File::open(&p).expect("open ro");
    assert!(kernel_lease::take(f.as_fd(), Lease::Write).expect("take"));
    let mut child = local(&p, false);
    assert_eq!(breaks(sig, Duration::from_secs(3)), vec![LeaseNote::Break { fd: f.as_raw_fd() }]);
    assert_eq!(kernel_lease::held(f.as_fd()).expect("held"), Lease::Read, "a reader breaks to read");
    assert!(kernel_lease::take(f.as_fd(), Lease::Read).expect("downgrade"));
    assert!(finished_within(&mut child, Duration::from_secs(3)));
    assert_eq!(kernel_lease::held(f.as_fd()).expect("held"), Lease::Read);
    assert!(kernel_lease::take(f.as_fd(), Lease::Unlock).expect("unlock"));
}

fn read_lease_survives_readers_and_breaks_on_a_writer(dir: &Path, sig: &LeaseSignals) {
    let p = file(dir, "r");
    let f = File::open(&p).expect("open ro");
    assert!(kernel_lease::take(f.as_fd(), Lease::Read).expect("take"));
    let mut reader = local(&p, false);
    assert!(finished_within(&mut reader, Duration::from_secs(3)), "a reader does not wait");
    assert!(breaks(sig, Duration::from_millis(200)).is_empty(), "a reader breaks no read lease");
    let mut writer = local(&p, true);
    assert_eq!(breaks(sig, Duration::from_secs(3)), vec![LeaseNote::Break { fd: f.as_raw_fd() }]);
    assert_eq!(kernel_lease::held(f.as_fd()).expect("held"), Lease::Unlock);
    assert!(kernel_lease::take(f.as_fd(), Lease::Unlock).expect("unlock"));
    assert!(finished_within(&mut writer, Duration::from_secs(3)));
}

fn refused_when_the_file_is_open_in_a_conflicting_mode(dir: &Path, sig: &LeaseSignals) {
    let p = file(dir, "busy");
    let rw = OpenOptions::new().read(true).write(true).open(&p).expect("open rw");
    // A read lease needs nobody open for writing, this description included.
    assert!(!kernel_lease::take(rw.as_fd(), Lease::Read).expect("take"));
    let other = File::open(&p).expect("open ro");
    // A write lease needs no other description of the inode, even of this process.
    assert!(!kernel_lease::take(rw.as_fd(), Lease::Write).expect("take"));
    assert!(!kernel_lease::take(other.as_fd(), Lease::Read).expect("take"));
    drop(rw);
    assert!(kernel_lease::take(other.as_fd(), Lease::Read).expect("take"), "granted once the writer is gone");
    assert!(kernel_lease::take(other.as_fd(), Lease::Unlock).expect("unlock"));
    assert!(breaks(sig, Duration::from_millis(50)).is_empty());
}

/// Handles of one file on a share that shares descriptions: one description, so a read
/// lease taken through the first survives more read-only opens, a write lease survives
/// any open of the same share (the kernel counts descriptions, and there is one), and a
/// local process still breaks it.
fn shared_descriptions_keep_our_own_leases(dir: &Path, sig: &LeaseSignals) {
    use opportune_fs::{CreateParams, Share, SmbPath};
    use opportune_types::create::CreateDisposition;
    file(dir, "shared");
    let share = Share::new(dir, false).expect("share");
    share.share_descriptions(true);
    let path = SmbPath::parse("shared").expect("path");
    let p = |write| CreateParams { disposition: CreateDisposition::Open, directory: Some(false), write, attributes: 0, allocation_size: 0, metadata_only: false };
    let a = share.create(&path, &p(false)).expect("open a").handle;
    assert!(kernel_lease::take(a.lease_fd().expect("a host descriptor"), Lease::Read).expect("take read"));
    let b = share.create(&path, &p(false)).expect("a second reader opens beside the read lease").handle;
    assert!(a.same_description(&b) && a.shares_description());
    assert_eq!(kernel_lease::held(a.lease_fd().expect("a host descriptor")).expect("held"), Lease::Read);
    // A write lease through the read-only description: even a stat or read open keeps it.
    assert!(kernel_lease::take(a.lease_fd().expect("a host descriptor"), Lease::Write).expect("take write"));
    let c = share.create(&path, &p(false)).expect("a third open beside the write lease").handle;
    assert!(c.same_description(&a));
    assert!(breaks(sig, Duration::from_millis(100)).is_empty(), "our own opens break nothing");
    // A writer needs the description read-write: the lease goes first, then it reopens.
    // Refused before anything is opened: no break of our own lease is started.
    let Err(refused) = share.create(&path, &p(true)) else { panic!("the reopen would break our lease") };
    assert!(matches!(refused, opportune_fs::FsError::LeaseHeld { .. }), "{refused:?}");
    assert_eq!(kernel_lease::held(a.lease_fd().expect("a host descriptor")).expect("held"), Lease::Write, "the lease is not being broken");
    assert!(breaks(sig, Duration::from_millis(100)).is_empty(), "the refused reopen raised no break note");
    assert!(a.take_lease(Lease::Unlock).expect("unlock"));
    let w = share.create(&path, &p(true)).expect("the writer reopens the description");
    assert!(w.reopened && w.handle.same_description(&a) && a.opened_for_writing());
    assert!(kernel_lease::take(a.lease_fd().expect("a host descriptor"), Lease::Write).expect("a write lease on the read-write description"));
    assert!(!kernel_lease::take(a.lease_fd().expect("a host descriptor"), Lease::Read).expect("no read lease beside a writer"));
    let mut data = [0u8; 5];
    w.handle.write_at(b"HELLO", 0).expect("write");
    assert_eq!(c.read_at(&mut data, 0).expect("read through another handle"), 5);
    assert_eq!(&data, b"HELLO");
    let mut child = local(&dir.join("shared"), false);
    assert_eq!(breaks(sig, Duration::from_secs(3)), vec![LeaseNote::Break { fd: a.lease_fd_number().expect("a host descriptor") }], "a local reader breaks it");
    assert!(kernel_lease::take(a.lease_fd().expect("a host descriptor"), Lease::Unlock).expect("unlock"));
    assert!(finished_within(&mut child, Duration::from_secs(3)));
}

type Case = fn(&Path, &LeaseSignals);

fn main() {
    let s = scratch();
    refused_while_the_signal_is_not_blocked(&s.0);
    kernel_lease::block_lease_signals().expect("block");
    assert!(kernel_lease::lease_signals_blocked());
    assert!(kernel_lease::lease_break_time() >= Duration::from_secs(1));
    let sig = LeaseSignals::new().expect("signalfd");
    let tests: [(&str, Case); 5] = [
        ("local_writer_breaks_a_write_lease_and_waits", local_writer_breaks_a_write_lease_and_waits),
        ("local_reader_downgrades_a_write_lease_to_read", local_reader_downgrades_a_write_lease_to_read),
        ("read_lease_survives_readers_and_breaks_on_a_writer", read_lease_survives_readers_and_breaks_on_a_writer),
        ("refused_when_the_file_is_open_in_a_conflicting_mode", refused_when_the_file_is_open_in_a_conflicting_mode),
        ("shared_descriptions_keep_our_own_leases", shared_descriptions_keep_our_own_leases),
    ];
    println!("running {} tests", tests.len() + 1);
    println!("test refused_while_the_signal_is_not_blocked ... ok");
    for (name, t) in tests {
        t(&s.0, &sig);
        println!("test {name} ... ok");
    }
    println!("test result: ok. {} passed", tests.len() + 1);
}
