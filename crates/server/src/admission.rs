//! Which connections are let in (docs/SECURITY.md): at most so many per client address
//! and so many in all. When the server is full, the connection that has waited longest
//! without logging on is dropped to make room, so a flood of idle connections from one
//! place can never lock out a client from another; established connections are kept.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Why a connection was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already has `max_per_address` connections.
    PerAddress,
    /// The server is full of established connections.
    Full,
}

struct Entry {
    addr: IpAddr,
    /// Order of admission: the smallest unauthenticated one is evicted first.
    seq: u64,
    authenticated: bool,
    kill: Arc<Notify>,
}

#[derive(Default)]
struct Table {
    conns: HashMap<u64, Entry>,
    per_addr: HashMap<IpAddr, usize>,
    seq: u64,
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let e = self.conns.remove(&id)?;
        if let Some(n) = self.per_addr.get_mut(&e.addr) {
            *n -= 1;
            if *n == 0 {
                self.per_addr.remove(&e.addr);
            }
        }
        Some(e)
    }

    /// The unauthenticated connection admitted first.
    fn oldest_unauthenticated(&self) -> Option<u64> {
        self.conns.iter().filter(|(_, e)| !e.authenticated).min_by_key(|(_, e)| e.seq).map(|(&id, _)| id)
    }
}

pub struct Admission {
    max_total: usize,
    max_per_address: usize,
    table: Mutex<Table>,
}

/// A connection's place; dropping it frees the place. `evicted()` completes when the
/// server took the place back for another client.
pub struct Ticket {
    admission: Arc<Admission>,
    id: u64,
    kill: Arc<Notify>,
}

impl Admission {
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<Admission> {
        Arc::new(Admission { max_total: max_total.max(1), max_per_address: max_per_address.max(1), table: Mutex::default() })
    }

    /// Lets connection `id` from `addr` in, evicting the oldest unauthenticated connection
    /// if the server is full.
    pub fn admit(self: &Arc<Self>, id: u64, addr: IpAddr) -> Result<Ticket, Refusal> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if t.per_addr.get(&addr).copied().unwrap_or(0) >= self.max_per_address {
            return Err(Refusal::PerAddress);
        }
        if t.conns.len() >= self.max_total {
            let victim = t.oldest_unauthenticated().ok_or(Refusal::Full)?;
            if let Some(e) = t.remove(victim) {
                tracing::warn!(conn = victim, addr = %e.addr, "server full: dropping the oldest connection that has not logged on");
                e.kill.notify_one();
            }
        }
        let kill = Arc::new(Notify::new());
        t.seq += 1;
        let seq = t.seq;
        t.conns.insert(id, Entry { addr, seq, authenticated: false, kill: kill.clone() });
        *t.per_addr.entry(addr).or_insert(0) += 1;
        Ok(Ticket { admission: self.clone(), id, kill })
    }

    /// Connections admitted now.
    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.table.lock().map(|t| t.conns.len()).unwrap_or(0)
    }
}

impl Ticket {
    /// The connection has an established session: it is no longer first to be dropped.
    pub fn authenticated(&self) {
        let mut t = self.admission.table.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = t.conns.get_mut(&self.id) {
            e.authenticated = true;
        }
    }

    /// Completes when the server evicted this connection.
    pub async fn evicted(&self) {
        self.kill.notified().await
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut t = self.admission.table.lock().unwrap_or_else(|e| e.into_inner());
        t.remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn one_address_cannot_take_every_place() {
        let a = Admission::new(10, 3);
        let held: Vec<_> = (0..3).map(|i| a.admit(i, ip(1)).expect("admitted")).collect();
        assert_eq!(a.admit(3, ip(1)).err(), Some(Refusal::PerAddress));
        assert!(a.admit(4, ip(2)).is_ok(), "another address still gets in");
        drop(held);
        assert!(a.admit(5, ip(1)).is_ok(), "places come back when connections end");
    }

    #[tokio::test]
    async fn a_full_server_drops_the_oldest_connection_that_never_logged_on() {
        let a = Admission::new(3, 10);
        let first = a.admit(1, ip(1)).expect("1");
        let second = a.admit(2, ip(1)).expect("2");
        let third = a.admit(3, ip(1)).expect("3");
        first.authenticated();
        let fourth = a.admit(4, ip(2)).expect("room is made");
        assert_eq!(a.count(), 3);
        // The second (oldest unauthenticated) was told to go; the established first was not.
        tokio::time::timeout(std::time::Duration::from_secs(1), second.evicted()).await.expect("second evicted");
        assert!(tokio::time::timeout(std::time::Duration::from_millis(20), first.evicted()).await.is_err());
        third.authenticated();
        fourth.authenticated();
        assert_eq!(a.admit(5, ip(3)).err(), Some(Refusal::Full), "only established connections are left");
        drop(second);
        assert_eq!(a.count(), 3, "an evicted connection's ticket frees nothing twice");
    }
}
