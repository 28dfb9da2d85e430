//! The server's side of the lock core: one `LockCore` behind a mutex, fed with the
//! current time, its outcomes translated for the handlers. Nothing here awaits while
//! the mutex is held.

use crate::open::Open;
use opportune_fs::FileInfo;
use opportune_locks::{
    CloseOutcome, Config, ConnId, CreateOutcome, CreatePolicy, CreateRequest, Event, FileKey, LockCore, LockElement,
    LockOutcome, OpenId, RequestId, RequestedCaching,
};
use opportune_types::{AccessMask, NtStatus, ShareAccess};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub struct Locking {
    core: Mutex<LockCore>,
}

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
}

pub fn file_key(info: &FileInfo) -> FileKey {
    FileKey { device: info.dev, inode: info.file_id }
}

impl Locking {
    pub fn new(break_timeout: Duration) -> Locking {
        let config = Config { break_timeout, ..Config::default() };
        Locking { core: Mutex::new(LockCore::new(config)) }
    }

    fn core(&self) -> MutexGuard<'_, LockCore> {
        // A panic while holding the lock would be a bug in the core; keep serving.
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Share modes, delete-pending and caching for a new open (MS-FSA 2.1.5.1.2).
    pub fn admit(&self, info: &FileInfo, a: Admission) -> (CreateOutcome, Vec<Event>) {
        let mut core = self.core();
        let outcome = core.handle_create(
            Instant::now(),
            CreateRequest {
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
            },
        );
        (outcome, drain(&mut core))
    }

    pub fn close(&self, _conn: u64, open: &Open) -> CloseOutcome {
        let mut core = self.core();
        let outcome = core.handle_close(Instant::now(), OpenId(open.file_id.volatile));
        drain(&mut core);
        outcome.unwrap_or(CloseOutcome { file: FileKey { device: 0, inode: 0 }, delete_file: false })
    }

    /// Drops an open the core admitted but the server could not complete.
    pub fn forget(&self, open: u64) {
        let mut core = self.core();
        core.handle_close(Instant::now(), OpenId(open));
        drain(&mut core);
    }

    pub fn check_io(&self, _conn: u64, open: u64, offset: u64, length: u64, write: bool) -> Result<(), NtStatus> {
        self.core().check_io(OpenId(open), offset, length, write)
    }

    /// A write or size change by `open`: read caches of others are broken first.
    pub fn written(&self, _conn: u64, open: u64) {
        let mut core = self.core();
        core.handle_write(Instant::now(), OpenId(open));
        drain(&mut core);
    }

    pub fn check_rename(
        &self,
        _conn: u64,
        _open: u64,
        _fs: &opportune_fs::Share,
        _target: &opportune_fs::SmbPath,
    ) -> Result<(), NtStatus> {
        Ok(())
    }

    pub fn renamed(&self, _conn: u64, _open: u64, _new_rel: &str) {}

    pub fn set_delete_pending(&self, _conn: u64, open: u64, delete: bool) -> Result<(), NtStatus> {
        self.core().handle_set_delete_on_close(OpenId(open), delete)
    }

    pub fn is_delete_pending(&self, info: &FileInfo) -> bool {
        self.core().is_delete_pending(file_key(info))
    }

    pub fn lock(&self, open: u64, request: u64, elements: &[LockElement]) -> LockOutcome {
        let mut core = self.core();
        let outcome = core.handle_lock(Instant::now(), OpenId(open), RequestId(request), elements);
        drain(&mut core);
        outcome
    }

    pub fn disconnect(&self, conn: u64) {
        let mut core = self.core();
        core.handle_disconnect(Instant::now(), ConnId(conn));
        drain(&mut core);
    }
}

/// Events of this call. Until oplocks and leases are granted nothing needs routing
/// between connections; they are logged so a regression would show.
fn drain(core: &mut LockCore) -> Vec<Event> {
    let mut v = Vec::new();
    while let Some(e) = core.poll_event() {
        tracing::debug!(event = ?e, "lock core event");
        v.push(e);
    }
    v
}
