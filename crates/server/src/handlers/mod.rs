//! Command handlers. Each takes the request context and returns a `Reply`; the
//! dispatcher owns headers, credits, compounding and signing.

pub mod cancel;
pub mod close;
pub mod create;
pub mod create_open;
pub mod create_reconnect;
pub mod deferred;
pub mod dir;
pub mod info_query;
pub mod info_set;
pub mod io;
pub mod ioctl;
pub mod lock;
pub mod negotiate;
pub mod notify;
pub mod pipe;
pub mod session_bind;
pub mod session_setup;
pub mod tree;

use crate::conn_state::ConnState;
use crate::dispatch::ChainState;
use crate::open::Open;
use crate::server::ServerState;
use crate::session::{Session, Tree};
use opportune_crypto::Signer;
use opportune_types::{FileId, NtStatus};
use opportune_wire::error_response::encode_error;
use opportune_wire::header::{Command, Header};
use std::sync::Arc;

pub struct Ctx<'a> {
    pub server: &'a ServerState,
    pub conn: &'a mut ConnState,
    pub msg: &'a [u8],
    /// The request header with related-compound ids already filled in.
    pub hdr: &'a Header,
    pub chain: &'a mut ChainState,
}

pub struct Reply {
    pub status: NtStatus,
    pub body: Vec<u8>,
    pub disconnect: bool,
    /// A session id to put in the response (new sessions).
    pub session_id: u64,
    /// A tree id to put in the response (new tree connects).
    pub tree_id: u32,
    /// Sign with this key whatever the request said (final SESSION_SETUP).
    pub signer: Option<Arc<Signer>>,
    /// Never sign this response, whatever the request or session says: the request did
    /// not prove the session's key (a bad signature), so the key must not sign for it.
    pub unsigned: bool,
    /// The request goes asynchronous: an interim STATUS_PENDING is sent now and the final
    /// response when the lock core reports what it waited for (MS-SMB2 3.3.4.2).
    pub pending: Option<crate::pending::Waiting>,
    /// The body starts with HEADER_LEN bytes reserved for the header, which the dispatcher
    /// fills in place instead of copying the body behind a new header (large READs).
    pub header_room: bool,
}

impl Reply {
    pub fn ok(body: Vec<u8>) -> Reply {
        Reply::with_status(NtStatus::SUCCESS, body)
    }

    pub fn with_status(status: NtStatus, body: Vec<u8>) -> Reply {
        Reply {
            status,
            body,
            disconnect: false,
            session_id: 0,
            tree_id: 0,
            signer: None,
            unsigned: false,
            pending: None,
            header_room: false,
        }
    }

    pub fn error(status: NtStatus) -> Reply {
        let mut body = Vec::with_capacity(9);
        encode_error(&mut body);
        Reply::with_status(status, body)
    }

    pub fn pending(waiting: crate::pending::Waiting) -> Reply {
        Reply { pending: Some(waiting), ..Reply::error(NtStatus::PENDING) }
    }

    pub fn disconnect() -> Reply {
        Reply { disconnect: true, ..Reply::error(NtStatus::INVALID_PARAMETER) }
    }
}

impl From<NtStatus> for Reply {
    fn from(s: NtStatus) -> Reply {
        Reply::error(s)
    }
}

/// Result type of handler bodies: `?` turns an NTSTATUS into an error reply.
pub type HResult = Result<Reply, NtStatus>;

pub fn handle(ctx: &mut Ctx<'_>, cmd: Command) -> Reply {
    use Command::*;
    if cmd == Negotiate {
        return negotiate::handle(ctx);
    }
    if ctx.conn.negotiated.is_none() {
        return Reply::disconnect();
    }
    let result = match cmd {
        SessionSetup => session_setup::handle(ctx),
        Echo => Ok(empty_ok()),
        _ => ctx.check_session(cmd).and_then(|()| match cmd {
            Logoff => session_setup::logoff(ctx),
            TreeConnect => tree::connect(ctx),
            _ => ctx.check_share(cmd).and_then(|()| ctx.check_tree()).and_then(|()| {
                // `unix_identity`: the request's system calls run as the tree's user.
                let unix = ctx.tree()?.unix.clone();
                crate::unix_id::act_as(unix.as_deref(), || handle_tree_command(ctx, cmd))?
            }),
        }),
    };
    result.unwrap_or_else(Reply::error)
}

fn handle_tree_command(ctx: &mut Ctx<'_>, cmd: Command) -> HResult {
    use Command::*;
    if ctx.tree()?.is_ipc
        && let Some(r) = pipe::route(ctx, cmd)
    {
        return r;
    }
    match cmd {
        TreeDisconnect => tree::disconnect(ctx),
        Create => create::handle(ctx),
        Close => close::handle(ctx),
        Flush => io::flush(ctx),
        Read => io::read(ctx),
        Write => io::write(ctx),
        Lock => lock::handle(ctx),
        Ioctl => ioctl::handle(ctx),
        QueryDirectory => dir::handle(ctx),
        ChangeNotify => notify::handle(ctx),
        QueryInfo => info_query::handle(ctx),
        SetInfo => info_set::handle(ctx),
        OplockBreak => lock::oplock_break(ctx),
        Negotiate | SessionSetup | Logoff | TreeConnect | Cancel | Echo => Err(NtStatus::INVALID_PARAMETER),
    }
}

pub fn empty_ok() -> Reply {
    let mut body = Vec::with_capacity(4);
    opportune_wire::session::encode_empty(&mut body);
    Reply::ok(body)
}

impl Ctx<'_> {
    /// MS-SMB2 3.3.5.2.9: the session must exist and be established; signed requests
    /// are verified (3.3.5.2.4) and unsigned ones refused where signing is required.
    pub fn check_session(&mut self, _cmd: Command) -> Result<(), NtStatus> {
        let s = self.conn.sessions.get(&self.hdr.session_id).ok_or(NtStatus::USER_SESSION_DELETED)?;
        if !s.is_valid() {
            return Err(NtStatus::USER_SESSION_DELETED);
        }
        let must_encrypt = s.must_encrypt();
        let signature = self.verify_signature(s);
        self.note_signature(signature)?;
        if must_encrypt && !self.chain.encrypted {
            tracing::info!(conn = self.conn.id, peer = %self.conn.peer, session = self.hdr.session_id, "plaintext request on an encrypting session");
            return Err(NtStatus::ACCESS_DENIED);
        }
        Ok(())
    }

    /// MS-SMB2 3.3.5.2.11: the tree must exist in the session, and a tree that must
    /// encrypt takes encrypted requests only.
    /// A tree whose share a reload removed answers STATUS_NETWORK_NAME_DELETED to
    /// everything but CLOSE and TREE_DISCONNECT, which let the client let go of it; a tree
    /// whose share a reload changed is admitted again under the new settings first
    /// (`tree::readmit`), and one they no longer admit answers STATUS_ACCESS_DENIED.
    pub fn check_share(&mut self, cmd: Command) -> Result<(), NtStatus> {
        let t = self.tree()?;
        let lets_go = matches!(cmd, Command::Close | Command::TreeDisconnect);
        if t.is_ipc {
            return Ok(());
        }
        let (share_idx, generation) = (t.share, t.share_generation);
        let Some(share) = self.server.shares.get(share_idx) else {
            return if lets_go { Ok(()) } else { Err(NtStatus::NETWORK_NAME_DELETED) };
        };
        if share.generation != generation {
            tree::readmit(self, &share)?;
        }
        if self.tree()?.revoked && !lets_go {
            return Err(NtStatus::ACCESS_DENIED);
        }
        Ok(())
    }

    pub fn check_tree(&self) -> Result<(), NtStatus> {
        if self.tree()?.encrypt_data && !self.chain.encrypted {
            return Err(NtStatus::ACCESS_DENIED);
        }
        Ok(())
    }

    /// MS-SMB2 3.3.5.2.4: the request is signed with its own session's key, or unsigned
    /// where that session allows it. A decrypted request counts as signed only for the
    /// session whose key decrypted it (3.3.5.2.1.1), never for another one of the chain.
    pub fn verify_signature(&self, s: &Session) -> Result<(), NtStatus> {
        if self.chain.encrypted {
            return if self.hdr.session_id == self.chain.decrypted_by { Ok(()) } else { Err(NtStatus::ACCESS_DENIED) };
        }
        match (&s.signer, self.hdr.is_signed()) {
            (Some(signer), true) => {
                if signer.verify(self.msg) { Ok(()) } else { Err(NtStatus::ACCESS_DENIED) }
            }
            (Some(_), false) if s.signing_required => Err(NtStatus::ACCESS_DENIED),
            _ => Ok(()),
        }
    }

    /// Passes a signature check's result on; a failed check also marks the answer to go
    /// out unsigned, since the requester has not proven the session's key.
    pub fn note_signature(&mut self, result: Result<(), NtStatus>) -> Result<(), NtStatus> {
        if result.is_err() {
            self.chain.signature_failed = true;
        }
        result
    }

    pub fn session(&mut self) -> Result<&mut Session, NtStatus> {
        self.conn.sessions.get_mut(&self.hdr.session_id).ok_or(NtStatus::USER_SESSION_DELETED)
    }

    /// MS-SMB2 3.3.5.2.11: the tree must exist in the session.
    pub fn tree(&self) -> Result<&Tree, NtStatus> {
        let s = self.conn.sessions.get(&self.hdr.session_id).ok_or(NtStatus::USER_SESSION_DELETED)?;
        s.trees.get(&self.hdr.tree_id).ok_or(NtStatus::NETWORK_NAME_DELETED)
    }

    /// Resolves a request's FileId (the compounded one from the chain when related) to an open
    /// of this session and tree (MS-SMB2 3.3.5.2.7.2).
    pub fn resolve_file_id(&mut self, id: FileId) -> Result<FileId, NtStatus> {
        if id.is_compounded() {
            if !self.hdr.is_related() {
                return Err(NtStatus::FILE_CLOSED);
            }
            if self.chain.last_status.is_error() && self.chain.file_id.is_none() {
                return Err(self.chain.last_status);
            }
            return self.chain.file_id.ok_or(NtStatus::INVALID_PARAMETER);
        }
        Ok(id)
    }

    pub fn open(&mut self, id: FileId) -> Result<&mut Open, NtStatus> {
        let id = self.resolve_file_id(id)?;
        let (sid, tid) = (self.hdr.session_id, self.hdr.tree_id);
        self.chain.file_id = Some(id);
        match self.conn.opens.get_mut(&id.volatile) {
            Some(o) if o.file_id.persistent == id.persistent && o.session_id == sid && o.tree_id == tid => {
                // Whatever a changing request does to the file is the server's own change.
                if self.server.host_notify.is_active() && changes_files(self.hdr.command) {
                    self.server.host_notify.own_change(o.share, &o.handle.rel_path(), std::time::Instant::now());
                }
                Ok(o)
            }
            _ => Err(NtStatus::FILE_CLOSED),
        }
    }

    /// The tree's share; STATUS_NETWORK_NAME_DELETED once a reload removed it.
    pub fn share(&self) -> Result<std::sync::Arc<crate::share_state::ShareState>, NtStatus> {
        let t = self.tree()?;
        self.server.shares.get(t.share).ok_or(NtStatus::NETWORK_NAME_DELETED)
    }
}

/// Commands that may change a file the request names by file id (WRITE, SET_INFO, IOCTL
/// such as copy-chunk or sparse ranges, CLOSE with its time updates, FLUSH).
fn changes_files(command: u16) -> bool {
    matches!(command, 0x0009 | 0x0011 | 0x000B | 0x0006 | 0x0007)
}
