//! Bounded stable-toolchain fuzzing of the authentication token decoders (hardening
//! issue, item 8): seeded mutations of SPNEGO tokens (DER) and NTLM NEGOTIATE and
//! AUTHENTICATE messages, fed to `spnego::parse_client_token` and to an NTLM acceptor's
//! `challenge` and `authenticate`. `OPPORTUNE_FUZZ_SECS` sets the time (default 2 s, 30 s
//! in CI), `OPPORTUNE_FUZZ_SEED` replays a run (see fuzz/stable/mutator.rs).

#[path = "../../../fuzz/stable/mutator.rs"]
mod mutator;

use opportune_auth::{spnego, NtHash, NtlmAcceptor};

/// A DER TLV with a definite length (short or long form).
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        v.push(0x80 | bytes.len() as u8);
        v.extend(bytes);
    }
    v.extend_from_slice(content);
    v
}

const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
const OID_NTLM: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];

/// An NTLM NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1) with the flags Windows sends.
fn ntlm_negotiate() -> Vec<u8> {
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&0xE208_8297u32.to_le_bytes());
    m.extend_from_slice(&[0; 16]);
    m.extend_from_slice(&[6, 1, 0x80, 0x25, 0, 0, 0, 0x0F]);
    m
}

/// An NTLM AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3) for "user" with an NTLMv2 response
/// whose blob announces a MIC; the proof is not right, which the fuzzer does not need.
fn ntlm_authenticate() -> Vec<u8> {
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
    blob.extend_from_slice(&[0x11; 8]); // timestamp
    blob.extend_from_slice(&[0x22; 8]); // client challenge
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(&[6, 0, 4, 0, 2, 0, 0, 0]); // MsvAvFlags: MIC present
    blob.extend_from_slice(&[2, 0, 8, 0]);
    blob.extend(utf16("SRVR")); // MsvAvNbDomainName
    blob.extend_from_slice(&[0, 0, 0, 0]); // MsvAvEOL
    blob.extend_from_slice(&[0; 4]);
    let mut nt = vec![0x33; 16];
    nt.extend(blob);
    let fields: [Vec<u8>; 6] = [vec![0; 24], nt, utf16("DOMAIN"), utf16("user"), utf16("WS"), vec![0x44; 16]];
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&3u32.to_le_bytes());
    let mut off = 88u32;
    let mut payload = Vec::new();
    for f in &fields {
        m.extend_from_slice(&(f.len() as u16).to_le_bytes());
        m.extend_from_slice(&(f.len() as u16).to_le_bytes());
        m.extend_from_slice(&off.to_le_bytes());
        off += f.len() as u32;
        payload.extend_from_slice(f);
    }
    m.extend_from_slice(&0xE208_8215u32.to_le_bytes());
    m.extend_from_slice(&[6, 1, 0x80, 0x25, 0, 0, 0, 0x0F]);
    m.extend_from_slice(&[0x55; 16]); // MIC
    m.extend(payload);
    m
}

/// A GSS-wrapped SPNEGO negTokenInit (RFC 4178 4.2.1) offering NTLM with `token`.
fn neg_token_init(token: &[u8]) -> Vec<u8> {
    let mechs = tlv(0x30, &tlv(0x06, OID_NTLM));
    let mut fields = tlv(0xA0, &mechs);
    fields.extend(tlv(0xA2, &tlv(0x04, token)));
    let init = tlv(0xA0, &tlv(0x30, &fields));
    let mut inner = tlv(0x06, OID_SPNEGO);
    inner.extend(init);
    tlv(0x60, &inner)
}

/// A SPNEGO negTokenResp (RFC 4178 4.2.2) carrying `token` and a mechListMIC.
fn neg_token_resp(token: &[u8]) -> Vec<u8> {
    let mut fields = tlv(0xA2, &tlv(0x04, token));
    fields.extend(tlv(0xA3, &tlv(0x04, &[0x66; 16])));
    tlv(0xA1, &tlv(0x30, &fields))
}

fn seeds() -> Vec<Vec<u8>> {
    let (neg, auth) = (ntlm_negotiate(), ntlm_authenticate());
    vec![
        neg_token_init(&neg),
        neg_token_resp(&auth),
        neg.clone(),
        auth.clone(),
        spnego::negotiate_hint(),
        neg_token_init(&[]),
    ]
}

/// An acceptor that has answered a valid NEGOTIATE and waits for an AUTHENTICATE.
fn challenged() -> NtlmAcceptor {
    let mut a = NtlmAcceptor::new([1; 8], "FUZZ", "fuzz", 0);
    a.challenge(&ntlm_negotiate()).expect("the NEGOTIATE seed is accepted");
    a
}

#[test]
fn token_decoders_survive_mutated_tokens() {
    let hash = NtHash::from_password("pass");
    let users = move |user: &str, _domain: &str| user.eq_ignore_ascii_case("user").then_some(hash);
    let n = mutator::run("auth tokens", &seeds(), |input| {
        if let Ok(t) = spnego::parse_client_token(input) {
            // What the server does next with the NTLM token inside.
            let _ = NtlmAcceptor::new([1; 8], "FUZZ", "fuzz", 0).challenge(&t.ntlm);
            let _ = challenged().authenticate(&t.ntlm, &users);
        }
        let _ = NtlmAcceptor::new([1; 8], "FUZZ", "fuzz", 0).challenge(input);
        let _ = challenged().authenticate(input, &users);
    });
    assert!(n >= 2000, "only {n} inputs tried");
}

#[test]
fn the_seeds_are_tokens_the_decoders_accept() {
    let t = spnego::parse_client_token(&neg_token_init(&ntlm_negotiate())).expect("negTokenInit seed");
    assert_eq!(t.ntlm, ntlm_negotiate());
    let t = spnego::parse_client_token(&neg_token_resp(&ntlm_authenticate())).expect("negTokenResp seed");
    assert_eq!(t.ntlm, ntlm_authenticate());
    // The AUTHENTICATE seed parses as far as the proof, which is wrong on purpose.
    let users = |_: &str, _: &str| Some(NtHash::from_password("pass"));
    let r = challenged().authenticate(&ntlm_authenticate(), &users);
    assert_eq!(r, Err(opportune_auth::AuthError::WrongPassword));
}
