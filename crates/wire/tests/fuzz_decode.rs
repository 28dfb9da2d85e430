//! Bounded stable-toolchain fuzzing of the SMB2 request decoders (hardening issue, item 8):
//! seeded mutations of one well-formed request per command, fed to `decode_any` (every
//! request decoder), the SMB1 negotiate sniffer and the create-context and EA-list
//! parsers. `OPPORTUNE_FUZZ_SECS` sets the time (default 2 s, 30 s in CI),
//! `OPPORTUNE_FUZZ_SEED` replays a run (see fuzz/stable/mutator.rs).

#[path = "../../../fuzz/stable/mutator.rs"]
mod mutator;

/// (command, StructureSize) of every SMB2 request (MS-SMB2 2.2.3 - 2.2.39).
const COMMANDS: [(u16, u16); 19] = [
    (0x00, 36), (0x01, 25), (0x02, 4), (0x03, 9), (0x04, 4), (0x05, 57), (0x06, 24), (0x07, 24), (0x08, 49),
    (0x09, 49), (0x0A, 48), (0x0B, 57), (0x0C, 4), (0x0D, 4), (0x0E, 33), (0x0F, 32), (0x10, 41), (0x11, 33),
    (0x12, 24),
];

fn header(command: u16, next: u32) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
    h[4..6].copy_from_slice(&64u16.to_le_bytes());
    h[6..8].copy_from_slice(&1u16.to_le_bytes());
    h[12..14].copy_from_slice(&command.to_le_bytes());
    h[20..24].copy_from_slice(&next.to_le_bytes());
    h
}

/// A NEGOTIATE offering every dialect with preauth and encryption contexts.
fn negotiate() -> Vec<u8> {
    let mut m = header(0, 0);
    let dialects = [0x0202u16, 0x0210, 0x0300, 0x0302, 0x0311];
    m.extend_from_slice(&36u16.to_le_bytes());
    m.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&[0; 2]);
    m.extend_from_slice(&0x7Fu32.to_le_bytes());
    m.extend_from_slice(&[7; 16]);
    let ctx_off = (64 + 36 + 2 * dialects.len()).next_multiple_of(8) as u32;
    m.extend_from_slice(&ctx_off.to_le_bytes());
    m.extend_from_slice(&2u16.to_le_bytes());
    m.extend_from_slice(&[0; 2]);
    for d in dialects {
        m.extend_from_slice(&d.to_le_bytes());
    }
    while m.len() < ctx_off as usize {
        m.push(0);
    }
    // SMB2_PREAUTH_INTEGRITY_CAPABILITIES: one SHA-512, a 32-byte salt.
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&38u16.to_le_bytes());
    m.extend_from_slice(&[0; 4]);
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&32u16.to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&[9; 32]);
    while !m.len().is_multiple_of(8) {
        m.push(0);
    }
    // SMB2_ENCRYPTION_CAPABILITIES: AES-128-GCM, AES-128-CCM.
    m.extend_from_slice(&2u16.to_le_bytes());
    m.extend_from_slice(&6u16.to_le_bytes());
    m.extend_from_slice(&[0; 4]);
    m.extend_from_slice(&2u16.to_le_bytes());
    m.extend_from_slice(&2u16.to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes());
    m
}

/// A create context (MS-SMB2 2.2.13.2) named `name` with `data`.
fn context(name: &[u8; 4], data: &[u8], last: bool) -> Vec<u8> {
    let mut c = Vec::new();
    let len = (24 + data.len()).next_multiple_of(8);
    c.extend_from_slice(&(if last { 0u32 } else { len as u32 }).to_le_bytes());
    c.extend_from_slice(&16u16.to_le_bytes());
    c.extend_from_slice(&4u16.to_le_bytes());
    c.extend_from_slice(&[0; 2]);
    c.extend_from_slice(&24u16.to_le_bytes());
    c.extend_from_slice(&(data.len() as u32).to_le_bytes());
    c.extend_from_slice(name);
    c.extend_from_slice(&[0; 4]);
    c.extend_from_slice(data);
    if !last {
        c.resize(len, 0);
    }
    c
}

/// A CREATE of "dir\file.txt" with a lease, a durable v2 request and maximal access; and
/// its create contexts alone.
fn create() -> (Vec<u8>, Vec<u8>) {
    let name: Vec<u8> = "dir\\file.txt".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut contexts = context(b"RqLs", &[1; 32], false);
    contexts.extend(context(b"DH2Q", &[0; 32], false));
    contexts.extend(context(b"MxAc", &[], true));
    let mut m = header(5, 0);
    m.extend_from_slice(&57u16.to_le_bytes());
    m.extend_from_slice(&[0, 0xFF]);
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&[0; 16]);
    m.extend_from_slice(&0x0012_019Fu32.to_le_bytes());
    m.extend_from_slice(&0x80u32.to_le_bytes());
    m.extend_from_slice(&7u32.to_le_bytes());
    m.extend_from_slice(&3u32.to_le_bytes());
    m.extend_from_slice(&0x40u32.to_le_bytes());
    m.extend_from_slice(&120u16.to_le_bytes());
    m.extend_from_slice(&(name.len() as u16).to_le_bytes());
    let ctx_off = (120 + name.len()).next_multiple_of(8);
    m.extend_from_slice(&(ctx_off as u32).to_le_bytes());
    m.extend_from_slice(&(contexts.len() as u32).to_le_bytes());
    m.extend_from_slice(&name);
    m.resize(ctx_off, 0);
    m.extend_from_slice(&contexts);
    (m, contexts)
}

/// One request per command: the StructureSize and a body of plausible zeros; a NEGOTIATE
/// and a CREATE with their variable parts; a WRITE with data, a SET_INFO with an EA list,
/// a compound of the two and an SMB1 negotiate.
fn seeds() -> Vec<Vec<u8>> {
    let mut out = vec![negotiate()];
    let (create, contexts) = create();
    out.push(create);
    out.push(contexts);
    for (command, size) in COMMANDS {
        let mut m = header(command, 0);
        m.extend_from_slice(&size.to_le_bytes());
        m.resize(64 + usize::from(size & !1) + 16, 0);
        out.push(m);
    }
    let mut write = header(9, 0);
    write.extend_from_slice(&49u16.to_le_bytes());
    write.extend_from_slice(&112u16.to_le_bytes());
    write.extend_from_slice(&8u32.to_le_bytes());
    write.extend_from_slice(&[0; 8 + 16 + 16]);
    write.extend_from_slice(b"abcdefgh");
    out.push(write.clone());
    let ea = [0u8, 0, 0, 0, 0, 3, 2, 0, b'a', b'b', b'c', 0, b'x', b'y'];
    out.push(ea.to_vec());
    let mut set = header(0x11, 0);
    set.extend_from_slice(&33u16.to_le_bytes());
    set.extend_from_slice(&[1, 15]);
    set.extend_from_slice(&(ea.len() as u32).to_le_bytes());
    set.extend_from_slice(&96u16.to_le_bytes());
    set.extend_from_slice(&[0; 2 + 4 + 16]);
    set.extend_from_slice(&ea);
    let mut chain = write;
    chain.resize(chain.len().next_multiple_of(8), 0);
    let next = chain.len() as u32;
    chain[20..24].copy_from_slice(&next.to_le_bytes());
    chain.extend_from_slice(&set);
    out.push(set);
    out.push(chain);
    out.push(vec![0xFF, b'S', b'M', b'B', 0x72, 0, 0, 0, 0, 0x18, 0x53, 0xC8]);
    out.push(quota_query());
    out
}

/// An SMB2_QUERY_QUOTA_INFO with a SID list of two (MS-SMB2 2.2.37.1).
fn quota_query() -> Vec<u8> {
    let sid = [1u8, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0, 0xE8, 3, 0, 0];
    let mut list = Vec::new();
    for next in [36u32, 0] {
        list.extend_from_slice(&next.to_le_bytes());
        list.extend_from_slice(&(sid.len() as u32).to_le_bytes());
        list.extend_from_slice(&sid);
    }
    let mut q = vec![0, 1, 0, 0];
    q.extend_from_slice(&(list.len() as u32).to_le_bytes());
    q.extend_from_slice(&[0; 8]);
    q.extend_from_slice(&list);
    q
}

#[test]
fn request_decoders_survive_mutated_requests() {
    let n = mutator::run("wire decoders", &seeds(), |input| {
        let _ = opportune_wire::decode_any(input);
        let _ = opportune_wire::transport::parse_smb1_negotiate(input);
        let _ = opportune_wire::create::decode_contexts(input);
        let _ = opportune_wire::fscc::parse_full_ea_list(input);
        let _ = opportune_wire::quota::decode_quota_query(input);
        // Every message of a compound chain, as the dispatcher walks it.
        let mut at = 0usize;
        while let Some(msg) = input.get(at..).filter(|m| m.len() >= 64) {
            let _ = opportune_wire::decode_any(msg);
            let next = u32::from_le_bytes([msg[20], msg[21], msg[22], msg[23]]) as usize;
            if next == 0 || next > msg.len() {
                break;
            }
            at += next;
        }
    });
    assert!(n >= 2000, "only {n} inputs tried");
}

#[test]
fn the_mutator_is_deterministic_for_a_seed() {
    let s = seeds();
    let run = |seed| {
        let mut rng = mutator::Rng::new(seed);
        (0..100).map(|i| mutator::mutate(&mut rng, &s[i % s.len()], &s[0])).collect::<Vec<_>>()
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

#[test]
fn the_seeds_are_requests_the_decoders_accept() {
    let s = seeds();
    let accepted = s.iter().filter(|m| opportune_wire::decode_any(m).is_ok()).count();
    eprintln!("{accepted} of {} seeds decode", s.len());
    assert!(opportune_wire::decode_any(&negotiate()).is_ok(), "NEGOTIATE seed");
    assert!(opportune_wire::decode_any(&create().0).is_ok(), "CREATE seed");
    assert!(opportune_wire::create::decode_contexts(&create().1).is_ok(), "create contexts seed");
    assert_eq!(opportune_wire::quota::decode_quota_query(&quota_query()).map(|q| q.sids.len()), Ok(2), "quota query seed");
    assert!(accepted >= s.len() / 2, "only {accepted} of {} seeds decode", s.len());
}
