//! CREATE with a durable reconnect context (MS-SMB2 3.3.5.9.7 DHnC, 3.3.5.9.12 DH2C):
//! a disconnected durable open is handed to this session and tree with the caching,
//! byte-range locks and position it had. The other fields of the request are ignored;
//! for a leased open the name must still lead to the same file.

use super::create_open::encode_response;
use super::ctx::Ctx;
use super::reply::{HResult, Reply};
use crate::durable::Reconnect;
use opportune_fs::{CreateParams, SmbPath};
use opportune_types::create::{oplock, CreateAction, CreateDisposition};
use opportune_types::{NtStatus, OplockLevel};
use opportune_wire::create::{context_name, encode_contexts, CreateRequest, LeaseContext};

pub fn handle(ctx: &mut Ctx<'_>, req: &CreateRequest<'_>, rc: Reconnect) -> HResult {
    let share = ctx.share_index()?;
    let user = ctx.session()?.owner();
    let client = ctx.conn.client_guid();
    let lease = match req.context(context_name::REQUEST_LEASE) {
        Some(c) => Some(LeaseContext::decode(c.data)?),
        None => None,
    };
    let (file_id, create_guid) = match rc {
        Reconnect::V1(id) => (id, None),
        Reconnect::V2(r) => (r.file_id, Some(r.create_guid)),
    };
    // Which file the name leads to now, for a leased open (looked up before the lock
    // core's mutex is taken).
    let named = lease.map(|_| named_file(ctx, share, &req.name));
    let conn_id = ctx.conn.id;
    let want = Wanted { share, create_guid, lease, client, user, named };
    let locks = &ctx.server.locks;
    let mut result = locks.unpark(file_id.persistent, conn_id, client, |p| want.check(p));
    if crate::offload::others_run_meanwhile()
        && result.as_ref().is_err_and(|e| *e == NtStatus::OBJECT_NAME_NOT_FOUND)
        && locks.live_elsewhere(file_id.persistent, conn_id)
    {
        // The client reconnects faster than its old connection's end reached us: give
        // that connection's task a moment to park the open (MS-SMB2 3.3.7.1).
        crate::offload::blocking(|| {
            for _ in 0..RECONNECT_WAIT_STEPS {
                std::thread::sleep(RECONNECT_WAIT_STEP);
                if !locks.live_elsewhere(file_id.persistent, conn_id) {
                    break;
                }
            }
        });
        result = locks.unpark(file_id.persistent, conn_id, client, |p| want.check(p));
    }
    let (parked, caching, epoch) = result?;
    let mut open = parked.open;
    open.session_id = ctx.hdr.session_id;
    open.tree_id = ctx.hdr.tree_id;
    // The open now counts against its new session.
    let session_opens = ctx.session()?.opens.clone();
    open.ticket = ctx.server.fds.ticket(&session_opens, &ctx.conn.address_opens);
    if let Some(d) = open.durable.as_mut() {
        d.client_guid = client;
    }
    let id = open.file_id;
    let handle = open.handle.clone();
    ctx.conn.opens.insert(id.volatile, open);
    ctx.chain.file_id = Some(id);
    let info = handle.info()?;
    let (level, contexts) = match lease {
        Some(l) => {
            let granted = LeaseContext {
                key: l.key,
                state: caching.bits.bits(),
                flags: 0,
                parent: None,
                epoch: l.epoch.map(|_| epoch.unwrap_or(0)),
            };
            (oplock::LEASE, encode_contexts(&[(context_name::REQUEST_LEASE, granted.encode())]))
        }
        None => (OplockLevel::covered_by(caching.bits).to_wire(), Vec::new()),
    };
    tracing::info!(conn = conn_id, peer = %ctx.conn.peer, ?id, "durable reconnect");
    Ok(Reply::ok(encode_response(&info, level, CreateAction::Opened, id, contexts)))
}

/// How long a reconnect waits for the open's old connection to be found dead: 50 × 4 ms.
const RECONNECT_WAIT_STEPS: u32 = 50;
const RECONNECT_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(4);

/// What the parked open must match (MS-SMB2 3.3.5.9.7, 3.3.5.9.12).
struct Wanted {
    share: usize,
    create_guid: Option<[u8; 16]>,
    lease: Option<LeaseContext>,
    client: [u8; 16],
    /// The reconnecting session's proven user name (None for guests and anonymous).
    user: Option<String>,
    /// For a leased open: the file the request's name leads to now.
    named: Option<Option<(u64, u64)>>,
}

impl Wanted {
    fn check(&self, p: &crate::parked::Parked) -> Result<(), NtStatus> {
        let d = &p.durable;
        if p.open.share != self.share || self.create_guid.is_some_and(|g| g != d.create_guid) {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        }
        match (d.lease_key, &self.lease) {
            (Some(key), Some(l)) if l.key == key && d.client_guid == self.client => {}
            (None, None) => {}
            _ => return Err(NtStatus::OBJECT_NAME_NOT_FOUND),
        }
        if !crate::session::same_user(d.user.as_deref(), self.user.as_deref()) {
            return Err(NtStatus::ACCESS_DENIED);
        }
        if let Some(named) = self.named {
            let current = p.open.handle.info().ok().map(|i| (i.dev, i.file_id));
            if named.is_none() || named != current {
                return Err(NtStatus::INVALID_PARAMETER);
            }
        }
        Ok(())
    }
}

/// (device, inode) of the file `name` names in the share, if it can be opened.
fn named_file(ctx: &Ctx<'_>, share: usize, name: &str) -> Option<(u64, u64)> {
    let path = SmbPath::parse(name).ok()?;
    let fs = &ctx.server.shares.get(share)?.fs;
    let params = CreateParams {
        disposition: CreateDisposition::Open,
        directory: None,
        write: false,
        attributes: 0,
        allocation_size: 0,
        metadata_only: true,
    };
    let info = fs.create(&path, &params).ok()?.info().ok()?;
    Some((info.dev, info.file_id))
}
