use super::*;
use opportune_types::AccessMask as M;

fn alice() -> Sid {
    Sid::new(5, &[21, 9, 9, 9, 1000])
}
fn staff() -> Sid {
    Sid::new(5, &[21, 9, 9, 9, 2000])
}
fn token() -> Token {
    Token { user: alice(), owner: alice(), primary_group: staff(), groups: vec![well_known::everyone()], privileges: 0 }
}
fn parent(aces: Vec<Ace>) -> SecurityDescriptor {
    SecurityDescriptor {
        control: control::SELF_RELATIVE | control::DACL_PRESENT | control::DACL_AUTO_INHERITED,
        owner: Some(well_known::administrators()),
        group: Some(well_known::administrators()),
        sacl: None,
        dacl: Some(Acl::new(aces)),
    }
}
fn default_dacl() -> Acl {
    Acl::new(vec![Ace::allowed(alice(), M::FILE_ALL_ACCESS, 0)])
}
fn new(parent: Option<&SecurityDescriptor>, creator: Option<&SecurityDescriptor>, is_container: bool) -> SecurityDescriptor {
    let (t, d) = (token(), default_dacl());
    create_descriptor(&NewObject { parent, creator, is_container, token: &t, default_dacl: &d, mapping: &GenericMapping::FILE })
}
fn aces(sd: &SecurityDescriptor) -> Vec<(u8, u8, u32, Sid)> {
    sd.dacl
        .as_ref()
        .unwrap()
        .aces
        .iter()
        .map(|a| {
            let (m, s) = a.mask_sid().unwrap();
            (a.ace_type, a.flags, m, s.clone())
        })
        .collect()
}

#[test]
fn nothing_inheritable_gives_the_default() {
    let p = parent(vec![Ace::allowed(well_known::everyone(), M::FILE_ALL_ACCESS, 0)]);
    for is_dir in [false, true] {
        let d = new(Some(&p), None, is_dir);
        assert_eq!(d.dacl, Some(default_dacl()));
        assert_eq!((d.owner, d.group), (Some(alice()), Some(staff())));
        assert_eq!(d.control & control::DACL_AUTO_INHERITED, 0);
    }
    assert_eq!(new(None, None, false).dacl, Some(default_dacl()));
}

#[test]
fn object_and_container_inherit() {
    let e = well_known::everyone();
    let p = parent(vec![
        Ace::allowed(e.clone(), M::FILE_READ_DATA, f::OBJECT_INHERIT),
        Ace::allowed(e.clone(), M::FILE_WRITE_DATA, f::CONTAINER_INHERIT),
        Ace::denied(e.clone(), M::DELETE, f::OBJECT_INHERIT | f::CONTAINER_INHERIT | f::INHERIT_ONLY),
        Ace::allowed(e.clone(), M::FILE_EXECUTE, f::OBJECT_INHERIT | f::NO_PROPAGATE_INHERIT),
    ]);
    let file = new(Some(&p), None, false);
    assert_eq!(
        aces(&file),
        vec![
            (0, f::INHERITED, M::FILE_READ_DATA, e.clone()),
            (1, f::INHERITED, M::DELETE, e.clone()),
            (0, f::INHERITED, M::FILE_EXECUTE, e.clone()),
        ]
    );
    assert_ne!(file.control & control::DACL_AUTO_INHERITED, 0);
    let dir = new(Some(&p), None, true);
    assert_eq!(
        aces(&dir),
        vec![
            (0, f::OBJECT_INHERIT | f::INHERIT_ONLY | f::INHERITED, M::FILE_READ_DATA, e.clone()),
            (0, f::CONTAINER_INHERIT | f::INHERITED, M::FILE_WRITE_DATA, e.clone()),
            (1, f::OBJECT_INHERIT | f::CONTAINER_INHERIT | f::INHERITED, M::DELETE, e.clone()),
        ]
    );
}

#[test]
fn no_propagate_stops_after_one_level() {
    let e = well_known::everyone();
    let p = parent(vec![Ace::allowed(e.clone(), M::FILE_READ_DATA, f::CONTAINER_INHERIT | f::NO_PROPAGATE_INHERIT)]);
    let child = new(Some(&p), None, true);
    assert_eq!(aces(&child), vec![(0, f::INHERITED, M::FILE_READ_DATA, e)]);
    // Nothing inheritable in the child: the grandchild gets the default.
    assert_eq!(new(Some(&child), None, true).dacl, Some(default_dacl()));
}

#[test]
fn creator_owner_and_generic_rights_split_on_containers() {
    let co = well_known::creator_owner();
    let cg = well_known::creator_group();
    let p = parent(vec![
        Ace::allowed(co.clone(), M::GENERIC_ALL, f::OBJECT_INHERIT | f::CONTAINER_INHERIT),
        Ace::allowed(cg.clone(), M::GENERIC_READ, f::OBJECT_INHERIT),
    ]);
    let file = new(Some(&p), None, false);
    assert_eq!(
        aces(&file),
        vec![(0, f::INHERITED, M::FILE_ALL_ACCESS, alice()), (0, f::INHERITED, M::FILE_GENERIC_READ, staff())]
    );
    let dir = new(Some(&p), None, true);
    assert_eq!(
        aces(&dir),
        vec![
            (0, f::INHERITED, M::FILE_ALL_ACCESS, alice()),
            (0, f::OBJECT_INHERIT | f::CONTAINER_INHERIT | f::INHERIT_ONLY | f::INHERITED, M::GENERIC_ALL, co),
            (0, f::OBJECT_INHERIT | f::INHERIT_ONLY | f::INHERITED, M::GENERIC_READ, cg),
        ]
    );
}

#[test]
fn creator_dacl_merges_unless_protected() {
    let e = well_known::everyone();
    let p = parent(vec![Ace::allowed(e.clone(), M::FILE_READ_DATA, f::OBJECT_INHERIT)]);
    let mut c = parent(vec![Ace::allowed(alice(), M::FILE_ALL_ACCESS, 0)]);
    c.owner = None;
    c.group = None;
    let merged = new(Some(&p), Some(&c), false);
    assert_eq!(aces(&merged), vec![(0, 0, M::FILE_ALL_ACCESS, alice()), (0, f::INHERITED, M::FILE_READ_DATA, e)]);
    assert_eq!(merged.owner, Some(alice()));
    c.control |= control::DACL_PROTECTED;
    let protected = new(Some(&p), Some(&c), false);
    assert_eq!(aces(&protected), vec![(0, 0, M::FILE_ALL_ACCESS, alice())]);
    assert_ne!(protected.control & control::DACL_PROTECTED, 0);
    // A NULL creator DACL stays NULL.
    let null = SecurityDescriptor { control: control::SELF_RELATIVE | control::DACL_PRESENT, ..Default::default() };
    assert!(new(Some(&p), Some(&null), false).is_null_dacl());
    // A creator owner is kept.
    let owned = SecurityDescriptor { owner: Some(staff()), ..Default::default() };
    assert_eq!(new(None, Some(&owned), false).owner, Some(staff()));
}

#[test]
fn sacl_inherits_like_the_dacl() {
    let audit = Ace { ace_type: 2, flags: f::OBJECT_INHERIT | f::FAILED_ACCESS, body: AceBody::Basic { mask: M::DELETE, sid: well_known::everyone() } };
    let mut p = parent(vec![]);
    p.sacl = Some(Acl::new(vec![audit]));
    p.control |= control::SACL_PRESENT | control::SACL_AUTO_INHERITED;
    let d = new(Some(&p), None, false);
    let sacl = d.sacl.unwrap();
    assert_eq!(sacl.aces[0].flags, f::FAILED_ACCESS | f::INHERITED);
    assert_ne!(d.control & control::SACL_PRESENT, 0);
    assert_eq!(new(Some(&parent(vec![])), None, false).sacl, None);
}

#[test]
fn parent_not_auto_inherited_gives_plain_aces() {
    let e = well_known::everyone();
    let mut p = parent(vec![Ace::allowed(e.clone(), M::FILE_READ_DATA, f::OBJECT_INHERIT | f::CONTAINER_INHERIT)]);
    p.control &= !control::DACL_AUTO_INHERITED;
    let file = new(Some(&p), None, false);
    assert_eq!(aces(&file), vec![(0, 0, M::FILE_READ_DATA, e.clone())]);
    assert_eq!(file.control & control::DACL_AUTO_INHERITED, 0);
    let dir = new(Some(&p), None, true);
    assert_eq!(aces(&dir), vec![(0, f::OBJECT_INHERIT | f::CONTAINER_INHERIT, M::FILE_READ_DATA, e)]);
}
