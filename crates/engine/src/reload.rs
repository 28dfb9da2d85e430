//! Reloading the configuration while connections stay (SIGHUP, `opportune reload`):
//! shares added, removed or changed and users replaced; settings that cannot change in
//! a running server are named so the admin knows a restart is needed for them.
//!
//! Nothing is applied unless every new or moved share opens. A share whose path stays
//! keeps its open root (and so its open files) and takes the new settings at once; a
//! share whose path changed is a removed share plus a new one. Trees of a removed share
//! answer STATUS_NETWORK_NAME_DELETED (MS-SMB2 3.3.5.2.11 as Windows behaves when a share
//! is deleted). Sessions of a user no longer configured are logged off: their opens
//! close and their next request answers STATUS_USER_SESSION_DELETED.
//!
//! Users and groups (the `[[user]]` tables and the users file) are replaced as a whole;
//! new group memberships count for share access lists at the next tree connect, and in
//! a session's token from its next logon. The domain SID (state directory) stays. So do
//! UNIX identities (`unix_identity`): a changed uid/gid, group gid or system account
//! counts from the user's next logon; turning `unix_identity` on or off needs a restart.

use crate::config::{ServerConfig, ShareConfig};
use crate::locking::ConnEvent;
use crate::server::ServerState;
use crate::server_error::ServerError;
use crate::share_state::ShareState;
use std::fmt;

/// What a reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Same name, new settings (or a new path: then also in neither list above).
    pub changed: Vec<String>,
    pub users: usize,
    pub users_removed: Vec<String>,
    pub sessions_logged_off: usize,
    /// Settings that differ from the running server's and need a restart.
    pub needs_restart: Vec<&'static str>,
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
        write!(
            f,
            "shares added: {}; removed: {}; changed: {}; {} users ({} removed, {} sessions logged off)",
            list(&self.added),
            list(&self.removed),
            list(&self.changed),
            self.users,
            self.users_removed.len(),
            self.sessions_logged_off
        )?;
        if !self.needs_restart.is_empty() {
            write!(f, "; needs a restart to change: {}", self.needs_restart.join(", "))?;
        }
        Ok(())
    }
}

/// Whether two share configurations name the same directory the same way, so the open
/// root can be kept.
fn same_root(a: &ShareConfig, b: &ShareConfig) -> bool {
    let canon = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(&a.path) == canon(&b.path) && a.case_sensitive == b.case_sensitive && a.space == b.space
}

/// The settings a running server keeps until it restarts, where `new` differs.
fn restart_needed(old: &ServerConfig, new: &ServerConfig) -> Vec<&'static str> {
    let mut v = Vec::new();
    let mut differs = |name: &'static str, d: bool| {
        if d {
            v.push(name);
        }
    };
    differs("listen", old.listen != new.listen);
    differs("guest", old.guest != new.guest);
    differs("server_name", old.server_name != new.server_name);
    differs("signing_required", old.signing_required != new.signing_required);
    differs("encryption", old.encryption != new.encryption);
    differs("max_connections", old.max_connections != new.max_connections);
    differs("oplock_break_timeout_secs", old.oplock_break_timeout != new.oplock_break_timeout);
    differs("enable_oplocks", old.enable_oplocks != new.enable_oplocks);
    differs("kernel_oplocks", old.kernel_oplocks != new.kernel_oplocks);
    differs("oplock_break_wait_ms", old.oplock_break_wait != new.oplock_break_wait);
    differs("max_link_delay_secs", old.max_link_delay != new.max_link_delay);
    differs("min_link_throughput", old.min_link_throughput != new.min_link_throughput);
    differs("status_socket", old.status_socket != new.status_socket);
    differs("state_dir", old.state_dir != new.state_dir);
    differs("limits", format!("{:?}", old.limits) != format!("{:?}", new.limits));
    differs("max_opens_per_session", old.max_opens_per_session != new.max_opens_per_session);
    differs("max_sessions_per_connection", old.max_sessions_per_connection != new.max_sessions_per_connection);
    differs("max_trees_per_session", old.max_trees_per_session != new.max_trees_per_session);
    differs("liveness", old.liveness != new.liveness);
    differs("break_history", old.break_history != new.break_history);
    differs("unix_identity", old.unix_identity != new.unix_identity);
    v
}

impl ServerState {
    /// Reads the configuration again and applies it (SIGHUP, `opportune reload`).
    pub fn reload(&self) -> Result<ReloadReport, String> {
        let Some(read) = self.reloader() else { return Err("this server cannot reload (no configuration source)".into()) };
        let config = read().map_err(|e| {
            tracing::warn!(error = %e, "reload refused: the configuration does not load");
            e
        })?;
        reload(self, &config).map_err(|e| {
            tracing::warn!(error = %e, "reload refused");
            e.to_string()
        })
    }
}

/// Applies `new` to the running server (see the module documentation).
pub fn reload(state: &ServerState, new: &ServerConfig) -> Result<ReloadReport, ServerError> {
    let enc = state.config.encryption;
    // A restart setting: the running value stays.
    let kernel = state.config.kernel_oplocks;
    let live = state.shares.live();
    let quotas = crate::quota::tables(&state.shares);
    // Open everything new first: a share that does not open leaves the server as it was.
    enum Step {
        Keep(usize, ShareState),
        Move(usize, ShareState),
        Add(ShareState),
    }
    let mut steps = Vec::new();
    for s in &new.shares {
        match live.iter().find(|(_, old)| old.name.eq_ignore_ascii_case(&s.name)) {
            Some((i, old)) if same_root(&old.config, s) => steps.push(Step::Keep(*i, ShareState::with_fs(s, enc, kernel, old.fs.clone()))),
            Some((i, _)) => steps.push(Step::Move(*i, ShareState::open(s, enc, kernel)?)),
            None => steps.push(Step::Add(ShareState::open(s, enc, kernel)?)),
        }
    }
    let mut report = ReloadReport { needs_restart: restart_needed(&state.config, new), ..Default::default() };
    for (i, old) in &live {
        if !new.shares.iter().any(|s| s.name.eq_ignore_ascii_case(&old.name)) {
            state.shares.remove(*i);
            report.removed.push(old.name.clone());
        }
    }
    for step in steps {
        match step {
            Step::Keep(i, share) => {
                let before = state.shares.get(i);
                if before.is_some_and(|b| format!("{:?}", b.config) != format!("{:?}", share.config)) {
                    report.changed.push(share.name.clone());
                }
                state.locks.set_share_name(i, &share.name);
                state.shares.replace(i, share);
            }
            Step::Move(i, share) => {
                state.shares.remove(i);
                report.changed.push(share.name.clone());
                let name = share.name.clone();
                let j = state.shares.add(share);
                state.locks.set_share_name(j, &name);
            }
            Step::Add(share) => {
                report.added.push(share.name.clone());
                let name = share.name.clone();
                let j = state.shares.add(share);
                state.locks.set_share_name(j, &name);
            }
        }
    }
    let old_users = state.users();
    report.users_removed = old_users
        .iter()
        .filter(|u| !new.users.iter().any(|n| n.name.eq_ignore_ascii_case(&u.name)))
        .map(|u| u.name.clone())
        .collect();
    state.set_users(new.users.clone(), &new.groups);
    // Limits from the new users and shares; every tracking share is scanned again.
    crate::quota::configure(&state.shares, &state.directory(), &new.user_quotas, &quotas);
    report.users = new.users.len();
    let sessions: Vec<(u64, u64)> = state
        .sessions
        .lock()
        .map(|m| {
            m.iter()
                .filter(|(_, s)| report.users_removed.iter().any(|r| r.eq_ignore_ascii_case(&s.user)))
                .map(|(id, s)| (*id, s.conn))
                .collect()
        })
        .unwrap_or_default();
    for (session, conn) in sessions {
        state.locks.send_to(conn, ConnEvent::ExpireSession { session, why: "its user was removed from the configuration" });
        report.sessions_logged_off += 1;
    }
    tracing::info!(%report, "configuration reloaded");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_settings_are_named() {
        let a = ServerConfig::new("127.0.0.1:4445".parse().unwrap());
        let mut b = ServerConfig::new("127.0.0.1:4446".parse().unwrap());
        assert_eq!(restart_needed(&a, &a.clone()), Vec::<&str>::new());
        b.oplock_break_timeout = std::time::Duration::from_secs(5);
        b.limits.max_pending_logons = 1;
        assert_eq!(restart_needed(&a, &b), vec!["listen", "oplock_break_timeout_secs", "limits"]);
    }

    #[test]
    fn the_report_says_what_changed() {
        let r = ReloadReport {
            added: vec!["new".into()],
            removed: vec!["old".into()],
            users: 2,
            needs_restart: vec!["listen"],
            ..Default::default()
        };
        assert_eq!(
            r.to_string(),
            "shares added: new; removed: old; changed: none; 2 users (0 removed, 0 sessions logged off); needs a restart to change: listen"
        );
    }
}
