//! What the RPC services answer from: a read-only view of the server for one caller.
//! The server implements it over its configuration and the caller's session, so the
//! services never see more than that caller may.

use crate::sid::Sid;

/// Share types (MS-SRVS 2.2.2.4).
pub mod stype {
    pub const DISKTREE: u32 = 0x0000_0000;
    pub const IPC: u32 = 0x0000_0003;
    /// An administrative share (IPC$, ADMIN$, C$).
    pub const SPECIAL: u32 = 0x8000_0000;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareEntry {
    pub name: String,
    /// STYPE_* bits.
    pub stype: u32,
    pub comment: String,
    /// The local path in the form Windows shows it (`C:\srv\docs`), for levels 2 and
    /// 502; empty for IPC$.
    pub path: String,
    /// Tree connects to the share now (shi2_current_uses).
    pub current_uses: u32,
}

/// Kinds of accounts of the server's own domain (SID_NAME_USE, MS-LSAT 2.2.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    User,
    Group,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    /// The relative id under [`Provider::domain_sid`].
    pub rid: u32,
    pub kind: AccountKind,
}

pub trait Provider {
    /// The server's NetBIOS name, also its account domain's name (MS-LSAT 3.1.1.1).
    fn server_name(&self) -> String;
    /// The server's comment (sv101_comment).
    fn server_comment(&self) -> String;
    /// The workgroup the server presents as its primary domain (wki100_langroup).
    fn workgroup(&self) -> String;
    /// The shares the caller may connect to, IPC$ included, in listing order.
    fn shares(&self) -> Vec<ShareEntry>;
    /// Whether the caller is an authenticated user (not guest or anonymous): levels
    /// with paths (2, 502) and LSA policy handles need one.
    fn authenticated(&self) -> bool;
    /// The SID of the server's account domain (S-1-5-21-x-y-z).
    fn domain_sid(&self) -> Sid;
    /// The users and groups of the account domain.
    fn accounts(&self) -> Vec<Account>;
}
