//! A durable open whose connection went away, kept for its client to reconnect
//! (MS-SMB2 3.3.7.1); held by the lock adapter until it is reclaimed or purged.

use crate::durable::Durable;
use crate::open::Open;
use std::time::Instant;

/// A disconnected durable open, waiting for its client.
pub struct Parked {
    pub open: Open,
    pub durable: Durable,
    /// The share's file system, to run a delete-on-close when the open is purged.
    pub fs: std::sync::Arc<opportune_fs::Share>,
    pub deadline: Instant,
    /// The UNIX identity of its tree (`unix_identity`), which that delete-on-close runs as.
    pub unix: Option<std::sync::Arc<opportune_fs::UnixIdentity>>,
}

/// The parked durable opens of one shard, by open id and by deadline: the next expiry and
/// the expired ones are found without visiting every parked open (after a mass disconnect
/// a shard may hold many, and its next deadline is computed each time its mutex is let go).
#[derive(Default)]
pub struct ParkedOpens {
    by_id: std::collections::HashMap<u64, Parked>,
    by_deadline: std::collections::BTreeSet<(Instant, u64)>,
}

impl ParkedOpens {
    pub fn insert(&mut self, id: u64, p: Parked) {
        self.by_deadline.insert((p.deadline, id));
        if let Some(old) = self.by_id.insert(id, p) {
            self.by_deadline.remove(&(old.deadline, id));
        }
    }

    pub fn remove(&mut self, id: &u64) -> Option<Parked> {
        let p = self.by_id.remove(id)?;
        self.by_deadline.remove(&(p.deadline, *id));
        Some(p)
    }

    pub fn get(&self, id: &u64) -> Option<&Parked> {
        self.by_id.get(id)
    }

    pub fn contains_key(&self, id: &u64) -> bool {
        self.by_id.contains_key(id)
    }

    /// The earliest expiry.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(t, _)| *t)
    }

    /// The opens whose deadline is `now` or before, earliest first.
    pub fn expired(&self, now: Instant) -> Vec<u64> {
        self.by_deadline.iter().take_while(|(t, _)| *t <= now).map(|(_, id)| *id).collect()
    }
}
