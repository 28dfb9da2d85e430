//! SPNEGO tests: Windows traffic from Microsoft's published SMB 3.1.1
//! example (Open Specifications blog, "SMB 2 and SMB 3 security in
//! Windows 10: the anatomy of signing and cryptographic keys"), builder /
//! parser round trips, and robustness.

use super::*;
use crate::hex;
use crate::ntlm::tests::rand_bytes;

/// SESSION_SETUP request 1 (negTokenInit with NTLM NEGOTIATE).
const SS_REQ1: &str =
    "FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000
    00000000000000000000000000000000000000000000000019000001010000000000000058004A00
    0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A
    04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000
    000F";
/// SESSION_SETUP response 1 (negTokenResp with NTLM CHALLENGE).
const SS_RESP1: &str =
    "FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000
    190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003
    0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038
    00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53
    005500540033003100310002000C0053005500540033003100310001000C00530055005400330031
    00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1
    A1F5ADCBAED00100000000";
/// SESSION_SETUP request 2 (negTokenResp with NTLM AUTHENTICATE + mechListMIC).
const SS_REQ2: &str =
    "FE534D4240000100000000000100800000000000000000000300000000000000FFFE000000000000
    1900000000100000000000000000000000000000000000001900000101000000000000005800CF01
    0000000000000000A18201CB308201C7A0030A0101A28201AA048201A64E544C4D53535000030000
    001800180090000000EE00EE00A80000000C000C00580000001A001A0064000000120012007E0000
    001000100096010000158288E2060380250000000FECAC77A5F385A8BF9C38C706EEEDDCD3530055
    005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049
    0056004500520033003100310000000000000000000000000000000000000000000000000063078E
    B639FE03E20A231C3AE3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F000000
    0002000C0053005500540033003100310001000C0053005500540033003100310004000C00530055
    00540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001060004
    00020000000800300030000000000000000000000000300000B61FEFCAA857EA57BF1EDCEBF8974B
    8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016
    0063006900660073002F005300550054003300310031000000000000000000000000003B9BDFF38F
    5EE8F9663F11A0F4C03A78A31204100100000063775A9A5FD97F0600000000";
/// SESSION_SETUP response 2 (accept-completed with mechListMIC).
const SS_RESP2: &str =
    "FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000
    1900000000100000EBE146DA120BA25FC3376A49DFE31BC10900000048001D00A11B3019A0030A01
    00A3120410010000003B453CDC3524164200000000";

fn le16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// SecurityBuffer of a SESSION_SETUP request (MS-SMB2 2.2.5).
fn req_buffer(pkt: &str) -> Vec<u8> {
    let p = hex(pkt);
    let (off, len) = (le16(&p, 64 + 12), le16(&p, 64 + 14));
    p[off..off + len].to_vec()
}

/// SecurityBuffer of a SESSION_SETUP response (MS-SMB2 2.2.6).
fn resp_buffer(pkt: &str) -> Vec<u8> {
    let p = hex(pkt);
    let (off, len) = (le16(&p, 64 + 4), le16(&p, 64 + 6));
    p[off..off + len].to_vec()
}

const NTLM_MECH_TYPES: &str = "300C060A2B06010401823702020A";

#[test]
fn windows_neg_token_init() {
    let t = parse_client_token(&req_buffer(SS_REQ1)).unwrap();
    assert!(t.spnego && t.ntlm_offered);
    assert_eq!(t.mech_types_der, Some(hex(NTLM_MECH_TYPES)));
    assert_eq!(
        t.ntlm,
        hex("4E544C4D5353500001000000978208E200000000000000000000000000000000060380250000000F")
    );
    assert_eq!(t.mech_list_mic, None);
    // Our acceptor takes that NEGOTIATE.
    let mut a = crate::NtlmAcceptor::new([1; 8], "SRV", "srv", 0);
    assert!(a.challenge(&t.ntlm).is_ok());
}

#[test]
fn windows_neg_token_resp_with_mic() {
    let t = parse_client_token(&req_buffer(SS_REQ2)).unwrap();
    assert!(t.spnego);
    assert_eq!(t.ntlm.len(), 0x1a6);
    assert!(t.ntlm.starts_with(b"NTLMSSP\0\x03\0\0\0"));
    assert_eq!(
        t.mech_list_mic,
        Some(hex("0100000063775A9A5FD97F0600000000"))
    );
    assert_eq!(t.mech_types_der, None);
    // Its NTLMv2 blob announces a MIC (MsvAvFlags 0x2).
    let auth = crate::ntlm_msg::parse_authenticate(&t.ntlm).unwrap();
    assert_eq!(auth.user, "administrator");
    let pairs = &auth.nt_response[16 + 28..];
    assert_eq!(crate::ntlm_msg::av_flags(pairs).unwrap() & 2, 2);
}

#[test]
fn builds_windows_server_responses_byte_for_byte() {
    let resp1 = resp_buffer(SS_RESP1);
    let challenge = parse_client_token(&resp1).unwrap().ntlm; // same layout as a client negTokenResp
    assert!(challenge.starts_with(b"NTLMSSP\0\x02\0\0\0"));
    assert_eq!(
        server_response(NegState::AcceptIncomplete, true, Some(&challenge), None),
        resp1
    );

    let resp2 = resp_buffer(SS_RESP2);
    let mic = hex("010000003B453CDC3524164200000000");
    assert_eq!(
        server_response(NegState::AcceptCompleted, false, None, Some(&mic)),
        resp2
    );
    assert_eq!(
        server_response(NegState::Reject, false, None, None),
        hex("a1073005a0030a0102")
    );
}

#[test]
fn negotiate_hint_layout() {
    // The NegTokenInit2 Windows and Samba servers send, with NTLMSSP only.
    let expected = hex(
        "604806062b0601050502a03e303ca00e300c060a2b06010401823702020a\
         a32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265",
    );
    let h = negotiate_hint();
    assert_eq!(h, expected);
    let t = parse_client_token(&h).unwrap();
    assert_eq!(t.mech_types_der, Some(hex(NTLM_MECH_TYPES)));
    assert!(t.ntlm_offered && t.ntlm.is_empty() && t.mech_list_mic.is_none());
}

fn init_token(mechs: &[&[u8]], token: Option<&[u8]>, mic: Option<&[u8]>, gss: bool) -> Vec<u8> {
    let list: Vec<u8> = mechs.iter().flat_map(|m| tlv(tag::OID, m)).collect();
    let mut fields = tlv(tag::ctx(0), &tlv(tag::SEQUENCE, &list));
    if let Some(t) = token {
        fields.extend(tlv(tag::ctx(2), &tlv(tag::OCTET_STRING, t)));
    }
    if let Some(m) = mic {
        fields.extend(tlv(tag::ctx(3), &tlv(tag::OCTET_STRING, m)));
    }
    let init = tlv(tag::ctx(0), &tlv(tag::SEQUENCE, &fields));
    if gss {
        tlv_parts(tag::APPLICATION_0, &[&tlv(tag::OID, OID_SPNEGO), &init])
    } else {
        init
    }
}

const KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];

#[test]
fn init_variants() {
    let ntlm = b"NTLMSSP\0\x01\0\0\0rest".to_vec();
    // Kerberos preferred with an optimistic Kerberos token: no NTLM token.
    let t = parse_client_token(&init_token(
        &[KRB5, OID_NTLMSSP],
        Some(b"krb-ap-req"),
        None,
        true,
    ))
    .unwrap();
    assert!(t.ntlm_offered && t.ntlm.is_empty());
    // NTLM first: token taken; bare (unwrapped) negTokenInit works too.
    let t = parse_client_token(&init_token(
        &[OID_NTLMSSP, KRB5],
        Some(&ntlm),
        Some(b"mic"),
        false,
    ))
    .unwrap();
    assert_eq!(t.ntlm, ntlm);
    assert_eq!(t.mech_list_mic.as_deref(), Some(&b"mic"[..]));
    // Only Kerberos.
    let t = parse_client_token(&init_token(&[KRB5], Some(b"x"), None, true)).unwrap();
    assert!(!t.ntlm_offered && t.ntlm.is_empty());
    // Raw NTLMSSP.
    let t = parse_client_token(&ntlm).unwrap();
    assert!(!t.spnego && t.ntlm == ntlm && t.ntlm_offered);
    // negTokenResp round trip through our own builder.
    let t = parse_client_token(&server_response(
        NegState::AcceptIncomplete,
        true,
        Some(&ntlm),
        Some(b"m"),
    ))
    .unwrap();
    assert_eq!((t.ntlm, t.mech_list_mic), (ntlm, Some(b"m".to_vec())));
}

#[test]
fn rejects_bad_tokens() {
    assert!(parse_client_token(&[]).is_err());
    assert!(parse_client_token(&[0x30, 0x00]).is_err());
    // Wrong GSS mechanism (Kerberos instead of SPNEGO).
    let bad = tlv_parts(tag::APPLICATION_0, &[&tlv(tag::OID, KRB5), &tlv(0xa0, &[])]);
    assert!(matches!(
        parse_client_token(&bad),
        Err(AuthError::Unsupported(_))
    ));
    // negTokenInit without mechTypes.
    let no_types = tlv(
        tag::ctx(0),
        &tlv(tag::SEQUENCE, &tlv(tag::ctx(2), &tlv(4, b"x"))),
    );
    assert!(parse_client_token(&no_types).is_err());
}

#[test]
fn hostile_tokens_never_panic() {
    let samples = [
        req_buffer(SS_REQ1),
        req_buffer(SS_REQ2),
        resp_buffer(SS_RESP1),
        negotiate_hint(),
        init_token(&[KRB5, OID_NTLMSSP], Some(b"tok"), Some(b"mic"), true),
    ];
    for s in &samples {
        for n in 0..s.len() {
            let _ = parse_client_token(&s[..n]);
        }
    }
    let mut seed = 0x1234_5678_9abc_def1u64;
    for i in 0..5000 {
        let mut s = samples[i % samples.len()].clone();
        for b in rand_bytes(&mut seed, 4).chunks(2) {
            if let [pos, val] = b {
                let idx = usize::from(*pos) * s.len() / 256;
                s[idx] = *val;
            }
        }
        let _ = parse_client_token(&s);
        let mut junk = vec![[0x60u8, 0xa0, 0xa1][i % 3]];
        junk.extend(rand_bytes(&mut seed, i % 100));
        let _ = parse_client_token(&junk);
    }
}
