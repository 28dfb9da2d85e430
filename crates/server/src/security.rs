//! Security descriptors (MS-DTYP 2.4.6, self-relative form) for QUERY_INFO and
//! SET_INFO with SMB2_0_INFO_SECURITY and the SecD create context.
//!
//! A descriptor a client sets is validated, merged with the file's current one
//! according to the SecurityInformation flags (MS-SMB2 3.3.5.21.3, MS-FSA
//! 2.1.5.16) and stored in the file's `user.opportune.sd` xattr; queries
//! return the parts asked for. A file without a stored descriptor has the
//! default one: owned by BUILTIN\Administrators, Everyone full access.
//! POSIX permissions and the share's read-only flag are what decide access;
//! the stored descriptor is kept and reported, not enforced.

use opportune_types::NtStatus;
use opportune_wire::cursor::Put;

pub const OWNER_SECURITY_INFORMATION: u32 = 0x1;
pub const GROUP_SECURITY_INFORMATION: u32 = 0x2;
pub const DACL_SECURITY_INFORMATION: u32 = 0x4;
pub const SACL_SECURITY_INFORMATION: u32 = 0x8;

const SE_DACL_PRESENT: u16 = 0x0004;
const SE_SACL_PRESENT: u16 = 0x0010;
const SE_SELF_RELATIVE: u16 = 0x8000;
/// Control bits that belong to the DACL (present, defaulted, auto-inherit
/// required, auto-inherited, protected) and to the SACL.
const DACL_CONTROL: u16 = 0x0004 | 0x0008 | 0x0100 | 0x0400 | 0x1000;
const SACL_CONTROL: u16 = 0x0010 | 0x0020 | 0x0200 | 0x0800 | 0x2000;

/// The parts of a descriptor, each as its wire bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    pub control: u16,
    pub owner: Option<Vec<u8>>,
    pub group: Option<Vec<u8>>,
    pub sacl: Option<Vec<u8>>,
    pub dacl: Option<Vec<u8>>,
}

/// S-1-5-32-544 (BUILTIN\Administrators).
fn sid_administrators() -> Vec<u8> {
    let mut out = vec![1, 2, 0, 0, 0, 0, 0, 5];
    out.put_u32(32);
    out.put_u32(544);
    out
}

impl Descriptor {
    /// The descriptor of a file nobody set one on.
    pub fn default_for_file() -> Descriptor {
        // ACL header (8) + one ACCESS_ALLOWED ACE (8 + Everyone, S-1-1-0, 12 bytes).
        let mut dacl = Vec::with_capacity(28);
        dacl.put_u8(2);
        dacl.put_u8(0);
        dacl.put_u16(28);
        dacl.put_u16(1);
        dacl.put_u16(0);
        dacl.put_u8(0);
        dacl.put_u8(0x3);
        dacl.put_u16(20);
        dacl.put_u32(0x001F_01FF);
        dacl.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 1]);
        dacl.put_u32(0);
        Descriptor {
            control: SE_SELF_RELATIVE | SE_DACL_PRESENT,
            owner: Some(sid_administrators()),
            group: Some(sid_administrators()),
            sacl: None,
            dacl: Some(dacl),
        }
    }

    /// Parses and validates a self-relative descriptor (MS-DTYP 2.4.6):
    /// revision 1, SIDs (2.4.2.2) and ACLs (2.4.5) inside the buffer.
    pub fn parse(sd: &[u8]) -> Result<Descriptor, NtStatus> {
        let bad = NtStatus::INVALID_SECURITY_DESCR;
        if sd.len() < 20 || sd[0] != 1 {
            return Err(bad);
        }
        let u32_at = |i: usize| u32::from_le_bytes([sd[i], sd[i + 1], sd[i + 2], sd[i + 3]]) as usize;
        let control = u16::from_le_bytes([sd[2], sd[3]]);
        let (owner, group, sacl, dacl) = (u32_at(4), u32_at(8), u32_at(12), u32_at(16));
        let sid = |off: usize| -> Result<Option<Vec<u8>>, NtStatus> {
            if off == 0 {
                return Ok(None);
            }
            let n = usize::from(*sd.get(off + 1).ok_or(bad)?);
            let s = sd.get(off..off + 8 + 4 * n).ok_or(bad)?;
            if s[0] != 1 || n > 15 {
                return Err(NtStatus::INVALID_SID);
            }
            Ok(Some(s.to_vec()))
        };
        let acl = |off: usize, present: bool| -> Result<Option<Vec<u8>>, NtStatus> {
            if off == 0 || !present {
                return Ok(None);
            }
            let h = sd.get(off..off + 8).ok_or(bad)?;
            let size = usize::from(u16::from_le_bytes([h[2], h[3]]));
            let a = sd.get(off..off + size).ok_or(NtStatus::INVALID_ACL)?;
            if !matches!(a[0], 2 | 4) || !aces_fit(a) {
                return Err(NtStatus::INVALID_ACL);
            }
            Ok(Some(a.to_vec()))
        };
        Ok(Descriptor {
            control,
            owner: sid(owner)?,
            group: sid(group)?,
            sacl: acl(sacl, control & SE_SACL_PRESENT != 0)?,
            dacl: acl(dacl, control & SE_DACL_PRESENT != 0)?,
        })
    }

    /// Replaces the parts `info` names with those of `new` (MS-FSA 2.1.5.16).
    pub fn merge(&mut self, new: &Descriptor, info: u32) {
        if info & OWNER_SECURITY_INFORMATION != 0 {
            self.owner = new.owner.clone();
        }
        if info & GROUP_SECURITY_INFORMATION != 0 {
            self.group = new.group.clone();
        }
        if info & DACL_SECURITY_INFORMATION != 0 {
            // A descriptor without a DACL sets a NULL DACL (MS-DTYP 2.4.6: present, no ACL).
            self.dacl = new.dacl.clone();
            self.control = (self.control & !DACL_CONTROL) | (new.control & DACL_CONTROL) | SE_DACL_PRESENT;
        }
        if info & SACL_SECURITY_INFORMATION != 0 {
            self.sacl = new.sacl.clone();
            self.control = (self.control & !SACL_CONTROL) | (new.control & SACL_CONTROL);
        }
    }

    /// The self-relative encoding of the parts `info` asks for.
    pub fn encode(&self, info: u32) -> Vec<u8> {
        let want = |bit: u32| info & bit != 0;
        let mut control = SE_SELF_RELATIVE;
        if want(DACL_SECURITY_INFORMATION) {
            control |= self.control & DACL_CONTROL;
        }
        if want(SACL_SECURITY_INFORMATION) {
            control |= self.control & SACL_CONTROL;
        }
        let mut body = Vec::new();
        let mut place = |part: &Option<Vec<u8>>, asked: bool| -> u32 {
            match part {
                Some(bytes) if asked => {
                    let off = 20 + body.len() as u32;
                    body.extend_from_slice(bytes);
                    off
                }
                _ => 0,
            }
        };
        let owner = place(&self.owner, want(OWNER_SECURITY_INFORMATION));
        let group = place(&self.group, want(GROUP_SECURITY_INFORMATION));
        let sacl = place(&self.sacl, want(SACL_SECURITY_INFORMATION));
        let dacl = place(&self.dacl, want(DACL_SECURITY_INFORMATION));
        let mut out = Vec::with_capacity(20 + body.len());
        out.put_u8(1);
        out.put_u8(0);
        out.put_u16(control);
        out.put_u32(owner);
        out.put_u32(group);
        out.put_u32(sacl);
        out.put_u32(dacl);
        out.extend_from_slice(&body);
        out
    }
}

/// Whether the AceCount ACEs of `acl` lie inside its AclSize (MS-DTYP 2.4.4.1).
fn aces_fit(acl: &[u8]) -> bool {
    let count = usize::from(u16::from_le_bytes([acl[4], acl[5]]));
    let mut at = 8;
    for _ in 0..count {
        let Some(h) = acl.get(at..at + 4) else { return false };
        let size = usize::from(u16::from_le_bytes([h[2], h[3]]));
        if size < 4 || at + size > acl.len() {
            return false;
        }
        at += size;
    }
    true
}

/// The SecurityInformation flags naming the parts `d` carries, for a
/// descriptor given at create time (MS-SMB2 2.2.13.2.2 SecD): missing parts
/// keep the defaults.
pub fn parts_present(d: &Descriptor) -> u32 {
    let mut info = 0;
    if d.owner.is_some() {
        info |= OWNER_SECURITY_INFORMATION;
    }
    if d.group.is_some() {
        info |= GROUP_SECURITY_INFORMATION;
    }
    if d.control & SE_DACL_PRESENT != 0 {
        info |= DACL_SECURITY_INFORMATION;
    }
    if d.control & SE_SACL_PRESENT != 0 {
        info |= SACL_SECURITY_INFORMATION;
    }
    info
}

/// Whether `session` holds SeSecurityPrivilege, which ACCESS_SYSTEM_SECURITY needs. On
/// Windows only administrators hold it. This server has no administrator accounts:
/// configured users, guests and anonymous sessions are all ordinary, so nobody does. An
/// authorization layer that adds administrators decides here.
pub fn holds_security_privilege(_session: &crate::session::Session) -> bool {
    false
}

/// The file's descriptor: the stored one, else the default.
pub fn current(stored: Option<Vec<u8>>) -> Descriptor {
    stored.and_then(|b| Descriptor::parse(&b).ok()).unwrap_or_else(Descriptor::default_for_file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_parse_merge() {
        let d = Descriptor::default_for_file();
        let all = d.encode(0x7);
        let owner = u32::from_le_bytes(all[4..8].try_into().unwrap()) as usize;
        let dacl = u32::from_le_bytes(all[16..20].try_into().unwrap()) as usize;
        assert_eq!(all[owner], 1);
        assert_eq!(all[dacl], 2);
        assert_eq!(d.encode(0).len(), 20);
        assert_eq!(Descriptor::parse(&all).unwrap(), d);
        // A NULL DACL: present bit set, no ACL.
        let null = Descriptor { control: SE_SELF_RELATIVE | SE_DACL_PRESENT, ..Default::default() };
        let mut cur = d.clone();
        cur.merge(&null, DACL_SECURITY_INFORMATION);
        assert_eq!(cur.dacl, None);
        assert_eq!(cur.owner, d.owner);
        assert!(Descriptor::parse(&[1, 0, 0, 0x80, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Descriptor::parse(&[2; 20]).is_err());
    }
}
