//! SET_INFO (MS-SMB2 3.3.5.21, MS-FSA 2.1.5.15): times and attributes, rename,
//! hard links, delete disposition, end of file, allocation, position, mode and EAs.

use crate::locking::Changer;
use super::ctx::Ctx;
use super::reply::{HResult, Reply};
use crate::conn_state::ConnState;
use crate::open::{Open, PendingRename};
use crate::pending::Waiting;
use crate::server::ServerState;
use opportune_locks::RenameOutcome;
use crate::notify::{action, filter};
use crate::security;
use opportune_fs::{BasicInfo, Ea, SmbPath};
use opportune_wire::fscc::parse_full_ea_list;
use opportune_types::{AccessMask, FileAttributes, NtStatus};
use opportune_wire::cursor::{utf16le, Reader};
use opportune_wire::fscc::class;
use opportune_wire::query::{encode_set_info_response, info_type, SetInfoRequest};

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = SetInfoRequest::decode(ctx.msg)?;
    if ctx.tree()?.read_only {
        return Err(NtStatus::ACCESS_DENIED);
    }
    match req.info_type {
        info_type::FILE if req.info_class == class::RENAME => {
            need(ctx, req.file_id, AccessMask::DELETE)?;
            if let Some(pending) = rename(ctx, req.file_id, req.buffer)? {
                return Ok(pending);
            }
        }
        info_type::FILE => set_file_info(ctx, &req)?,
        info_type::SECURITY => set_security(ctx, &req)?,
        info_type::FILESYSTEM => return Err(NtStatus::NOT_SUPPORTED),
        // MS-SMB2 3.3.5.21.4: limits are set with `opportune user quota` and the share
        // keys (docs/CONFIG.md), not by clients; only an admin user learns that it is
        // not supported here, everyone else is refused.
        info_type::QUOTA => {
            let admin = ctx.tree()?.token.contains(&opportune_types::sid::well_known::administrators());
            return Err(if admin { NtStatus::NOT_SUPPORTED } else { NtStatus::ACCESS_DENIED });
        }
        _ => return Err(NtStatus::INVALID_PARAMETER),
    }
    let mut body = Vec::with_capacity(2);
    encode_set_info_response(&mut body);
    Ok(Reply::ok(body))
}

/// SMB2_0_INFO_SECURITY (MS-SMB2 3.3.5.21.3, MS-FSA 2.1.5.16): WRITE_OWNER for
/// owner and group, WRITE_DAC for the DACL, ACCESS_SYSTEM_SECURITY for the SACL;
/// the parts named replace those of the file's descriptor, which is stored.
fn set_security(ctx: &mut Ctx<'_>, req: &SetInfoRequest<'_>) -> Result<(), NtStatus> {
    let info = req.additional_information;
    let mut rights = Vec::new();
    if info & (security::OWNER_SECURITY_INFORMATION | security::GROUP_SECURITY_INFORMATION) != 0 {
        rights.push(AccessMask::WRITE_OWNER);
    }
    if info & security::DACL_SECURITY_INFORMATION != 0 {
        rights.push(AccessMask::WRITE_DAC);
    }
    if info & security::SACL_SECURITY_INFORMATION != 0 {
        rights.push(AccessMask::ACCESS_SYSTEM_SECURITY);
    }
    let token = ctx.tree()?.token.clone();
    let server = ctx.server;
    let open = ctx.open(req.file_id)?;
    if rights.iter().any(|&r| !open.has_access(r)) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let mut new = security::parse(req.buffer)?;
    if info & security::OWNER_SECURITY_INFORMATION != 0 {
        crate::access_check::check_owner(&token, new.owner.as_ref())?;
    }
    // Generic rights in effective ACEs are stored mapped (what Windows reports back).
    if let Some(dacl) = new.dacl.as_mut() {
        opportune_acl::mapping::map_effective_aces(dacl, &opportune_acl::GenericMapping::FILE);
    }
    let file = open.handle.info()?;
    let mut d = security::current(open.handle.security_descriptor()?, &token);
    d.merge(&new, info);
    let stored = open.handle.set_security_descriptor(&security::encode(&d, security::ALL_PARTS)?);
    server.descriptors.forget(&file);
    // A new owner is charged with the file from now on.
    if stored.is_ok()
        && info & security::OWNER_SECURITY_INFORMATION != 0
        && file.stream == 0
        && let Some((q, key)) = crate::quota::for_open(&server.shares, open.share, Some((file.dev, file.file_id)))
    {
        q.set_owner(key, d.owner.as_ref());
    }
    Ok(stored?)
}

fn need(ctx: &mut Ctx<'_>, id: opportune_types::FileId, right: u32) -> Result<(), NtStatus> {
    if ctx.open(id)?.has_access(right) { Ok(()) } else { Err(NtStatus::ACCESS_DENIED) }
}

fn read_u64(buf: &[u8]) -> Result<u64, NtStatus> {
    Reader::new(buf, 0).u64().map_err(|_| NtStatus::INFO_LENGTH_MISMATCH)
}

fn set_file_info(ctx: &mut Ctx<'_>, req: &SetInfoRequest<'_>) -> Result<(), NtStatus> {
    let id = req.file_id;
    let buf = req.buffer;
    match req.info_class {
        class::BASIC => {
            need(ctx, id, AccessMask::FILE_WRITE_ATTRIBUTES)?;
            set_basic(ctx, id, buf)
        }
        class::DISPOSITION => {
            let delete = *buf.first().ok_or(NtStatus::INFO_LENGTH_MISMATCH)? != 0;
            need(ctx, id, AccessMask::DELETE)?;
            set_disposition(ctx, id, delete)
        }
        class::END_OF_FILE => {
            let len = read_u64(buf)?;
            need(ctx, id, AccessMask::FILE_WRITE_DATA)?;
            set_end_of_file(ctx, id, len)
        }
        class::ALLOCATION => {
            let len = read_u64(buf)?;
            need(ctx, id, AccessMask::FILE_WRITE_DATA)?;
            set_allocation(ctx, id, len)
        }
        class::POSITION => {
            let pos = read_u64(buf)?;
            ctx.open(id)?.position = pos;
            Ok(())
        }
        class::MODE => {
            let mode = Reader::new(buf, 0).u32().map_err(|_| NtStatus::INFO_LENGTH_MISMATCH)?;
            if mode & !0x3E != 0 {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            ctx.open(id)?.mode = mode;
            Ok(())
        }
        class::FULL_EA => {
            // MS-FSA 2.1.5.14.? FileFullEaInformation: FILE_WRITE_EA, then add,
            // replace or (empty value) remove each EA of the list.
            let list = parse_full_ea_list(buf).ok_or(NtStatus::EA_LIST_INCONSISTENT)?;
            need(ctx, id, AccessMask::FILE_WRITE_EA)?;
            let eas: Vec<Ea> = list.into_iter().map(|e| Ea { flags: e.flags, name: e.name, value: e.value }).collect();
            Ok(ctx.open(id)?.handle.set_eas(&eas)?)
        }
        class::LINK => link(ctx, id, buf),
        _ => Err(NtStatus::INVALID_INFO_CLASS),
    }
}

/// FileBasicInformation (MS-FSCC 2.4.7, MS-FSA 2.1.5.14.2).
fn set_basic(ctx: &mut Ctx<'_>, id: opportune_types::FileId, buf: &[u8]) -> Result<(), NtStatus> {
    let mut r = Reader::new(buf, 0);
    let mut t = [0u64; 4];
    for v in &mut t {
        *v = r.u64().map_err(|_| NtStatus::INFO_LENGTH_MISMATCH)?;
    }
    let attrs = r.u32().map_err(|_| NtStatus::INFO_LENGTH_MISMATCH)?;
    let server = ctx.server;
    let open = ctx.open(id)?;
    if attrs != 0 {
        if !open.is_dir && attrs & FileAttributes::DIRECTORY != 0 {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        if open.is_dir && attrs & FileAttributes::TEMPORARY != 0 {
            return Err(NtStatus::INVALID_PARAMETER);
        }
    }
    let some = |v: u64| if v == 0 { None } else { Some(v) };
    let b = BasicInfo {
        creation_time: some(t[0]),
        last_access_time: some(t[1]),
        last_write_time: some(t[2]),
        change_time: some(t[3]),
        attributes: if attrs == 0 { None } else { Some(attrs) },
    };
    open.handle.set_basic(&b)?;
    if server.notify.is_watched() {
        let mask = filter::ATTRIBUTES | filter::LAST_WRITE;
        server.notify.report(&server.host_notify, &server.locks, open.share, &open.handle.rel_path(), action::MODIFIED, mask);
    }
    server.dir_leases.entry_changed(&server.locks, open.share, &open.handle.rel_path(), Changer::Open(open.file_id.volatile));
    Ok(())
}

/// FileRenameInformation for SMB2 (MS-FSCC 2.4.37.2, MS-SMB2 3.3.5.21.1). Checks that
/// concern other opens come first (sharing on the target directory, opens below a
/// directory); then handle caching of other opens is broken, and the rename waits for
/// the acknowledgments when needed: `Some(pending reply)`, completed by
/// [`complete_rename`].
fn rename(ctx: &mut Ctx<'_>, id: opportune_types::FileId, buf: &[u8]) -> Result<Option<Reply>, NtStatus> {
    let (replace, name) = parse_name_info(buf)?;
    if name.starts_with(':') {
        return rename_stream(ctx, id, &name, replace).map(|()| None);
    }
    let name = name.strip_prefix('\\').unwrap_or(&name);
    let target = SmbPath::parse(name)?;
    let fs = ctx.share()?.fs.clone();
    let token = ctx.tree()?.token.clone();
    let conn_id = ctx.conn.id;
    let server = ctx.server;
    let open = ctx.open(id)?;
    let open_id = open.file_id.volatile;
    // The target directory must take a new entry (DELETE on the source was checked).
    let parts = target.components();
    let target_dir = parts[..parts.len().saturating_sub(1)].join("/");
    crate::access_check::may_add_entry(server, &fs, &target_dir, open.is_dir, &token)?;
    server.locks.check_rename(open_id, &fs, &target)?;
    let request = server.next_id();
    if server.locks.begin_rename(open_id, request) == RenameOutcome::Deferred {
        open.pending_rename = Some(PendingRename { target, replace });
        return Ok(Some(Reply::pending(Waiting::Rename { request })));
    }
    perform_rename(server, conn_id, open, &target, replace)?;
    Ok(None)
}

/// The fields FILE_RENAME_INFORMATION_TYPE_2 and FILE_LINK_INFORMATION_TYPE_2
/// share (MS-FSCC 2.4.42.2, 2.4.27.2): ReplaceIfExists, 7 reserved bytes,
/// RootDirectory, which MUST be 0 over the network (else INVALID_PARAMETER),
/// FileNameLength and the UTF-16 FileName. A buffer too short for them is
/// INFO_LENGTH_MISMATCH; a name that is not UTF-16 OBJECT_NAME_INVALID.
fn parse_name_info(buf: &[u8]) -> Result<(bool, String), NtStatus> {
    let mut r = Reader::new(buf, 0);
    let parsed = (|| {
        let replace = r.u8()? != 0;
        r.skip(7)?;
        let root = r.u64()?;
        let len = r.u32()? as usize;
        Ok::<_, opportune_wire::WireError>((replace, root, r.bytes(len)?))
    })();
    let (replace, root, name) = parsed.map_err(|_| NtStatus::INFO_LENGTH_MISMATCH)?;
    if root != 0 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let name = utf16le(name).map_err(|_| NtStatus::OBJECT_NAME_INVALID)?;
    Ok((replace, name))
}

/// FileLinkInformation for SMB2 (MS-FSCC 2.4.27.2, MS-FSA 2.1.5.15.6): a new name,
/// relative to the share root, for the file of this open (see `Handle::link` for the
/// file-system rules). The open needs no particular access (the Linux client opens
/// the source with FILE_READ_ATTRIBUTES only); the tree must be writable, which
/// `handle` checked. A file pending deletion gets no new name (ACCESS_DENIED), and a
/// replaced target must not be open (ACCESS_DENIED: no break is sent for it). Watchers
/// of the target's directory see FILE_ACTION_ADDED, preceded by FILE_ACTION_REMOVED
/// when a file was replaced.
fn link(ctx: &mut Ctx<'_>, id: opportune_types::FileId, buf: &[u8]) -> Result<(), NtStatus> {
    let (replace, name) = parse_name_info(buf)?;
    let name = name.strip_prefix('\\').unwrap_or(&name);
    let target = SmbPath::parse(name)?;
    let server = ctx.server;
    let open = ctx.open(id)?;
    let info = open.handle.info()?;
    if open.delete_on_close || server.locks.is_delete_pending(&info) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let in_use = |t: &opportune_fs::FileInfo| server.locks.open_count(t) > 0;
    let linked = open.handle.link(&target, replace, in_use)?;
    tracing::debug!(from = ?open.handle.rel_path(), to = ?linked.rel, replaced = linked.replaced, "hard link");
    if server.notify.is_watched() {
        if linked.replaced {
            server.notify.report(&server.host_notify, &server.locks, open.share, &linked.rel, action::REMOVED, filter::FILE_NAME);
        }
        server.notify.report(&server.host_notify, &server.locks, open.share, &linked.rel, action::ADDED, filter::FILE_NAME);
    }
    server.dir_leases.entry_changed(&server.locks, open.share, &linked.rel, Changer::Open(open.file_id.volatile));
    Ok(())
}

/// Renaming a named stream of the same file (":new[:$DATA]", MS-FSA 2.1.5.14.11.1).
fn rename_stream(ctx: &mut Ctx<'_>, id: opportune_types::FileId, name: &str, replace: bool) -> Result<(), NtStatus> {
    let target = SmbPath::parse_stream_target(name)?;
    let server = ctx.server;
    let open = ctx.open(id)?;
    let open_id = open.file_id.volatile;
    let new_rel = open.handle.rename_stream(target.as_deref(), replace)?;
    server.locks.renamed(open_id, &new_rel);
    open.handle.set_rel_path(new_rel);
    Ok(())
}

/// The rename itself, once no other open's handle caching stands in the way.
fn perform_rename(server: &ServerState, conn_id: u64, open: &mut Open, target: &SmbPath, replace: bool) -> Result<(), NtStatus> {
    let share = open.share;
    let state = server.shares.get(share).ok_or(NtStatus::NETWORK_NAME_DELETED)?;
    let fs = &state.fs;
    // The name it has now: a host program may have renamed it since it was opened, and
    // a rename of the old name would move whatever the host put there.
    let from = open.handle.current_rel_path()?.ok_or(NtStatus::FILE_DELETED)?;
    let open_id = open.file_id.volatile;
    let (new_rel, replaced) = fs.rename_replacing(&from, target, replace)?;
    // A file the rename replaced is gone unless it had other links.
    if let (Some(q), Some((dev, ino, nlink))) = (state.quota.get(), replaced)
        && nlink <= 1
    {
        q.removed((dev, ino));
    }
    tracing::debug!(conn = conn_id, from = ?from, to = ?new_rel, "rename");
    server.locks.renamed(open_id, &new_rel);
    let mask = if open.is_dir { filter::DIR_NAME } else { filter::FILE_NAME };
    server.notify.report(&server.host_notify, &server.locks, share, &from, action::RENAMED_OLD_NAME, mask);
    server.notify.report(&server.host_notify, &server.locks, share, &new_rel, action::RENAMED_NEW_NAME, mask);
    server.dir_leases.entry_changed(&server.locks, share, &from, Changer::Open(open_id));
    server.dir_leases.entry_changed(&server.locks, share, &new_rel, Changer::Open(open_id));
    if open.is_dir {
        server.dir_leases.renamed(share, &from, &new_rel);
    }
    open.handle.set_rel_path(new_rel);
    Ok(())
}

/// The final answer to a rename that waited for breaks (the lock core's CompleteRename):
/// the rename is performed now unless its open went away.
pub fn complete_rename(server: &ServerState, conn: &mut ConnState, open_id: u64, status: NtStatus) -> Reply {
    let conn_id = conn.id;
    let Some(open) = conn.opens.get_mut(&open_id) else { return Reply::error(NtStatus::FILE_CLOSED) };
    let Some(p) = open.pending_rename.take() else { return Reply::error(NtStatus::INTERNAL_ERROR) };
    if status != NtStatus::SUCCESS {
        return Reply::error(status);
    }
    match perform_rename(server, conn_id, open, &p.target, p.replace) {
        Ok(()) => {
            let mut body = Vec::with_capacity(2);
            encode_set_info_response(&mut body);
            Reply::ok(body)
        }
        Err(status) => Reply::error(status),
    }
}

/// FileDispositionInformation (MS-FSA 2.1.5.14.3).
fn set_disposition(ctx: &mut Ctx<'_>, id: opportune_types::FileId, delete: bool) -> Result<(), NtStatus> {
    let fs = ctx.share()?.fs.clone();
    let open = ctx.open(id)?;
    if delete {
        let info = open.handle.info()?;
        if !info.is_dir && info.attributes & FileAttributes::READONLY != 0 {
            return Err(NtStatus::CANNOT_DELETE);
        }
        if info.is_dir && !fs.is_dir_empty(&open.handle.rel_path())? {
            return Err(NtStatus::DIRECTORY_NOT_EMPTY);
        }
    }
    let (open_id, is_dir, rel, share) = (open.file_id.volatile, open.is_dir, open.handle.rel_path(), open.share);
    ctx.server.locks.set_delete_pending(open_id, delete)?;
    if delete && is_dir {
        ctx.server.notify.directory_deleted(&ctx.server.locks, share, &rel);
    }
    Ok(())
}

/// FileEndOfFileInformation (MS-FSA 2.1.5.14.4); growth is checked against the quotas
/// and charged before the file changes.
fn set_end_of_file(ctx: &mut Ctx<'_>, id: opportune_types::FileId, len: u64) -> Result<(), NtStatus> {
    if len > i64::MAX as u64 {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let open = ctx.open(id)?;
    if open.is_dir {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let open_id = open.file_id.volatile;
    let handle = open.handle.clone();
    let (share, key) = (open.share, open.quota);
    let quota = crate::quota::for_open(&ctx.server.shares, share, key);
    let charged = match &quota {
        Some((q, key)) => q.grow(*key, len)?,
        None => None,
    };
    ctx.server.locks.truncated(open_id);
    ctx.server.dir_leases.wrote(open_id);
    let done = crate::offload::blocking(|| handle.set_len(len));
    if let Some((q, key)) = &quota {
        match (&done, charged) {
            (Err(_), Some(old)) => q.undo_growth(*key, old, len),
            (Ok(()), _) => q.truncated(*key, len),
            _ => {}
        }
    }
    Ok(done?)
}

/// FileAllocationInformation (MS-FSA 2.1.5.14.1): an allocation beyond what the quotas
/// leave is refused before anything is reserved; one below end of file truncates.
fn set_allocation(ctx: &mut Ctx<'_>, id: opportune_types::FileId, len: u64) -> Result<(), NtStatus> {
    let open = ctx.open(id)?;
    if open.is_dir {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let (open_id, handle) = (open.file_id.volatile, open.handle.clone());
    let (share, key) = (open.share, open.quota);
    let quota = crate::quota::for_open(&ctx.server.shares, share, key);
    if let Some((q, key)) = &quota {
        q.admits_size(*key, len)?;
    }
    ctx.server.locks.truncated(open_id);
    ctx.server.dir_leases.wrote(open_id);
    crate::offload::blocking(|| handle.set_allocation(len))?;
    if let Some((q, key)) = &quota {
        q.truncated(*key, len);
    }
    Ok(())
}
