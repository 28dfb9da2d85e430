//! LOCK (MS-SMB2 3.3.5.14) and OPLOCK_BREAK acknowledgments (3.3.5.22).

use super::ctx::Ctx;
use super::reply::{empty_ok, HResult, Reply};
use crate::conn_state::BreakTarget;
use crate::pending::Waiting;
use opportune_locks::{LockElement, LockKind, LockOutcome};
use opportune_types::{LeaseState, NtStatus, OplockLevel};
use opportune_wire::file_ops::LockRequest;
use opportune_wire::oplock::{encode_lease_break_response, encode_oplock_break, BreakAck};

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = LockRequest::decode(ctx.msg)?;
    let dialect = ctx.conn.dialect();
    let open = ctx.open(req.file_id)?;
    let open_id = open.file_id.volatile;
    let slot = sequence_slot(open, dialect, req.lock_sequence);
    if let Some((index, number)) = slot {
        let seen = open.lock_sequences.get_or_insert_with(|| Box::new([None; 64]));
        if seen[index] == Some(number) {
            // A replay of a request that already succeeded: nothing more is done.
            return Ok(empty_ok());
        }
        seen[index] = None;
    }
    let result = lock(ctx, open_id, &req);
    if let (Some((index, number)), Ok(reply)) = (slot, &result)
        && reply.pending.is_none()
        && let Some(seen) = ctx.conn.opens.get_mut(&open_id).and_then(|o| o.lock_sequences.as_mut())
    {
        seen[index] = Some(number);
    }
    result
}

/// Lock sequence verification (MS-SMB2 3.3.5.14): for a resilient open from SMB 2.1 on,
/// and for a durable one from SMB 3.0 on (persistent handles and multichannel, which
/// also qualify, are not offered), LockSequence carries a 4-bit number and an index;
/// indexes 1 to 64 are checked. Returns the array slot and the number.
fn sequence_slot(open: &crate::open::Open, dialect: u16, lock_sequence: u32) -> Option<(usize, u8)> {
    use opportune_wire::negotiate::dialect::{SMB210, SMB300};
    let verify = (dialect >= SMB210 && open.resilient) || (dialect >= SMB300 && open.durable.is_some());
    let index = (lock_sequence >> 4) as usize;
    (verify && (1..=64).contains(&index)).then(|| (index - 1, (lock_sequence & 0xF) as u8))
}

/// The locks and unlocks of one request, through the lock core.
fn lock(ctx: &mut Ctx<'_>, open_id: u64, req: &LockRequest) -> HResult {
    let elements: Vec<LockElement> =
        req.locks.iter().map(|l| LockElement::from_wire(l.offset, l.length, l.flags)).collect();
    if !ctx.share()?.caching.locking {
        // The share's `locking = false`: well-formed requests succeed and nothing is recorded.
        if elements.iter().any(|e| e.kind == LockKind::Invalid) {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        return Ok(empty_ok());
    }
    let request = ctx.server.next_id();
    match ctx.server.locks.lock_range(open_id, request, &elements) {
        LockOutcome::Done(NtStatus::SUCCESS) => Ok(empty_ok()),
        LockOutcome::Done(status) => Err(status),
        LockOutcome::Pending => Ok(Reply::pending(Waiting::Lock { request })),
    }
}

/// Oplock break and lease break acknowledgments.
pub fn oplock_break(ctx: &mut Ctx<'_>) -> HResult {
    match BreakAck::decode(ctx.msg)? {
        BreakAck::Oplock { level, file_id } => {
            let open = ctx.open(file_id)?;
            let (open_id, fid) = (open.file_id.volatile, open.file_id);
            acknowledged(ctx, BreakTarget::Open(open_id));
            let granted = ctx.server.locks.ack_oplock(open_id, acked_oplock_level(level))?;
            let mut body = Vec::with_capacity(24);
            encode_oplock_break(&mut body, granted.to_wire(), fid);
            Ok(Reply::ok(body))
        }
        BreakAck::Lease { lease_key, state } => {
            let client = ctx.conn.client_guid();
            acknowledged(ctx, BreakTarget::Lease(lease_key));
            let granted = ctx.server.locks.ack_lease(client, lease_key, acked_lease_state(state))?;
            let mut body = Vec::with_capacity(36);
            encode_lease_break_response(&mut body, lease_key, granted.bits());
            Ok(Reply::ok(body))
        }
    }
}

/// The OplockLevel of an Oplock Break Acknowledgment (MS-SMB2 2.2.24.1). A byte MS-SMB2
/// does not define is acknowledged as BATCH: neither is LEVEL_II or NONE, so either is
/// refused with STATUS_INVALID_OPLOCK_PROTOCOL and the oplock dropped to NONE (MS-SMB2
/// 3.3.5.22.1).
fn acked_oplock_level(byte: u8) -> OplockLevel {
    OplockLevel::from_wire(byte).unwrap_or(OplockLevel::Batch)
}

/// The LeaseState of a Lease Break Acknowledgment (MS-SMB2 2.2.24.2). A field with bits
/// outside R, W and H is not a subset of any break's target (MS-SMB2 3.3.5.22.2): it is
/// acknowledged as RWH, which no break goes to (a break always takes something away,
/// MS-SMB2 3.3.4.7), so the lock core refuses it with STATUS_REQUEST_NOT_ACCEPTED after
/// the same checks (the lease exists and is breaking) as any other state.
fn acked_lease_state(field: u32) -> LeaseState {
    let state = LeaseState::from_wire(field);
    if state.bits() == field { state } else { LeaseState::RWH }
}

/// Logs how long the client took to acknowledge a break and feeds Windows' MaxLinkDelay
/// guard: a connection that is too slow gets no new oplocks or leases.
fn acknowledged(ctx: &mut Ctx<'_>, target: BreakTarget) {
    let Some(sent) = ctx.conn.breaks_sent.remove(&target) else { return };
    let latency = ctx.server.now().saturating_duration_since(sent);
    let conn = &mut *ctx.conn;
    tracing::info!(conn = conn.id, peer = %conn.peer, ?target, ?latency, "break acknowledged");
    if conn.link.record_ack(latency, ctx.server.config.max_link_delay) {
        tracing::warn!(conn = conn.id, peer = %conn.peer, ?latency, "slow break acknowledgment: no more oplocks or leases");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledged_levels_and_states_from_the_wire() {
        assert_eq!(acked_oplock_level(0x00), OplockLevel::None);
        assert_eq!(acked_oplock_level(0x01), OplockLevel::LevelII);
        assert_eq!(acked_oplock_level(0x08), OplockLevel::Exclusive);
        assert_eq!(acked_oplock_level(0x02), OplockLevel::Batch, "undefined: refused as BATCH is");
        for field in 0..8 {
            assert_eq!(acked_lease_state(field).bits(), field);
        }
        assert_eq!(acked_lease_state(0x8 | 0x1), LeaseState::RWH, "other bits: refused as RWH is");
    }
}
