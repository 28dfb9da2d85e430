//! One connection's liveness state: which transport deadlines are in force, when they
//! lift, and the socket options that follow from them (applied by the connection task
//! through `sockopt`). Pure apart from logging: time is passed in.
//!
//! A break deadline lasts twice `break_ack_timeout`: the kernel ends a connection whose
//! data stays unacknowledged for `break_ack_timeout`, so one still open after twice that
//! has proved its TCP stack answers, and gets its normal settings back. A probe lasts
//! `probe_window` after the last contention that asked for it.

use crate::fault::Fault;
use crate::liveness::{Liveness, LivenessCounters};
use crate::liveness::TcpOptions;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct LinkWatch {
    shared: Arc<Liveness>,
    conn: u64,
    peer: SocketAddr,
    /// A break notification may be unacknowledged at TCP level until then.
    break_until: Option<Instant>,
    /// Others wait on this connection's locks or share modes until then (at least).
    probe_until: Option<Instant>,
    /// What was last applied to the socket.
    applied: TcpOptions,
}

impl LinkWatch {
    pub fn new(shared: Arc<Liveness>, conn: u64, peer: SocketAddr) -> LinkWatch {
        LinkWatch { shared, conn, peer, break_until: None, probe_until: None, applied: TcpOptions::KERNEL_DEFAULT }
    }

    /// The options a new connection gets (idle keepalive), if any differ from the kernel's.
    pub fn start(&mut self) -> Option<TcpOptions> {
        self.changed()
    }

    /// A break notification is about to be written.
    pub fn break_sent(&mut self, now: Instant) -> Option<TcpOptions> {
        let c = &self.shared.config;
        if !c.enabled {
            return None;
        }
        self.break_until = Some(now + c.break_ack_timeout * 2);
        LivenessCounters::bump(&self.shared.counters.break_deadlines);
        tracing::info!(
            conn = self.conn,
            peer = %self.peer,
            deadline_ms = c.break_ack_timeout.as_millis() as u64,
            "liveness: break sent, the holder's TCP stack must acknowledge it in time or the connection ends"
        );
        self.changed()
    }

    /// Another request waits on, or was refused by, this connection's locks or share modes.
    pub fn probe(&mut self, now: Instant, why: &'static str) -> Option<TcpOptions> {
        let c = &self.shared.config;
        if !c.enabled {
            return None;
        }
        let was = self.probe_until.is_some();
        self.probe_until = Some(now + c.probe_window);
        if !was {
            LivenessCounters::bump(&self.shared.counters.probes);
            tracing::info!(
                conn = self.conn,
                peer = %self.peer,
                why,
                timeout_ms = c.probe_timeout.as_millis() as u64,
                window_secs = c.probe_window.as_secs(),
                "liveness: probing the holder with short keepalives"
            );
        }
        self.changed()
    }

    /// When [`LinkWatch::tick`] must next run.
    pub fn next_wake(&self) -> Option<Instant> {
        [self.break_until, self.probe_until].into_iter().flatten().min()
    }

    /// Lifts the deadlines that are over: the connection is still here, so it answered.
    pub fn tick(&mut self, now: Instant) -> Option<TcpOptions> {
        let lifted = |t: &mut Option<Instant>| {
            let over = t.is_some_and(|t| t <= now);
            if over {
                *t = None;
            }
            over
        };
        let (b, p) = (lifted(&mut self.break_until), lifted(&mut self.probe_until));
        if b || p {
            LivenessCounters::bump(&self.shared.counters.proved_alive);
            let what = if b { "break deadline" } else { "probing" };
            tracing::info!(conn = self.conn, peer = %self.peer, what, "liveness: the peer answers, normal settings again");
        }
        self.changed()
    }

    /// The connection ended: if it ended on a transport error (the kernel's ETIMEDOUT
    /// among them) while a deadline was in force, that is the verdict (logged, counted).
    /// A peer that closed cleanly did not vanish.
    /// Returns the verdict, if the host vanished.
    pub fn closed(&self, fault: &Fault) -> Option<&'static str> {
        if !fault.is_socket_failure() {
            return None;
        }
        let armed = match (self.break_until, self.probe_until) {
            (Some(_), _) => "a break notification was not acknowledged by the holder's TCP stack in time",
            (None, Some(_)) => "keepalive probes went unanswered while others waited on its locks or share modes",
            (None, None) => return None,
        };
        LivenessCounters::bump(&self.shared.counters.vanished);
        crate::metrics::vanished();
        tracing::info!(conn = self.conn, peer = %self.peer, reason = %fault, verdict = armed, "liveness: holder vanished, connection closed");
        Some(armed)
    }

    /// Which transport deadline is in force now, for `opportune status`: "break deadline",
    /// "probing", or "idle keepalive" (or "off" when liveness is disabled).
    pub fn state(&self) -> &'static str {
        if !self.shared.config.enabled {
            "off"
        } else if self.break_until.is_some() {
            "break deadline"
        } else if self.probe_until.is_some() {
            "probing"
        } else {
            "idle keepalive"
        }
    }

    /// A socket option could not be set (counted; the caller logs the error).
    pub fn failed(&self) {
        LivenessCounters::bump(&self.shared.counters.sockopt_errors);
    }

    /// What the socket should have now.
    pub fn desired(&self) -> TcpOptions {
        let c = &self.shared.config;
        if !c.enabled {
            return TcpOptions::KERNEL_DEFAULT;
        }
        let probing = self.probe_until.is_some();
        let short = [
            self.break_until.map(|_| c.break_ack_timeout),
            self.probe_until.map(|_| c.probe_timeout),
        ];
        let user_timeout: Option<Duration> = short.into_iter().flatten().min().or(c.user_timeout);
        TcpOptions { keepalive: Some(if probing { c.probe } else { c.idle }), user_timeout }
    }

    fn changed(&mut self) -> Option<TcpOptions> {
        let want = self.desired();
        (want != self.applied).then(|| {
            self.applied = want;
            want
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liveness::LivenessConfig;
    use std::sync::atomic::Ordering;

    fn watch(config: LivenessConfig) -> LinkWatch {
        let shared = Arc::new(Liveness { config, counters: Default::default() });
        LinkWatch::new(shared, 7, "10.0.0.2:50000".parse().expect("addr"))
    }

    #[test]
    fn a_connection_starts_with_idle_keepalive() {
        let mut w = watch(LivenessConfig::default());
        let o = w.start().expect("options");
        assert_eq!(o.keepalive, Some(LivenessConfig::default().idle));
        assert_eq!(o.user_timeout, None);
        assert_eq!(w.start(), None, "applied once");
        assert_eq!(w.next_wake(), None);
    }

    #[test]
    fn a_break_shortens_the_user_timeout_until_twice_the_deadline() {
        let c = LivenessConfig::default();
        let mut w = watch(c.clone());
        w.start();
        let t0 = Instant::now();
        let o = w.break_sent(t0).expect("armed");
        assert_eq!(o.user_timeout, Some(c.break_ack_timeout));
        assert_eq!(o.keepalive, Some(c.idle), "a break alone does not probe");
        assert_eq!(w.next_wake(), Some(t0 + c.break_ack_timeout * 2));
        assert_eq!(w.tick(t0 + c.break_ack_timeout), None, "not over yet");
        let back = w.tick(t0 + c.break_ack_timeout * 2).expect("restored");
        assert_eq!(back.user_timeout, None);
        assert_eq!(w.shared.counters.proved_alive.load(Ordering::Relaxed), 1);
        assert_eq!(w.next_wake(), None);
    }

    #[test]
    fn probing_switches_keepalive_to_short_probes_and_back() {
        let c = LivenessConfig::default();
        let mut w = watch(c.clone());
        w.start();
        let t0 = Instant::now();
        let o = w.probe(t0, "lock conflict").expect("probing");
        assert_eq!(o.keepalive, Some(c.probe));
        assert_eq!(o.user_timeout, Some(c.probe_timeout));
        // A second contention extends the window without another switch or count.
        assert_eq!(w.probe(t0 + Duration::from_secs(1), "lock conflict"), None);
        assert_eq!(w.shared.counters.probes.load(Ordering::Relaxed), 1);
        assert_eq!(w.tick(t0 + c.probe_window), None, "extended");
        let back = w.tick(t0 + c.probe_window + Duration::from_secs(1)).expect("back to idle");
        assert_eq!(back, TcpOptions { keepalive: Some(c.idle), user_timeout: None });
    }

    #[test]
    fn the_shorter_deadline_wins_when_both_apply() {
        let c = LivenessConfig::default();
        let mut w = watch(c.clone());
        let t0 = Instant::now();
        w.probe(t0, "share mode");
        let o = w.break_sent(t0).expect("armed");
        assert_eq!(o.user_timeout, Some(c.break_ack_timeout.min(c.probe_timeout)));
        w.closed(&Fault::Closed("peer closed"));
        assert_eq!(w.shared.counters.vanished.load(Ordering::Relaxed), 0, "a clean close is no verdict");
        w.closed(&Fault::Closed(crate::fault::READ_FAILED));
        assert_eq!(w.shared.counters.vanished.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn disabled_means_kernel_defaults_and_no_decisions() {
        let mut w = watch(LivenessConfig { enabled: false, ..LivenessConfig::default() });
        assert_eq!(w.start(), None);
        assert_eq!(w.break_sent(Instant::now()), None);
        assert_eq!(w.probe(Instant::now(), "x"), None);
        assert_eq!(w.next_wake(), None);
        w.closed(&Fault::Closed("peer closed"));
        assert_eq!(w.shared.counters.vanished.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_configured_normal_user_timeout_is_restored() {
        let c = LivenessConfig { user_timeout: Some(Duration::from_secs(300)), ..LivenessConfig::default() };
        let mut w = watch(c.clone());
        assert_eq!(w.start().expect("start").user_timeout, Some(Duration::from_secs(300)));
        let t0 = Instant::now();
        w.break_sent(t0);
        let back = w.tick(t0 + c.break_ack_timeout * 2).expect("restored");
        assert_eq!(back.user_timeout, Some(Duration::from_secs(300)));
    }
}
