//! The server's side of the lock core: one `LockCore` behind a mutex, fed with the
//! current time. Its events are routed to the connection tasks they concern (breaks to
//! the holder's connection, completions to the waiting request's connection); a timer
//! task wakes it for break timeouts. Nothing awaits while the mutex is held.

use opportune_fs::FileInfo;
use opportune_locks::{
    ClientGuid, CloseOutcome, Config, ConnId, CreateOutcome, CreatePolicy, CreateRequest, Event, FileKey, LeaseKey,
    LockCore, LockElement, LockOutcome, OpenId, RequestId, RequestedCaching,
};
use opportune_types::{AccessMask, NtStatus, ShareAccess};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};
use crate::durable::Parked;

mod contention;

pub type EventSender = mpsc::UnboundedSender<ConnEvent>;

/// What reaches a connection task from outside its own requests.
#[derive(Debug)]
pub enum ConnEvent {
    Lock(Event),
    /// A change under a directory this connection watches (CHANGE_NOTIFY).
    Change(crate::notify::Change),
    /// A pending CHANGE_NOTIFY ends with this status (cancelled, or its handle closed).
    NotifyDone { open: u64, status: NtStatus },
    /// The client re-established this session on another connection (PreviousSessionId).
    ExpireSession { session: u64 },
    /// A message prepared earlier (a delayed break notification) to send now.
    Send(Vec<u8>),
    /// The server closed this open on its own (another client took over its
    /// AppInstanceId); `delete_file` asks for its delete-on-close to be carried out.
    ForceClose { open: u64, delete_file: bool },
    /// Another request waits on, or was refused by, this connection's byte-range locks
    /// or share modes: check that the peer is alive (`link_watch`).
    Probe { why: &'static str },
}

pub struct Locking {
    inner: Mutex<Inner>,
    /// Wakes the timer task when a new deadline may be earlier than the one it sleeps on.
    timer: Notify,
}

struct Inner {
    core: LockCore,
    /// Where each connection's events go.
    routes: HashMap<u64, EventSender>,
    /// Which connection owns each open the core knows.
    owners: HashMap<u64, u64>,
    /// Share index and on-disk relative path of each open the server completed, for the
    /// rename checks that concern other opens by name (opens below a directory).
    paths: HashMap<u64, (usize, String)>,
    /// Connection.ClientGuid of connections that opened files, for lease break routing.
    clients: HashMap<u64, [u8; 16]>,
    /// Durable opens whose connection is gone, by open id (= FileId.Persistent).
    parked: HashMap<u64, Parked>,
    /// Open.AppInstanceId and the ClientGuid of its client, for opens that have one.
    app_instances: HashMap<u64, ([u8; 16], [u8; 16])>,
    /// The client address of each connection, for `opportune status`.
    peers: HashMap<u64, std::net::SocketAddr>,
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
    pub conn: u64,
    pub share: usize,
    pub path: String,
    /// R/W/H caching bits, and whether they are a lease's.
    pub bits: u32,
    pub lease: bool,
    pub breaking: bool,
    /// For a disconnected durable handle: how long it is kept still.
    pub expires_in: Option<Duration>,
}

/// The owner of parked durable opens in the lock core: no connection has this id, so
/// nothing is ever sent to it; breaks addressed to it purge the open instead.
const PARKED: u64 = u64::MAX;

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
    /// Connection.ClientGuid (zero before SMB 2.1).
    pub client: [u8; 16],
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
    pub fn new(break_timeout: Duration) -> Locking {
        let config = Config { break_timeout, ..Config::default() };
        let inner = Inner {
            core: LockCore::new(config),
            routes: HashMap::new(),
            owners: HashMap::new(),
            paths: HashMap::new(),
            clients: HashMap::new(),
            parked: HashMap::new(),
            app_instances: HashMap::new(),
            peers: HashMap::new(),
        };
        Locking { inner: Mutex::new(inner), timer: Notify::new() }
    }

    /// Runs `f` on the core, then routes the events it produced.
    fn with<R>(&self, f: impl FnOnce(&mut LockCore, Instant) -> R) -> R {
        let mut g = self.lock();
        let r = f(&mut g.core, Instant::now());
        g.route();
        drop(g);
        self.timer.notify_one();
        r
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock would be a bug in the core; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register_connection(&self, conn: u64, peer: std::net::SocketAddr, tx: EventSender) {
        let mut g = self.lock();
        g.routes.insert(conn, tx);
        g.peers.insert(conn, peer);
    }

    /// The connections now registered.
    pub fn connection_count(&self) -> usize {
        self.lock().peers.len()
    }

    /// A snapshot of the opens, their caching and the waiting operations.
    pub fn report(&self) -> Report {
        let g = self.lock();
        let now = Instant::now();
        let mut opens: Vec<OpenRow> = g
            .paths
            .iter()
            .filter_map(|(id, (share, path))| {
                let c = g.core.caching_of(OpenId(*id))?;
                Some(OpenRow {
                    open: *id,
                    conn: g.owners.get(id).copied().unwrap_or(PARKED),
                    share: *share,
                    path: path.clone(),
                    bits: c.bits,
                    lease: c.lease.is_some(),
                    breaking: c.breaking,
                    expires_in: g.parked.get(id).map(|p| p.deadline.saturating_duration_since(now)),
                })
            })
            .collect();
        opens.sort_by_key(|o| o.open);
        Report { opens, waiting: g.core.deferred_count(), peers: g.peers.clone() }
    }

    /// Delivers an event to a connection task (dropped if the connection is gone).
    pub fn send_to(&self, conn: u64, ev: ConnEvent) {
        if let Some(tx) = self.lock().routes.get(&conn) {
            let _ = tx.send(ev);
        }
    }

    /// Share modes, delete-pending and caching for a new open (MS-FSA 2.1.5.1.2).
    pub fn admit_open(&self, info: &FileInfo, a: Admission) -> CreateOutcome {
        let req = CreateRequest {
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
        let mut g = self.lock();
        g.owners.insert(a.open, a.conn);
        if a.client != [0; 16] {
            g.clients.insert(a.conn, a.client);
        }
        let outcome = g.core.handle_create(Instant::now(), req);
        if outcome == CreateOutcome::Denied(NtStatus::SHARING_VIOLATION) {
            let blockers = g.core.share_blockers(req.file, req.access, req.share);
            g.probe_share_blockers(a.open, blockers);
        }
        if let CreateOutcome::Denied(_) = outcome {
            g.owners.remove(&a.open);
        }
        g.route();
        drop(g);
        self.timer.notify_one();
        outcome
    }

    pub fn cancel_create(&self, conn: u64, open: u64) {
        let cancelled = self.with(|c, _| c.handle_cancel_create(OpenId(open)));
        if cancelled {
            let g = self.lock();
            if let Some(tx) = g.routes.get(&conn) {
                let _ = tx.send(ConnEvent::Lock(Event::CompleteCreate {
                    open: OpenId(open),
                    outcome: CreateOutcome::Denied(NtStatus::CANCELLED),
                }));
            }
        }
    }


    /// Drops an open the core admitted (also one the server could not complete).
    pub fn close_id(&self, open: u64) -> CloseOutcome {
        let outcome = self.with(|c, now| c.handle_close(now, OpenId(open)));
        let mut g = self.lock();
        g.forget(open);
        drop(g);
        outcome.unwrap_or(CloseOutcome { file: FileKey { device: 0, inode: 0 }, delete_file: false, delete_base: false })
    }

    pub fn check_io(&self, open: u64, offset: u64, length: u64, write: bool) -> Result<(), NtStatus> {
        let g = self.lock();
        let r = g.core.check_io(OpenId(open), offset, length, write);
        if r == Err(NtStatus::FILE_LOCK_CONFLICT) {
            g.probe_io_blockers(open, offset, length, write);
        }
        r
    }

    /// A write by `open`: read caches of the others are broken before it is answered.
    pub fn written(&self, open: u64) {
        self.with(|c, now| c.handle_write(now, OpenId(open)));
    }

    /// A size change (end of file, allocation, overwrite).
    pub fn truncated(&self, open: u64) {
        self.with(|c, now| c.handle_truncate(now, OpenId(open)));
    }

    pub fn set_delete_pending(&self, open: u64, delete: bool) -> Result<(), NtStatus> {
        self.with(|c, _| c.handle_set_delete_on_close(OpenId(open), delete))
    }

    /// How many opens the file has now (for the oplock contention limit).
    pub fn open_count(&self, info: &FileInfo) -> usize {
        self.lock().core.opens_of(file_key(info)).len()
    }

    pub fn is_delete_pending(&self, info: &FileInfo) -> bool {
        self.lock().core.is_delete_pending(file_key(info))
    }

    pub fn lock_range(&self, open: u64, request: u64, elements: &[LockElement]) -> LockOutcome {
        let outcome = self.with(|c, now| c.handle_lock(now, OpenId(open), RequestId(request), elements));
        self.lock().probe_lock_blockers(open, elements, outcome);
        outcome
    }

    pub fn cancel_lock(&self, request: u64) {
        self.with(|c, _| c.handle_cancel_lock(RequestId(request)));
    }

    pub fn ack_oplock(&self, open: u64, level: u8) -> Result<u8, NtStatus> {
        self.with(|c, now| c.handle_oplock_break_ack(now, OpenId(open), level))
    }

    pub fn ack_lease(&self, client: [u8; 16], key: [u8; 16], state: u32) -> Result<u32, NtStatus> {
        self.with(|c, now| c.handle_lease_break_ack(now, ClientGuid(client), LeaseKey(key), state))
    }

    /// The connection is gone: its opens were closed one by one; waiting creates go too.
    pub fn disconnect(&self, conn: u64) {
        self.with(|c, now| c.handle_disconnect(now, ConnId(conn)));
        let mut g = self.lock();
        g.routes.remove(&conn);
        g.clients.remove(&conn);
        g.peers.remove(&conn);
        let gone: Vec<u64> = g.owners.iter().filter(|(_, c)| **c == conn).map(|(o, _)| *o).collect();
        for o in gone {
            g.forget(o);
        }
    }

    /// Fires due break timeouts; returns when the core next needs waking.
    pub fn tick(&self) -> Option<Instant> {
        let mut g = self.lock();
        let waiting = g.core.deferred_count();
        let now = Instant::now();
        g.core.handle_timeout(now);
        let decided = waiting.saturating_sub(g.core.deferred_count());
        if decided > 0 {
            tracing::warn!(decided, "break timeout: waiting requests proceed without the holders' acknowledgment");
        }
        let expired: Vec<u64> = g.parked.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
        for id in expired {
            g.purge(id, "durable handle expired");
        }
        g.route();
        let parked = g.parked.values().map(|p| p.deadline).min();
        g.core.poll_timeout().into_iter().chain(parked).min()
    }

    /// The timer task: sleeps until the core's next deadline or until poked.
    pub async fn run_timer(&self) {
        loop {
            let next = self.tick();
            match next {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at.into()) => {}
                        () = self.timer.notified() => {}
                    }
                }
                None => self.timer.notified().await,
            }
        }
    }
}

impl Inner {
    /// Drops what the server layer records of a closed open (owner, path, AppInstanceId);
    /// returns the connection that owned it.
    fn forget(&mut self, id: u64) -> Option<u64> {
        self.paths.remove(&id);
        self.app_instances.remove(&id);
        self.owners.remove(&id)
    }

    /// Closes a parked durable open for good: in the lock core (waiters may proceed),
    /// its delete-on-close, its descriptor.
    fn purge(&mut self, id: u64, why: &'static str) {
        let Some(p) = self.parked.remove(&id) else { return };
        let outcome = self.core.handle_close(Instant::now(), OpenId(id));
        self.forget(id);
        let rel = p.open.handle.rel_path();
        tracing::info!(open = id, path = ?rel, "{why}");
        if outcome.is_some_and(|o| o.delete_file)
            && let Err(e) = p.fs.remove(&rel, p.open.is_dir)
        {
            tracing::info!(open = id, path = ?rel, error = %e, "delete on close failed");
        }
    }

    /// Sends each pending event to the connection it concerns.
    fn route(&mut self) {
        while let Some(e) = self.core.poll_event() {
            if let Event::SendOplockBreak { open, .. } = e
                && self.parked.contains_key(&open.0)
            {
                self.purge(open.0, "durable handle purged: an oplock break is due");
                continue;
            }
            if let Event::SendLeaseBreak { lease, .. } = e {
                // Every open under the lease is disconnected: nobody can acknowledge, they
                // go (MS-SMB2 3.3.4.7). Decided by the opens, not by whether the target
                // connection is still registered: it may be in the middle of going away.
                let opens = self.core.lease_opens(lease);
                if !opens.is_empty() && opens.iter().all(|o| self.parked.contains_key(&o.0)) {
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
                Event::SendLeaseBreak { conn, lease, .. } => Some(
                    self.clients
                        .iter()
                        .filter(|(c, g)| **g == lease.client.0 && self.routes.contains_key(c))
                        .map(|(c, _)| *c)
                        .min()
                        .unwrap_or(conn.0),
                ),
                Event::CompleteCreate { open, outcome } => {
                    let c = self.owners.get(&open.0).copied();
                    if matches!(outcome, CreateOutcome::Denied(_) | CreateOutcome::Restart) {
                        self.owners.remove(&open.0);
                    }
                    c
                }
                Event::CompleteLock { open, .. } | Event::CompleteRename { open, .. } => self.owners.get(&open.0).copied(),
            };
            tracing::debug!(event = ?e, conn = ?conn, "lock core event");
            if let Some(tx) = conn.and_then(|c| self.routes.get(&c)) {
                let _ = tx.send(ConnEvent::Lock(e));
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
        let mut g = self.lock();
        let breaking = g.core.caching_of(OpenId(id)).is_none_or(|c| c.breaking);
        if breaking {
            return Err(Box::new(p));
        }
        g.core.end_pending_locks(OpenId(id), NtStatus::RANGE_NOT_LOCKED);
        g.route();
        g.core.move_open(OpenId(id), ConnId(PARKED));
        g.owners.insert(id, PARKED);
        tracing::info!(open = id, path = ?p.open.handle.rel_path(), timeout = ?p.durable.timeout, "durable handle disconnected");
        g.parked.insert(id, p);
        drop(g);
        self.timer.notify_one();
        Ok(())
    }

    /// Whether `open` is live on a connection other than `conn` (not parked, not closed).
    pub fn live_elsewhere(&self, open: u64, conn: u64) -> bool {
        self.lock().owners.get(&open).is_some_and(|c| *c != conn && *c != PARKED)
    }

    /// The lease key of an open's lease, if its caching is a lease.
    pub fn lease_key_of(&self, open: u64) -> Option<[u8; 16]> {
        self.lock().core.caching_of(OpenId(open))?.lease.map(|l| l.key.0)
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
        let mut g = self.lock();
        check(g.parked.get(&persistent).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?)?;
        let p = g.parked.remove(&persistent).ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        let id = OpenId(persistent);
        g.core.move_open(id, ConnId(conn));
        g.owners.insert(persistent, conn);
        if client != [0; 16] {
            g.clients.insert(conn, client);
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
        self.lock().app_instances.insert(open, (app, client));
    }

    /// Closes the opens of the file `info` that carry `app` and belong to another client,
    /// before a create with that AppInstanceId is admitted.
    pub fn close_app_instance(&self, info: &FileInfo, app: [u8; 16], client: [u8; 16]) {
        let mut g = self.lock();
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
            let outcome = g.core.handle_close(Instant::now(), OpenId(id));
            let conn = g.forget(id);
            tracing::info!(open = id, ?conn, "open closed: its AppInstanceId was opened again by another client");
            if let Some(tx) = conn.and_then(|c| g.routes.get(&c)) {
                let delete_file = outcome.is_some_and(|o| o.delete_file);
                let _ = tx.send(ConnEvent::ForceClose { open: id, delete_file });
            }
        }
        g.route();
    }
}

/// Paths and renames: what the lock core does not know about files.
impl Locking {
    /// Records where a completed open lives (share, on-disk relative path).
    pub fn set_path(&self, open: u64, share: usize, rel: &str) {
        self.lock().paths.insert(open, (share, rel.to_string()));
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
        let g = self.lock();
        let Some((share, from)) = g.paths.get(&open).cloned() else { return Ok(()) };
        // The target's parent, spelled on disk when it is the source's parent.
        let comps = target.components();
        let parent_client = comps[..comps.len().saturating_sub(1)].join("/");
        let src_parent = from.rfind('/').map_or("", |i| &from[..i]);
        let parent_rel = if parent_client.to_lowercase() == src_parent.to_lowercase() {
            src_parent.to_string()
        } else {
            parent_client
        };
        if let Ok(info) = fs.stat(&parent_rel) {
            let add_file = AccessMask(AccessMask::FILE_WRITE_DATA | AccessMask::SYNCHRONIZE);
            let share_rw = ShareAccess(ShareAccess::READ | ShareAccess::WRITE);
            if !g.core.would_share(file_key(&info), add_file, share_rw) {
                return Err(NtStatus::SHARING_VIOLATION);
            }
        }
        let prefix = format!("{from}/");
        if g.paths.iter().any(|(o, (s, p))| *o != open && *s == share && p.starts_with(&prefix)) {
            return Err(NtStatus::ACCESS_DENIED);
        }
        Ok(())
    }

    /// A rename by `open` may have to wait for handle caching of other opens to be
    /// broken (MS-FSA 2.1.5.14.11 → 2.1.4.12); `request` names the deferred operation.
    pub fn begin_rename(&self, open: u64, request: u64) -> opportune_locks::RenameOutcome {
        self.with(|c, now| c.handle_rename(now, OpenId(open), RequestId(request)))
    }

    /// The file behind `open` now lives at `new_rel`: every open of the old path follows.
    pub fn renamed(&self, open: u64, new_rel: &str) {
        let mut g = self.lock();
        let Some((share, from)) = g.paths.get(&open).cloned() else { return };
        for (s, p) in g.paths.values_mut() {
            if *s == share && *p == from {
                *p = new_rel.to_string();
            }
        }
    }
}
