//! The view of the server the RPC services of the named pipes answer from
//! (`opportune_rpc::Provider`), limited to what the caller's session may see.

use crate::server::ServerState;
use crate::session::Identity;
use opportune_rpc::provider::{stype, Account, Provider, ShareEntry};
use opportune_rpc::sid::Sid;

/// The server as one session sees it over RPC.
pub struct ServerView<'a> {
    pub server: &'a ServerState,
    pub identity: Identity,
}

/// IPC$ as share listings show it (Windows: type STYPE_IPC | STYPE_SPECIAL).
const IPC_COMMENT: &str = "Remote IPC";

impl Provider for ServerView<'_> {
    fn server_name(&self) -> String {
        self.server.config.server_name.clone()
    }

    fn server_comment(&self) -> String {
        self.server.config.server_comment.clone()
    }

    fn workgroup(&self) -> String {
        self.server.config.workgroup.clone()
    }

    /// The shares this session may connect to, in configuration order, then IPC$.
    /// Hidden shares (names ending in `$`) are listed too, as Windows lists them; clients
    /// such as `net view` leave them out themselves.
    fn shares(&self) -> Vec<ShareEntry> {
        let mut out: Vec<ShareEntry> = self
            .server
            .shares
            .live()
            .into_iter()
            .filter(|(_, s)| self.server.may_use(s, self.identity))
            .map(|(_, s)| {
                ShareEntry {
                    name: s.name.clone(),
                    stype: stype::DISKTREE,
                    comment: s.comment.clone(),
                    path: windows_path(&s.path),
                    // Tree connects live in their connections' tasks and are not counted.
                    current_uses: 0,
                }
            })
            .collect();
        out.push(ShareEntry {
            name: "IPC$".into(),
            stype: stype::IPC | stype::SPECIAL,
            comment: IPC_COMMENT.into(),
            path: String::new(),
            current_uses: 0,
        });
        out
    }

    fn authenticated(&self) -> bool {
        self.identity == Identity::User
    }

    fn domain_sid(&self) -> Sid {
        self.server.directory().domain.clone()
    }

    fn accounts(&self) -> Vec<Account> {
        self.server.directory().accounts()
    }
}

/// A share root as Windows shows local paths (shi2_path): `C:` and the path with
/// backslashes, as Samba shows it.
fn windows_path(p: &std::path::Path) -> String {
    format!("C:{}", p.to_string_lossy().replace('/', "\\"))
}
