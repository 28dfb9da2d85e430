//! Requests answered with an interim STATUS_PENDING and completed later
//! (MS-SMB2 3.3.4.2): what the final response needs, and how CANCEL (3.3.5.16) finds them.

use opportune_wire::header::Header;
use std::collections::HashMap;

/// What a pending request waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// A blocking byte-range lock (the lock core's RequestId).
    Lock { request: u64 },
    /// A create deferred until other opens' caching is broken (the new open's id).
    Create { open: u64 },
    /// A rename deferred until handle caching of other opens is broken.
    Rename { request: u64 },
    /// CHANGE_NOTIFY on a directory open.
    Notify { open: u64 },
}

/// One pending request of a connection: the one record of a request that waits, keyed by
/// its AsyncId, created when it goes asynchronous (`dispatch::interim`) and taken when it
/// completes or is cancelled.
pub struct PendingOp {
    /// The request header, with related-compound ids resolved.
    pub header: Header,
    pub waiting: Waiting,
    /// The request came encrypted, so its final response goes encrypted.
    pub encrypted: bool,
    /// Requests of the same compound chain that wait for this one.
    pub rest: Option<Box<crate::chain::RestOfChain>>,
    /// When the request went asynchronous (logged with its completion).
    pub since: std::time::Instant,
    /// A waiting CREATE's plan and where it stopped (MS-SMB2 3.3.5.9; `Waiting::Create`).
    pub create: Option<Box<crate::deferred_create::DeferredCreate>>,
}

/// Pending requests of one connection, keyed by AsyncId.
#[derive(Default)]
pub struct PendingTable {
    ops: HashMap<u64, PendingOp>,
    /// Bytes held by the rests of compound chains waiting behind pending requests.
    bytes: usize,
}

fn rest_len(op: &PendingOp) -> usize {
    op.rest.as_ref().map_or(0, |r| r.frame.len())
}

impl PendingTable {
    pub fn insert(&mut self, async_id: u64, op: PendingOp) {
        self.bytes += rest_len(&op);
        if let Some(old) = self.ops.insert(async_id, op) {
            self.bytes -= rest_len(&old);
        }
    }

    pub fn attach_rest(&mut self, async_id: u64, rest: Box<crate::chain::RestOfChain>) {
        if let Some(op) = self.ops.get_mut(&async_id) {
            self.bytes -= rest_len(op);
            self.bytes += rest.frame.len();
            op.rest = Some(rest);
        }
    }

    /// Takes a request waiting for `w`, with its AsyncId. When several wait for the same
    /// thing (CHANGE_NOTIFYs on one directory open), the oldest (the lowest AsyncId: they
    /// are given out in increasing order), as Windows completes them, and so that the
    /// choice does not depend on the table's hash order.
    pub fn take_waiting(&mut self, w: Waiting) -> Option<(u64, PendingOp)> {
        let id = self.ops.iter().filter(|(_, op)| op.waiting == w).map(|(id, _)| *id).min()?;
        self.take(id).map(|op| (id, op))
    }

    /// Takes the request with AsyncId `id`.
    pub fn take(&mut self, id: u64) -> Option<PendingOp> {
        let op = self.ops.remove(&id)?;
        self.bytes -= rest_len(&op);
        Some(op)
    }

    /// Requests pending now.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Bytes their waiting compound rests hold.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The request CANCEL names, with its AsyncId: by AsyncId when the CANCEL is async,
    /// else by MessageId.
    pub fn find_cancel_target(&self, hdr: &Header) -> Option<(u64, Waiting)> {
        if hdr.is_async() {
            return self.ops.get(&hdr.async_id).map(|op| (hdr.async_id, op.waiting));
        }
        self.ops.iter().find(|(_, op)| op.header.message_id == hdr.message_id).map(|(id, op)| (*id, op.waiting))
    }

    pub fn find(&self, w: Waiting) -> bool {
        self.ops.values().any(|op| op.waiting == w)
    }

    pub fn all(&self) -> impl Iterator<Item = &PendingOp> {
        self.ops.values()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_by_message_or_async_id() {
        let mut t = PendingTable::default();
        let h = Header { message_id: 7, ..Header::default() };
        t.insert(100, PendingOp { header: h, waiting: Waiting::Lock { request: 1 }, encrypted: false, rest: None, since: std::time::Instant::now(), create: None });
        let by_mid = Header { message_id: 7, ..Header::default() };
        assert_eq!(t.find_cancel_target(&by_mid), Some((100, Waiting::Lock { request: 1 })));
        let by_async = Header { flags: opportune_wire::header::flags::ASYNC_COMMAND, async_id: 100, ..Header::default() };
        assert_eq!(t.find_cancel_target(&by_async), Some((100, Waiting::Lock { request: 1 })));
        assert!(t.take_waiting(Waiting::Lock { request: 1 }).is_some());
        assert!(t.is_empty());
    }
}
