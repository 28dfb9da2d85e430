//! Share-mode checks (MS-FSA 2.1.5.1.2.1 "Algorithm to Check Sharing Access to an
//! Existing Stream or Directory") and the "stat open" classification used by the
//! oplock rules (MS-FSA 2.1.4.12: opens that ask only for attribute access do not
//! break oplocks).

use opportune_types::{AccessMask, ShareAccess};

/// Access bits that make an open take part in sharing checks (MS-FSA 2.1.5.1.2.1:
/// FILE_EXECUTE, FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA, DELETE).
pub const SHARE_RELEVANT_ACCESS: u32 = AccessMask::FILE_EXECUTE
    | AccessMask::FILE_READ_DATA
    | AccessMask::FILE_WRITE_DATA
    | AccessMask::FILE_APPEND_DATA
    | AccessMask::DELETE;

/// Whether an open with this (generic-mapped) access takes part in share checks at all.
/// An open without any of [`SHARE_RELEVANT_ACCESS`] neither is refused for sharing nor
/// refuses anyone, whatever its own ShareAccess (MS-FSA 2.1.5.1.2.1).
pub fn takes_part(access: AccessMask) -> bool {
    access.intersects(SHARE_RELEVANT_ACCESS)
}

/// A "stat open": only FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES and SYNCHRONIZE.
/// Such opens do not break oplocks or leases (MS-FSA 2.1.4.12, open without data
/// access; smbtorture smb2.oplock.statopen1 lists exactly these three rights).
pub fn is_stat_open(access: AccessMask) -> bool {
    const STAT: u32 =
        AccessMask::FILE_READ_ATTRIBUTES | AccessMask::FILE_WRITE_ATTRIBUTES | AccessMask::SYNCHRONIZE;
    access.0 & !STAT == 0
}

/// A stat open as far as leases are concerned: [`is_stat_open`] plus READ_CONTROL.
/// Such an open neither breaks a lease nor keeps a lease from being granted in full
/// (smbtorture smb2.lease.statopen3 / statopen4; for oplocks READ_CONTROL does break,
/// smb2.oplock.statopen1).
pub fn is_lease_stat_open(access: AccessMask) -> bool {
    is_stat_open(AccessMask(access.0 & !AccessMask::READ_CONTROL))
}

/// The access and share mode of one open, as far as sharing is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShareEntry {
    pub access: AccessMask,
    pub share: ShareAccess,
}

/// MS-FSA 2.1.5.1.2.1, both directions: does a new open conflict with an existing one?
///
/// The new open is refused when it asks for access the existing open does not share,
/// or when it does not share access the existing open already has.
pub fn conflicts(existing: ShareEntry, new: ShareEntry) -> bool {
    if !takes_part(existing.access) || !takes_part(new.access) {
        return false;
    }
    denies(existing.share, new.access) || denies(new.share, existing.access)
}

/// Whether `share` (of one open) refuses `access` (of the other).
fn denies(share: ShareAccess, access: AccessMask) -> bool {
    (access.is_data_read() && !share.allows_read())
        || (access.is_data_write() && !share.allows_write())
        || (access.is_delete() && !share.allows_delete())
}

/// Checks a new open against every existing open of the file (MS-FSA 2.1.5.1.2.1:
/// "For each ExistingOpen in Open.File.OpenList").
pub fn check<'a>(existing: impl IntoIterator<Item = &'a ShareEntry>, new: ShareEntry) -> bool {
    existing.into_iter().all(|e| !conflicts(*e, new))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RD: u32 = AccessMask::FILE_READ_DATA;
    const WD: u32 = AccessMask::FILE_WRITE_DATA;
    const AD: u32 = AccessMask::FILE_APPEND_DATA;
    const EX: u32 = AccessMask::FILE_EXECUTE;
    const DEL: u32 = AccessMask::DELETE;
    const RA: u32 = AccessMask::FILE_READ_ATTRIBUTES;
    const WA: u32 = AccessMask::FILE_WRITE_ATTRIBUTES;
    const SYN: u32 = AccessMask::SYNCHRONIZE;

    fn share(s: &str) -> ShareAccess {
        let mut v = 0;
        for c in s.chars() {
            v |= match c {
                'R' => ShareAccess::READ,
                'W' => ShareAccess::WRITE,
                'D' => ShareAccess::DELETE,
                _ => panic!("bad share letter"),
            };
        }
        ShareAccess(v)
    }

    /// First open: FILE_ALL_ACCESS with the given share mode; second open: the given access
    /// with share RWD. Expected outcomes as observed against Windows by smbtorture
    /// smb2.sharemode.sharemode-access.
    #[test]
    fn all_access_holder_matrix() {
        let cases: &[(&str, u32, bool)] = &[
            ("", RD, false),
            ("", RA | WA | SYN, true),
            ("", AccessMask::READ_CONTROL | AccessMask::WRITE_DAC, true),
            ("R", RD, true),
            ("R", RD | WD, false),
            ("R", RD | AD, false),
            ("R", RD | EX, true),
            ("R", RD | DEL, false),
            ("R", RD | AccessMask::FILE_WRITE_EA, true),
            ("W", WD, true),
            ("W", WD | RD, false),
            ("W", WD | AD, true),
            ("W", WD | EX, false),
            ("W", WD | DEL, false),
            ("RW", RD | WD, true),
            ("RW", RD | DEL, false),
            ("RD", RD | DEL, true),
            ("RD", RD | AD, false),
            ("WD", WD | DEL, true),
            ("WD", WD | RD, false),
            ("RWD", RD | WD | DEL, true),
            ("RWD", AccessMask::FILE_ALL_ACCESS, true),
            ("D", DEL, true),
            ("D", DEL | RD, false),
        ];
        for &(mode, access, ok) in cases {
            let first = ShareEntry { access: AccessMask(AccessMask::FILE_ALL_ACCESS), share: share(mode) };
            let second = ShareEntry { access: AccessMask(access), share: share("RWD") };
            assert_eq!(!conflicts(first, second), ok, "share {mode:?} access {access:#x}");
        }
    }

    /// The reverse direction (smbtorture smb2.sharemode.access-sharemode): the first open
    /// holds some access and shares everything; the second asks for everything with a
    /// restricted share mode and must be refused if it does not share the first's access.
    #[test]
    fn access_holder_matrix() {
        let all = AccessMask(AccessMask::FILE_ALL_ACCESS);
        let cases: &[(u32, &str, bool)] = &[
            (RD, "R", true),
            (RD, "W", false),
            (RD, "", false),
            (WD, "W", true),
            (AD, "W", true),
            (AD, "R", false),
            (EX, "R", true),
            (DEL, "D", true),
            (DEL, "RW", false),
            (RA | WA, "", true),
            (AccessMask::READ_CONTROL, "", true),
        ];
        for &(first_access, mode, ok) in cases {
            let first = ShareEntry { access: AccessMask(first_access), share: share("RWD") };
            let second = ShareEntry { access: all, share: share(mode) };
            assert_eq!(!conflicts(first, second), ok, "access {first_access:#x} share {mode:?}");
        }
    }

    #[test]
    fn stat_opens() {
        assert!(is_stat_open(AccessMask(RA | WA | SYN)));
        assert!(is_stat_open(AccessMask(0)));
        for bit in [RD, WD, EX, DEL, AccessMask::FILE_READ_EA, AccessMask::FILE_WRITE_EA, AccessMask::READ_CONTROL, AccessMask::WRITE_DAC, AccessMask::WRITE_OWNER] {
            assert!(!is_stat_open(AccessMask(bit | RA)), "{bit:#x}");
        }
    }

    /// smbtorture smb2.lease.statopen4's table.
    #[test]
    fn lease_stat_opens() {
        for bit in [RA, WA, SYN, AccessMask::READ_CONTROL] {
            assert!(is_lease_stat_open(AccessMask(bit)), "{bit:#x}");
        }
        for bit in [RD, WD, EX, DEL, AccessMask::FILE_READ_EA, AccessMask::FILE_WRITE_EA, AccessMask::WRITE_DAC, AccessMask::WRITE_OWNER] {
            assert!(!is_lease_stat_open(AccessMask(bit)), "{bit:#x}");
        }
    }

    #[test]
    fn check_all_existing() {
        let a = ShareEntry { access: AccessMask(RD), share: share("R") };
        let b = ShareEntry { access: AccessMask(RD), share: share("RW") };
        assert!(check([&a, &b], ShareEntry { access: AccessMask(RD), share: share("R") }));
        // b shares write, a does not.
        assert!(!check([&a, &b], ShareEntry { access: AccessMask(WD), share: share("RW") }));
    }
}
