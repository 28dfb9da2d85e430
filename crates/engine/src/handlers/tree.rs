//! TREE_CONNECT and TREE_DISCONNECT (MS-SMB2 3.3.5.7, 3.3.5.8).

use super::ctx::Ctx;
use super::reply::{empty_ok, HResult, Reply};
use crate::session::{Identity, Tree, TreeKind};
use crate::share_access;
use opportune_types::{AccessMask, NtStatus};
use std::sync::Arc;
use opportune_wire::header::Command;
use opportune_wire::tree::{share_flags, TreeConnectRequest, TreeConnectResponse, SHARE_TYPE_DISK, SHARE_TYPE_PIPE};

/// Rights a read-only share grants.
pub(crate) const READ_ONLY_ACCESS: u32 = AccessMask::FILE_GENERIC_READ | AccessMask::FILE_GENERIC_EXECUTE;

pub fn connect(ctx: &mut Ctx<'_>) -> HResult {
    let req = TreeConnectRequest::decode(ctx.msg)?;
    let name = req.share_name().to_string();
    let session = ctx.session()?;
    let (identity, can_encrypt, token) = (session.identity, session.encryptor.is_some(), session.token.clone());
    let (tree, share_type) = if name.eq_ignore_ascii_case("IPC$") {
        let encrypt_data = tree_encryption(ctx.server.config.encryption, can_encrypt)?;
        let tree = Tree {
            kind: TreeKind::Ipc,
            read_only: true,
            maximal_access: READ_ONLY_ACCESS,
            encrypt_data,
            token,
            share_generation: 0,
            revoked: false,
            unix: None,
        };
        (tree, SHARE_TYPE_PIPE)
    } else {
        let found = ctx.server.shares.find(&name).filter(|(_, s)| ctx.server.may_use(s, identity));
        let Some((idx, share)) = found else {
            tracing::info!(conn = ctx.conn.id, peer = %ctx.conn.peer, share = %name.escape_debug(), ?identity, "tree connect refused");
            return Err(NtStatus::BAD_NETWORK_NAME);
        };
        let mut tree = Tree {
            kind: TreeKind::Disk(idx),
            read_only: true,
            maximal_access: READ_ONLY_ACCESS,
            encrypt_data: false,
            token,
            share_generation: share.generation,
            revoked: false,
            unix: None,
        };
        admit(ctx, &share, &mut tree)?;
        (tree, SHARE_TYPE_DISK)
    };
    let (maximal_access, admin) = (tree.maximal_access, tree.token.privileges != 0);
    let cap = ctx.server.config.max_trees_per_session;
    crate::fd_budget::admit_one_more(ctx.session()?.trees.len(), cap)?;
    let flags = if tree.encrypt_data { share_flags::ENCRYPT_DATA } else { share_flags::MANUAL_CACHING };
    let flags = flags | tree.share().map_or(0, |i| crate::access_check::share_flags(ctx.server, i));
    let tid = ctx.session()?.add_tree(tree);
    tracing::debug!(conn = ctx.conn.id, share = ?name, tid, admin, "tree connect");
    let mut body = Vec::with_capacity(16);
    TreeConnectResponse { share_type, share_flags: flags, capabilities: 0, maximal_access }
        .encode(&mut body);
    let mut reply = Reply::ok(body);
    reply.tree_id = tid;
    Ok(reply)
}

/// The share's access rules (`share_access`, Samba's valid_users, hosts_allow, ...)
/// applied to this session, written into `tree`: whether it is read-only, its maximal
/// access, its token (an admin user's with BUILTIN\Administrators and every privilege)
/// and whether requests on it must come encrypted. A refusal answers
/// STATUS_ACCESS_DENIED (the share exists; MS-SMB2 3.3.5.7 leaves the check to the
/// server's authorization) and is logged at info with the rule that decided; `tree` is
/// left as it was.
fn admit(ctx: &mut Ctx<'_>, share: &crate::share_state::ShareState, tree: &mut Tree) -> Result<(), NtStatus> {
    let session = ctx.session()?;
    let (identity, can_encrypt, token) = (session.identity, session.encryptor.is_some(), session.token.clone());
    let user = (identity == Identity::User).then(|| session.user.clone());
    let mapping = session.unix.clone();
    if !ctx.server.may_use(share, identity) {
        return Err(NtStatus::ACCESS_DENIED);
    }
    let groups = user.as_deref().map(|u| ctx.server.directory().group_names_of(u)).unwrap_or_default();
    let who = share_access::Who { user: user.as_deref(), groups: &groups };
    let grant = match share.config.access.decide(&who, ctx.conn.peer.ip(), share.config.read_only) {
        Ok(grant) => grant,
        Err(rule) => {
            let user = user.as_deref().unwrap_or("");
            tracing::info!(conn = ctx.conn.id, peer = %ctx.conn.peer, share = %share.name.escape_debug(), user = %user.escape_debug(), %rule, "tree connect refused by the share's access rules");
            return Err(NtStatus::ACCESS_DENIED);
        }
    };
    tree.encrypt_data = tree_encryption(share.encryption, can_encrypt)?;
    tree.unix = unix_identity(ctx, share, mapping)?;
    tree.token = if grant.admin { Arc::new(share_access::admin_token(&token)) } else { token };
    tree.read_only = grant.read_only;
    tree.maximal_access = if grant.read_only { READ_ONLY_ACCESS } else { AccessMask::FILE_ALL_ACCESS };
    Ok(())
}

/// MS-SMB2 3.3.5.2.11: the tree must exist in the session, and a tree that must
/// encrypt takes encrypted requests only.
/// A tree whose share a reload removed answers STATUS_NETWORK_NAME_DELETED to
/// everything but CLOSE and TREE_DISCONNECT, which let the client let go of it; a tree
/// whose share a reload changed is admitted again under the new settings first
/// (`readmit`), and one they no longer admit answers STATUS_ACCESS_DENIED.
pub fn check_share(ctx: &mut Ctx<'_>, cmd: Command) -> Result<(), NtStatus> {
    let t = ctx.tree()?;
    let lets_go = matches!(cmd, Command::Close | Command::TreeDisconnect);
    let TreeKind::Disk(share_idx) = t.kind else { return Ok(()) };
    let generation = t.share_generation;
    let Some(share) = ctx.server.shares.get(share_idx) else {
        return if lets_go { Ok(()) } else { Err(NtStatus::NETWORK_NAME_DELETED) };
    };
    if share.generation != generation {
        readmit(ctx, &share)?;
    }
    if ctx.tree()?.revoked && !lets_go {
        return Err(NtStatus::ACCESS_DENIED);
    }
    Ok(())
}

/// A reload changed the settings of the share the request's tree is on: the share's
/// access rules are applied to the tree again, so what a tree may do always follows the
/// rules in force (read_list, write_list, admin_users, valid_users, hosts_allow,
/// encryption). Opens keep the access they were granted when they were opened (access is
/// checked at open, MS-FSA 2.1.5.1); new opens, SET_INFO and everything else on the tree
/// follow the new rules. A tree the rules no longer admit is revoked: its requests but
/// CLOSE and TREE_DISCONNECT answer STATUS_ACCESS_DENIED until a later reload admits it
/// again.
pub(crate) fn readmit(ctx: &mut Ctx<'_>, share: &crate::share_state::ShareState) -> Result<(), NtStatus> {
    let tid = ctx.hdr.tree_id;
    let mut tree = ctx.session()?.trees.remove(&tid).ok_or(NtStatus::NETWORK_NAME_DELETED)?;
    let admitted = admit(ctx, share, &mut tree);
    tree.revoked = admitted.is_err();
    tree.share_generation = share.generation;
    tracing::debug!(conn = ctx.conn.id, share = %share.name.escape_debug(), tid, read_only = tree.read_only, revoked = tree.revoked, "tree admitted again after a reload");
    ctx.session()?.trees.insert(tid, tree);
    Ok(())
}

/// With `unix_identity`, the UNIX identity the tree's requests run as; a session that
/// has none (no uid/gid and no system account, or one that maps to root) cannot use a
/// disk share: STATUS_ACCESS_DENIED, logged at info with the reason (`unix_id`).
fn unix_identity(
    ctx: &Ctx<'_>,
    share: &crate::share_state::ShareState,
    mapping: Option<crate::unix_id::Mapping>,
) -> Result<Option<Arc<opportune_fs::UnixIdentity>>, NtStatus> {
    if !ctx.server.config.unix_identity || !share.config.unix_identity {
        return Ok(None);
    }
    match mapping {
        Some(Ok(who)) => Ok(Some(who)),
        Some(Err(why)) => {
            tracing::info!(conn = ctx.conn.id, peer = %ctx.conn.peer, share = %share.name.escape_debug(), why = %why.escape_debug(), "tree connect refused: no UNIX identity");
            Err(NtStatus::ACCESS_DENIED)
        }
        None => {
            tracing::info!(conn = ctx.conn.id, peer = %ctx.conn.peer, share = %share.name.escape_debug(), "tree connect refused: the session has no UNIX identity");
            Err(NtStatus::ACCESS_DENIED)
        }
    }
}

/// TreeConnect.EncryptData (MS-SMB2 3.3.5.7): set when the share asks for encryption and
/// the session can encrypt; a share that requires it (RejectUnencryptedAccess) refuses
/// sessions that cannot, with STATUS_ACCESS_DENIED.
fn tree_encryption(policy: crate::config::Encryption, can_encrypt: bool) -> Result<bool, NtStatus> {
    if policy.rejects_unencrypted() && !can_encrypt {
        return Err(NtStatus::ACCESS_DENIED);
    }
    Ok(policy.asks() && can_encrypt)
}

pub fn disconnect(ctx: &mut Ctx<'_>) -> HResult {
    opportune_wire::session::decode_empty(ctx.msg)?;
    let (sid, tid) = (ctx.hdr.session_id, ctx.hdr.tree_id);
    super::close::close_session_opens(ctx.server, ctx.conn, sid, Some(tid));
    ctx.session()?.trees.remove(&tid);
    Ok(empty_ok())
}
