//! The property test: random sequences of requests from several clients on a few files,
//! with faults (frames delayed, reordered, lost, duplicated; connections killed; timers
//! expired), checking the world's invariants (`testing::invariants`) after every step,
//! and at the end that every request was answered once and nothing outlived its
//! connection. Each sequence comes from a seed; a failure prints it, and
//! `OPPORTUNE_WORLD_SEED=<n>` replays that one seed exactly; `OPPORTUNE_WORLD_SEEDS=<n>`
//! runs n seeds instead of the default 200, `OPPORTUNE_WORLD_ACTIONS=<n>` n actions per
//! sequence instead of 60.

use opportune_engine::testing::build::{self, lease, lock_flags, oplock, share, Create, Fid, RELATED_FID};
use opportune_engine::testing::{invariants, Msg, Notice, Rng, WireFault, World, SMB210, SMB302};
use opportune_types::NtStatus;
use opportune_wire::header::Command;

const FILES: [&str; 3] = ["p0.txt", "p1.txt", "p2.txt"];
const SEEDS: u64 = 200;
const ACTIONS: usize = 60;

/// What the driver remembers of one client.
#[derive(Default)]
struct Seen {
    /// CREATEs sent whose FileId is not known yet.
    creates: Vec<u64>,
    /// Opens it holds (as far as it knows).
    fids: Vec<Fid>,
    /// The share root, opened for CHANGE_NOTIFY.
    root: Option<Fid>,
}

struct Run {
    w: World,
    rng: Rng,
    seen: Vec<Seen>,
}

impl Run {
    fn new(seed: u64) -> Run {
        let mut w = World::new(&format!("prop-{seed}"));
        let mut rng = Rng::new(seed);
        let mut seen = Vec::new();
        for i in 0..3 {
            let dialect = if i == 2 { SMB302 } else { SMB210 };
            w.connect_as(dialect, rng.below(2));
            seen.push(Seen::default());
        }
        Run { w, rng, seen }
    }

    /// Learns the FileIds of CREATEs that completed.
    fn harvest(&mut self) {
        for (c, s) in self.seen.iter_mut().enumerate() {
            let cl = &self.w.clients[c];
            s.creates.retain(|mid| match cl.final_of(*mid) {
                Some(r) => {
                    if r.status == NtStatus::SUCCESS {
                        s.fids.push(r.file_id());
                    }
                    false
                }
                None => true,
            });
        }
    }

    fn live(&mut self) -> Option<usize> {
        let alive: Vec<usize> = (0..self.w.clients.len()).filter(|c| self.w.clients[*c].alive).collect();
        if alive.is_empty() {
            return None;
        }
        Some(alive[self.rng.below(alive.len())])
    }

    fn fid(&mut self, c: usize) -> Option<Fid> {
        let n = self.seen[c].fids.len();
        (n > 0).then(|| self.seen[c].fids[self.rng.below(n)])
    }

    fn send(&mut self, c: usize, msgs: Vec<Msg>) -> Option<Vec<u64>> {
        let need: i64 = msgs.iter().map(|m| i64::from(m.charge.max(1))).sum();
        if self.w.clients[c].credits < need {
            self.w.trace.push(format!("c{c} has no credits"));
            return None;
        }
        Some(self.w.send(c, msgs))
    }

    fn random_create(&mut self, c: usize) -> Create {
        let name = FILES[self.rng.below(FILES.len())];
        let mut req = Create::file(name);
        req = match self.rng.below(5) {
            0 => req,
            1 => req.oplock(oplock::LEVEL_II),
            2 => req.oplock(oplock::BATCH),
            3 => req.lease([c as u8 + 1; 16], lease::R | lease::W | lease::H),
            _ if self.w.clients[c].dialect >= 0x0300 => {
                let mut guid = [0u8; 16];
                guid[0] = c as u8;
                guid[1..9].copy_from_slice(&self.rng.next_u64().to_le_bytes());
                req.durable_v2(60_000, guid)
            }
            _ => req.oplock(oplock::EXCLUSIVE),
        };
        if self.rng.chance(15) {
            req = req.share(if self.rng.chance(50) { share::NONE } else { share::READ });
        }
        req
    }

    /// One random action.
    fn act(&mut self) {
        let Some(c) = self.live() else { return };
        match self.rng.below(100) {
            0..=19 => {
                let req = self.random_create(c);
                if let Some(m) = self.send(c, vec![Msg::new(Command::Create, req.body())]) {
                    self.seen[c].creates.push(m[0]);
                }
            }
            20..=29 => {
                if let Some(f) = self.fid(c) {
                    self.seen[c].fids.retain(|x| *x != f);
                    self.send(c, vec![Msg::new(Command::Close, build::close(f))]);
                }
            }
            30..=37 => {
                if let Some(f) = self.fid(c) {
                    let off = self.rng.below(64) as u64;
                    self.send(c, vec![Msg::new(Command::Write, build::write(f, off, b"property"))]);
                }
            }
            38..=43 => {
                if let Some(f) = self.fid(c) {
                    let off = self.rng.below(64) as u64;
                    self.send(c, vec![Msg::new(Command::Read, build::read(f, off, 16))]);
                }
            }
            44..=51 => {
                if let Some(f) = self.fid(c) {
                    let off = (self.rng.below(4) * 8) as u64;
                    let flags = match self.rng.below(3) {
                        0 => lock_flags::EXCLUSIVE,
                        1 => lock_flags::EXCLUSIVE | lock_flags::FAIL_IMMEDIATELY,
                        _ => lock_flags::SHARED | lock_flags::FAIL_IMMEDIATELY,
                    };
                    self.send(c, vec![Msg::new(Command::Lock, build::lock(f, &[(off, 8, flags)]))]);
                }
            }
            52..=55 => {
                if let Some(f) = self.fid(c) {
                    let off = (self.rng.below(4) * 8) as u64;
                    self.send(c, vec![Msg::new(Command::Lock, build::lock(f, &[(off, 8, lock_flags::UNLOCK)]))]);
                }
            }
            56..=67 => {
                if let Some(n) = self.w.clients[c].take_notice() {
                    let body = match n {
                        Notice::Oplock { fid, level } => build::oplock_ack(fid, level),
                        Notice::Lease { key, to, .. } => build::lease_ack(key, to),
                    };
                    self.send(c, vec![Msg::new(Command::OplockBreak, body)]);
                }
            }
            68..=71 => {
                let waiting: Vec<u64> = {
                    let cl = &self.w.clients[c];
                    cl.requests.iter().filter(|(_, t)| !t.interim.is_empty() && t.finals.is_empty()).map(|(m, _)| *m).collect()
                };
                if !waiting.is_empty() {
                    let mid = waiting[self.rng.below(waiting.len())];
                    self.w.trace.push(format!("c{c} cancels {mid}"));
                    self.w.clients[c].send_cancel(mid);
                }
            }
            72..=75 => match self.seen[c].root {
                None => {
                    let req = Create::dir("").disposition(build::disposition::OPEN);
                    if let Some(m) = self.send(c, vec![Msg::new(Command::Create, req.body())]) {
                        self.w.run();
                        self.seen[c].root = self.w.clients[c].fid_of(m[0]);
                    }
                }
                Some(root) => {
                    // One watch at a time per handle: which of several stacked watches a
                    // change completes is unspecified in the engine (hash order), and a
                    // seed must replay exactly. (`world_notify` tests stacked watches.)
                    let watching = self.w.clients[c]
                        .requests
                        .values()
                        .any(|t| t.command == Command::ChangeNotify as u16 && t.finals.is_empty() && !t.dropped);
                    if !watching {
                        self.send(c, vec![Msg::new(Command::ChangeNotify, build::change_notify(root, 0x17, true))]);
                    }
                }
            },
            76..=80 => {
                let req = self.random_create(c);
                self.send(
                    c,
                    vec![
                        Msg::new(Command::Create, req.body()),
                        Msg::new(Command::Write, build::write(RELATED_FID, 0, b"chain")).related(),
                        Msg::new(Command::Close, build::close(RELATED_FID)).related(),
                    ],
                );
            }
            81..=83 => {
                self.send(c, vec![Msg::new(Command::Echo, build::empty4())]);
            }
            84..=91 => {
                let f = match self.rng.below(10) {
                    0..=3 => WireFault::Delay(1 + self.rng.below(4) as u32),
                    4..=6 => WireFault::Reorder,
                    7..=8 => WireFault::Drop,
                    _ => WireFault::Duplicate,
                };
                self.w.fault(c, f);
            }
            92..=93 => {
                self.w.kill(c);
                let n = self.w.connect_as(SMB210, self.rng.below(2));
                assert_eq!(n, self.seen.len());
                self.seen.push(Seen::default());
            }
            94..=95 => {
                let secs = [0, 1, 5, 36, 120][self.rng.below(5)];
                self.w.advance(std::time::Duration::from_secs(secs));
            }
            _ => {
                // Let the world run a while.
                for _ in 0..self.rng.below(20) {
                    self.w.step();
                }
            }
        }
    }

    fn check(&self, what: &str) -> Result<(), String> {
        invariants::check(&self.w).map_err(|e| format!("{what}: {e}"))
    }

    /// The whole sequence: actions with a few world steps between them, then the end:
    /// everything still waiting is cancelled, every request must have its final
    /// response, and once every connection is killed nothing may be left.
    fn play(&mut self) -> Result<(), String> {
        self.check("after logon")?;
        let actions = std::env::var("OPPORTUNE_WORLD_ACTIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(ACTIONS);
        for i in 0..actions {
            self.act();
            self.check(&format!("after action {i}"))?;
            for _ in 0..self.rng.below(6) {
                if !self.w.step() {
                    break;
                }
                self.check(&format!("in the steps after action {i}"))?;
            }
            self.harvest();
        }
        self.w.clear_faults();
        self.w.run();
        invariants::settled(&self.w).map_err(|e| format!("settled: {e}"))?;
        for c in 0..self.w.clients.len() {
            if !self.w.clients[c].alive {
                continue;
            }
            let waiting: Vec<u64> = {
                let cl = &self.w.clients[c];
                cl.requests.iter().filter(|(_, t)| !t.interim.is_empty() && t.finals.is_empty()).map(|(m, _)| *m).collect()
            };
            for mid in waiting {
                self.w.clients[c].send_cancel(mid);
            }
        }
        self.w.run();
        for cl in self.w.clients.iter().filter(|c| c.alive) {
            if let Some(mid) = cl.unanswered().first() {
                return Err(format!("client {}: request {mid} has no final response after cancelling", cl.index));
            }
        }
        for c in 0..self.w.clients.len() {
            self.w.kill(c);
        }
        self.w.run();
        invariants::all_gone(&self.w).map_err(|e| format!("all gone: {e}"))
    }
}

/// Runs one seed: the trace, or the failure with the trace's tail.
fn run_seed(seed: u64) -> Result<Vec<String>, String> {
    let mut r = Run::new(seed);
    match r.play() {
        Ok(()) => Ok(std::mem::take(&mut r.w.trace)),
        Err(e) => {
            let t = &r.w.trace;
            let tail = t[t.len().saturating_sub(60)..].join("\n  ");
            Err(format!("seed {seed}: {e}\n  last of the trace:\n  {tail}\n(replay: OPPORTUNE_WORLD_SEED={seed})"))
        }
    }
}

/// Every invariant of `testing::invariants` holds on random multi-client sequences with
/// faults (MS-SMB2 3.3.4.1, 3.3.4.2, 3.3.1.2, 3.3.5.2.3, 3.3.7.1).
#[test]
fn random_sequences_keep_the_invariants() {
    let seeds: Vec<u64> = match std::env::var("OPPORTUNE_WORLD_SEED") {
        Ok(s) => vec![s.parse().expect("OPPORTUNE_WORLD_SEED is a number")],
        Err(_) => {
            let n = std::env::var("OPPORTUNE_WORLD_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(SEEDS);
            (0..n).map(|i| 0x5EED_0000 + i).collect()
        }
    };
    for seed in seeds {
        if let Err(e) = run_seed(seed) {
            panic!("{e}");
        }
    }
}

/// A seed replays exactly: the same seed gives the same trace.
#[test]
fn a_seed_replays_exactly() {
    for seed in [0x5EED_0003u64, 0x5EED_0042, 0x5EED_0099] {
        let a = run_seed(seed).expect("passes");
        let b = run_seed(seed).expect("passes");
        assert!(a.len() > 60, "seed {seed}: a real sequence ({} trace lines)", a.len());
        assert_eq!(a, b, "seed {seed} replays differently");
    }
}
