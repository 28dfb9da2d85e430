//! Access control lists (MS-DTYP 2.4.5): AclRevision (2, or 4 when object ACEs may
//! appear), Sbz1, AclSize, AceCount, Sbz2, then AceCount ACEs inside AclSize.

use crate::ace::Ace;
use opportune_types::NtStatus;

pub const ACL_REVISION: u8 = 2;
pub const ACL_REVISION_DS: u8 = 4;
/// AceCount is a u16, and so is AclSize: no ACL holds more than this.
pub const MAX_ACL_SIZE: usize = u16::MAX as usize;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Acl {
    pub revision: u8,
    pub aces: Vec<Ace>,
}

impl Default for Acl {
    fn default() -> Acl {
        Acl { revision: ACL_REVISION, aces: Vec::new() }
    }
}

impl Acl {
    pub fn new(aces: Vec<Ace>) -> Acl {
        Acl { revision: ACL_REVISION, aces }
    }

    /// Parses the ACL at the start of `b` (which may be longer). A bad revision, an
    /// AclSize beyond `b` or below the header, or ACEs beyond AclSize is
    /// STATUS_INVALID_ACL.
    pub fn parse(b: &[u8]) -> Result<Acl, NtStatus> {
        let bad = NtStatus::INVALID_ACL;
        let h = b.get(..8).ok_or(bad)?;
        let revision = h[0];
        // Revision 3 (ACL_REVISION3, used by smbcacls) lies between the two named ones.
        if !(ACL_REVISION..=ACL_REVISION_DS).contains(&revision) {
            return Err(bad);
        }
        let size = usize::from(u16::from_le_bytes([h[2], h[3]]));
        let count = usize::from(u16::from_le_bytes([h[4], h[5]]));
        let body = b.get(8..size.max(8)).filter(|_| size >= 8).ok_or(bad)?;
        // Each ACE takes at least 4 bytes: a count that cannot fit is refused before
        // anything is allocated for it.
        if count > body.len() / 4 {
            return Err(bad);
        }
        let mut aces = Vec::with_capacity(count);
        let mut at = 0;
        for _ in 0..count {
            let (ace, len) = Ace::parse(&body[at..])?;
            aces.push(ace);
            at += len;
        }
        Ok(Acl { revision, aces })
    }

    pub fn encoded_len(&self) -> usize {
        8 + self.aces.iter().map(Ace::encoded_len).sum::<usize>()
    }

    /// The encoding; None when it would exceed [`MAX_ACL_SIZE`].
    pub fn encode(&self, out: &mut Vec<u8>) -> Option<()> {
        let size = self.encoded_len();
        if size > MAX_ACL_SIZE {
            return None;
        }
        out.push(self.revision);
        out.push(0);
        out.extend_from_slice(&(size as u16).to_le_bytes());
        out.extend_from_slice(&(self.aces.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        for a in &self.aces {
            a.encode(out);
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opportune_types::sid::well_known;

    #[test]
    fn round_trip_and_bounds() {
        let acl = Acl::new(vec![Ace::allowed(well_known::everyone(), 1, 0), Ace::denied(well_known::administrators(), 2, 3)]);
        let mut b = Vec::new();
        acl.encode(&mut b).unwrap();
        assert_eq!(b.len(), acl.encoded_len());
        assert_eq!(Acl::parse(&b).unwrap(), acl);
        // AceCount one more than there is.
        let mut more = b.clone();
        more[4] = 3;
        assert_eq!(Acl::parse(&more), Err(NtStatus::INVALID_ACL));
        // AclSize beyond the buffer, below the header, bad revision.
        let mut big = b.clone();
        big[2] = 0xFF;
        assert!(Acl::parse(&big).is_err());
        let mut small = b.clone();
        small[2] = 4;
        small[3] = 0;
        assert!(Acl::parse(&small).is_err());
        let mut rev = b;
        rev[0] = 5;
        assert!(Acl::parse(&rev).is_err());
        // A huge count in a tiny ACL.
        assert!(Acl::parse(&[2, 0, 8, 0, 0xFF, 0xFF, 0, 0]).is_err());
        assert_eq!(Acl::parse(&[2, 0, 8, 0, 0, 0, 0, 0]).unwrap(), Acl::default());
    }
}
