//! The break trace's state: breaks in flight, the requests waiting on them, and the last
//! finished records. Pure (times are passed in); the lock adapter (`locking.rs`) feeds it
//! under its mutex and publishes what [`Tracer::take_finished`] returns.
//!
//! A record is finished when its break has ended (acknowledged, timed out, holder closed,
//! gone or purged) and every request that waited on it has been decided; a waiter that
//! outlives the break (it waits on another holder too) keeps the record open until then,
//! so the record lists how long each waited.

use super::record::{BreakRecord, Outcome, Party, Waited, WallMs, MAX_WAITERS};
use opportune_locks::FileKey;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Who a break is addressed to, as the lock adapter tells acknowledgments apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HolderKey {
    Oplock { open: u64 },
    Lease { client: [u8; 16], key: [u8; 16] },
}

/// A request that can wait on breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitKey {
    /// A deferred CREATE, by its open id.
    Create(u64),
    /// A deferred rename, by its request id.
    Rename(u64),
}

/// A break the adapter is about to route, before it has an id.
pub struct NewBreak {
    pub file: FileKey,
    pub key: HolderKey,
    /// `id` and the end fields are filled in by the tracer.
    pub record: BreakRecord,
}

struct InFlight {
    record: BreakRecord,
    file: FileKey,
    key: HolderKey,
    sent: Instant,
    ended: bool,
    /// Waiters attached and not yet decided.
    waiting: usize,
}

struct Waiter {
    request: &'static str,
    party: Party,
    open: u64,
    file: FileKey,
    since: Instant,
    records: Vec<u64>,
}

/// A break not yet ended, for `opportune status`.
pub struct PendingBreak {
    pub record: BreakRecord,
    pub age: Duration,
}

/// Record ids and the history of finished records, shared by tracers ([`Tracer::sharing`]).
pub struct SharedParts {
    ids: Arc<AtomicU64>,
    recent: Arc<Mutex<VecDeque<Arc<BreakRecord>>>>,
}

pub struct Tracer {
    /// Record ids, shared by the tracers of a partitioned lock layer (one per shard) so
    /// that ids stay unique and increasing across them.
    ids: Arc<AtomicU64>,
    history: usize,
    flights: BTreeMap<u64, InFlight>,
    /// The unended break of each holder.
    by_holder: HashMap<HolderKey, u64>,
    waiters: HashMap<WaitKey, Waiter>,
    /// The last finished records, shared the same way (a leaf lock, held to push or copy).
    recent: Arc<Mutex<VecDeque<Arc<BreakRecord>>>>,
    finished: Vec<Arc<BreakRecord>>,
}

impl Tracer {
    /// Keeps the last `history` finished records.
    pub fn new(history: usize) -> Tracer {
        Tracer::sharing(history, &Tracer::shared_parts())
    }

    /// What tracers that share their record ids and history have in common.
    pub fn shared_parts() -> SharedParts {
        SharedParts { ids: Arc::new(AtomicU64::new(1)), recent: Arc::new(Mutex::new(VecDeque::new())) }
    }

    /// A tracer that takes record ids from, and keeps its last `history` finished records
    /// in, `shared` (from [`Tracer::shared_parts`]), with other tracers.
    pub fn sharing(history: usize, shared: &SharedParts) -> Tracer {
        Tracer {
            ids: shared.ids.clone(),
            history,
            flights: BTreeMap::new(),
            by_holder: HashMap::new(),
            waiters: HashMap::new(),
            recent: shared.recent.clone(),
            finished: Vec::new(),
        }
    }

    /// A break is sent. Requests already waiting on the file wait on it too. A break that
    /// needs no acknowledgment ends at once. Returns its id.
    pub fn sent(&mut self, now: Instant, wall: WallMs, b: NewBreak) -> u64 {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        if let Some(old) = self.by_holder.remove(&b.key) {
            // One notification at a time per holder: an earlier one still open has been
            // overtaken (its end was not seen); close it honestly.
            self.end(old, wall, Outcome::Superseded, None);
        }
        let mut record = b.record;
        record.id = id;
        record.sent_ms = wall;
        let ack = record.ack_required;
        let mut f = InFlight { record, file: b.file, key: b.key, sent: now, ended: false, waiting: 0 };
        for (_, w) in self.waiters.iter_mut().filter(|(_, w)| w.file == b.file) {
            w.records.push(id);
            f.waiting += 1;
        }
        self.flights.insert(id, f);
        self.by_holder.insert(b.key, id);
        if !ack {
            self.end(id, wall, Outcome::NoAckNeeded, None);
        }
        id
    }

    /// The holder acknowledged, to `to` (a caching name as in the record).
    pub fn acknowledged(&mut self, key: HolderKey, wall: WallMs, to: String) -> Option<u64> {
        let id = self.by_holder.remove(&key)?;
        if let Some(f) = self.flights.get_mut(&id) {
            f.record.acknowledged_ms = Some(wall);
            if to != f.record.to {
                f.record.acknowledged_to = Some(to);
            }
        }
        self.end(id, wall, Outcome::Acknowledged, None);
        Some(id)
    }

    /// The holder's break ended without an acknowledgment: timed out, holder closed,
    /// disconnected, vanished (with the liveness verdict), purged.
    pub fn ended(&mut self, key: HolderKey, wall: WallMs, outcome: Outcome, verdict: Option<&'static str>) -> Option<u64> {
        let id = self.by_holder.remove(&key)?;
        if let Some(f) = self.flights.get_mut(&id) {
            match outcome {
                Outcome::TimedOut => f.record.timed_out_ms = Some(wall),
                Outcome::HolderVanished => f.record.vanished_ms = Some(wall),
                _ => {}
            }
        }
        self.end(id, wall, outcome, verdict);
        Some(id)
    }

    /// Holders with an acknowledgment outstanding since `timeout` or longer: the ones
    /// whose break timer may have fired (the adapter checks which did).
    pub fn overdue(&self, now: Instant, timeout: Duration) -> Vec<HolderKey> {
        self.by_holder
            .values()
            .filter_map(|id| self.flights.get(id))
            .filter(|f| now.saturating_duration_since(f.sent) >= timeout)
            .map(|f| f.key)
            .collect()
    }

    /// The unended breaks whose holder is on connection `conn`.
    pub fn holders_on(&self, conn: u64) -> Vec<HolderKey> {
        self.by_holder
            .values()
            .filter_map(|id| self.flights.get(id))
            .filter(|f| f.record.holder.party.conn == Some(conn))
            .map(|f| f.key)
            .collect()
    }

    /// A request waiting on `file` (the oldest), as (request kind, party, open).
    pub fn waiter_on(&self, file: FileKey) -> Option<(&'static str, Party, u64)> {
        self.waiters.values().filter(|w| w.file == file).min_by_key(|w| w.since).map(|w| (w.request, w.party.clone(), w.open))
    }

    /// A request waits for breaks on `file`: it is listed by every unended break there,
    /// and by breaks sent there while it waits.
    pub fn waiting(&mut self, key: WaitKey, request: &'static str, party: Party, open: u64, file: FileKey, now: Instant) {
        let records: Vec<u64> =
            self.flights.iter().filter(|(_, f)| f.file == file && !f.ended).map(|(id, _)| *id).collect();
        for id in &records {
            if let Some(f) = self.flights.get_mut(id) {
                f.waiting += 1;
            }
        }
        if let Some(old) = self.waiters.insert(key, Waiter { request, party, open, file, since: now, records }) {
            // The same request waiting again (a create deferred twice): it continues.
            if let Some(w) = self.waiters.get_mut(&key) {
                w.since = old.since;
                for id in old.records {
                    if w.records.contains(&id) {
                        if let Some(f) = self.flights.get_mut(&id) {
                            f.waiting -= 1;
                        }
                    } else {
                        w.records.push(id);
                    }
                }
            }
        }
    }

    /// A waiting request is decided with `result` (an NT status name). Returns how long
    /// it waited.
    pub fn decided(&mut self, key: WaitKey, now: Instant, wall: WallMs, result: String) -> Option<Duration> {
        let w = self.waiters.remove(&key)?;
        let waited = now.saturating_duration_since(w.since);
        for id in w.records {
            let Some(f) = self.flights.get_mut(&id) else { continue };
            f.waiting = f.waiting.saturating_sub(1);
            if f.record.waiters.len() < MAX_WAITERS {
                f.record.waiters.push(Waited {
                    request: w.request,
                    party: w.party.clone(),
                    open: w.open,
                    waited_ms: waited.as_millis() as u64,
                    result: result.clone(),
                });
            } else {
                f.record.more_waiters += 1;
            }
            self.maybe_finish(id, wall);
        }
        Some(waited)
    }

    /// Connection `conn` is gone: its waiting requests are decided as "requester gone".
    pub fn requester_gone(&mut self, conn: u64, now: Instant, wall: WallMs) {
        let keys: Vec<WaitKey> = self.waiters.iter().filter(|(_, w)| w.party.conn == Some(conn)).map(|(k, _)| *k).collect();
        for k in keys {
            self.decided(k, now, wall, "requester-gone".into());
        }
    }

    /// Records finished since the last call, oldest first.
    pub fn take_finished(&mut self) -> Vec<Arc<BreakRecord>> {
        std::mem::take(&mut self.finished)
    }

    /// The last `n` finished records, oldest first.
    pub fn recent(&self, n: usize) -> Vec<Arc<BreakRecord>> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().skip(recent.len().saturating_sub(n)).cloned().collect()
    }

    /// Breaks not yet ended, oldest first, with the requests waiting on them so far.
    pub fn pending(&self, now: Instant) -> Vec<PendingBreak> {
        self.flights
            .values()
            .filter(|f| !f.ended)
            .map(|f| {
                let mut record = f.record.clone();
                for w in self.waiters.values().filter(|w| w.records.contains(&record.id)) {
                    record.waiters.push(Waited {
                        request: w.request,
                        party: w.party.clone(),
                        open: w.open,
                        waited_ms: now.saturating_duration_since(w.since).as_millis() as u64,
                        result: "waiting".into(),
                    });
                }
                PendingBreak { record, age: now.saturating_duration_since(f.sent) }
            })
            .collect()
    }

    /// How many breaks are in flight and requests waiting (bounded by the lock core's
    /// own tables: every entry here mirrors a holder breaking or a waiter there).
    pub fn sizes(&self) -> (usize, usize) {
        (self.flights.len(), self.waiters.len())
    }

    fn end(&mut self, id: u64, wall: WallMs, outcome: Outcome, verdict: Option<&'static str>) {
        let Some(f) = self.flights.get_mut(&id) else { return };
        if f.ended {
            return;
        }
        f.ended = true;
        f.record.ended_ms = Some(wall);
        f.record.outcome = Some(outcome);
        f.record.verdict = verdict;
        let r = &f.record;
        tracing::info!(
            break_id = id,
            share = %r.share,
            path = %r.path,
            holder = ?r.holder.party.address,
            kind = r.holder.kind,
            from = %r.from,
            to = %r.to,
            cause = r.trigger.cause,
            outcome = outcome.name(),
            after_ms = wall.saturating_sub(r.sent_ms),
            "break ended"
        );
        let took = Duration::from_millis(wall.saturating_sub(r.sent_ms));
        crate::metrics::break_ended(r.holder.kind, outcome.name(), took, r.ack_required);
        self.maybe_finish(id, wall);
    }

    fn maybe_finish(&mut self, id: u64, _wall: WallMs) {
        let done = self.flights.get(&id).is_some_and(|f| f.ended && f.waiting == 0);
        if !done {
            return;
        }
        let Some(f) = self.flights.remove(&id) else { return };
        let r = Arc::new(f.record);
        if self.history > 0 {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() == self.history {
                recent.pop_front();
            }
            recent.push_back(r.clone());
        }
        self.finished.push(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::break_trace::record::{Holder, Trigger};

    fn party(conn: u64) -> Party {
        Party { conn: Some(conn), address: Some(format!("127.0.0.{conn}:1000").parse().unwrap()), user: "u".into(), client_guid: None }
    }

    fn new_break(file: u64, open: u64, ack: bool, by: u64) -> NewBreak {
        NewBreak {
            file: FileKey { device: 1, inode: file },
            key: HolderKey::Oplock { open },
            record: BreakRecord::new(
                "s".into(),
                "f".into(),
                Holder { party: party(1), kind: "oplock", open, lease_key: None },
                "batch".into(),
                "level2".into(),
                ack,
                Trigger { cause: "open", by: Some(party(by)), open: Some(99) },
            ),
        }
    }

    #[test]
    fn a_break_with_its_waiter_finishes_when_both_are_done() {
        let t0 = Instant::now();
        let mut t = Tracer::new(4);
        let file = FileKey { device: 1, inode: 5 };
        t.waiting(WaitKey::Create(99), "create", party(2), 99, file, t0);
        let id = t.sent(t0, 1000, new_break(5, 10, true, 2));
        assert_eq!(t.pending(t0).len(), 1);
        assert_eq!(t.pending(t0)[0].record.waiters.len(), 1, "the waiter shows while it waits");
        t.acknowledged(HolderKey::Oplock { open: 10 }, 1200, "level2".into());
        assert!(t.take_finished().is_empty(), "the waiter is not decided yet");
        t.decided(WaitKey::Create(99), t0 + Duration::from_millis(250), 1250, "SUCCESS".into());
        let done = t.take_finished();
        assert_eq!(done.len(), 1);
        let r = &done[0];
        assert_eq!((r.id, r.outcome, r.acknowledged_ms, r.ended_ms), (id, Some(Outcome::Acknowledged), Some(1200), Some(1200)));
        assert_eq!(r.waiters[0].waited_ms, 250);
        assert_eq!(r.waiters[0].result, "SUCCESS");
        assert_eq!(t.sizes(), (0, 0));
        assert_eq!(t.recent(10).len(), 1);
    }

    #[test]
    fn a_break_that_needs_no_ack_ends_when_sent() {
        let t0 = Instant::now();
        let mut t = Tracer::new(2);
        t.sent(t0, 5, new_break(1, 10, false, 2));
        let done = t.take_finished();
        assert_eq!(done[0].outcome, Some(Outcome::NoAckNeeded));
        assert_eq!(t.sizes(), (0, 0));
    }

    #[test]
    fn timeouts_vanished_holders_and_gone_requesters() {
        let t0 = Instant::now();
        let mut t = Tracer::new(2);
        let file = FileKey { device: 1, inode: 1 };
        t.waiting(WaitKey::Create(7), "create", party(3), 7, file, t0);
        t.sent(t0, 0, new_break(1, 10, true, 3));
        assert!(t.overdue(t0 + Duration::from_secs(1), Duration::from_secs(2)).is_empty());
        assert_eq!(t.overdue(t0 + Duration::from_secs(2), Duration::from_secs(2)), vec![HolderKey::Oplock { open: 10 }]);
        t.ended(HolderKey::Oplock { open: 10 }, 2000, Outcome::TimedOut, None);
        t.requester_gone(3, t0 + Duration::from_secs(3), 3000);
        let r = &t.take_finished()[0];
        assert_eq!((r.outcome, r.timed_out_ms), (Some(Outcome::TimedOut), Some(2000)));
        assert_eq!(r.waiters[0].result, "requester-gone");

        t.sent(t0, 0, new_break(2, 11, true, 3));
        assert_eq!(t.holders_on(1), vec![HolderKey::Oplock { open: 11 }]);
        t.ended(HolderKey::Oplock { open: 11 }, 900, Outcome::HolderVanished, Some("verdict"));
        let r = &t.take_finished()[0];
        assert_eq!((r.outcome, r.vanished_ms, r.verdict), (Some(Outcome::HolderVanished), Some(900), Some("verdict")));
        assert_eq!(t.recent(10).len(), 2, "history is bounded");
        t.sent(t0, 0, new_break(3, 12, false, 3));
        assert_eq!(t.recent(10).len(), 2);
        assert_eq!(t.recent(10)[1].id, 3);
    }

    #[test]
    fn waiters_are_bounded_per_record() {
        let t0 = Instant::now();
        let mut t = Tracer::new(1);
        let file = FileKey { device: 1, inode: 1 };
        for i in 0..(MAX_WAITERS as u64 + 5) {
            t.waiting(WaitKey::Create(100 + i), "create", party(2), 100 + i, file, t0);
        }
        t.sent(t0, 0, new_break(1, 10, true, 2));
        t.acknowledged(HolderKey::Oplock { open: 10 }, 1, "level2".into());
        for i in 0..(MAX_WAITERS as u64 + 5) {
            t.decided(WaitKey::Create(100 + i), t0, 2, "SUCCESS".into());
        }
        let r = &t.take_finished()[0];
        assert_eq!((r.waiters.len(), r.more_waiters), (MAX_WAITERS, 5));
    }
}
