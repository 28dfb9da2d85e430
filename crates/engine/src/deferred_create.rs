//! A CREATE waiting for oplock and lease breaks (MS-SMB2 3.3.4.2): its plan and where it
//! stopped, kept on the connection until the lock core decides (`handlers::create_open`).

use crate::create_plan::CreatePlan;
use opportune_fs::{FileInfo, Opened};

/// Where a create stopped to wait for breaks.
pub enum Stage {
    /// An existing file is to be overwritten; it was admitted but not yet truncated.
    Probed,
    /// The file is open; only its admission is outstanding.
    Opened(Box<Opened>, FileInfo),
}

pub struct DeferredCreate {
    pub plan: CreatePlan,
    pub stage: Stage,
}
