//! A program on the host unlinked or renamed a file that SMB opens hold handle caching
//! on (issue 11, item 7). Windows defers an SMB delete or rename until handle caching
//! is broken (MS-FSA 2.1.5.14.11, 2.1.4.12); the kernel cannot defer a host unlink, so
//! the holders are told after the fact: H (and a batch oplock, which holds it) is broken
//! so the client stops keeping a handle under a name that no longer names this file.
//! Nothing waits for their acknowledgment.

use crate::breaks::{self, Trigger};
use crate::caching::LeaseState;
use crate::core::LockCore;
use crate::ids::FileKey;
use std::time::Instant;

impl LockCore {
    /// The file lost its name on the host.
    pub fn handle_host_unlink(&mut self, now: Instant, file: FileKey) {
        let holders = self.holders(file, None);
        if holders.is_empty() {
            return;
        }
        let plan = breaks::plan(&holders, LeaseState::H, Trigger::Other, |_| false);
        self.apply_plan(now, &plan, false);
    }
}
