//! TREE_CONNECT and TREE_DISCONNECT (MS-SMB2 3.3.5.7, 3.3.5.8).

use super::{empty_ok, Ctx, HResult, Reply};
use crate::session::{Identity, Tree};
use opportune_types::{AccessMask, NtStatus};
use opportune_wire::tree::{share_flags, TreeConnectRequest, TreeConnectResponse, SHARE_TYPE_DISK, SHARE_TYPE_PIPE};

/// Rights a read-only share grants.
const READ_ONLY_ACCESS: u32 = AccessMask::FILE_GENERIC_READ | AccessMask::FILE_GENERIC_EXECUTE;

pub fn connect(ctx: &mut Ctx<'_>) -> HResult {
    let req = TreeConnectRequest::decode(ctx.msg).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let name = req.share_name().to_string();
    let identity = ctx.session()?.identity;
    let (tree, share_type) = if name.eq_ignore_ascii_case("IPC$") {
        (Tree { share: usize::MAX, is_ipc: true, read_only: true, maximal_access: READ_ONLY_ACCESS }, SHARE_TYPE_PIPE)
    } else {
        let idx = ctx.server.share(&name).ok_or(NtStatus::BAD_NETWORK_NAME)?;
        let share = &ctx.server.shares[idx];
        if identity != Identity::User && !share.guest_ok {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let access = if share.read_only { READ_ONLY_ACCESS } else { AccessMask::FILE_ALL_ACCESS };
        (Tree { share: idx, is_ipc: false, read_only: share.read_only, maximal_access: access }, SHARE_TYPE_DISK)
    };
    let maximal_access = tree.maximal_access;
    let cap = ctx.server.config.max_trees_per_session;
    crate::limits::admit_one_more(ctx.session()?.trees.len(), cap)?;
    let tid = ctx.session()?.add_tree(tree);
    tracing::debug!(conn = ctx.conn.id, share = ?name, tid, "tree connect");
    let mut body = Vec::with_capacity(16);
    TreeConnectResponse { share_type, share_flags: share_flags::MANUAL_CACHING, capabilities: 0, maximal_access }
        .encode(&mut body);
    let mut reply = Reply::ok(body);
    reply.tree_id = tid;
    Ok(reply)
}

pub fn disconnect(ctx: &mut Ctx<'_>) -> HResult {
    opportune_wire::session::decode_empty(ctx.msg).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let (sid, tid) = (ctx.hdr.session_id, ctx.hdr.tree_id);
    super::close::close_session_opens(ctx.server, ctx.conn, sid, Some(tid));
    ctx.session()?.trees.remove(&tid);
    Ok(empty_ok())
}
