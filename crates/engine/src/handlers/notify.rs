//! CHANGE_NOTIFY (MS-SMB2 3.3.5.19): a directory open asks to be told about changes;
//! the request stays pending until one happens, it is cancelled (STATUS_CANCELLED), or
//! its handle is closed (STATUS_NOTIFY_CLEANUP).

use super::ctx::Ctx;
use super::reply::{HResult, Reply};
use crate::conn_state::ConnState;
use crate::locking::ConnEvent;
use crate::notify;
use crate::pending::Waiting;
use crate::server::ServerState;
use opportune_types::NtStatus;
use opportune_wire::query::{encode_buffer_response, ChangeNotifyRequest};

/// SMB2_WATCH_TREE.
const WATCH_TREE: u16 = 0x0001;
/// Changes kept per open between two CHANGE_NOTIFY requests.
const MAX_BUFFERED: usize = 256;

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = ChangeNotifyRequest::decode(ctx.msg)?;
    if req.output_buffer_length > ctx.server.config.max_io_size {
        return Err(NtStatus::INVALID_PARAMETER);
    }
    let conn_id = ctx.conn.id;
    let server = ctx.server;
    let open = ctx.listable_dir(req.file_id)?;
    let id = open.file_id.volatile;
    let (share, dir) = (open.share, open.handle.rel_path());
    let first = *open.notify.first_max.get_or_insert(req.output_buffer_length);
    open.notify.max = first.min(req.output_buffer_length);
    let ready = take_ready(open);
    // A backend without a host (the memory double) has no inotify: the server's own
    // change notices still complete the watch.
    if let Some(fd) = open.handle.host_fd() {
        if req.flags & WATCH_TREE != 0 {
            if let Some(s) = server.shares.get(share) {
                crate::offload::blocking(|| server.host_notify.watch_tree(id, share, &dir, fd, &s.fs));
            }
        } else {
            server.host_notify.watch(id, share, &dir, fd);
        }
    }
    ctx.server.notify.watch(id, conn_id, share, dir, req.flags & WATCH_TREE != 0, req.completion_filter);
    match ready {
        Some(reply) => Ok(reply),
        None => Ok(Reply::pending(Waiting::Notify { open: id })),
    }
}

/// The answer for changes already buffered on the open, if any.
fn take_ready(open: &mut crate::open::Open) -> Option<Reply> {
    if open.notify.overflow {
        open.notify.overflow = false;
        open.notify.changes.clear();
        return Some(Reply::error(NtStatus::NOTIFY_ENUM_DIR));
    }
    if open.notify.changes.is_empty() {
        return None;
    }
    let changes = std::mem::take(&mut open.notify.changes);
    Some(match notify::encode(&changes, open.notify.max as usize) {
        Some(buf) => {
            let mut body = Vec::with_capacity(8 + buf.len());
            encode_buffer_response(&mut body, &buf);
            Reply::ok(body)
        }
        None => Reply::error(NtStatus::NOTIFY_ENUM_DIR),
    })
}

/// A change arrived for a watching open: buffered, and the final answer of a pending
/// CHANGE_NOTIFY if one waits (returned with its AsyncId and request).
pub fn on_change(conn: &mut ConnState, change: crate::notify_change::Change) -> Option<(u64, crate::pending::PendingOp, Reply)> {
    let open = conn.opens.get_mut(&change.open)?;
    if open.notify.changes.len() >= MAX_BUFFERED {
        open.notify.overflow = true;
    } else {
        open.notify.changes.push((change.action, change.name));
    }
    let (async_id, op) = conn.pending.take_waiting(Waiting::Notify { open: change.open })?;
    let open = conn.opens.get_mut(&change.open)?;
    let reply = take_ready(open)?;
    Some((async_id, op, reply))
}

/// Closing a watched directory ends its watch and its pending request.
pub fn on_close(server: &ServerState, conn: &mut ConnState, open: u64) {
    server.notify.unwatch(open);
    server.host_notify.unwatch(open);
    if conn.pending.find(Waiting::Notify { open }) {
        server.locks.send_to(conn.id, ConnEvent::NotifyDone { open, request: None, status: NtStatus::NOTIFY_CLEANUP });
    }
}
