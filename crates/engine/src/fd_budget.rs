//! The descriptor budget (hardening finding #7): every open holds a file descriptor, and
//! so does every connection; the process has `RLIMIT_NOFILE` of them. A client must never
//! be able to take the descriptors `accept()` and the status socket need, so:
//!
//! * [`FD_RESERVE`] descriptors are never given to opens (the listener, the status
//!   socket, the runtime's own, the ones a create or a directory listing holds for a
//!   moment, and room to accept);
//! * connections may take at most half of the rest (`max_connections` is lowered at
//!   start-up when the limit is too small for it, see [`FdBudget::connection_cap`]);
//! * one client address may hold at most half of the open budget across all its
//!   sessions and connections, so a client on another address always has opens left;
//! * opens take what the connections leave: a CREATE beyond answers
//!   STATUS_TOO_MANY_OPENED_FILES (MS-ERREF 2.3.1: "too many files are open"), as it does
//!   once one session holds `max_opens_per_session` opens or half of the open budget,
//!   whichever is less, so one session alone cannot starve the others.
//!
//! Each open carries an [`OpenTicket`] that gives its place back when the open is
//! dropped, on whatever path it leaves the server.

use opportune_types::NtStatus;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Descriptors never handed to opens.
pub const FD_RESERVE: usize = 64;

/// The count of opens of one session (or of the whole server).
pub type OpenCount = Arc<AtomicUsize>;

/// The process's descriptor limit and the opens counted against it.
pub struct FdBudget {
    /// The soft RLIMIT_NOFILE at start-up.
    limit: usize,
    opens: OpenCount,
    /// Opens per client address, shared by that address's connections while any exists.
    by_address: Mutex<HashMap<IpAddr, Weak<AtomicUsize>>>,
}

/// Forgotten addresses are swept from the table once it holds this many.
const SWEEP_AT: usize = 1024;

impl FdBudget {
    /// A budget of `limit` descriptors.
    pub fn new(limit: usize) -> FdBudget {
        FdBudget { limit, opens: Arc::default(), by_address: Mutex::default() }
    }

    /// The count of opens held from `addr`, shared by all of that address's connections
    /// (each connection keeps it while it lives).
    pub fn address(&self, addr: IpAddr) -> OpenCount {
        let mut m = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = m.get(&addr).and_then(Weak::upgrade) {
            return c;
        }
        if m.len() >= SWEEP_AT {
            m.retain(|_, w| w.strong_count() > 0);
        }
        let c = OpenCount::default();
        m.insert(addr, Arc::downgrade(&c));
        c
    }

    /// The budget of this process: its soft RLIMIT_NOFILE, first raised to the hard limit
    /// (see [`raise_nofile`]), or 1024 if it cannot be read.
    pub fn of_process() -> FdBudget {
        raise_nofile();
        let soft = opportune_fs::nofile_limit().map_or(1024, |(soft, _)| soft);
        FdBudget::new(usize::try_from(soft).unwrap_or(usize::MAX))
    }

    /// The descriptor limit the budget was made with.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Opens now held across the server.
    pub fn opens(&self) -> usize {
        self.opens.load(Ordering::Relaxed)
    }

    /// The most connections the budget allows: half of what the reserve leaves (at least 1).
    pub fn connection_cap(&self) -> usize {
        (self.limit.saturating_sub(FD_RESERVE) / 2).max(1)
    }

    /// Opens the server may hold while `connections` connections are open.
    pub fn open_capacity(&self, connections: usize) -> usize {
        self.limit.saturating_sub(FD_RESERVE).saturating_sub(connections)
    }

    /// The most opens one session may hold: `configured`, but never more than half of the
    /// open capacity.
    pub fn session_cap(&self, configured: usize, connections: usize) -> usize {
        configured.min(self.open_capacity(connections) / 2)
    }

    /// Whether one more open is allowed for a session holding `session_opens` opens, from
    /// an address holding `address_opens`: STATUS_TOO_MANY_OPENED_FILES when the session,
    /// the address (half of the open capacity) or the server is at its cap.
    pub fn admit(&self, session_opens: usize, address_opens: usize, configured: usize, connections: usize) -> Result<(), NtStatus> {
        let capacity = self.open_capacity(connections);
        if session_opens >= self.session_cap(configured, connections)
            || address_opens >= capacity / 2
            || self.opens() >= capacity
        {
            return Err(NtStatus::TOO_MANY_OPENED_FILES);
        }
        Ok(())
    }

    /// Counts one open against the server, `session` and `address` until the ticket is
    /// dropped.
    pub fn ticket(&self, session: &OpenCount, address: &OpenCount) -> OpenTicket {
        for c in [&self.opens, session, address] {
            c.fetch_add(1, Ordering::Relaxed);
        }
        OpenTicket { counts: [self.opens.clone(), session.clone(), address.clone()] }
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (the default soft limit of 1024 is far
/// below what a file server needs) and logs the change; a failure is logged and the soft
/// limit stays.
pub fn raise_nofile() {
    let Ok((soft, hard)) = opportune_fs::nofile_limit() else { return };
    if soft >= hard {
        return;
    }
    match opportune_fs::set_nofile_limit(hard, hard) {
        Ok(()) => tracing::info!(from = soft, to = hard, "descriptor limit (RLIMIT_NOFILE) raised"),
        Err(e) => tracing::warn!(soft, hard, error = %e, "descriptor limit (RLIMIT_NOFILE) not raised"),
    }
}

/// One open's place in the budget; dropping it gives the place back.
pub struct OpenTicket {
    /// The server's, the session's and the client address's counts.
    counts: [OpenCount; 3],
}

impl Drop for OpenTicket {
    fn drop(&mut self) {
        for c in &self.counts {
            c.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A count of `n` things (sessions of a connection, trees of a session) may grow by one
/// while under `cap`; STATUS_INSUFFICIENT_RESOURCES otherwise (what Windows answers when
/// a table of the server is full).
pub fn admit_one_more(n: usize, cap: usize) -> Result<(), NtStatus> {
    if n < cap { Ok(()) } else { Err(crate::fault::Fault::Resource("a table of the server is full").into()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_and_connections_come_before_opens() {
        let b = FdBudget::new(1024);
        assert_eq!(b.open_capacity(0), 1024 - FD_RESERVE);
        assert_eq!(b.open_capacity(100), 1024 - FD_RESERVE - 100);
        assert_eq!(b.open_capacity(5000), 0);
        assert_eq!(b.connection_cap(), (1024 - FD_RESERVE) / 2);
        assert_eq!(FdBudget::new(10).connection_cap(), 1);
        assert_eq!(FdBudget::new(10).open_capacity(0), 0);
    }

    #[test]
    fn one_session_gets_at_most_half_of_the_opens() {
        let b = FdBudget::new(1024 + FD_RESERVE);
        assert_eq!(b.session_cap(16384, 0), 512);
        assert_eq!(b.session_cap(100, 0), 100);
        assert!(b.admit(511, 0, 16384, 0).is_ok());
        assert_eq!(b.admit(512, 0, 16384, 0), Err(NtStatus::TOO_MANY_OPENED_FILES));
    }

    #[test]
    fn tickets_count_and_give_back() {
        let b = FdBudget::new(4 + FD_RESERVE);
        let (s1, s2) = (OpenCount::default(), OpenCount::default());
        let (a1, a2) = (OpenCount::default(), OpenCount::default());
        let t1 = b.ticket(&s1, &a1);
        let t2 = b.ticket(&s1, &a1);
        assert_eq!(b.admit(2, 2, 16384, 0), Err(NtStatus::TOO_MANY_OPENED_FILES), "session at half");
        let t3 = b.ticket(&s2, &a2);
        let t4 = b.ticket(&s2, &a2);
        assert_eq!(b.opens(), 4);
        assert_eq!(b.admit(0, 0, 16384, 0), Err(NtStatus::TOO_MANY_OPENED_FILES), "server full");
        drop((t1, t3));
        assert_eq!((b.opens(), s1.load(Ordering::Relaxed), a2.load(Ordering::Relaxed)), (2, 1, 1));
        assert!(b.admit(1, 1, 16384, 0).is_ok());
        drop((t2, t4));
        assert_eq!(b.opens(), 0);
    }

    #[test]
    fn one_address_gets_at_most_half_of_the_opens_whatever_its_sessions() {
        let b = FdBudget::new(100 + FD_RESERVE);
        let ip: IpAddr = [127, 0, 0, 3].into();
        let addr = b.address(ip);
        assert!(Arc::ptr_eq(&addr, &b.address(ip)), "connections of one address share the count");
        let (s1, s2) = (OpenCount::default(), OpenCount::default());
        let held: Vec<_> = (0..50).map(|i| b.ticket(if i % 2 == 0 { &s1 } else { &s2 }, &addr)).collect();
        assert_eq!(b.admit(25, 50, 16384, 0), Err(NtStatus::TOO_MANY_OPENED_FILES), "address at half");
        let other = b.address([127, 0, 0, 2].into());
        assert!(b.admit(0, other.load(Ordering::Relaxed), 16384, 0).is_ok(), "another address still opens");
        drop(held);
        drop(addr);
        assert_eq!(b.address(ip).load(Ordering::Relaxed), 0, "a forgotten address starts afresh");
    }

    #[test]
    fn tables_grow_up_to_their_cap() {
        assert!(admit_one_more(63, 64).is_ok());
        assert_eq!(admit_one_more(64, 64), Err(NtStatus::INSUFFICIENT_RESOURCES));
        assert_eq!(admit_one_more(0, 0), Err(NtStatus::INSUFFICIENT_RESOURCES));
    }
}
