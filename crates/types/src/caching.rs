//! Client caching vocabulary: lease states (MS-SMB2 2.2.13.2.8 LeaseState), oplock
//! levels (MS-SMB2 2.2.13 RequestedOplockLevel, 2.2.14 OplockLevel), the identifiers
//! leases are found by (MS-SMB2 3.3.1.7 Connection.ClientGuid, 3.3.1.11 LeaseKey), and
//! the one mapping between oplocks and leases: MS-FSA 2.1.1.10 models both as one
//! oplock with READ, WRITE and HANDLE caching, so Level II caches as R, exclusive as RW
//! and batch as RWH.

use std::fmt;
use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Not, Sub};

/// A lease state: a set of SMB2_LEASE_READ_CACHING, _HANDLE_CACHING and
/// _WRITE_CACHING (MS-SMB2 2.2.13.2.8). Other bits of the wire field are dropped by
/// [`LeaseState::from_wire`] (MS-SMB2 3.3.5.9.8: the server ignores them).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct LeaseState(u32);

impl LeaseState {
    pub const NONE: LeaseState = LeaseState(0);
    /// SMB2_LEASE_READ_CACHING.
    pub const R: LeaseState = LeaseState(0x1);
    /// SMB2_LEASE_HANDLE_CACHING.
    pub const H: LeaseState = LeaseState(0x2);
    /// SMB2_LEASE_WRITE_CACHING.
    pub const W: LeaseState = LeaseState(0x4);
    pub const RH: LeaseState = LeaseState(0x3);
    pub const RW: LeaseState = LeaseState(0x5);
    pub const RWH: LeaseState = LeaseState(0x7);

    /// The caching bits of a wire LeaseState / CurrentLeaseState / NewLeaseState field.
    pub const fn from_wire(bits: u32) -> LeaseState {
        LeaseState(bits & 0x7)
    }

    /// The value of the wire field.
    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Every caching kind of `other` is in `self`.
    pub const fn contains(self, other: LeaseState) -> bool {
        self.0 & other.0 == other.0
    }

    /// Some caching kind is in both.
    pub const fn intersects(self, other: LeaseState) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether this is one of the states a lease may be in on a file: none, R, RH, RW
    /// or RWH (W without R, and H without R, are not; MS-SMB2 3.3.5.9.8).
    pub const fn is_valid_for_file(self) -> bool {
        matches!(self.0, 0x0 | 0x1 | 0x3 | 0x5 | 0x7)
    }
}

impl BitOr for LeaseState {
    type Output = LeaseState;
    fn bitor(self, o: LeaseState) -> LeaseState {
        LeaseState(self.0 | o.0)
    }
}

impl BitOrAssign for LeaseState {
    fn bitor_assign(&mut self, o: LeaseState) {
        self.0 |= o.0;
    }
}

impl BitAnd for LeaseState {
    type Output = LeaseState;
    fn bitand(self, o: LeaseState) -> LeaseState {
        LeaseState(self.0 & o.0)
    }
}

impl BitAndAssign for LeaseState {
    fn bitand_assign(&mut self, o: LeaseState) {
        self.0 &= o.0;
    }
}

impl Sub for LeaseState {
    type Output = LeaseState;
    /// The caching kinds of `self` that are not in `o`.
    fn sub(self, o: LeaseState) -> LeaseState {
        LeaseState(self.0 & !o.0)
    }
}

impl Not for LeaseState {
    type Output = LeaseState;
    fn not(self) -> LeaseState {
        LeaseState(!self.0 & 0x7)
    }
}

/// As smbtorture prints lease states: "RWH", "RH", "" for none.
impl fmt::Display for LeaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [(LeaseState::R, "R"), (LeaseState::W, "W"), (LeaseState::H, "H")] {
            if self.contains(bit) {
                f.write_str(c)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for LeaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() { f.write_str("LeaseState(NONE)") } else { write!(f, "LeaseState({self})") }
    }
}

/// An oplock level (MS-SMB2 2.2.13 RequestedOplockLevel, 2.2.14 OplockLevel, 2.2.23.1
/// OPLOCK_BREAK OplockLevel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OplockLevel {
    /// SMB2_OPLOCK_LEVEL_NONE.
    None,
    /// SMB2_OPLOCK_LEVEL_II.
    LevelII,
    /// SMB2_OPLOCK_LEVEL_EXCLUSIVE.
    Exclusive,
    /// SMB2_OPLOCK_LEVEL_BATCH.
    Batch,
    /// SMB2_OPLOCK_LEVEL_LEASE: the caching is in a lease create context.
    Lease,
}

impl OplockLevel {
    /// The level a wire byte names; `None` for a value MS-SMB2 does not define.
    pub const fn from_wire(v: u8) -> Option<OplockLevel> {
        Some(match v {
            0x00 => OplockLevel::None,
            0x01 => OplockLevel::LevelII,
            0x08 => OplockLevel::Exclusive,
            0x09 => OplockLevel::Batch,
            0xFF => OplockLevel::Lease,
            _ => return None,
        })
    }

    /// The wire byte.
    pub const fn to_wire(self) -> u8 {
        match self {
            OplockLevel::None => 0x00,
            OplockLevel::LevelII => 0x01,
            OplockLevel::Exclusive => 0x08,
            OplockLevel::Batch => 0x09,
            OplockLevel::Lease => 0xFF,
        }
    }

    /// The caching an oplock of this level amounts to: Level II = R, exclusive = RW,
    /// batch = RWH (MS-FSA 2.1.1.10); none for NONE and LEASE (a lease's caching is its
    /// state).
    pub const fn caching(self) -> LeaseState {
        match self {
            OplockLevel::LevelII => LeaseState::R,
            OplockLevel::Exclusive => LeaseState::RW,
            OplockLevel::Batch => LeaseState::RWH,
            OplockLevel::None | OplockLevel::Lease => LeaseState::NONE,
        }
    }

    /// The highest oplock level whose caching `state` covers: the inverse of
    /// [`OplockLevel::caching`] on its values (R or RH is Level II: an oplock cannot
    /// cache handles without writes).
    pub const fn covered_by(state: LeaseState) -> OplockLevel {
        if state.contains(LeaseState::RWH) {
            OplockLevel::Batch
        } else if state.contains(LeaseState::RW) {
            OplockLevel::Exclusive
        } else if state.contains(LeaseState::R) {
            OplockLevel::LevelII
        } else {
            OplockLevel::None
        }
    }
}

/// Connection.ClientGuid (MS-SMB2 3.3.1.7): a client's leases live in the lease table of
/// its client guid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ClientGuid(pub [u8; 16]);

/// SMB2_CREATE_REQUEST_LEASE LeaseKey (MS-SMB2 2.2.13.2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LeaseKey(pub [u8; 16]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_states_combine_and_print_as_smbtorture_does() {
        assert_eq!(LeaseState::R | LeaseState::W | LeaseState::H, LeaseState::RWH);
        assert_eq!(LeaseState::RWH - LeaseState::W, LeaseState::RH);
        assert_eq!(LeaseState::RWH & LeaseState::RH, LeaseState::RH);
        assert_eq!(!LeaseState::R, LeaseState::W | LeaseState::H);
        assert!(LeaseState::RWH.contains(LeaseState::RH) && !LeaseState::RH.contains(LeaseState::W));
        assert!(LeaseState::RH.intersects(LeaseState::H) && !LeaseState::R.intersects(LeaseState::H));
        assert_eq!(LeaseState::from_wire(0xFFFF_FFFF), LeaseState::RWH, "other bits dropped");
        let names: Vec<String> = (0..8).map(|b| LeaseState::from_wire(b).to_string()).collect();
        assert_eq!(names, ["", "R", "H", "RH", "W", "RW", "WH", "RWH"]);
        assert_eq!(format!("{:?}", LeaseState::NONE), "LeaseState(NONE)");
        let valid: Vec<u32> = (0..8).filter(|&b| LeaseState::from_wire(b).is_valid_for_file()).collect();
        assert_eq!(valid, [0, 1, 3, 5, 7]);
    }

    #[test]
    fn oplock_levels_round_trip_and_map_to_one_caching() {
        for v in 0..=255u8 {
            if let Some(l) = OplockLevel::from_wire(v) {
                assert_eq!(l.to_wire(), v);
            }
        }
        assert_eq!(OplockLevel::from_wire(0x02), None);
        for l in [OplockLevel::None, OplockLevel::LevelII, OplockLevel::Exclusive, OplockLevel::Batch] {
            assert_eq!(OplockLevel::covered_by(l.caching()), l, "{l:?}");
        }
        assert_eq!(OplockLevel::covered_by(LeaseState::RH), OplockLevel::LevelII);
        assert_eq!(OplockLevel::covered_by(LeaseState::W), OplockLevel::None);
        assert_eq!(OplockLevel::Lease.caching(), LeaseState::NONE);
    }
}
