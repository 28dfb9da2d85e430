//! A contender from outside SMB: a local process or knfsd opening a file whose caching
//! SMB clients hold (the server learns of it from a Linux lease break). The holders are
//! broken exactly as for an SMB contender (MS-FSA 2.1.4.12): an open for reading keeps
//! them to read caching (BATCH/EXCLUSIVE → LEVEL_II, a lease → R), an open for writing
//! or a truncation leaves them nothing. There is no request to defer: the host opener
//! waits in the kernel, and the server lets its lease go once [`LockCore::host_caching`]
//! shows the holders came down (acknowledgment or break timeout).

use crate::breaks::{self, HolderId, Trigger};
use crate::caching::{GrantedCaching, LEASE_FLAG_PARENT_LEASE_KEY_SET, LeaseState, OplockLevel};
use crate::core::{LockCore, OpenCaching};
use crate::ids::{FileKey, OpenId};
use crate::lease::normalize_state;
use crate::oplock::Oplock;
use std::time::Instant;

/// What the host contender does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostAccess {
    /// Opens for reading: write and handle caching go (a Linux write lease breaks to read).
    Read,
    /// Opens for writing or truncates: all caching goes (a lease breaks to none).
    Write,
}

impl HostAccess {
    /// The caching the SMB holders may keep once the break is over.
    pub fn allowed(self) -> LeaseState {
        match self {
            HostAccess::Read => LeaseState::R,
            HostAccess::Write => LeaseState::NONE,
        }
    }
}

impl LockCore {
    /// A host process opens `file` with `access` (see the module doc). Breaks that lose
    /// write or handle caching wait for an acknowledgment (or the break timer); a Level II
    /// or R-only break is in force at once. A holder already breaking to more than is
    /// allowed is broken on when its break completes.
    pub fn handle_host_open(&mut self, now: Instant, file: FileKey, access: HostAccess) {
        let (remove, trigger) = match access {
            HostAccess::Read => (LeaseState::W | LeaseState::H, Trigger::Open),
            HostAccess::Write => (LeaseState::RWH, Trigger::Other),
        };
        let holders = self.holders(file, None);
        let plan = breaks::plan(&holders, remove, trigger, |h| h.bits.intersects(LeaseState::W | LeaseState::H));
        self.apply_plan(now, &plan, false);
        for (id, _) in plan.queue {
            if let HolderId::Oplock(o) = id
                && let Some(e) = self.opens.get_mut(&o)
            {
                e.then_none = true;
            }
        }
    }

    /// The caching SMB holders of `file` have in force, all together: a holder breaking
    /// counts with what it held until it acknowledges or its break times out. A host
    /// lease may come down to [`HostAccess::allowed`] once this fits under it.
    pub fn host_caching(&self, file: FileKey) -> LeaseState {
        self.holders(file, None).iter().fold(LeaseState::NONE, |acc, h| acc | h.bits)
    }
}

impl LockCore {
    /// The host would not protect the caching just granted to `open` (the kernel refused
    /// the lease behind it): before the CREATE is answered, the grant comes down to what
    /// `allowed` covers, without a break (the client has not been told yet). A lease
    /// other opens share comes down with it (the response carries its new state); one
    /// that is breaking is left to its break. Returns the caching to answer, `None` for an
    /// unknown open.
    pub fn handle_host_refused(&mut self, open: OpenId, allowed: LeaseState) -> Option<GrantedCaching> {
        let e = self.opens.get_mut(&open)?;
        match e.caching {
            OpenCaching::None => Some(GrantedCaching::None),
            OpenCaching::Oplock(Oplock::Held(level)) => {
                let level = if allowed.contains(level.caching()) {
                    level
                } else if allowed.contains(LeaseState::R) && e.level2_ok {
                    OplockLevel::LevelII
                } else {
                    OplockLevel::None
                };
                e.caching = if level == OplockLevel::None { OpenCaching::None } else { OpenCaching::Oplock(Oplock::Held(level)) };
                Some(if level == OplockLevel::None { GrantedCaching::None } else { GrantedCaching::Oplock(level) })
            }
            OpenCaching::Oplock(o) => Some(GrantedCaching::Oplock(match o {
                Oplock::Held(l) | Oplock::Breaking { from: l, .. } => l,
            })),
            OpenCaching::Lease(lid) => {
                let l = self.leases.get_mut(&lid)?;
                if l.breaking.is_none() {
                    let state = normalize_state(l.state & allowed);
                    if state != l.state {
                        l.state = state;
                        l.epoch = l.epoch.wrapping_add(1);
                    }
                }
                let flags = if l.v2 && l.parent.is_some() { LEASE_FLAG_PARENT_LEASE_KEY_SET } else { 0 };
                Some(GrantedCaching::Lease { state: l.state, flags, epoch: if l.v2 { l.epoch } else { 0 }, parent: l.parent, v2: l.v2 })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Config, CreateRequest, Event};
    use crate::caching::{CreatePolicy, RequestedCaching};
    use crate::ids::{ClientGuid, ConnId, LeaseKey, OpenId};
    use crate::CreateOutcome;
    use opportune_types::{AccessMask, ShareAccess};

    const NONE: LeaseState = LeaseState::NONE;
    const R: LeaseState = LeaseState::R;
    const RWH: LeaseState = LeaseState::RWH;

    const FILE: FileKey = FileKey { device: 1, inode: 7 };

    fn create(core: &mut LockCore, now: Instant, open: u64, requested: RequestedCaching) -> CreateOutcome {
        core.handle_create(
            now,
            CreateRequest {
                conn: ConnId(open),
                open: OpenId(open),
                file: FILE,
                access: AccessMask(AccessMask::FILE_READ_DATA | AccessMask::FILE_WRITE_DATA),
                share: ShareAccess(ShareAccess::READ | ShareAccess::WRITE),
                requested,
                is_directory: false,
                truncating: false,
                delete_on_close: false,
                policy: CreatePolicy::default(),
                base: None,
            },
        )
    }

    fn lease(n: u8, state: LeaseState) -> RequestedCaching {
        RequestedCaching::Lease { client: ClientGuid([n; 16]), key: LeaseKey([n; 16]), state, parent: None, epoch: None }
    }

    fn events(core: &mut LockCore) -> Vec<Event> {
        std::iter::from_fn(|| core.poll_event()).collect()
    }

    #[test]
    fn a_host_reader_breaks_batch_to_level2_and_waits_for_the_ack() {
        let (mut core, now) = (LockCore::new(Config::default()), Instant::now());
        create(&mut core, now, 1, RequestedCaching::Oplock(OplockLevel::Batch));
        core.handle_host_open(now, FILE, HostAccess::Read);
        assert_eq!(events(&mut core), vec![Event::SendOplockBreak { conn: ConnId(1), open: OpenId(1), to_level: OplockLevel::LevelII }]);
        assert_eq!(core.host_caching(FILE), RWH, "the holder keeps its caching until it acknowledges");
        core.handle_oplock_break_ack(now, OpenId(1), OplockLevel::LevelII).expect("ack");
        assert_eq!(core.host_caching(FILE), R);
        assert!(HostAccess::Read.allowed().contains(core.host_caching(FILE)));
    }

    #[test]
    fn a_host_writer_breaks_level2_to_none_at_once() {
        let (mut core, now) = (LockCore::new(Config::default()), Instant::now());
        create(&mut core, now, 1, RequestedCaching::Oplock(OplockLevel::LevelII));
        create(&mut core, now, 2, lease(2, R));
        core.handle_host_open(now, FILE, HostAccess::Write);
        let evs = events(&mut core);
        assert_eq!(evs.len(), 2);
        assert!(evs.iter().all(|e| matches!(e, Event::SendOplockBreak { to_level: OplockLevel::None, .. } | Event::SendLeaseBreak { to: NONE, ack_required: false, .. })));
        assert_eq!(core.host_caching(FILE), NONE, "no acknowledgment is awaited");
    }

    #[test]
    fn a_host_reader_leaves_read_caching_alone() {
        let (mut core, now) = (LockCore::new(Config::default()), Instant::now());
        create(&mut core, now, 1, RequestedCaching::Oplock(OplockLevel::LevelII));
        create(&mut core, now, 2, lease(2, R));
        core.handle_host_open(now, FILE, HostAccess::Read);
        assert!(events(&mut core).is_empty());
        assert_eq!(core.host_caching(FILE), R);
    }

    #[test]
    fn a_host_reader_breaks_rwh_to_r_and_a_writer_then_to_none() {
        let (mut core, now) = (LockCore::new(Config::default()), Instant::now());
        create(&mut core, now, 1, lease(1, RWH));
        core.handle_host_open(now, FILE, HostAccess::Read);
        let evs = events(&mut core);
        assert!(matches!(evs[..], [Event::SendLeaseBreak { from: RWH, to: R, ack_required: true, .. }]), "{evs:?}");
        // A writer while the first break is out: none is queued behind it.
        core.handle_host_open(now, FILE, HostAccess::Write);
        assert!(events(&mut core).is_empty(), "one notification at a time");
        core.handle_lease_break_ack(now, ClientGuid([1; 16]), LeaseKey([1; 16]), R).expect("ack");
        let evs = events(&mut core);
        assert!(matches!(evs[..], [Event::SendLeaseBreak { from: R, to: NONE, ack_required: false, .. }]), "{evs:?}");
        assert_eq!(core.host_caching(FILE), NONE);
    }

    #[test]
    fn an_unacknowledged_break_ends_with_the_timer() {
        let (mut core, now) = (LockCore::new(Config::default()), Instant::now());
        create(&mut core, now, 1, RequestedCaching::Oplock(OplockLevel::Exclusive));
        core.handle_host_open(now, FILE, HostAccess::Write);
        assert_eq!(events(&mut core).len(), 1);
        assert_ne!(core.host_caching(FILE), NONE);
        let later = now + Config::default().break_timeout;
        assert_eq!(core.poll_timeout(), Some(later));
        core.handle_timeout(later);
        assert_eq!(core.host_caching(FILE), NONE);
    }

    #[test]
    fn a_refused_kernel_lease_lowers_the_grant_before_it_is_answered() {
        let (mut core, now) = (LockCore::new(Config::default()), Instant::now());
        create(&mut core, now, 1, RequestedCaching::Oplock(OplockLevel::Batch));
        assert_eq!(core.handle_host_refused(OpenId(1), R), Some(GrantedCaching::Oplock(OplockLevel::LevelII)));
        assert_eq!(core.host_caching(FILE), R);
        assert_eq!(core.handle_host_refused(OpenId(1), NONE), Some(GrantedCaching::None));
        create(&mut core, now, 2, lease(2, RWH));
        let g = core.handle_host_refused(OpenId(2), R);
        assert!(matches!(g, Some(GrantedCaching::Lease { state: R, .. })), "{g:?}");
        assert!(events(&mut core).is_empty(), "nobody is told: the grant was not answered yet");
        assert_eq!(core.handle_host_refused(OpenId(9), NONE), None);
    }

    #[test]
    fn a_file_nobody_caches_needs_nothing() {
        let (mut core, now) = (LockCore::new(Config::default()), Instant::now());
        core.handle_host_open(now, FILE, HostAccess::Write);
        assert!(events(&mut core).is_empty());
        assert_eq!(core.host_caching(FILE), NONE);
    }
}
