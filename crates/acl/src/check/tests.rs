use super::*;
use crate::ace::{ace_flags, Ace};
use crate::acl::Acl;
use crate::descriptor::control;
use opportune_types::Token;

fn alice() -> Sid {
    Sid::new(5, &[21, 1, 2, 3, 1000])
}
fn bob() -> Sid {
    Sid::new(5, &[21, 1, 2, 3, 1001])
}
fn staff() -> Sid {
    Sid::new(5, &[21, 1, 2, 3, 2000])
}

fn token(user: Sid, privileges: u32) -> Token {
    Token {
        owner: user.clone(),
        user,
        groups: vec![well_known::everyone(), well_known::authenticated_users(), staff()],
        primary_group: staff(),
        privileges,
    }
}

fn sd(owner: Sid, aces: Option<Vec<Ace>>) -> SecurityDescriptor {
    SecurityDescriptor {
        control: control::SELF_RELATIVE | control::DACL_PRESENT,
        owner: Some(owner),
        group: Some(staff()),
        sacl: None,
        dacl: aces.map(Acl::new),
    }
}

fn check(sd: &SecurityDescriptor, t: &Token, desired: u32) -> Decision {
    access_check(sd, &AccessRequest { token: t, desired, mapping: &GenericMapping::FILE, backup_intent: false })
}

#[test]
fn null_dacl_grants_everything() {
    let d = sd(bob(), None);
    let r = check(&d, &token(alice(), 0), M::GENERIC_ALL);
    assert_eq!((r.status, r.granted, r.rule), (NtStatus::SUCCESS, M::FILE_ALL_ACCESS, Rule::NullDacl));
    assert_eq!(check(&d, &token(alice(), 0), M::MAXIMUM_ALLOWED).granted, M::FILE_ALL_ACCESS);
}

#[test]
fn empty_dacl_grants_only_owner_implicit_rights() {
    let d = sd(alice(), Some(vec![]));
    assert_eq!(check(&d, &token(alice(), 0), M::READ_CONTROL | M::WRITE_DAC).granted, OWNER_IMPLICIT);
    assert_eq!(check(&d, &token(alice(), 0), M::MAXIMUM_ALLOWED).granted, OWNER_IMPLICIT);
    assert_eq!(check(&d, &token(alice(), 0), M::FILE_READ_DATA).status, NtStatus::ACCESS_DENIED);
    let r = check(&d, &token(bob(), 0), M::MAXIMUM_ALLOWED);
    assert_eq!((r.status, r.maximal), (NtStatus::ACCESS_DENIED, 0));
    assert_eq!(check(&d, &token(bob(), 0), M::READ_CONTROL).rule, Rule::NotGranted { missing: M::READ_CONTROL });
}

#[test]
fn deny_before_allow_in_order() {
    let everyone = well_known::everyone();
    let deny_first = sd(bob(), Some(vec![Ace::denied(alice(), M::FILE_WRITE_DATA, 0), Ace::allowed(everyone.clone(), M::FILE_ALL_ACCESS, 0)]));
    let r = check(&deny_first, &token(alice(), 0), M::FILE_WRITE_DATA | M::FILE_READ_DATA);
    assert_eq!(r.status, NtStatus::ACCESS_DENIED);
    assert_eq!(r.rule, Rule::DeniedBy { index: 0, sid: alice(), mask: M::FILE_WRITE_DATA });
    assert_eq!(check(&deny_first, &token(alice(), 0), M::FILE_READ_DATA).granted, M::FILE_READ_DATA);
    assert_eq!(check(&deny_first, &token(alice(), 0), M::MAXIMUM_ALLOWED).granted, M::FILE_ALL_ACCESS & !M::FILE_WRITE_DATA);
    // Non-canonical order: the allow comes first and wins.
    let allow_first = sd(bob(), Some(vec![Ace::allowed(everyone, M::FILE_ALL_ACCESS, 0), Ace::denied(alice(), M::FILE_WRITE_DATA, 0)]));
    assert!(check(&allow_first, &token(alice(), 0), M::FILE_WRITE_DATA).is_granted());
    assert_eq!(check(&allow_first, &token(alice(), 0), M::MAXIMUM_ALLOWED).granted, M::FILE_ALL_ACCESS);
}

#[test]
fn inherit_only_and_foreign_aces_are_skipped() {
    let d = sd(
        bob(),
        Some(vec![
            Ace::denied(well_known::everyone(), M::FILE_ALL_ACCESS, ace_flags::INHERIT_ONLY | ace_flags::OBJECT_INHERIT),
            Ace::allowed(bob(), M::FILE_ALL_ACCESS, 0),
            Ace::allowed(staff(), M::FILE_GENERIC_READ, 0),
        ]),
    );
    assert!(check(&d, &token(alice(), 0), M::GENERIC_READ).is_granted());
    assert!(!check(&d, &token(alice(), 0), M::FILE_WRITE_DATA).is_granted());
}

#[test]
fn owner_rights_replace_implicit_rights() {
    let d = sd(alice(), Some(vec![Ace::allowed(well_known::owner_rights(), M::FILE_READ_DATA, 0)]));
    let t = token(alice(), 0);
    assert_eq!(check(&d, &t, M::MAXIMUM_ALLOWED).granted, M::FILE_READ_DATA);
    assert!(!check(&d, &t, M::READ_CONTROL).is_granted());
    // Not the owner: OWNER RIGHTS does not apply.
    assert!(!check(&d, &token(bob(), 0), M::FILE_READ_DATA).is_granted());
    // A deny for OWNER RIGHTS takes what a later allow would give.
    let deny = sd(
        alice(),
        Some(vec![Ace::denied(well_known::owner_rights(), M::WRITE_DAC, 0), Ace::allowed(alice(), M::FILE_ALL_ACCESS, 0)]),
    );
    assert_eq!(check(&deny, &t, M::MAXIMUM_ALLOWED).granted, M::FILE_ALL_ACCESS & !M::WRITE_DAC);
    // An inherit-only OWNER RIGHTS ACE does not replace anything.
    let io = sd(alice(), Some(vec![Ace::allowed(well_known::owner_rights(), M::FILE_READ_DATA, ace_flags::INHERIT_ONLY)]));
    assert_eq!(check(&io, &t, M::MAXIMUM_ALLOWED).granted, OWNER_IMPLICIT);
}

#[test]
fn owner_implicit_rights_survive_deny() {
    let d = sd(alice(), Some(vec![Ace::denied(well_known::everyone(), M::FILE_ALL_ACCESS, 0)]));
    assert_eq!(check(&d, &token(alice(), 0), M::MAXIMUM_ALLOWED).granted, OWNER_IMPLICIT);
    assert!(check(&d, &token(alice(), 0), M::WRITE_DAC).is_granted());
    assert!(!check(&d, &token(bob(), 0), M::MAXIMUM_ALLOWED).is_granted());
}

#[test]
fn privileges() {
    let d = sd(bob(), Some(vec![Ace::denied(well_known::everyone(), M::FILE_ALL_ACCESS, 0)]));
    let plain = token(alice(), 0);
    let r = check(&d, &plain, M::ACCESS_SYSTEM_SECURITY);
    assert_eq!((r.status, r.rule), (NtStatus::PRIVILEGE_NOT_HELD, Rule::PrivilegeNotHeld));
    let sec = token(alice(), privilege::SECURITY);
    assert_eq!(check(&d, &sec, M::ACCESS_SYSTEM_SECURITY).granted, M::ACCESS_SYSTEM_SECURITY);
    // MAXIMUM_ALLOWED never includes ACCESS_SYSTEM_SECURITY unless asked for.
    assert!(!check(&d, &sec, M::MAXIMUM_ALLOWED).is_granted());
    let own = token(alice(), privilege::TAKE_OWNERSHIP);
    assert!(check(&d, &own, M::WRITE_OWNER).is_granted());
    assert!(!check(&d, &own, M::WRITE_DAC).is_granted());
    let backup = token(alice(), privilege::BACKUP | privilege::RESTORE);
    assert!(!check(&d, &backup, M::FILE_READ_DATA).is_granted());
    let with_intent = |desired| {
        access_check(&d, &AccessRequest { token: &backup, desired, mapping: &GenericMapping::FILE, backup_intent: true })
    };
    assert!(with_intent(M::GENERIC_READ).is_granted());
    assert!(with_intent(M::GENERIC_WRITE | M::DELETE | M::WRITE_DAC).is_granted());
}

#[test]
fn groups_and_generic_bits_in_aces() {
    let d = sd(bob(), Some(vec![Ace::allowed(staff(), M::GENERIC_READ | M::GENERIC_EXECUTE, 0)]));
    let t = token(alice(), 0);
    assert!(check(&d, &t, M::FILE_READ_DATA | M::FILE_EXECUTE).is_granted());
    assert_eq!(check(&d, &t, M::MAXIMUM_ALLOWED).granted, M::FILE_GENERIC_READ | M::FILE_GENERIC_EXECUTE);
    assert!(!check(&d, &t, M::GENERIC_WRITE).is_granted());
}

#[test]
fn maximum_allowed_with_specific_bits() {
    let d = sd(bob(), Some(vec![Ace::allowed(alice(), M::FILE_GENERIC_READ, 0)]));
    let t = token(alice(), 0);
    assert_eq!(check(&d, &t, M::MAXIMUM_ALLOWED | M::FILE_READ_DATA).granted, M::FILE_GENERIC_READ);
    assert!(!check(&d, &t, M::MAXIMUM_ALLOWED | M::DELETE).is_granted());
    assert_eq!(maximal_access(&d, &t, &GenericMapping::FILE), M::FILE_GENERIC_READ);
}

mod model {
    //! The reference model: a right is granted when the owner holds it implicitly or
    //! the first applicable effective ACE naming it is an allow.
    use super::*;
    use proptest::prelude::*;

    const RIGHTS: [u32; 8] = [
        M::FILE_READ_DATA,
        M::FILE_WRITE_DATA,
        M::FILE_APPEND_DATA,
        M::DELETE,
        M::READ_CONTROL,
        M::WRITE_DAC,
        M::WRITE_OWNER,
        M::SYNCHRONIZE,
    ];

    fn sids() -> Vec<Sid> {
        vec![alice(), bob(), staff(), well_known::everyone(), well_known::owner_rights()]
    }

    fn model_rights(sd: &SecurityDescriptor, t: &Token) -> u32 {
        let acl = sd.dacl.as_ref().unwrap();
        let is_owner = sd.owner.as_ref().is_some_and(|o| t.contains(o));
        let applies = |a: &Ace| {
            let (_, sid) = a.mask_sid().unwrap();
            !a.is_inherit_only() && (t.contains(sid) || (is_owner && *sid == well_known::owner_rights()))
        };
        let owner_rights_ace =
            acl.aces.iter().any(|a| !a.is_inherit_only() && *a.mask_sid().unwrap().1 == well_known::owner_rights());
        let mut out = 0;
        for bit in RIGHTS {
            let implicit = is_owner && !owner_rights_ace && OWNER_IMPLICIT & bit != 0;
            let first = acl.aces.iter().find(|a| applies(a) && a.mask_sid().unwrap().0 & bit != 0);
            if implicit || first.is_some_and(|a| a.ace_type == 0) {
                out |= bit;
            }
        }
        out
    }

    fn arb_ace() -> impl Strategy<Value = Ace> {
        (any::<bool>(), 0usize..5, prop::sample::subsequence(RIGHTS.to_vec(), 1..4), any::<bool>()).prop_map(
            |(deny, who, rights, io)| {
                let mask = rights.iter().fold(0, |m, r| m | r);
                let flags = if io { ace_flags::INHERIT_ONLY | ace_flags::OBJECT_INHERIT } else { 0 };
                let sid = sids()[who].clone();
                if deny { Ace::denied(sid, mask, flags) } else { Ace::allowed(sid, mask, flags) }
            },
        )
    }

    proptest! {
        #[test]
        fn check_agrees_with_model(
            aces in prop::collection::vec(arb_ace(), 0..8),
            owner in 0usize..3,
            user in 0usize..2,
            desired in prop::sample::subsequence(RIGHTS.to_vec(), 1..4),
        ) {
            let d = sd(sids()[owner].clone(), Some(aces));
            let t = token(sids()[user].clone(), 0);
            let want = RIGHTS.iter().fold(0, |m, r| m | r);
            let model = model_rights(&d, &t);
            let max = check(&d, &t, M::MAXIMUM_ALLOWED);
            prop_assert_eq!(max.maximal & want, model);
            let desired = desired.iter().fold(0, |m, r| m | r);
            let r = check(&d, &t, desired);
            prop_assert_eq!(r.is_granted(), desired & !model == 0);
            if r.is_granted() {
                prop_assert_eq!(r.granted, desired);
            }
            // The encoded descriptor parses back to itself.
            let bytes = d.encode(crate::descriptor::info::ALL).unwrap();
            prop_assert_eq!(SecurityDescriptor::parse(&bytes).unwrap(), d);
        }

        #[test]
        fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = SecurityDescriptor::parse(&bytes);
        }
    }
}
