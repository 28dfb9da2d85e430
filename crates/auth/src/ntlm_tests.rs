//! Tests of NtlmAcceptor: MS-NLMP 4.2.4 vectors, round trips with the
//! test-only client, refusals, and robustness on hostile input.

use super::*;
use crate::test_client::{self, CLIENT_FLAGS, ClientOptions, ClientSecurity, assemble};
use crate::{NtHash, hex};

const CHALLENGE_4_2_4: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];

fn users(user: &str, _domain: &str) -> Option<NtHash> {
    match user.to_ascii_lowercase().as_str() {
        "user" => Some(NtHash::from_password("Password")),
        "alice" => Some(NtHash::from_password("wonderland")),
        _ => None,
    }
}

fn acceptor() -> NtlmAcceptor {
    NtlmAcceptor::new(
        [7, 6, 5, 4, 3, 2, 1, 0],
        "OPPORTUNE",
        "opportune.example",
        0x01db_0000_1234_5678,
    )
}

/// Runs NEGOTIATE/CHALLENGE and returns the acceptor, NEGOTIATE, CHALLENGE.
fn start(client_flags: u32) -> (NtlmAcceptor, Vec<u8>, Vec<u8>) {
    let mut a = acceptor();
    let n = test_client::negotiate(client_flags);
    let c = a.challenge(&n).unwrap();
    (a, n, c)
}

#[test]
fn ms_nlmp_4_2_4_vectors() {
    let nt_hash = NtHash::from_password("Password");
    let key = ntowf_v2(&nt_hash, "User", "Domain");
    // 4.2.4.1.1 NTOWFv2 / ResponseKeyNT
    assert_eq!(key[..], hex("0c868a403bfd7a93a3001ef22ef02e3f")[..]);
    // temp of 4.2.4.2.2 with the CHALLENGE's AV pairs (Domain, Server).
    let pairs = hex("02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000");
    let mut blob = hex("0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000");
    blob.extend_from_slice(&pairs);
    blob.extend_from_slice(&[0; 4]);
    let proof = hmac_md5_parts(&key, &[&CHALLENGE_4_2_4, &blob]);
    assert_eq!(proof[..], hex("68cd0ab851e51c96aabc927bebef6a1c")[..]);
    // 4.2.4.1.2 SessionBaseKey
    let base = hmac_md5_parts(&key, &[&proof]);
    assert_eq!(base[..], hex("8de40ccadbc14a82f15cb0ad0de95ca3")[..]);
    // 4.2.4.2.3 EncryptedSessionKey = RC4(KeyExchangeKey, RandomSessionKey)
    let mut enc = [0x55u8; 16];
    rc4_oneshot(&base, &mut enc);
    assert_eq!(enc[..], hex("c5dad2544fc9799094ce1ce90bc9d03e")[..]);

    // The acceptor, given these responses, recovers RandomSessionKey.
    let mut a = NtlmAcceptor::new(CHALLENGE_4_2_4, "Server", "server", 0);
    a.challenge(&test_client::negotiate(0xe28a8233)).unwrap();
    let mut nt = proof.to_vec();
    nt.extend_from_slice(&blob);
    let lmv2 = hex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
    let u = |s: &str| crate::ntlm_msg::utf16le(s);
    let msg = assemble(
        0xe28a8233,
        &[
            lmv2,
            nt,
            u("Domain"),
            u("User"),
            u("COMPUTER"),
            enc.to_vec(),
        ],
    );
    let out = a.authenticate(&msg, &users).unwrap();
    assert_eq!(
        out,
        AuthOutcome::Authenticated {
            user: "User".into(),
            domain: "Domain".into(),
            session_key: [0x55; 16]
        }
    );
}

#[test]
fn challenge_answers_requested_flags() {
    let (_, _, c) = start(CLIENT_FLAGS);
    let f = ntlm_msg::le32(&c, 20).unwrap();
    for want in [
        flags::UNICODE,
        flags::NTLM,
        flags::EXTENDED_SESSIONSECURITY,
        flags::TARGET_INFO,
        flags::NEG_128,
        flags::NEG_56,
        flags::KEY_EXCH,
        flags::SIGN,
        flags::ALWAYS_SIGN,
        flags::VERSION,
        flags::TARGET_TYPE_SERVER,
    ] {
        assert_ne!(f & want, 0, "flag {want:#x} missing");
    }
    assert_eq!(f & flags::OEM, 0);
    assert_eq!(&c[24..32], &[7, 6, 5, 4, 3, 2, 1, 0]);
    // A minimal client gets no KEY_EXCH/SIGN back.
    let (_, _, c) = start(flags::UNICODE | flags::NTLM);
    let f = ntlm_msg::le32(&c, 20).unwrap();
    assert_eq!(f & (flags::KEY_EXCH | flags::SIGN | flags::VERSION), 0);
}

#[test]
fn round_trip_with_mic_and_mech_list_mic() {
    let (mut a, n, c) = start(CLIENT_FLAGS);
    let r = test_client::authenticate(
        &n,
        &c,
        &ClientOptions::new("alice", "OPPORTUNE", "wonderland"),
    );
    let out = a.authenticate(&r.message, &users).unwrap();
    let AuthOutcome::Authenticated {
        user,
        domain,
        session_key,
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!((user.as_str(), domain.as_str()), ("alice", "OPPORTUNE"));
    assert_eq!(session_key, r.exported_session_key);
    assert_eq!(session_key, [0x55; 16]);

    // SPNEGO mechListMIC exchange (client first, then server).
    let mech_types = hex("300c060a2b06010401823702020a");
    let mut cs = ClientSecurity::new(&r);
    let client_mic = cs.send.mac(&mech_types);
    assert!(a.mic_verify(&mech_types, &client_mic));
    let server_mic = a.mic_sign(&mech_types).unwrap();
    assert_eq!(cs.recv.mac(&mech_types), server_mic);
    // Sequence numbers moved on: replaying the first MIC fails.
    assert!(!a.mic_verify(&mech_types, &client_mic));
    assert!(!a.mic_verify(&mech_types, &client_mic[..8]));
}

#[test]
fn round_trip_without_key_exch_or_mic() {
    let client = CLIENT_FLAGS & !flags::KEY_EXCH;
    let (mut a, n, c) = start(client);
    let mut o = ClientOptions::new("User", "Domain", "Password");
    o.with_mic = false;
    let r = test_client::authenticate(&n, &c, &o);
    let out = a.authenticate(&r.message, &users).unwrap();
    let AuthOutcome::Authenticated { session_key, .. } = out else {
        panic!()
    };
    assert_eq!(session_key, r.exported_session_key);
    assert_ne!(session_key, [0x55; 16]);
}

#[test]
fn oem_client() {
    let (mut a, n, c) = start((CLIENT_FLAGS & !flags::UNICODE) | flags::OEM);
    assert_eq!(ntlm_msg::le32(&c, 20).unwrap() & flags::UNICODE, 0);
    let r = test_client::authenticate(
        &n,
        &c,
        &ClientOptions::new("alice", "OPPORTUNE", "wonderland"),
    );
    assert!(matches!(
        a.authenticate(&r.message, &users),
        Ok(AuthOutcome::Authenticated { .. })
    ));
}

#[test]
fn empty_domain_fallback() {
    let (mut a, n, c) = start(CLIENT_FLAGS);
    let mut o = ClientOptions::new("alice", "WORKGROUP", "wonderland");
    o.hash_domain = Some("");
    let r = test_client::authenticate(&n, &c, &o);
    let out = a.authenticate(&r.message, &users).unwrap();
    assert!(matches!(out, AuthOutcome::Authenticated { ref domain, .. } if domain == "WORKGROUP"));
}

#[test]
fn wrong_password_and_unknown_user() {
    let (mut a, n, c) = start(CLIENT_FLAGS);
    let r = test_client::authenticate(
        &n,
        &c,
        &ClientOptions::new("alice", "OPPORTUNE", "Wonderland"),
    );
    assert_eq!(
        a.authenticate(&r.message, &users),
        Err(AuthError::WrongPassword)
    );
    assert_eq!(a.mic_sign(b"x"), None);
    assert!(!a.mic_verify(b"x", &[0; 16]));

    let (mut a, n, c) = start(CLIENT_FLAGS);
    let r = test_client::authenticate(&n, &c, &ClientOptions::new("bob", "OPPORTUNE", "x"));
    assert_eq!(
        a.authenticate(&r.message, &users),
        Ok(AuthOutcome::UnknownUser {
            user: "bob".into(),
            domain: "OPPORTUNE".into()
        })
    );
}

#[test]
fn anonymous() {
    for lm in [vec![], vec![0u8]] {
        let (mut a, _, _) = start(CLIENT_FLAGS);
        let msg = assemble(CLIENT_FLAGS, &[lm, vec![], vec![], vec![], vec![], vec![]]);
        assert_eq!(a.authenticate(&msg, &users), Ok(AuthOutcome::Anonymous));
    }
}

#[test]
fn refuses_ntlmv1_and_lm_only() {
    let u = |s: &str| crate::ntlm_msg::utf16le(s);
    let (mut a, _, _) = start(CLIENT_FLAGS);
    let v1 = assemble(
        CLIENT_FLAGS,
        &[vec![1; 24], vec![2; 24], u("D"), u("alice"), vec![], vec![]],
    );
    assert_eq!(
        a.authenticate(&v1, &users),
        Err(AuthError::Unsupported("NTLMv1 response"))
    );
    let (mut a, _, _) = start(CLIENT_FLAGS);
    let lm = assemble(
        CLIENT_FLAGS,
        &[vec![1; 24], vec![], u("D"), u("alice"), vec![], vec![]],
    );
    assert_eq!(
        a.authenticate(&lm, &users),
        Err(AuthError::Unsupported("LM-only response"))
    );
}

#[test]
fn tampering_breaks_the_mic() {
    let (mut a, n, c) = start(CLIENT_FLAGS);
    let r = test_client::authenticate(
        &n,
        &c,
        &ClientOptions::new("alice", "OPPORTUNE", "wonderland"),
    );
    // Strip SIGN from the AUTHENTICATE flags (a downgrade attempt).
    let mut m = r.message.clone();
    m[60] &= !(flags::SIGN as u8);
    assert_eq!(a.authenticate(&m, &users), Err(AuthError::BadMic));

    let (mut a, n, c) = start(CLIENT_FLAGS);
    let r = test_client::authenticate(
        &n,
        &c,
        &ClientOptions::new("alice", "OPPORTUNE", "wonderland"),
    );
    let mut m = r.message.clone();
    m[80] ^= 1;
    assert_eq!(a.authenticate(&m, &users), Err(AuthError::BadMic));
}

#[test]
fn call_order() {
    let mut a = acceptor();
    assert!(matches!(
        a.authenticate(b"NTLMSSP\0", &users),
        Err(AuthError::State(_))
    ));
    let n = test_client::negotiate(CLIENT_FLAGS);
    let c = a.challenge(&n).unwrap();
    assert!(matches!(a.challenge(&n), Err(AuthError::State(_))));
    let r = test_client::authenticate(
        &n,
        &c,
        &ClientOptions::new("alice", "OPPORTUNE", "wonderland"),
    );
    assert!(a.authenticate(&r.message, &users).is_ok());
    assert!(matches!(
        a.authenticate(&r.message, &users),
        Err(AuthError::State(_))
    ));
}

/// xorshift64*: deterministic pseudo-random bytes for robustness tests.
pub(crate) fn rand_bytes(seed: &mut u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *seed ^= *seed >> 12;
            *seed ^= *seed << 25;
            *seed ^= *seed >> 27;
            (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn hostile_input_never_panics() {
    let (_, n, c) = start(CLIENT_FLAGS);
    let r = test_client::authenticate(
        &n,
        &c,
        &ClientOptions::new("alice", "OPPORTUNE", "wonderland"),
    );
    for len in 0..=n.len() {
        let _ = acceptor().challenge(&n[..len]);
    }
    for len in 0..r.message.len() {
        let (mut a, _, _) = start(CLIENT_FLAGS);
        assert!(a.authenticate(&r.message[..len], &users).is_err() || len >= 88);
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..3000 {
        let (mut a, _, _) = start(CLIENT_FLAGS);
        let mut m = r.message.clone();
        // Corrupt a few bytes, biased towards the header's length/offset fields.
        for b in rand_bytes(&mut seed, 3 + i % 5).chunks(2) {
            if let [pos, val] = b {
                let idx = if i % 2 == 0 {
                    usize::from(*pos) % 88
                } else {
                    usize::from(*pos) * m.len() / 256
                };
                m[idx] = *val;
            }
        }
        let _ = a.authenticate(&m, &users);
        let _ = a.mic_sign(b"x");
        let mut junk = b"NTLMSSP\0\x03\0\0\0".to_vec();
        junk.extend(rand_bytes(&mut seed, i % 200));
        let (mut a, _, _) = start(CLIENT_FLAGS);
        let _ = a.authenticate(&junk, &users);
        let _ = acceptor().challenge(&rand_bytes(&mut seed, i % 64));
    }
}
