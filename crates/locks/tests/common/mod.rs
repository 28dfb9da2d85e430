#![allow(dead_code)]
use opportune_locks::*;
use opportune_types::{AccessMask, ShareAccess};

pub const FILE: FileKey = FileKey { device: 1, inode: 42 };

pub const NONE: LeaseState = LeaseState::NONE;
pub const R: LeaseState = LeaseState::R;
pub const H: LeaseState = LeaseState::H;
pub const W: LeaseState = LeaseState::W;
pub const RWH: LeaseState = LeaseState::RWH;

pub fn req(conn: u64, open: u64, access: u32, share: u32, requested: RequestedCaching) -> CreateRequest {
    CreateRequest {
        conn: ConnId(conn),
        open: OpenId(open),
        file: FILE,
        access: AccessMask(access),
        share: ShareAccess(share),
        requested,
        is_directory: false,
        truncating: false,
        delete_on_close: false,
        policy: CreatePolicy::default(),
        base: None,
    }
}

pub fn lease_req(conn: u64, open: u64, n: u8, state: LeaseState) -> CreateRequest {
    req(
        conn,
        open,
        AccessMask::FILE_ALL_ACCESS,
        ShareAccess::ALL,
        RequestedCaching::Lease { client: ClientGuid([n; 16]), key: LeaseKey([n; 16]), state, parent: None, epoch: Some(0) },
    )
}

pub fn drain(core: &mut LockCore) -> Vec<Event> {
    std::iter::from_fn(|| core.poll_event()).collect()
}
