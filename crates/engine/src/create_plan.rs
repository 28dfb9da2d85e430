//! What a CREATE decided before anything is opened (MS-SMB2 3.3.5.9): the plan the
//! handler builds from a validated request, kept with a create that waits for breaks
//! (`deferred_create`) and read by the access check (`access_check::on_create`).

use crate::security::Descriptor;
use opportune_fs::{CreateParams, SmbPath};
use opportune_types::{AccessMask, ShareAccess, Token};
use opportune_wire::create::LeaseContext;
use std::sync::Arc;

/// Everything a create needs after its request was parsed and validated.
pub struct CreatePlan {
    pub name: String,
    pub path: SmbPath,
    pub params: CreateParams,
    pub access: AccessMask,
    pub share_access: ShareAccess,
    pub create_options: u32,
    pub oplock_level: u8,
    pub lease: Option<LeaseContext>,
    pub maximal: u32,
    pub share: usize,
    /// The new open's volatile id, also its id in the lock core.
    pub open: u64,
    pub want_mxac: bool,
    pub want_qfid: bool,
    pub truncating: bool,
    /// EAs and security descriptor for a new or overwritten file.
    pub extras: CreateExtras,
    /// DHnQ or DH2Q.
    pub durable: crate::durable::Request,
    /// SMB2_CREATE_APP_INSTANCE_ID.
    pub app_instance: Option<[u8; 16]>,
    /// The session's user (for the break trace).
    pub user: Arc<str>,
    /// Who asks and what, for the access check (`access_check::on_create`).
    pub acl: CreateAcl,
}

/// What a create applies to a file it creates, overwrites or supersedes: the EAs of
/// the ExtA context (MS-SMB2 2.2.13.2.1) and the descriptor of SecD (2.2.13.2.2).
#[derive(Default)]
pub struct CreateExtras {
    pub eas: Vec<opportune_fs::Ea>,
    pub sd: Option<Descriptor>,
    /// Whose view of an unstored descriptor an overwrite's SecD is merged into.
    pub token: Option<Arc<Token>>,
}

/// What a CREATE's check needs besides the plan: who asks, what it asked, the tree's cap.
pub struct CreateAcl {
    pub token: Arc<Token>,
    /// DesiredAccess as sent.
    pub desired: u32,
    /// The tree's maximal access (the share's read-only flag included).
    pub cap: u32,
}
