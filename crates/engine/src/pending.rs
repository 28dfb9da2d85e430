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
    /// The interim response, while it is held back ([`HeldInterim`]); None once it was
    /// sent (or when it went out at once).
    pub held: Option<HeldInterim>,
}

/// An interim response not sent yet. A request that goes asynchronous alone in its frame
/// gets its interim STATUS_PENDING only after `interim_delay` (MS-SMB2 3.3.4.2 leaves the
/// moment to the server): most deferred CREATEs and blocking locks are decided sooner
/// (the holder acknowledges its break, the lock goes), and are then answered with one
/// ordinary synchronous response carrying the credits the interim would have carried
/// (`dispatch::async_final`), one frame fewer for both sides.
pub struct HeldInterim {
    /// The interim as it goes on the wire (encrypted if the request was).
    pub frame: Vec<u8>,
    /// When it goes out if the request is still waiting.
    pub due: std::time::Instant,
    /// The credits it grants (already counted in the connection's window).
    pub credits: u16,
}

/// Pending requests of one connection, keyed by AsyncId.
#[derive(Default)]
pub struct PendingTable {
    ops: HashMap<u64, PendingOp>,
    /// Bytes held by the rests of compound chains waiting behind pending requests.
    bytes: usize,
    /// Requests whose interim response is held back: the timer is armed only when some are.
    held: usize,
}

fn rest_len(op: &PendingOp) -> usize {
    op.rest.as_ref().map_or(0, |r| r.frame.len())
}

impl PendingTable {
    pub fn insert(&mut self, async_id: u64, op: PendingOp) {
        self.bytes += rest_len(&op);
        self.held += usize::from(op.held.is_some());
        if let Some(old) = self.ops.insert(async_id, op) {
            self.bytes -= rest_len(&old);
            self.held -= usize::from(old.held.is_some());
        }
    }

    /// Holds back the interim response of pending request `async_id` until `held.due`.
    pub fn hold_interim(&mut self, async_id: u64, held: HeldInterim) {
        if let Some(op) = self.ops.get_mut(&async_id) {
            self.held += usize::from(op.held.is_none());
            op.held = Some(held);
        }
    }

    /// When the first held interim response is due (None: none is held).
    pub fn next_interim_due(&self) -> Option<std::time::Instant> {
        if self.held == 0 {
            return None;
        }
        self.ops.values().filter_map(|op| op.held.as_ref().map(|h| h.due)).min()
    }

    /// Takes the held interim responses due at `now`, oldest request first: they go out now.
    pub fn take_due_interims(&mut self, now: std::time::Instant) -> Vec<Vec<u8>> {
        if self.held == 0 {
            return Vec::new();
        }
        let mut due: Vec<(u64, Vec<u8>)> = Vec::new();
        for (id, op) in &mut self.ops {
            if op.held.as_ref().is_some_and(|h| h.due <= now) {
                due.extend(op.held.take().map(|h| (*id, h.frame)));
            }
        }
        self.held -= due.len();
        due.sort_unstable_by_key(|(id, _)| *id);
        due.into_iter().map(|(_, frame)| frame).collect()
    }

    /// Credits granted by interim responses still held back (the client has not got them).
    pub fn held_credits(&self) -> u64 {
        if self.held == 0 {
            return 0;
        }
        self.ops.values().filter_map(|op| op.held.as_ref()).map(|h| u64::from(h.credits)).sum()
    }

    /// Whether the request with MessageId `mid` waits with its interim response held back.
    pub fn holds_interim_of(&self, mid: u64) -> bool {
        self.held != 0 && self.ops.values().any(|op| op.header.message_id == mid && op.held.is_some())
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
        self.held -= usize::from(op.held.is_some());
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
        t.insert(100, PendingOp { header: h, waiting: Waiting::Lock { request: 1 }, encrypted: false, rest: None, since: std::time::Instant::now(), create: None, held: None });
        let by_mid = Header { message_id: 7, ..Header::default() };
        assert_eq!(t.find_cancel_target(&by_mid), Some((100, Waiting::Lock { request: 1 })));
        let by_async = Header { flags: opportune_wire::header::flags::ASYNC_COMMAND, async_id: 100, ..Header::default() };
        assert_eq!(t.find_cancel_target(&by_async), Some((100, Waiting::Lock { request: 1 })));
        assert!(t.take_waiting(Waiting::Lock { request: 1 }).is_some());
        assert!(t.is_empty());
    }

    #[test]
    fn held_interims_are_counted_until_sent_or_taken() {
        let mut t = PendingTable::default();
        let at = std::time::Instant::now();
        let op = |mid| PendingOp {
            header: Header { message_id: mid, ..Header::default() },
            waiting: Waiting::Lock { request: mid },
            encrypted: false,
            rest: None,
            since: at,
            create: None,
            held: None,
        };
        assert_eq!(t.next_interim_due(), None);
        t.insert(1, op(10));
        t.insert(2, op(20));
        let second = std::time::Duration::from_secs(1);
        t.hold_interim(1, HeldInterim { frame: vec![1], due: at + second, credits: 3 });
        t.hold_interim(2, HeldInterim { frame: vec![2], due: at, credits: 5 });
        t.hold_interim(99, HeldInterim { frame: vec![9], due: at, credits: 7 });
        assert_eq!(t.next_interim_due(), Some(at));
        assert_eq!(t.held_credits(), 8);
        assert!(t.holds_interim_of(10) && t.holds_interim_of(20) && !t.holds_interim_of(99));
        assert_eq!(t.take_due_interims(at), vec![vec![2]], "only the due one");
        assert_eq!(t.held_credits(), 3);
        assert!(!t.holds_interim_of(20));
        let taken = t.take(1).expect("pending");
        assert!(taken.held.is_some(), "its final response is synchronous");
        assert_eq!(t.next_interim_due(), None);
        assert_eq!(t.held_credits(), 0);
        assert!(t.take_due_interims(at + second).is_empty());
    }
}
