//! AccessCheck (MS-DTYP 2.5.3.2) for a file server: which rights a token gets on an
//! object with a given descriptor.
//!
//! * The DACL is walked in order; inherit-only ACEs (2.4.4.1) and ACE types other
//!   than allowed and denied are skipped. For a specific request, a denied ACE that
//!   names a right not yet granted refuses the whole request; for MAXIMUM_ALLOWED each
//!   right goes to the first ACE that names it (`Granted |= Mask & ~Denied`,
//!   `Denied |= Mask & ~Granted`). Both amount to the rule the property test checks:
//!   a right is granted when the first applicable ACE naming it allows it.
//! * A NULL (or missing) DACL grants everything; an empty one grants nothing but the
//!   owner's implicit rights.
//! * The owner implicitly holds READ_CONTROL and WRITE_DAC, unless the DACL has an
//!   (effective) ACE for OWNER RIGHTS (S-1-3-4): then the owner gets what those ACEs
//!   say, as if they named the owner.
//! * Privileges: ACCESS_SYSTEM_SECURITY only with SeSecurityPrivilege (else
//!   STATUS_PRIVILEGE_NOT_HELD); WRITE_OWNER with SeTakeOwnershipPrivilege; with
//!   backup intent (FILE_OPEN_FOR_BACKUP_INTENT, MS-FSA 2.1.5.1) SeBackupPrivilege
//!   grants every read right and SeRestorePrivilege every write right, WRITE_DAC,
//!   WRITE_OWNER and DELETE. Rights a privilege granted are not taken by denied ACEs.
//! * ACE masks are generic-mapped before use, as requests are.

use crate::descriptor::SecurityDescriptor;
use crate::mapping::GenericMapping;
use opportune_types::sid::well_known;
use opportune_types::token::privilege;
use opportune_types::{AccessMask as M, NtStatus, Sid, Token};

/// The owner's implicit rights (MS-DTYP 2.5.3.2).
pub const OWNER_IMPLICIT: u32 = M::READ_CONTROL | M::WRITE_DAC;
/// What SeBackupPrivilege grants with backup intent.
pub const BACKUP_RIGHTS: u32 = M::FILE_GENERIC_READ | M::FILE_TRAVERSE | M::ACCESS_SYSTEM_SECURITY;
/// What SeRestorePrivilege grants with backup intent.
pub const RESTORE_RIGHTS: u32 = M::FILE_GENERIC_WRITE
    | M::FILE_ADD_SUBDIRECTORY
    | M::FILE_DELETE_CHILD
    | M::WRITE_DAC
    | M::WRITE_OWNER
    | M::DELETE
    | M::ACCESS_SYSTEM_SECURITY;

#[derive(Clone, Copy, Debug)]
pub struct AccessRequest<'a> {
    pub token: &'a Token,
    /// The desired access as sent: GENERIC_* and MAXIMUM_ALLOWED allowed.
    pub desired: u32,
    pub mapping: &'a GenericMapping,
    /// FILE_OPEN_FOR_BACKUP_INTENT was given: SeBackup/SeRestore count.
    pub backup_intent: bool,
}

/// What decided an access check, for the log of a denied open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// No DACL, or a NULL one.
    NullDacl,
    /// Every right asked for was granted.
    Granted,
    /// This ACE of the DACL denied a right asked for.
    DeniedBy { index: usize, sid: Sid, mask: u32 },
    /// No ACE granted these rights.
    NotGranted { missing: u32 },
    /// ACCESS_SYSTEM_SECURITY without SeSecurityPrivilege.
    PrivilegeNotHeld,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// SUCCESS, ACCESS_DENIED or PRIVILEGE_NOT_HELD.
    pub status: NtStatus,
    /// The granted rights (mapped; MAXIMUM_ALLOWED resolved); 0 unless SUCCESS.
    pub granted: u32,
    /// Everything MAXIMUM_ALLOWED would have granted (the MxAc answer).
    pub maximal: u32,
    pub rule: Rule,
}

impl Decision {
    pub fn is_granted(&self) -> bool {
        self.status == NtStatus::SUCCESS
    }
}

/// The per-right outcome of the DACL walk: which rights are granted, and the first
/// denied ACE that took a right still open.
struct Walk {
    allowed: u32,
    decided: u32,
    first_deny: Option<(usize, Sid, u32)>,
}

/// AccessCheck of `req` against `sd` (MS-DTYP 2.5.3.2).
pub fn access_check(sd: &SecurityDescriptor, req: &AccessRequest<'_>) -> Decision {
    let map = req.mapping;
    let desired = map.map(req.desired);
    let want_max = desired & M::MAXIMUM_ALLOWED != 0;
    let desired = desired & !M::MAXIMUM_ALLOWED;
    let token = req.token;
    if desired & M::ACCESS_SYSTEM_SECURITY != 0 && !token.has_privilege(privilege::SECURITY) {
        return Decision { status: NtStatus::PRIVILEGE_NOT_HELD, granted: 0, maximal: 0, rule: Rule::PrivilegeNotHeld };
    }
    let by_privilege = privileged(token, req.backup_intent) & (desired | if want_max { !M::ACCESS_SYSTEM_SECURITY } else { 0 });
    let walk = walk(sd, token, map, by_privilege, desired);
    let maximal = (walk.allowed | by_privilege) & (map.all | M::ACCESS_SYSTEM_SECURITY);
    let missing = desired & !walk.allowed;
    if missing != 0 {
        let rule = match walk.first_deny {
            Some((index, sid, mask)) => Rule::DeniedBy { index, sid, mask },
            None => Rule::NotGranted { missing },
        };
        return Decision { status: NtStatus::ACCESS_DENIED, granted: 0, maximal, rule };
    }
    let granted = if want_max { desired | maximal } else { desired };
    if granted == 0 {
        return Decision { status: NtStatus::ACCESS_DENIED, granted: 0, maximal, rule: Rule::NotGranted { missing: M::MAXIMUM_ALLOWED } };
    }
    let rule = if sd.is_null_dacl() { Rule::NullDacl } else { Rule::Granted };
    Decision { status: NtStatus::SUCCESS, granted, maximal, rule }
}

/// The rights the token's privileges grant whatever the DACL says.
fn privileged(token: &Token, backup_intent: bool) -> u32 {
    let mut p = 0;
    if token.has_privilege(privilege::SECURITY) {
        p |= M::ACCESS_SYSTEM_SECURITY;
    }
    if token.has_privilege(privilege::TAKE_OWNERSHIP) {
        p |= M::WRITE_OWNER;
    }
    if backup_intent && token.has_privilege(privilege::BACKUP) {
        p |= BACKUP_RIGHTS;
    }
    if backup_intent && token.has_privilege(privilege::RESTORE) {
        p |= RESTORE_RIGHTS;
    }
    p
}

fn walk(sd: &SecurityDescriptor, token: &Token, map: &GenericMapping, seeded: u32, desired: u32) -> Walk {
    let Some(dacl) = &sd.dacl else {
        return Walk { allowed: map.all | seeded, decided: !0, first_deny: None };
    };
    let owner_rights = well_known::owner_rights();
    let is_owner = sd.owner.as_ref().is_some_and(|o| token.contains(o));
    let effective = || dacl.aces.iter().enumerate().filter(|(_, a)| !a.is_inherit_only() && a.ace_type <= 1);
    let has_owner_rights = effective().any(|(_, a)| a.mask_sid().is_some_and(|(_, s)| *s == owner_rights));
    let mut w = Walk { allowed: seeded, decided: seeded, first_deny: None };
    if is_owner && !has_owner_rights {
        w.allowed |= OWNER_IMPLICIT;
        w.decided |= OWNER_IMPLICIT;
    }
    for (index, ace) in effective() {
        let Some((mask, sid)) = ace.mask_sid() else { continue };
        if !(token.contains(sid) || (is_owner && *sid == owner_rights)) {
            continue;
        }
        let mask = map.map(mask);
        let fresh = mask & !w.decided;
        if ace.ace_type == crate::ace::ace_type::ACCESS_ALLOWED {
            w.allowed |= fresh;
        } else if w.first_deny.is_none() && fresh & desired != 0 {
            w.first_deny = Some((index, sid.clone(), mask));
        }
        w.decided |= mask;
    }
    w
}

/// Everything MAXIMUM_ALLOWED would grant `token` on `sd` (the MxAc response,
/// MS-SMB2 2.2.14.2.5), ACCESS_SYSTEM_SECURITY excluded.
pub fn maximal_access(sd: &SecurityDescriptor, token: &Token, mapping: &GenericMapping) -> u32 {
    let req = AccessRequest { token, desired: M::MAXIMUM_ALLOWED, mapping, backup_intent: false };
    access_check(sd, &req).maximal & !M::ACCESS_SYSTEM_SECURITY
}

#[cfg(test)]
mod tests;
