//! SPNEGO tokens for SMB2 SESSION_SETUP (RFC 4178, MS-SPNG): the server's
//! NegTokenInit2 hint, client token parsing, and NegTokenResp building.
//!
//! mechListMIC (RFC 4178 5, MS-SPNG 3.2.5.1): the MIC is the NTLMSSP
//! signature of the DER bytes of the client's MechTypeList
//! ([`ClientToken::mech_types_der`] from the first token). When the client's
//! final negTokenResp carries a mechListMIC, check it with
//! `NtlmAcceptor::mic_verify(mech_types_der, mic)` and answer accept-completed
//! with `NtlmAcceptor::mic_sign(mech_types_der)` as mechListMIC; Samba's
//! client (smbclient) and Windows both send one whenever the NTLM
//! AUTHENTICATE has a MIC, and Samba then requires the server's. If the
//! client sent none, send none.

use crate::AuthError;
use crate::der::{Reader, tag, tlv, tlv_parts};
use crate::ntlm_msg::SIGNATURE;

/// DER content of OID 1.3.6.1.5.5.2 (SPNEGO, RFC 4178).
const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// DER content of OID 1.3.6.1.4.1.311.2.2.10 (NTLMSSP, MS-NLMP 1.9).
const OID_NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
/// negHints hintName Windows uses (MS-SPNG 3.2.5.2).
const HINT_NAME: &[u8] = b"not_defined_in_RFC4178@please_ignore";

/// The NegTokenInit2 (MS-SPNG 2.2.1) the server puts in the NEGOTIATE
/// response SecurityBuffer (MS-SMB2 3.3.5.4), wrapped as a GSS-API
/// InitialContextToken (RFC 2743 3.1): mechTypes = [NTLMSSP], negHints
/// hintName "not_defined_in_RFC4178@please_ignore".
pub fn negotiate_hint() -> Vec<u8> {
    let mech_types = tlv(tag::SEQUENCE, &tlv(tag::OID, OID_NTLMSSP));
    let hints = tlv(
        tag::SEQUENCE,
        &tlv(tag::ctx(0), &tlv(tag::GENERAL_STRING, HINT_NAME)),
    );
    let init2 = tlv_parts(
        tag::SEQUENCE,
        &[&tlv(tag::ctx(0), &mech_types), &tlv(tag::ctx(3), &hints)],
    );
    tlv_parts(
        tag::APPLICATION_0,
        &[&tlv(tag::OID, OID_SPNEGO), &tlv(tag::ctx(0), &init2)],
    )
}

/// What came from the client in a SESSION_SETUP SecurityBuffer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientToken {
    /// The NTLMSSP message. Empty if the client proposed only mechanisms we
    /// do not support, or put NTLMSSP in its list but sent an optimistic
    /// token for another (preferred) mechanism: answer accept-incomplete
    /// with supportedMech NTLMSSP and no token, and the client restarts
    /// with NTLM.
    pub ntlm: Vec<u8>,
    /// False if the client sent raw NTLMSSP (starts with "NTLMSSP\0"):
    /// answer with raw NTLMSSP too.
    pub spnego: bool,
    /// The mechListMIC, if present.
    pub mech_list_mic: Option<Vec<u8>>,
    /// Exact DER bytes (SEQUENCE tag included) of the MechTypeList from a
    /// negTokenInit: what mechListMIC signs. Keep it from the first token.
    pub mech_types_der: Option<Vec<u8>>,
    /// NTLMSSP is in the client's mechTypes (always true for negTokenResp
    /// and raw NTLMSSP, where NTLM is already the mechanism).
    pub ntlm_offered: bool,
}

/// Parses a GSS-API InitialContextToken wrapping a negTokenInit
/// (`0x60 ...`), a bare negTokenInit (`0xa0 ...`), a bare negTokenResp
/// (`0xa1 ...`), or raw NTLMSSP (RFC 4178 4.2, MS-SPNG 2.2).
pub fn parse_client_token(buf: &[u8]) -> Result<ClientToken, AuthError> {
    if buf.starts_with(SIGNATURE) {
        return Ok(ClientToken {
            ntlm: buf.to_vec(),
            spnego: false,
            ntlm_offered: true,
            ..Default::default()
        });
    }
    let outer = Reader::new(buf).read()?;
    match outer.tag {
        tag::APPLICATION_0 => {
            let mut r = Reader::new(outer.content);
            let oid = r.expect(tag::OID, "SPNEGO: missing thisMech")?;
            if oid.content != OID_SPNEGO {
                return Err(AuthError::Unsupported(
                    "GSS-API mechanism other than SPNEGO",
                ));
            }
            let inner = r.read()?;
            match inner.tag {
                t if t == tag::ctx(0) => parse_init(inner.content),
                t if t == tag::ctx(1) => parse_resp(inner.content),
                _ => Err(AuthError::Malformed("SPNEGO: unknown NegotiationToken")),
            }
        }
        t if t == tag::ctx(0) => parse_init(outer.content),
        t if t == tag::ctx(1) => parse_resp(outer.content),
        _ => Err(AuthError::Malformed("not an SPNEGO or NTLMSSP token")),
    }
}

/// NegTokenInit (RFC 4178 4.2.1), also accepting NegTokenInit2's negHints
/// and [4] mechListMIC (MS-SPNG 2.2.1).
fn parse_init(content: &[u8]) -> Result<ClientToken, AuthError> {
    let seq =
        Reader::new(content).expect(tag::SEQUENCE, "SPNEGO: negTokenInit is not a SEQUENCE")?;
    let mut r = Reader::new(seq.content);
    let mut out = ClientToken {
        spnego: true,
        ..Default::default()
    };
    let mut first_is_ntlm = false;
    let mut mech_token: &[u8] = &[];
    while !r.is_empty() {
        let field = r.read()?;
        let mut inner = Reader::new(field.content);
        match field.tag {
            t if t == tag::ctx(0) => {
                let list = inner.expect(tag::SEQUENCE, "SPNEGO: mechTypes is not a SEQUENCE")?;
                out.mech_types_der = Some(list.raw.to_vec());
                let mut mechs = Reader::new(list.content);
                let mut first = true;
                while !mechs.is_empty() {
                    let oid = mechs.expect(tag::OID, "SPNEGO: mechTypes holds a non-OID")?;
                    let is_ntlm = oid.content == OID_NTLMSSP;
                    out.ntlm_offered |= is_ntlm;
                    first_is_ntlm |= first && is_ntlm;
                    first = false;
                }
            }
            t if t == tag::ctx(1) => {} // reqFlags: ignored (RFC 4178 4.2.1)
            t if t == tag::ctx(2) => {
                mech_token = inner
                    .expect(
                        tag::OCTET_STRING,
                        "SPNEGO: mechToken is not an OCTET STRING",
                    )?
                    .content;
            }
            t if t == tag::ctx(3) || t == tag::ctx(4) => {
                // [3] is mechListMIC in NegTokenInit but negHints in
                // NegTokenInit2; [4] is NegTokenInit2's mechListMIC.
                let v = inner.read()?;
                if v.tag == tag::OCTET_STRING {
                    out.mech_list_mic = Some(v.content.to_vec());
                }
            }
            _ => {} // unknown extensions are ignored
        }
    }
    if out.mech_types_der.is_none() {
        return Err(AuthError::Malformed(
            "SPNEGO: negTokenInit without mechTypes",
        ));
    }
    if first_is_ntlm {
        out.ntlm = mech_token.to_vec();
    }
    Ok(out)
}

/// NegTokenResp (RFC 4178 4.2.2).
fn parse_resp(content: &[u8]) -> Result<ClientToken, AuthError> {
    let seq =
        Reader::new(content).expect(tag::SEQUENCE, "SPNEGO: negTokenResp is not a SEQUENCE")?;
    let mut r = Reader::new(seq.content);
    let mut out = ClientToken {
        spnego: true,
        ntlm_offered: true,
        ..Default::default()
    };
    while !r.is_empty() {
        let field = r.read()?;
        let mut inner = Reader::new(field.content);
        match field.tag {
            t if t == tag::ctx(0) => {
                inner.expect(tag::ENUMERATED, "SPNEGO: negState is not ENUMERATED")?;
            }
            t if t == tag::ctx(1) => {
                inner.expect(tag::OID, "SPNEGO: supportedMech is not an OID")?;
            }
            t if t == tag::ctx(2) => {
                out.ntlm = inner
                    .expect(
                        tag::OCTET_STRING,
                        "SPNEGO: responseToken is not an OCTET STRING",
                    )?
                    .content
                    .to_vec();
            }
            t if t == tag::ctx(3) => {
                let mic = inner.expect(
                    tag::OCTET_STRING,
                    "SPNEGO: mechListMIC is not an OCTET STRING",
                )?;
                out.mech_list_mic = Some(mic.content.to_vec());
            }
            _ => {}
        }
    }
    Ok(out)
}

/// negState of a NegTokenResp (RFC 4178 4.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum NegState {
    /// accept-completed
    AcceptCompleted = 0,
    /// accept-incomplete
    AcceptIncomplete = 1,
    /// reject
    Reject = 2,
}

/// Builds a negTokenResp (RFC 4178 4.2.2): negState; supportedMech
/// (NTLMSSP) when `include_mech` (the first reply only); responseToken;
/// mechListMIC.
pub fn server_response(
    state: NegState,
    include_mech: bool,
    token: Option<&[u8]>,
    mech_list_mic: Option<&[u8]>,
) -> Vec<u8> {
    let mut fields = tlv(tag::ctx(0), &tlv(tag::ENUMERATED, &[state as u8]));
    if include_mech {
        fields.extend(tlv(tag::ctx(1), &tlv(tag::OID, OID_NTLMSSP)));
    }
    if let Some(t) = token {
        fields.extend(tlv(tag::ctx(2), &tlv(tag::OCTET_STRING, t)));
    }
    if let Some(m) = mech_list_mic {
        fields.extend(tlv(tag::ctx(3), &tlv(tag::OCTET_STRING, m)));
    }
    tlv(tag::ctx(1), &tlv(tag::SEQUENCE, &fields))
}

#[cfg(test)]
#[path = "spnego_tests.rs"]
mod tests;
