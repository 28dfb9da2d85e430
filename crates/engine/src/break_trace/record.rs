//! One break as a record (issue 12, "break trace"): the file, the holder, from → to,
//! what triggered it, when it was sent and how it ended, and every request that waited
//! on it. What `opportune trace` streams and `opportune status --breaks` shows; the JSON
//! form is part of the documented status schema (docs/STATUS.md).

use opportune_types::{LeaseState, OplockLevel};
use serde::Serialize;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

/// A client of the server as a record names it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Party {
    /// The server's connection id (absent for a durable handle whose connection is gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    /// The client's address and port (absent for a durable handle whose connection is gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<SocketAddr>,
    /// The session's user name (empty for an anonymous or guest session).
    pub user: Arc<str>,
    /// Connection.ClientGuid, as a GUID string (absent before SMB 2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_guid: Option<String>,
}

/// Who holds the caching being broken.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Holder {
    #[serde(flatten)]
    pub party: Party,
    /// "oplock" or "lease".
    pub kind: &'static str,
    /// The open holding the oplock, or one open under the lease.
    pub open: u64,
    /// The lease key (GUID string) of a lease.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_key: Option<String>,
}

/// What made the server break: a request from a client (open, write, truncate, rename,
/// byte-range lock, delete), or a break queued behind an earlier one.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Trigger {
    /// "open", "write", "truncate", "rename", "lock", "delete", "queued", "timer", or
    /// "host" (a process outside SMB opened the file: a kernel lease break).
    pub cause: &'static str,
    /// The client whose request it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Party>,
    /// That request's open (the new open for a create).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open: Option<u64>,
}

/// How a break ended.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The holder acknowledged (MS-SMB2 3.3.5.22).
    Acknowledged,
    /// A break to none from Level II or R needs no acknowledgment: in force when sent.
    NoAckNeeded,
    /// The break timer fired before an acknowledgment (MS-SMB2 3.3.6.3/3.3.6.4).
    TimedOut,
    /// The holder closed the file instead of acknowledging.
    HolderClosed,
    /// The holder's connection ended without a transport-liveness verdict.
    HolderDisconnected,
    /// The holder's host was found gone by transport liveness (issue 12).
    HolderVanished,
    /// The holder was a disconnected durable handle: purged instead of broken.
    DurablePurged,
    /// Another break to the same holder was sent before this one's end was seen.
    Superseded,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Acknowledged => "acknowledged",
            Outcome::NoAckNeeded => "no-ack-needed",
            Outcome::TimedOut => "timed-out",
            Outcome::HolderClosed => "holder-closed",
            Outcome::HolderDisconnected => "holder-disconnected",
            Outcome::HolderVanished => "holder-vanished",
            Outcome::DurablePurged => "durable-purged",
            Outcome::Superseded => "superseded",
        }
    }
}

/// One request that waited on the break.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Waited {
    /// "create" or "rename".
    pub request: &'static str,
    #[serde(flatten)]
    pub party: Party,
    /// The waiting request's open.
    pub open: u64,
    /// Milliseconds it waited (to its decision, or so far for a record shown early).
    pub waited_ms: u64,
    /// How it ended: an NT status name ("SUCCESS", "SHARING_VIOLATION", …), or "waiting".
    pub result: String,
}

/// Wall-clock time as milliseconds since the Unix epoch.
pub type WallMs = u64;

/// One break.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BreakRecord {
    /// Increasing per server run; logs carry it as `break_id`.
    pub id: u64,
    /// The share's name and the file's path in it.
    pub share: String,
    pub path: String,
    pub holder: Holder,
    /// Caching before and after, as R/W/H letters for leases ("RWH", "R", "") and
    /// "batch", "exclusive", "level2", "none" for oplocks.
    pub from: String,
    pub to: String,
    /// Whether an acknowledgment was required.
    pub ack_required: bool,
    pub trigger: Trigger,
    pub sent_ms: WallMs,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_ms: Option<WallMs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_out_ms: Option<WallMs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vanished_ms: Option<WallMs>,
    /// When the break ended, however it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<WallMs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The caching the holder acknowledged to, where it differs from `to`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_to: Option<String>,
    /// For a vanished holder: the transport-liveness verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<&'static str>,
    pub waiters: Vec<Waited>,
    /// Waiters beyond the ones kept (a record keeps at most [`MAX_WAITERS`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub more_waiters: u64,
}

/// The waiters one record keeps; more are only counted.
pub const MAX_WAITERS: usize = 32;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// R/W/H caching bits (R = 1, H = 2, W = 4) as letters.
pub fn lease_letters(bits: LeaseState) -> String {
    bits.to_string()
}

/// An oplock's caching as its level's name ([`OplockLevel::covered_by`]).
pub fn oplock_name(bits: LeaseState) -> &'static str {
    match OplockLevel::covered_by(bits) {
        OplockLevel::Batch => "batch",
        OplockLevel::Exclusive => "exclusive",
        OplockLevel::LevelII => "level2",
        OplockLevel::None | OplockLevel::Lease => "none",
    }
}

/// A 16-byte GUID or lease key in the registry format Windows prints
/// (`{…}` without braces; the first three fields little-endian).
pub fn guid(b: &[u8; 16]) -> String {
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

impl BreakRecord {
    /// A break about to be sent: no id, times or end yet (the tracer fills them in).
    pub fn new(share: String, path: String, holder: Holder, from: String, to: String, ack_required: bool, trigger: Trigger) -> Self {
        BreakRecord {
            id: 0,
            share,
            path,
            holder,
            from,
            to,
            ack_required,
            trigger,
            sent_ms: 0,
            acknowledged_ms: None,
            timed_out_ms: None,
            vanished_ms: None,
            ended_ms: None,
            outcome: None,
            acknowledged_to: None,
            verdict: None,
            waiters: Vec::new(),
            more_waiters: 0,
        }
    }

    /// One JSON object on one line (`opportune trace --json`).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// One line of text (`opportune trace`, `opportune status --breaks`). Client-chosen
    /// names are escaped by the status client before they reach a terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let who = |p: &Party| match p.address {
            Some(a) if p.user.is_empty() => format!("{a}"),
            Some(a) => format!("{}@{a}", p.user),
            None => format!("{} (disconnected)", p.user),
        };
        let _ = write!(
            s,
            "#{} {}\\{} {} {} {} -> {}",
            self.id,
            self.share,
            self.path,
            self.holder.kind,
            who(&self.holder.party),
            if self.from.is_empty() { "none" } else { &self.from },
            if self.to.is_empty() { "none" } else { &self.to },
        );
        let _ = write!(s, ", by {}", self.trigger.cause);
        if let Some(p) = &self.trigger.by {
            let _ = write!(s, " from {}", who(p));
        }
        match (self.outcome, self.ended_ms) {
            (Some(o), Some(end)) => {
                let _ = write!(s, ": {} after {} ms", o.name(), end.saturating_sub(self.sent_ms));
            }
            _ => s.push_str(": pending"),
        }
        if let Some(v) = self.verdict {
            let _ = write!(s, " ({v})");
        }
        for w in &self.waiters {
            let _ = write!(s, "; {} {} by {} waited {} ms: {}", w.request, w.open, who(&w.party), w.waited_ms, w.result);
        }
        if self.more_waiters > 0 {
            let _ = write!(s, "; and {} more waiters", self.more_waiters);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_caching() {
        assert_eq!(lease_letters(LeaseState::RWH), "RWH");
        assert_eq!(lease_letters(LeaseState::RH), "RH");
        assert_eq!(lease_letters(LeaseState::NONE), "");
        assert_eq!(oplock_name(LeaseState::RWH), "batch");
        assert_eq!(oplock_name(LeaseState::RW), "exclusive");
        assert_eq!(oplock_name(LeaseState::R), "level2");
        assert_eq!(oplock_name(LeaseState::RH), "level2");
        assert_eq!(oplock_name(LeaseState::NONE), "none");
        let g = [0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        assert_eq!(guid(&g), "00112233-4455-6677-8899-aabbccddeeff");
    }
}
