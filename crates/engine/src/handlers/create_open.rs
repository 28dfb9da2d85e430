//! The open behind a CREATE, in stages that can wait for oplock and lease breaks
//! (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1): admission by the lock core (share modes,
//! delete-pending, caching), the file-system open, and the response.

use super::reply::Reply;
use crate::conn_state::ConnState;
use crate::create_plan::{CreateExtras, CreatePlan};
use crate::deferred_create::{DeferredCreate, Stage};
use crate::locking::{Admission, Changer};
use crate::meta::file_meta;
use crate::notify::{action, filter};
use crate::open::{DirSearch, Open};
use crate::security::{self, Descriptor};
use crate::server::ServerState;
use opportune_fs::{CreateParams, FileInfo, Opened};
use crate::policy::{caching_policy, CreateFacts};
use opportune_locks::{ClientGuid, CreateOutcome, GrantedCaching, LeaseKey, LeaseState, OplockLevel, RequestedCaching};
use opportune_types::create::{options, CreateAction, CreateDisposition};
use opportune_types::{FileAttributes, FileId, NtStatus};
use opportune_wire::create::{context_name, encode_contexts, CreateResponse, LeaseContext};
use opportune_wire::cursor::Put;
use opportune_wire::header::Header;
use std::sync::Arc;

pub enum Step {
    Done(Reply, Option<FileId>),
    /// Boxed: it is kept in the request's pending record (`PendingOp::create`).
    Wait(Box<DeferredCreate>),
}

/// Runs a new create; a create that must wait is parked on the connection and answered
/// with STATUS_PENDING.
pub fn start(server: &ServerState, conn: &mut ConnState, hdr: &Header, plan: CreatePlan) -> (Reply, Option<FileId>) {
    match begin(server, conn, hdr, plan) {
        Step::Done(reply, id) => (reply, id),
        Step::Wait(d) => (Reply::pending_create(d), None),
    }
}

/// Continues a parked create with the lock core's decision.
pub fn resume(server: &ServerState, conn: &mut ConnState, hdr: &Header, d: DeferredCreate, outcome: CreateOutcome) -> Step {
    match (outcome, d.stage) {
        (CreateOutcome::Granted { caching }, Stage::Probed) => open_file(server, conn, hdr, d.plan, Some(caching)),
        (CreateOutcome::Granted { caching }, Stage::Opened(opened, info)) => {
            finish(server, conn, hdr, d.plan, *opened, info, caching)
        }
        (CreateOutcome::Denied(status), stage) => {
            if let Stage::Opened(opened, info) = stage {
                discard(server, &d.plan, &opened, &info);
            }
            Step::Done(Reply::error(status), None)
        }
        (CreateOutcome::Restart, _) => begin(server, conn, hdr, d.plan),
        (CreateOutcome::Deferred, stage) => Step::Wait(Box::new(DeferredCreate { plan: d.plan, stage })),
    }
}

fn begin(server: &ServerState, conn: &mut ConnState, hdr: &Header, mut plan: CreatePlan) -> Step {
    let Some(share) = server.shares.get(plan.share).map(|s| s.fs.clone()) else {
        return Step::Done(Reply::error(NtStatus::NETWORK_NAME_DELETED), None);
    };
    // MS-FSA 2.1.5.1.2: sharing is decided before an existing file is truncated, so an
    // overwrite that will be refused, or must wait for a break, never destroys data.
    if plan.truncating {
        let probe = CreateParams { disposition: CreateDisposition::Open, write: false, ..plan.params };
        let probed = match share.create(&plan.path, &probe) {
            Ok(existing) => Some(existing),
            // Nothing to truncate (the create makes the file, or fails as it would), or a
            // kernel lease that `open_file` waits for or lets go before it opens.
            Err(opportune_fs::FsError::NotFound | opportune_fs::FsError::LeaseHeld { .. }) => None,
            // Anything else refuses the create before anything is truncated.
            Err(e) => return Step::Done(Reply::error(e.status()), None),
        };
        if let Some(existing) = probed {
            let info = match existing.info() {
                Ok(i) => i,
                Err(e) => return Step::Done(Reply::error(e.status()), None),
            };
            if let Err(status) = crate::access_check::on_create(server, &mut plan, &existing, &info) {
                return Step::Done(Reply::error(status), None);
            }
            return match admit(server, conn, &plan, &info, true) {
                CreateOutcome::Granted { caching } => open_file(server, conn, hdr, plan, Some(caching)),
                CreateOutcome::Denied(status) => Step::Done(Reply::error(status), None),
                _ => Step::Wait(Box::new(DeferredCreate { plan, stage: Stage::Probed })),
            };
        }
    }
    open_file(server, conn, hdr, plan, None)
}

/// The file-system open, then admission unless it already happened.
fn open_file(
    server: &ServerState,
    conn: &mut ConnState,
    hdr: &Header,
    mut plan: CreatePlan,
    admitted: Option<GrantedCaching>,
) -> Step {
    let Some(share) = server.shares.get(plan.share).map(|s| s.fs.clone()) else {
        return Step::Done(Reply::error(NtStatus::NETWORK_NAME_DELETED), None);
    };
    // Truncating or preallocating may wait for the disk (MS-FSA 2.1.5.1.2.1).
    let may_wait = plan.truncating || plan.params.allocation_size > 0;
    let create = || share.create(&plan.path, &plan.params);
    let opened = match crate::offload::blocking_if(may_wait, create) {
        // The open would break a kernel lease of ours (kernel oplocks): it goes, try again.
        Err(opportune_fs::FsError::LeaseHeld { dev, ino }) if server.locks.kernel_yield(kernel_yield(&plan, dev, ino)) => {
            crate::offload::blocking_if(may_wait, create)
        }
        r => r,
    };
    // Another process's lease, which the kernel is breaking: wait and start over.
    if let Err(opportune_fs::FsError::LeaseHeld { dev, ino }) = opened
        && admitted.is_none()
        && server.locks.kernel_wait(conn.id, plan.open, dev, ino)
    {
        return Step::Wait(Box::new(DeferredCreate { plan, stage: Stage::Probed }));
    }
    if server.config.kernel_oplocks {
        server.locks.kernel_waited(plan.open, opened.is_err());
    }
    let opened = match opened {
        Ok(o) => o,
        Err(e) => {
            if admitted.is_some() {
                server.locks.close_id(plan.open);
            }
            return Step::Done(Reply::error(e.status()), None);
        }
    };
    let info = match opened.info() {
        Ok(i) => i,
        Err(e) => return Step::Done(Reply::error(e.status()), None),
    };
    if opened.reopened {
        // A writer joined a file whose shared description was read-only (kernel oplocks).
        server.locks.reopened(&opened.handle, crate::locking::file_key(&info));
    }
    if let Err(status) = crate::access_check::on_create(server, &mut plan, &opened, &info) {
        if admitted.is_some() {
            server.locks.close_id(plan.open);
        }
        discard(server, &plan, &opened, &info);
        return Step::Done(Reply::error(status), None);
    }
    let caching = match admitted {
        Some(c) => c,
        None => match admit(server, conn, &plan, &info, false) {
            CreateOutcome::Granted { caching } => caching,
            CreateOutcome::Denied(status) => {
                discard(server, &plan, &opened, &info);
                return Step::Done(Reply::error(status), None);
            }
            _ => return Step::Wait(Box::new(DeferredCreate { plan, stage: Stage::Opened(Box::new(opened), info) })),
        },
    };
    finish(server, conn, hdr, plan, opened, info, caching)
}

fn kernel_yield(plan: &CreatePlan, dev: u64, ino: u64) -> crate::locking::KernelYield {
    let (open, write, access, share) = (plan.open, plan.params.write, plan.access, plan.share_access);
    crate::locking::KernelYield { dev, ino, open, write, access, share }
}

/// Kernel oplocks (`locking/kernel.rs`): the caching just granted to a file open on a
/// share with `kernel_oplocks` (and the server's) gets its Linux lease before the CREATE
/// is answered, or comes down to what the kernel allows. Directories and named streams
/// keep what they got: the kernel leases regular files only, and no host process opens
/// a stream.
fn kernel_grant(
    server: &ServerState,
    share: usize,
    open: u64,
    info: &FileInfo,
    handle: &Arc<opportune_fs::Handle>,
    caching: GrantedCaching,
) -> GrantedCaching {
    let on = server.config.kernel_oplocks && server.shares.get(share).is_some_and(|s| s.caching.kernel_oplocks);
    if !on || info.is_dir || info.stream != 0 {
        return caching;
    }
    server.locks.kernel_grant(open, info, handle, caching)
}

/// A refused create leaves nothing behind: a file it created is removed again.
fn discard(server: &ServerState, plan: &CreatePlan, opened: &Opened, info: &FileInfo) {
    if opened.action == CreateAction::Created
        && let Some(s) = server.shares.get(plan.share)
    {
        let _ = s.fs.remove(&opened.rel_path, info.is_dir);
        if let Some(q) = s.quota.get().filter(|_| info.stream == 0) {
            q.removed((info.dev, info.file_id));
        }
    }
}

fn admit(server: &ServerState, conn: &ConnState, plan: &CreatePlan, info: &FileInfo, truncating: bool) -> CreateOutcome {
    let client = conn.client_guid();
    if let Some(app) = plan.app_instance {
        // MS-SMB2 3.3.5.9.13: the previous instance's opens go before this one is judged.
        server.locks.close_app_instance(info, app, client);
    }
    let requested = match plan.lease {
        Some(l) => RequestedCaching::Lease {
            client: ClientGuid(client),
            key: LeaseKey(l.key),
            state: LeaseState::from_wire(l.state),
            parent: l.parent.map(LeaseKey),
            epoch: l.epoch,
        },
        None => match OplockLevel::from_wire(plan.oplock_level) {
            Some(level @ (OplockLevel::LevelII | OplockLevel::Exclusive | OplockLevel::Batch)) => RequestedCaching::Oplock(level),
            _ => RequestedCaching::None,
        },
    };
    let facts = CreateFacts {
        file_name: plan.path.file_name().unwrap_or(""),
        leases_possible: conn.dialect() >= opportune_wire::negotiate::dialect::SMB210,
        link_suspended: conn.link.is_suspended(),
    };
    let caching = server.shares.get(plan.share).map(|s| s.caching.clone()).unwrap_or_default();
    let mut policy = caching_policy(&server.config, &caching, &facts);
    policy.directory_leases_allowed = info.is_dir && policy.leases_allowed && directory_lease_allowed(server, conn, plan, client);
    let a = Admission {
        conn: conn.id,
        open: plan.open,
        access: plan.access,
        share: plan.share_access,
        requested,
        truncating,
        delete_on_close: plan.create_options & options::FILE_DELETE_ON_CLOSE != 0,
        policy,
        contention_limit: caching.oplock_contention_limit,
        client,
        user: plan.user.clone(),
    };
    let outcome = server.locks.admit_open(info, a);
    match outcome {
        CreateOutcome::Denied(status) => {
            tracing::info!(conn = conn.id, peer = %conn.peer, name = ?plan.name, %status, "create denied");
        }
        CreateOutcome::Deferred => {
            tracing::info!(conn = conn.id, peer = %conn.peer, name = ?plan.name, open = plan.open, "create waits for breaks");
        }
        _ => {}
    }
    outcome
}

/// MS-SMB2 3.3.5.9.11: a directory lease needs directory leasing negotiated (SMB 3.x,
/// asked by the client, on here), a v2 lease request, and room in the client's budget (a client walking a tree gets no more
/// leases, while its opens still succeed).
fn directory_lease_allowed(server: &ServerState, conn: &ConnState, plan: &CreatePlan, client: [u8; 16]) -> bool {
    let Some(l) = plan.lease else { return false };
    let cfg = &server.config;
    let negotiated = conn.negotiated.as_ref().map_or(0, |n| n.server_capabilities);
    let cap = negotiated & opportune_wire::negotiate::capabilities::DIRECTORY_LEASING != 0;
    if !cfg.directory_leases || !cap || l.epoch.is_none() {
        return false;
    }
    let fits = server.locks.directory_lease_fits(client, l.key, cfg.max_directory_leases_per_client);
    if !fits {
        tracing::debug!(conn = conn.id, name = ?plan.name, "directory lease refused: the client's budget is spent");
    }
    fits
}

/// Handle caching: a lease with H, or a batch oplock.
fn caches_handle(caching: GrantedCaching) -> bool {
    match caching {
        GrantedCaching::Lease { state, .. } => state.contains(LeaseState::H),
        GrantedCaching::Oplock(level) => level == OplockLevel::Batch,
        _ => false,
    }
}

/// The last checks, the open table entry and the response.
fn finish(
    server: &ServerState,
    conn: &mut ConnState,
    hdr: &Header,
    plan: CreatePlan,
    opened: Opened,
    info: FileInfo,
    caching: GrantedCaching,
) -> Step {
    let readonly_file = !info.is_dir && info.attributes & FileAttributes::READONLY != 0;
    let delete_on_close = plan.create_options & options::FILE_DELETE_ON_CLOSE != 0;
    let refuse = if opened.action == CreateAction::Opened && readonly_file && plan.access.is_data_write() {
        Some(NtStatus::ACCESS_DENIED)
    } else if delete_on_close && readonly_file {
        Some(NtStatus::CANNOT_DELETE)
    } else {
        None
    };
    if let Some(status) = refuse {
        server.locks.close_id(plan.open);
        // A file this create made (FILE_CREATE of a READONLY file with
        // FILE_DELETE_ON_CLOSE) does not survive the refusal (smb2.delete-on-close-perms.READONLY).
        discard(server, &plan, &opened, &info);
        return Step::Done(Reply::error(status), None);
    }
    if let Err(status) = apply_extras(&plan.extras, &opened.handle, opened.action) {
        server.locks.close_id(plan.open);
        discard(server, &plan, &opened, &info);
        return Step::Done(Reply::error(status), None);
    }
    let file_id = FileId { persistent: plan.open, volatile: plan.open };
    let handle = Arc::new(opened.handle);
    let caching = kernel_grant(server, plan.share, plan.open, &info, &handle, caching);
    let (oplock_level, lease_ctx) = granted_caching(&plan, caching, info.is_dir);
    let lease_ctx_granted = lease_ctx.as_ref().is_some_and(|l| l.state != 0);
    let durable = grant_durable(conn, hdr, &plan, oplock_level, lease_ctx.as_ref(), info.is_dir);
    let contexts = response_contexts(&plan, &info, server, lease_ctx, durable.as_ref());
    tracing::debug!(conn = conn.id, peer = %conn.peer, name = ?plan.name, ?file_id, action = ?opened.action, ?caching, "create granted");
    server.locks.set_path(plan.open, plan.share, &opened.rel_path);
    if let Some(s) = server.shares.get(plan.share) {
        s.metrics.opens.increment(1);
    }
    if let Some(app) = plan.app_instance {
        let client = conn.client_guid();
        server.locks.set_app_instance(plan.open, app, client);
    }
    if info.is_dir && lease_ctx_granted {
        server.dir_leases.granted(&server.host_notify, plan.open, plan.share, &opened.rel_path, handle.host_fd());
    }
    if !info.is_dir && info.stream == 0 && caches_handle(caching) {
        server.host_names.granted(&server.host_notify, &server.locks, &server.shares, plan.open, plan.share, &opened.rel_path);
    }
    let mirrored = server.shares.get(plan.share).is_some_and(|s| s.caching.posix_locking && s.caching.locking);
    // Host locks need a host descriptor (none on the memory backend).
    if mirrored && !info.is_dir && info.stream == 0 && handle.host_fd().is_some() {
        server.locks.mirror_locks(plan.open, handle.clone());
    }
    let session_opens = conn.sessions.get(&hdr.session_id).map(|s| s.opens.clone()).unwrap_or_default();
    let ticket = server.fds.ticket(&session_opens, &conn.address_opens);
    conn.opens.insert(
        plan.open,
        Open {
            file_id,
            session_id: hdr.session_id,
            tree_id: hdr.tree_id,
            share: plan.share,
            handle,
            access: plan.access,
            is_dir: info.is_dir,
            delete_on_close,
            dir: DirSearch::default(),
            position: 0,
            mode: plan.create_options & (options::FILE_WRITE_THROUGH | options::FILE_SEQUENTIAL_ONLY),
            notify: Default::default(),
            pending_rename: None,
            durable,
            resilient: false,
            lock_sequences: None,
            ticket,
            quota: server.shares.get(plan.share).and_then(|s| crate::quota::key_for(&s, &info)),
        },
    );
    if opened.action == CreateAction::Created {
        let mask = if info.is_dir { filter::DIR_NAME } else { filter::FILE_NAME };
        server.notify.report(&server.host_notify, &server.locks, plan.share, &opened.rel_path, action::ADDED, mask);
        let client = conn.client_guid();
        let by = Changer::Under { client, parent: plan.lease.and_then(|l| l.parent) };
        server.dir_leases.entry_changed(&server.locks, plan.share, &opened.rel_path, by);
    } else {
        // An overwrite, or only an open: the server's own doing either way.
        server.host_notify.own_change(plan.share, &opened.rel_path, server.now());
    }
    let body = encode_response(&info, oplock_level.to_wire(), opened.action, file_id, contexts);
    Step::Done(Reply::ok(body), Some(file_id))
}

/// Applies `extras` to a newly created or overwritten file (MS-FSA 2.1.5.1.1,
/// 2.1.5.1.2.1): EAs are set (an overwrite replaces the old ones); on an overwrite the
/// parts of the descriptor given replace the file's (a new file got its descriptor,
/// SecD included, from `access_check::on_create`).
fn apply_extras(extras: &CreateExtras, handle: &opportune_fs::Handle, action: CreateAction) -> Result<(), NtStatus> {
    if action == CreateAction::Opened {
        return Ok(());
    }
    if action != CreateAction::Created {
        let old: Vec<opportune_fs::Ea> = handle
            .eas()
            ?
            .into_iter()
            .map(|e| opportune_fs::Ea { value: Vec::new(), ..e })
            .collect();
        if !old.is_empty() {
            handle.set_eas(&old)?;
        }
    }
    if !extras.eas.is_empty() {
        handle.set_eas(&extras.eas)?;
    }
    if let Some(sd) = extras.sd.as_ref().filter(|_| action != CreateAction::Created) {
        let stored = security::stored(handle.security_descriptor()?);
        let mut d = match (stored, &extras.token) {
            (Some(d), _) => d,
            (None, Some(t)) => security::unstored(t),
            (None, None) => Descriptor::default(),
        };
        d.merge(sd, sd.parts_present());
        handle.set_security_descriptor(&security::encode(&d, security::ALL_PARTS)?)?;
    }
    Ok(())
}

/// The CREATE response body for an open of the file `info` describes.
pub(super) fn encode_response(info: &FileInfo, oplock_level: u8, action: CreateAction, file_id: FileId, contexts: Vec<u8>) -> Vec<u8> {
    let meta = file_meta(info, false);
    let resp = CreateResponse {
        oplock_level,
        flags: 0,
        create_action: action as u32,
        creation_time: meta.creation_time,
        last_access_time: meta.last_access_time,
        last_write_time: meta.last_write_time,
        change_time: meta.change_time,
        allocation_size: meta.allocation_size,
        end_of_file: meta.end_of_file,
        file_attributes: meta.attributes,
        file_id,
        contexts,
    };
    let mut body = Vec::with_capacity(160);
    resp.encode(&mut body);
    body
}

/// The OplockLevel of the response, and the lease response context when a lease was granted.
fn granted_caching(plan: &CreatePlan, caching: GrantedCaching, is_dir: bool) -> (OplockLevel, Option<LeaseContext>) {
    match (caching, plan.lease) {
        // A directory granted no directory lease (not SMB 3.x, a v1 request, leasing off
        // or the budget spent): the lease context is ignored (MS-SMB2 3.3.5.9.8).
        (GrantedCaching::Lease { state: LeaseState::NONE, .. }, _) if is_dir => (OplockLevel::None, None),
        (GrantedCaching::Oplock(level), _) => (level, None),
        (GrantedCaching::Lease { state, flags, epoch, parent, v2 }, Some(req)) => {
            let ctx = LeaseContext {
                key: req.key,
                state: state.bits(),
                flags,
                parent: parent.map(|p| p.0),
                epoch: v2.then_some(epoch),
            };
            (OplockLevel::Lease, Some(ctx))
        }
        _ => (OplockLevel::None, None),
    }
}

/// Durability for an open that asked for it and holds a batch oplock or a handle lease
/// (MS-SMB2 3.3.5.9.6, 3.3.5.9.10).
fn grant_durable(
    conn: &ConnState,
    hdr: &Header,
    plan: &CreatePlan,
    oplock_level: OplockLevel,
    lease: Option<&LeaseContext>,
    is_dir: bool,
) -> Option<crate::durable::Durable> {
    use crate::durable::{eligible, v2_timeout, Durable, Request, DEFAULT_TIMEOUT_MS};
    let (v2, create_guid, timeout_ms) = match plan.durable {
        Request::None => return None,
        Request::V1 => (false, [0; 16], DEFAULT_TIMEOUT_MS),
        Request::V2(r) => (true, r.create_guid, v2_timeout(r.timeout)),
    };
    if !eligible(Some(oplock_level), lease.map(|l| LeaseState::from_wire(l.state)), is_dir) {
        return None;
    }
    Some(Durable {
        v2,
        create_guid,
        timeout: std::time::Duration::from_millis(u64::from(timeout_ms)),
        client_guid: conn.client_guid(),
        lease_key: lease.map(|l| l.key),
        user: conn.sessions.get(&hdr.session_id).and_then(|s| s.owner()),
    })
}

/// MxAc, QFid, RqLs, DHnQ and DH2Q answers (MS-SMB2 2.2.14.2.5, 2.2.14.2.9, 2.2.14.2.10,
/// 2.2.14.2.3, 2.2.14.2.12); other contexts are parsed and ignored as MS-SMB2 3.3.5.9
/// allows for what is not supported.
fn response_contexts(
    plan: &CreatePlan,
    info: &FileInfo,
    server: &ServerState,
    lease: Option<LeaseContext>,
    durable: Option<&crate::durable::Durable>,
) -> Vec<u8> {
    let mut out: Vec<(&[u8], Vec<u8>)> = Vec::new();
    match durable {
        Some(d) if d.v2 => out.push((
            context_name::DURABLE_HANDLE_REQUEST_V2,
            opportune_wire::durable::encode_response_v2(d.timeout.as_millis() as u32, 0),
        )),
        Some(_) => out.push((context_name::DURABLE_HANDLE_REQUEST, opportune_wire::durable::encode_response_v1())),
        None => {}
    }
    if plan.want_mxac {
        let mut d = Vec::with_capacity(8);
        d.put_u32(0);
        d.put_u32(plan.maximal);
        out.push((context_name::QUERY_MAXIMAL_ACCESS, d));
    }
    if let Some(l) = lease {
        out.push((context_name::REQUEST_LEASE, l.encode()));
    }
    if plan.want_qfid {
        let mut d = Vec::with_capacity(32);
        d.put_u64(info.file_id);
        d.put_u64(info.dev);
        d.extend_from_slice(&server.server_guid);
        out.push((context_name::QUERY_ON_DISK_ID, d));
    }
    if out.is_empty() { Vec::new() } else { encode_contexts(&out) }
}
