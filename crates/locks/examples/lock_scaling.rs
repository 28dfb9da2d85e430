//! Lock-core scaling benchmark (a measurement, not a test): rates of byte-range lock,
//! unlock and checked write (`check_io`) with 1, 1,000 and 100,000 locks held on the
//! file, and of open/close with 1 and 100,000 other open files, all through the
//! [`LockCore`] API the server calls. Each rate is printed with its ratio to the
//! smallest case; a structure that scales keeps the ratio near 1 (the goal is < 2).
//!
//!     cargo run --release -p opportune-locks --example lock_scaling [-- --quick]
//!
//! `-- --only locks N` or `-- --only opens N` measures just that case (N locks held,
//! N other files) for longer, to run under `perf record` or `perf stat`.
//!
//! Wall-clock rates on a shared machine are noisy: each cell is the best of several
//! timed rounds of at least `ROUND` each, which filters out time stolen by other work.

use opportune_locks::*;
use opportune_types::{AccessMask, NtStatus, ShareAccess};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The file the byte-range cases lock.
const FILE: FileKey = FileKey { device: 1, inode: 1 };
/// Opens that hold the background locks, round robin.
const HOLDERS: u64 = 8;
/// The open whose requests are measured.
const PROBE: OpenId = OpenId(1000);
/// Locks and unlocks are timed in batches of this many (the held count varies by it).
const BATCH: u64 = 16;

fn create(conn: u64, open: u64, file: FileKey, requested: RequestedCaching) -> CreateRequest {
    CreateRequest {
        conn: ConnId(conn),
        open: OpenId(open),
        file,
        access: AccessMask(AccessMask::FILE_ALL_ACCESS),
        share: ShareAccess(ShareAccess::ALL),
        requested,
        is_directory: false,
        truncating: false,
        delete_on_close: false,
        policy: CreatePolicy::default(),
        base: None,
    }
}

fn granted(o: CreateOutcome) {
    assert!(matches!(o, CreateOutcome::Granted { .. }), "benchmark setup: create refused: {o:?}");
}

/// Best rates (operations per second) over `rounds` rounds of `K` timed phases; `run`
/// performs `n` operations in each phase and returns `n` and each phase's time (setup
/// excluded). A round lasts until its phases together took `round`.
fn best_rates<const K: usize>(rounds: usize, round: Duration, mut run: impl FnMut() -> (u64, [Duration; K])) -> [f64; K] {
    let mut best = [0.0f64; K];
    for _ in 0..rounds {
        let mut ops = 0u64;
        let mut took = [Duration::ZERO; K];
        while took.iter().sum::<Duration>() < round {
            let (n, t) = run();
            ops += n;
            for (a, b) in took.iter_mut().zip(t) {
                *a += b;
            }
        }
        for (b, t) in best.iter_mut().zip(took) {
            *b = b.max(ops as f64 / t.as_secs_f64());
        }
    }
    best
}

/// A small deterministic generator (xorshift64*): which gap to probe next.
struct Gen(u64);
impl Gen {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// A core with `held` locks on FILE: lock i covers [16i, 16i+8), exclusive for even i
/// and shared for odd i, owned by the holders in turn; the probe open holds none.
fn core_with_locks(held: u64) -> LockCore {
    let t0 = Instant::now();
    let mut core = LockCore::new(Config::default());
    for o in 1..=HOLDERS {
        granted(core.handle_create(t0, create(1, o, FILE, RequestedCaching::None)));
    }
    granted(core.handle_create(t0, create(2, PROBE.0, FILE, RequestedCaching::None)));
    for i in 0..held {
        let owner = OpenId(1 + i % HOLDERS);
        let el = LockElement::lock(16 * i, 8, i % 2 == 0, true);
        assert_eq!(core.handle_lock(t0, owner, RequestId(i), &[el]), LockOutcome::Done(NtStatus::SUCCESS));
    }
    core
}

struct Rates {
    lock: f64,
    unlock: f64,
    check_write: f64,
}

/// Lock and unlock: the probe takes exclusive locks in gaps between held locks
/// ([16j+10, 16j+14): no conflict, so every lock is granted), a batch at a time, then
/// releases them. Checked writes probe the same gaps.
fn range_rates(held: u64, rounds: usize, round: Duration) -> Rates {
    let mut core = core_with_locks(held);
    let t0 = Instant::now();
    let gaps = held.max(BATCH);
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let [lock, unlock] = best_rates(rounds, round, || {
        let first = g.next(gaps);
        let batch: [u64; BATCH as usize] = std::array::from_fn(|k| (first + k as u64) % gaps);
        let start = Instant::now();
        for &j in &batch {
            let el = LockElement::lock(16 * j + 10, 4, true, true);
            black_box(core.handle_lock(t0, PROBE, RequestId(u64::MAX), &[el]));
        }
        let locked = start.elapsed();
        let start = Instant::now();
        for &j in &batch {
            black_box(core.handle_lock(t0, PROBE, RequestId(u64::MAX), &[LockElement::unlock(16 * j + 10, 4)]));
        }
        (BATCH, [locked, start.elapsed()])
    });
    let [check_write] = best_rates(rounds, round, || {
        let start = Instant::now();
        for _ in 0..BATCH {
            let j = g.next(gaps);
            black_box(core.check_io(PROBE, 16 * j + 9, 6, true)).expect("gap is writable");
        }
        (BATCH, [start.elapsed()])
    });
    Rates { lock, unlock, check_write }
}

struct OpenRates {
    open: f64,
    close: f64,
}

/// Open and close of one more file while `others` other files are open: the measured
/// open asks for a batch oplock too.
fn open_close_rates(others: u64, rounds: usize, round: Duration) -> OpenRates {
    let t0 = Instant::now();
    let mut core = core_with_files(others);
    let mut next = others + 1;
    let [open, close] = best_rates(rounds, round, || {
        let ids: [u64; BATCH as usize] = std::array::from_fn(|k| next + k as u64);
        next += BATCH;
        let start = Instant::now();
        for &id in &ids {
            let file = FileKey { device: 3, inode: id };
            black_box(core.handle_create(t0, create(99, id, file, RequestedCaching::Oplock(OplockLevel::Batch))));
        }
        let opened = start.elapsed();
        let start = Instant::now();
        for &id in &ids {
            black_box(core.handle_close(t0, OpenId(id)));
        }
        let closed = start.elapsed();
        while core.poll_event().is_some() {}
        (BATCH, [opened, closed])
    });
    OpenRates { open, close }
}

/// A core with `others` open files, one open each, half of them with a batch oplock.
fn core_with_files(others: u64) -> LockCore {
    let t0 = Instant::now();
    let mut core = LockCore::new(Config::default());
    for i in 0..others {
        let caching = if i % 2 == 0 { RequestedCaching::Oplock(OplockLevel::Batch) } else { RequestedCaching::None };
        granted(core.handle_create(t0, create(1 + i % 64, 1 + i, FileKey { device: 2, inode: i }, caching)));
    }
    core
}

/// The server's timer task calls `poll_timeout` after every operation it wakes for.
fn poll_timeout_rate(others: u64, rounds: usize, round: Duration) -> f64 {
    let core = core_with_files(others);
    let [rate] = best_rates(rounds, round, || {
        let start = Instant::now();
        for _ in 0..BATCH {
            black_box(core.poll_timeout());
        }
        (BATCH, [start.elapsed()])
    });
    rate
}

/// Cancel of a request that waits on no file (an SMB2 CANCEL that arrives late).
fn cancel_rate(others: u64, rounds: usize, round: Duration) -> f64 {
    let mut core = core_with_files(others);
    let [rate] = best_rates(rounds, round, || {
        let start = Instant::now();
        for k in 0..BATCH {
            black_box(core.handle_cancel_lock(RequestId(k)));
        }
        (BATCH, [start.elapsed()])
    });
    rate
}

/// Nanoseconds per load when each load's address depends on the one before (as in a
/// walk down a tree), at random lines of a `bytes`-sized array: what a cache miss
/// costs on this machine at that working-set size.
fn dependent_load_ns(bytes: usize) -> f64 {
    const LINE: usize = 8; // u64s per 64-byte line
    let lines = bytes / 64;
    let mut next = vec![0u64; lines * LINE];
    // One random cycle through every line (Sattolo's algorithm).
    let mut order: Vec<usize> = (0..lines).collect();
    let mut g = Gen(0x1234_5678_9abc_def1);
    for i in (1..lines).rev() {
        let j = g.next(i as u64) as usize;
        order.swap(i, j);
    }
    for w in 0..lines {
        next[order[w] * LINE] = order[(w + 1) % lines] as u64;
    }
    let steps = 2_000_000u64;
    let mut best = f64::MAX;
    for _ in 0..3 {
        let mut at = 0usize;
        let start = Instant::now();
        for _ in 0..steps {
            at = next[at * LINE] as usize;
        }
        black_box(at);
        best = best.min(start.elapsed().as_secs_f64() * 1e9 / steps as f64);
    }
    best
}

fn row(name: &str, cells: &[f64]) {
    let base = cells[0];
    let mut line = format!("{name:<34}");
    for c in cells {
        line += &format!(" {:>12.0}", c);
    }
    line += "   ratio";
    for c in &cells[1..] {
        line += &format!(" {:>5.2}", base / c);
    }
    println!("{line}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--only") {
        let n: u64 = args.get(i + 2).and_then(|n| n.parse().ok()).expect("--only locks|opens N");
        let (rounds, round) = (10, Duration::from_millis(500));
        match args[i + 1].as_str() {
            "locks" => {
                let r = range_rates(n, rounds, round);
                println!("{n} locks held: lock {:.0}/s, unlock {:.0}/s, check_io write {:.0}/s", r.lock, r.unlock, r.check_write);
            }
            "opens" => {
                let r = open_close_rates(n, rounds, round);
                println!("{n} other files: open {:.0}/s, close {:.0}/s", r.open, r.close);
            }
            other => panic!("--only {other}: locks or opens"),
        }
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (rounds, round) = if quick { (2, Duration::from_millis(50)) } else { (5, Duration::from_millis(200)) };
    let held = [1u64, 1_000, 100_000];
    println!("byte-range locks on one file, operations/s (best of {rounds} rounds of {round:?}); ratio = rate(1) / rate(n)");
    println!("{:<34} {:>12} {:>12} {:>12}", "held locks", held[0], held[1], held[2]);
    let r: Vec<Rates> = held.iter().map(|&n| range_rates(n, rounds, round)).collect();
    row("lock (exclusive, granted)", &r.iter().map(|x| x.lock).collect::<Vec<_>>());
    row("unlock", &r.iter().map(|x| x.unlock).collect::<Vec<_>>());
    row("check_io write (no conflict)", &r.iter().map(|x| x.check_write).collect::<Vec<_>>());
    println!();
    let others = [1u64, 100_000];
    println!("opens through LockCore, operations/s; ratio = rate(1) / rate(n)");
    println!("{:<34} {:>12} {:>12}", "other open files", others[0], others[1]);
    let o: Vec<OpenRates> = others.iter().map(|&n| open_close_rates(n, rounds, round)).collect();
    row("open (handle_create, batch oplock)", &o.iter().map(|x| x.open).collect::<Vec<_>>());
    row("close (handle_close)", &o.iter().map(|x| x.close).collect::<Vec<_>>());
    let c: Vec<f64> = others.iter().map(|&n| cancel_rate(n, rounds, round)).collect();
    row("cancel_lock (nothing waits)", &c);
    let p: Vec<f64> = others.iter().map(|&n| poll_timeout_rate(n, rounds, round)).collect();
    row("poll_timeout (informational)", &p);
    println!();
    let sizes = [32usize << 10, 4 << 20, 16 << 20];
    println!("memory (informational): ns per dependent load at a random line of a working set of");
    println!("{:<34} {:>12} {:>12} {:>12}", "", "32 KiB", "4 MiB", "16 MiB");
    let ns: Vec<String> = sizes.iter().map(|&b| format!("{:>12.1}", dependent_load_ns(b))).collect();
    println!("{:<34} {}", "dependent load, ns", ns.join(" "));
}
