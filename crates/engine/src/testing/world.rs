//! The world: one [`ServerState`] on a share ([`WorldShare`]: the in-memory double by
//! default, a temporary directory on request), N [`Client`]s whose frames it
//! delivers one at a time, the lock layer's events routed to their connections as the
//! tokio driver routes them (`crates/server/src/connection.rs`), and the faults the tests
//! inject on the way ([`WireFault`], [`World::kill`], [`World::expire_timers`]).
//! Everything runs on the test's thread in a fixed order, so a run is a function of what
//! the test did (and of the seed, for the property test).

use super::client::{Client, InFlight, Msg, Queue};
use super::world_share::{Backend, WorldShare};
use crate::conn_state::ConnState;
use crate::dispatch::{process_frame, FrameResult};
use crate::events::{self, Output};
use crate::locking::ConnEvent;
use crate::server::ServerState;
use crate::{ServerConfig, ShareCaching, ShareConfig, UserConfig};
use std::net::SocketAddr;
use crate::clock::{Clock, ManualClock};
use crate::entropy::SeededEntropy;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The users every world knows (name, password).
pub const USERS: [(&str, &str); 2] = [("alice", "alice-pw"), ("bob", "bob-pw")];

/// The share every world serves.
pub const SHARE: &str = "share";

/// A fault on a client's next frame, applied when it reaches the head of its wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireFault {
    /// Held back for this many delivery steps (the frames behind it wait too, as on TCP;
    /// other clients' frames go first).
    Delay(u32),
    /// Lost (the client charged its credits; the server never sees it).
    Drop,
    /// Overtaken by the client's next frame.
    Reorder,
    /// Delivered twice.
    Duplicate,
}

/// A break notification held back by `oplock_break_wait` (events::Output::BreakLater).
struct Later {
    client: usize,
    due: Instant,
    msg: Vec<u8>,
}

pub struct World {
    pub server: Arc<ServerState>,
    /// The server's clock: virtual time, moved only by [`World::advance`].
    pub clock: Arc<ManualClock>,
    pub clients: Vec<Client>,
    pub share: WorldShare,
    /// Faults waiting for a client's next frame.
    faults: Vec<Vec<WireFault>>,
    later: Vec<Later>,
    /// What happened, in order, without the server's random ids: for replay comparisons.
    pub trace: Vec<String>,
    /// Most delivery steps one [`World::run`] may take before the world is declared stuck.
    pub step_limit: usize,
}

/// The world's configuration on `root`: one share, the [`USERS`], kernel oplocks off
/// (Linux leases need the driver's signal set-up), everything else as the server's
/// defaults.
pub fn config(root: &std::path::Path) -> ServerConfig {
    let mut c = ServerConfig::new(SocketAddr::from(([127, 0, 0, 1], 445)));
    c.kernel_oplocks = false;
    // Interim responses go out at once unless a test asks for the driver's delay
    // (`interim_delay`): virtual time stands still while the world runs.
    c.interim_delay = Duration::ZERO;
    c.users = USERS
        .iter()
        .map(|(n, p)| UserConfig { name: n.to_string(), nt_hash: opportune_auth::NtHash::from_password(p), rid: None, unix: None })
        .collect();
    c.shares.push(ShareConfig {
        name: SHARE.to_string(),
        comment: String::new(),
        path: root.to_path_buf(),
        read_only: false,
        guest_ok: false,
        case_sensitive: false,
        caching: ShareCaching { kernel_oplocks: false, ..ShareCaching::default() },
        encryption: crate::Encryption::Off,
        space: Default::default(),
        access: Default::default(),
        security: Default::default(),
        unix_identity: false,
        quota: Default::default(),
    });
    c
}

impl World {
    /// A world with the default [`config`].
    pub fn new(label: &str) -> World {
        World::with_config(label, |_| {})
    }

    /// A world whose configuration `adjust` changes first; its randomness is seeded
    /// from the label.
    pub fn with_config(label: &str, adjust: impl FnOnce(&mut ServerConfig)) -> World {
        // FNV-1a of the label (in `World::on`): each test's world draws its own,
        // repeatable numbers.
        World::on(label, Backend::default(), adjust)
    }

    /// A world on virtual time ([`ManualClock`]) whose server draws its ids, GUIDs and
    /// challenges from `seed` ([`SeededEntropy`]): the same seed, the same run.
    pub fn seeded(label: &str, seed: u64, adjust: impl FnOnce(&mut ServerConfig)) -> World {
        World::seeded_on(label, seed, Backend::default(), adjust)
    }

    /// A world whose share is a temporary directory: for what needs a host (kernel
    /// leases, host watches, host locks, the files as local programs see them).
    pub fn on_disk(label: &str, adjust: impl FnOnce(&mut ServerConfig)) -> World {
        World::on(label, Backend::TempDir, adjust)
    }

    /// A world on `backend`, its randomness seeded from the label.
    pub fn on(label: &str, backend: Backend, adjust: impl FnOnce(&mut ServerConfig)) -> World {
        let seed = label.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3));
        World::seeded_on(label, seed, backend, adjust)
    }

    /// [`World::seeded`] on `backend`.
    pub fn seeded_on(label: &str, seed: u64, backend: Backend, adjust: impl FnOnce(&mut ServerConfig)) -> World {
        let dir = match backend {
            Backend::TempDir => Some(super::share_dir::TempShare::new(label)),
            Backend::Memory(_) => None,
        };
        let placeholder = std::path::PathBuf::from(format!("/opportune-memory/{label}"));
        let mut c = config(dir.as_ref().map_or(placeholder.as_path(), |d| d.path()));
        adjust(&mut c);
        let case_sensitive = c.shares.iter().find(|s| s.name == SHARE).is_some_and(|s| s.case_sensitive);
        let share = match dir {
            Some(d) => WorldShare::on_dir(d, case_sensitive),
            None => WorldShare::new(label, backend, case_sensitive),
        };
        let clock = Arc::new(ManualClock::new());
        if let Some(m) = share.memory() {
            // The file times follow the world's virtual wall clock: a run is repeatable.
            let wall = clock.clone();
            m.set_clock(Arc::new(move || wall.wall()));
        }
        let given = share.for_server();
        let fs = move |s: &crate::ShareConfig| if s.name == SHARE { given.clone() } else { None };
        let server = ServerState::with_file_systems(c, clock.clone(), Arc::new(SeededEntropy::new(seed)), &fs).expect("world server");
        World {
            server,
            clock,
            clients: Vec::new(),
            share,
            faults: Vec::new(),
            later: Vec::new(),
            trace: Vec::new(),
            step_limit: 100_000,
        }
    }

    /// A new client: a connection registered with the lock layer, nothing sent yet.
    pub fn add_client(&mut self) -> usize {
        let index = self.clients.len();
        let id = self.server.next_id();
        let peer = SocketAddr::from(([127, 0, 0, 1], 40_000 + index as u16));
        let queue = Arc::new(Queue::default());
        self.server.locks.register_connection(id, peer, queue.clone());
        let mut conn = ConnState::new(id, peer);
        conn.address_opens = self.server.fds.address(peer.ip());
        self.clients.push(Client::new(index, conn, queue));
        self.faults.push(Vec::new());
        index
    }

    pub fn client(&mut self, c: usize) -> &mut Client {
        &mut self.clients[c]
    }

    /// Arms `fault` for client `c`'s next frame to reach the head of its wire.
    pub fn fault(&mut self, c: usize, fault: WireFault) {
        self.faults[c].push(fault);
    }

    /// Disarms the faults not applied yet.
    pub fn clear_faults(&mut self) {
        self.faults.iter_mut().for_each(Vec::clear);
    }

    /// Sends `msgs` as one frame from `c` (not yet delivered: see [`World::run`]).
    pub fn send(&mut self, c: usize, msgs: Vec<Msg>) -> Vec<u64> {
        let mids = self.clients[c].send(msgs);
        self.trace.push(format!("c{c} sends {mids:?}"));
        mids
    }

    /// Delivers frames and events until nothing moves.
    pub fn run(&mut self) {
        let mut steps = 0;
        while self.step() {
            steps += 1;
            assert!(steps < self.step_limit, "the world does not settle");
        }
    }

    /// One step: a client's queued events, else a client's next frame, else a held
    /// frame's wait shortens. False when nothing is left to do.
    pub fn step(&mut self) -> bool {
        for c in 0..self.clients.len() {
            if self.clients[c].alive && !self.clients[c].queue.is_empty() {
                let evs = self.clients[c].queue.take_all();
                for ev in evs {
                    self.event(c, ev);
                }
                return true;
            }
        }
        for c in 0..self.clients.len() {
            if !self.clients[c].alive {
                if !self.clients[c].wire.is_empty() {
                    self.clients[c].wire.clear();
                    return true;
                }
                continue;
            }
            let Some(front) = self.clients[c].wire.front() else { continue };
            if front.hold > 0 {
                continue;
            }
            if !self.faults[c].is_empty() {
                let f = self.faults[c].remove(0);
                self.apply(c, f);
                return true;
            }
            let f = self.clients[c].wire.pop_front().expect("front");
            self.deliver(c, f);
            return true;
        }
        let mut held = false;
        for cl in &mut self.clients {
            if let Some(f) = cl.wire.front_mut().filter(|f| f.hold > 0) {
                f.hold -= 1;
                held = true;
            }
        }
        held
    }

    fn apply(&mut self, c: usize, f: WireFault) {
        self.trace.push(format!("fault c{c} {f:?}"));
        let wire = &mut self.clients[c].wire;
        match f {
            WireFault::Delay(n) => {
                if let Some(front) = wire.front_mut() {
                    front.hold = n;
                }
            }
            WireFault::Drop => {
                if let Some(gone) = wire.pop_front() {
                    for (mid, _) in gone.charged {
                        if let Some(t) = self.clients[c].requests.get_mut(&mid) {
                            t.dropped = true;
                        }
                    }
                }
            }
            WireFault::Reorder => {
                if wire.len() >= 2 {
                    wire.swap(0, 1);
                }
            }
            WireFault::Duplicate => {
                if let Some(front) = wire.front().cloned() {
                    wire.insert(1, InFlight { copy: true, ..front });
                }
            }
        }
    }

    /// One frame reaches the server: processed as the driver's `on_frame` does (breaks it
    /// caused for this connection before its response, other events after).
    fn deliver(&mut self, c: usize, f: InFlight) {
        for (mid, _) in &f.charged {
            if let Some(t) = self.clients[c].requests.get_mut(mid) {
                t.delivered += 1;
            }
        }
        let server = self.server.clone();
        let client = &mut self.clients[c];
        let result = match process_frame(&server, &mut client.conn, &f.frame, false) {
            Ok(FrameResult::NeedMemory(_)) => process_frame(&server, &mut client.conn, &f.frame, true),
            other => other,
        };
        client.conn.answer_delay = None;
        let mut later = Vec::new();
        for ev in client.queue.take_all() {
            if events::is_break(&ev) {
                self.event(c, ev);
            } else {
                later.push(ev);
            }
        }
        match result {
            Err(fault) => {
                self.trace.push(format!("c{c} frame ends the connection: {fault}"));
                self.kill_because(c, format!("{fault}"));
                return;
            }
            Ok(FrameResult::Send(bytes)) => {
                self.note_frame(c, &bytes);
                self.clients[c].receive(&bytes);
            }
            Ok(FrameResult::Nothing) => self.trace.push(format!("c{c} frame: no response")),
            Ok(FrameResult::NeedMemory(_)) => {
                self.kill_because(c, "send memory wanted again once reserved".into());
                return;
            }
        }
        for ev in later {
            self.event(c, ev);
        }
        if self.clients[c].alive && self.clients[c].conn.closing {
            self.kill_because(c, "closed by server".into());
        }
    }

    fn note_frame(&mut self, c: usize, bytes: &[u8]) {
        if let Ok(msgs) = super::message::decode_frame(bytes) {
            for m in msgs {
                let line = match m {
                    super::message::Received::Response(r) => format!(
                        "c{c} <- cmd {:#x} mid {} {:?}{} credits {}",
                        r.command,
                        r.message_id,
                        r.status,
                        if r.is_interim() { " interim" } else { "" },
                        r.credits
                    ),
                    super::message::Received::Notice(n) => match n {
                        super::message::Notice::Oplock { level, .. } => format!("c{c} <- oplock break to {level}"),
                        super::message::Notice::Lease { from, to, .. } => format!("c{c} <- lease break {from}->{to}"),
                    },
                };
                self.trace.push(line);
            }
        }
    }

    /// One event for client `c`'s connection, carried out as the driver does.
    fn event(&mut self, c: usize, ev: ConnEvent) {
        if !self.clients[c].alive {
            return;
        }
        let server = self.server.clone();
        let mut todo = Vec::new();
        let decided = events::handle(&server, &mut self.clients[c].conn, ev, &mut todo);
        for o in todo {
            match o {
                Output::Frame(msg) | Output::Break(msg) => {
                    self.note_frame(c, &msg);
                    self.clients[c].receive(&msg);
                }
                Output::BreakLater { wait, msg } => {
                    self.trace.push(format!("c{c} break held {wait:?}"));
                    self.later.push(Later { client: c, due: self.clock.now() + wait, msg });
                }
                Output::Probe(why) => self.trace.push(format!("c{c} probe: {why}")),
                Output::Figures(reply) => (reply.0)(events::figures(&self.clients[c].conn, None, "world")),
            }
        }
        if let Err(fault) = decided {
            self.kill_because(c, format!("{fault}"));
        } else if self.clients[c].conn.closing {
            self.kill_because(c, "closed by server".into());
        }
    }

    /// Kills client `c`'s connection (the transport is gone): what the driver does when
    /// its connection loop ends (MS-SMB2 3.3.7.1).
    pub fn kill(&mut self, c: usize) {
        self.kill_because(c, "killed".into());
    }

    fn kill_because(&mut self, c: usize, why: String) {
        if !self.clients[c].alive {
            return;
        }
        self.trace.push(format!("c{c} ends: {why}"));
        let server = self.server.clone();
        let cl = &mut self.clients[c];
        cl.alive = false;
        cl.ended = Some(why);
        server.locks.connection_ending(cl.conn.id, None);
        crate::connection_end::end(&server, &mut cl.conn);
        cl.queue.close();
        cl.wire.clear();
    }

    /// Fires the timers that are due now: held break notifications go out, and the
    /// lock layer's deadlines run ([`crate::locking::Locking::tick`]: break timeouts,
    /// durable handle expiry); then the world runs. Returns the next deadline.
    pub fn expire_timers(&mut self) -> Option<Instant> {
        self.trace.push("timers".into());
        let now = self.clock.now();
        let (due, kept): (Vec<Later>, Vec<Later>) = std::mem::take(&mut self.later).into_iter().partition(|l| l.due <= now);
        self.later = kept;
        for l in due {
            self.server.locks.send_to(self.clients[l.client].conn.id, ConnEvent::Send(l.msg));
        }
        for c in 0..self.clients.len() {
            if !self.clients[c].alive {
                continue;
            }
            for frame in self.clients[c].conn.pending.take_due_interims(now) {
                self.note_frame(c, &frame);
                self.clients[c].receive(&frame);
            }
        }
        let next = self.server.locks.tick();
        self.run();
        let held = self.later.iter().map(|l| l.due).min();
        let interims = self.clients.iter().filter(|c| c.alive).filter_map(|c| c.conn.pending.next_interim_due()).min();
        [next, held, interims].into_iter().flatten().min()
    }

    /// Moves virtual time on by `d` and fires what fell due.
    pub fn advance(&mut self, d: Duration) -> Option<Instant> {
        self.trace.push(format!("advance {d:?}"));
        self.clock.advance(d);
        self.expire_timers()
    }

    /// The break notifications held back by `oplock_break_wait`.
    pub fn held_breaks(&self) -> usize {
        self.later.len()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Connections end (and their opens close) before the share directory goes.
        for c in 0..self.clients.len() {
            self.kill_because(c, "world dropped".into());
        }
    }
}
