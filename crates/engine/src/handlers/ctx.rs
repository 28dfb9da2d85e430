//! What a handler is given: the server, its connection, the request and the chain it is
//! part of, with the checks and look-ups every command makes (MS-SMB2 3.3.5.2).

use crate::chain::ChainState;
use crate::conn_state::ConnState;
use crate::open::Open;
use crate::server::ServerState;
use crate::session::{Session, Tree};
use opportune_types::{AccessMask, FileId, NtStatus};
use opportune_wire::header::{Command, Header};

pub struct Ctx<'a> {
    pub server: &'a ServerState,
    pub conn: &'a mut ConnState,
    pub msg: &'a [u8],
    /// The request header with related-compound ids already filled in.
    pub hdr: &'a Header,
    pub chain: &'a mut ChainState,
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
                    self.server.host_notify.own_change(o.share, &o.handle.rel_path(), self.server.now());
                }
                Ok(o)
            }
            _ => Err(NtStatus::FILE_CLOSED),
        }
    }

    /// The open `id` as a directory that may be listed: QUERY_DIRECTORY (MS-SMB2 3.3.5.18)
    /// and CHANGE_NOTIFY (3.3.5.19) need a directory open (else INVALID_PARAMETER) with
    /// FILE_LIST_DIRECTORY granted (else ACCESS_DENIED).
    pub fn listable_dir(&mut self, id: FileId) -> Result<&mut Open, NtStatus> {
        let open = self.open(id)?;
        if !open.is_dir {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        if !open.has_access(AccessMask::FILE_LIST_DIRECTORY) {
            return Err(NtStatus::ACCESS_DENIED);
        }
        Ok(open)
    }

    /// The tree's share; STATUS_NETWORK_NAME_DELETED once a reload removed it.
    pub fn share(&self) -> Result<std::sync::Arc<crate::share_state::ShareState>, NtStatus> {
        self.server.shares.get(self.share_index()?).ok_or(NtStatus::NETWORK_NAME_DELETED)
    }

    /// The index of the tree's disk share; STATUS_NETWORK_NAME_DELETED on IPC$, which has
    /// none (its requests go to the pipe handlers first).
    pub fn share_index(&self) -> Result<usize, NtStatus> {
        self.tree()?.share().ok_or(NtStatus::NETWORK_NAME_DELETED)
    }
}

/// Commands that may change a file the request names by file id (WRITE, SET_INFO, IOCTL
/// such as copy-chunk or sparse ranges, CLOSE with its time updates, FLUSH).
fn changes_files(command: u16) -> bool {
    matches!(command, 0x0009 | 0x0011 | 0x000B | 0x0006 | 0x0007)
}
