//! The server's side of the lock core, partitioned by file: [`SHARDS`] shards, each a
//! `LockCore` and the adapter state of the files that hash to it (by inode, so a file and
//! its named streams share one) behind a mutex of its own, fed with the current time. Two
//! operations on unrelated files take the same mutex only if their files share a shard.
//! Events are routed to the connection tasks they concern (breaks to the holder's
//! connection, completions to the waiting request's connection); the driver's timer calls
//! [`Locking::tick`] at the deadline it returned, and is woken (`Hooks::wake_timer`) when
//! a deadline may have moved earlier. Nothing awaits while a mutex is held.
//!
//! How a call finds its shard: by the file (`FileInfo`, `FileKey`) when it names one; by
//! the open→shard index (`OpenIndex`, itself split in parts, set when an open is admitted)
//! when it names an open; by the lease registry (`opportune_locks::LeaseRegistry`, which
//! also refuses a lease key used for a file of another shard) for a lease acknowledgment;
//! by the request→shard hints for a cancelled lock. What concerns every file (a
//! connection's end, the status report, a directory rename's check of the
//! opens below it, kernel break notes) visits the shards one at a time in index order,
//! and output merged across shards is sorted, so it does not depend on the partition.
//! Each shard's next deadline is recorded as its guard goes; an operation wakes the timer
//! only if it made a deadline earlier than the one the timer sleeps until, and the
//! timer's [`Locking::tick`] looks only at the shards whose deadline has come.
//!
//! Lock order: at most one shard mutex at a time (a call about two files, a directory
//! lease break for a child's change, takes them one after the other); while holding it
//! the leaves may be taken: the connections table (`Conns`, a RwLock), the open index
//! parts, the lease registry parts, the break trace's shared history. A leaf is never
//! held while taking anything else.
//!
//! Every break it routes is also a record of the break trace (`break_trace`): who
//! triggered it, how it ended, who waited on it; finished records go to
//! the driver (`Hooks::trace`) and stay in a bounded history for `opportune status --breaks`.

use opportune_fs::FileInfo;
use opportune_locks::{
    ClientGuid, CloseOutcome, Config, ConnId, CreateOutcome, CreatePolicy, CreateRequest, Event, FileKey, GrantedCaching, HostAccess, LeaseKey,
    LockCore, LockElement, LockOutcome, OpenId, RequestId, RequestedCaching,
};
use opportune_types::{AccessMask, LeaseState, NtStatus, OplockLevel, ShareAccess};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};
use crate::break_trace::{self as bt, BreakRecord, HolderKey, NewBreak, Outcome, Party, Tracer, WaitKey};
use crate::clock::Clock;
use crate::parked::{Parked, ParkedOpens};

mod contention;
mod dir_change;
mod host;
mod host_ranges;
pub use dir_change::Changer;
mod kernel;
#[cfg(test)]
mod shard_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod virtual_time_tests;

/// Where a connection's events go: the driver's queue for that connection.
pub trait EventSink: Send + Sync {
    /// Queues `ev` for the connection; false once the connection is gone.
    fn send(&self, ev: ConnEvent) -> bool;
}

pub type EventSender = Arc<dyn EventSink>;

/// The answer to a request for a connection's figures, called once with them.
pub struct FiguresReply(pub Box<dyn FnOnce(crate::figures::ConnFigures) + Send>);

impl std::fmt::Debug for FiguresReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FiguresReply")
    }
}

/// What the driver gives the lock layer: a way to wake its timer when a deadline may be
/// earlier than the one it sleeps on, and where finished break records go.
pub struct Hooks {
    pub wake_timer: Box<dyn Fn() + Send + Sync>,
    pub trace: Box<dyn Fn(Arc<BreakRecord>) + Send + Sync>,
}

/// What reaches a connection task from outside its own requests.
#[derive(Debug)]
pub enum ConnEvent {
    Lock(Event),
    /// A change under a directory this connection watches (CHANGE_NOTIFY).
    Change(crate::notify_change::Change),
    /// The pending CHANGE_NOTIFYs of `open` end with this status: the one with AsyncId
    /// `request` (cancelled), or with None all of them (handle closed, directory deleted,
    /// changes lost).
    NotifyDone { open: u64, request: Option<u64>, status: NtStatus },
    /// The session ends: the client re-established it on another connection
    /// (PreviousSessionId), or a reload removed its user.
    ExpireSession { session: u64, why: &'static str },
    /// A message prepared earlier (a delayed break notification) to send now.
    Send(Vec<u8>),
    /// The server closed this open on its own (another client took over its
    /// AppInstanceId); `delete_file` asks for its delete-on-close to be carried out.
    ForceClose { open: u64, delete_file: bool },
    /// Another request waits on, or was refused by, this connection's byte-range locks
    /// or share modes: check that the peer is alive (`link_watch`).
    Probe { why: &'static str },
    /// The server stops: end after the request being processed (`stop.rs`).
    Stop,
    /// `opportune status` asks for this connection's transport figures.
    Figures(FiguresReply),
}

/// How many parts the lock state is split in (a power of two).
pub const SHARDS: usize = 64;
const _: () = assert!(SHARDS.is_power_of_two());

/// When the timer must run: each shard's next deadline, recorded as its guard goes, and
/// the deadline the timer sleeps until. An operation wakes the timer only if it made its
/// shard's deadline earlier than that (most operations set none, or a later one), so the
/// timer task is not scheduled after every operation.
struct TimerState {
    /// Per shard, in nanoseconds after `base`; `NONE`: no deadline.
    deadlines: Box<[AtomicU64]>,
    base: Instant,
    /// What the timer sleeps until (`NONE`: nothing; `TICKING`: a tick is running, so
    /// every new deadline wakes it once more).
    armed: AtomicU64,
    /// A deadline earlier than `armed` was recorded: the next [`Locking::wake_timer`]
    /// wakes the timer.
    wake: std::sync::atomic::AtomicBool,
}

const NONE: u64 = u64::MAX;
const TICKING: u64 = 0;

impl TimerState {
    fn new(base: Instant) -> TimerState {
        TimerState {
            deadlines: (0..SHARDS).map(|_| AtomicU64::new(NONE)).collect(),
            base,
            armed: AtomicU64::new(NONE),
            wake: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn nanos(&self, d: Option<Instant>) -> u64 {
        // 1 at the least: 0 is TICKING, and a deadline at `base` is due at once anyway.
        d.map_or(NONE, |d| u64::try_from(d.saturating_duration_since(self.base).as_nanos()).unwrap_or(NONE - 1).max(1))
    }

    fn instant(&self, n: u64) -> Option<Instant> {
        (n != NONE).then(|| self.base + Duration::from_nanos(n))
    }

    /// Shard `shard`'s next deadline is `d` now.
    fn record(&self, shard: usize, d: Option<Instant>) {
        let n = self.nanos(d);
        // SeqCst with `armed` below and in `tick`: either the tick sees this deadline, or
        // this sees the tick's `armed` (TICKING or what it armed) and wakes it if earlier.
        if self.deadlines[shard].swap(n, Ordering::SeqCst) != n && n < self.armed.load(Ordering::SeqCst) {
            self.wake.store(true, Ordering::SeqCst);
        }
    }
}

/// The shard of a file: by its inode, which a named stream shares with its file.
pub fn shard_of(file: FileKey) -> usize {
    (file.inode.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARDS.trailing_zeros())) as usize
}

pub struct Locking {
    shards: Vec<Mutex<Inner>>,
    /// The shard of each open the adapter knows.
    index: Arc<OpenIndex>,
    /// The shard a blocking lock request waits in (a hint for `cancel_lock`).
    requests: Arc<OpenIndex>,
    conns: Arc<RwLock<Conns>>,
    leases: Arc<opportune_locks::LeaseRegistry>,
    clock: Arc<dyn Clock>,
    /// Each shard's next deadline and what the timer sleeps until (shared with the shards).
    timer: Arc<TimerState>,
    /// The driver's timer and trace stream, once it has installed them ([`Locking::install`]).
    hooks: OnceLock<Hooks>,
}

/// What the lock layer knows of connections (a leaf lock: see the module's lock order).
#[derive(Default)]
struct Conns {
    /// Where each connection's events go.
    routes: HashMap<u64, EventSender>,
    /// Connection.ClientGuid of connections that opened files, for lease break routing.
    clients: HashMap<u64, [u8; 16]>,
    /// The client address of each connection, for `opportune status`.
    peers: HashMap<u64, std::net::SocketAddr>,
    /// Connections going away, with the transport-liveness verdict if their host vanished.
    ending: HashMap<u64, Option<&'static str>>,
}

/// Id (open or request) → shard, in parts by id (leaf locks, held for one map operation).
struct OpenIndex {
    parts: Vec<Mutex<IdMap>>,
}

/// A map by server-allocated id (no client chooses the keys): a multiply-rotate hash
/// instead of SipHash, on every call that names an open.
type IdMap = HashMap<u64, u16, std::hash::BuildHasherDefault<IdHasher>>;

#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(26);
    }
}

impl OpenIndex {
    fn new() -> OpenIndex {
        OpenIndex { parts: (0..SHARDS).map(|_| Mutex::new(IdMap::default())).collect() }
    }

    fn part(&self, id: u64) -> MutexGuard<'_, IdMap> {
        let m = &self.parts[(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARDS.trailing_zeros())) as usize];
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, id: u64) -> Option<usize> {
        self.part(id).get(&id).map(|s| usize::from(*s))
    }

    fn set(&self, id: u64, shard: usize) {
        self.part(id).insert(id, shard as u16);
    }

    /// Forgets `id` if shard `shard` has it.
    fn clear(&self, id: u64, shard: usize) {
        let mut p = self.part(id);
        if p.get(&id).is_some_and(|s| usize::from(*s) == shard) {
            p.remove(&id);
        }
    }
}

/// What caused the core call now running, for the break trace.
#[derive(Clone, Copy)]
struct Cause {
    what: &'static str,
    conn: Option<u64>,
    open: Option<u64>,
}

impl Cause {
    const fn by(what: &'static str, conn: Option<u64>, open: Option<u64>) -> Cause {
        Cause { what, conn, open }
    }
}

/// One shard: the lock core and adapter state of the files that hash to it.
struct Inner {
    /// Which shard this is.
    shard: usize,
    core: LockCore,
    /// Durable opens purged under the mutex whose file-system work is still to run.
    purged: Vec<Purged>,
    /// The connections (shared by the shards).
    conns: Arc<RwLock<Conns>>,
    /// The shard of each open (shared): kept with `owners`.
    index: Arc<OpenIndex>,
    /// The shard of each waiting lock request (shared): kept with `lock_waits`.
    requests: Arc<OpenIndex>,
    /// Opens with a path, over every shard, for the metrics.
    open_files: Arc<AtomicUsize>,
    /// Where this shard's next deadline is recorded as its guard goes (shared).
    timer: Arc<TimerState>,
    /// Which connection owns each open the core knows.
    owners: HashMap<u64, Owner>,
    /// Share index and on-disk relative path of each open the server completed, for the
    /// rename checks that concern other opens by name (opens below a directory).
    paths: HashMap<u64, (usize, String)>,
    /// Durable opens whose connection is gone, by open id (= FileId.Persistent).
    parked: ParkedOpens,
    /// Open.AppInstanceId and the ClientGuid of its client, for opens that have one.
    app_instances: HashMap<u64, ([u8; 16], [u8; 16])>,
    /// The session user of each open, for the break trace.
    users: HashMap<u64, Arc<str>>,
    /// The blocking locks that wait (in the core or for the host), by request.
    lock_waits: HashMap<u64, LockWait>,
    /// Opens whose byte-range locks are mirrored on the host (`posix_locking`), and the
    /// blocking locks waiting for a host lock to go.
    host: host::HostMirror,
    /// Kernel oplocks: the Linux leases behind grants, and the kernel breaks being served.
    kernel: kernel::KernelLeases,
    /// Share names by index, for records (shared).
    share_names: Arc<RwLock<Vec<String>>>,
    break_timeout: Duration,
    trace: Tracer,
    /// What caused the core call being routed.
    cause: Cause,
    /// Where the time comes from (the server's clock).
    clock: Arc<dyn Clock>,
}

/// A blocking lock request that waits: since when, for what.
struct LockWait {
    since: Instant,
    element: LockElement,
}

/// What `opportune status` shows of the lock layer.
pub struct Report {
    pub opens: Vec<OpenRow>,
    pub waiting: usize,
    pub peers: HashMap<u64, std::net::SocketAddr>,
}

/// One open the server completed.
pub struct OpenRow {
    pub open: u64,
    /// None for a disconnected durable handle.
    pub conn: Option<u64>,
    pub share: usize,
    pub path: String,
    /// R/W/H caching, and whether it is a lease's.
    pub bits: LeaseState,
    pub lease: bool,
    pub breaking: bool,
    /// For a disconnected durable handle: how long it is kept still.
    pub expires_in: Option<Duration>,
    /// Granted access and share access (the share mode), when registered.
    pub share_mode: Option<(AccessMask, ShareAccess)>,
    pub user: Option<Arc<str>>,
}

/// One granted byte-range lock, for `opportune status` (like `smbstatus -B`).
pub struct LockRow {
    pub open: u64,
    /// None for a disconnected durable handle.
    pub conn: Option<u64>,
    /// The share's slot, when the open was completed by the server.
    pub share: Option<usize>,
    pub path: String,
    pub offset: u64,
    pub length: u64,
    pub exclusive: bool,
}

/// An SMB create whose open would break a lease of ours (`Locking::kernel_yield`).
pub struct KernelYield {
    pub dev: u64,
    pub ino: u64,
    pub open: u64,
    /// The open is for writing (its descriptor will be).
    pub write: bool,
    pub access: AccessMask,
    pub share: ShareAccess,
}

/// Who an open the lock layer knows belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// A live connection.
    Conn(u64),
    /// Nobody: a durable open whose connection is gone (MS-SMB2 3.3.7.1), kept for a
    /// reconnect. Breaks addressed to it purge it instead.
    Parked,
}

impl Owner {
    fn conn(self) -> Option<u64> {
        match self {
            Owner::Conn(c) => Some(c),
            Owner::Parked => None,
        }
    }
}

/// The lock core's connection id of parked opens: no connection has it (the server's ids
/// start below 2^48), so the core addresses their breaks to nobody; the adapter knows
/// them as [`Owner::Parked`].
const PARKED_IN_CORE: ConnId = ConnId(u64::MAX);

/// The parts of a CREATE the lock core decides on.
pub struct Admission {
    pub conn: u64,
    pub open: u64,
    pub access: AccessMask,
    pub share: ShareAccess,
    pub requested: RequestedCaching,
    pub truncating: bool,
    pub delete_on_close: bool,
    pub policy: CreatePolicy,
    /// The share's oplock contention limit (0: none), applied with the file's opens counted
    /// under the same lock as the admission.
    pub contention_limit: u32,
    /// Connection.ClientGuid (zero before SMB 2.1).
    pub client: [u8; 16],
    /// The session's user, for the break trace.
    pub user: Arc<str>,
}

/// What share modes, delete-pending and caching apply to: the file (device, inode),
/// and for a named stream, which is a file of its own to them (smb2.streams.sharemodes),
/// the stream too. Device numbers never have the top bit set, so a stream's key, which
/// has it, never meets a file's; the main stream keeps the plain key.
pub fn file_key(info: &FileInfo) -> FileKey {
    let device = if info.stream == 0 { info.dev } else { info.dev ^ (info.stream.rotate_left(1) | 1 << 63) };
    FileKey { device, inode: info.file_id }
}


impl Locking {
    /// `history` finished break records are kept for `opportune status --breaks`; every
    /// deadline and timestamp is read from `clock`.
    pub fn new(break_timeout: Duration, history: usize, share_names: Vec<String>, clock: Arc<dyn Clock>) -> Locking {
        let config = Config { break_timeout, ..Config::default() };
        let conns = Arc::new(RwLock::new(Conns::default()));
        let index = Arc::new(OpenIndex::new());
        let requests = Arc::new(OpenIndex::new());
        let leases = Arc::new(opportune_locks::LeaseRegistry::default());
        let open_files = Arc::new(AtomicUsize::new(0));
        let timer = Arc::new(TimerState::new(clock.now()));
        let share_names = Arc::new(RwLock::new(share_names));
        // Break record ids and the history of finished records: one for every shard.
        let trace = Tracer::shared_parts();
        let shards = (0..SHARDS)
            .map(|shard| {
                Mutex::new(Inner {
                    shard,
                    purged: Vec::new(),
                    core: LockCore::partitioned(config, leases.clone()),
                    conns: conns.clone(),
                    index: index.clone(),
                    requests: requests.clone(),
                    open_files: open_files.clone(),
                    timer: timer.clone(),
                    owners: HashMap::new(),
                    paths: HashMap::new(),
                    parked: ParkedOpens::default(),
                    app_instances: HashMap::new(),
                    users: HashMap::new(),
                    lock_waits: HashMap::new(),
                    host: host::HostMirror::default(),
                    kernel: kernel::KernelLeases::new(break_timeout),
                    share_names: share_names.clone(),
                    break_timeout,
                    trace: Tracer::sharing(history, &trace),
                    cause: Cause::by("other", None, None),
                    clock: clock.clone(),
                })
            })
            .collect();
        Locking { shards, index, requests, conns, leases, clock, timer, hooks: OnceLock::new() }
    }

    /// The monotonic time now, on the lock layer's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Installs the driver's hooks (once; later calls are ignored).
    pub fn install(&self, hooks: Hooks) {
        let _ = self.hooks.set(hooks);
    }

    /// Tells the driver's timer that the next deadline may have moved (see [`Locking::tick`]).
    /// Wakes the timer if an operation since the last wake made a deadline earlier than
    /// the one it sleeps until (call after the shard's guard is gone).
    fn wake_timer(&self) {
        if self.timer.wake.swap(false, Ordering::SeqCst)
            && let Some(h) = self.hooks.get()
        {
            (h.wake_timer)();
        }
    }

    /// Runs `f` on the core of shard `g`, then routes the events it produced; breaks it
    /// sends are recorded as caused by `cause`.
    fn run<R>(&self, mut g: Held<'_>, cause: Cause, f: impl FnOnce(&mut LockCore, Instant) -> R) -> R {
        g.cause = cause;
        let now = g.clock.now();
        let r = f(&mut g.core, now);
        g.route();
        self.publish(&mut g);
        drop(g);
        self.wake_timer();
        r
    }

    /// Hands finished break records to `opportune trace` subscribers.
    fn publish(&self, g: &mut Inner) {
        let hooks = self.hooks.get();
        for r in g.trace.take_finished() {
            if let Some(h) = hooks {
                (h.trace)(r);
            }
        }
    }

    /// The last `n` finished break records, oldest first (one history for every shard).
    pub fn recent_breaks(&self, n: usize) -> Vec<Arc<BreakRecord>> {
        self.shard(0).trace.recent(n)
    }

    /// Breaks not yet ended, oldest first, with their age.
    pub fn pending_breaks(&self) -> Vec<bt::PendingBreak> {
        let mut all: Vec<bt::PendingBreak> = (0..SHARDS)
            .flat_map(|i| {
                let g = self.shard(i);
                g.trace.pending(g.clock.now())
            })
            .collect();
        all.sort_by_key(|p| p.record.id);
        all
    }

    /// Share slot `idx` is now named `name` (a reload added or renamed it).
    pub fn set_share_name(&self, idx: usize, name: &str) {
        let names = self.shard(0).share_names.clone();
        let mut names = names.write().unwrap_or_else(|p| p.into_inner());
        if names.len() <= idx {
            names.resize(idx + 1, String::new());
        }
        names[idx] = name.to_string();
    }

    /// Every granted byte-range lock on a file the server has open, by file.
    pub fn byte_range_locks(&self) -> Vec<LockRow> {
        let mut all: Vec<(FileKey, LockRow)> = Vec::new();
        for i in 0..SHARDS {
            let g = self.shard(i);
            all.extend(g.core.byte_range_locks().into_iter().map(|(file, l)| {
                let (share, path) = g.paths.get(&l.owner.0).cloned().map_or((None, String::new()), |(s, p)| (Some(s), p));
                let row = LockRow {
                    open: l.owner.0,
                    conn: g.conn_of(l.owner.0),
                    share,
                    path,
                    offset: l.offset,
                    length: l.length,
                    exclusive: l.exclusive,
                };
                (file, row)
            }));
        }
        // As one core lists them: by file, each file's locks in its own order.
        all.sort_by_key(|(file, _)| *file);
        all.into_iter().map(|(_, r)| r).collect()
    }

    /// The connections now registered, for asking each of them for its figures.
    pub fn routes(&self) -> Vec<(u64, EventSender)> {
        read(&self.conns).routes.iter().map(|(c, tx)| (*c, tx.clone())).collect()
    }

    /// Shard `i`, locked.
    fn shard(&self, i: usize) -> Held<'_> {
        // A panic while holding the lock would be a bug in the core; keep serving.
        Held { guard: Some(self.shards[i].lock().unwrap_or_else(|p| p.into_inner())), touch: true }
    }

    /// The shard of `file`, locked.
    fn at_file(&self, file: FileKey) -> Held<'_> {
        self.shard(shard_of(file))
    }

    /// The shard of `open`, locked; for an open the adapter does not know, shard 0 (which
    /// does not know it either: the call finds an unknown open, as it would anywhere).
    fn at_open(&self, open: u64) -> Held<'_> {
        self.shard(self.index.get(open).unwrap_or(0))
    }

    pub fn register_connection(&self, conn: u64, peer: std::net::SocketAddr, tx: EventSender) {
        let mut c = write(&self.conns);
        c.routes.insert(conn, tx);
        c.peers.insert(conn, peer);
    }

    /// The connections now registered.
    pub fn connection_count(&self) -> usize {
        read(&self.conns).peers.len()
    }

    /// A snapshot of the opens, their caching and the waiting operations.
    pub fn report(&self) -> Report {
        let mut opens: Vec<OpenRow> = Vec::new();
        let mut waiting = 0;
        for i in 0..SHARDS {
            let g = self.shard(i);
            let now = g.clock.now();
            waiting += g.core.deferred_count();
            opens.extend(g.paths.iter().filter_map(|(id, (share, path))| {
                let c = g.core.caching_of(OpenId(*id))?;
                Some(OpenRow {
                    open: *id,
                    conn: g.conn_of(*id),
                    share: *share,
                    path: path.clone(),
                    bits: c.bits,
                    lease: c.lease.is_some(),
                    breaking: c.breaking,
                    expires_in: g.parked.get(id).map(|p| p.deadline.saturating_duration_since(now)),
                    share_mode: g.core.open_view(OpenId(*id)).map(|v| (v.share_mode.access, v.share_mode.share)),
                    user: g.users.get(id).cloned(),
                })
            }));
        }
        opens.sort_by_key(|o| o.open);
        Report { opens, waiting, peers: read(&self.conns).peers.clone() }
    }

    /// Delivers an event to a connection task (dropped if the connection is gone).
    pub fn send_to(&self, conn: u64, ev: ConnEvent) {
        if let Some(tx) = read(&self.conns).routes.get(&conn) {
            let _ = tx.send(ev);
        }
    }

    /// Share modes, delete-pending and caching for a new open (MS-FSA 2.1.5.1.2).
    pub fn admit_open(&self, info: &FileInfo, a: Admission) -> CreateOutcome {
        let mut req = CreateRequest {
            conn: ConnId(a.conn),
            open: OpenId(a.open),
            file: file_key(info),
            access: a.access,
            share: a.share,
            requested: a.requested,
            is_directory: info.is_dir,
            truncating: a.truncating,
            delete_on_close: a.delete_on_close,
            policy: a.policy,
            base: (info.stream != 0).then_some(FileKey { device: info.dev, inode: info.file_id }),
        };
        let mut g = self.at_file(req.file);
        // One decision: the contention limit counts the opens the core admits against.
        // With no limit (0, the default) the policy stands as it is: nothing to count.
        if a.contention_limit > 0 {
            req.policy = crate::policy::within_contention_limit(req.policy, g.core.opens_of(req.file).len(), a.contention_limit);
        }
        g.own(a.open, Owner::Conn(a.conn));
        g.users.insert(a.open, a.user);
        if a.client != [0; 16] {
            g.set_client(a.conn, a.client);
        }
        let now = g.clock.now();
        let outcome = g.core.handle_create(now, req);
        if outcome == CreateOutcome::Denied(NtStatus::SHARING_VIOLATION) {
            let blockers = g.core.share_blockers(req.file, req.access, req.share);
            g.probe_share_blockers(a.open, blockers);
        }
        if let CreateOutcome::Denied(_) = outcome {
            g.disown(a.open);
            g.users.remove(&a.open);
            g.kernel.decided(a.open);
        }
        if outcome == CreateOutcome::Deferred {
            let party = g.party(Some(a.conn), a.open);
            g.trace.waiting(WaitKey::Create(a.open), "create", party, a.open, req.file, now);
        }
        g.cause = Cause::by("open", Some(a.conn), Some(a.open));
        g.route();
        self.publish(&mut g);
        drop(g);
        self.wake_timer();
        outcome
    }

    pub fn cancel_create(&self, conn: u64, open: u64) {
        let g = self.at_open(open);
        let cancelled = self.run(g, Cause::by("other", Some(conn), None), |c, _| c.handle_cancel_create(OpenId(open)))
            || self.at_open(open).kernel.cancel_wait(open);
        if cancelled {
            let mut g = self.at_open(open);
            let (now, wall) = g.times();
            g.trace.decided(WaitKey::Create(open), now, wall, status_name(NtStatus::CANCELLED));
            self.publish(&mut g);
            g.send(conn, ConnEvent::Lock(Event::CompleteCreate { open: OpenId(open), outcome: CreateOutcome::Denied(NtStatus::CANCELLED) }));
        }
    }


    /// Drops an open the core admitted (also one the server could not complete).
    pub fn close_id(&self, open: u64) -> CloseOutcome {
        let mut g = self.at_open(open);
        g.release_host(open);
        let lease = g.core.caching_of(OpenId(open)).and_then(|c| c.lease);
        g.cause = Cause::by("close", None, Some(open));
        let now = g.clock.now();
        let outcome = g.core.handle_close(now, OpenId(open));
        g.route();
        self.publish(&mut g);
        let conn = g.conn_of(open);
        let (how, verdict) = match conn.and_then(|c| read(&g.conns).ending.get(&c).copied()) {
            Some(Some(v)) => (Outcome::HolderVanished, Some(v)),
            Some(None) => (Outcome::HolderDisconnected, None),
            None => (Outcome::HolderClosed, None),
        };
        let wall = g.wall_ms();
        g.trace.ended(HolderKey::Oplock { open }, wall, how, verdict);
        if let Some(l) = lease
            && g.core.lease_opens(l).is_empty()
        {
            g.trace.ended(HolderKey::Lease { client: l.client.0, key: l.key.0 }, wall, how, verdict);
        }
        g.forget(open);
        self.publish(&mut g);
        drop(g);
        self.wake_timer();
        outcome.unwrap_or(CloseOutcome { file: FileKey { device: 0, inode: 0 }, delete_file: false, delete_base: false })
    }

    /// Strict locking (MS-SMB2 3.3.5.12/3.3.5.13): may `open` read or write the range?
    /// Other opens' byte-range locks, and for a mirrored open local processes' locks too.
    pub fn check_io(&self, open: u64, offset: u64, length: u64, write: bool) -> Result<(), NtStatus> {
        let g = self.at_open(open);
        let r = g.core.check_io(OpenId(open), offset, length, write);
        if r == Err(NtStatus::FILE_LOCK_CONFLICT) {
            g.probe_io_blockers(open, offset, length, write);
        }
        let handle = if r.is_ok() { g.host.handle(open) } else { None };
        drop(g);
        if handle.is_some_and(|h| host::host_conflict(&h, offset, length, write)) {
            return Err(NtStatus::FILE_LOCK_CONFLICT);
        }
        r
    }

    /// Mirrors the byte-range locks of `open` on the host from now on (its descriptor is
    /// `handle`): a file, not a directory or named stream, on a share with `posix_locking`.
    pub fn mirror_locks(&self, open: u64, handle: Arc<opportune_fs::Handle>) {
        self.at_open(open).host.add(open, handle);
    }

    /// A write by `open`: read caches of the others are broken before it is answered.
    pub fn written(&self, open: u64) {
        self.run(self.at_open(open), Cause::by("write", None, Some(open)), |c, now| c.handle_write(now, OpenId(open)));
    }

    /// A size change (end of file, allocation, overwrite).
    pub fn truncated(&self, open: u64) {
        self.run(self.at_open(open), Cause::by("truncate", None, Some(open)), |c, now| c.handle_truncate(now, OpenId(open)));
    }

    pub fn set_delete_pending(&self, open: u64, delete: bool) -> Result<(), NtStatus> {
        self.run(self.at_open(open), Cause::by("delete", None, Some(open)), |c, _| c.handle_set_delete_on_close(OpenId(open), delete))
    }

    /// How many opens the file has now.
    pub fn open_count(&self, info: &FileInfo) -> usize {
        let file = file_key(info);
        self.at_file(file).core.opens_of(file).len()
    }

    pub fn is_delete_pending(&self, info: &FileInfo) -> bool {
        let file = file_key(info);
        self.at_file(file).core.is_delete_pending(file)
    }

    /// One LOCK request: the lock core decides, the host mirror follows (`host`).
    pub fn lock_range(&self, open: u64, request: u64, elements: &[LockElement]) -> LockOutcome {
        let mut g = self.at_open(open);
        g.cause = Cause::by("lock", None, Some(open));
        let now = g.clock.now();
        let outcome = g.core.handle_lock(now, OpenId(open), RequestId(request), elements);
        let Inner { host, core, .. } = &mut *g;
        let outcome = host.request(core, open, request, elements, outcome, now);
        if outcome == LockOutcome::Pending {
            g.lock_waits.insert(request, LockWait { since: now, element: elements[0] });
            g.requests.set(request, g.shard);
        }
        g.route();
        self.publish(&mut g);
        g.probe_lock_blockers(open, elements, outcome);
        drop(g);
        self.wake_timer();
        outcome
    }

    /// Cancels a waiting lock request: in the shard it waits in, or (a request that waits
    /// nowhere, a late cancel) after a look in every shard.
    pub fn cancel_lock(&self, request: u64) {
        let hint = self.requests.get(request);
        let order = hint.into_iter().chain((0..SHARDS).filter(|i| Some(*i) != hint));
        for i in order {
            let mut g = self.shard(i);
            if let Some(d) = g.host.cancel(request) {
                g.decided(vec![d]);
                return;
            }
            g.cause = Cause::by("other", None, None);
            if g.core.handle_cancel_lock(RequestId(request)) {
                g.route();
                self.publish(&mut g);
                drop(g);
                self.wake_timer();
                return;
            }
        }
    }

    pub fn ack_oplock(&self, open: u64, level: OplockLevel) -> Result<OplockLevel, NtStatus> {
        let mut g = self.at_open(open);
        g.cause = Cause::by("queued", None, None);
        let now = g.clock.now();
        let r = g.core.handle_oplock_break_ack(now, OpenId(open), level);
        g.route();
        self.publish(&mut g);
        // Whatever the acknowledgment's status, the break is over once the holder no
        // longer breaks (MS-SMB2 3.3.5.22.1 may change state on an error too).
        if let Some(c) = g.core.caching_of(OpenId(open)).filter(|c| !c.breaking) {
            let wall = g.wall_ms();
            g.trace.acknowledged(HolderKey::Oplock { open }, wall, bt::oplock_name(c.bits).into());
            self.publish(&mut g);
        }
        drop(g);
        self.wake_timer();
        r
    }

    pub fn ack_lease(&self, client: [u8; 16], key: [u8; 16], state: LeaseState) -> Result<LeaseState, NtStatus> {
        let id = opportune_locks::LeaseId { client: ClientGuid(client), key: LeaseKey(key) };
        let mut g = self.shard(self.leases.file_of(id).map_or(0, shard_of));
        g.cause = Cause::by("queued", None, None);
        let now = g.clock.now();
        let r = g.core.handle_lease_break_ack(now, ClientGuid(client), LeaseKey(key), state);
        g.route();
        self.publish(&mut g);
        if let Ok(new) = r {
            let wall = g.wall_ms();
            g.trace.acknowledged(HolderKey::Lease { client, key }, wall, bt::lease_letters(new));
            self.publish(&mut g);
        }
        drop(g);
        self.wake_timer();
        r
    }

    /// Connection `conn` is ending, with the transport-liveness verdict if its host was
    /// found gone: breaks its opens had outstanding end as "holder vanished" (or
    /// "disconnected") as they are closed.
    pub fn connection_ending(&self, conn: u64, verdict: Option<&'static str>) {
        write(&self.conns).ending.insert(conn, verdict);
    }

    /// The connection is gone: its opens were closed one by one; waiting creates go too.
    /// Every shard, in index order: first the core's side (while the connection's route
    /// still exists, as its own events are routed), then what the adapter kept of its opens.
    pub fn disconnect(&self, conn: u64) {
        let verdict = read(&self.conns).ending.get(&conn).copied().flatten();
        for i in 0..SHARDS {
            let mut g = self.shard(i);
            g.cause = Cause::by("other", Some(conn), None);
            let now = g.clock.now();
            g.core.handle_disconnect(now, ConnId(conn));
            g.route();
            self.publish(&mut g);
            let (now, wall) = g.times();
            for key in g.trace.holders_on(conn) {
                let how = if verdict.is_some() { Outcome::HolderVanished } else { Outcome::HolderDisconnected };
                g.trace.ended(key, wall, how, verdict);
            }
            g.trace.requester_gone(conn, now, wall);
            self.publish(&mut g);
        }
        self.wake_timer();
        {
            let mut c = write(&self.conns);
            c.ending.remove(&conn);
            c.routes.remove(&conn);
            c.clients.remove(&conn);
            c.peers.remove(&conn);
        }
        for i in 0..SHARDS {
            let mut g = self.shard(i);
            let gone: Vec<u64> = g.owners.iter().filter(|(_, c)| **c == Owner::Conn(conn)).map(|(o, _)| *o).collect();
            for o in gone {
                g.forget(o);
            }
            self.publish(&mut g);
        }
    }

    /// Fires due break timeouts; returns when the core next needs waking. Every shard,
    /// in index order.
    pub fn tick(&self) -> Option<Instant> {
        let t = &self.timer;
        t.armed.store(TICKING, Ordering::SeqCst);
        let now = self.clock.now();
        let due: Vec<usize> =
            (0..SHARDS).filter(|&i| t.instant(t.deadlines[i].load(Ordering::SeqCst)).is_some_and(|d| d <= now)).collect();
        let mut decided_total = 0;
        for i in due {
            let mut g = self.shard(i);
            g.touch = false;
            let waiting = g.core.deferred_count();
            let now = g.clock.now();
            g.cause = Cause::by("timer", None, None);
            g.core.handle_timeout(now);
            decided_total += waiting.saturating_sub(g.core.deferred_count());
            g.record_timeouts(now);
            let Inner { host, core, .. } = &mut *g;
            let decided = host.retry(core, now);
            g.decided(decided);
            for due in g.kernel.due(now) {
                let (open, outcome) = match due {
                    kernel::Due::Retry(o) => (o, CreateOutcome::Restart),
                    kernel::Due::GiveUp(o) => (o, CreateOutcome::Denied(NtStatus::SHARING_VIOLATION)),
                };
                if let Some(c) = g.disown(open).and_then(Owner::conn) {
                    g.send(c, ConnEvent::Lock(Event::CompleteCreate { open: OpenId(open), outcome }));
                }
            }
            let expired = g.parked.expired(now);
            for id in expired {
                g.purge(id, "durable handle expired");
            }
            g.route();
            self.publish(&mut g);
            let next = g.next_deadline();
            t.deadlines[i].store(t.nanos(next), Ordering::SeqCst);
        }
        if decided_total > 0 {
            tracing::warn!(decided = decided_total, "break timeout: waiting requests proceed without the holders' acknowledgment");
        }
        let next = t.deadlines.iter().map(|d| d.load(Ordering::SeqCst)).min().unwrap_or(NONE);
        // A deadline recorded while this tick ran saw TICKING and set `wake`: the timer
        // ticks once more (it may not be counted in `next`); `wake` is not cleared here.
        t.armed.store(next, Ordering::SeqCst);
        t.instant(next)
    }
}

/// The connections table, read (a leaf lock).
fn read(c: &RwLock<Conns>) -> RwLockReadGuard<'_, Conns> {
    c.read().unwrap_or_else(|p| p.into_inner())
}

/// The connections table, written (a leaf lock).
fn write(c: &RwLock<Conns>) -> RwLockWriteGuard<'_, Conns> {
    c.write().unwrap_or_else(|p| p.into_inner())
}

/// A shard's mutex, held. When it is let go, the file-system work decided while
/// it was held runs, after the release: no system call of a purge (a delete-on-close, the
/// close of a descriptor) runs while other connections wait for lock state.
struct Held<'a> {
    guard: Option<MutexGuard<'a, Inner>>,
    /// Record the shard's next deadline as the guard goes (all but the tick's own, which
    /// records it itself).
    touch: bool,
}

impl std::ops::Deref for Held<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        self.guard.as_deref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        self.guard.as_deref_mut().expect("held until dropped")
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let Some(mut g) = self.guard.take() else { return };
        if self.touch {
            let next = g.next_deadline();
            g.timer.record(g.shard, next);
        }
        let purged = std::mem::take(&mut g.purged);
        drop(g);
        for p in purged {
            p.carry_out();
        }
    }
}

/// A purged durable open whose file-system work runs after the mutex is released.
struct Purged {
    id: u64,
    parked: Parked,
    /// The lock core said its close deletes the file (delete-on-close, last open).
    delete: bool,
}

impl Purged {
    /// The delete-on-close (as the open's UNIX identity), then the descriptor goes with
    /// the open.
    fn carry_out(self) {
        let Purged { id, parked: p, delete } = self;
        if !delete {
            return;
        }
        let rel = p.open.handle.rel_path();
        let removed = crate::offload::blocking(|| {
            crate::unix_id::act_as(p.unix.as_deref(), || p.fs.remove_open(&p.open.handle, p.open.is_dir, false))
        });
        match removed.unwrap_or(Err(opportune_fs::FsError::AccessDenied)) {
            Ok(Some(_)) => {}
            Ok(None) => tracing::info!(open = id, path = ?rel, "delete on close: the object has no name in the share any more"),
            Err(e) => tracing::info!(open = id, path = ?rel, error = %e, "delete on close failed"),
        }
    }
}

impl Inner {
    /// When this shard must be ticked next: a break or lock-wait deadline of the core, a
    /// parked durable open's expiry, a host-lock retry, a kernel-lease deadline.
    fn next_deadline(&self) -> Option<Instant> {
        self.core.poll_timeout().into_iter().chain(self.parked.next_deadline()).chain(self.host.next_retry()).chain(self.kernel.next_deadline()).min()
    }

    /// `open` belongs to `owner`, in this shard.
    fn own(&mut self, open: u64, owner: Owner) {
        self.owners.insert(open, owner);
        self.index.set(open, self.shard);
    }

    /// `open` belongs to nobody here any more; returns who it belonged to.
    fn disown(&mut self, open: u64) -> Option<Owner> {
        let owner = self.owners.remove(&open);
        if owner.is_some() {
            self.index.clear(open, self.shard);
        }
        owner
    }

    /// Connection `conn` has ClientGuid `client` (written only when it changes).
    fn set_client(&self, conn: u64, client: [u8; 16]) {
        if read(&self.conns).clients.get(&conn) != Some(&client) {
            write(&self.conns).clients.insert(conn, client);
        }
    }

    /// Queues `ev` for connection `conn`, if it is still registered.
    fn send(&self, conn: u64, ev: ConnEvent) {
        if let Some(tx) = read(&self.conns).routes.get(&conn) {
            let _ = tx.send(ev);
        }
    }

    /// The monotonic time now and the wall-clock milliseconds for records.
    fn times(&self) -> (Instant, bt::WallMs) {
        (self.clock.now(), self.wall_ms())
    }

    /// Wall-clock milliseconds since the Unix epoch, for records.
    fn wall_ms(&self) -> bt::WallMs {
        bt::wall_ms(self.clock.wall())
    }

    /// `open` is closing: its host locks go before the core lets waiters in, and its
    /// locks waiting for the host end (STATUS_RANGE_NOT_LOCKED).
    fn release_host(&mut self, open: u64) {
        let ended = self.host.release(&self.core, open);
        self.decided(ended);
    }

    /// Answers waiting lock requests the host mirror decided, on their connections.
    fn decided(&mut self, decided: Vec<host::Decided>) {
        for (request, open, status) in decided {
            self.lock_waited(request);
            let event = Event::CompleteLock { request: RequestId(request), open: OpenId(open), status };
            tracing::debug!(event = ?event, "lock waiting for the host decided");
            if let Some(c) = self.conn_of(open) {
                self.send(c, ConnEvent::Lock(event));
            }
        }
    }

    /// A waiting lock request is decided: how long it waited goes to the metrics.
    fn lock_waited(&mut self, request: u64) {
        if let Some(w) = self.lock_waits.remove(&request) {
            self.requests.clear(request, self.shard);
            crate::metrics::lock_waited(self.clock.now().saturating_duration_since(w.since));
        }
    }

    /// The live connection `open` belongs to (none when parked or unknown).
    fn conn_of(&self, open: u64) -> Option<u64> {
        self.owners.get(&open).and_then(|o| o.conn())
    }

    /// Drops what the server layer records of a closed open (owner, path, AppInstanceId);
    /// returns the connection that owned it.
    fn forget(&mut self, id: u64) -> Option<u64> {
        if self.paths.remove(&id).is_some() {
            let now = self.open_files.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
            crate::metrics::open_files_now(now);
        }
        self.app_instances.remove(&id);
        self.users.remove(&id);
        self.release_host(id);
        self.kernel.close(id);
        self.disown(id).and_then(Owner::conn)
    }

    /// A client as the break trace names it: connection, address, the open's user, ClientGuid.
    fn party(&self, conn: Option<u64>, open: u64) -> Party {
        let conns = read(&self.conns);
        Party {
            conn,
            address: conn.and_then(|c| conns.peers.get(&c).copied()),
            user: self.users.get(&open).cloned().unwrap_or_else(|| Arc::from("")),
            client_guid: conn.and_then(|c| conns.clients.get(&c)).map(bt::guid),
        }
    }

    /// Breaks whose acknowledgment is overdue and whose holder no longer breaks: the
    /// break timer fired (MS-SMB2 3.3.6.3/3.3.6.4).
    fn record_timeouts(&mut self, now: Instant) {
        let wall = self.wall_ms();
        for key in self.trace.overdue(now, self.break_timeout) {
            let breaking = match key {
                HolderKey::Oplock { open } => self.core.caching_of(OpenId(open)).map(|c| c.breaking),
                HolderKey::Lease { client, key } => {
                    self.core.lease_breaking(opportune_locks::LeaseId { client: ClientGuid(client), key: LeaseKey(key) })
                }
            };
            if breaking != Some(true) {
                self.trace.ended(key, wall, Outcome::TimedOut, None);
            }
        }
    }

    /// Starts the record of a break about to be routed. The trigger is the request that
    /// caused the core call, else the request waiting on the file (a break sent when a
    /// deferred create is evaluated again), else the call's own cause.
    fn record_break(&mut self, e: &Event, conn: Option<u64>) {
        let (key, open, kind, from, to, ack_required, lease_key) = match *e {
            Event::SendOplockBreak { open, to_level, .. } => {
                // A break from Level II is in force when sent (MS-SMB2 3.3.4.6): the
                // holder is no longer breaking and its caching is already none.
                let ack = self.core.caching_of(open).is_some_and(|c| c.breaking);
                let from = if ack { self.core.caching_of(open).map_or(LeaseState::NONE, |c| c.bits) } else { LeaseState::R };
                let to = to_level.caching();
                (HolderKey::Oplock { open: open.0 }, open.0, "oplock", bt::oplock_name(from).to_string(), bt::oplock_name(to).to_string(), ack, None)
            }
            Event::SendLeaseBreak { lease, from, to, ack_required, .. } => {
                let open = self.core.lease_opens(lease).into_iter().map(|o| o.0).find(|o| self.paths.contains_key(o));
                let open = open.or_else(|| self.core.lease_opens(lease).first().map(|o| o.0)).unwrap_or(0);
                let key = HolderKey::Lease { client: lease.client.0, key: lease.key.0 };
                (key, open, "lease", bt::lease_letters(from), bt::lease_letters(to), ack_required, Some(bt::guid(&lease.key.0)))
            }
            _ => return,
        };
        let Some(file) = self.core.open_view(OpenId(open)).map(|v| v.file) else { return };
        let (share, path) = self.paths.get(&open).cloned().map_or((None, String::new()), |(s, p)| (Some(s), p));
        let holder = bt::Holder { party: self.party(conn, open), kind, open, lease_key };
        let cause = self.cause;
        let trigger = match (cause.what, cause.open) {
            ("host", _) => bt::Trigger { cause: "host", by: None, open: None },
            ("open" | "write" | "truncate" | "rename" | "lock" | "delete", Some(o)) => {
                let by = cause.conn.or_else(|| self.conn_of(o)).map(|c| self.party(Some(c), o));
                bt::Trigger { cause: cause.what, by, open: Some(o) }
            }
            _ => match self.trace.waiter_on(file) {
                Some((request, party, o)) => bt::Trigger { cause: request_cause(request), by: Some(party), open: Some(o) },
                None => bt::Trigger { cause: cause.what, by: None, open: None },
            },
        };
        let share = share.and_then(|s| self.share_names.read().unwrap_or_else(|p| p.into_inner()).get(s).cloned()).unwrap_or_default();
        let record = BreakRecord::new(share, path, holder, from, to, ack_required, trigger);
        let id = self.trace.sent(self.clock.now(), self.wall_ms(), NewBreak { file, key, record });
        tracing::debug!(break_id = id, conn, open, "break sent");
    }

    /// Closes a parked durable open for good: in the lock core (waiters may proceed),
    /// its delete-on-close, its descriptor.
    /// Its delete-on-close and the close of its descriptor are file-system work: they are
    /// queued ([`Purged`]) and run once the mutex is released (see [`Held`]), as a
    /// CLOSE's removal runs after `close_id` returns.
    fn purge(&mut self, id: u64, why: &'static str) {
        let Some(parked) = self.parked.remove(&id) else { return };
        self.release_host(id);
        let outcome = self.core.handle_close(self.clock.now(), OpenId(id));
        self.forget(id);
        tracing::info!(open = id, path = ?parked.open.handle.rel_path(), "{why}");
        self.purged.push(Purged { id, parked, delete: outcome.is_some_and(|o| o.delete_file) });
    }

    /// Sends each pending event to the connection it concerns; then lets kernel leases
    /// follow the caching (which may break more, routed in turn; twice at most, the
    /// second pass finds the breaks already under way).
    fn route(&mut self) {
        self.route_events();
        for _ in 0..2 {
            if !self.kernel.settle(&mut self.core, self.clock.now()) {
                break;
            }
            let cause = std::mem::replace(&mut self.cause, Cause::by("host", None, None));
            self.route_events();
            self.cause = cause;
        }
    }

    fn route_events(&mut self) {
        while let Some(e) = self.core.poll_event() {
            if let Event::SendOplockBreak { open, .. } = e
                && self.parked.contains_key(&open.0)
            {
                self.record_break(&e, None);
                self.trace.ended(HolderKey::Oplock { open: open.0 }, self.wall_ms(), Outcome::DurablePurged, None);
                self.purge(open.0, "durable handle purged: an oplock break is due");
                continue;
            }
            if let Event::SendLeaseBreak { lease, .. } = e {
                // Every open under the lease is disconnected: nobody can acknowledge, they
                // go (MS-SMB2 3.3.4.7). Decided by the opens, not by whether the target
                // connection is still registered: it may be in the middle of going away.
                let opens = self.core.lease_opens(lease);
                if !opens.is_empty() && opens.iter().all(|o| self.parked.contains_key(&o.0)) {
                    self.record_break(&e, None);
                    let key = HolderKey::Lease { client: lease.client.0, key: lease.key.0 };
                    self.trace.ended(key, self.wall_ms(), Outcome::DurablePurged, None);
                    for o in opens {
                        self.purge(o.0, "durable handle purged: a lease break is due");
                    }
                    continue;
                }
            }
            let conn = match e {
                Event::SendOplockBreak { conn, .. } => Some(conn.0),
                // A lease belongs to the client, not to one connection: its breaks go to
                // the client's oldest live connection (smbtorture smb2.lease.v2_complex1
                // expects them on the first of two connections with one ClientGuid, also
                // for a lease whose only open is on the second).
                Event::SendLeaseBreak { conn, lease, .. } => {
                    let conns = read(&self.conns);
                    Some(
                        conns
                            .clients
                            .iter()
                            .filter(|(c, g)| **g == lease.client.0 && conns.routes.contains_key(c))
                            .map(|(c, _)| *c)
                            .min()
                            .unwrap_or(conn.0),
                    )
                }
                Event::CompleteCreate { open, outcome } => {
                    let c = self.conn_of(open.0);
                    let result = match outcome {
                        CreateOutcome::Granted { .. } => status_name(NtStatus::SUCCESS),
                        CreateOutcome::Denied(s) => status_name(s),
                        CreateOutcome::Deferred => "waiting".into(),
                        CreateOutcome::Restart => "restarted".into(),
                    };
                    if let Some(waited) = self.trace.decided(WaitKey::Create(open.0), self.clock.now(), self.wall_ms(), result) {
                        crate::metrics::create_waited(waited);
                    }
                    if matches!(outcome, CreateOutcome::Denied(_) | CreateOutcome::Restart) {
                        self.disown(open.0);
                        self.users.remove(&open.0);
                        self.kernel.decided(open.0);
                    }
                    c
                }
                Event::CompleteRename { request, open, status } => {
                    self.trace.decided(WaitKey::Rename(request.0), self.clock.now(), self.wall_ms(), status_name(status));
                    self.conn_of(open.0)
                }
                Event::CompleteLock { request, open, status } => {
                    let waited = self.lock_waits.get(&request.0).map(|w| w.element);
                    if let Some(element) = waited.filter(|_| status == NtStatus::SUCCESS)
                        && !self.host.late_grant(&mut self.core, request.0, open.0, element, self.clock.now())
                    {
                        continue;
                    }
                    self.lock_waited(request.0);
                    self.conn_of(open.0)
                }
            };
            if let Some(c) = conn
                && matches!(e, Event::SendOplockBreak { .. } | Event::SendLeaseBreak { .. })
            {
                self.record_break(&e, Some(c));
            }
            tracing::debug!(event = ?e, conn = ?conn, "lock core event");
            if let Some(c) = conn {
                self.send(c, ConnEvent::Lock(e));
            }
        }
    }
}

/// Durable handles (see the `durable` module): opens kept across a lost connection.
impl Locking {
    /// Keeps a durable open whose connection or session is gone. An open with a break
    /// in flight is not kept (nobody is left to acknowledge it): it comes back to be
    /// closed as usual.
    pub fn park(&self, p: Parked) -> Result<(), Box<Parked>> {
        let id = p.open.file_id.volatile;
        let mut g = self.at_open(id);
        let breaking = g.core.caching_of(OpenId(id)).is_none_or(|c| c.breaking);
        if breaking {
            return Err(Box::new(p));
        }
        g.core.end_pending_locks(OpenId(id), NtStatus::RANGE_NOT_LOCKED);
        let ended = g.host.end_waits(id, NtStatus::RANGE_NOT_LOCKED);
        g.decided(ended);
        g.route();
        g.core.move_open(OpenId(id), PARKED_IN_CORE);
        g.own(id, Owner::Parked);
        tracing::info!(open = id, path = ?p.open.handle.rel_path(), timeout = ?p.durable.timeout, "durable handle disconnected");
        g.parked.insert(id, p);
        drop(g);
        self.wake_timer();
        Ok(())
    }

    /// Whether `open` is live on a connection other than `conn` (not parked, not closed).
    pub fn live_elsewhere(&self, open: u64, conn: u64) -> bool {
        self.at_open(open).conn_of(open).is_some_and(|c| c != conn)
    }

    /// The lease key of an open's lease, if its caching is a lease.
    pub fn lease_key_of(&self, open: u64) -> Option<[u8; 16]> {
        self.at_open(open).core.caching_of(OpenId(open))?.lease.map(|l| l.key.0)
    }

    /// Hands a parked open to connection `conn` if `check` accepts it (MS-SMB2 3.3.5.9.7,
    /// 3.3.5.9.12); an unknown id is STATUS_OBJECT_NAME_NOT_FOUND. A refused attempt
    /// leaves the open parked. Returns the open and its caching bits now.
    pub fn unpark(
        &self,
        persistent: u64,
        conn: u64,
        client: [u8; 16],
        check: impl FnOnce(&Parked) -> Result<(), NtStatus>,
    ) -> Result<(Parked, opportune_locks::CachingView, Option<u16>), NtStatus> {
        let mut g = self.at_open(persistent);
        check(g.parked.get(&persistent).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?)?;
        let p = g.parked.remove(&persistent).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        let id = OpenId(persistent);
        g.core.move_open(id, ConnId(conn));
        g.own(persistent, Owner::Conn(conn));
        if client != [0; 16] {
            g.set_client(conn, client);
        }
        if let Some(app) = g.app_instances.get_mut(&persistent) {
            app.1 = client;
        }
        let caching = g.core.caching_of(id).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        let epoch = caching.lease.and_then(|l| g.core.lease_epoch(l));
        tracing::info!(open = persistent, conn, "durable handle reconnected");
        Ok((p, caching, epoch))
    }
}

/// Application instance ids (MS-SMB2 3.3.5.9.13): a clustered application that moves to
/// another node opens its files again with the same AppInstanceId, and the opens of its
/// previous incarnation go at once, without breaks.
impl Locking {
    /// Records the AppInstanceId of a completed open.
    pub fn set_app_instance(&self, open: u64, app: [u8; 16], client: [u8; 16]) {
        self.at_open(open).app_instances.insert(open, (app, client));
    }

    /// Closes the opens of the file `info` that carry `app` and belong to another client,
    /// before a create with that AppInstanceId is admitted.
    pub fn close_app_instance(&self, info: &FileInfo, app: [u8; 16], client: [u8; 16]) {
        let mut g = self.at_file(file_key(info));
        let victims: Vec<u64> = g
            .core
            .opens_of(file_key(info))
            .into_iter()
            .map(|o| o.0)
            .filter(|o| g.app_instances.get(o).is_some_and(|(a, c)| *a == app && *c != client))
            .collect();
        for id in victims {
            if g.parked.contains_key(&id) {
                g.purge(id, "durable handle closed: its AppInstanceId was opened again");
                continue;
            }
            g.release_host(id);
            let now = g.clock.now();
            let outcome = g.core.handle_close(now, OpenId(id));
            let conn = g.forget(id);
            tracing::info!(open = id, ?conn, "open closed: its AppInstanceId was opened again by another client");
            if let Some(c) = conn {
                let delete_file = outcome.is_some_and(|o| o.delete_file);
                g.send(c, ConnEvent::ForceClose { open: id, delete_file });
            }
        }
        g.route();
    }
}

/// Paths and renames: what the lock core does not know about files.
impl Locking {
    /// Records where a completed open lives (share, on-disk relative path).
    pub fn set_path(&self, open: u64, share: usize, rel: &str) {
        let mut g = self.at_open(open);
        if g.paths.insert(open, (share, rel.to_string())).is_none() {
            g.open_files.fetch_add(1, Ordering::Relaxed);
        }
        crate::metrics::open_files_now(g.open_files.load(Ordering::Relaxed));
    }

    /// The checks of a rename that concern other opens (MS-FSA 2.1.5.14.11 as Windows
    /// behaves in smbtorture), before any break is sent:
    ///
    /// * the rename opens the target's parent directory to add an entry (FILE_ADD_FILE,
    ///   sharing read and write): an open of that directory that has DELETE access or
    ///   does not share write makes it STATUS_SHARING_VIOLATION (smb2.rename
    ///   share_delete_and_delete_access, no_share_delete_*, smb2.oplock.batch19/20,
    ///   exclusive6);
    /// * a directory with open files below it cannot be renamed: STATUS_ACCESS_DENIED
    ///   (smb2.rename.rename_dir_openfile).
    pub fn check_rename(
        &self,
        open: u64,
        fs: &opportune_fs::Share,
        target: &opportune_fs::SmbPath,
    ) -> Result<(), NtStatus> {
        let Some((share, from)) = self.at_open(open).paths.get(&open).cloned() else { return Ok(()) };
        // The target's parent, spelled on disk when it is the source's parent.
        let comps = target.components();
        let parent_client = comps[..comps.len().saturating_sub(1)].join("/");
        let src_parent = from.rfind('/').map_or("", |i| &from[..i]);
        let parent_rel = if parent_client.to_lowercase() == src_parent.to_lowercase() {
            src_parent.to_string()
        } else {
            parent_client
        };
        // The stat runs before a mutex is taken again: no system call under lock state.
        let parent = fs.stat(&parent_rel);
        if let Ok(info) = parent {
            let add_file = AccessMask(AccessMask::FILE_WRITE_DATA | AccessMask::SYNCHRONIZE);
            let share_rw = ShareAccess(ShareAccess::READ | ShareAccess::WRITE);
            let file = file_key(&info);
            if !self.at_file(file).core.would_share(file, add_file, share_rw) {
                return Err(NtStatus::SHARING_VIOLATION);
            }
        }
        // Opens below a directory are anywhere: every shard (a rename is rare).
        let prefix = format!("{from}/");
        for i in 0..SHARDS {
            if self.shard(i).paths.iter().any(|(o, (s, p))| *o != open && *s == share && p.starts_with(&prefix)) {
                return Err(NtStatus::ACCESS_DENIED);
            }
        }
        Ok(())
    }

    /// A rename by `open` may have to wait for handle caching of other opens to be
    /// broken (MS-FSA 2.1.5.14.11 → 2.1.4.12); `request` names the deferred operation.
    pub fn begin_rename(&self, open: u64, request: u64) -> opportune_locks::RenameOutcome {
        let mut g = self.at_open(open);
        let now = g.clock.now();
        let outcome = g.core.handle_rename(now, OpenId(open), RequestId(request));
        if outcome == opportune_locks::RenameOutcome::Deferred
            && let Some(file) = g.core.open_view(OpenId(open)).map(|v| v.file)
        {
            let party = g.party(g.conn_of(open), open);
            g.trace.waiting(WaitKey::Rename(request), "rename", party, open, file, now);
        }
        g.cause = Cause::by("rename", None, Some(open));
        g.route();
        self.publish(&mut g);
        drop(g);
        self.wake_timer();
        outcome
    }

    /// The file behind `open` now lives at `new_rel`: every open of the old path follows.
    pub fn renamed(&self, open: u64, new_rel: &str) {
        let Some((share, from)) = self.at_open(open).paths.get(&open).cloned() else { return };
        for i in 0..SHARDS {
            for (s, p) in self.shard(i).paths.values_mut() {
                if *s == share && *p == from {
                    *p = new_rel.to_string();
                }
            }
        }
    }
}

/// An NT status as records name it ("STATUS_SUCCESS"), or its number.
fn status_name(s: NtStatus) -> String {
    s.name().map_or_else(|| format!("0x{:08x}", s.0), str::to_string)
}

/// The trigger cause of a break sent for a waiting request of this kind.
fn request_cause(request: &'static str) -> &'static str {
    match request {
        "rename" => "rename",
        _ => "open",
    }
}

/// Kernel oplocks (see `locking/kernel.rs`).
impl Locking {
    /// Takes the Linux lease behind the caching just granted to `open` (a file, on a share
    /// with kernel oplocks), before the CREATE is answered; returns the caching to answer:
    /// the grant, or less if the kernel refused the lease.
    pub fn kernel_grant(&self, open: u64, info: &FileInfo, handle: &Arc<opportune_fs::Handle>, caching: GrantedCaching) -> GrantedCaching {
        let mut g = self.at_file(file_key(info));
        let bits = caching.bits();
        let allowed = g.kernel.grant(open, file_key(info), handle, bits);
        let granted = if allowed.contains(bits) {
            caching
        } else {
            tracing::debug!(open, ?bits, ?allowed, "kernel lease refused: less caching granted");
            g.core.handle_host_refused(OpenId(open), allowed).unwrap_or(GrantedCaching::None)
        };
        // Also the moment to take back leases this create made us let go of.
        g.cause = Cause::by("host", None, None);
        g.route();
        self.publish(&mut g);
        drop(g);
        self.wake_timer();
        granted
    }

    /// An SMB open of the file (device, inode) would break leases of ours (the file
    /// system said `LeaseHeld`): they go, so the open can be tried again. Returns whether
    /// any was ours (if not, another process holds the lease).
    ///
    /// An open through the file's shared description (it reopens it read-write) breaks
    /// nothing here: a write lease on the new description covers every holder. Otherwise
    /// (the same file through another share) the holders are broken at once down to what
    /// the kernel will protect once this open (for writing if `write`) has its own
    /// descriptor — to none unless read leases stay possible — so they see one break, not
    /// a break to Level II and then another. Nothing is broken here for an open the
    /// sharing check will refuse or a stat open (the lock core decides those as without
    /// kernel oplocks); the file's leases are taken back once the create is decided.
    pub fn kernel_yield(&self, y: KernelYield) -> bool {
        let file = FileKey { device: y.dev, inode: y.ino };
        let mut g = self.at_file(file);
        let ours = g.kernel.yield_file(file);
        if ours {
            tracing::debug!(dev = y.dev, ino = y.ino, "kernel leases let go for an SMB open of the file");
            g.kernel.opening(y.open, file);
        }
        // Through a shared description the open only reopens it read-write, and a write
        // lease on the new one covers every holder again: nothing to break before.
        let judged_later = g.kernel.shared(file)
            || opportune_locks::share_mode::is_stat_open(y.access)
            || !g.core.would_share(file, y.access, y.share);
        if ours && !judged_later {
            let access = if g.kernel.readable_after(file, y.write) { HostAccess::Read } else { HostAccess::Write };
            g.cause = Cause::by("open", None, None);
            let now = g.clock.now();
            g.core.handle_host_open(now, file, access);
            g.route();
            self.publish(&mut g);
        }
        drop(g);
        self.wake_timer();
        ours
    }

    /// A create reopened the shared description of its file read-write (`Opened::reopened`):
    /// the lease and the OFD locks of the old description are gone. The locks are taken
    /// again at once; the lease with the next settle (a write lease now).
    pub fn reopened(&self, handle: &opportune_fs::Handle, file: FileKey) {
        let mut g = self.at_file(file);
        let g = &mut *g;
        g.kernel.reopened(handle);
        g.host.reopened(&g.core, handle);
        g.cause = Cause::by("host", None, None);
        g.route();
        self.publish(g);
    }

    /// The last handle writing through a shared description closes (after `close_id`):
    /// the description becomes read-only again (`Handle::stop_writing`), so that read-only
    /// caching is covered by a read lease, which a local reader does not break. Our lease
    /// goes first; the reopen runs outside the mutex; then, as after any reopen
    /// ([`Locking::reopened`]), the other opens' OFD locks are taken again and the lease
    /// with the next settle.
    ///
    /// Not while another open of the file holds an exclusive byte-range lock: through a
    /// read-only description the kernel takes only read locks, so the lock would let local
    /// readers in. The description then stays read-write until the last open goes.
    pub fn stop_writing(&self, handle: &opportune_fs::Handle) {
        // The file's shard (a stat outside any mutex; this is rare: the last writer of a
        // file others still have open).
        let Ok(info) = handle.info() else { return };
        let file = file_key(&info);
        {
            let mut g = self.at_file(file);
            let opens = g.kernel.opens_sharing(handle);
            if opens.iter().any(|o| g.core.locks_of(OpenId(*o)).iter().any(|l| l.exclusive)) {
                return;
            }
            g.kernel.let_go_of(handle);
        }
        match crate::offload::blocking(|| handle.stop_writing()) {
            Ok(true) => tracing::debug!(rel = %handle.rel_path(), "shared description read-only again: no open writes"),
            Ok(false) => {}
            Err(e) => tracing::debug!(rel = %handle.rel_path(), error = %e, "shared description stays read-write"),
        }
        self.reopened(handle, file);
        self.wake_timer();
    }

    /// The create of `open` met another process's lease: it waits (STATUS_PENDING) and is
    /// started over from the path lookup (`CreateOutcome::Restart`) as the kernel breaks
    /// that lease, given up (SHARING_VIOLATION) after the kernel's lease-break-time.
    /// False when too many creates wait already (in the shard of the file (`dev`, `ino`)
    /// whose lease it met).
    pub fn kernel_wait(&self, conn: u64, open: u64, dev: u64, ino: u64) -> bool {
        let mut g = self.at_file(FileKey { device: dev, inode: ino });
        let now = g.clock.now();
        let ok = g.kernel.wait(open, now);
        if ok {
            g.own(open, Owner::Conn(conn));
        }
        drop(g);
        self.wake_timer();
        ok
    }

    /// The create of `open` no longer waits for a host lease (it went on); `failed`: its
    /// open failed, so it is decided too.
    pub fn kernel_waited(&self, open: u64, failed: bool) {
        // A create the adapter knows (waiting, or admitted) is in its shard; one it does
        // not may have made a shard let go of leases (`kernel_yield`): every shard.
        let known = self.index.get(open);
        let shards = match known {
            Some(i) => i..i + 1,
            None if failed => 0..SHARDS,
            None => 0..0,
        };
        for i in shards {
            let mut g = self.shard(i);
            g.kernel.waited(open);
            if failed {
                g.kernel.decided(open);
                g.route();
            }
        }
    }

    /// Kernel lease breaks read from the signalfd: the SMB holders are broken as for an
    /// SMB contender, the leases come down once they have (or at the deadline).
    pub fn kernel_notes(&self, notes: &[opportune_fs::kernel_lease::LeaseNote]) {
        // A note names a descriptor: the shard whose file it is finds it.
        for i in 0..SHARDS {
            let mut g = self.shard(i);
            let now = g.clock.now();
            g.cause = Cause::by("host", None, None);
            let mut any = false;
            for &note in notes {
                for (file, access) in g.kernel.noted(note) {
                    tracing::info!(?file, ?access, "kernel lease break: a host process opens the file");
                    g.core.handle_host_open(now, file, access);
                    g.kernel.broken(file, access, now);
                    any = true;
                }
            }
            if any {
                g.route();
                self.publish(&mut g);
            }
        }
        self.wake_timer();
    }

    /// Kernel oplocks are on: the driver reads the lease-break signals (the signals must be
    /// blocked in every thread: `opportune_fs::kernel_lease::block_lease_signals`) and
    /// hands them to [`Locking::kernel_notes`]; until this is called no lease is taken.
    pub fn kernel_leases_ready(&self) {
        for i in 0..SHARDS {
            self.shard(i).kernel.active = true;
        }
    }
}
