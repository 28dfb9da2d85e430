//! Directory leases in the lock core: granted RH at most and only when the policy
//! allows, broken to none by a change to the directory's entries (no acknowledgment
//! awaited by anyone), except for the lease the change was made under; the per-client
//! count the server budgets with; and a host unlink's break of handle caching.
mod common;
use common::*;
use opportune_locks::*;
use opportune_types::{AccessMask, ShareAccess};
use std::time::Instant;

const DIR: FileKey = FileKey { device: 1, inode: 7 };

fn dir_lease_req(conn: u64, open: u64, n: u8, allowed: bool) -> CreateRequest {
    let mut r = req(
        conn,
        open,
        AccessMask::FILE_LIST_DIRECTORY | AccessMask::SYNCHRONIZE,
        ShareAccess::ALL,
        RequestedCaching::Lease { client: ClientGuid([n; 16]), key: LeaseKey([n; 16]), state: R | H | W, parent: None, epoch: Some(0) },
    );
    r.file = DIR;
    r.is_directory = true;
    r.policy.directory_leases_allowed = allowed;
    r
}

fn lease_state(o: CreateOutcome) -> LeaseState {
    match o {
        CreateOutcome::Granted { caching: GrantedCaching::Lease { state, .. } } => state,
        CreateOutcome::Granted { caching: GrantedCaching::None } => NONE,
        other => panic!("expected a grant, got {other:?}"),
    }
}

#[test]
fn directories_get_rh_only_when_allowed() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    assert_eq!(lease_state(c.handle_create(t0, dir_lease_req(1, 1, 1, false))), NONE);
    assert_eq!(lease_state(c.handle_create(t0, dir_lease_req(2, 2, 2, true))), R | H);
    assert_eq!(c.directory_leases_of(ClientGuid([2; 16])), 1);
    assert_eq!(c.directory_leases_of(ClientGuid([1; 16])), 0);
    assert!(c.has_lease(ClientGuid([2; 16]), LeaseKey([2; 16])));
    // A file lease does not count against the directory budget.
    c.handle_create(t0, lease_req(2, 3, 9, R | H | W));
    assert_eq!(c.directory_leases_of(ClientGuid([9; 16])), 0);
    c.handle_close(t0, OpenId(2));
    assert_eq!(c.directory_leases_of(ClientGuid([2; 16])), 0);
}

#[test]
fn a_change_breaks_other_clients_directory_leases_without_waiting() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    assert_eq!(lease_state(c.handle_create(t0, dir_lease_req(1, 1, 1, true))), R | H);
    assert_eq!(lease_state(c.handle_create(t0, dir_lease_req(2, 2, 2, true))), R | H);
    drain(&mut c);
    // Client 2 changed an entry under a lease whose ParentLeaseKey is its directory lease.
    let by_two = LeaseId { client: ClientGuid([2; 16]), key: LeaseKey([2; 16]) };
    c.handle_directory_change(t0, DIR, Some(by_two));
    let evs = drain(&mut c);
    assert_eq!(evs.len(), 1, "{evs:?}");
    match evs[0] {
        Event::SendLeaseBreak { conn, lease, from, to, ack_required, .. } => {
            assert_eq!((conn, lease.key, from, to, ack_required), (ConnId(1), LeaseKey([1; 16]), R | H, NONE, true));
        }
        ref e => panic!("unexpected {e:?}"),
    }
    // Nothing waits on the acknowledgment; a second change while it is outstanding sends
    // nothing more to client 1, and now breaks client 2 (a host change: no exception).
    c.handle_directory_change(t0, DIR, None);
    let evs = drain(&mut c);
    assert!(matches!(evs.as_slice(), [Event::SendLeaseBreak { conn: ConnId(2), to: NONE, .. }]), "{evs:?}");
    assert!(c.handle_lease_break_ack(t0, ClientGuid([1; 16]), LeaseKey([1; 16]), NONE).is_ok());
    // Reopened with the same key: granted again.
    assert_eq!(lease_state(c.handle_create(t0, dir_lease_req(1, 3, 1, true))), R | H);
}

#[test]
fn a_change_to_a_directory_nobody_leases_does_nothing() {
    let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    c.handle_directory_change(t0, DIR, None);
    assert!(drain(&mut c).is_empty());
    c.handle_create(t0, dir_lease_req(1, 1, 1, false));
    c.handle_directory_change(t0, DIR, None);
    assert!(drain(&mut c).is_empty());
}

/// A host unlink or rename breaks handle caching: an RWH lease to RW and a batch oplock
/// to none, nobody waiting; Level II and R leases stay.
#[test]
fn a_host_unlink_breaks_handle_caching_only() {
        let t0 = Instant::now();
    let mut c = LockCore::new(Config::default());
    lease_state(c.handle_create(t0, lease_req(1, 1, 1, R | H | W)));
    c.handle_host_unlink(t0, FILE);
    let evs = drain(&mut c);
    assert!(matches!(evs.as_slice(), [Event::SendLeaseBreak { from, to, ack_required: true, .. }] if *from == R | H | W && *to == R | W), "{evs:?}");

    let mut c = LockCore::new(Config::default());
    c.handle_create(t0, req(1, 1, AccessMask::FILE_ALL_ACCESS, ShareAccess::ALL, RequestedCaching::Oplock(OplockLevel::Batch)));
    c.handle_host_unlink(t0, FILE);
    let evs = drain(&mut c);
    assert!(matches!(evs.as_slice(), [Event::SendOplockBreak { open: OpenId(1), .. }]), "{evs:?}");
    // Read-only caching is left alone.
    let mut c = LockCore::new(Config::default());
    c.handle_create(t0, lease_req(1, 1, 1, R));
    c.handle_host_unlink(t0, FILE);
    assert!(drain(&mut c).is_empty());
}
