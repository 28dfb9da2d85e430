//! LOCK (MS-SMB2 3.3.5.14) and OPLOCK_BREAK acknowledgments (3.3.5.22).

use super::{empty_ok, Ctx, HResult};
use opportune_locks::{LockElement, LockOutcome};
use opportune_types::NtStatus;
use opportune_wire::file_ops::LockRequest;

pub fn handle(ctx: &mut Ctx<'_>) -> HResult {
    let req = LockRequest::decode(ctx.msg).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    let open = ctx.open(req.file_id)?;
    let open_id = open.file_id.volatile;
    let elements = req
        .locks
        .iter()
        .map(|l| LockElement::from_wire(l.offset, l.length, l.flags))
        .collect::<Vec<_>>();
    // Until asynchronous completion is wired, a blocking request is answered at once.
    let elements: Vec<LockElement> = elements
        .into_iter()
        .map(|mut e| {
            e.fail_immediately = true;
            e
        })
        .collect();
    let request = ctx.server.next_id();
    match ctx.server.locks.lock(open_id, request, &elements) {
        LockOutcome::Done(NtStatus::SUCCESS) => Ok(empty_ok()),
        LockOutcome::Done(status) => Err(status),
        LockOutcome::Pending => Err(NtStatus::LOCK_NOT_GRANTED),
    }
}

/// No oplock or lease is granted yet, so there is nothing to acknowledge.
pub fn oplock_break(ctx: &mut Ctx<'_>) -> HResult {
    opportune_wire::oplock::BreakAck::decode(ctx.msg).map_err(|_| NtStatus::INVALID_PARAMETER)?;
    Err(NtStatus::INVALID_OPLOCK_PROTOCOL)
}
