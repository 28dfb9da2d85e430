//! RPC_SID in NDR (MS-DTYP 2.4.2.3, a conformant structure whose SubAuthority array's
//! conformance is written first). The SID itself is `opportune_types::Sid`.

use crate::ndr::{NdrError, Reader, Writer};
pub use opportune_types::sid::{Sid, MAX_SUB_AUTHORITIES};

/// The NDR form of a SID.
pub trait NdrSid: Sized {
    /// RPC_SID: the conformance (SubAuthorityCount), Revision 1, the count, the
    /// 6-byte big-endian authority and the sub-authorities.
    fn encode(&self, w: &mut Writer);
    fn decode(r: &mut Reader<'_>) -> Result<Self, NdrError>;
}

impl NdrSid for Sid {
    fn encode(&self, w: &mut Writer) {
        w.u32(self.sub.len() as u32);
        w.u8(1);
        w.u8(self.sub.len() as u8);
        w.bytes(&self.authority.to_be_bytes()[2..]);
        for s in &self.sub {
            w.u32(*s);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Sid, NdrError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
