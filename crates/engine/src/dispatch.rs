//! One received frame in, one response frame out: compound splitting, message-id and
//! credit accounting, session/tree lookup, signature checks, routing to the command
//! handlers, and the response headers (MS-SMB2 3.3.5.2).

use crate::chain::{ChainState, RestOfChain};
use crate::conn_state::ConnState;
use crate::fault::Fault;
use crate::handlers::ctx::Ctx;
use crate::handlers::reply::Reply;
use crate::handlers;
use crate::pending::{HeldInterim, PendingOp, Waiting};
use crate::server::ServerState;
use opportune_types::{FileId, NtStatus};
use opportune_crypto::{is_transform, transform_session_id, Signer};
use opportune_wire::header::{flags, Command, Header, HEADER_LEN};
use std::sync::Arc;
use opportune_wire::transport::{parse_smb1_negotiate, Smb1Negotiate};

/// What the connection task does with a frame's result (a frame that ends the connection
/// is an `Err(Fault)` instead).
pub enum FrameResult {
    Send(Vec<u8>),
    Nothing,
    /// The answer may be this large: reserve send memory, then process the frame again
    /// with `reserved` set. Nothing was processed.
    NeedMemory(usize),
}

/// Header flags a request may carry (MS-SMB2 2.2.1.2); anything else is refused.
const ALLOWED_FLAGS: u32 = flags::RELATED_OPERATIONS
    | flags::SIGNED
    | flags::DFS_OPERATIONS
    | flags::PRIORITY_MASK
    | flags::REPLAY_OPERATION;

/// Processes one frame. A frame whose answer may be large (MS-SMB2 READ, QUERY_*, IOCTL
/// lengths) is first answered `NeedMemory` unless `reserved` says the memory for it has
/// been set aside (docs/SECURITY.md, send budget).
pub fn process_frame(server: &ServerState, conn: &mut ConnState, frame: &[u8], reserved: bool) -> Result<FrameResult, Fault> {
    if frame.starts_with(&[0xFF, b'S', b'M', b'B']) {
        return smb1_negotiate(server, conn, frame);
    }
    if is_transform(frame) {
        return process_encrypted(server, conn, frame, reserved);
    }
    process_chain(server, conn, frame, ChainState::default(), reserved)
}

/// An SMB2 TRANSFORM message (MS-SMB2 3.3.5.2.1): decrypted with its session's key, processed,
/// and answered encrypted with the same session. Anything that does not decrypt drops the
/// connection.
fn process_encrypted(server: &ServerState, conn: &mut ConnState, frame: &[u8], reserved: bool) -> Result<FrameResult, Fault> {
    let sid = transform_session_id(frame).ok_or(Fault::Malformed("TRANSFORM header does not parse"))?;
    let session = conn.sessions.get_mut(&sid).ok_or(Fault::Malformed("TRANSFORM message for no session of this connection"))?;
    let (Some(dec), Some(enc)) = (session.decryptor.clone(), session.encryptor.clone()) else {
        return Err(Fault::Malformed("TRANSFORM message for a session without encryption keys"));
    };
    let Ok(plain) = dec.decrypt(frame) else { return Err(Fault::Malformed("TRANSFORM message does not decrypt")) };
    session.encryption_seen = true;
    let chain = ChainState { encrypted: true, decrypted_by: sid, ..ChainState::default() };
    Ok(match process_chain(server, conn, &plain, chain, reserved)? {
        FrameResult::Send(out) => FrameResult::Send(enc.encrypt(sid, &out)),
        other => other,
    })
}

/// Responses up to this size need no reservation of send memory: what any connection may
/// hold without asking (directory listings and queries use 64 KiB buffers, and must not
/// wait behind large transfers). Larger ones are [`FrameResult::NeedMemory`].
pub const SMALL_RESPONSE: usize = 128 * 1024;

fn process_chain(server: &ServerState, conn: &mut ConnState, frame: &[u8], mut chain: ChainState, reserved: bool) -> Result<FrameResult, Fault> {
    let room = response_room(server);
    if !reserved {
        let bound = opportune_wire::response_bound::response_bound(frame);
        if bound > SMALL_RESPONSE {
            return Ok(FrameResult::NeedMemory(bound.min(room)));
        }
    }
    chain.response_room = room;
    process_chain_from(server, conn, frame, chain, true)
}

/// What the responses of one frame may take: the configured compound limit, and never more
/// than a frame can carry once encrypted (52-byte TRANSFORM header).
pub fn response_room(server: &ServerState) -> usize {
    server.config.limits.max_compound_response.min(crate::limits::FRAME_LIMIT - 64)
}

/// MS-SMB2 3.3.5.2.1.1: every message of a decrypted frame must name the session whose
/// key decrypted it; a related message inherits that session from the one before it. A
/// key proves nothing about another session, so anything else drops the connection.
fn belongs_to_decrypting_session(chain: &ChainState, hdr: &Header) -> bool {
    !chain.encrypted || hdr.is_related() || hdr.session_id == chain.decrypted_by
}

/// Processes the messages of `frame` in order. When one goes asynchronous before the end
/// of the chain, the rest waits with it and is resumed by `resume_chain` once it completes,
/// so related requests see the file it opened (MS-SMB2 3.3.5.2.7).
fn process_chain_from(
    server: &ServerState,
    conn: &mut ConnState,
    frame: &[u8],
    mut chain: ChainState,
    mut first: bool,
) -> Result<FrameResult, Fault> {
    let mut out = Vec::new();
    let mut pending: Option<Outgoing> = None;
    let mut pos = 0usize;
    let mut last_len = 0usize;
    let started_first = first;
    while pos < frame.len() {
        let rest = &frame[pos..];
        let hdr = Header::decode(rest)?;
        if !belongs_to_decrypting_session(&chain, &hdr) {
            return Err(Fault::ProtocolViolation("encrypted message for another session"));
        }
        let next = hdr.next_command as usize;
        if next != 0 && (!next.is_multiple_of(8) || next < HEADER_LEN || next > rest.len()) {
            return Err(Fault::Malformed("NextCommand out of bounds"));
        }
        let msg = if next == 0 { rest } else { &rest[..next] };
        last_len = msg.len();
        chain.last = next == 0;
        chain.went_async = None;
        chain.rest_len = rest.len() - msg.len();
        if let Some(mut resp) = process_message(server, conn, msg, &hdr, &mut chain, first)? {
            let len = resp.bytes.len().next_multiple_of(8);
            if len > chain.response_room {
                resp.make_error(NtStatus::INSUFFICIENT_RESOURCES);
            }
            chain.response_room = chain.response_room.saturating_sub(resp.bytes.len().next_multiple_of(8));
            if let Some(prev) = pending.take() {
                prev.finish(&mut out, Link::More);
            }
            pending = Some(resp);
        }
        first = false;
        if next == 0 || conn.closing {
            break;
        }
        pos += next;
        if let Some(async_id) = chain.went_async {
            // The room the frame's answer had goes with the rest; its own frame comes later.
            chain.response_room = response_room(server);
            let rest = Box::new(RestOfChain { frame: frame[pos..].to_vec(), chain: chain.clone() });
            conn.pending.attach_rest(async_id, rest);
            break;
        }
    }
    if let Some(last) = pending {
        // The last response of a compound is padded too, as Windows does (smbtorture
        // compound-padding); a lone response is not.
        let compounded = !started_first || frame.len() > last_len;
        last.finish(&mut out, if compounded { Link::LastPadded } else { Link::Alone });
    }
    Ok(if out.is_empty() { FrameResult::Nothing } else { FrameResult::Send(out) })
}

/// Continues a chain after its asynchronous request completed; `file_id` is what that
/// request opened, for related requests that follow. Encrypted like the chain was.
pub fn resume_chain(
    server: &ServerState,
    conn: &mut ConnState,
    rest: RestOfChain,
    session_id: u64,
    status: NtStatus,
    file_id: Option<FileId>,
) -> Result<FrameResult, Fault> {
    let mut chain = rest.chain;
    chain.last_status = status;
    if file_id.is_some() {
        chain.file_id = file_id;
    }
    if status.is_error() {
        chain.create_error = chain.create_error.or(Some(status));
    }
    let encrypted = chain.encrypted;
    let enc = conn.sessions.get(&session_id).and_then(|s| s.encryptor.clone());
    Ok(match process_chain_from(server, conn, &rest.frame, chain, false)? {
        FrameResult::Send(out) => match enc.filter(|_| encrypted) {
            Some(e) => FrameResult::Send(e.encrypt(session_id, &out)),
            None => FrameResult::Send(out),
        },
        other => other,
    })
}

/// Where a response sits in the frame it goes out in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Another response follows: padded to 8 bytes and linked by NextCommand.
    More,
    /// The last of a compound: padded, not linked.
    LastPadded,
    /// A single response.
    Alone,
}

/// A response message waiting to be chained: padded and linked if another follows, then signed.
pub struct Outgoing {
    pub bytes: Vec<u8>,
    pub signer: Option<Arc<Signer>>,
}

impl Outgoing {
    /// Turns the response into an error response with the same header (MS-SMB2 2.2.2).
    fn make_error(&mut self, status: NtStatus) {
        self.bytes.truncate(HEADER_LEN);
        self.bytes[8..12].copy_from_slice(&status.0.to_le_bytes());
        opportune_wire::error_response::encode_error(&mut self.bytes);
    }

    fn finish(mut self, out: &mut Vec<u8>, link: Link) {
        if link != Link::Alone {
            while !self.bytes.len().is_multiple_of(8) {
                self.bytes.push(0);
            }
        }
        if link == Link::More {
            let len = self.bytes.len() as u32;
            self.bytes[20..24].copy_from_slice(&len.to_le_bytes());
        }
        if let Some(signer) = &self.signer {
            signer.sign_in_place(&mut self.bytes);
        }
        if out.is_empty() {
            *out = self.bytes;
        } else {
            out.extend_from_slice(&self.bytes);
        }
    }
}

/// Handles one message of a chain: its response, if it has one now.
fn process_message(
    server: &ServerState,
    conn: &mut ConnState,
    msg: &[u8],
    hdr: &Header,
    chain: &mut ChainState,
    first: bool,
) -> Result<Option<Outgoing>, Fault> {
    let cmd = Command::from_u16(hdr.command);
    if cmd == Some(Command::Cancel) {
        handlers::cancel::handle_cancel(server, conn, hdr);
        return Ok(None);
    }
    let charge = if conn.supports_multi_credit() { hdr.credit_charge } else { 1 };
    if !conn.window.consume(hdr.message_id, charge) {
        return Err(Fault::ProtocolViolation("MessageId outside the credit window"));
    }
    if hdr.flags & !ALLOWED_FLAGS != 0 && cmd != Some(Command::Cancel) {
        return Ok(Some(finish(conn, hdr, Reply::error(NtStatus::INVALID_PARAMETER), charge, chain.encrypted)));
    }
    let mut h = *hdr;
    if hdr.is_related() {
        if first {
            // A chain cannot start related to nothing (MS-SMB2 3.3.5.2.7.2); what follows
            // it has no session to inherit.
            chain.session_id = 0;
            chain.tree_id = 0;
            chain.last_status = NtStatus::INVALID_PARAMETER;
            return Ok(Some(finish(conn, &h, Reply::error(NtStatus::INVALID_PARAMETER), charge, chain.encrypted)));
        }
        h.session_id = chain.session_id;
        h.tree_id = chain.tree_id;
        // A related request whose inherited session is not valid is malformed, whatever
        // made the earlier lookup fail (Windows and Samba agree).
        if needs_session(cmd) && !session_ok(conn, h.session_id) {
            chain.last_status = NtStatus::INVALID_PARAMETER;
            return Ok(Some(finish(conn, &h, Reply::error(NtStatus::INVALID_PARAMETER), charge, chain.encrypted)));
        }
        // A failed CREATE fails every related request after it with its status.
        if let Some(err) = chain.create_error {
            chain.last_status = err;
            return Ok(Some(finish(conn, &h, Reply::error(err), charge, chain.encrypted)));
        }
    } else {
        chain.file_id = None;
        chain.create_error = None;
        chain.last_status = NtStatus::SUCCESS;
    }
    if may_go_async(cmd) && !pending_room(server, conn, chain.rest_len) {
        tracing::debug!(conn = conn.id, pending = conn.pending.len(), "too many pending requests");
        chain.last_status = NtStatus::INSUFFICIENT_RESOURCES;
        return Ok(Some(finish(conn, &h, Reply::error(NtStatus::INSUFFICIENT_RESOURCES), charge, chain.encrypted)));
    }
    let reply = match cmd {
        None => Reply::error(NtStatus::INVALID_PARAMETER),
        Some(c) => {
            let mut ctx = Ctx { server, conn: &mut *conn, msg, hdr: &h, chain: &mut *chain };
            let mut reply = handlers::handle(&mut ctx, c);
            if let Some(fault) = reply.disconnect.take() {
                return Err(fault);
            }
            if std::mem::take(&mut chain.signature_failed) {
                reply.unsigned = true;
                reply.signer = None;
            }
            reply
        }
    };
    if reply.session_id != 0 {
        h.session_id = reply.session_id;
    }
    if reply.tree_id != 0 {
        h.tree_id = reply.tree_id;
    }
    // Only ids that resolved are inherited by related requests (MS-SMB2 3.3.5.2.7.2).
    chain.session_id = if session_ok(conn, h.session_id) { h.session_id } else { 0 };
    let tree_ok = conn.sessions.get(&h.session_id).is_some_and(|s| s.trees.contains_key(&h.tree_id));
    chain.tree_id = if tree_ok { h.tree_id } else { 0 };
    chain.last_status = reply.status;
    if reply.status.is_error() && reply.status != NtStatus::MORE_PROCESSING_REQUIRED {
        crate::metrics::error(reply.status);
    }
    tracing::trace!(conn = conn.id, command = ?cmd, mid = h.message_id, status = ?reply.status, related = hdr.is_related(), "request");
    if cmd == Some(Command::Create) && reply.status.is_error() {
        chain.create_error = Some(reply.status);
    }
    if let Some(waiting) = reply.pending {
        if let (Waiting::Notify { .. }, false) = (waiting, chain.last) {
            // Windows fails a CHANGE_NOTIFY that would go asynchronous in the middle of a
            // compound chain (MS-SMB2 <162>); smbtorture's compound.interim2 expects it.
            return Ok(Some(finish(conn, &h, Reply::error(NtStatus::INTERNAL_ERROR), charge, chain.encrypted)));
        }
        let (out, async_id, credits) = interim(server, conn, &h, (waiting, reply.deferred), charge, chain.encrypted);
        chain.went_async = Some(async_id);
        let delay = server.config.interim_delay;
        if first && chain.last && !delay.is_zero() {
            // Alone in its frame: the interim waits (pending::HeldInterim).
            let frame = seal_alone(conn, chain.decrypted_by, chain.encrypted, out);
            conn.pending.hold_interim(async_id, HeldInterim { frame, due: server.now() + delay, credits });
            return Ok(None);
        }
        return Ok(Some(out));
    }
    let status = reply.status;
    let out = finish(conn, &h, reply, charge, chain.encrypted);
    feed_preauth(conn, &h, status, &out.bytes);
    Ok(Some(out))
}

/// Commands that can be answered asynchronously (deferred create, blocking lock, deferred
/// rename, change notify).
fn may_go_async(cmd: Option<Command>) -> bool {
    matches!(cmd, Some(Command::Create | Command::Lock | Command::SetInfo | Command::ChangeNotify))
}

/// Whether one more request may wait on this connection, keeping `rest` more bytes of its
/// frame (docs/SECURITY.md: pending requests and the bytes they hold are capped).
fn pending_room(server: &ServerState, conn: &ConnState, rest: usize) -> bool {
    let limits = &server.config.limits;
    conn.pending.len() < limits.max_pending_requests && conn.pending.bytes() + rest <= limits.max_pending_bytes
}

fn needs_session(cmd: Option<Command>) -> bool {
    !matches!(cmd, Some(Command::Negotiate | Command::SessionSetup | Command::Echo | Command::Cancel) | None)
}

fn session_ok(conn: &ConnState, id: u64) -> bool {
    conn.sessions.get(&id).is_some_and(|s| s.is_valid())
}

/// The interim response of a request that went asynchronous (MS-SMB2 3.3.4.2): credits are
/// granted now, the final response grants none. It is not signed. Returns it, the AsyncId
/// and the credits it grants.
fn interim(
    server: &ServerState,
    conn: &mut ConnState,
    h: &Header,
    (waiting, create): (Waiting, Option<Box<crate::deferred_create::DeferredCreate>>),
    charge: u16,
    encrypted: bool,
) -> (Outgoing, u64, u16) {
    let async_id = server.next_id();
    conn.pending.insert(async_id, PendingOp { header: *h, waiting, encrypted, rest: None, since: server.now(), create, held: None });
    let credits = conn.window.grant(h.credits, charge);
    let rh = Header {
        credit_charge: h.credit_charge,
        status: NtStatus::PENDING.0,
        command: h.command,
        credits,
        flags: flags::SERVER_TO_REDIR | flags::ASYNC_COMMAND | (h.flags & flags::RELATED_OPERATIONS),
        message_id: h.message_id,
        async_id,
        session_id: h.session_id,
        signature: h.signature,
        ..Header::default()
    };
    let mut bytes = Vec::with_capacity(HEADER_LEN + 9);
    rh.encode(&mut bytes);
    opportune_wire::error_response::encode_error(&mut bytes);
    (Outgoing { bytes, signer: None }, async_id, credits)
}

/// A lone response as it goes on the wire outside the frame processing: finished (signed
/// if it has a signer), and encrypted with session `session_id`'s key when its request
/// came `encrypted`.
fn seal_alone(conn: &ConnState, session_id: u64, encrypted: bool, out: Outgoing) -> Vec<u8> {
    let mut v = Vec::with_capacity(out.bytes.len());
    out.finish(&mut v, Link::Alone);
    let enc = conn.sessions.get(&session_id).and_then(|s| s.encryptor.as_ref());
    match enc.filter(|_| encrypted) {
        Some(e) => e.encrypt(session_id, &v),
        None => v,
    }
}

/// The final response of a pending request (MS-SMB2 3.3.4.2): async header, no credits,
/// signed like the request. When its interim response was still held back
/// ([`HeldInterim`]), it is an ordinary synchronous response instead, granting the credits
/// the interim would have granted, and the interim is never sent.
pub fn async_final(conn: &ConnState, async_id: u64, op: &PendingOp, reply: Reply) -> Vec<u8> {
    let req = &op.header;
    let mut rh = Header {
        credit_charge: req.credit_charge,
        status: reply.status.0,
        command: req.command,
        flags: flags::SERVER_TO_REDIR,
        message_id: req.message_id,
        session_id: req.session_id,
        ..Header::default()
    };
    match &op.held {
        None => {
            rh.flags |= flags::ASYNC_COMMAND;
            rh.async_id = async_id;
        }
        Some(held) => {
            rh.credits = held.credits;
            rh.flags |= req.flags & flags::PRIORITY_MASK;
            rh.tree_id = req.tree_id;
        }
    }
    let signer = conn
        .sessions
        .get(&req.session_id)
        .filter(|s| !op.encrypted && (req.is_signed() || s.signing_required))
        .and_then(|s| s.signer.clone());
    if signer.is_some() {
        rh.flags |= flags::SIGNED;
    }
    let mut out = Outgoing { bytes: Vec::with_capacity(HEADER_LEN + reply.body.len()), signer };
    rh.encode(&mut out.bytes);
    out.bytes.extend_from_slice(&reply.body);
    seal_alone(conn, req.session_id, op.encrypted, out)
}

/// SMB 3.1.1 preauth integrity (MS-SMB2 3.3.5.4, 3.3.5.5): the NEGOTIATE response goes into
/// the connection's hash, and every SESSION_SETUP response but the final one into the session's.
fn feed_preauth(conn: &mut ConnState, h: &Header, status: NtStatus, bytes: &[u8]) {
    match Command::from_u16(h.command) {
        Some(Command::Negotiate) if conn.pending_preauth_response => {
            conn.pending_preauth_response = false;
            if let Some(p) = conn.preauth.as_mut() {
                p.update(bytes);
            }
        }
        Some(Command::SessionSetup) if status == NtStatus::MORE_PROCESSING_REQUIRED => {
            if let Some(p) = conn.sessions.get_mut(&h.session_id).and_then(|s| s.preauth.as_mut()) {
                p.update(bytes);
            }
        }
        _ => {}
    }
}

/// Builds the response header and body, grants credits, and picks the signing key.
pub fn finish(conn: &mut ConnState, req: &Header, reply: Reply, charge: u16, encrypted: bool) -> Outgoing {
    let credits = conn.window.grant(req.credits, charge);
    let mut rh = Header {
        credit_charge: req.credit_charge,
        status: reply.status.0,
        command: req.command,
        credits,
        flags: flags::SERVER_TO_REDIR | (req.flags & (flags::RELATED_OPERATIONS | flags::PRIORITY_MASK)),
        next_command: 0,
        message_id: req.message_id,
        async_id: 0,
        tree_id: req.tree_id,
        session_id: req.session_id,
        signature: [0; 16],
    };
    // Encrypted messages are not signed (MS-SMB2 3.3.4.1.1), nor answers to requests
    // whose signature did not verify.
    let signer = if encrypted || reply.unsigned {
        None
    } else {
        reply.signer.or_else(|| {
            let s = conn.sessions.get(&req.session_id)?;
            let wanted = req.is_signed() || s.signing_required;
            if wanted { s.signer.clone() } else { None }
        })
    };
    if signer.is_some() {
        rh.flags |= flags::SIGNED;
    }
    let bytes = if reply.header_room && reply.body.len() >= HEADER_LEN {
        let mut bytes = reply.body;
        let mut head = Vec::with_capacity(HEADER_LEN);
        rh.encode(&mut head);
        bytes[..HEADER_LEN].copy_from_slice(&head);
        bytes
    } else {
        let mut bytes = Vec::with_capacity(HEADER_LEN + reply.body.len());
        rh.encode(&mut bytes);
        bytes.extend_from_slice(&reply.body);
        bytes
    };
    Outgoing { bytes, signer }
}

/// MS-SMB2 3.3.5.3.1: an SMB1 NEGOTIATE that offers SMB2 is answered with an SMB2 NEGOTIATE response.
fn smb1_negotiate(server: &ServerState, conn: &mut ConnState, frame: &[u8]) -> Result<FrameResult, Fault> {
    if conn.negotiated.is_some() {
        return Err(Fault::ProtocolViolation("SMB1 NEGOTIATE after NEGOTIATE"));
    }
    let dialect = match parse_smb1_negotiate(frame) {
        Some(Smb1Negotiate::Wildcard) => opportune_wire::negotiate::dialect::WILDCARD,
        Some(Smb1Negotiate::Smb202) => opportune_wire::negotiate::dialect::SMB202,
        _ => return Err(Fault::ProtocolViolation("SMB1 NEGOTIATE offers no SMB2 dialect")),
    };
    if !conn.window.consume(0, 1) {
        return Err(Fault::ProtocolViolation("MessageId outside the credit window"));
    }
    let body = handlers::negotiate::smb1_upgrade_response(server, conn, dialect);
    let credits = conn.window.grant(1, 1);
    let rh = Header { command: Command::Negotiate as u16, credits, flags: flags::SERVER_TO_REDIR, ..Header::default() };
    let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
    rh.encode(&mut bytes);
    bytes.extend_from_slice(&body);
    Ok(FrameResult::Send(bytes))
}
