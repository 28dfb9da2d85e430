//! CLOSE (MS-SMB2 3.3.5.10) and the cleanup of opens when a tree, session or
//! connection goes away.

use super::ctx::Ctx;
use super::reply::{HResult, Reply};
use crate::conn_state::ConnState;
use crate::locking::Changer;
use crate::meta::file_meta;
use crate::notify::{action, filter};
use crate::open::Open;
use crate::server::ServerState;
use opportune_types::NtStatus;
use opportune_wire::file_ops::{CloseRequest, CloseResponse, CLOSE_FLAG_POSTQUERY_ATTRIB};

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = CloseRequest::decode(ctx.msg)?;
    let id = ctx.open(req.file_id)?.file_id;
    let open = ctx.conn.opens.remove(&id.volatile).ok_or(NtStatus::FILE_CLOSED)?;
    let mut resp = CloseResponse::default();
    if req.flags & CLOSE_FLAG_POSTQUERY_ATTRIB != 0
        && let Ok(info) = open.handle.info() {
            let m = file_meta(&info, false);
            resp = CloseResponse {
                flags: CLOSE_FLAG_POSTQUERY_ATTRIB,
                creation_time: m.creation_time,
                last_access_time: m.last_access_time,
                last_write_time: m.last_write_time,
                change_time: m.change_time,
                allocation_size: m.allocation_size,
                end_of_file: m.end_of_file,
                file_attributes: m.attributes,
            };
        }
    finish_close(ctx.server, ctx.conn, open);
    let mut body = Vec::with_capacity(60);
    resp.encode(&mut body);
    Ok(Reply::ok(body))
}

/// Releases an open: lock state, and the file itself if it was to be deleted on close.
pub fn finish_close(server: &ServerState, conn: &mut ConnState, open: Open) {
    let id = open.file_id.volatile;
    super::notify::on_close(server, conn, id);
    // Directory leases: the changer is judged while its open still has its lease.
    let by = if server.dir_leases.is_active() { server.locks.changer_of(id) } else { Changer::NO_LEASE };
    if server.dir_leases.take_written(id) {
        server.dir_leases.entry_changed(&server.locks, open.share, &open.handle.rel_path(), by);
    }
    if open.is_dir {
        server.dir_leases.closed(&server.host_notify, id, open.share, &open.handle.rel_path());
    }
    server.host_names.closed(&server.host_notify, id);
    let outcome = server.locks.close_id(id);
    if open.handle.is_last_writer() && !outcome.delete_file {
        // Kernel oplocks: the other opens of the file read only; so does its description now.
        server.locks.stop_writing(&open.handle);
    }
    if let Some(s) = server.shares.get(open.share) {
        s.metrics.closes.increment(1);
    }
    if open.is_dir && open.delete_on_close && !outcome.delete_file {
        // Other opens keep the directory: it is delete-pending now.
        server.notify.directory_deleted(&server.locks, open.share, &open.handle.rel_path());
    }
    if !outcome.delete_file && !outcome.delete_base {
        return;
    }
    // `unix_identity`: as the open's user, whatever request (or disconnect) closed it.
    let Ok(unix) = conn.unix_of_open(server.config.unix_identity, open.session_id, open.tree_id) else { return };
    let remove = |share, handle: &opportune_fs::Handle, is_dir, base_only, by| {
        let _ = crate::unix_id::act_as(unix.as_deref(), || remove(server, conn, share, handle, is_dir, base_only, by));
    };
    if outcome.delete_file {
        remove(open.share, &open.handle, open.is_dir, false, by);
    }
    if outcome.delete_base && open.handle.stream_name().is_some() {
        // The last open of a stream of a delete-pending file: the file goes now
        // ("dir/file:stream" → "dir/file").
        remove(open.share, &open.handle, false, true, by);
    }
}

/// Removes what a close left delete-pending and unopened — under the name the object has
/// now, so a host program's rename never makes us remove someone else's file — and
/// tells the watchers. `base_only`: the base file of a stream open.
fn remove(server: &ServerState, conn: &ConnState, share: usize, handle: &opportune_fs::Handle, is_dir: bool, base_only: bool, by: Changer) {
    let Some(s) = server.shares.get(share) else { return };
    // Under quotas: what the file is charged under, unless other links keep it (one
    // fstat). A stream alone is not charged; its base file is.
    let charged = s.quota.get().and_then(|_| handle.info().ok()).filter(|i| (i.stream == 0 || base_only) && (i.is_dir || i.nlink <= 1));
    match crate::offload::blocking(|| s.fs.remove_open(handle, is_dir, base_only)) {
        Ok(Some(rel)) => {
            if let (Some(q), Some(i)) = (s.quota.get(), charged) {
                q.removed((i.dev, i.file_id));
            }
            let mask = if is_dir && !base_only { filter::DIR_NAME } else { filter::FILE_NAME };
            server.notify.report(&server.host_notify, &server.locks, share, &rel, action::REMOVED, mask);
            server.dir_leases.entry_changed(&server.locks, share, &rel, by);
        }
        Ok(None) => tracing::info!(conn = conn.id, path = ?handle.rel_path(), "delete on close: the object has no name in the share any more (removed or renamed on the host)"),
        Err(e) => tracing::info!(conn = conn.id, path = ?handle.rel_path(), error = %e, "delete on close failed"),
    }
}

/// An open the lock layer already closed (MS-SMB2 3.3.4.17, Server Application Requests
/// Closing an Open): it leaves the open table; the client's handle is FILE_CLOSED from now on.
pub fn forced(server: &ServerState, conn: &mut ConnState, id: u64, delete_file: bool) {
    let Some(open) = conn.opens.remove(&id) else { return };
    super::notify::on_close(server, conn, id);
    server.dir_leases.take_written(id);
    server.host_names.closed(&server.host_notify, id);
    if open.is_dir {
        server.dir_leases.closed(&server.host_notify, id, open.share, &open.handle.rel_path());
    }
    if delete_file {
        let Ok(unix) = conn.unix_of_open(server.config.unix_identity, open.session_id, open.tree_id) else { return };
        let _ = crate::unix_id::act_as(unix.as_deref(), || remove(server, conn, open.share, &open.handle, open.is_dir, false, Changer::NO_LEASE));
    }
}

/// Ends the opens of a session (LOGOFF, a session replaced by a reconnect, a lost
/// connection) or of one of its trees (TREE_DISCONNECT). Durable handles outlive their
/// session but not a tree disconnect (MS-SMB2 3.3.5.6, 3.3.5.8, 3.3.7.1).
pub fn close_session_opens(server: &ServerState, conn: &mut ConnState, session: u64, tree: Option<u32>) {
    conn.pipes.close_session(session, tree);
    let ids: Vec<u64> = conn
        .opens
        .values()
        .filter(|o| o.session_id == session && tree.is_none_or(|t| o.tree_id == t))
        .map(|o| o.file_id.volatile)
        .collect();
    for id in ids {
        if let Some(open) = conn.opens.remove(&id) {
            if tree.is_some() {
                finish_close(server, conn, open);
            } else {
                release(server, conn, open);
            }
        }
    }
}

/// An open whose session or connection ends: a durable handle is kept for its client
/// to reconnect (MS-SMB2 3.3.7.1); any other open is closed.
pub fn release(server: &ServerState, conn: &mut ConnState, open: Open) {
    let (Some(durable), Some(share)) = (open.durable.clone(), server.shares.get(open.share)) else {
        finish_close(server, conn, open);
        return;
    };
    // A parked open's eventual close is not a change through this server.
    server.dir_leases.take_written(open.file_id.volatile);
    let deadline = server.now() + durable.timeout;
    let Ok(unix) = conn.unix_of_open(server.config.unix_identity, open.session_id, open.tree_id) else {
        finish_close(server, conn, open);
        return;
    };
    let parked = crate::parked::Parked { open, durable, fs: share.fs.clone(), deadline, unix };
    if let Err(p) = server.locks.park(parked) {
        finish_close(server, conn, p.open);
    }
}
