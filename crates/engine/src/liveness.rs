//! Transport liveness (issue 12, item 1): how the server tells a client whose host has
//! vanished (laptop closed, cable pulled) from one that is merely slow, so that nobody
//! waits a whole break timeout, or for ever, on a dead peer.
//!
//! * A break notification gives its connection a short TCP-level deadline
//!   (`TCP_USER_TIMEOUT` = `break_ack_timeout`): if the holder's TCP stack does not
//!   acknowledge the data in time, the kernel ends the connection (ETIMEDOUT), its opens
//!   are closed or parked-then-purged, and the waiting request proceeds. A holder whose
//!   TCP stack answers keeps the whole oplock break timeout: being slow is not being dead.
//! * A request that waits on, or is refused because of, another connection's byte-range
//!   lock or share mode has that connection probed: short keepalive probes and a short
//!   `TCP_USER_TIMEOUT` for `probe_window`, then back to the idle settings.
//! * Every connection gets idle keepalive (`keepalive_*`).
//!
//! This file holds the knobs and the server-wide counters; `link_watch.rs` decides per
//! connection, the driver's `sockopt.rs` is the only place that sets socket options.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The `[liveness]` table of the configuration file (docs/CONFIG.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LivenessConfig {
    /// Off: no keepalive, no deadlines, the kernel's defaults (the behaviour before).
    pub enabled: bool,
    /// `TCP_USER_TIMEOUT` while a break notification may be unacknowledged at TCP level.
    pub break_ack_timeout: Duration,
    /// Keepalive while a connection is probed because others wait on it.
    pub probe: Keepalive,
    /// `TCP_USER_TIMEOUT` while probed: a probe unanswered this long after the last
    /// packet from the peer ends the connection.
    pub probe_timeout: Duration,
    /// How long probing lasts after the last contention that asked for it.
    pub probe_window: Duration,
    /// Keepalive of every connection otherwise.
    pub idle: Keepalive,
    /// `TCP_USER_TIMEOUT` otherwise; `None`: the kernel's retransmission limits
    /// (about 15 minutes with data in flight).
    pub user_timeout: Option<Duration>,
}

/// TCP keepalive parameters (`TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    pub idle: Duration,
    pub interval: Duration,
    pub count: u32,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        LivenessConfig {
            enabled: true,
            break_ack_timeout: Duration::from_millis(1000),
            probe: Keepalive { idle: Duration::from_secs(1), interval: Duration::from_secs(1), count: 3 },
            probe_timeout: Duration::from_millis(1500),
            probe_window: Duration::from_secs(30),
            idle: Keepalive { idle: Duration::from_secs(60), interval: Duration::from_secs(10), count: 6 },
            user_timeout: None,
        }
    }
}

/// What the liveness decisions did, server-wide (shown by `opportune status`).
#[derive(Debug, Default)]
pub struct LivenessCounters {
    /// Break notifications sent under a transport deadline.
    pub break_deadlines: AtomicU64,
    /// Connections probed because another request waited on, or was refused by, them.
    pub probes: AtomicU64,
    /// Deadlines or probes lifted because the connection stayed alive.
    pub proved_alive: AtomicU64,
    /// Connections that ended while a break deadline or a probe was in force.
    pub vanished: AtomicU64,
    /// Socket options the kernel refused (logged at warn).
    pub sockopt_errors: AtomicU64,
}

impl LivenessCounters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// One line for `opportune status`.
    pub fn summary(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "break deadlines {}, probes {}, proved alive {}, vanished {}, socket option errors {}",
            g(&self.break_deadlines),
            g(&self.probes),
            g(&self.proved_alive),
            g(&self.vanished),
            g(&self.sockopt_errors)
        )
    }
}

/// The knobs and the counters, shared by every connection.
#[derive(Debug, Default)]
pub struct Liveness {
    pub config: LivenessConfig,
    pub counters: LivenessCounters,
}

/// The transport settings a connection should have now (the driver applies them:
/// `opportune-server`'s `sockopt.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpOptions {
    /// `SO_KEEPALIVE` with these parameters, or off.
    pub keepalive: Option<Keepalive>,
    /// `TCP_USER_TIMEOUT`; `None` is the kernel's default (0).
    pub user_timeout: Option<Duration>,
}

impl TcpOptions {
    /// What a socket has before anyone set anything.
    pub const KERNEL_DEFAULT: TcpOptions = TcpOptions { keepalive: None, user_timeout: None };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_detect_a_dead_idle_peer_within_two_minutes_and_a_probed_one_within_seconds() {
        let c = LivenessConfig::default();
        let idle = c.idle.idle + c.idle.interval * c.idle.count;
        assert_eq!(idle, Duration::from_secs(120));
        assert!(c.probe.idle + c.probe_timeout <= Duration::from_secs(3));
        assert!(c.break_ack_timeout <= Duration::from_secs(1));
    }

    #[test]
    fn the_summary_counts() {
        let l = Liveness::default();
        LivenessCounters::bump(&l.counters.probes);
        LivenessCounters::bump(&l.counters.vanished);
        let s = l.counters.summary();
        assert!(s.contains("probes 1") && s.contains("vanished 1") && s.contains("break deadlines 0"), "{s}");
    }
}
