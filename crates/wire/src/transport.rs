//! Direct TCP transport framing (MS-SMB2 2.1): a zero byte, then a 24-bit big-endian length.
//! Also recognises the SMB1 NEGOTIATE that offers SMB2 dialects (MS-SMB2 3.3.5.3.1).

use crate::cursor::Reader;

/// Largest frame the server accepts: the advertised maximum plus headroom for headers and compounding.
pub const MAX_FRAME: usize = 8 * 1024 * 1024 + 64 * 1024;

/// The payload length from a 4-byte transport header, or None if the first byte is not zero.
pub fn frame_length(head: [u8; 4]) -> Option<usize> {
    if head[0] != 0 {
        return None;
    }
    Some(usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]))
}

/// The largest payload the 24-bit length of a direct-TCP header can describe.
pub const FRAME_LENGTH_LIMIT: usize = 0x00FF_FFFF;

/// The 4-byte transport header of a `len`-byte payload; None when the length does not fit
/// in 24 bits (such a message cannot be sent: writing a wrapped length would desynchronise
/// the stream).
pub fn frame_header(len: usize) -> Option<[u8; 4]> {
    if len > FRAME_LENGTH_LIMIT {
        return None;
    }
    let l = len as u32;
    Some([0, (l >> 16) as u8, (l >> 8) as u8, l as u8])
}

/// What an SMB1 NEGOTIATE (command 0x72) asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Smb1Negotiate {
    /// Offers "SMB 2.???": answer with an SMB2 NEGOTIATE response of dialect 0x02FF.
    Wildcard,
    /// Offers only "SMB 2.002": answer with dialect 0x0202.
    Smb202,
    /// No SMB2 dialect: not served.
    NoSmb2,
}

/// Parses an SMB1 message; None if it is not an SMB1 NEGOTIATE.
pub fn parse_smb1_negotiate(msg: &[u8]) -> Option<Smb1Negotiate> {
    let mut r = Reader::new(msg, 0);
    if r.bytes(4).ok()? != [0xFF, b'S', b'M', b'B'] || r.u8().ok()? != 0x72 {
        return None;
    }
    r.skip(27).ok()?;
    let wct = r.u8().ok()?;
    r.skip(usize::from(wct) * 2).ok()?;
    let bcc = usize::from(r.u16().ok()?);
    let data = r.bytes(bcc).ok()?;
    let mut best = Smb1Negotiate::NoSmb2;
    for d in data.split(|&b| b == 0) {
        let name = d.strip_prefix(&[0x02]).unwrap_or(d);
        if name == b"SMB 2.???" {
            best = Smb1Negotiate::Wildcard;
        } else if name == b"SMB 2.002" && best == Smb1Negotiate::NoSmb2 {
            best = Smb1Negotiate::Smb202;
        }
    }
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        assert_eq!(frame_length([0, 1, 2, 3]), Some(0x010203));
        assert_eq!(frame_length([0x85, 0, 0, 0]), None);
        assert_eq!(frame_header(70000).and_then(frame_length), Some(70000));
        assert_eq!(frame_header(FRAME_LENGTH_LIMIT).and_then(frame_length), Some(FRAME_LENGTH_LIMIT));
        assert_eq!(frame_header(FRAME_LENGTH_LIMIT + 1), None, "a 24-bit length never wraps");
        assert_eq!(frame_header(256 << 20), None);
    }

    #[test]
    fn smb1_negotiate() {
        let mut m = vec![0xFF, b'S', b'M', b'B', 0x72];
        m.extend_from_slice(&[0; 27]);
        m.push(0);
        let dialects = b"\x02NT LM 0.12\0\x02SMB 2.002\0\x02SMB 2.???\0";
        m.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
        m.extend_from_slice(dialects);
        assert_eq!(parse_smb1_negotiate(&m), Some(Smb1Negotiate::Wildcard));
        for len in 0..m.len() {
            let _ = parse_smb1_negotiate(&m[..len]);
        }
    }
}
