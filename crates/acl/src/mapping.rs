//! Generic rights (MS-DTYP 2.4.3 ACCESS_MASK, GENERIC_MAPPING in 2.5.3.2): the four
//! GENERIC_* bits stand for object-specific rights. Files and directories share one
//! mapping (MS-FSA 2.1.5.1.2.1 uses FILE_GENERIC_* for both).

use opportune_types::AccessMask as M;

pub const GENERIC_BITS: u32 = M::GENERIC_ALL | M::GENERIC_EXECUTE | M::GENERIC_WRITE | M::GENERIC_READ;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenericMapping {
    pub read: u32,
    pub write: u32,
    pub execute: u32,
    pub all: u32,
}

impl GenericMapping {
    /// FILE_GENERIC_READ, FILE_GENERIC_WRITE, FILE_GENERIC_EXECUTE, FILE_ALL_ACCESS.
    pub const FILE: GenericMapping = GenericMapping {
        read: M::FILE_GENERIC_READ,
        write: M::FILE_GENERIC_WRITE,
        execute: M::FILE_GENERIC_EXECUTE,
        all: M::FILE_ALL_ACCESS,
    };

    /// `mask` with each GENERIC_* bit replaced by the rights it stands for.
    pub fn map(&self, mask: u32) -> u32 {
        let mut m = mask & !GENERIC_BITS;
        for (bit, rights) in [
            (M::GENERIC_READ, self.read),
            (M::GENERIC_WRITE, self.write),
            (M::GENERIC_EXECUTE, self.execute),
            (M::GENERIC_ALL, self.all),
        ] {
            if mask & bit != 0 {
                m |= rights;
            }
        }
        m
    }
}

/// Maps the generic rights of the ACEs of `acl` that apply to the object itself (not
/// inherit-only), as Windows does when a DACL is set; inherit-only ACEs keep theirs
/// for the objects that will inherit them.
pub fn map_effective_aces(acl: &mut crate::acl::Acl, mapping: &GenericMapping) {
    for ace in acl.aces.iter_mut().filter(|a| !a.is_inherit_only()) {
        if let crate::ace::AceBody::Basic { mask, .. } = &mut ace.body {
            *mask = mapping.map(*mask);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_each_generic_bit() {
        let f = GenericMapping::FILE;
        assert_eq!(f.map(M::GENERIC_READ), 0x0012_0089);
        assert_eq!(f.map(M::GENERIC_WRITE), 0x0012_0116);
        assert_eq!(f.map(M::GENERIC_EXECUTE), 0x0012_00A0);
        assert_eq!(f.map(M::GENERIC_ALL), 0x001F_01FF);
        assert_eq!(f.map(M::GENERIC_READ | M::DELETE), 0x0013_0089);
        assert_eq!(f.map(M::MAXIMUM_ALLOWED), M::MAXIMUM_ALLOWED);
        assert_eq!(f.map(0), 0);
    }

    #[test]
    fn maps_only_effective_aces() {
        use crate::ace::{ace_flags, Ace};
        use opportune_types::sid::well_known::everyone;
        let mut acl = crate::acl::Acl::new(vec![
            Ace::allowed(everyone(), M::GENERIC_READ, 0),
            Ace::allowed(everyone(), M::GENERIC_READ, ace_flags::INHERIT_ONLY | ace_flags::OBJECT_INHERIT),
        ]);
        map_effective_aces(&mut acl, &GenericMapping::FILE);
        assert_eq!(acl.aces[0].mask_sid().unwrap().0, M::FILE_GENERIC_READ);
        assert_eq!(acl.aces[1].mask_sid().unwrap().0, M::GENERIC_READ);
    }
}
