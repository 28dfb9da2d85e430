//! A provider with a few shares and accounts, and a client side for driving a `Pipe`.
#![allow(dead_code)]

use opportune_rpc::ndr::Writer;
use opportune_rpc::pdu::{self, pfc, ptype, Bind, BindAck, ContextElem, Header, SyntaxId, HEADER_LEN, NDR20};
use opportune_rpc::provider::{stype, Account, AccountKind, Provider, ShareEntry};
use opportune_rpc::sid::Sid;
use opportune_rpc::Pipe;

pub struct TestProvider {
    pub authenticated: bool,
    pub shares: Vec<ShareEntry>,
}

impl TestProvider {
    pub fn new() -> TestProvider {
        let share = |name: &str, t: u32, comment: &str, path: &str| ShareEntry {
            name: name.into(),
            stype: t,
            comment: comment.into(),
            path: path.into(),
            current_uses: 0,
        };
        TestProvider {
            authenticated: true,
            shares: vec![
                share("docs", stype::DISKTREE, "Documents", "C:\\srv\\docs"),
                share("hidden$", stype::DISKTREE, "", "C:\\srv\\hidden"),
                share("IPC$", stype::IPC | stype::SPECIAL, "Remote IPC", ""),
            ],
        }
    }
}

impl Provider for TestProvider {
    fn server_name(&self) -> String {
        "TESTSRV".into()
    }
    fn server_comment(&self) -> String {
        "Opportune test".into()
    }
    fn workgroup(&self) -> String {
        "WORKGROUP".into()
    }
    fn shares(&self) -> Vec<ShareEntry> {
        self.shares.clone()
    }
    fn authenticated(&self) -> bool {
        self.authenticated
    }
    fn domain_sid(&self) -> Sid {
        Sid::parse("S-1-5-21-100-200-300").unwrap()
    }
    fn accounts(&self) -> Vec<Account> {
        vec![
            Account { name: "alice".into(), rid: 1000, kind: AccountKind::User },
            Account { name: "None".into(), rid: 513, kind: AccountKind::Group },
        ]
    }
}

pub const SRVSVC: SyntaxId = SyntaxId::new(0x4b32_4fc8, 0x1670, 0x01d3, [0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88], 3, 0);
pub const WKSSVC: SyntaxId = SyntaxId::new(0x6bff_d098, 0xa112, 0x3610, [0x98, 0x33, 0x46, 0xc3, 0xf8, 0x7e, 0x34, 0x5a], 1, 0);
pub const LSARPC: SyntaxId = SyntaxId::new(0x1234_5778, 0x1234, 0xabcd, [0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab], 0, 0);

pub fn bind_pdu(call_id: u32, contexts: Vec<ContextElem>, max_recv: u16) -> Vec<u8> {
    let b = Bind { max_xmit_frag: 4280, max_recv_frag: max_recv, assoc_group: 0, contexts };
    pdu::encode(ptype::BIND, pfc::FIRST_FRAG | pfc::LAST_FRAG, call_id, &b.encode()).unwrap()
}

pub fn request_pdu(call_id: u32, context_id: u16, opnum: u16, stub: &[u8], flags: u8) -> Vec<u8> {
    let req = pdu::Request { alloc_hint: stub.len() as u32, context_id, opnum, object: None, stub };
    pdu::encode(ptype::REQUEST, flags, call_id, &req.encode()).unwrap()
}

/// Reads every queued fragment.
pub fn drain(pipe: &mut Pipe) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(r) = pipe.read(usize::MAX) {
        assert!(!r.more);
        out.push(r.data);
    }
    out
}

/// Binds `syntax` as context 0 and returns the bind_ack.
pub fn bind(pipe: &mut Pipe, p: &dyn Provider, syntax: SyntaxId) -> BindAck {
    let ctx = ContextElem { id: 0, abstract_syntax: syntax, transfer: vec![NDR20] };
    pipe.write(&bind_pdu(1, vec![ctx], 4280), p).unwrap();
    let frags = drain(pipe);
    assert_eq!(frags.len(), 1);
    let h = Header::decode(&frags[0]).unwrap();
    assert_eq!(h.ptype, ptype::BIND_ACK);
    BindAck::decode(&frags[0][HEADER_LEN..]).unwrap()
}

/// One call on context 0: the reassembled response stub, or the fault status.
pub fn call(pipe: &mut Pipe, p: &dyn Provider, opnum: u16, stub: &[u8]) -> Result<Vec<u8>, u32> {
    pipe.write(&request_pdu(7, 0, opnum, stub, pfc::FIRST_FRAG | pfc::LAST_FRAG), p).unwrap();
    let mut out = Vec::new();
    for (i, f) in drain(pipe).iter().enumerate() {
        let h = Header::decode(f).unwrap();
        assert_eq!(h.call_id, 7);
        if h.ptype == ptype::FAULT {
            return Err(pdu::decode_fault(&f[HEADER_LEN..]).unwrap());
        }
        assert_eq!(h.ptype, ptype::RESPONSE);
        assert_eq!(h.flags & pfc::FIRST_FRAG != 0, i == 0);
        out.extend_from_slice(pdu::decode_response(&f[HEADER_LEN..]).unwrap().2);
    }
    Ok(out)
}

/// `[string, unique] wchar_t*` ServerName.
pub fn server_name(w: &mut Writer, name: &str) {
    w.pointer(true);
    w.wstring(name);
}

/// The stub of LsarOpenPolicy2 (opnum 44): ServerName and LSAPR_OBJECT_ATTRIBUTES with a
/// security QoS, as Windows sends it, then DesiredAccess.
pub fn open_policy2_stub(server: &str, access: u32) -> Vec<u8> {
    let mut w = Writer::new();
    server_name(&mut w, server);
    w.u32(24);
    w.pointer(false);
    w.pointer(false);
    w.u32(0);
    w.pointer(false);
    w.pointer(true);
    w.u32(12);
    w.u16(2);
    w.u8(1);
    w.u8(0);
    w.u32(access);
    w.buf
}
