//! Invariants over random sequences: several connections, random opens, writes,
//! closes, disconnects, acknowledgments that are late, wrong or never sent.
mod common;
use common::*;
use opportune_locks::*;
use opportune_types::{AccessMask, ShareAccess};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
enum Op {
    Create { conn: u64, access: u8, share: u32, caching: u8, key: u8, state: u32, truncating: bool },
    Close(usize),
    Write(usize),
    AckOplock(usize, OplockLevel),
    AckLease(u8, u32),
    AckLastBreak,
    Advance(u64),
    Disconnect(u64),
    /// A host process opens the file (a kernel lease break): for writing if true.
    Host(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u64..4, 0u8..3, 0u32..8, 0u8..5, 0u8..3, 0u32..8, proptest::bool::weighted(0.15)).prop_map(|(conn, access, share, caching, key, state, truncating)| Op::Create { conn, access, share, caching, key, state, truncating }),
        2 => (0usize..8).prop_map(Op::Close),
        2 => (0usize..8).prop_map(Op::Write),
        1 => ((0usize..8), prop_oneof![Just(OplockLevel::None), Just(OplockLevel::LevelII), Just(OplockLevel::Batch)]).prop_map(|(i, l)| Op::AckOplock(i, l)),
        1 => (0u8..3, 0u32..8).prop_map(|(k, s)| Op::AckLease(k, s)),
        3 => Just(Op::AckLastBreak),
        2 => (0u64..40).prop_map(Op::Advance),
        1 => (1u64..4).prop_map(Op::Disconnect),
        1 => proptest::bool::ANY.prop_map(Op::Host),
    ]
}

struct World {
    core: LockCore,
    now: Instant,
    next_open: u64,
    live: BTreeMap<OpenId, ConnId>,
    deferred: BTreeMap<OpenId, (ConnId, Instant)>,
    last_breaks: Vec<Event>,
    /// A deferred create was granted since this was last cleared.
    granted_late: bool,
}

impl World {
    fn absorb(&mut self) -> Vec<Event> {
        let evs = drain(&mut self.core);
        for e in &evs {
            match *e {
                Event::CompleteCreate { open, outcome } => {
                    let (conn, _) = self.deferred.remove(&open).expect("completion for a deferred create");
                    if matches!(outcome, CreateOutcome::Granted { .. }) {
                        self.live.insert(open, conn);
                        self.granted_late = true;
                    }
                }
                Event::SendOplockBreak { .. } | Event::SendLeaseBreak { .. } => self.last_breaks.push(*e),
                _ => {}
            }
        }
        evs
    }

    fn nth_live(&self, i: usize) -> Option<OpenId> {
        if self.live.is_empty() { None } else { self.live.keys().nth(i % self.live.len()).copied() }
    }

    /// No two holders (different oplock opens or lease keys) hold caching when one of
    /// them caches writes.
    fn check_exclusivity(&self) -> Result<(), TestCaseError> {
        let mut holders: Vec<(Option<LeaseId>, OpenId, LeaseState)> = Vec::new();
        for &o in self.live.keys() {
            let v = self.core.caching_of(o).expect("live open known to the core");
            if !v.bits.is_empty() && !holders.iter().any(|h| h.0.is_some() && h.0 == v.lease) {
                holders.push((v.lease, o, v.bits));
            }
        }
        for (i, a) in holders.iter().enumerate() {
            for b in &holders[i + 1..] {
                prop_assert!(!(a.2.intersects(W) || b.2.intersects(W)), "conflicting caching: {:?} and {:?}", a, b);
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn invariants_hold(ops in proptest::collection::vec(op(), 1..80)) {
        let timeout = Duration::from_secs(35);
        let mut w = World { core: LockCore::new(Config::default()), now: Instant::now(), next_open: 1, live: BTreeMap::new(), deferred: BTreeMap::new(), last_breaks: Vec::new(), granted_late: false };
        // A host open waiting for the SMB holders to come down: what they may keep, and by
        // when (the break timeout). A later SMB create may grant caching again (the
        // server's kernel lease decides that), so it ends the watch.
        let mut host_wait: Option<(LeaseState, Instant)> = None;
        for op in &ops {
            if matches!(op, Op::Create { .. }) {
                host_wait = None;
            }
            match *op {
                Op::Create { conn, access, share, caching, key, state, truncating } => {
                    let access = [AccessMask::FILE_ALL_ACCESS, AccessMask::FILE_GENERIC_READ, AccessMask::FILE_READ_ATTRIBUTES | AccessMask::SYNCHRONIZE][access as usize];
                    let requested = match caching {
                        0 => RequestedCaching::None,
                        1 => RequestedCaching::Oplock(OplockLevel::LevelII),
                        2 => RequestedCaching::Oplock(OplockLevel::Exclusive),
                        3 => RequestedCaching::Oplock(OplockLevel::Batch),
                        _ => RequestedCaching::Lease { client: ClientGuid([conn as u8; 16]), key: LeaseKey([key; 16]), state: LeaseState::from_wire(state), parent: None, epoch: None },
                    };
                    let open = OpenId(w.next_open);
                    w.next_open += 1;
                    let mut r = req(conn, open.0, access, share & ShareAccess::ALL, requested);
                    r.truncating = truncating;
                    match w.core.handle_create(w.now, r) {
                        CreateOutcome::Granted { .. } => { w.live.insert(open, ConnId(conn)); }
                        CreateOutcome::Deferred => { w.deferred.insert(open, (ConnId(conn), w.now)); }
                        _ => {}
                    }
                }
                Op::Close(i) => if let Some(o) = w.nth_live(i) {
                    w.live.remove(&o);
                    prop_assert!(w.core.handle_close(w.now, o).is_some());
                },
                Op::Write(i) => if let Some(o) = w.nth_live(i) {
                    let own_lease = w.core.caching_of(o).unwrap().lease;
                    let before: Vec<(OpenId, LeaseState, bool)> = w.live.keys().map(|&x| { let v = w.core.caching_of(x).unwrap(); (x, v.bits, v.breaking) }).collect();
                    w.core.handle_write(w.now, o);
                    let evs = w.absorb();
                    for (x, bits, breaking) in before {
                        let v = w.core.caching_of(x).unwrap();
                        if v.lease.is_some() && v.lease == own_lease { continue; }
                        if x == o && bits.intersects(W) { continue; }
                        if bits.intersects(R) && !breaking {
                            let told = evs.iter().any(|e| match *e {
                                Event::SendOplockBreak { open, .. } => open == x,
                                Event::SendLeaseBreak { lease, .. } => Some(lease) == v.lease,
                                _ => false,
                            });
                            prop_assert!(told, "holder {:?} of {:?} not told before the write by {:?}", x, bits, o);
                            prop_assert!(!v.bits.intersects(R) || v.breaking, "holder {:?} still reads {:?}", x, v);
                        }
                    }
                },
                Op::AckOplock(i, level) => if let Some(o) = w.nth_live(i) {
                    let _ = w.core.handle_oplock_break_ack(w.now, o, level);
                },
                Op::AckLease(k, s) => {
                    for c in 1..4u8 {
                        let _ = w.core.handle_lease_break_ack(w.now, ClientGuid([c; 16]), LeaseKey([k; 16]), LeaseState::from_wire(s));
                    }
                }
                Op::AckLastBreak => if let Some(e) = w.last_breaks.pop() {
                    match e {
                        Event::SendOplockBreak { open, to_level, .. } => { let _ = w.core.handle_oplock_break_ack(w.now, open, to_level); }
                        Event::SendLeaseBreak { lease, to, ack_required: true, .. } => { let _ = w.core.handle_lease_break_ack(w.now, lease.client, lease.key, to); }
                        _ => {}
                    }
                },
                Op::Advance(secs) => {
                    let target = w.now + Duration::from_secs(secs);
                    while let Some(t) = w.core.poll_timeout() {
                        if t > target { break; }
                        prop_assert!(t >= w.now, "timer in the past");
                        w.now = t;
                        w.core.handle_timeout(t);
                        w.absorb();
                        let next = w.core.poll_timeout();
                        prop_assert!(next.is_none_or(|n| n > t), "handle_timeout({:?}) left a due timer", t);
                    }
                    w.now = target;
                }
                Op::Host(write) => {
                    let access = if write { HostAccess::Write } else { HostAccess::Read };
                    w.core.handle_host_open(w.now, FILE, access);
                    w.absorb();
                    for &x in w.live.keys() {
                        let v = w.core.caching_of(x).unwrap();
                        prop_assert!(access.allowed().contains(v.bits) || v.breaking, "holder {:?} keeps {:?} past a host open", x, v);
                    }
                    let allowed = host_wait.map_or(access.allowed(), |(a, _)| a & access.allowed());
                    host_wait = Some((allowed, host_wait.map_or(w.now + timeout, |(_, d)| d.min(w.now + timeout))));
                }
                Op::Disconnect(conn) => {
                    let closed = w.core.handle_disconnect(w.now, ConnId(conn));
                    for (o, _) in closed { prop_assert!(w.live.remove(&o).is_some()); }
                    w.deferred.retain(|_, (c, _)| *c != ConnId(conn));
                    prop_assert!(w.live.values().all(|c| *c != ConnId(conn)));
                }
            }
            w.absorb();
            // A create deferred before the host open and granted after it is judged by the
            // server's kernel lease like a new create (the kernel refuses what the host's
            // open leaves unsafe), so it ends the watch too.
            if std::mem::take(&mut w.granted_late) {
                host_wait = None;
            }
            w.check_exclusivity()?;
            for (o, (_, at)) in &w.deferred {
                prop_assert!(*at + timeout > w.now, "create {:?} deferred at {:?} still waiting at {:?}", o, at, w.now);
            }
            prop_assert_eq!(w.deferred.len(), w.core.deferred_count());
            if let Some((allowed, by)) = host_wait && w.now >= by {
                // Queued follow-up breaks of leases may take one more timeout.
                prop_assert!(allowed.contains(w.core.host_caching(FILE)) || w.now < by + timeout,
                    "holders keep {:?} past the host's break deadline", w.core.host_caching(FILE));
            }
        }
    }
}
