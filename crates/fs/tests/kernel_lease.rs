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

type Case = fn(&Path, &LeaseSignals);

fn main() {
    let s = scratch();
    refused_while_the_signal_is_not_blocked(&s.0);
    kernel_lease::block_lease_signals().expect("block");
    assert!(kernel_lease::lease_signals_blocked());
    assert!(kernel_lease::lease_break_time() >= Duration::from_secs(1));
    let sig = LeaseSignals::new().expect("signalfd");
    let tests: [(&str, Case); 4] = [
        ("local_writer_breaks_a_write_lease_and_waits", local_writer_breaks_a_write_lease_and_waits),
        ("local_reader_downgrades_a_write_lease_to_read", local_reader_downgrades_a_write_lease_to_read),
        ("read_lease_survives_readers_and_breaks_on_a_writer", read_lease_survives_readers_and_breaks_on_a_writer),
        ("refused_when_the_file_is_open_in_a_conflicting_mode", refused_when_the_file_is_open_in_a_conflicting_mode),
    ];
    println!("running {} tests", tests.len() + 1);
    println!("test refused_while_the_signal_is_not_blocked ... ok");
    for (name, t) in tests {
        t(&s.0, &sig);
        println!("test {name} ... ok");
    }
    println!("test result: ok. {} passed", tests.len() + 1);
}
