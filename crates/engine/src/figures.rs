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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_and_tcp_figures() {
        assert_eq!(dialect_name(0x0302), "3.0.2");
        assert_eq!(dialect_name(0x0311), "3.1.1");
        let t = Tcp::from(opportune_fs::TcpFigures { rtt_us: 50, total_retrans: 2, ..Default::default() });
        assert_eq!((t.rtt_us, t.total_retrans), (50, 2));
    }
}
