//! Access control entries (MS-DTYP 2.4.4): a header (AceType, AceFlags, AceSize), then
//! for the basic types a mask and a SID (2.4.4.2 ACCESS_ALLOWED_ACE, 2.4.4.4
//! ACCESS_DENIED_ACE, 2.4.4.10 SYSTEM_AUDIT_ACE, 2.4.4.11 SYSTEM_ALARM_ACE).

use opportune_types::{NtStatus, Sid};

/// AceType values (MS-DTYP 2.4.4.1).
pub mod ace_type {
    pub const ACCESS_ALLOWED: u8 = 0x00;
    pub const ACCESS_DENIED: u8 = 0x01;
    pub const SYSTEM_AUDIT: u8 = 0x02;
    pub const SYSTEM_ALARM: u8 = 0x03;
}

/// AceFlags values (MS-DTYP 2.4.4.1).
pub mod ace_flags {
    pub const OBJECT_INHERIT: u8 = 0x01;
    pub const CONTAINER_INHERIT: u8 = 0x02;
    pub const NO_PROPAGATE_INHERIT: u8 = 0x04;
    pub const INHERIT_ONLY: u8 = 0x08;
    pub const INHERITED: u8 = 0x10;
    pub const SUCCESSFUL_ACCESS: u8 = 0x40;
    pub const FAILED_ACCESS: u8 = 0x80;
    /// The flags that say how an ACE is inherited.
    pub const INHERIT_MASK: u8 = OBJECT_INHERIT | CONTAINER_INHERIT | NO_PROPAGATE_INHERIT | INHERIT_ONLY;
}

/// What follows an ACE's header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AceBody {
    /// Types 0..=3: an access mask and a SID.
    Basic { mask: u32, sid: Sid },
    /// Any other type (object, callback, mandatory-label ACEs...): kept as sent,
    /// everything after the 4-byte header, so that it is stored and reported intact.
    Opaque(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ace {
    pub ace_type: u8,
    pub flags: u8,
    pub body: AceBody,
}

impl Ace {
    pub fn allowed(sid: Sid, mask: u32, flags: u8) -> Ace {
        Ace { ace_type: ace_type::ACCESS_ALLOWED, flags, body: AceBody::Basic { mask, sid } }
    }

    pub fn denied(sid: Sid, mask: u32, flags: u8) -> Ace {
        Ace { ace_type: ace_type::ACCESS_DENIED, flags, body: AceBody::Basic { mask, sid } }
    }

    /// The mask and SID of a basic ACE.
    pub fn mask_sid(&self) -> Option<(u32, &Sid)> {
        match &self.body {
            AceBody::Basic { mask, sid } => Some((*mask, sid)),
            AceBody::Opaque(_) => None,
        }
    }

    pub fn is_inherit_only(&self) -> bool {
        self.flags & ace_flags::INHERIT_ONLY != 0
    }

    pub fn is_inherited(&self) -> bool {
        self.flags & ace_flags::INHERITED != 0
    }

    /// Bytes of the encoded ACE (a multiple of 4, as AceSize must be).
    pub fn encoded_len(&self) -> usize {
        let body = match &self.body {
            AceBody::Basic { sid, .. } => 4 + sid.binary_len(),
            AceBody::Opaque(b) => b.len(),
        };
        (4 + body).next_multiple_of(4)
    }

    /// Parses one ACE at the start of `b`; returns it and its AceSize. An ACE whose
    /// size is below its header, beyond `b`, or too small for its mask and SID is
    /// STATUS_INVALID_ACL.
    pub fn parse(b: &[u8]) -> Result<(Ace, usize), NtStatus> {
        let bad = NtStatus::INVALID_ACL;
        let h = b.get(..4).ok_or(bad)?;
        let (ace_type, flags) = (h[0], h[1]);
        let size = usize::from(u16::from_le_bytes([h[2], h[3]]));
        if size < 4 {
            return Err(bad);
        }
        let rest = b.get(4..size).ok_or(bad)?;
        let body = if ace_type <= ace_type::SYSTEM_ALARM {
            let m = rest.get(..4).ok_or(bad)?;
            let mask = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
            let (sid, _) = Sid::read_binary(&rest[4..]).ok_or(bad)?;
            AceBody::Basic { mask, sid }
        } else {
            AceBody::Opaque(rest.to_vec())
        };
        Ok((Ace { ace_type, flags, body }, size))
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let len = self.encoded_len();
        let start = out.len();
        out.push(self.ace_type);
        out.push(self.flags);
        out.extend_from_slice(&(len as u16).to_le_bytes());
        match &self.body {
            AceBody::Basic { mask, sid } => {
                out.extend_from_slice(&mask.to_le_bytes());
                sid.write_binary(out);
            }
            AceBody::Opaque(b) => out.extend_from_slice(b),
        }
        out.resize(start + len, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opportune_types::sid::well_known;

    #[test]
    fn round_trip_basic_and_opaque() {
        let a = Ace::denied(well_known::everyone(), 0x1F01FF, ace_flags::OBJECT_INHERIT);
        let mut b = Vec::new();
        a.encode(&mut b);
        assert_eq!(b.len(), 20);
        assert_eq!(Ace::parse(&b).unwrap(), (a, 20));
        let o = Ace { ace_type: 5, flags: 0, body: AceBody::Opaque(vec![1, 2, 3, 4]) };
        let mut b = Vec::new();
        o.encode(&mut b);
        assert_eq!(Ace::parse(&b).unwrap(), (o, 8));
    }

    #[test]
    fn rejects_bad_sizes() {
        assert_eq!(Ace::parse(&[0, 0, 3, 0]), Err(NtStatus::INVALID_ACL));
        assert_eq!(Ace::parse(&[0, 0, 40, 0, 0, 0, 0, 0]), Err(NtStatus::INVALID_ACL));
        // Size 8: a mask but no room for a SID.
        assert_eq!(Ace::parse(&[0, 0, 8, 0, 1, 0, 0, 0]), Err(NtStatus::INVALID_ACL));
        assert!(Ace::parse(&[]).is_err());
    }
}
