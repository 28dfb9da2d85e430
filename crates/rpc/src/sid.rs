//! Security identifiers (MS-DTYP 2.4.2): the string form `S-1-5-32-544`, and RPC_SID
//! in NDR (MS-DTYP 2.4.2.3, a conformant structure whose SubAuthority array's
//! conformance is written first).

use crate::ndr::{NdrError, Reader, Writer};

/// Sub-authorities a SID may have (MS-DTYP 2.4.2: SubAuthorityCount at most 15).
pub const MAX_SUB_AUTHORITIES: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    pub authority: u64,
    pub sub: Vec<u32>,
}

impl Sid {
    pub fn new(authority: u64, sub: &[u32]) -> Sid {
        Sid { authority, sub: sub.to_vec() }
    }

    /// This SID with `rid` appended (a domain's account), if it has room.
    pub fn with_rid(&self, rid: u32) -> Option<Sid> {
        if self.sub.len() >= MAX_SUB_AUTHORITIES {
            return None;
        }
        let mut s = self.clone();
        s.sub.push(rid);
        Some(s)
    }

    /// The SID without its last sub-authority, and that sub-authority.
    pub fn split_rid(&self) -> Option<(Sid, u32)> {
        let (&rid, rest) = self.sub.split_last()?;
        Some((Sid { authority: self.authority, sub: rest.to_vec() }, rid))
    }

    /// MS-DTYP 2.4.2.1: `S-1-` then the authority (decimal below 2^32, else hex) and
    /// the sub-authorities in decimal.
    pub fn parse(s: &str) -> Option<Sid> {
        let rest = s.strip_prefix("S-1-").or_else(|| s.strip_prefix("s-1-"))?;
        let mut parts = rest.split('-');
        let auth = parts.next()?;
        let authority = match auth.strip_prefix("0x").or_else(|| auth.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok()?,
            None => auth.parse().ok()?,
        };
        if authority >= 1 << 48 {
            return None;
        }
        let sub = parts.map(|p| p.parse::<u32>().ok()).collect::<Option<Vec<_>>>()?;
        (sub.len() <= MAX_SUB_AUTHORITIES).then_some(Sid { authority, sub })
    }

    /// RPC_SID: the conformance (SubAuthorityCount), Revision 1, the count, the
    /// 6-byte big-endian authority and the sub-authorities.
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.sub.len() as u32);
        w.u8(1);
        w.u8(self.sub.len() as u8);
        w.bytes(&self.authority.to_be_bytes()[2..]);
        for s in &self.sub {
            w.u32(*s);
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Sid, NdrError> {
        let count = r.conformance(4)?;
        let revision = r.u8()?;
        let n = r.u8()?;
        if revision != 1 || u32::from(n) != count || usize::from(n) > MAX_SUB_AUTHORITIES {
            return Err(NdrError::Bounds);
        }
        let a = r.take(6)?;
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(a);
        let sub = (0..n).map(|_| r.u32()).collect::<Result<Vec<_>, _>>()?;
        Ok(Sid { authority: u64::from_be_bytes(b), sub })
    }
}

impl std::fmt::Display for Sid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.authority < 1 << 32 {
            write!(f, "S-1-{}", self.authority)?;
        } else {
            write!(f, "S-1-0x{:012X}", self.authority)?;
        }
        for s in &self.sub {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_form_round_trips() {
        for s in ["S-1-1-0", "S-1-5-32-544", "S-1-5-21-1-2-3-1000", "S-1-0x123456789ABC-7", "S-1-5"] {
            assert_eq!(Sid::parse(s).unwrap().to_string(), s);
        }
        for bad in ["S-2-1-0", "S-1-", "S-1-5-x", "S-1-5-4294967296", "1-5", "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16"] {
            assert!(Sid::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn ndr_round_trip_and_checks() {
        let sid = Sid::parse("S-1-5-21-10-20-30-1001").unwrap();
        let mut w = Writer::new();
        sid.encode(&mut w);
        assert_eq!(w.buf.len(), 4 + 8 + 4 * 5);
        assert_eq!(Sid::decode(&mut Reader::new(&w.buf)).unwrap(), sid);
        // The count inside disagreeing with the conformance.
        let mut bad = w.buf.clone();
        bad[5] = 4;
        assert!(Sid::decode(&mut Reader::new(&bad)).is_err());
        // Revision 2.
        let mut bad = w.buf.clone();
        bad[4] = 2;
        assert!(Sid::decode(&mut Reader::new(&bad)).is_err());
        assert!(Sid::decode(&mut Reader::new(&w.buf[..w.buf.len() - 1])).is_err());
    }

    #[test]
    fn rids() {
        let d = Sid::parse("S-1-5-21-1-2-3").unwrap();
        let u = d.with_rid(1000).unwrap();
        assert_eq!(u.split_rid(), Some((d, 1000)));
    }
}
