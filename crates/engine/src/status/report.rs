//! The status report: one snapshot of sessions, connections with their transport figures,
//! open files with their caching and share modes, byte-range locks, breaks in flight and
//! (on request) the last finished break records. Rendered as text for `opportune status`
//! or as JSON with a versioned schema (`opportune status --json`, docs/STATUS.md).
//!
//! Every client-chosen string goes out as it is in JSON (JSON escapes it) and is escaped
//! by the status client before it reaches a terminal in text.

use crate::break_trace::{BreakRecord, PendingBreak};
use crate::figures::{dialect_name, ConnFigures};
use crate::server::ServerState;
use opportune_types::LeaseState;
use serde::Serialize;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The schema name and version of the JSON report. The version changes when a field is
/// removed or changes meaning; new fields may appear within a version.
pub const SCHEMA: &str = "opportune-status/1";

#[derive(Serialize)]
pub struct StatusReport {
    pub schema: &'static str,
    pub server: ServerRow,
    pub sessions: Vec<SessionRow>,
    pub connections: Vec<ConnFigures>,
    pub opens: Vec<OpenRow>,
    pub byte_range_locks: Vec<LockRow>,
    pub pending_breaks: Vec<PendingRow>,
    /// Operations (creates, renames) waiting for breaks.
    pub waiting: usize,
    pub liveness: LivenessRow,
    /// The last finished break records, oldest first (only when asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaks: Option<Vec<Arc<BreakRecord>>>,
}

#[derive(Serialize)]
pub struct ServerRow {
    pub version: &'static str,
    pub listen: SocketAddr,
    pub uptime_secs: u64,
}

#[derive(Serialize)]
pub struct SessionRow {
    pub session: u64,
    pub user: String,
    pub conn: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<SocketAddr>,
    pub dialect: String,
    /// The session's user SID (its token's; ANONYMOUS LOGON for anonymous sessions).
    pub user_sid: String,
    /// The token's groups, well-known ones included, in token order.
    pub groups: Vec<GroupRow>,
    /// The UNIX identity its file-system calls run as (`unix_identity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unix: Option<UnixRow>,
}

/// A session's UNIX identity: uid, primary gid and every gid it holds.
#[derive(Serialize)]
pub struct UnixRow {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// One group of a session's token: its name where the server knows one, and its SID.
#[derive(Serialize)]
pub struct GroupRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub sid: String,
}

#[derive(Serialize)]
pub struct OpenRow {
    pub open: u64,
    /// Absent for a disconnected durable handle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<SocketAddr>,
    pub user: String,
    pub share: String,
    pub path: String,
    /// "batch", "exclusive", "level2", "none", or "lease RWH", "lease R", "lease none".
    pub caching: String,
    pub breaking: bool,
    /// Granted access mask and share access (FILE_SHARE_READ 1, WRITE 2, DELETE 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_access: Option<u32>,
    /// For a disconnected durable handle: seconds it is kept still.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable_expires_in_secs: Option<u64>,
}

#[derive(Serialize)]
pub struct LockRow {
    pub open: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<SocketAddr>,
    pub share: String,
    pub path: String,
    pub offset: u64,
    pub length: u64,
    pub exclusive: bool,
}

#[derive(Serialize)]
pub struct PendingRow {
    #[serde(flatten)]
    pub record: BreakRecord,
    pub age_ms: u64,
}

#[derive(Serialize)]
pub struct LivenessRow {
    pub break_deadlines: u64,
    pub probes: u64,
    pub proved_alive: u64,
    pub vanished: u64,
    pub sockopt_errors: u64,
}

/// Gathers the report; `figures` are the connections' answers, `breaks` how many finished
/// records to include (none without `--breaks`).
pub fn gather(state: &ServerState, mut figures: Vec<ConnFigures>, breaks: Option<usize>) -> StatusReport {
    let share_name = |i: usize| state.shares.get(i).map_or_else(String::new, |s| s.name.clone());
    let report = state.locks.report();
    let peer = |c: u64| report.peers.get(&c).copied();
    let directory = state.directory();
    let mut sessions: Vec<SessionRow> = state
        .sessions
        .lock()
        .map(|m| {
            m.iter()
                .map(|(id, s)| SessionRow {
                    session: *id,
                    user: s.user.clone(),
                    conn: s.conn,
                    client: report.peers.get(&s.conn).copied(),
                    dialect: dialect_name(s.dialect),
                    user_sid: s.token.user.to_string(),
                    groups: s.token.groups.iter().map(|g| GroupRow { name: directory.name_of(g), sid: g.to_string() }).collect(),
                    unix: s.unix.as_ref().map(|u| UnixRow { uid: u.uid, gid: u.gid, groups: u.groups.clone() }),
                })
                .collect()
        })
        .unwrap_or_default();
    sessions.sort_by_key(|s| s.session);
    figures.sort_by_key(|f| f.conn);
    let opens = report
        .opens
        .iter()
        .map(|o| OpenRow {
            open: o.open,
            conn: o.conn,
            client: o.conn.and_then(peer),
            user: o.user.as_deref().unwrap_or("").to_string(),
            share: share_name(o.share),
            path: o.path.clone(),
            caching: caching_name(o.bits, o.lease),
            breaking: o.breaking,
            access: o.share_mode.map(|(a, _)| a.0),
            share_access: o.share_mode.map(|(_, s)| s.0),
            durable_expires_in_secs: o.expires_in.map(|d| d.as_secs()),
        })
        .collect();
    let byte_range_locks = state
        .locks
        .byte_range_locks()
        .into_iter()
        .map(|l| LockRow {
            open: l.open,
            conn: l.conn,
            client: l.conn.and_then(peer),
            share: l.share.map_or_else(String::new, share_name),
            path: l.path,
            offset: l.offset,
            length: l.length,
            exclusive: l.exclusive,
        })
        .collect();
    let pending_breaks = state
        .locks
        .pending_breaks()
        .into_iter()
        .map(|PendingBreak { record, age }| PendingRow { record, age_ms: age.as_millis() as u64 })
        .collect();
    let c = &state.liveness.counters;
    let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    StatusReport {
        schema: SCHEMA,
        server: ServerRow {
            version: env!("CARGO_PKG_VERSION"),
            listen: state.config.listen,
            uptime_secs: state.wall().duration_since(state.start_time).unwrap_or_default().as_secs(),
        },
        sessions,
        connections: figures,
        opens,
        byte_range_locks,
        pending_breaks,
        waiting: report.waiting,
        liveness: LivenessRow {
            break_deadlines: g(&c.break_deadlines),
            probes: g(&c.probes),
            proved_alive: g(&c.proved_alive),
            vanished: g(&c.vanished),
            sockopt_errors: g(&c.sockopt_errors),
        },
        breaks: breaks.map(|n| state.locks.recent_breaks(n)),
    }
}

impl StatusReport {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        s.push('\n');
        s
    }

    /// The report as `opportune status` prints it.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let up = self.server.uptime_secs;
        let _ = writeln!(
            out,
            "Opportune {} on {}, up {}:{:02}:{:02}",
            self.server.version,
            self.server.listen,
            up / 3600,
            up / 60 % 60,
            up % 60
        );
        let addr = |a: Option<SocketAddr>| a.map_or_else(|| "-".to_string(), |a| a.to_string());
        let _ = writeln!(out, "\nSessions: {}", self.sessions.len());
        if !self.sessions.is_empty() {
            let _ = writeln!(out, "  {:<20} {:<16} {:<22} dialect", "session", "user", "client");
            for s in &self.sessions {
                let user = if s.user.is_empty() { "(anonymous)" } else { &s.user };
                let _ = writeln!(out, "  {:<20} {user:<16} {:<22} {}", s.session, addr(s.client), s.dialect);
                let groups: Vec<String> = s.groups.iter().map(|g| match &g.name {
                    Some(n) => format!("{n} ({})", g.sid),
                    None => g.sid.clone(),
                }).collect();
                let _ = writeln!(out, "    sid {}; groups: {}", s.user_sid, groups.join(", "));
                if let Some(u) = &s.unix {
                    let gids: Vec<String> = u.groups.iter().map(u32::to_string).collect();
                    let _ = writeln!(out, "    unix uid {} gid {}; groups: {}", u.uid, u.gid, gids.join(", "));
                }
            }
        }
        let _ = writeln!(out, "\nConnections: {}", self.connections.len());
        if !self.connections.is_empty() {
            let _ = writeln!(
                out,
                "  {:<22} {:<8} {:>5} {:>10} {:>10} {:>8} {:<10} liveness",
                "client", "dialect", "opens", "rtt ms", "last ack", "retrans", "link"
            );
            for f in &self.connections {
                let ms = |us: u32| format!("{:.1}", f64::from(us) / 1000.0);
                let rtt = f.tcp.map_or_else(|| "-".into(), |t| format!("{}±{}", ms(t.rtt_us), ms(t.rttvar_us)));
                let ack = f.last_ack_latency_ms.map_or_else(|| "-".into(), |m| format!("{m} ms"));
                let retrans = f.tcp.map_or_else(|| "-".into(), |t| t.total_retrans.to_string());
                let _ = writeln!(
                    out,
                    "  {:<22} {:<8} {:>5} {rtt:>10} {ack:>10} {retrans:>8} {:<10} {}",
                    f.peer.to_string(),
                    f.dialect.as_deref().unwrap_or("-"),
                    f.opens,
                    f.link_guard,
                    f.liveness
                );
            }
        }
        let _ = writeln!(out, "\nOpen files: {}", self.opens.len());
        if !self.opens.is_empty() {
            let _ = writeln!(
                out,
                "  {:<20} {:<22} {:<12} {:<14} {:<10} {:<5} path",
                "open", "client", "share", "caching", "access", "share"
            );
            for o in &self.opens {
                let client = match o.durable_expires_in_secs {
                    Some(left) => format!("disconnected, {left} s left"),
                    None => addr(o.client),
                };
                let mut caching = o.caching.clone();
                if o.breaking {
                    caching.push_str(", breaking");
                }
                let access = o.access.map_or_else(|| "-".into(), |a| format!("0x{a:08x}"));
                let share = o.share_access.map_or_else(|| "-".into(), share_letters);
                let _ = writeln!(out, "  {:<20} {client:<22} {:<12} {caching:<14} {access:<10} {share:<5} {}", o.open, o.share, o.path);
            }
        }
        let _ = writeln!(out, "\nByte-range locks: {}", self.byte_range_locks.len());
        if !self.byte_range_locks.is_empty() {
            let _ = writeln!(out, "  {:<20} {:<22} {:<9} {:>20} {:>20} path", "open", "client", "mode", "offset", "length");
            for l in &self.byte_range_locks {
                let mode = if l.exclusive { "exclusive" } else { "shared" };
                let _ = writeln!(
                    out,
                    "  {:<20} {:<22} {mode:<9} {:>20} {:>20} {}\\{}",
                    l.open,
                    addr(l.client),
                    l.offset,
                    l.length,
                    l.share,
                    l.path
                );
            }
        }
        let _ = writeln!(out, "\nPending breaks: {}", self.pending_breaks.len());
        for p in &self.pending_breaks {
            let _ = writeln!(out, "  {} ({} ms old)", p.record.to_text(), p.age_ms);
        }
        let _ = writeln!(out, "\nOperations waiting for breaks: {}", self.waiting);
        let l = &self.liveness;
        let _ = writeln!(
            out,
            "\nTransport liveness: break deadlines {}, probes {}, proved alive {}, vanished {}, socket option errors {}",
            l.break_deadlines, l.probes, l.proved_alive, l.vanished, l.sockopt_errors
        );
        if let Some(breaks) = &self.breaks {
            let _ = writeln!(out, "\nRecent breaks: {}", breaks.len());
            for b in breaks {
                let _ = writeln!(out, "  {}", b.to_text());
            }
        }
        out
    }
}

/// FILE_SHARE_READ/WRITE/DELETE as "RWD" letters ("-" for none).
fn share_letters(s: u32) -> String {
    let l: String = [(1, 'R'), (2, 'W'), (4, 'D')].iter().filter(|(b, _)| s & b != 0).map(|(_, c)| *c).collect();
    if l.is_empty() { "-".into() } else { l }
}

/// "batch", "exclusive", "level2", "lease RWH", … for an open's caching.
pub fn caching_name(bits: LeaseState, lease: bool) -> String {
    if lease {
        let s = crate::break_trace::lease_letters(bits);
        return if s.is_empty() { "lease none".into() } else { format!("lease {s}") };
    }
    crate::break_trace::oplock_name(bits).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(caching_name(LeaseState::RWH, false), "batch");
        assert_eq!(caching_name(LeaseState::R, false), "level2");
        assert_eq!(caching_name(LeaseState::RWH, true), "lease RWH");
        assert_eq!(caching_name(LeaseState::RH, true), "lease RH");
        assert_eq!(caching_name(LeaseState::NONE, false), "none");
        assert_eq!(caching_name(LeaseState::NONE, true), "lease none");
        assert_eq!(share_letters(7), "RWD");
        assert_eq!(share_letters(0), "-");
    }
}
