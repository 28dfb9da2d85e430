//! The break trace (issue 12): every oplock and lease break as a [`BreakRecord`], kept for
//! `opportune status --breaks` and streamed live to `opportune trace`.

mod record;
mod tracer;

pub use record::{WallMs, guid, lease_letters, oplock_name, BreakRecord, Holder, Outcome, Party, Trigger, Waited, MAX_WAITERS};
pub use tracer::{HolderKey, NewBreak, PendingBreak, Tracer, WaitKey};

/// Wall-clock time `t` (read from the server's clock) as milliseconds since the Unix
/// epoch, for records.
pub fn wall_ms(t: std::time::SystemTime) -> WallMs {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
