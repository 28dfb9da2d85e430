//! Security identifiers (MS-DTYP 2.4.2): the string form `S-1-5-32-544` (2.4.2.1) and
//! the binary form stored in security descriptors and ACEs (2.4.2.2). RPC's NDR form
//! (RPC_SID, 2.4.2.3) lives with the NDR codec in `opportune-rpc`.

/// Sub-authorities a SID may have (MS-DTYP 2.4.2: SubAuthorityCount at most 15).
pub const MAX_SUB_AUTHORITIES: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    /// IdentifierAuthority, 48 bits.
    pub authority: u64,
    pub sub: Vec<u32>,
}

/// Well-known SIDs (MS-DTYP 2.4.2.4).
pub mod well_known {
    use super::Sid;
    /// Everyone, S-1-1-0.
    pub fn everyone() -> Sid {
        Sid::new(1, &[0])
    }
    /// CREATOR OWNER, S-1-3-0: replaced by the creator's SID when inherited.
    pub fn creator_owner() -> Sid {
        Sid::new(3, &[0])
    }
    /// CREATOR GROUP, S-1-3-1.
    pub fn creator_group() -> Sid {
        Sid::new(3, &[1])
    }
    /// OWNER RIGHTS, S-1-3-4: an ACE for it replaces the owner's implicit rights.
    pub fn owner_rights() -> Sid {
        Sid::new(3, &[4])
    }
    /// NT AUTHORITY\NETWORK, S-1-5-2.
    pub fn network() -> Sid {
        Sid::new(5, &[2])
    }
    /// NT AUTHORITY\ANONYMOUS LOGON, S-1-5-7.
    pub fn anonymous() -> Sid {
        Sid::new(5, &[7])
    }
    /// NT AUTHORITY\Authenticated Users, S-1-5-11.
    pub fn authenticated_users() -> Sid {
        Sid::new(5, &[11])
    }
    /// NT AUTHORITY\SYSTEM, S-1-5-18.
    pub fn local_system() -> Sid {
        Sid::new(5, &[18])
    }
    /// BUILTIN\Administrators, S-1-5-32-544.
    pub fn administrators() -> Sid {
        Sid::new(5, &[32, 544])
    }
    /// BUILTIN\Users, S-1-5-32-545.
    pub fn builtin_users() -> Sid {
        Sid::new(5, &[32, 545])
    }
    /// BUILTIN\Guests, S-1-5-32-546.
    pub fn builtin_guests() -> Sid {
        Sid::new(5, &[32, 546])
    }
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

    /// Length of the binary form: 8 bytes and 4 per sub-authority.
    pub fn binary_len(&self) -> usize {
        8 + 4 * self.sub.len()
    }

    /// MS-DTYP 2.4.2.2: Revision 1, SubAuthorityCount, the 6-byte big-endian
    /// IdentifierAuthority, the sub-authorities little-endian.
    pub fn write_binary(&self, out: &mut Vec<u8>) {
        out.push(1);
        out.push(self.sub.len() as u8);
        out.extend_from_slice(&self.authority.to_be_bytes()[2..]);
        for s in &self.sub {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }

    pub fn to_binary(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.binary_len());
        self.write_binary(&mut v);
        v
    }

    /// The binary form at the start of `b`, and the bytes it took. None when `b` is
    /// short, the revision is not 1 or the count exceeds 15.
    pub fn read_binary(b: &[u8]) -> Option<(Sid, usize)> {
        let (&rev, rest) = b.split_first()?;
        let (&n, rest) = rest.split_first()?;
        let n = usize::from(n);
        if rev != 1 || n > MAX_SUB_AUTHORITIES || rest.len() < 6 + 4 * n {
            return None;
        }
        let mut a = [0u8; 8];
        a[2..].copy_from_slice(&rest[..6]);
        let sub = rest[6..6 + 4 * n].chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Some((Sid { authority: u64::from_be_bytes(a), sub }, 8 + 4 * n))
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
    fn binary_round_trip_and_checks() {
        let sid = Sid::parse("S-1-5-21-10-20-30-1001").unwrap();
        let b = sid.to_binary();
        assert_eq!(b.len(), sid.binary_len());
        assert_eq!(&b[..8], &[1, 5, 0, 0, 0, 0, 0, 5]);
        assert_eq!(Sid::read_binary(&b), Some((sid.clone(), b.len())));
        assert!(Sid::read_binary(&b[..b.len() - 1]).is_none());
        let mut bad = b.clone();
        bad[0] = 2;
        assert!(Sid::read_binary(&bad).is_none());
        let mut bad = b;
        bad[1] = 16;
        assert!(Sid::read_binary(&bad).is_none());
        assert_eq!(well_known::administrators().to_string(), "S-1-5-32-544");
    }

    #[test]
    fn rids() {
        let d = Sid::parse("S-1-5-21-1-2-3").unwrap();
        let u = d.with_rid(1000).unwrap();
        assert_eq!(u.split_rid(), Some((d, 1000)));
    }
}
