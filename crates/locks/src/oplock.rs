//! Oplock state of one open (MS-SMB2 3.3.1.10 Open.OplockLevel / Open.OplockState)
//! and the acknowledgment rules of MS-SMB2 3.3.5.22.1.

use crate::caching::oplock_bits;
use opportune_types::NtStatus;
use opportune_types::create::oplock;
use std::time::Instant;

/// An open's oplock: held, or breaking with a notification outstanding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oplock {
    /// Open.OplockState = Held at this level (LEVEL_II, EXCLUSIVE or BATCH).
    Held(u8),
    /// Open.OplockState = Breaking: a break to `to` (LEVEL_II or NONE) was sent and an
    /// acknowledgment is awaited until `deadline` (MS-SMB2 3.3.2.1 ack timer).
    Breaking { from: u8, to: u8, deadline: Instant },
}

impl Oplock {
    /// Caching currently in force (a breaking oplock keeps its old level until acked).
    pub fn bits(&self) -> u32 {
        match *self {
            Oplock::Held(l) => oplock_bits(l),
            Oplock::Breaking { from, .. } => oplock_bits(from),
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
    pub new_level: u8,
    pub status: NtStatus,
}

/// MS-SMB2 3.3.5.22.1 "Processing an Oplock Acknowledgment".
///
/// * not breaking (`None` or Held): STATUS_INVALID_OPLOCK_PROTOCOL, state unchanged
///   (smbtorture smb2.oplock.levelii500 acks an unsolicited II→none break);
/// * acked level above the level the server broke to: STATUS_INVALID_OPLOCK_PROTOCOL and
///   the oplock is dropped to NONE;
/// * acked level LEVEL_II or NONE at or below the target: granted as acked.
pub fn acknowledge(current: Option<Oplock>, acked: u8) -> AckResult {
    match current {
        Some(Oplock::Breaking { to, .. }) => {
            let ok = match acked {
                oplock::NONE => true,
                oplock::LEVEL_II => to == oplock::LEVEL_II,
                _ => false,
            };
            if ok {
                AckResult { new_level: acked, status: NtStatus::SUCCESS }
            } else {
                AckResult { new_level: oplock::NONE, status: NtStatus::INVALID_OPLOCK_PROTOCOL }
            }
        }
        Some(Oplock::Held(l)) => AckResult { new_level: l, status: NtStatus::INVALID_OPLOCK_PROTOCOL },
        None => AckResult { new_level: oplock::NONE, status: NtStatus::INVALID_OPLOCK_PROTOCOL },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_rules() {
        let t = Instant::now();
        let to_two = Some(Oplock::Breaking { from: oplock::BATCH, to: oplock::LEVEL_II, deadline: t });
        let to_none = Some(Oplock::Breaking { from: oplock::EXCLUSIVE, to: oplock::NONE, deadline: t });
        assert_eq!(acknowledge(to_two, oplock::LEVEL_II), AckResult { new_level: oplock::LEVEL_II, status: NtStatus::SUCCESS });
        assert_eq!(acknowledge(to_two, oplock::NONE).new_level, oplock::NONE);
        assert_eq!(acknowledge(to_none, oplock::LEVEL_II), AckResult { new_level: oplock::NONE, status: NtStatus::INVALID_OPLOCK_PROTOCOL });
        assert_eq!(acknowledge(to_two, oplock::BATCH).status, NtStatus::INVALID_OPLOCK_PROTOCOL);
        assert_eq!(acknowledge(Some(Oplock::Held(oplock::LEVEL_II)), oplock::NONE).status, NtStatus::INVALID_OPLOCK_PROTOCOL);
        assert_eq!(acknowledge(None, oplock::NONE).status, NtStatus::INVALID_OPLOCK_PROTOCOL);
    }
}
