//! The minimal subset of ASN.1 DER (ITU-T X.690) that SPNEGO tokens use:
//! single-byte tags, definite lengths up to 4 length octets. The reader is
//! bounds-checked throughout and never recurses on its own.

use crate::AuthError;

/// Largest content we accept; far above any real SPNEGO token (SMB2 caps the
/// security buffer at 64 KiB) while keeping arithmetic trivially in range.
const MAX_LEN: usize = 1 << 24;

/// One element: its tag, its content octets and its whole encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    /// Tag, length and content octets exactly as received.
    pub raw: &'a [u8],
}

/// Reads consecutive elements from a buffer.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Reads the next element (X.690 8.1.2 identifier, 8.1.3 definite
    /// length). Multi-byte tags and the indefinite form are refused.
    pub fn read(&mut self) -> Result<Tlv<'a>, AuthError> {
        let (&tag, rest) = self
            .buf
            .split_first()
            .ok_or(AuthError::Malformed("DER: missing tag"))?;
        if tag & 0x1f == 0x1f {
            return Err(AuthError::Malformed("DER: multi-byte tag"));
        }
        let (&first, mut rest) = rest
            .split_first()
            .ok_or(AuthError::Malformed("DER: missing length"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err(AuthError::Malformed("DER: unsupported length form"));
            }
            let octets = rest
                .get(..n)
                .ok_or(AuthError::Malformed("DER: truncated length"))?;
            rest = rest
                .get(n..)
                .ok_or(AuthError::Malformed("DER: truncated length"))?;
            octets
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        if len > MAX_LEN {
            return Err(AuthError::Malformed("DER: length too large"));
        }
        let content = rest
            .get(..len)
            .ok_or(AuthError::Malformed("DER: truncated content"))?;
        let header_len = self.buf.len() - rest.len();
        let total = header_len + len;
        let raw = self
            .buf
            .get(..total)
            .ok_or(AuthError::Malformed("DER: truncated content"))?;
        self.buf = self.buf.get(total..).unwrap_or(&[]);
        Ok(Tlv { tag, content, raw })
    }

    /// Reads the next element and requires its tag to be `tag`.
    pub fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, AuthError> {
        let tlv = self.read()?;
        if tlv.tag != tag {
            return Err(AuthError::Malformed(what));
        }
        Ok(tlv)
    }
}

/// Appends a DER length (X.690 8.1.3, 10.1: shortest form).
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or(&[]);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

/// Encodes one element with the given tag around `content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// Encodes one element around the concatenation of `parts`.
pub(crate) fn tlv_parts(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// ASN.1 tags used by SPNEGO.
pub(crate) mod tag {
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const ENUMERATED: u8 = 0x0a;
    pub const GENERAL_STRING: u8 = 0x1b;
    pub const SEQUENCE: u8 = 0x30;
    /// [APPLICATION 0] constructed: GSS-API InitialContextToken (RFC 2743 3.1).
    pub const APPLICATION_0: u8 = 0x60;
    /// Context-specific constructed tag `[n]`.
    pub const fn ctx(n: u8) -> u8 {
        0xa0 | n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 70000] {
            let content = vec![0x5a; len];
            let enc = tlv(0x04, &content);
            let mut r = Reader::new(&enc);
            let t = r.read().unwrap();
            assert_eq!(t.tag, 0x04);
            assert_eq!(t.content.len(), len);
            assert_eq!(t.raw, &enc[..]);
            assert!(r.is_empty());
        }
        assert_eq!(tlv(4, &[0; 0x80])[..3], [4, 0x81, 0x80]);
        assert_eq!(tlv(4, &[0; 0x100])[..4], [4, 0x82, 1, 0]);
    }

    #[test]
    fn sequence_of_elements() {
        let enc = tlv_parts(0x30, &[&tlv(0x06, &[1, 2]), &tlv(0x04, b"abc")]);
        let mut outer = Reader::new(&enc);
        let seq = outer.expect(0x30, "seq").unwrap();
        let mut inner = Reader::new(seq.content);
        assert_eq!(inner.expect(0x06, "oid").unwrap().content, &[1, 2]);
        assert_eq!(inner.read().unwrap().content, b"abc");
        assert!(inner.read().is_err());
        assert!(Reader::new(&enc).expect(0x31, "x").is_err());
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            &[][..],
            &[0x04],
            &[0x04, 0x80, 0, 0],
            &[0x04, 0x85, 1, 1, 1, 1, 1],
            &[0x04, 0x02, 1],
            &[0x1f, 0x01, 0x00],
            &[0x04, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x04, 0x82, 0x01],
        ] {
            assert!(Reader::new(bad).read().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_prefix_is_safe() {
        let enc = tlv_parts(0x30, &[&tlv(0x04, &[7; 300]), &tlv(0x0a, &[1])]);
        for n in 0..enc.len() {
            let mut r = Reader::new(&enc[..n]);
            while let Ok(t) = r.read() {
                let _ = Reader::new(t.content).read();
            }
        }
    }
}
