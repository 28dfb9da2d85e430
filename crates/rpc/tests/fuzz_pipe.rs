//! Bounded stable-toolchain fuzzing of the RPC codec (issue 13): seeded mutations of
//! well-formed PDU streams (bind, alter_context, fragmented and whole requests for every
//! served opnum) written into a `Pipe` of each interface in uneven pieces, and of
//! well-formed stubs handed straight to each service. Nothing may panic, every answer
//! must be a well-formed fragment, and the pipe's memory stays bounded.
//! `OPPORTUNE_FUZZ_SECS` sets the time (default 2 s, 30 s in CI; the acceptance run is
//! 60 s), `OPPORTUNE_FUZZ_SEED` replays a run (see fuzz/stable/mutator.rs).

#[path = "../../../fuzz/stable/mutator.rs"]
mod mutator;
mod common;

use common::*;
use opportune_rpc::ndr::Writer;
use opportune_rpc::pdu::{self, pfc, ptype, ContextElem, Header, NDR20};
use opportune_rpc::services::{self, CallState};
use opportune_rpc::sid::{NdrSid, Sid};
use opportune_rpc::{Interface, Pipe};

const IFACES: [Interface; 3] = [Interface::Srvsvc, Interface::Wkssvc, Interface::Lsarpc];

/// The first policy handle a `CallState::new(1)` hands out.
fn first_handle() -> [u8; 20] {
    let mut h = [0u8; 20];
    h[4..12].copy_from_slice(&1u64.to_le_bytes());
    h[12..20].copy_from_slice(&1u64.to_le_bytes());
    h
}

/// (interface, opnum, stub) for every served call.
fn stubs() -> Vec<(usize, u16, Vec<u8>)> {
    let mut out = Vec::new();
    for level in [0u32, 1, 2, 501, 502] {
        let mut w = Writer::new();
        server_name(&mut w, "\\\\srv");
        w.u32(level);
        w.u32(level);
        w.pointer(true);
        w.u32(0);
        w.pointer(false);
        w.u32(0xFFFF_FFFF);
        w.pointer(true);
        w.u32(0);
        out.push((0, 15, w.buf));
        let mut w = Writer::new();
        server_name(&mut w, "srv");
        w.wstring("docs");
        w.u32(level);
        out.push((0, 16, w.buf));
    }
    let mut w = Writer::new();
    server_name(&mut w, "srv");
    w.u32(101);
    out.push((0, 21, w.buf));
    let mut w = Writer::new();
    w.pointer(false);
    w.u32(100);
    out.push((1, 0, w.buf));
    out.push((2, 44, open_policy2_stub("\\\\srv", 0x0200_0000)));
    let h = first_handle();
    for class in [3u16, 5, 12] {
        let mut w = Writer::new();
        w.context_handle(&h);
        w.u16(class);
        out.push((2, 7, w.buf));
    }
    let mut w = Writer::new();
    w.context_handle(&h);
    w.u32(2);
    w.pointer(true);
    w.u32(2);
    w.pointer(true);
    w.pointer(true);
    Sid::parse("S-1-5-21-100-200-300-1000").unwrap().encode(&mut w);
    Sid::parse("S-1-1-0").unwrap().encode(&mut w);
    w.u32(0);
    w.pointer(false);
    w.u16(1);
    w.u32(0);
    w.u32(0);
    w.u32(2);
    out.push((2, 57, w.buf));
    let mut w = Writer::new();
    w.context_handle(&h);
    w.u32(2);
    w.u32(2);
    for n in ["alice", "BUILTIN\\Users"] {
        w.unicode_string_head(n);
    }
    for n in ["alice", "BUILTIN\\Users"] {
        w.unicode_string_body(n);
    }
    w.u32(0);
    w.pointer(false);
    w.u16(1);
    w.u32(0);
    w.u32(0);
    w.u32(2);
    out.push((2, 68, w.buf));
    let mut w = Writer::new();
    w.context_handle(&h);
    out.push((2, 0, w.buf));
    // NetrShareEnumSticky and NetrWkstaGetInfo level 101 (after the LSA ones: the
    // OpenPolicy2 seed stays at index 12).
    let sticky = out[0].2.clone();
    out.push((0, 36, sticky));
    let mut w = Writer::new();
    server_name(&mut w, "srv");
    w.u32(101);
    out.push((1, 0, w.buf));
    out
}

/// Whether a call needs the policy handle an LsarOpenPolicy2 hands out first.
fn needs_handle(iface: usize, opnum: u16) -> bool {
    iface == 2 && opnum != 44
}

/// A byte stream a client could write: a bind, an LsarOpenPolicy2 where the call needs
/// a handle, and the call, in two fragments, then again on an altered context.
fn stream(iface: usize, opnum: u16, stub: &[u8]) -> Vec<u8> {
    let syntax = [SRVSVC, WKSSVC, LSARPC][iface];
    let mut s = bind_pdu(1, vec![ContextElem { id: 0, abstract_syntax: syntax, transfer: vec![NDR20] }], 4280);
    if needs_handle(iface, opnum) {
        s.extend(request_pdu(9, 0, 44, &stubs()[12].2, pfc::FIRST_FRAG | pfc::LAST_FRAG));
    }
    let cut = stub.len() / 2;
    s.extend(request_pdu(2, 0, opnum, &stub[..cut], pfc::FIRST_FRAG));
    s.extend(request_pdu(2, 0, opnum, &stub[cut..], pfc::LAST_FRAG));
    let mut alter = bind_pdu(3, vec![ContextElem { id: 1, abstract_syntax: syntax, transfer: vec![NDR20] }], 4280);
    alter[2] = ptype::ALTER_CONTEXT;
    s.extend(alter);
    s.extend(request_pdu(4, 1, opnum, stub, pfc::FIRST_FRAG | pfc::LAST_FRAG));
    s
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (iface, opnum, stub) in stubs() {
        // A direct call: interface, opnum, stub.
        let mut direct = vec![iface as u8];
        direct.extend_from_slice(&opnum.to_le_bytes());
        direct.extend_from_slice(&stub);
        out.push(direct);
        out.push(stream(iface, opnum, &stub));
    }
    out
}

/// Every answer a pipe queued is one well-formed fragment.
fn check_answers(pipe: &mut Pipe) {
    while let Some(r) = pipe.read(4280) {
        assert!(!r.more, "answers fit the negotiated fragment size");
        let h = Header::decode(&r.data).expect("answers are well-formed fragments");
        assert!(matches!(h.ptype, ptype::BIND_ACK | ptype::BIND_NAK | ptype::ALTER_CONTEXT_RESP | ptype::RESPONSE | ptype::FAULT));
    }
}

#[test]
fn the_rpc_codec_survives_mutated_pdus_and_stubs() {
    let p = TestProvider::new();
    let open_policy = stubs()[12].2.clone();
    let n = mutator::run("rpc pipe", &seeds(), |input| {
        // As a stub of one call, on a state holding one policy handle.
        if let Some((&sel, rest)) = input.split_first() {
            let iface = IFACES[usize::from(sel) % 3];
            let opnum = rest.get(..2).map_or(0, |o| u16::from_le_bytes([o[0], o[1]]));
            let stub = rest.get(2..).unwrap_or(&[]);
            let mut state = CallState::new(1);
            let _ = services::call(Interface::Lsarpc, &mut state, 44, &open_policy, &p);
            let _ = services::call(iface, &mut state, opnum, stub, &p);
        }
        // As bytes written into a pipe of each interface, whole and in pieces.
        for iface in IFACES {
            let mut pipe = Pipe::new(iface, 1);
            let _ = pipe.write(input, &p);
            assert!(pipe.memory() <= 65535 + opportune_rpc::pipe::MAX_PENDING_OUTPUT);
            check_answers(&mut pipe);
            let mut pipe = Pipe::new(iface, 1);
            let cut = input.len() / 3;
            let _ = pipe.write(&input[..cut], &p);
            let _ = pipe.write(&input[cut..], &p);
            check_answers(&mut pipe);
        }
        let _ = pdu::Bind::decode(input);
        let _ = pdu::BindAck::decode(input);
        let _ = Sid::decode(&mut opportune_rpc::ndr::Reader::new(input));
    });
    assert!(n >= 2000, "only {n} inputs tried");
}

#[test]
fn the_seeds_are_calls_the_services_answer() {
    let p = TestProvider::new();
    let mut state = CallState::new(1);
    for (iface, opnum, stub) in stubs() {
        let r = services::call(IFACES[iface], &mut state, opnum, &stub, &p);
        assert!(r.is_ok(), "interface {iface} opnum {opnum}: {r:?}");
        // The NTSTATUS / WERROR at the end is success for all but the unknown levels.
        let out = r.unwrap();
        let status = u32::from_le_bytes(out[out.len() - 4..].try_into().unwrap());
        assert_eq!(status, 0, "interface {iface} opnum {opnum}");
    }
    for (iface, opnum, stub) in stubs() {
        let mut pipe = Pipe::new(IFACES[iface], 1);
        pipe.write(&stream(iface, opnum, &stub), &p).unwrap();
        let mut types = Vec::new();
        while let Some(r) = pipe.read(usize::MAX) {
            types.push(r.data[2]);
        }
        let mut want = vec![ptype::BIND_ACK];
        if needs_handle(iface, opnum) {
            want.push(ptype::RESPONSE);
        }
        // The second LsarClose of the same handle is the context-mismatch fault.
        let again = if iface == 2 && opnum == 0 { ptype::FAULT } else { ptype::RESPONSE };
        want.extend([ptype::RESPONSE, ptype::ALTER_CONTEXT_RESP, again]);
        assert_eq!(types, want, "{iface} {opnum}");
    }
}
