//! srvsvc, wkssvc and lsarpc through a `Pipe`, as a client sees them: binds, calls,
//! faults, fragmentation.

mod common;

use common::*;
use opportune_rpc::ndr::{Reader, Writer};
use opportune_rpc::pdu::{self, pfc, ptype, result, status, BindAck, ContextElem, Header, SyntaxId, HEADER_LEN, NDR20};
use opportune_rpc::sid::{NdrSid, Sid};
use opportune_rpc::{Interface, Pipe};

const NDR64: SyntaxId = SyntaxId::new(0x7171_0533, 0xbeba, 0x4937, [0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36], 1, 0);

fn share_enum_stub(level: u32, preferred: u32, resume: Option<u32>) -> Vec<u8> {
    let mut w = Writer::new();
    server_name(&mut w, "\\\\127.0.0.1");
    w.u32(level);
    w.u32(level);
    w.pointer(true);
    w.u32(0);
    w.pointer(false);
    w.u32(preferred);
    w.pointer(resume.is_some());
    if let Some(r) = resume {
        w.u32(r);
    }
    w.buf
}

/// (name, type, remark) of a NetrShareEnum level 1 answer, TotalEntries, resume, status.
/// (name, type, remark) of each share.
type Listed = Vec<(String, u32, String)>;

fn decode_enum1(stub: &[u8]) -> (Listed, u32, Option<u32>, u32) {
    let mut r = Reader::new(stub);
    assert_eq!(r.u32().unwrap(), 1);
    assert_eq!(r.u32().unwrap(), 1);
    assert!(r.pointer().unwrap().is_some());
    let n = r.u32().unwrap();
    let mut out = Vec::new();
    if r.pointer().unwrap().is_some() {
        assert_eq!(r.u32().unwrap(), n);
        let mut types = Vec::new();
        for _ in 0..n {
            r.pointer().unwrap().unwrap();
            types.push(r.u32().unwrap());
            r.pointer().unwrap().unwrap();
        }
        for t in types {
            let name = r.wstring().unwrap();
            let remark = r.wstring().unwrap();
            out.push((name, t, remark));
        }
    }
    let total = r.u32().unwrap();
    let resume = r.pointer().unwrap().map(|_| r.u32().unwrap());
    let st = r.u32().unwrap();
    assert_eq!(r.remaining(), 0);
    (out, total, resume, st)
}

#[test]
fn bind_accepts_the_pipes_interface_and_rejects_others() {
    let p = TestProvider::new();
    let mut pipe = Pipe::new(Interface::Srvsvc, 9);
    let contexts = vec![
        ContextElem { id: 0, abstract_syntax: SRVSVC, transfer: vec![NDR20] },
        ContextElem { id: 1, abstract_syntax: SRVSVC, transfer: vec![NDR64] },
        ContextElem { id: 2, abstract_syntax: LSARPC, transfer: vec![NDR20] },
        ContextElem {
            id: 3,
            abstract_syntax: SRVSVC,
            transfer: vec![SyntaxId { uuid: [0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45, 3, 0, 0, 0, 0, 0, 0, 0], version: 1 }],
        },
    ];
    pipe.write(&bind_pdu(1, contexts, 4280), &p).unwrap();
    let frags = drain(&mut pipe);
    let ack = BindAck::decode(&frags[0][HEADER_LEN..]).unwrap();
    assert_eq!(ack.sec_addr, "\\PIPE\\srvsvc");
    assert_eq!(ack.max_xmit_frag, 4280);
    assert_ne!(ack.assoc_group, 0);
    let r: Vec<(u16, u16)> = ack.results.iter().map(|r| (r.result, r.reason)).collect();
    assert_eq!(
        r,
        [
            (result::ACCEPTANCE, 0),
            (result::PROVIDER_REJECTION, result::TRANSFER_SYNTAXES_NOT_SUPPORTED),
            (result::PROVIDER_REJECTION, result::ABSTRACT_SYNTAX_NOT_SUPPORTED),
            (result::NEGOTIATE_ACK, 0),
        ]
    );
    assert_eq!(ack.results[0].transfer, NDR20);
    // A rejected context cannot be called; the accepted one can.
    pipe.write(&request_pdu(5, 2, 15, &share_enum_stub(1, u32::MAX, None), 3), &p).unwrap();
    let f = drain(&mut pipe);
    assert_eq!(Header::decode(&f[0]).unwrap().ptype, ptype::FAULT);
    assert_eq!(pdu::decode_fault(&f[0][HEADER_LEN..]).unwrap(), status::UNK_IF);
    assert!(call(&mut pipe, &p, 15, &share_enum_stub(1, u32::MAX, None)).is_ok());
    // A second bind is refused, alter_context adds a context.
    pipe.write(&bind_pdu(2, vec![ContextElem { id: 4, abstract_syntax: SRVSVC, transfer: vec![NDR20] }], 4280), &p).unwrap();
    assert_eq!(Header::decode(&drain(&mut pipe)[0]).unwrap().ptype, ptype::BIND_NAK);
    let mut alter = bind_pdu(3, vec![ContextElem { id: 4, abstract_syntax: SRVSVC, transfer: vec![NDR20] }], 4280);
    alter[2] = ptype::ALTER_CONTEXT;
    pipe.write(&alter, &p).unwrap();
    let f = drain(&mut pipe);
    assert_eq!(Header::decode(&f[0]).unwrap().ptype, ptype::ALTER_CONTEXT_RESP);
    assert_eq!(BindAck::decode(&f[0][HEADER_LEN..]).unwrap().results[0].result, result::ACCEPTANCE);
}

#[test]
fn a_bind_with_authentication_or_a_bad_version_is_nakked() {
    let p = TestProvider::new();
    let mut pipe = Pipe::new(Interface::Wkssvc, 1);
    let mut b = bind_pdu(1, vec![ContextElem { id: 0, abstract_syntax: WKSSVC, transfer: vec![NDR20] }], 4280);
    b.extend_from_slice(&[10, 2, 0, 0, 1, 0, 0, 0, 0xAA, 0xAA, 0xAA, 0xAA]);
    let len = b.len() as u16;
    b[8..10].copy_from_slice(&len.to_le_bytes());
    b[10] = 4;
    pipe.write(&b, &p).unwrap();
    let f = drain(&mut pipe);
    assert_eq!(Header::decode(&f[0]).unwrap().ptype, ptype::BIND_NAK);
    assert_eq!(u16::from_le_bytes([f[0][16], f[0][17]]), pdu::reject::AUTHENTICATION_TYPE_NOT_RECOGNIZED);
    let mut b = bind_pdu(2, vec![ContextElem { id: 0, abstract_syntax: WKSSVC, transfer: vec![NDR20] }], 4280);
    b[0] = 4;
    pipe.write(&b, &p).unwrap();
    let f = drain(&mut pipe);
    assert_eq!(f[0][2], ptype::BIND_NAK);
    assert_eq!(u16::from_le_bytes([f[0][16], f[0][17]]), pdu::reject::PROTOCOL_VERSION_NOT_SUPPORTED);
    // The pipe still binds afterwards.
    bind(&mut pipe, &p, WKSSVC);
}

#[test]
fn share_enum_lists_every_level_with_comments_and_types() {
    let p = TestProvider::new();
    let mut pipe = Pipe::new(Interface::Srvsvc, 2);
    bind(&mut pipe, &p, SRVSVC);
    let stub = call(&mut pipe, &p, 15, &share_enum_stub(1, u32::MAX, Some(0))).unwrap();
    let (shares, total, resume, st) = decode_enum1(&stub);
    assert_eq!(st, 0);
    assert_eq!(total, 3);
    assert_eq!(resume, Some(0));
    assert_eq!(
        shares,
        [
            ("docs".to_string(), 0, "Documents".to_string()),
            ("hidden$".to_string(), 0, String::new()),
            ("IPC$".to_string(), 0x8000_0003, "Remote IPC".to_string())
        ]
    );
    for level in [0u32, 2, 501, 502] {
        let stub = call(&mut pipe, &p, 15, &share_enum_stub(level, u32::MAX, None)).unwrap();
        let mut r = Reader::new(&stub);
        assert_eq!((r.u32().unwrap(), r.u32().unwrap()), (level, level));
        r.pointer().unwrap().unwrap();
        assert_eq!(r.u32().unwrap(), 3, "level {level}");
        assert_eq!(u32::from_le_bytes(stub[stub.len() - 4..].try_into().unwrap()), 0, "level {level}");
        // Level 2 and 502 carry the path.
        let text = String::from_utf16_lossy(&stub.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>());
        let odd = String::from_utf16_lossy(&stub[1..].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>());
        let has_path = text.contains("C:\\srv\\docs") || odd.contains("C:\\srv\\docs");
        assert_eq!(has_path, matches!(level, 2 | 502), "level {level}");
        assert!(text.contains("docs") || odd.contains("docs"), "level {level}");
    }
    // NetrShareEnumSticky: the configured shares, not IPC$.
    let (sticky, total, _, st) = decode_enum1(&call(&mut pipe, &p, 36, &share_enum_stub(1, u32::MAX, None)).unwrap());
    assert_eq!((sticky.len(), total, st), (2, 2, 0));
    assert!(sticky.iter().all(|s| s.0 != "IPC$"));
    let stub = call(&mut pipe, &p, 36, &share_enum_stub(501, u32::MAX, None)).unwrap();
    assert_eq!(u32::from_le_bytes(stub[stub.len() - 4..].try_into().unwrap()), 124);
    // NetrShareCheck: a shared path, and one that is not.
    for (device, want) in [
        ("c:\\SRV\\docs", [0u8, 0, 0, 0, 0, 0, 0, 0]),
        ("", [3, 0, 0, 0x80, 0, 0, 0, 0]),
        ("C:\\elsewhere", [0, 0, 0, 0, 0x07, 0x09, 0, 0]),
    ] {
        let mut w = Writer::new();
        w.pointer(false);
        w.wstring(device);
        assert_eq!(call(&mut pipe, &p, 20, &w.buf).unwrap(), want, "{device}");
    }
    // An unknown level is a bad union tag; 503 is a valid arm the server does not serve.
    assert_eq!(call(&mut pipe, &p, 15, &share_enum_stub(7, u32::MAX, None)), Err(0x1C00_0006));
    let stub = call(&mut pipe, &p, 15, &share_enum_stub(503, u32::MAX, None)).unwrap();
    assert_eq!(u32::from_le_bytes(stub[stub.len() - 4..].try_into().unwrap()), 124);
}

#[test]
fn share_enum_honours_preferred_length_and_resume() {
    let p = TestProvider::new();
    let mut pipe = Pipe::new(Interface::Srvsvc, 2);
    bind(&mut pipe, &p, SRVSVC);
    let (first, total, resume, st) = decode_enum1(&call(&mut pipe, &p, 15, &share_enum_stub(1, 30, Some(0))).unwrap());
    assert_eq!((first.len(), total, st), (1, 3, 234));
    let (rest, _, resume2, st2) = decode_enum1(&call(&mut pipe, &p, 15, &share_enum_stub(1, u32::MAX, resume)).unwrap());
    assert_eq!((rest.len(), st2, resume2), (2, 0, Some(0)));
    assert_eq!(rest[0].0, "hidden$");
}

#[test]
fn levels_with_paths_need_an_authenticated_caller() {
    let mut p = TestProvider::new();
    p.authenticated = false;
    let mut pipe = Pipe::new(Interface::Srvsvc, 2);
    bind(&mut pipe, &p, SRVSVC);
    let stub = call(&mut pipe, &p, 15, &share_enum_stub(2, u32::MAX, None)).unwrap();
    assert_eq!(u32::from_le_bytes(stub[stub.len() - 4..].try_into().unwrap()), 5);
    assert_eq!(decode_enum1(&call(&mut pipe, &p, 15, &share_enum_stub(1, u32::MAX, None)).unwrap()).0.len(), 3);
}

fn get_info_stub(name: &str, level: u32) -> Vec<u8> {
    let mut w = Writer::new();
    server_name(&mut w, "TESTSRV");
    w.wstring(name);
    w.u32(level);
    w.buf
}

#[test]
fn share_get_info_finds_shares_ignoring_case() {
    let p = TestProvider::new();
    let mut pipe = Pipe::new(Interface::Srvsvc, 3);
    bind(&mut pipe, &p, SRVSVC);
    let stub = call(&mut pipe, &p, 16, &get_info_stub("DOCS", 502)).unwrap();
    let mut r = Reader::new(&stub);
    assert_eq!(r.u32().unwrap(), 502);
    r.pointer().unwrap().unwrap();
    r.pointer().unwrap().unwrap();
    assert_eq!(r.u32().unwrap(), 0);
    r.pointer().unwrap().unwrap();
    assert_eq!(r.u32().unwrap(), 0);
    assert_eq!(r.u32().unwrap(), u32::MAX);
    assert_eq!(r.u32().unwrap(), 0);
    r.pointer().unwrap().unwrap();
    assert_eq!(r.pointer().unwrap(), None);
    assert_eq!((r.u32().unwrap(), r.pointer().unwrap()), (0, None));
    assert_eq!(r.wstring().unwrap(), "docs");
    assert_eq!(r.wstring().unwrap(), "Documents");
    assert_eq!(r.wstring().unwrap(), "C:\\srv\\docs");
    assert_eq!(r.u32().unwrap(), 0);
    let stub = call(&mut pipe, &p, 16, &get_info_stub("nope", 1)).unwrap();
    assert_eq!(stub, [1, 0, 0, 0, 0, 0, 0, 0, 0x06, 0x09, 0, 0]);
}

#[test]
fn server_and_workstation_info() {
    let p = TestProvider::new();
    let mut pipe = Pipe::new(Interface::Srvsvc, 4);
    bind(&mut pipe, &p, SRVSVC);
    let mut w = Writer::new();
    server_name(&mut w, "TESTSRV");
    w.u32(101);
    let stub = call(&mut pipe, &p, 21, &w.buf).unwrap();
    let mut r = Reader::new(&stub);
    assert_eq!(r.u32().unwrap(), 101);
    r.pointer().unwrap().unwrap();
    assert_eq!(r.u32().unwrap(), 500);
    r.pointer().unwrap().unwrap();
    assert_eq!((r.u32().unwrap(), r.u32().unwrap()), (10, 0));
    assert_eq!(r.u32().unwrap() & 0x3, 0x3);
    r.pointer().unwrap().unwrap();
    assert_eq!(r.wstring().unwrap(), "TESTSRV");
    assert_eq!(r.wstring().unwrap(), "Opportune test");
    assert_eq!(r.u32().unwrap(), 0);

    let mut pipe = Pipe::new(Interface::Wkssvc, 5);
    bind(&mut pipe, &p, WKSSVC);
    let mut w = Writer::new();
    w.pointer(false);
    w.u32(100);
    let stub = call(&mut pipe, &p, 0, &w.buf).unwrap();
    let mut r = Reader::new(&stub);
    assert_eq!(r.u32().unwrap(), 100);
    r.pointer().unwrap().unwrap();
    assert_eq!(r.u32().unwrap(), 500);
    r.pointer().unwrap().unwrap();
    r.pointer().unwrap().unwrap();
    assert_eq!((r.u32().unwrap(), r.u32().unwrap()), (10, 0));
    assert_eq!(r.wstring().unwrap(), "TESTSRV");
    assert_eq!(r.wstring().unwrap(), "WORKGROUP");
    assert_eq!(r.u32().unwrap(), 0);
    let mut w101 = Writer::new();
    w101.pointer(false);
    w101.u32(101);
    let stub = call(&mut pipe, &p, 0, &w101.buf).unwrap();
    let mut r = Reader::new(&stub);
    assert_eq!(r.u32().unwrap(), 101);
    r.take(24).unwrap();
    r.pointer().unwrap().unwrap();
    assert_eq!((r.wstring().unwrap(), r.wstring().unwrap(), r.wstring().unwrap()), ("TESTSRV".into(), "WORKGROUP".into(), "C:\\".into()));
    assert_eq!(r.u32().unwrap(), 0);
    // wkssvc has no opnum 1 served; a short stub is an NDR fault.
    assert_eq!(call(&mut pipe, &p, 1, &w.buf), Err(status::OP_RNG_ERROR));
    assert_eq!(call(&mut pipe, &p, 0, &w.buf[..5]), Err(status::FAULT_NDR));
}

fn open_policy2(pipe: &mut Pipe, p: &TestProvider, access: u32) -> ([u8; 20], u32) {
    let stub = call(pipe, p, 44, &open_policy2_stub("\\\\TESTSRV", access)).unwrap();
    assert_eq!(stub.len(), 24);
    (stub[..20].try_into().unwrap(), u32::from_le_bytes(stub[20..].try_into().unwrap()))
}

/// Referenced domains, (use, name, domain index) per SID, MappedCount, status.
type Lookup = (Vec<(String, Sid)>, Vec<(u16, String, i32)>, u32, u32);

fn lookup_sids2_stub(h: &[u8; 20], sids: &[&str]) -> Vec<u8> {
    let mut w = Writer::new();
    w.context_handle(h);
    w.u32(sids.len() as u32);
    w.pointer(true);
    w.u32(sids.len() as u32);
    for _ in sids {
        w.pointer(true);
    }
    for s in sids {
        Sid::parse(s).unwrap().encode(&mut w);
    }
    w.u32(0);
    w.pointer(false);
    w.u16(1);
    w.u32(0);
    w.u32(0);
    w.u32(2);
    w.buf
}

fn lookup_sids2(pipe: &mut Pipe, p: &TestProvider, h: &[u8; 20], sids: &[&str]) -> Lookup {
    let stub = call(pipe, p, 57, &lookup_sids2_stub(h, sids)).unwrap();
    let mut r = Reader::new(&stub);
    let mut domains = Vec::new();
    if r.pointer().unwrap().is_some() {
        let n = r.u32().unwrap();
        let present = r.pointer().unwrap().is_some();
        r.u32().unwrap();
        if present {
            assert_eq!(r.u32().unwrap(), n);
            let heads: Vec<_> = (0..n).map(|_| {
                let h = r.unicode_string_head().unwrap();
                r.pointer().unwrap().unwrap();
                h
            }).collect();
            for h in heads {
                let name = r.unicode_string_body(h).unwrap();
                domains.push((name, Sid::decode(&mut r).unwrap()));
            }
        }
    }
    let n = r.u32().unwrap();
    let mut names = Vec::new();
    if r.pointer().unwrap().is_some() {
        assert_eq!(r.u32().unwrap(), n);
        let scal: Vec<_> = (0..n).map(|_| {
            let u = r.u16().unwrap();
            let h = r.unicode_string_head().unwrap();
            let d = r.u32().unwrap() as i32;
            r.u32().unwrap();
            (u, h, d)
        }).collect();
        for (u, h, d) in scal {
            names.push((u, r.unicode_string_body(h).unwrap(), d));
        }
    }
    let mapped = r.u32().unwrap();
    let st = r.u32().unwrap();
    assert_eq!(r.remaining(), 0);
    (domains, names, mapped, st)
}

#[test]
fn lsa_policy_lookups_and_close() {
    let p = TestProvider::new();
    let mut pipe = Pipe::new(Interface::Lsarpc, 6);
    bind(&mut pipe, &p, LSARPC);
    let (h, st) = open_policy2(&mut pipe, &p, 0x0200_0000);
    assert_eq!(st, 0);
    // PolicyAccountDomainInformation: the server's name and domain SID.
    let mut w = Writer::new();
    w.context_handle(&h);
    w.u16(5);
    let stub = call(&mut pipe, &p, 7, &w.buf).unwrap();
    let mut r = Reader::new(&stub);
    r.pointer().unwrap().unwrap();
    assert_eq!(r.u16().unwrap(), 5);
    let head = r.unicode_string_head().unwrap();
    r.pointer().unwrap().unwrap();
    assert_eq!(r.unicode_string_body(head).unwrap(), "TESTSRV");
    assert_eq!(Sid::decode(&mut r).unwrap().to_string(), "S-1-5-21-100-200-300");
    assert_eq!(r.u32().unwrap(), 0);

    let (domains, names, mapped, st) =
        lookup_sids2(&mut pipe, &p, &h, &["S-1-5-21-100-200-300-1000", "S-1-1-0", "S-1-5-32-544", "S-1-5-21-100-200-300-4242", "S-1-5-11"]);
    assert_eq!(st, 0x107);
    assert_eq!(mapped, 4);
    let shown: Vec<(u16, String, String)> =
        names.iter().map(|(u, n, d)| (*u, n.clone(), if *d >= 0 { domains[*d as usize].0.clone() } else { "-".into() })).collect();
    assert_eq!(
        shown,
        [
            (1, "alice".into(), "TESTSRV".into()),
            (5, "Everyone".into(), String::new()),
            (4, "Administrators".into(), "BUILTIN".into()),
            (8, "S-1-5-21-100-200-300-4242".into(), "TESTSRV".into()),
            (5, "Authenticated Users".into(), "NT AUTHORITY".into()),
        ]
    );
    assert_eq!(domains.len(), 4);

    // LsarLookupNames3: composite and isolated names; the empty name is the domain.
    let mut w = Writer::new();
    w.context_handle(&h);
    let names = ["ALICE", "BUILTIN\\Administrators", "TESTSRV\\nobody", ""];
    w.u32(4);
    w.u32(4);
    for n in names {
        w.unicode_string_head(n);
    }
    for n in names {
        w.unicode_string_body(n);
    }
    w.u32(0);
    w.pointer(false);
    w.u16(1);
    w.u32(0);
    w.u32(0);
    w.u32(2);
    let stub = call(&mut pipe, &p, 68, &w.buf).unwrap();
    let tail = &stub[stub.len() - 8..];
    assert_eq!(u32::from_le_bytes(tail[..4].try_into().unwrap()), 3);
    assert_eq!(u32::from_le_bytes(tail[4..].try_into().unwrap()), 0x107);
    let text: Vec<u8> = stub.clone();
    let mut sid = Writer::new();
    Sid::parse("S-1-5-21-100-200-300-1000").unwrap().encode(&mut sid);
    assert!(text.windows(sid.buf.len()).any(|x| x == sid.buf), "alice's SID in the answer");

    // Close, then the handle is gone: the RPC runtime's context mismatch fault.
    let mut w = Writer::new();
    w.context_handle(&h);
    assert_eq!(call(&mut pipe, &p, 0, &w.buf).unwrap(), [0u8; 24]);
    assert_eq!(call(&mut pipe, &p, 0, &w.buf), Err(0x1C00_001A));
    assert_eq!(call(&mut pipe, &p, 57, &lookup_sids2_stub(&h, &["S-1-1-0"])), Err(0x1C00_001A));
    let mut q = Writer::new();
    q.context_handle(&h);
    q.u16(5);
    assert_eq!(call(&mut pipe, &p, 7, &q.buf), Err(0x1C00_001A));
}

#[test]
fn lsa_refuses_guests_and_write_access() {
    let mut p = TestProvider::new();
    let mut pipe = Pipe::new(Interface::Lsarpc, 6);
    bind(&mut pipe, &p, LSARPC);
    assert_eq!(open_policy2(&mut pipe, &p, 0x0000_0010).1, 0xC000_0022);
    assert_eq!(open_policy2(&mut pipe, &p, 0x8000_0000 | 0x800).1, 0);
    p.authenticated = false;
    assert_eq!(open_policy2(&mut pipe, &p, 0x800).1, 0xC000_0022);
}

#[test]
fn lsa_handles_are_bounded() {
    let p = TestProvider::new();
    let mut pipe = Pipe::new(Interface::Lsarpc, 6);
    bind(&mut pipe, &p, LSARPC);
    for _ in 0..64 {
        assert_eq!(open_policy2(&mut pipe, &p, 0x800).1, 0);
    }
    assert_eq!(open_policy2(&mut pipe, &p, 0x800).1, 0xC000_009A);
}

#[test]
fn requests_and_responses_are_fragmented() {
    let mut p = TestProvider::new();
    for i in 0..200 {
        p.shares.push(opportune_rpc::provider::ShareEntry {
            name: format!("share{i:03}"),
            stype: 0,
            comment: "a share with a long enough comment to need fragments".into(),
            path: String::new(),
            current_uses: 0,
        });
    }
    let mut pipe = Pipe::new(Interface::Srvsvc, 7);
    let ctx = ContextElem { id: 0, abstract_syntax: SRVSVC, transfer: vec![NDR20] };
    pipe.write(&bind_pdu(1, vec![ctx], 1432), &p).unwrap();
    let ack = BindAck::decode(&drain(&mut pipe)[0][HEADER_LEN..]).unwrap();
    assert_eq!(ack.max_xmit_frag, 1432);
    // The request in three fragments, split mid-stub, written in odd pieces.
    let stub = share_enum_stub(1, u32::MAX, None);
    let (a, rest) = stub.split_at(5);
    let (b, c) = rest.split_at(9);
    let mut bytes = request_pdu(7, 0, 15, a, pfc::FIRST_FRAG);
    bytes.extend(request_pdu(7, 0, 15, b, 0));
    bytes.extend(request_pdu(7, 0, 15, c, pfc::LAST_FRAG));
    for piece in bytes.chunks(7) {
        pipe.write(piece, &p).unwrap();
    }
    let mut frags = 0;
    let mut out = Vec::new();
    while let Some(r) = pipe.read(usize::MAX) {
        let h = Header::decode(&r.data).unwrap();
        assert!(h.frag_length <= 1432);
        assert_eq!(h.flags & pfc::LAST_FRAG != 0, !pipe.has_output());
        out.extend_from_slice(pdu::decode_response(&r.data[HEADER_LEN..]).unwrap().2);
        frags += 1;
    }
    assert!(frags > 5, "{frags} fragments");
    assert_eq!(decode_enum1(&out).0.len(), 203);
    // A partial read of a message says there is more of it.
    pipe.write(&request_pdu(8, 0, 15, &stub, 3), &p).unwrap();
    let part = pipe.read(100).unwrap();
    assert!(part.more && part.data.len() == 100);
    let rest = pipe.read(usize::MAX).unwrap();
    assert_eq!(u16::from_le_bytes([part.data[8], part.data[9]]) as usize, 100 + rest.data.len());
    // A transceive with answers waiting is busy.
    assert_eq!(pipe.transceive(&request_pdu(9, 0, 15, &stub, 3), 4280, &p), Err(opportune_rpc::PipeError::Busy));
}

#[test]
fn garbage_is_answered_and_the_pipe_keeps_working() {
    let p = TestProvider::new();
    let mut pipe = Pipe::new(Interface::Srvsvc, 8);
    // A request before any bind.
    pipe.write(&request_pdu(3, 0, 15, &[], 3), &p).unwrap();
    let f = drain(&mut pipe);
    assert_eq!(pdu::decode_fault(&f[0][HEADER_LEN..]).unwrap(), status::PROTO_ERROR);
    // A frag_length below the header, and a non-RPC fragment.
    pipe.write(&[5, 0, 0, 3, 0x10, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0], &p).unwrap();
    assert_eq!(drain(&mut pipe).len(), 1);
    pipe.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &p).unwrap();
    for f in drain(&mut pipe) {
        assert_eq!(f[2], ptype::FAULT);
    }
    // A frag_length beyond what a client may send is answered at once, not waited for.
    let mut big = request_pdu(5, 0, 15, &[], 3);
    big[8..10].copy_from_slice(&0xFFFFu16.to_le_bytes());
    pipe.write(&big, &p).unwrap();
    assert_eq!(drain(&mut pipe).len(), 1);
    assert_eq!(pipe.memory(), 0);
    // A response PDU sent by the client.
    pipe.write(&pdu::encode(ptype::RESPONSE, 3, 4, &[0; 8]).unwrap(), &p).unwrap();
    assert_eq!(drain(&mut pipe)[0][2], ptype::FAULT);
    bind(&mut pipe, &p, SRVSVC);
    assert_eq!(decode_enum1(&call(&mut pipe, &p, 15, &share_enum_stub(1, u32::MAX, None)).unwrap()).0.len(), 3);
    assert_eq!(call(&mut pipe, &p, 999, &[]), Err(status::OP_RNG_ERROR));
    assert_eq!(call(&mut pipe, &p, 15, &[1, 0, 0, 0]), Err(status::FAULT_NDR));
    assert!(pipe.memory() == 0);
}

#[test]
fn pipe_names() {
    assert_eq!(Interface::for_pipe("srvsvc"), Some(Interface::Srvsvc));
    assert_eq!(Interface::for_pipe("\\WKSSVC"), Some(Interface::Wkssvc));
    assert_eq!(Interface::for_pipe("LsaRpc"), Some(Interface::Lsarpc));
    assert_eq!(Interface::for_pipe("samr"), None);
    assert_eq!(Interface::for_pipe("\\\\srvsvc"), None);
}
