//! Requests answered with an interim STATUS_PENDING and completed later
//! (MS-SMB2 3.3.4.2), so CANCEL can find them (3.3.5.16).

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

#[derive(Clone, Copy, Debug)]
pub enum Target {
    Async(u64),
    Message(u64),
}

struct Entry {
    message_id: u64,
    cancel: oneshot::Sender<()>,
}

/// Pending requests of every connection, keyed by (connection, async id).
#[derive(Default)]
pub struct PendingTable {
    inner: Mutex<HashMap<(u64, u64), Entry>>,
}

impl PendingTable {
    /// Registers a request; the receiver fires if the client cancels it.
    pub fn register(&self, conn: u64, async_id: u64, message_id: u64) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.inner.lock() {
            m.insert((conn, async_id), Entry { message_id, cancel: tx });
        }
        rx
    }

    /// Forgets a request that completed.
    pub fn complete(&self, conn: u64, async_id: u64) {
        if let Ok(mut m) = self.inner.lock() {
            m.remove(&(conn, async_id));
        }
    }

    /// Signals cancellation of the request that `target` names, if it is still pending.
    pub fn cancel(&self, conn: u64, target: Target) {
        let Ok(mut m) = self.inner.lock() else { return };
        let key = match target {
            Target::Async(a) => Some((conn, a)),
            Target::Message(mid) => m.iter().find(|(k, e)| k.0 == conn && e.message_id == mid).map(|(k, _)| *k),
        };
        if let Some(e) = key.and_then(|k| m.remove(&k)) {
            let _ = e.cancel.send(());
        }
    }

    /// Drops every pending request of a connection that went away.
    pub fn drop_connection(&self, conn: u64) {
        if let Ok(mut m) = self.inner.lock() {
            m.retain(|k, _| k.0 != conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_by_message_or_async_id() {
        let t = PendingTable::default();
        let mut a = t.register(1, 10, 100);
        let mut b = t.register(1, 11, 101);
        t.cancel(1, Target::Message(101));
        assert!(b.try_recv().is_ok());
        assert!(a.try_recv().is_err());
        t.cancel(2, Target::Async(10));
        assert!(a.try_recv().is_err(), "other connection's cancel has no effect");
        t.cancel(1, Target::Async(10));
        assert!(a.try_recv().is_ok());
    }
}
