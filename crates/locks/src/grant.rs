//! The grant step of a create: which oplock level or lease state a new open gets
//! (MS-SMB2 3.3.5.9, 3.3.5.9.8, 3.3.5.9.11; MS-FSA 2.1.5.17).

use crate::api::{CreateOutcome, CreateRequest};
use crate::breaks::HolderId;
use crate::caching::{GrantedCaching, LEASE_FLAG_BREAK_IN_PROGRESS, LEASE_FLAG_PARENT_LEASE_KEY_SET, LeaseState, OplockLevel, RequestedCaching};
use crate::core::{FileState, LockCore, OpenCaching, OpenEntry};
use crate::ids::{LeaseId, OpenId};
use crate::lease::{self, Lease, Others};
use crate::oplock::Oplock;
use crate::share_mode::{self, ShareEntry};

impl LockCore {
    /// Grants the create: registers the open and computes its caching.
    pub(crate) fn grant(&mut self, req: &CreateRequest, lease_id: Option<LeaseId>) -> CreateOutcome {
        // A core of a partitioned server: the lease key is claimed for this file before
        // anything changes; another core's create that took it first for another file wins.
        if let (Some(lid), Some(reg), RequestedCaching::Lease { .. }) = (lease_id, &self.registry, req.requested)
            && !self.leases.contains_key(&lid)
            && !reg.claim(lid, req.file)
        {
            return CreateOutcome::Denied(opportune_types::NtStatus::INVALID_PARAMETER);
        }
        let level2_ok = self.config.level2_oplocks && req.policy.level2_allowed;
        let holders = self.holders(req.file, lease_id);
        let others: Vec<OpenId> = self.files.get(&req.file).map(|f| f.opens.clone()).unwrap_or_default();
        let caching = match (req.requested, lease_id) {
            (RequestedCaching::Lease { state, parent, epoch, .. }, Some(lid)) => {
                let lease_opens = self.leases.get(&lid).map(|l| l.opens.clone()).unwrap_or_default();
                // Stat opens (READ_CONTROL included) without caching of their own do not
                // count (smb2.lease.statopen3).
                let o = Others {
                    other_opens: others.iter().any(|x| {
                        let e = &self.opens[x];
                        !lease_opens.contains(x)
                            && (!share_mode::is_lease_stat_open(e.share.access) || e.caching != OpenCaching::None)
                    }),
                    other_write: holders.iter().any(|h| h.bits.intersects(LeaseState::W)),
                    other_oplock: holders.iter().any(|h| matches!(h.id, HolderId::Oplock(_))),
                };
                let wanted = lease::normalize_request(state, req.is_directory, req.policy.directory_leases_allowed);
                self.grant_lease(req, lid, wanted, o, parent, epoch)
            }
            (RequestedCaching::Oplock(level), _)
                if self.config.oplocks && req.policy.oplocks_allowed && !req.is_directory =>
            {
                // MS-FSA 2.1.5.17.1: exclusive and batch only for the sole open; otherwise
                // MS-SMB2 3.3.5.9 falls back to Level II, which cannot coexist with write
                // caching or with an H lease (smbtorture smb2.lease.oplock).
                let blocked = holders
                    .iter()
                    .any(|h| h.bits.intersects(LeaseState::W) || (matches!(h.id, HolderId::Lease(_)) && h.bits.intersects(LeaseState::H)));
                let granted = if (level == OplockLevel::Exclusive || level == OplockLevel::Batch) && others.is_empty() {
                    level
                } else if matches!(level, OplockLevel::LevelII | OplockLevel::Exclusive | OplockLevel::Batch) && level2_ok && !blocked {
                    OplockLevel::LevelII
                } else {
                    OplockLevel::None
                };
                if granted == OplockLevel::None { GrantedCaching::None } else { GrantedCaching::Oplock(granted) }
            }
            _ => GrantedCaching::None,
        };
        let open_caching = match caching {
            GrantedCaching::None => OpenCaching::None,
            GrantedCaching::Oplock(l) => OpenCaching::Oplock(Oplock::Held(l)),
            GrantedCaching::Lease { .. } => OpenCaching::Lease(lease_id.expect("lease grant has an id")),
        };
        let f = self.files.get_or_insert_with(req.file, FileState::default);
        f.opens.push(req.open);
        f.base = req.base;
        if let Some(b) = req.base {
            self.streams.entry(b).or_default().insert(req.file);
        }
        self.opens.insert(
            req.open,
            OpenEntry {
                conn: req.conn,
                file: req.file,
                share: ShareEntry { access: req.access, share: req.share },
                is_directory: req.is_directory,
                level2_ok,
                caching: open_caching,
                delete_on_close: req.delete_on_close,
                then_none: false,
            },
        );
        CreateOutcome::Granted { caching }
    }

    /// MS-SMB2 3.3.5.9.8 (v1) / 3.3.5.9.11 (v2): joins or creates the lease.
    fn grant_lease(
        &mut self,
        req: &CreateRequest,
        lid: LeaseId,
        wanted: LeaseState,
        others: Others,
        parent: Option<crate::ids::LeaseKey>,
        epoch: Option<u16>,
    ) -> GrantedCaching {
        let l = self.leases.entry(lid).or_insert_with(|| Lease {
            file: req.file,
            state: LeaseState::NONE,
            // MS-SMB2 3.3.5.9.11: a new v2 lease answers the client's epoch plus one.
            epoch: epoch.unwrap_or(0),
            v2: epoch.is_some(),
            parent,
            breaking: None,
            opens: Vec::new(),
            conn: req.conn,
            queued: None,
        });
        let mut flags = 0;
        if l.opens.is_empty() {
            l.state = lease::grantable(wanted, others);
            l.epoch = l.epoch.wrapping_add(1);
        } else if l.breaking.is_some() {
            // MS-SMB2 3.3.5.9.8: no upgrade while breaking; report the break in progress.
            flags |= LEASE_FLAG_BREAK_IN_PROGRESS;
        } else {
            let new = lease::upgrade(l.state, wanted, others);
            if new != l.state {
                l.state = new;
                l.epoch = l.epoch.wrapping_add(1);
            }
        }
        l.opens.push(req.open);
        l.conn = req.conn;
        if l.v2 && l.parent.is_some() {
            flags |= LEASE_FLAG_PARENT_LEASE_KEY_SET;
        }
        GrantedCaching::Lease { state: l.state, flags, epoch: if l.v2 { l.epoch } else { 0 }, parent: l.parent, v2: l.v2 }
    }
}
