//! CREATE (MS-SMB2 3.3.5.9): request validation, the open itself, create contexts.

use super::create_open;
use crate::create_plan::{CreateAcl, CreateExtras, CreatePlan};
use super::ctx::Ctx;
use super::reply::HResult;
use opportune_fs::{CreateParams, SmbPath};
use crate::security;
use opportune_types::create::{options, oplock, CreateDisposition, IMPERSONATION_MAX};
use opportune_wire::fscc::parse_full_ea_list;
use opportune_types::{AccessMask, FileAttributes, NtStatus, ShareAccess};
use opportune_wire::create::{context_name, CreateRequest, LeaseContext};

/// Attributes a create may carry (MS-SMB2 3.3.5.9: others are invalid).
const VALID_ATTRIBUTES: u32 = 0x0003_7FB7;

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = CreateRequest::decode(ctx.msg)?;
    let tree = ctx.tree()?;
    let Some(share_idx) = tree.share() else {
        // IPC$ creates open named pipes (handlers/pipe.rs routes them there first).
        return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
    };
    let (mut read_only, mut maximal) = (tree.read_only, tree.maximal_access);
    let token = tree.token.clone();
    // A reload that made the share read-only applies to trees connected before it (one
    // that made it writable applies to new tree connects).
    if ctx.share()?.read_only {
        read_only = true;
        maximal &= super::tree::READ_ONLY_ACCESS;
    }
    // A reconnect ignores everything else in the request (MS-SMB2 3.3.5.9.7).
    let (durable, reconnect) = crate::durable::parse(&req, ctx.conn.dialect())?;
    if let Some(rc) = reconnect {
        return super::create_reconnect::handle(ctx, &req, rc);
    }
    let checked = validate(&req)?;
    check_privileges(&token, req.desired_access)?;
    admit(ctx)?;
    let access = granted_access(req.desired_access, maximal);
    if read_only && writes(access, checked.disposition) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let quota_file = crate::quota::is_quota_file(&req.name);
    let name = if quota_file { "" } else { req.name.as_str() };
    let path = SmbPath::parse(name)?;
    let mut extras = create_extras(&req)?;
    extras.token = Some(token.clone());
    let params = CreateParams {
        disposition: checked.disposition,
        directory: checked.directory,
        write: access.is_data_write() || truncates(checked.disposition),
        attributes: req.file_attributes & FileAttributes::SETTABLE,
        allocation_size: allocation_size(&req)?,
        metadata_only: !access.intersects(!(AccessMask::FILE_READ_ATTRIBUTES | AccessMask::SYNCHRONIZE | AccessMask::DELETE)),
    };
    let lease = requested_lease(ctx, &req)?;
    let plan = CreatePlan {
        name: req.name.clone(),
        path,
        params,
        access,
        share_access: ShareAccess(req.share_access),
        create_options: req.create_options,
        oplock_level: req.oplock_level,
        lease,
        maximal,
        share: share_idx,
        open: ctx.server.next_id(),
        want_mxac: req.context(context_name::QUERY_MAXIMAL_ACCESS).is_some(),
        want_qfid: req.context(context_name::QUERY_ON_DISK_ID).is_some(),
        truncating: truncates(checked.disposition),
        extras,
        durable,
        app_instance: app_instance(ctx, &req),
        user: ctx.conn.sessions.get(&ctx.hdr.session_id).map_or_else(|| "".into(), |s| s.user.as_str().into()),
        acl: CreateAcl { token, desired: req.desired_access, cap: maximal },
    };
    let hdr = *ctx.hdr;
    let (mut reply, file_id) = create_open::start(ctx.server, ctx.conn, &hdr, plan);
    if quota_file && reply.status == NtStatus::SUCCESS {
        crate::quota::mark_quota_file(&mut reply.body);
    }
    if file_id.is_some() {
        ctx.chain.file_id = file_id;
    }
    Ok(reply)
}

/// The descriptor budget and the session's open cap (`limits`): a create beyond answers
/// STATUS_TOO_MANY_OPENED_FILES before anything is opened.
fn admit(ctx: &mut Ctx<'_>) -> Result<(), NtStatus> {
    let held = ctx.session()?.opens.load(std::sync::atomic::Ordering::Relaxed);
    let from_address = ctx.conn.address_opens.load(std::sync::atomic::Ordering::Relaxed);
    let admitted = ctx.server.admit_open(held, from_address);
    if let Err(status) = admitted {
        tracing::info!(conn = ctx.conn.id, peer = %ctx.conn.peer, held, from_address, %status, "create refused: open budget");
    }
    admitted
}

/// SMB2_CREATE_APP_INSTANCE_ID (MS-SMB2 2.2.13.2.13, SMB 3.x): StructureSize 20,
/// Reserved, the 16-byte AppInstanceId. A malformed one is ignored.
fn app_instance(ctx: &Ctx<'_>, req: &CreateRequest<'_>) -> Option<[u8; 16]> {
    if ctx.conn.dialect() < opportune_wire::negotiate::dialect::SMB300 {
        return None;
    }
    let data = req.context(context_name::APP_INSTANCE_ID)?.data;
    let size = u16::from_le_bytes([*data.first()?, *data.get(1)?]);
    if size != 20 {
        return None;
    }
    data.get(4..20)?.try_into().ok()
}

/// A lease request is honoured on SMB 2.1 and later when the create asks for
/// SMB2_OPLOCK_LEVEL_LEASE (MS-SMB2 3.3.5.9.8, 3.3.5.9.11).
fn requested_lease(ctx: &Ctx<'_>, req: &CreateRequest<'_>) -> Result<Option<LeaseContext>, NtStatus> {
    if req.oplock_level != oplock::LEASE || ctx.conn.dialect() < opportune_wire::negotiate::dialect::SMB210 {
        return Ok(None);
    }
    match req.context(context_name::REQUEST_LEASE) {
        Some(c) => Ok(Some(LeaseContext::decode(c.data)?)),
        None => Ok(None),
    }
}

/// Parses and validates ExtA and SecD before anything is created, so a bad
/// context fails the create without side effects.
fn create_extras(req: &CreateRequest<'_>) -> Result<CreateExtras, NtStatus> {
    // Context names are at least 4 bytes (MS-SMB2 2.2.13.2; Windows refuses
    // shorter ones with STATUS_INVALID_PARAMETER).
    if req.contexts.iter().any(|c| c.name.len() < 4) {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    // MS-SMB2 3.3.5.9.6: a timewarp token names a previous version; this
    // server keeps no snapshots, so there is none to open.
    if req.context(context_name::TIMEWARP_TOKEN).is_some() {
        return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
    }
    let mut extras = CreateExtras::default();
    if let Some(c) = req.context(context_name::EA_BUFFER) {
        let list = parse_full_ea_list(c.data).ok_or(NtStatus::EA_LIST_INCONSISTENT)?;
        if list.iter().any(|e| !opportune_fs::valid_ea_name(&e.name)) {
            return Err(NtStatus::INVALID_EA_NAME);
        }
        extras.eas = list.into_iter().map(|e| opportune_fs::Ea { flags: e.flags, name: e.name, value: e.value }).collect();
    }
    if let Some(c) = req.context(context_name::SD_BUFFER) {
        extras.sd = Some(security::parse(c.data)?);
    }
    Ok(extras)
}

/// The AllocationSize context (MS-SMB2 2.2.13.2.6): 8 bytes.
fn allocation_size(req: &CreateRequest<'_>) -> Result<u64, NtStatus> {
    match req.context(context_name::ALLOCATION_SIZE) {
        Some(c) => {
            let b: [u8; 8] = c.data.get(..8).and_then(|b| b.try_into().ok()).ok_or(NtStatus::INVALID_PARAMETER)?;
            Ok(u64::from_le_bytes(b))
        }
        None => Ok(0),
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
    // Windows refuses these with STATUS_NOT_SUPPORTED (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1).
    let unsupported = options::FILE_OPEN_BY_FILE_ID | options::FILE_RESERVE_OPFILTER | options::FILE_CREATE_TREE_CONNECTION;
    if o & unsupported != 0 {
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

/// ACCESS_SYSTEM_SECURITY (reading or changing a file's SACL) needs SeSecurityPrivilege
/// (MS-SMB2 3.3.5.9: STATUS_PRIVILEGE_NOT_HELD without it; MS-FSA 2.1.5.1.2.1).
fn check_privileges(token: &opportune_types::Token, desired: u32) -> Result<(), NtStatus> {
    if desired & AccessMask::ACCESS_SYSTEM_SECURITY == 0 {
        return Ok(());
    }
    if token.has_privilege(opportune_types::token::privilege::SECURITY) {
        Ok(())
    } else {
        Err(NtStatus::PRIVILEGE_NOT_HELD)
    }
}

/// GENERIC_* mapped; MAXIMUM_ALLOWED becomes everything the tree grants.
fn granted_access(desired: u32, maximal: u32) -> AccessMask {
    let mut m = AccessMask(desired).map_generic().0;
    if m & AccessMask::MAXIMUM_ALLOWED != 0 {
        m = (m & !AccessMask::MAXIMUM_ALLOWED) | maximal;
    }
    AccessMask(m & !AccessMask::ACCESS_SYSTEM_SECURITY | (desired & AccessMask::ACCESS_SYSTEM_SECURITY))
}

pub(super) fn truncates(d: CreateDisposition) -> bool {
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
