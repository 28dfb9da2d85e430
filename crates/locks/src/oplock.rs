//! Oplock state of one open (MS-SMB2 3.3.1.10 Open.OplockLevel / Open.OplockState)
//! and the acknowledgment rules of MS-SMB2 3.3.5.22.1.

use crate::caching::{LeaseState, OplockLevel};
use opportune_types::NtStatus;
use std::time::Instant;

/// An open's oplock: held, or breaking with a notification outstanding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oplock {
    /// Open.OplockState = Held at this level (LEVEL_II, EXCLUSIVE or BATCH).
    Held(OplockLevel),
    /// Open.OplockState = Breaking: a break to `to` (LEVEL_II or NONE) was sent and an
    /// acknowledgment is awaited until `deadline` (MS-SMB2 3.3.2.1 ack timer).
    Breaking { from: OplockLevel, to: OplockLevel, deadline: Instant },
}

impl Oplock {
    /// Caching currently in force (a breaking oplock keeps its old level until acked).
    pub fn bits(&self) -> LeaseState {
        match *self {
            Oplock::Held(l) => l.caching(),
            Oplock::Breaking { from, .. } => from.caching(),
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        match *self {
            Oplock::Held(_) => None,
            Oplock::Breaking { deadline, .. } => Some(deadline),
        }
    }
}

/// Result of an acknowledgment: the new level (NONE means the oplock is gone) and the
/// status to answer with. A protocol error still changes state (MS-SMB2 3.3.5.22.1:
/// "set Open.OplockLevel to NONE" before failing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckResult {
    pub new_level: OplockLevel,
    pub status: NtStatus,
}

/// MS-SMB2 3.3.5.22.1 "Processing an Oplock Acknowledgment".
///
/// * not breaking (`None` or Held): STATUS_INVALID_OPLOCK_PROTOCOL, state unchanged
///   (smbtorture smb2.oplock.levelii500 acks an unsolicited II→none break);
/// * acked level above the level the server broke to: STATUS_INVALID_OPLOCK_PROTOCOL and
///   the oplock is dropped to NONE;
/// * acked level LEVEL_II or NONE at or below the target: granted as acked.
pub fn acknowledge(current: Option<Oplock>, acked: OplockLevel) -> AckResult {
    match current {
        Some(Oplock::Breaking { to, .. }) => {
            let ok = match acked {
                OplockLevel::None => true,
                OplockLevel::LevelII => to == OplockLevel::LevelII,
                _ => false,
            };
            if ok {
                AckResult { new_level: acked, status: NtStatus::SUCCESS }
            } else {
                AckResult { new_level: OplockLevel::None, status: NtStatus::INVALID_OPLOCK_PROTOCOL }
            }
        }
        Some(Oplock::Held(l)) => AckResult { new_level: l, status: NtStatus::INVALID_OPLOCK_PROTOCOL },
        None => AckResult { new_level: OplockLevel::None, status: NtStatus::INVALID_OPLOCK_PROTOCOL },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_rules() {
        let t = Instant::now();
        let to_two = Some(Oplock::Breaking { from: OplockLevel::Batch, to: OplockLevel::LevelII, deadline: t });
        let to_none = Some(Oplock::Breaking { from: OplockLevel::Exclusive, to: OplockLevel::None, deadline: t });
        assert_eq!(acknowledge(to_two, OplockLevel::LevelII), AckResult { new_level: OplockLevel::LevelII, status: NtStatus::SUCCESS });
        assert_eq!(acknowledge(to_two, OplockLevel::None).new_level, OplockLevel::None);
        assert_eq!(acknowledge(to_none, OplockLevel::LevelII), AckResult { new_level: OplockLevel::None, status: NtStatus::INVALID_OPLOCK_PROTOCOL });
        assert_eq!(acknowledge(to_two, OplockLevel::Batch).status, NtStatus::INVALID_OPLOCK_PROTOCOL);
        assert_eq!(acknowledge(Some(Oplock::Held(OplockLevel::LevelII)), OplockLevel::None).status, NtStatus::INVALID_OPLOCK_PROTOCOL);
        assert_eq!(acknowledge(None, OplockLevel::None).status, NtStatus::INVALID_OPLOCK_PROTOCOL);
    }
}
