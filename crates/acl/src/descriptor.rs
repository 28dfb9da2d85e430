//! Self-relative security descriptors (MS-DTYP 2.4.6): Revision 1, Sbz1, Control,
//! then the offsets of the owner SID, group SID, SACL and DACL, each 0 when absent.

use crate::acl::Acl;
use opportune_types::{NtStatus, Sid};

/// SECURITY_INFORMATION bits (MS-DTYP 2.4.7) naming the parts of a descriptor.
pub mod info {
    pub const OWNER: u32 = 0x1;
    pub const GROUP: u32 = 0x2;
    pub const DACL: u32 = 0x4;
    pub const SACL: u32 = 0x8;
    /// Owner, group, DACL and SACL.
    pub const ALL: u32 = OWNER | GROUP | DACL | SACL;
}

/// Control bits (MS-DTYP 2.4.6).
pub mod control {
    pub const OWNER_DEFAULTED: u16 = 0x0001;
    pub const GROUP_DEFAULTED: u16 = 0x0002;
    pub const DACL_PRESENT: u16 = 0x0004;
    pub const DACL_DEFAULTED: u16 = 0x0008;
    pub const SACL_PRESENT: u16 = 0x0010;
    pub const SACL_DEFAULTED: u16 = 0x0020;
    pub const DACL_AUTO_INHERIT_REQ: u16 = 0x0100;
    pub const SACL_AUTO_INHERIT_REQ: u16 = 0x0200;
    pub const DACL_AUTO_INHERITED: u16 = 0x0400;
    pub const SACL_AUTO_INHERITED: u16 = 0x0800;
    pub const DACL_PROTECTED: u16 = 0x1000;
    pub const SACL_PROTECTED: u16 = 0x2000;
    pub const SELF_RELATIVE: u16 = 0x8000;
    /// The bits that belong to the DACL, and those that belong to the SACL.
    pub const DACL_BITS: u16 = DACL_PRESENT | DACL_DEFAULTED | DACL_AUTO_INHERIT_REQ | DACL_AUTO_INHERITED | DACL_PROTECTED;
    pub const SACL_BITS: u16 = SACL_PRESENT | SACL_DEFAULTED | SACL_AUTO_INHERIT_REQ | SACL_AUTO_INHERITED | SACL_PROTECTED;
}

const HEADER: usize = 20;

/// A descriptor with its parts parsed. `dacl == None` with DACL_PRESENT set is a
/// NULL DACL (everyone is granted everything, MS-DTYP 2.5.3.2); without the bit
/// there is no DACL at all, which AccessCheck treats the same way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecurityDescriptor {
    pub control: u16,
    pub owner: Option<Sid>,
    pub group: Option<Sid>,
    pub sacl: Option<Acl>,
    pub dacl: Option<Acl>,
}

impl SecurityDescriptor {
    /// Parses and validates a self-relative descriptor. Offsets that point into the
    /// header or past the buffer, and a revision other than 1, are
    /// STATUS_INVALID_SECURITY_DESCR; a malformed SID is STATUS_INVALID_SID; a
    /// malformed ACL STATUS_INVALID_ACL.
    pub fn parse(sd: &[u8]) -> Result<SecurityDescriptor, NtStatus> {
        let bad = NtStatus::INVALID_SECURITY_DESCR;
        if sd.len() < HEADER || sd[0] != 1 {
            return Err(bad);
        }
        let ctl = u16::from_le_bytes([sd[2], sd[3]]);
        let off = |i: usize| u32::from_le_bytes([sd[i], sd[i + 1], sd[i + 2], sd[i + 3]]) as usize;
        let at = |o: usize| -> Result<Option<&[u8]>, NtStatus> {
            match o {
                0 => Ok(None),
                o if o < HEADER || o >= sd.len() => Err(bad),
                o => Ok(Some(&sd[o..])),
            }
        };
        let sid = |o: usize| -> Result<Option<Sid>, NtStatus> {
            match at(o)? {
                None => Ok(None),
                Some(b) => Sid::read_binary(b).map(|(s, _)| Some(s)).ok_or(NtStatus::INVALID_SID),
            }
        };
        let acl = |o: usize, present: bool| -> Result<Option<Acl>, NtStatus> {
            match at(o)? {
                Some(b) if present => Acl::parse(b).map(Some),
                _ => Ok(None),
            }
        };
        Ok(SecurityDescriptor {
            control: ctl,
            owner: sid(off(4))?,
            group: sid(off(8))?,
            sacl: acl(off(12), ctl & control::SACL_PRESENT != 0)?,
            dacl: acl(off(16), ctl & control::DACL_PRESENT != 0)?,
        })
    }

    /// Whether the DACL is NULL or missing: nothing restricts access.
    pub fn is_null_dacl(&self) -> bool {
        self.dacl.is_none()
    }

    /// The self-relative encoding of the parts `parts` (bits of [`info`]) names.
    /// None when an ACL is too large to encode.
    pub fn encode(&self, parts: u32) -> Option<Vec<u8>> {
        let want = |bit: u32| parts & bit != 0;
        let mut ctl = control::SELF_RELATIVE;
        if want(info::DACL) {
            ctl |= self.control & control::DACL_BITS;
        }
        if want(info::SACL) {
            ctl |= self.control & control::SACL_BITS;
        }
        let mut body = Vec::new();
        let place_sid = |s: &Option<Sid>, asked: bool, body: &mut Vec<u8>| -> u32 {
            match s {
                Some(s) if asked => {
                    let o = HEADER + body.len();
                    s.write_binary(body);
                    o as u32
                }
                _ => 0,
            }
        };
        let owner = place_sid(&self.owner, want(info::OWNER), &mut body);
        let group = place_sid(&self.group, want(info::GROUP), &mut body);
        let place_acl = |a: &Option<Acl>, asked: bool, body: &mut Vec<u8>| -> Option<u32> {
            match a {
                Some(a) if asked => {
                    let o = HEADER + body.len();
                    a.encode(body)?;
                    Some(o as u32)
                }
                _ => Some(0),
            }
        };
        let sacl = place_acl(&self.sacl, want(info::SACL) && ctl & control::SACL_PRESENT != 0, &mut body)?;
        let dacl = place_acl(&self.dacl, want(info::DACL) && ctl & control::DACL_PRESENT != 0, &mut body)?;
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&ctl.to_le_bytes());
        for o in [owner, group, sacl, dacl] {
            out.extend_from_slice(&o.to_le_bytes());
        }
        out.extend_from_slice(&body);
        Some(out)
    }

    /// Replaces the parts `parts` names with those of `new` (MS-FSA 2.1.5.16). A
    /// new descriptor without the DACL_PRESENT bit sets a NULL DACL, as Windows does.
    /// As on Windows, AUTO_INHERIT_REQ is never stored, and AUTO_INHERITED only when
    /// the setter sent it together with AUTO_INHERIT_REQ.
    pub fn merge(&mut self, new: &SecurityDescriptor, parts: u32) {
        let stored = |bits: u16, req: u16, done: u16| {
            if bits & req == 0 { bits & !(req | done) } else { bits & !req }
        };
        if parts & info::OWNER != 0 {
            self.owner = new.owner.clone();
        }
        if parts & info::GROUP != 0 {
            self.group = new.group.clone();
        }
        if parts & info::DACL != 0 {
            self.dacl = new.dacl.clone();
            let bits = stored(new.control & control::DACL_BITS, control::DACL_AUTO_INHERIT_REQ, control::DACL_AUTO_INHERITED);
            self.control = (self.control & !control::DACL_BITS) | bits | control::DACL_PRESENT;
        }
        if parts & info::SACL != 0 {
            self.sacl = new.sacl.clone();
            let bits = stored(new.control & control::SACL_BITS, control::SACL_AUTO_INHERIT_REQ, control::SACL_AUTO_INHERITED);
            self.control = (self.control & !control::SACL_BITS) | bits;
            if self.sacl.is_none() {
                self.control &= !control::SACL_PRESENT;
            }
        }
    }

    /// The SecurityInformation bits naming the parts `self` carries (for a
    /// descriptor given at create time, MS-SMB2 2.2.13.2.2 SecD).
    pub fn parts_present(&self) -> u32 {
        let mut p = 0;
        if self.owner.is_some() {
            p |= info::OWNER;
        }
        if self.group.is_some() {
            p |= info::GROUP;
        }
        if self.control & control::DACL_PRESENT != 0 {
            p |= info::DACL;
        }
        if self.control & control::SACL_PRESENT != 0 {
            p |= info::SACL;
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ace::Ace;
    use opportune_types::sid::well_known;

    fn sample() -> SecurityDescriptor {
        SecurityDescriptor {
            control: control::SELF_RELATIVE | control::DACL_PRESENT,
            owner: Some(well_known::administrators()),
            group: Some(well_known::builtin_users()),
            sacl: None,
            dacl: Some(Acl::new(vec![Ace::allowed(well_known::everyone(), 0x1F01FF, 0)])),
        }
    }

    #[test]
    fn round_trip_each_part() {
        let d = sample();
        let all = d.encode(info::ALL).unwrap();
        assert_eq!(SecurityDescriptor::parse(&all).unwrap(), d);
        let owner_only = SecurityDescriptor::parse(&d.encode(info::OWNER).unwrap()).unwrap();
        assert_eq!(owner_only.owner, d.owner);
        assert_eq!((owner_only.group, owner_only.dacl), (None, None));
        assert_eq!(owner_only.control, control::SELF_RELATIVE);
        assert_eq!(d.encode(0).unwrap().len(), 20);
    }

    #[test]
    fn refuses_malformed() {
        assert_eq!(SecurityDescriptor::parse(&[1; 10]), Err(NtStatus::INVALID_SECURITY_DESCR));
        assert!(SecurityDescriptor::parse(&[2; 20]).is_err());
        // Owner offset at the end of the buffer.
        let mut h = [0u8; 20];
        h[0] = 1;
        h[3] = 0x80;
        h[4] = 20;
        assert_eq!(SecurityDescriptor::parse(&h), Err(NtStatus::INVALID_SECURITY_DESCR));
        // Owner offset into the header.
        h[4] = 4;
        assert_eq!(SecurityDescriptor::parse(&h), Err(NtStatus::INVALID_SECURITY_DESCR));
        // A truncated SID.
        let mut d = sample().encode(info::OWNER).unwrap();
        d.truncate(d.len() - 1);
        assert_eq!(SecurityDescriptor::parse(&d), Err(NtStatus::INVALID_SID));
        // A DACL whose AclSize runs past the end.
        let mut d = sample().encode(info::DACL).unwrap();
        let n = d.len();
        d.truncate(n - 2);
        assert_eq!(SecurityDescriptor::parse(&d), Err(NtStatus::INVALID_ACL));
    }

    #[test]
    fn null_dacl_and_merge() {
        let mut cur = sample();
        let null = SecurityDescriptor { control: control::SELF_RELATIVE | control::DACL_PRESENT, ..Default::default() };
        let enc = null.encode(info::ALL).unwrap();
        let parsed = SecurityDescriptor::parse(&enc).unwrap();
        assert!(parsed.is_null_dacl());
        assert_eq!(parsed.parts_present(), info::DACL);
        cur.merge(&parsed, info::DACL);
        assert!(cur.is_null_dacl());
        assert_eq!(cur.owner, sample().owner);
        assert_ne!(cur.control & control::DACL_PRESENT, 0);
        // AUTO_INHERITED is kept only with AUTO_INHERIT_REQ, which is never kept.
        let mut set = sample();
        set.control |= control::DACL_AUTO_INHERITED;
        cur.merge(&set, info::DACL);
        assert_eq!(cur.control & (control::DACL_AUTO_INHERITED | control::DACL_AUTO_INHERIT_REQ), 0);
        set.control |= control::DACL_AUTO_INHERIT_REQ | control::DACL_PROTECTED;
        cur.merge(&set, info::DACL);
        let bits = control::DACL_AUTO_INHERITED | control::DACL_AUTO_INHERIT_REQ | control::DACL_PROTECTED;
        assert_eq!(cur.control & bits, control::DACL_AUTO_INHERITED | control::DACL_PROTECTED);
        // Present bit without an offset parses as a NULL DACL too.
        let mut h = vec![1u8, 0, 0x04, 0x80];
        h.extend_from_slice(&[0; 16]);
        assert!(SecurityDescriptor::parse(&h).unwrap().is_null_dacl());
    }
}
