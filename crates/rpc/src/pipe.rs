//! One open named pipe speaking connection-oriented RPC (C706 12, MS-RPCE 3.3.3 and
//! 3.3.1.5 for the server side): the bytes a client writes are cut into fragments and
//! answered; each answer fragment is one pipe message, read back whole or in pieces
//! (a partial read says `more`, which SMB2 answers with STATUS_BUFFER_OVERFLOW, as a
//! message-mode pipe does).
//!
//! Nothing a client writes ends the pipe: a malformed fragment is answered with a fault
//! (nca_s_proto_error) or a bind_nak and the pipe stays usable. Memory is bounded: one
//! partial fragment (at most 64 KiB), one request being reassembled
//! ([`MAX_REQUEST_STUB`]) and the answers not yet read ([`MAX_PENDING_OUTPUT`]).

use crate::pdu::{self, pfc, ptype, reject, result, status, BindAck, ContextResult, Header, HEADER_LEN, NDR20};
use crate::provider::Provider;
use crate::services::{self, CallState, Interface};
use std::collections::VecDeque;

/// The largest fragment this server sends or asks for (max_recv_frag), as Windows and
/// Samba use for named pipes.
pub const MAX_FRAG: u16 = 4280;
/// The largest fragment taken from a client: clients send at most the max_recv_frag the
/// bind_ack gave them ([`MAX_FRAG`]); a bind, sent before that, at most 5840 bytes, the
/// largest default fragment size clients use (Windows' max_xmit_frag).
pub const MAX_FRAG_IN: u16 = 5840;
/// The smallest max_recv_frag a client may give (C706 12.6.3.1, MUST_RECV_FRAG_SIZE).
pub const MIN_FRAG: u16 = 1432;
/// The largest request stub reassembled from fragments; more is a fault
/// (nca_s_fault_remote_no_memory).
pub const MAX_REQUEST_STUB: usize = 1 << 20;
/// Answers queued and not read; a write beyond is refused until the client reads.
pub const MAX_PENDING_OUTPUT: usize = 4 << 20;
/// Presentation contexts one association may hold.
pub const MAX_CONTEXTS: usize = 16;
/// Whether 16 bytes can start a fragment: version 5.0 or 5.1, a little-endian data
/// representation and a frag_length that holds at least the header and at most
/// [`MAX_FRAG_IN`] (C706 12.6.3.1). A frag_length beyond is refused at once rather than
/// waited for, so a corrupt length cannot swallow the writes that follow it.
fn plausible_header(h: &[u8]) -> bool {
    h.len() >= HEADER_LEN
        && h[0] == pdu::RPC_VERS
        && h[1] <= 1
        && h[4] == pdu::DREP_LE[0]
        && (HEADER_LEN..=usize::from(MAX_FRAG_IN)).contains(&usize::from(u16::from_le_bytes([h[8], h[9]])))
}

/// The response stub offset within a fragment: header, alloc_hint, context id,
/// cancel count and a reserved byte.
const RESPONSE_HEADER: usize = HEADER_LEN + 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PipeError {
    /// Answers are waiting to be read (a transceive needs an empty pipe,
    /// STATUS_PIPE_BUSY).
    #[error("answers are waiting to be read")]
    Busy,
    /// More unread answers than the pipe holds (STATUS_INSUFFICIENT_RESOURCES).
    #[error("too many unread answers")]
    Full,
}

/// The one mapping of pipe errors to NT status, so the server's pipe handlers pass them on
/// with a plain `?`.
impl From<PipeError> for opportune_types::NtStatus {
    fn from(e: PipeError) -> opportune_types::NtStatus {
        match e {
            PipeError::Busy => opportune_types::NtStatus::PIPE_BUSY,
            PipeError::Full => opportune_types::NtStatus::INSUFFICIENT_RESOURCES,
        }
    }
}

/// Bytes read from the pipe; `more` if the message they belong to continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOutcome {
    pub data: Vec<u8>,
    pub more: bool,
}

struct Association {
    contexts: Vec<u16>,
    /// Fragment size for answers: the client's max_recv_frag, at most [`MAX_FRAG`].
    max_xmit: u16,
    assoc_group: u32,
}

struct Partial {
    call_id: u32,
    context_id: u16,
    opnum: u16,
    stub: Vec<u8>,
}

pub struct Pipe {
    iface: Interface,
    input: Vec<u8>,
    output: VecDeque<Vec<u8>>,
    /// How much of the front message was read.
    read_at: usize,
    output_bytes: usize,
    association: Option<Association>,
    partial: Option<Partial>,
    /// A request too large to reassemble: its remaining fragments are dropped.
    discarding: Option<u32>,
    state: CallState,
    seed: u64,
}

impl Pipe {
    /// A pipe for `iface`; `seed` (random, from the server) makes its handles and
    /// association group its own.
    pub fn new(iface: Interface, seed: u64) -> Pipe {
        Pipe {
            iface,
            input: Vec::new(),
            output: VecDeque::new(),
            read_at: 0,
            output_bytes: 0,
            association: None,
            partial: None,
            discarding: None,
            state: CallState::new(seed),
            seed,
        }
    }

    pub fn interface(&self) -> Interface {
        self.iface
    }

    /// Whether answers are waiting to be read.
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Bytes of answers not yet read (ReadDataAvailable).
    pub fn unread(&self) -> usize {
        self.output_bytes - self.read_at
    }

    /// Bytes this pipe holds: partial input, a request being reassembled, unread answers.
    pub fn memory(&self) -> usize {
        self.input.len() + self.partial.as_ref().map_or(0, |p| p.stub.len()) + self.output_bytes
    }

    /// Bytes written by the client: every complete fragment is answered now.
    pub fn write(&mut self, data: &[u8], p: &dyn Provider) -> Result<(), PipeError> {
        if self.output_bytes >= MAX_PENDING_OUTPUT {
            return Err(PipeError::Full);
        }
        let mut data = data;
        while !data.is_empty() {
            // Fill the current fragment: its header first, then up to its frag_length.
            let want = if self.input.len() < HEADER_LEN {
                HEADER_LEN
            } else {
                Header::peek_frag_length(&self.input).map_or(HEADER_LEN, usize::from)
            };
            let n = want.saturating_sub(self.input.len()).min(data.len());
            self.input.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.input.len() < want {
                continue;
            }
            if want == HEADER_LEN && !plausible_header(&self.input) {
                // Not a fragment header: the framing is lost. Answer, and drop what is
                // buffered and the rest of this write (a pipe write is one message).
                let call_id = Header::peek_call_id(&self.input);
                let is_bind = self.input[2] == ptype::BIND;
                let bad_version = self.input[0] != pdu::RPC_VERS || self.input[1] > 1;
                self.input.clear();
                match (is_bind, bad_version) {
                    (true, true) => self.bind_nak(call_id, reject::PROTOCOL_VERSION_NOT_SUPPORTED),
                    (true, false) => self.bind_nak(call_id, reject::NOT_SPECIFIED),
                    _ => self.fault(call_id, 0, status::PROTO_ERROR),
                }
                return Ok(());
            }
            if Header::peek_frag_length(&self.input).is_some_and(|l| usize::from(l) == self.input.len()) {
                let frag = std::mem::take(&mut self.input);
                self.fragment(&frag, p);
            }
        }
        Ok(())
    }

    /// Reads up to `max` bytes of the next answer; None when nothing is queued.
    pub fn read(&mut self, max: usize) -> Option<ReadOutcome> {
        let front = self.output.front()?;
        let end = front.len().min(self.read_at.saturating_add(max));
        let data = front[self.read_at..end].to_vec();
        if end == front.len() {
            self.output_bytes -= front.len();
            self.output.pop_front();
            self.read_at = 0;
            Some(ReadOutcome { data, more: false })
        } else {
            self.read_at = end;
            Some(ReadOutcome { data, more: true })
        }
    }

    /// FSCTL_PIPE_TRANSCEIVE (MS-SMB2 2.2.31, MS-FSCC FSCTL_PIPE_TRANSCEIVE): a write, then a
    /// read of up to `max` bytes of its answer. A pipe with unread answers is busy.
    pub fn transceive(&mut self, data: &[u8], max: usize, p: &dyn Provider) -> Result<Option<ReadOutcome>, PipeError> {
        if self.has_output() {
            return Err(PipeError::Busy);
        }
        self.write(data, p)?;
        Ok(self.read(max))
    }

    fn queue(&mut self, pdu: Vec<u8>) {
        self.output_bytes += pdu.len();
        self.output.push_back(pdu);
    }

    fn fault(&mut self, call_id: u32, context_id: u16, code: u32) {
        let flags = pfc::FIRST_FRAG | pfc::LAST_FRAG | pfc::DID_NOT_EXECUTE;
        if let Some(f) = pdu::encode(ptype::FAULT, flags, call_id, &pdu::encode_fault(context_id, code)) {
            self.queue(f);
        }
    }

    fn bind_nak(&mut self, call_id: u32, reason: u16) {
        if let Some(f) = pdu::encode(ptype::BIND_NAK, pfc::FIRST_FRAG | pfc::LAST_FRAG, call_id, &pdu::encode_bind_nak(reason)) {
            self.queue(f);
        }
    }

    /// One whole fragment.
    fn fragment(&mut self, frag: &[u8], p: &dyn Provider) {
        let call_id = Header::peek_call_id(frag);
        let h = match Header::decode(frag) {
            Ok(h) => h,
            Err(e) => {
                let is_bind = matches!(frag.get(2), Some(&ptype::BIND) | Some(&ptype::ALTER_CONTEXT));
                match e {
                    pdu::PduError::Version(..) if is_bind => self.bind_nak(call_id, reject::PROTOCOL_VERSION_NOT_SUPPORTED),
                    _ if is_bind => self.bind_nak(call_id, reject::NOT_SPECIFIED),
                    _ => self.fault(call_id, 0, status::PROTO_ERROR),
                }
                return;
            }
        };
        let body = &frag[HEADER_LEN..];
        match h.ptype {
            ptype::BIND => self.bind(&h, body, false),
            ptype::ALTER_CONTEXT => self.bind(&h, body, true),
            ptype::REQUEST => self.request(&h, body, p),
            // No authentication is offered, so there is no third leg to take; calls are
            // answered at once, so there is nothing to cancel or orphan but a
            // request still being reassembled.
            ptype::AUTH3 | ptype::CO_CANCEL => {}
            ptype::ORPHANED => {
                if self.partial.as_ref().is_some_and(|c| c.call_id == h.call_id) {
                    self.partial = None;
                }
            }
            _ => self.fault(h.call_id, 0, status::PROTO_ERROR),
        }
    }

    /// bind and alter_context (C706 12.6.4.3, 12.6.4.1; MS-RPCE 3.3.1.5.3 bind-time
    /// feature negotiation): each proposed context is accepted if it names this pipe's
    /// interface with NDR20, else rejected with its reason.
    fn bind(&mut self, h: &Header, body: &[u8], alter: bool) {
        let whole = h.flags & pfc::FIRST_FRAG != 0 && h.flags & pfc::LAST_FRAG != 0;
        if h.auth_length != 0 {
            return self.reject_bind(h, alter, reject::AUTHENTICATION_TYPE_NOT_RECOGNIZED);
        }
        let bind = match pdu::Bind::decode(body) {
            Ok(b) if whole => b,
            _ => return self.reject_bind(h, alter, reject::NOT_SPECIFIED),
        };
        if alter != self.association.is_some() {
            // A second bind, or an alter_context before any bind.
            return self.reject_bind(h, alter, reject::NOT_SPECIFIED);
        }
        if !alter && bind.max_recv_frag < MIN_FRAG {
            return self.bind_nak(h.call_id, reject::LOCAL_LIMIT_EXCEEDED);
        }
        let mut accepted = Vec::new();
        let held = self.association.as_ref().map_or(0, |a| a.contexts.len());
        let results: Vec<ContextResult> = bind
            .contexts
            .iter()
            .map(|c| {
                let btfn = c.transfer.iter().find(|t| t.uuid[..8] == pdu::BTFN_PREFIX && t.version == 1);
                let reject = |reason| ContextResult { result: result::PROVIDER_REJECTION, reason, transfer: pdu::SyntaxId::NONE };
                if btfn.is_some() {
                    // No optional features are supported: the acknowledgment's bitmask is 0.
                    ContextResult { result: result::NEGOTIATE_ACK, reason: 0, transfer: pdu::SyntaxId::NONE }
                } else if !self.iface.accepts(&c.abstract_syntax) {
                    reject(result::ABSTRACT_SYNTAX_NOT_SUPPORTED)
                } else if !c.transfer.contains(&NDR20) {
                    reject(result::TRANSFER_SYNTAXES_NOT_SUPPORTED)
                } else if held + accepted.len() >= MAX_CONTEXTS {
                    reject(result::LOCAL_LIMIT_EXCEEDED)
                } else {
                    accepted.push(c.id);
                    ContextResult { result: result::ACCEPTANCE, reason: 0, transfer: NDR20 }
                }
            })
            .collect();
        let assoc = self.association.get_or_insert_with(|| Association {
            contexts: Vec::new(),
            max_xmit: bind.max_recv_frag.min(MAX_FRAG),
            assoc_group: if bind.assoc_group != 0 { bind.assoc_group } else { (self.seed as u32 & 0x00FF_FFFF) | 0x0100_0000 },
        });
        for id in accepted {
            if !assoc.contexts.contains(&id) {
                assoc.contexts.push(id);
            }
        }
        let ack = BindAck {
            max_xmit_frag: assoc.max_xmit,
            max_recv_frag: MAX_FRAG,
            assoc_group: assoc.assoc_group,
            sec_addr: if alter { String::new() } else { format!("\\PIPE\\{}", self.iface.pipe_name()) },
            results,
        };
        let t = if alter { ptype::ALTER_CONTEXT_RESP } else { ptype::BIND_ACK };
        match pdu::encode(t, pfc::FIRST_FRAG | pfc::LAST_FRAG, h.call_id, &ack.encode()) {
            Some(f) => self.queue(f),
            None => self.reject_bind(h, alter, reject::LOCAL_LIMIT_EXCEEDED),
        }
    }

    /// A bind is refused with a bind_nak; an alter_context, which has no negative
    /// answer of its own, with a fault (C706 12.6.4.1).
    fn reject_bind(&mut self, h: &Header, alter: bool, reason: u16) {
        if alter {
            self.fault(h.call_id, 0, status::PROTO_ERROR);
        } else {
            self.bind_nak(h.call_id, reason);
        }
    }

    /// request (C706 12.6.4.9): fragments of one call are reassembled, then the call
    /// is run and answered with response fragments or a fault.
    fn request(&mut self, h: &Header, body: &[u8], p: &dyn Provider) {
        let Some(assoc) = &self.association else {
            return self.fault(h.call_id, 0, status::PROTO_ERROR);
        };
        if h.auth_length != 0 {
            return self.fault(h.call_id, 0, status::UNSUPPORTED_AUTHN_LEVEL);
        }
        let req = match pdu::Request::decode(h, body) {
            Ok(r) => r,
            Err(_) => return self.fault(h.call_id, 0, status::PROTO_ERROR),
        };
        if !assoc.contexts.contains(&req.context_id) {
            self.partial = None;
            return self.fault(h.call_id, req.context_id, status::UNK_IF);
        }
        let first = h.flags & pfc::FIRST_FRAG != 0;
        let last = h.flags & pfc::LAST_FRAG != 0;
        if first {
            self.discarding = None;
            self.partial = Some(Partial { call_id: h.call_id, context_id: req.context_id, opnum: req.opnum, stub: Vec::new() });
        } else if self.discarding == Some(h.call_id) {
            if last {
                self.discarding = None;
            }
            return;
        }
        let Some(call) = self.partial.as_mut().filter(|c| c.call_id == h.call_id && c.context_id == req.context_id) else {
            return self.fault(h.call_id, req.context_id, status::PROTO_ERROR);
        };
        if call.stub.len() + req.stub.len() > MAX_REQUEST_STUB {
            self.partial = None;
            if !last {
                self.discarding = Some(h.call_id);
            }
            return self.fault(h.call_id, req.context_id, status::REMOTE_NO_MEMORY);
        }
        call.stub.extend_from_slice(req.stub);
        if !last {
            return;
        }
        let Some(call) = self.partial.take() else { return };
        match services::call(self.iface, &mut self.state, call.opnum, &call.stub, p) {
            Ok(stub) => self.respond(call.call_id, call.context_id, &stub),
            Err(code) => self.fault(call.call_id, call.context_id, code),
        }
    }

    /// The response stub in fragments of the negotiated size (each stub piece a
    /// multiple of 8 bytes but the last), alloc_hint the bytes still to come.
    fn respond(&mut self, call_id: u32, context_id: u16, stub: &[u8]) {
        let max = self.association.as_ref().map_or(MAX_FRAG, |a| a.max_xmit);
        let room = ((usize::from(max) - RESPONSE_HEADER) / 8 * 8).max(8);
        if self.output_bytes + stub.len() + (stub.len() / room + 1) * RESPONSE_HEADER > MAX_PENDING_OUTPUT {
            return self.fault(call_id, context_id, status::REMOTE_NO_MEMORY);
        }
        let mut at = 0;
        loop {
            let end = (at + room).min(stub.len());
            let mut flags = 0;
            if at == 0 {
                flags |= pfc::FIRST_FRAG;
            }
            if end == stub.len() {
                flags |= pfc::LAST_FRAG;
            }
            let body = pdu::encode_response((stub.len() - at) as u32, context_id, &stub[at..end]);
            if let Some(f) = pdu::encode(ptype::RESPONSE, flags, call_id, &body) {
                self.queue(f);
            }
            at = end;
            if at == stub.len() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PipeError;
    use opportune_types::NtStatus;

    #[test]
    fn pipe_errors_map_to_their_statuses() {
        assert_eq!(NtStatus::from(PipeError::Busy), NtStatus::PIPE_BUSY);
        assert_eq!(NtStatus::from(PipeError::Full), NtStatus::INSUFFICIENT_RESOURCES);
    }
}
