//! Lock-adapter scaling benchmark (a measurement, not a test): rates of open+close and
//! of byte-range lock+unlock through the engine's lock adapter ([`Locking`], the mutex,
//! the adapter maps and the lock core together, as the server calls them), each thread
//! on files of its own, from 1 and 2 threads, with 1 and 100,000 other files open.
//!
//!     cargo run --release -p opportune-engine --example locking_scaling [-- --quick]
//!
//! With the adapter's state behind one mutex, 2 threads on unrelated files take turns at
//! it; with the state partitioned by file they should not. Wall-clock rates on a shared
//! machine are noisy: each cell is the best of several timed rounds, which filters out
//! time stolen by other work, and nothing here fails on a slow number.

use opportune_engine::clock::SystemClock;
use opportune_engine::locking::{Admission, ConnEvent, EventSink, Locking};
use opportune_fs::FileInfo;
use opportune_locks::{CreateOutcome, CreatePolicy, LockElement, LockOutcome, OplockLevel, RequestedCaching};
use opportune_types::{AccessMask, NtStatus, ShareAccess};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Drops every event (the benchmark's opens never contend, so there are hardly any).
struct Discard;

impl EventSink for Discard {
    fn send(&self, _ev: ConnEvent) -> bool {
        true
    }
}

/// Open ids, unique across threads.
static NEXT_OPEN: AtomicU64 = AtomicU64::new(1);
/// Lock request ids.
static NEXT_REQUEST: AtomicU64 = AtomicU64::new(1);

fn info(ino: u64) -> FileInfo {
    FileInfo {
        file_id: ino,
        dev: 1,
        size: 0,
        allocation_size: 0,
        creation_time: 0,
        last_access_time: 0,
        last_write_time: 0,
        change_time: 0,
        attributes: 0,
        nlink: 1,
        is_dir: false,
        stream: 0,
    }
}

fn admission(conn: u64, open: u64, user: &Arc<str>) -> Admission {
    Admission {
        conn,
        open,
        access: AccessMask(AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA),
        share: ShareAccess(ShareAccess::READ | ShareAccess::WRITE),
        requested: RequestedCaching::Oplock(OplockLevel::Batch),
        truncating: false,
        delete_on_close: false,
        policy: CreatePolicy::default(),
        contention_limit: 0,
        client: [0; 16],
        user: user.clone(),
    }
}

/// Opens `ino` on `conn` through the adapter, recording its path as CREATE does.
fn open(locks: &Locking, conn: u64, ino: u64, user: &Arc<str>) -> u64 {
    let id = NEXT_OPEN.fetch_add(1, Ordering::Relaxed);
    let outcome = locks.admit_open(&info(ino), admission(conn, id, user));
    assert!(matches!(outcome, CreateOutcome::Granted { .. }), "open of file {ino}: {outcome:?}");
    locks.set_path(id, 0, &format!("f{ino}"));
    id
}

fn connect(locks: &Locking, conn: u64) {
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 40000 + conn as u16));
    locks.register_connection(conn, peer, Arc::new(Discard));
}

/// A lock adapter with `others` files open (one open each, on connection 1).
fn world(others: u64) -> Locking {
    let locks = Locking::new(Duration::from_secs(35), 64, vec!["bench".into()], Arc::new(SystemClock));
    connect(&locks, 1);
    let user: Arc<str> = Arc::from("bench");
    for i in 0..others {
        open(&locks, 1, 1_000_000 + i, &user);
    }
    locks
}

#[derive(Clone, Copy)]
enum Case {
    /// Open a file (batch oplock) and close it.
    OpenClose,
    /// Lock a range (exclusive, fail immediately) of an open file and unlock it.
    LockUnlock,
}

/// Operations per second of `case` by `threads` threads at once, each on files of its
/// own: the best of `rounds` rounds of `round`, summed over the threads.
fn rate(locks: &Locking, case: Case, threads: u64, rounds: u32, round: Duration) -> f64 {
    let mut best = 0f64;
    for _ in 0..rounds {
        let barrier = Barrier::new(threads as usize);
        let total: f64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        let conn = 10 + t;
                        let user: Arc<str> = Arc::from("bench");
                        // Each thread's files: 16 of them, far from the background ones.
                        let base = 10_000_000 + t * 1_000;
                        let held = match case {
                            Case::LockUnlock => (0..16).map(|i| open(locks, conn, base + i, &user)).collect(),
                            Case::OpenClose => Vec::new(),
                        };
                        barrier.wait();
                        let start = Instant::now();
                        let mut n = 0u64;
                        while start.elapsed() < round {
                            for i in 0..16u64 {
                                match case {
                                    Case::OpenClose => {
                                        let id = open(locks, conn, base + i, &user);
                                        locks.close_id(id);
                                    }
                                    Case::LockUnlock => {
                                        let o = held[i as usize];
                                        let r = NEXT_REQUEST.fetch_add(1, Ordering::Relaxed);
                                        let got = locks.lock_range(o, r, &[LockElement::lock(0, 8, true, true)]);
                                        assert_eq!(got, LockOutcome::Done(NtStatus::SUCCESS));
                                        let r = NEXT_REQUEST.fetch_add(1, Ordering::Relaxed);
                                        locks.lock_range(o, r, &[LockElement::unlock(0, 8)]);
                                    }
                                }
                            }
                            n += 16;
                        }
                        let secs = start.elapsed().as_secs_f64();
                        for o in held {
                            locks.close_id(o);
                        }
                        n as f64 / secs
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("bench thread")).sum()
        });
        best = best.max(total);
    }
    best
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "unknown".into(), |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, round) = if quick { (2, Duration::from_millis(50)) } else { (5, Duration::from_millis(200)) };
    println!("lock adapter (Locking), operations/s summed over the threads, each thread on files of its own");
    println!("(best of {rounds} rounds of {round:?}; load average before: {})", load_average());
    println!("{:<28} {:>14} {:>14} {:>14} {:>14}", "other open files", "1, 1 thread", "1, 2 threads", "100000, 1 thr", "100000, 2 thr");
    let worlds = [world(1), world(100_000)];
    for (name, case) in [("open+close (batch oplock)", Case::OpenClose), ("lock+unlock (exclusive)", Case::LockUnlock)] {
        let mut cells = Vec::new();
        for w in &worlds {
            for threads in [1, 2] {
                cells.push(rate(w, case, threads, rounds, round));
            }
        }
        println!("{name:<28} {:>14.0} {:>14.0} {:>14.0} {:>14.0}", cells[0], cells[1], cells[2], cells[3]);
        println!(
            "{:<28} {:>14} {:>14.2} {:>14} {:>14.2}",
            "  2 threads / 1 thread",
            "",
            cells[1] / cells[0],
            "",
            cells[3] / cells[2]
        );
    }
    println!("load average after: {}", load_average());
}
