//! CREATE (MS-SMB2 3.3.5.9): request validation, the open itself, create contexts.

use super::{Ctx, HResult, Reply};
use crate::meta::file_meta;
use crate::locking::Admission;
use crate::open::{DirSearch, Open};
use opportune_locks::{CreateOutcome, CreatePolicy, RequestedCaching};
use opportune_fs::{CreateParams, SmbPath};
use opportune_types::create::{options, oplock, CreateAction, CreateDisposition, IMPERSONATION_MAX};
use opportune_types::{AccessMask, FileAttributes, FileId, NtStatus, ShareAccess};
use opportune_wire::create::{context_name, encode_contexts, CreateRequest, CreateResponse};
use opportune_wire::cursor::Put;
use std::sync::Arc;

/// Attributes a create may carry (MS-SMB2 3.3.5.9: others are invalid).
const VALID_ATTRIBUTES: u32 = 0x0003_7FB7;

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = CreateRequest::decode(ctx.msg).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let tree = ctx.tree()?;
    if tree.is_ipc {
        // Named pipes are not served yet.
        return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
    }
    let (read_only, maximal) = (tree.read_only, tree.maximal_access);
    let checked = validate(&req)?;
    let access = granted_access(req.desired_access, maximal);
    if read_only && writes(access, checked.disposition) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let path = SmbPath::parse(&req.name).map_err(|e| e.status())?;
    let share_idx = ctx.tree()?.share;
    let share = ctx.share()?.fs.clone();
    let params = CreateParams {
        disposition: checked.disposition,
        directory: checked.directory,
        write: access.is_data_write() || truncates(checked.disposition),
        attributes: req.file_attributes & FileAttributes::SETTABLE,
        allocation_size: 0,
    };
    let volatile = ctx.server.next_id();
    let admission = |_info: &opportune_fs::FileInfo, truncating: bool| Admission {
        conn: ctx.conn.id,
        open: volatile,
        access,
        share: ShareAccess(req.share_access),
        requested: RequestedCaching::None,
        truncating,
        delete_on_close: req.create_options & options::FILE_DELETE_ON_CLOSE != 0,
        policy: NO_CACHING,
    };
    // MS-FSA 2.1.5.1.2: sharing is checked before an existing file is truncated, so an
    // overwrite that will be refused never destroys data.
    let mut admitted = false;
    if truncates(checked.disposition) {
        let probe = CreateParams { disposition: CreateDisposition::Open, write: false, ..params };
        if let Ok(existing) = share.create(&path, &probe) {
            let info = existing.handle.info().map_err(|e| e.status())?;
            admit(ctx.server, &info, admission(&info, true))?;
            admitted = true;
        }
    }
    let opened = match share.create(&path, &params) {
        Ok(o) => o,
        Err(e) => {
            if admitted {
                ctx.server.locks.forget(volatile);
            }
            return Err(e.status());
        }
    };
    let info = opened.handle.info().map_err(|e| e.status())?;
    if !admitted {
        if let Err(status) = admit(ctx.server, &info, admission(&info, false)) {
            if opened.action == CreateAction::Created {
                let _ = share.remove(&opened.rel_path, info.is_dir);
            }
            return Err(status);
        }
    }
    let readonly_file = !info.is_dir && info.attributes & FileAttributes::READONLY != 0;
    let refuse = if opened.action == CreateAction::Opened && readonly_file && access.is_data_write() {
        Some(NtStatus::ACCESS_DENIED)
    } else if req.create_options & options::FILE_DELETE_ON_CLOSE != 0 && readonly_file {
        Some(NtStatus::CANNOT_DELETE)
    } else {
        None
    };
    if let Some(status) = refuse {
        ctx.server.locks.forget(volatile);
        return Err(status);
    }
    let delete_on_close = req.create_options & options::FILE_DELETE_ON_CLOSE != 0;
    let file_id = FileId { persistent: volatile, volatile };
    let contexts = response_contexts(&req, maximal, &info, ctx.server);
    let meta = file_meta(&info, false);
    let resp = CreateResponse {
        oplock_level: oplock::NONE,
        flags: 0,
        create_action: opened.action as u32,
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
    tracing::debug!(conn = ctx.conn.id, name = %req.name, ?file_id, action = ?opened.action, "create");
    ctx.conn.opens.insert(
        volatile,
        Open {
            file_id,
            session_id: ctx.hdr.session_id,
            tree_id: ctx.hdr.tree_id,
            share: share_idx,
            handle: Arc::new(opened.handle),
            access,
            is_dir: info.is_dir,
            delete_on_close,
            oplock_level: oplock::NONE,
            dir: DirSearch::default(),
            position: 0,
            mode: req.create_options & (options::FILE_WRITE_THROUGH | options::FILE_SEQUENTIAL_ONLY),
            share_access: ShareAccess(req.share_access),
        },
    );
    ctx.chain.file_id = Some(file_id);
    let mut body = Vec::with_capacity(160);
    resp.encode(&mut body);
    Ok(Reply::ok(body))
}

/// Oplocks and leases are not granted until break delivery is wired to connections.
const NO_CACHING: CreatePolicy =
    CreatePolicy { oplocks_allowed: false, level2_allowed: false, leases_allowed: false, directory_leases_allowed: false };

fn admit(server: &crate::server::ServerState, info: &opportune_fs::FileInfo, a: Admission) -> Result<(), NtStatus> {
    match server.locks.admit(info, a).0 {
        CreateOutcome::Granted { .. } => Ok(()),
        CreateOutcome::Denied(status) => Err(status),
        // With no caching granted nothing can be deferred or restarted.
        CreateOutcome::Deferred | CreateOutcome::Restart => Err(NtStatus::SHARING_VIOLATION),
    }
}

struct Checked {
    disposition: CreateDisposition,
    directory: Option<bool>,
}

/// The parameter checks of MS-SMB2 3.3.5.9, in the order Windows applies them.
fn validate(req: &CreateRequest<'_>) -> Result<Checked, NtStatus> {
    if req.impersonation_level > IMPERSONATION_MAX {
        return Err(NtStatus::BAD_IMPERSONATION_LEVEL);
    }
    let o = req.create_options;
    if o & options::INVALID != 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if o & options::FILE_DIRECTORY_FILE != 0 && o & options::FILE_NON_DIRECTORY_FILE != 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if o & (options::FILE_OPEN_BY_FILE_ID | options::FILE_RESERVE_OPFILTER) != 0 {
        return Err(NtStatus::NOT_SUPPORTED);
    }
    if req.desired_access & AccessMask::INVALID_BITS != 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if req.desired_access == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if req.file_attributes & !VALID_ATTRIBUTES != 0 || req.share_access & !ShareAccess::ALL != 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if !matches!(req.oplock_level, oplock::NONE | oplock::LEVEL_II | oplock::EXCLUSIVE | oplock::BATCH | oplock::LEASE) {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let disposition = CreateDisposition::from_wire(req.create_disposition).ok_or(NtStatus::INVALID_PARAMETER)?;
    if o & options::FILE_DELETE_ON_CLOSE != 0 && req.desired_access & (AccessMask::DELETE | AccessMask::GENERIC_ALL) == 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    if req.name.starts_with('\\') {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let directory = if o & options::FILE_DIRECTORY_FILE != 0 {
        Some(true)
    } else if o & options::FILE_NON_DIRECTORY_FILE != 0 {
        Some(false)
    } else {
        None
    };
    Ok(Checked { disposition, directory })
}

/// GENERIC_* mapped; MAXIMUM_ALLOWED becomes everything the tree grants.
fn granted_access(desired: u32, maximal: u32) -> AccessMask {
    let mut m = AccessMask(desired).map_generic().0;
    if m & AccessMask::MAXIMUM_ALLOWED != 0 {
        m = (m & !AccessMask::MAXIMUM_ALLOWED) | maximal;
    }
    AccessMask(m & !AccessMask::ACCESS_SYSTEM_SECURITY | (desired & AccessMask::ACCESS_SYSTEM_SECURITY))
}

fn truncates(d: CreateDisposition) -> bool {
    matches!(d, CreateDisposition::Overwrite | CreateDisposition::OverwriteIf | CreateDisposition::Supersede)
}

fn writes(access: AccessMask, d: CreateDisposition) -> bool {
    let w = AccessMask::FILE_WRITE_DATA
        | AccessMask::FILE_APPEND_DATA
        | AccessMask::FILE_WRITE_EA
        | AccessMask::FILE_WRITE_ATTRIBUTES
        | AccessMask::DELETE
        | AccessMask::WRITE_DAC
        | AccessMask::WRITE_OWNER;
    access.intersects(w) || d != CreateDisposition::Open
}

/// MxAc and QFid answers (MS-SMB2 2.2.14.2.5, 2.2.14.2.9); other contexts are parsed and
/// ignored as MS-SMB2 3.3.5.9 allows for what the server does not support.
fn response_contexts(
    req: &CreateRequest<'_>,
    maximal: u32,
    info: &opportune_fs::FileInfo,
    server: &crate::server::ServerState,
) -> Vec<u8> {
    let mut out: Vec<(&[u8], Vec<u8>)> = Vec::new();
    if req.context(context_name::QUERY_MAXIMAL_ACCESS).is_some() {
        let mut d = Vec::with_capacity(8);
        d.put_u32(0);
        d.put_u32(maximal);
        out.push((context_name::QUERY_MAXIMAL_ACCESS, d));
    }
    if req.context(context_name::QUERY_ON_DISK_ID).is_some() {
        let mut d = Vec::with_capacity(32);
        d.put_u64(info.file_id);
        d.put_u64(info.dev);
        d.extend_from_slice(&server.server_guid);
        out.push((context_name::QUERY_ON_DISK_ID, d));
    }
    if out.is_empty() { Vec::new() } else { encode_contexts(&out) }
}
