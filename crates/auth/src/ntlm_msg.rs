//! NTLM message encoding and decoding (MS-NLMP 2.2.1 messages, 2.2.2.1
//! AV_PAIR, 2.2.2.5 NEGOTIATE flags, 2.2.2.10 VERSION). Pure byte handling:
//! no cryptography, every offset and length checked.

use crate::AuthError;

/// "NTLMSSP\0" (MS-NLMP 2.2.1.1 Signature).
pub(crate) const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// NEGOTIATE flags (MS-NLMP 2.2.2.5).
pub(crate) mod flags {
    pub const UNICODE: u32 = 0x0000_0001;
    pub const OEM: u32 = 0x0000_0002;
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    pub const SIGN: u32 = 0x0000_0010;
    pub const SEAL: u32 = 0x0000_0020;
    pub const NTLM: u32 = 0x0000_0200;
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    pub const TARGET_INFO: u32 = 0x0080_0000;
    pub const VERSION: u32 = 0x0200_0000;
    pub const NEG_128: u32 = 0x2000_0000;
    pub const KEY_EXCH: u32 = 0x4000_0000;
    pub const NEG_56: u32 = 0x8000_0000;
}

/// AV_PAIR ids (MS-NLMP 2.2.2.1).
pub(crate) mod av {
    pub const EOL: u16 = 0;
    pub const NB_COMPUTER_NAME: u16 = 1;
    pub const NB_DOMAIN_NAME: u16 = 2;
    pub const DNS_COMPUTER_NAME: u16 = 3;
    pub const DNS_DOMAIN_NAME: u16 = 4;
    pub const FLAGS: u16 = 6;
    pub const TIMESTAMP: u16 = 7;
    /// MsvAvFlags bit: the AUTHENTICATE message carries a MIC.
    pub const FLAG_MIC_PRESENT: u32 = 0x0000_0002;
}

/// VERSION (MS-NLMP 2.2.2.10): 10.0 build 20348, NTLMSSP_REVISION_W2K3.
const VERSION: [u8; 8] = [10, 0, 0x7c, 0x4f, 0, 0, 0, 0x0f];

/// Fixed part of the CHALLENGE_MESSAGE including Version (MS-NLMP 2.2.1.2).
const CHALLENGE_HEADER_LEN: usize = 56;
/// Fixed part of the AUTHENTICATE_MESSAGE up to NegotiateFlags.
const AUTH_MIN_LEN: usize = 64;
/// Offset and end of the MIC field in AUTHENTICATE_MESSAGE (2.2.1.3).
pub(crate) const MIC_OFFSET: usize = 72;
pub(crate) const MIC_END: usize = 88;

pub(crate) fn le16(b: &[u8], at: usize) -> Result<u16, AuthError> {
    let s = b
        .get(at..at.wrapping_add(2))
        .ok_or(AuthError::Malformed("NTLM: truncated"))?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

pub(crate) fn le32(b: &[u8], at: usize) -> Result<u32, AuthError> {
    let s = b
        .get(at..at.wrapping_add(4))
        .ok_or(AuthError::Malformed("NTLM: truncated"))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Checks Signature and MessageType (MS-NLMP 2.2.1).
fn check_header(msg: &[u8], msg_type: u32) -> Result<(), AuthError> {
    if msg.get(..8) != Some(&SIGNATURE[..]) {
        return Err(AuthError::Malformed("NTLM: bad signature"));
    }
    if le32(msg, 8)? != msg_type {
        return Err(AuthError::Malformed("NTLM: unexpected message type"));
    }
    Ok(())
}

/// Reads a payload field described by Len/MaxLen/BufferOffset at `at`
/// (MS-NLMP 2.2.1). An empty field yields an empty slice whatever its offset.
fn field(msg: &[u8], at: usize) -> Result<&[u8], AuthError> {
    let len = usize::from(le16(msg, at)?);
    let offset = le32(msg, at + 4)? as usize;
    if len == 0 {
        return Ok(&[]);
    }
    let end = offset
        .checked_add(len)
        .ok_or(AuthError::Malformed("NTLM: field overflow"))?;
    msg.get(offset..end)
        .ok_or(AuthError::Malformed("NTLM: field out of bounds"))
}

pub(crate) fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Decodes a string field: UTF-16LE when UNICODE was negotiated, else the
/// OEM code page, taken here as Latin-1 (MS-NLMP 2.2.1.3).
pub(crate) fn decode_string(bytes: &[u8], unicode: bool) -> Result<String, AuthError> {
    if unicode {
        if !bytes.len().is_multiple_of(2) {
            return Err(AuthError::Malformed("NTLM: odd-length UTF-16 string"));
        }
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).map_err(|_| AuthError::Malformed("NTLM: invalid UTF-16 string"))
    } else {
        Ok(bytes.iter().map(|&b| char::from(b)).collect())
    }
}

/// Parses a NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1) and returns its
/// NegotiateFlags. Domain and workstation fields are informational and
/// ignored (older clients omit them; 16 bytes are enough).
pub(crate) fn parse_negotiate(msg: &[u8]) -> Result<u32, AuthError> {
    check_header(msg, 1)?;
    le32(msg, 12)
}

fn push_av(out: &mut Vec<u8>, id: u16, value: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    // Values are names bounded by the caller; clamp rather than wrap.
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(value.get(..usize::from(len)).unwrap_or(value));
}

/// Builds the server's TargetInfo AV pairs (MS-NLMP 2.2.1.2, 3.2.5.1.1):
/// NetBIOS domain and computer names, DNS domain and computer names,
/// timestamp, EOL.
pub(crate) fn build_target_info(
    nb_computer: &str,
    nb_domain: &str,
    dns_computer: &str,
    dns_domain: &str,
    timestamp: u64,
) -> Vec<u8> {
    let mut out = Vec::new();
    push_av(&mut out, av::NB_DOMAIN_NAME, &utf16le(nb_domain));
    push_av(&mut out, av::NB_COMPUTER_NAME, &utf16le(nb_computer));
    push_av(&mut out, av::DNS_DOMAIN_NAME, &utf16le(dns_domain));
    push_av(&mut out, av::DNS_COMPUTER_NAME, &utf16le(dns_computer));
    push_av(&mut out, av::TIMESTAMP, &timestamp.to_le_bytes());
    push_av(&mut out, av::EOL, &[]);
    out
}

/// Builds a CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2): header, Version, then
/// TargetName and TargetInfo in the payload.
pub(crate) fn build_challenge(
    flags: u32,
    server_challenge: &[u8; 8],
    target_name: &[u8],
    target_info: &[u8],
) -> Vec<u8> {
    let name_len = u16::try_from(target_name.len()).unwrap_or(0);
    let name = target_name.get(..usize::from(name_len)).unwrap_or(&[]);
    let info_len = u16::try_from(target_info.len()).unwrap_or(0);
    let info = target_info.get(..usize::from(info_len)).unwrap_or(&[]);
    let name_off = CHALLENGE_HEADER_LEN as u32;
    let info_off = name_off + u32::from(name_len);

    let mut m = Vec::with_capacity(CHALLENGE_HEADER_LEN + name.len() + info.len());
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&name_len.to_le_bytes());
    m.extend_from_slice(&name_len.to_le_bytes());
    m.extend_from_slice(&name_off.to_le_bytes());
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(server_challenge);
    m.extend_from_slice(&[0u8; 8]);
    m.extend_from_slice(&info_len.to_le_bytes());
    m.extend_from_slice(&info_len.to_le_bytes());
    m.extend_from_slice(&info_off.to_le_bytes());
    if flags & flags::VERSION != 0 {
        m.extend_from_slice(&VERSION);
    } else {
        m.extend_from_slice(&[0u8; 8]);
    }
    m.extend_from_slice(name);
    m.extend_from_slice(info);
    m
}

/// The fields of an AUTHENTICATE_MESSAGE the acceptor needs
/// (MS-NLMP 2.2.1.3).
pub(crate) struct Authenticate<'a> {
    pub lm_response: &'a [u8],
    pub nt_response: &'a [u8],
    pub domain: String,
    pub user: String,
    pub encrypted_session_key: &'a [u8],
    pub flags: u32,
}

/// Parses an AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3).
pub(crate) fn parse_authenticate(msg: &[u8]) -> Result<Authenticate<'_>, AuthError> {
    check_header(msg, 3)?;
    if msg.len() < AUTH_MIN_LEN {
        return Err(AuthError::Malformed("NTLM: AUTHENTICATE too short"));
    }
    let flags = le32(msg, 60)?;
    let unicode = flags & flags::UNICODE != 0;
    Ok(Authenticate {
        lm_response: field(msg, 12)?,
        nt_response: field(msg, 20)?,
        domain: decode_string(field(msg, 28)?, unicode)?,
        user: decode_string(field(msg, 36)?, unicode)?,
        encrypted_session_key: field(msg, 52)?,
        flags,
    })
}

/// Walks AV pairs (MS-NLMP 2.2.2.1) up to MsvAvEOL and returns the
/// MsvAvFlags value (0 if absent). Bytes after EOL are ignored (clients pad
/// the NTLMv2 blob with zeros).
pub(crate) fn av_flags(mut pairs: &[u8]) -> Result<u32, AuthError> {
    let mut out = 0;
    loop {
        let id = le16(pairs, 0)?;
        let len = usize::from(le16(pairs, 2)?);
        let value = pairs
            .get(4..4 + len)
            .ok_or(AuthError::Malformed("NTLM: truncated AV pair"))?;
        match id {
            av::EOL => return Ok(out),
            av::FLAGS => out = le32(value, 0)?,
            _ => {}
        }
        pairs = pairs.get(4 + len..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_layout() {
        let info = build_target_info("SRV", "DOM", "srv.example", "example", 0x0102030405060708);
        let m = build_challenge(
            flags::UNICODE | flags::VERSION,
            &[9; 8],
            &utf16le("DOM"),
            &info,
        );
        assert_eq!(&m[..8], SIGNATURE);
        assert_eq!(le32(&m, 8).unwrap(), 2);
        assert_eq!(field(&m, 12).unwrap(), &utf16le("DOM")[..]);
        assert_eq!(le32(&m, 20).unwrap(), flags::UNICODE | flags::VERSION);
        assert_eq!(&m[24..32], &[9; 8]);
        assert_eq!(field(&m, 40).unwrap(), &info[..]);
        assert_eq!(m[48..56], VERSION);
        assert_eq!(av_flags(&info).unwrap(), 0);
        // Timestamp pair precedes EOL.
        assert_eq!(
            &info[info.len() - 16..],
            &[7, 0, 8, 0, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0]
        );
    }

    #[test]
    fn av_flags_found_and_truncation() {
        let mut p = Vec::new();
        push_av(&mut p, av::NB_COMPUTER_NAME, b"x\0");
        push_av(&mut p, av::FLAGS, &2u32.to_le_bytes());
        push_av(&mut p, av::EOL, &[]);
        assert_eq!(av_flags(&p).unwrap(), 2);
        for n in 0..p.len() {
            assert!(av_flags(&p[..n]).is_err());
        }
    }

    #[test]
    fn strings() {
        assert_eq!(decode_string(&utf16le("Üser"), true).unwrap(), "Üser");
        assert!(decode_string(&[0x41], true).is_err());
        assert!(decode_string(&[0x00, 0xd8], true).is_err());
        assert_eq!(decode_string(b"Dom\xe9", false).unwrap(), "Dom\u{e9}");
    }

    #[test]
    fn negotiate_and_field_bounds() {
        let mut n = SIGNATURE.to_vec();
        n.extend_from_slice(&1u32.to_le_bytes());
        n.extend_from_slice(&0xe2088297u32.to_le_bytes());
        assert_eq!(parse_negotiate(&n).unwrap(), 0xe2088297);
        for k in 0..n.len() {
            assert!(parse_negotiate(&n[..k]).is_err());
        }
        let mut bad = n.clone();
        bad[8] = 3;
        assert!(parse_negotiate(&bad).is_err());
        // Field pointing past the end, and one overflowing u32 offset.
        let mut f = vec![0u8; 16];
        f[0] = 4;
        f[4..8].copy_from_slice(&14u32.to_le_bytes());
        assert!(field(&f, 0).is_err());
        f[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(field(&f, 0).is_err());
        f[0] = 0;
        assert_eq!(field(&f, 0).unwrap(), &[] as &[u8]);
    }
}
