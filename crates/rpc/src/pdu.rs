//! Connection-oriented PDUs (C706 12.6, MS-RPCE 2.2.2): the 16-byte common header and
//! the bodies of bind, bind_ack, bind_nak, alter_context(_resp), request, response and
//! fault. Decoders take one whole fragment and check every count against it.

use crate::ndr::{NdrError, Reader, Writer};

/// PTYPE values (C706 12.6.3.1; MS-RPCE 2.2.2.1).
pub mod ptype {
    pub const REQUEST: u8 = 0;
    pub const RESPONSE: u8 = 2;
    pub const FAULT: u8 = 3;
    pub const BIND: u8 = 11;
    pub const BIND_ACK: u8 = 12;
    pub const BIND_NAK: u8 = 13;
    pub const ALTER_CONTEXT: u8 = 14;
    pub const ALTER_CONTEXT_RESP: u8 = 15;
    pub const AUTH3: u8 = 16;
    pub const SHUTDOWN: u8 = 17;
    pub const CO_CANCEL: u8 = 18;
    pub const ORPHANED: u8 = 19;
}

/// pfc_flags (C706 12.6.3.1, MS-RPCE 2.2.2.3).
pub mod pfc {
    pub const FIRST_FRAG: u8 = 0x01;
    pub const LAST_FRAG: u8 = 0x02;
    pub const PENDING_CANCEL: u8 = 0x04;
    pub const CONC_MPX: u8 = 0x10;
    pub const DID_NOT_EXECUTE: u8 = 0x20;
    pub const MAYBE: u8 = 0x40;
    pub const OBJECT_UUID: u8 = 0x80;
}

/// Fault and reject status codes (C706 appendix E, MS-RPCE 2.2.2.11).
pub mod status {
    /// The opnum is not one of the interface's (nca_s_op_rng_error).
    pub const OP_RNG_ERROR: u32 = 0x1C01_0002;
    /// The presentation context is not one the association accepted (nca_s_unk_if).
    pub const UNK_IF: u32 = 0x1C01_0003;
    /// A PDU out of place or malformed (nca_s_proto_error).
    pub const PROTO_ERROR: u32 = 0x1C01_000B;
    /// A request larger than the server takes (nca_s_fault_remote_no_memory).
    pub const REMOTE_NO_MEMORY: u32 = 0x1C00_001B;
    /// The stub data could not be unmarshalled (nca_s_fault_ndr: the value Windows
    /// sends, RPC_X_BAD_STUB_DATA).
    pub const FAULT_NDR: u32 = 0x0000_06F7;
    /// Authentication the server does not offer (nca_s_unsupported_authn_level).
    pub const UNSUPPORTED_AUTHN_LEVEL: u32 = 0x1C00_001D;
}

/// bind_ack p_cont_def_result_t and reasons (C706 12.6.3.1, MS-RPCE 2.2.2.4).
pub mod result {
    pub const ACCEPTANCE: u16 = 0;
    pub const PROVIDER_REJECTION: u16 = 2;
    /// Bind-time feature negotiation (MS-RPCE 3.3.1.5.3).
    pub const NEGOTIATE_ACK: u16 = 3;
    pub const ABSTRACT_SYNTAX_NOT_SUPPORTED: u16 = 1;
    pub const TRANSFER_SYNTAXES_NOT_SUPPORTED: u16 = 2;
    pub const LOCAL_LIMIT_EXCEEDED: u16 = 3;
}

/// bind_nak reject reasons (C706 12.6.3.1 p_reject_reason_t).
pub mod reject {
    pub const NOT_SPECIFIED: u16 = 0;
    pub const LOCAL_LIMIT_EXCEEDED: u16 = 2;
    pub const PROTOCOL_VERSION_NOT_SUPPORTED: u16 = 4;
    pub const AUTHENTICATION_TYPE_NOT_RECOGNIZED: u16 = 8;
}

pub const HEADER_LEN: usize = 16;
/// rpc_vers 5, rpc_vers_minor 0 or 1 (C706 12.6.3.1).
pub const RPC_VERS: u8 = 5;
/// Little-endian integers, ASCII characters, IEEE floats (C706 14.1).
pub const DREP_LE: [u8; 4] = [0x10, 0, 0, 0];

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    #[error("PDU shorter than its header or its frag_length")]
    Short,
    #[error("RPC version {0}.{1} not supported")]
    Version(u8, u8),
    #[error("data representation {0:#04x} not supported")]
    DataRepresentation(u8),
    #[error("frag_length or auth_length inconsistent")]
    Length,
    #[error("PDU body malformed")]
    Body,
}

impl From<NdrError> for PduError {
    fn from(_: NdrError) -> Self {
        PduError::Body
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub ptype: u8,
    pub flags: u8,
    pub frag_length: u16,
    pub auth_length: u16,
    pub call_id: u32,
}

impl Header {
    /// The frag_length of the fragment starting at `b`, once its first ten bytes are in.
    pub fn peek_frag_length(b: &[u8]) -> Option<u16> {
        Some(u16::from_le_bytes([*b.get(8)?, *b.get(9)?]))
    }

    pub fn decode(b: &[u8]) -> Result<Header, PduError> {
        let h = b.get(..HEADER_LEN).ok_or(PduError::Short)?;
        if h[0] != RPC_VERS || h[1] > 1 {
            return Err(PduError::Version(h[0], h[1]));
        }
        if h[4] & 0xF0 != 0x10 || h[4] & 0x0F != 0 {
            return Err(PduError::DataRepresentation(h[4]));
        }
        let frag_length = u16::from_le_bytes([h[8], h[9]]);
        let auth_length = u16::from_le_bytes([h[10], h[11]]);
        if usize::from(frag_length) < HEADER_LEN || usize::from(frag_length) != b.len() {
            return Err(PduError::Length);
        }
        if auth_length != 0 && usize::from(auth_length) + 8 > usize::from(frag_length) - HEADER_LEN {
            return Err(PduError::Length);
        }
        Ok(Header {
            ptype: h[2],
            flags: h[3],
            frag_length,
            auth_length,
            call_id: u32::from_le_bytes([h[12], h[13], h[14], h[15]]),
        })
    }

    /// The call id of a fragment whose header did not decode, if it has one.
    pub fn peek_call_id(b: &[u8]) -> u32 {
        b.get(12..16).map_or(0, |c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }
}

/// A PDU of `ptype` with `body`; None if it would not fit a u16 frag_length.
pub fn encode(ptype: u8, flags: u8, call_id: u32, body: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(HEADER_LEN + body.len()).ok()?;
    let mut out = Vec::with_capacity(usize::from(len));
    out.extend_from_slice(&[RPC_VERS, 0, ptype, flags]);
    out.extend_from_slice(&DREP_LE);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&call_id.to_le_bytes());
    out.extend_from_slice(body);
    Some(out)
}

/// An interface or transfer syntax: UUID in NDR wire order and version
/// (major in the low 16 bits, minor in the high; C706 12.6.3.1 p_syntax_id_t).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxId {
    pub uuid: [u8; 16],
    pub version: u32,
}

impl SyntaxId {
    /// A syntax from the UUID's textual fields (`a-b-c-d`) as NDR puts them on the wire.
    pub const fn new(a: u32, b: u16, c: u16, d: [u8; 8], major: u16, minor: u16) -> SyntaxId {
        let a = a.to_le_bytes();
        let b = b.to_le_bytes();
        let c = c.to_le_bytes();
        SyntaxId {
            uuid: [a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]],
            version: major as u32 | (minor as u32) << 16,
        }
    }

    pub const NONE: SyntaxId = SyntaxId { uuid: [0; 16], version: 0 };

    pub fn major(&self) -> u16 {
        self.version as u16
    }

    pub fn minor(&self) -> u16 {
        (self.version >> 16) as u16
    }

    fn decode(r: &mut Reader<'_>) -> Result<SyntaxId, NdrError> {
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(r.take(16)?);
        Ok(SyntaxId { uuid, version: r.u32()? })
    }

    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.uuid);
        w.u32(self.version);
    }
}

/// The NDR20 transfer syntax, 8a885d04-1ceb-11c9-9fe8-08002b104860 version 2.
pub const NDR20: SyntaxId = SyntaxId::new(0x8a88_5d04, 0x1ceb, 0x11c9, [0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60], 2, 0);
/// The bind-time feature negotiation prefix (MS-RPCE 3.3.1.5.3): 6cb71c2c-9812-4540.
pub const BTFN_PREFIX: [u8; 8] = [0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45];

/// p_cont_elem_t: one presentation context a bind proposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextElem {
    pub id: u16,
    pub abstract_syntax: SyntaxId,
    pub transfer: Vec<SyntaxId>,
}

/// bind and alter_context (C706 12.6.4.3, 12.6.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub max_xmit_frag: u16,
    pub max_recv_frag: u16,
    pub assoc_group: u32,
    pub contexts: Vec<ContextElem>,
}

impl Bind {
    pub fn decode(body: &[u8]) -> Result<Bind, PduError> {
        let mut r = Reader::new(body);
        let max_xmit_frag = r.u16()?;
        let max_recv_frag = r.u16()?;
        let assoc_group = r.u32()?;
        let n = r.u8()?;
        r.take(3)?;
        let mut contexts = Vec::with_capacity(usize::from(n).min(r.remaining() / 44));
        for _ in 0..n {
            let id = r.u16()?;
            let n_transfer = r.u8()?;
            r.u8()?;
            let abstract_syntax = SyntaxId::decode(&mut r)?;
            if n_transfer == 0 {
                return Err(PduError::Body);
            }
            let mut transfer = Vec::with_capacity(usize::from(n_transfer).min(r.remaining() / 20));
            for _ in 0..n_transfer {
                transfer.push(SyntaxId::decode(&mut r)?);
            }
            contexts.push(ContextElem { id, abstract_syntax, transfer });
        }
        Ok(Bind { max_xmit_frag, max_recv_frag, assoc_group, contexts })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u16(self.max_xmit_frag);
        w.u16(self.max_recv_frag);
        w.u32(self.assoc_group);
        w.u8(self.contexts.len() as u8);
        w.bytes(&[0; 3]);
        for c in &self.contexts {
            w.u16(c.id);
            w.u8(c.transfer.len() as u8);
            w.u8(0);
            c.abstract_syntax.encode(&mut w);
            for t in &c.transfer {
                t.encode(&mut w);
            }
        }
        w.buf
    }
}

/// p_result_t.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextResult {
    pub result: u16,
    pub reason: u16,
    pub transfer: SyntaxId,
}

/// bind_ack and alter_context_resp (C706 12.6.4.4, 12.6.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAck {
    pub max_xmit_frag: u16,
    pub max_recv_frag: u16,
    pub assoc_group: u32,
    /// port_any_t sec_addr: the endpoint, `\PIPE\srvsvc`; empty in alter_context_resp.
    pub sec_addr: String,
    pub results: Vec<ContextResult>,
}

impl BindAck {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u16(self.max_xmit_frag);
        w.u16(self.max_recv_frag);
        w.u32(self.assoc_group);
        if self.sec_addr.is_empty() {
            w.u16(0);
        } else {
            let addr = self.sec_addr.as_bytes();
            w.u16(addr.len() as u16 + 1);
            w.bytes(addr);
            w.u8(0);
        }
        // The result list starts 4-aligned relative to the PDU; the body starts at 16.
        w.align(4);
        w.u8(self.results.len() as u8);
        w.bytes(&[0; 3]);
        for res in &self.results {
            w.u16(res.result);
            w.u16(res.reason);
            res.transfer.encode(&mut w);
        }
        w.buf
    }

    pub fn decode(body: &[u8]) -> Result<BindAck, PduError> {
        let mut r = Reader::new(body);
        let max_xmit_frag = r.u16()?;
        let max_recv_frag = r.u16()?;
        let assoc_group = r.u32()?;
        let len = usize::from(r.u16()?);
        let addr = r.take(len)?;
        let sec_addr = match addr.split_last() {
            Some((0, a)) => String::from_utf8_lossy(a).into_owned(),
            None => String::new(),
            Some(_) => return Err(PduError::Body),
        };
        r.align(4)?;
        let n = r.u8()?;
        r.take(3)?;
        let mut results = Vec::new();
        for _ in 0..n {
            let result = r.u16()?;
            let reason = r.u16()?;
            results.push(ContextResult { result, reason, transfer: SyntaxId::decode(&mut r)? });
        }
        Ok(BindAck { max_xmit_frag, max_recv_frag, assoc_group, sec_addr, results })
    }
}

/// bind_nak (C706 12.6.4.5): the reason and the protocol versions supported (5.0).
pub fn encode_bind_nak(reason: u16) -> Vec<u8> {
    let mut w = Writer::new();
    w.u16(reason);
    w.u8(1);
    w.u8(RPC_VERS);
    w.u8(0);
    w.align(4);
    w.buf
}

/// request (C706 12.6.4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub alloc_hint: u32,
    pub context_id: u16,
    pub opnum: u16,
    pub object: Option<[u8; 16]>,
    pub stub: &'a [u8],
}

impl<'a> Request<'a> {
    /// The request body of a fragment with header `h`; the stub stops before the
    /// authentication trailer, if any (sec_trailer, C706 13.2.6.1: its auth_pad_length counts the padding before it).
    pub fn decode(h: &Header, body: &'a [u8]) -> Result<Request<'a>, PduError> {
        let body = strip_auth(h, body)?;
        let mut r = Reader::new(body);
        let alloc_hint = r.u32()?;
        let context_id = r.u16()?;
        let opnum = r.u16()?;
        let object = if h.flags & pfc::OBJECT_UUID != 0 {
            let mut u = [0u8; 16];
            u.copy_from_slice(r.take(16)?);
            Some(u)
        } else {
            None
        };
        let stub = r.take(r.remaining())?;
        Ok(Request { alloc_hint, context_id, opnum, object, stub })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.alloc_hint);
        w.u16(self.context_id);
        w.u16(self.opnum);
        if let Some(u) = &self.object {
            w.bytes(u);
        }
        w.bytes(self.stub);
        w.buf
    }
}

/// The body without the authentication verifier: `auth_length` bytes of credentials,
/// the 8-byte sec_trailer before them and the auth_pad_length bytes of padding it names.
fn strip_auth<'a>(h: &Header, body: &'a [u8]) -> Result<&'a [u8], PduError> {
    if h.auth_length == 0 {
        return Ok(body);
    }
    let trailer = body.len().checked_sub(usize::from(h.auth_length) + 8).ok_or(PduError::Length)?;
    let pad = usize::from(body[trailer + 2]);
    let end = trailer.checked_sub(pad).ok_or(PduError::Length)?;
    Ok(&body[..end])
}

/// The body of a response fragment (C706 12.6.4.10): alloc_hint, context id,
/// cancel_count, a reserved byte, then the stub.
pub fn encode_response(alloc_hint: u32, context_id: u16, stub: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(alloc_hint);
    w.u16(context_id);
    w.u8(0);
    w.u8(0);
    w.bytes(stub);
    w.buf
}

/// (alloc_hint, context id, stub) of a response body.
pub fn decode_response(body: &[u8]) -> Result<(u32, u16, &[u8]), PduError> {
    let mut r = Reader::new(body);
    let hint = r.u32()?;
    let ctx = r.u16()?;
    r.take(2)?;
    Ok((hint, ctx, r.take(r.remaining())?))
}

/// The body of a fault (C706 12.6.4.7): alloc_hint, context id, cancel_count, a
/// reserved byte, the status and four reserved bytes.
pub fn encode_fault(context_id: u16, status: u32) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(0);
    w.u16(context_id);
    w.u8(0);
    w.u8(0);
    w.u32(status);
    w.u32(0);
    w.buf
}

/// The status of a fault body.
pub fn decode_fault(body: &[u8]) -> Result<u32, PduError> {
    let mut r = Reader::new(body);
    r.take(8)?;
    Ok(r.u32()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRVSVC: SyntaxId = SyntaxId::new(0x4b32_4fc8, 0x1670, 0x01d3, [0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88], 3, 0);

    #[test]
    fn uuid_wire_order() {
        assert_eq!(&NDR20.uuid[..4], &[0x04, 0x5d, 0x88, 0x8a]);
        assert_eq!(NDR20.major(), 2);
        assert_eq!(SRVSVC.version, 3);
    }

    #[test]
    fn bind_round_trip() {
        let b = Bind {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group: 0,
            contexts: vec![ContextElem { id: 0, abstract_syntax: SRVSVC, transfer: vec![NDR20] }],
        };
        let pdu = encode(ptype::BIND, pfc::FIRST_FRAG | pfc::LAST_FRAG, 1, &b.encode()).unwrap();
        let h = Header::decode(&pdu).unwrap();
        assert_eq!((h.ptype, h.call_id, usize::from(h.frag_length)), (ptype::BIND, 1, pdu.len()));
        assert_eq!(Bind::decode(&pdu[HEADER_LEN..]).unwrap(), b);
    }

    #[test]
    fn bind_ack_round_trip_and_alignment() {
        let a = BindAck {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group: 0x1234,
            sec_addr: "\\PIPE\\srvsvc".into(),
            results: vec![ContextResult { result: result::ACCEPTANCE, reason: 0, transfer: NDR20 }],
        };
        let body = a.encode();
        // 8 + 2 + 13 = 23, padded to 24 (16 + 24 is 4-aligned in the PDU).
        assert_eq!(body[24], 1);
        assert_eq!(BindAck::decode(&body).unwrap(), a);
        let empty = BindAck { sec_addr: String::new(), ..a };
        assert_eq!(BindAck::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn request_with_object_and_auth_trailer() {
        let req = Request { alloc_hint: 4, context_id: 1, opnum: 15, object: Some([9; 16]), stub: &[1, 2, 3, 4] };
        let mut body = req.encode();
        // Four bytes of auth padding, the sec_trailer (pad length 4) and 16 bytes of credentials.
        body.extend_from_slice(&[0; 4]);
        body.extend_from_slice(&[10, 2, 4, 0, 0, 0, 0, 0]);
        body.extend_from_slice(&[0xAA; 16]);
        let mut pdu = encode(ptype::REQUEST, 3 | pfc::OBJECT_UUID, 7, &body).unwrap();
        pdu[10] = 16;
        let h = Header::decode(&pdu).unwrap();
        assert_eq!(Request::decode(&h, &pdu[HEADER_LEN..]).unwrap(), req);
    }

    #[test]
    fn malformed_headers_are_errors() {
        let good = encode(ptype::REQUEST, 3, 1, &[0; 8]).unwrap();
        assert!(Header::decode(&good).is_ok());
        assert_eq!(Header::decode(&good[..10]), Err(PduError::Short));
        let mut v = good.clone();
        v[0] = 4;
        assert_eq!(Header::decode(&v), Err(PduError::Version(4, 0)));
        let mut v = good.clone();
        v[4] = 0x00;
        assert_eq!(Header::decode(&v), Err(PduError::DataRepresentation(0)));
        let mut v = good.clone();
        v[8] = 15;
        assert_eq!(Header::decode(&v), Err(PduError::Length));
        let mut v = good.clone();
        v[10] = 1;
        assert_eq!(Header::decode(&v), Err(PduError::Length));
        // A bind whose context count runs past its end.
        let b = encode(ptype::BIND, 3, 1, &[0xB8, 0x10, 0xB8, 0x10, 0, 0, 0, 0, 5, 0, 0, 0]).unwrap();
        assert_eq!(Bind::decode(&b[HEADER_LEN..]), Err(PduError::Body));
    }

    #[test]
    fn fault_round_trip() {
        assert_eq!(decode_fault(&encode_fault(0, status::OP_RNG_ERROR)).unwrap(), status::OP_RNG_ERROR);
        let body = encode_response(3, 1, &[1, 2, 3]);
        let (hint, ctx, stub) = decode_response(&body).unwrap();
        assert_eq!((hint, ctx, stub), (3, 1, &[1u8, 2, 3][..]));
    }
}
