//! Per-connection transport figures for `opportune status` (issue 12, item 3): what the
//! kernel knows of the TCP connection (TCP_INFO), how fast the client acknowledged its
//! last break, and the verdicts of the link guards. The connection task fills one in
//! when asked (`ConnEvent::Figures`), since only it holds the socket.

use serde::Serialize;
use std::net::SocketAddr;

/// TCP figures as reported (see `opportune_fs::TcpFigures`).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Tcp {
    pub rtt_us: u32,
    pub rttvar_us: u32,
    pub unacked: u32,
    pub retransmits: u8,
    pub total_retrans: u32,
    pub last_ack_recv_ms: u32,
}

impl From<opportune_fs::TcpFigures> for Tcp {
    fn from(t: opportune_fs::TcpFigures) -> Tcp {
        Tcp {
            rtt_us: t.rtt_us,
            rttvar_us: t.rttvar_us,
            unacked: t.unacked,
            retransmits: t.retransmits,
            total_retrans: t.total_retrans,
            last_ack_recv_ms: t.last_ack_recv_ms,
        }
    }
}

/// One connection.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ConnFigures {
    pub conn: u64,
    pub peer: SocketAddr,
    /// The negotiated dialect ("3.1.1"), absent before NEGOTIATE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    pub sessions: usize,
    pub opens: usize,
    /// Requests waiting (interim response sent, final one not yet).
    pub pending_requests: usize,
    /// Absent when the kernel refused TCP_INFO.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<Tcp>,
    /// Notification-to-acknowledgment time of the last break the client acknowledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ack_latency_ms: Option<u64>,
    /// Windows' MaxLinkDelay / MinLinkThroughput guard: "ok", or "suspended" (no new
    /// oplocks or leases for this connection).
    pub link_guard: &'static str,
    /// Transport liveness now: "idle keepalive", "break deadline", "probing" or "off".
    pub liveness: &'static str,
}

/// "3.1.1" for 0x0311.
pub fn dialect_name(d: u16) -> String {
    format!("{}.{}.{}", d >> 8, (d >> 4) & 0xF, d & 0xF)
}

/// The figures of one connection, from its state, its socket and its liveness watch.
pub fn collect(
    conn: &crate::conn_state::ConnState,
    tcp: Option<opportune_fs::TcpFigures>,
    liveness: &'static str,
) -> ConnFigures {
    ConnFigures {
        conn: conn.id,
        peer: conn.peer,
        dialect: conn.negotiated.as_ref().map(|n| dialect_name(n.dialect)),
        sessions: conn.sessions.len(),
        opens: conn.opens.len(),
        pending_requests: conn.pending.len(),
        tcp: tcp.map(Tcp::from),
        last_ack_latency_ms: conn.link.last_ack().map(|d| d.as_millis() as u64),
        link_guard: if conn.link.is_suspended() { "suspended" } else { "ok" },
        liveness,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_connection_reports_its_state() {
        let c = crate::conn_state::ConnState::new(3, "127.0.0.9:4000".parse().unwrap());
        let f = collect(&c, Some(opportune_fs::TcpFigures { rtt_us: 50, ..Default::default() }), "idle keepalive");
        assert_eq!((f.conn, f.sessions, f.opens, f.pending_requests, f.dialect.as_deref()), (3, 0, 0, 0, None));
        assert_eq!(f.tcp.map(|t| t.rtt_us), Some(50));
        assert_eq!((f.link_guard, f.liveness, f.last_ack_latency_ms), ("ok", "idle keepalive", None));
        assert_eq!(dialect_name(0x0302), "3.0.2");
    }
}
