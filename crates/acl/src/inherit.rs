//! The descriptor of a new file or directory (MS-DTYP 2.5.3.4.1
//! CreateSecurityDescriptor, 2.5.3.4.2 ComputeACL, 2.5.3.4.3
//! ComputeInheritedACLfromParent), with DACL_AUTO_INHERIT and SACL_AUTO_INHERIT set
//! as Windows sets them for files:
//!
//! * Owner and group: the creator's if given, else the token's owner and primary group.
//! * From the parent's ACL, a file inherits the ACEs marked OBJECT_INHERIT, a
//!   directory those marked CONTAINER_INHERIT (effective for it, and inheritable
//!   further unless NO_PROPAGATE_INHERIT) and those marked only OBJECT_INHERIT (as
//!   inherit-only, for its files; not with NO_PROPAGATE_INHERIT). Inherited ACEs carry
//!   INHERITED_ACE, and the new ACL is SE_DACL_AUTO_INHERITED, only when the parent's
//!   ACL is itself auto-inherited (what Windows does; smbtorture smb2.acls.INHERITANCE
//!   and INHERITFLAGS check it). In effective copies CREATOR OWNER and CREATOR GROUP become the new
//!   owner and group and generic rights are mapped; when that changed the ACE and it
//!   is still inheritable, the original goes on as a separate inherit-only ACE.
//! * A creator DACL is used with the inherited ACEs after its own (explicit) ones,
//!   unless it is protected (SE_DACL_PROTECTED) or defaulted without anything to
//!   inherit. Without a creator DACL the inherited ACEs form the DACL; with nothing
//!   inheritable either, the caller's default DACL (the token's DefaultDACL) does.

use crate::ace::{ace_flags as f, Ace, AceBody};
use crate::acl::Acl;
use crate::descriptor::{control, SecurityDescriptor};
use crate::mapping::{GenericMapping, GENERIC_BITS};
use opportune_types::sid::well_known;
use opportune_types::{Sid, Token};

pub struct NewObject<'a> {
    pub parent: Option<&'a SecurityDescriptor>,
    /// The SecD create context, if any.
    pub creator: Option<&'a SecurityDescriptor>,
    pub is_container: bool,
    pub token: &'a Token,
    /// Used when neither the creator nor the parent supplies a DACL.
    pub default_dacl: &'a Acl,
    pub mapping: &'a GenericMapping,
}

/// CreateSecurityDescriptor (MS-DTYP 2.5.3.4.1).
pub fn create_descriptor(n: &NewObject<'_>) -> SecurityDescriptor {
    let owner = n.creator.and_then(|c| c.owner.clone()).unwrap_or_else(|| n.token.owner.clone());
    let group = n.creator.and_then(|c| c.group.clone()).unwrap_or_else(|| n.token.primary_group.clone());
    let ids = Ids { owner: &owner, group: &group };
    let auto = |bit: u16| n.parent.is_some_and(|p| p.control & bit != 0);
    let (dacl_auto, sacl_auto) = (auto(control::DACL_AUTO_INHERITED), auto(control::SACL_AUTO_INHERITED));
    let mark = |auto: bool| if auto { f::INHERITED } else { 0 };
    let inherited_dacl =
        n.parent.and_then(|p| p.dacl.as_ref()).map(|a| inherited(a, n.is_container, &ids, n.mapping, mark(dacl_auto)));
    let inherited_sacl =
        n.parent.and_then(|p| p.sacl.as_ref()).map(|a| inherited(a, n.is_container, &ids, n.mapping, mark(sacl_auto)));
    let creator_dacl = n.creator.filter(|c| c.control & control::DACL_PRESENT != 0).map(|c| (c.dacl.as_ref(), c.control));
    let creator_sacl = n.creator.filter(|c| c.control & control::SACL_PRESENT != 0).map(|c| (c.sacl.as_ref(), c.control));
    let mut ctl = control::SELF_RELATIVE | control::DACL_PRESENT;
    let dacl = match compute(creator_dacl, inherited_dacl, Bits::DACL, dacl_auto) {
        Computed::Acl(acl, bits) => {
            ctl |= bits;
            acl
        }
        Computed::None => Some(n.default_dacl.clone()),
    };
    let sacl = match compute(creator_sacl, inherited_sacl, Bits::SACL, sacl_auto) {
        Computed::Acl(acl, bits) => {
            ctl |= bits | control::SACL_PRESENT;
            acl
        }
        Computed::None => None,
    };
    if sacl.is_none() {
        ctl &= !control::SACL_PRESENT;
    }
    SecurityDescriptor { control: ctl, owner: Some(owner), group: Some(group), sacl, dacl }
}

struct Ids<'a> {
    owner: &'a Sid,
    group: &'a Sid,
}

#[derive(Clone, Copy)]
struct Bits {
    protected: u16,
    defaulted: u16,
    auto_inherited: u16,
}

impl Bits {
    const DACL: Bits = Bits {
        protected: control::DACL_PROTECTED,
        defaulted: control::DACL_DEFAULTED,
        auto_inherited: control::DACL_AUTO_INHERITED,
    };
    const SACL: Bits = Bits {
        protected: control::SACL_PROTECTED,
        defaulted: control::SACL_DEFAULTED,
        auto_inherited: control::SACL_AUTO_INHERITED,
    };
}

enum Computed {
    /// The ACL (None: a NULL ACL) and control bits for it.
    Acl(Option<Acl>, u16),
    /// Nothing from creator or parent.
    None,
}

/// ComputeACL (MS-DTYP 2.5.3.4.2) with auto-inheritance; `auto`: the parent's ACL is
/// auto-inherited, and so is the result when it takes inherited ACEs.
fn compute(creator: Option<(Option<&Acl>, u16)>, inherited: Option<Acl>, b: Bits, auto: bool) -> Computed {
    let inherited = inherited.filter(|a| !a.aces.is_empty());
    let b = Bits { auto_inherited: if auto { b.auto_inherited } else { 0 }, ..b };
    match (creator, inherited) {
        (Some((acl, ctl)), _) if ctl & b.protected != 0 => Computed::Acl(acl.cloned(), b.protected),
        (Some((acl, ctl)), Some(inh)) if ctl & b.defaulted == 0 => {
            let Some(acl) = acl else { return Computed::Acl(None, 0) };
            let mut aces: Vec<Ace> = acl.aces.iter().filter(|a| !a.is_inherited()).cloned().collect();
            aces.extend(inh.aces);
            Computed::Acl(Some(Acl { revision: acl.revision, aces }), b.auto_inherited)
        }
        (_, Some(inh)) => Computed::Acl(Some(inh), b.auto_inherited),
        (Some((acl, _)), None) => Computed::Acl(acl.cloned(), 0),
        (None, None) => Computed::None,
    }
}

/// ComputeInheritedACLfromParent (MS-DTYP 2.5.3.4.3).
fn inherited(parent: &Acl, is_container: bool, ids: &Ids<'_>, map: &GenericMapping, mark: u8) -> Acl {
    let mut aces = Vec::new();
    for ace in &parent.aces {
        let (oi, ci, np) = (ace.flags & f::OBJECT_INHERIT != 0, ace.flags & f::CONTAINER_INHERIT != 0, ace.flags & f::NO_PROPAGATE_INHERIT != 0);
        let keep_flags = ace.flags & !(f::INHERIT_MASK | f::INHERITED);
        if !is_container {
            if oi {
                aces.push(effective(ace, keep_flags | mark, ids, map));
            }
            continue;
        }
        if ci {
            let eff = effective(ace, keep_flags | mark, ids, map);
            if np {
                aces.push(eff);
            } else if eff.body == ace.body {
                // Unchanged by mapping: one ACE, effective here and inherited further.
                aces.push(Ace { flags: (ace.flags & !(f::INHERIT_ONLY | f::NO_PROPAGATE_INHERIT | f::INHERITED)) | mark, ..eff });
            } else {
                aces.push(eff);
                aces.push(Ace { flags: (ace.flags & !f::INHERITED) | f::INHERIT_ONLY | mark, ..ace.clone() });
            }
        } else if oi && !np {
            aces.push(Ace { flags: (ace.flags & !f::INHERITED) | f::INHERIT_ONLY | mark, ..ace.clone() });
        }
    }
    Acl { revision: parent.revision, aces }
}

/// The ACE as it applies to the new object: CREATOR OWNER / CREATOR GROUP replaced,
/// generic rights mapped.
fn effective(ace: &Ace, flags: u8, ids: &Ids<'_>, map: &GenericMapping) -> Ace {
    let body = match &ace.body {
        AceBody::Basic { mask, sid } => {
            let sid = if *sid == well_known::creator_owner() {
                ids.owner.clone()
            } else if *sid == well_known::creator_group() {
                ids.group.clone()
            } else {
                sid.clone()
            };
            let mask = if mask & GENERIC_BITS != 0 { map.map(*mask) } else { *mask };
            AceBody::Basic { mask, sid }
        }
        AceBody::Opaque(b) => AceBody::Opaque(b.clone()),
    };
    Ace { ace_type: ace.ace_type, flags, body }
}

#[cfg(test)]
mod tests;
