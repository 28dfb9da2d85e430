//! Who may cache what: the oplock and lease knobs of the server and the share, the
//! veto list, the contention limit, and the per-connection link-quality guard.

use crate::config::{ServerConfig, ShareCaching};
use crate::wildcard;
use opportune_locks::CreatePolicy;
use std::time::Duration;

/// Nothing may be cached.
pub const NO_CACHING: CreatePolicy =
    CreatePolicy { oplocks_allowed: false, level2_allowed: false, leases_allowed: false, directory_leases_allowed: false };

/// The facts about one create that the caching policy depends on.
pub struct CreateFacts<'a> {
    /// The last component of the path, as the client sent it.
    pub file_name: &'a str,
    /// SMB 2.1 or later (leases exist).
    pub leases_possible: bool,
    /// The connection's link-quality guard has tripped.
    pub link_suspended: bool,
}

/// The caching a create may be granted (MS-SMB2 3.3.5.9 leaves the choice to the server).
pub fn caching_policy(server: &ServerConfig, share: &ShareCaching, f: &CreateFacts<'_>) -> CreatePolicy {
    if !server.enable_oplocks || !share.oplocks || f.link_suspended || is_vetoed(share, f.file_name) {
        return NO_CACHING;
    }
    CreatePolicy {
        oplocks_allowed: true,
        level2_allowed: share.level2_oplocks,
        leases_allowed: share.leases && f.leases_possible,
        directory_leases_allowed: false,
    }
}

/// The oplock contention limit (Samba's `oplock contention limit`): a file that already
/// has `limit` opens or more gets no caching for the next. Applied by the lock adapter
/// under the same lock as the admission itself, so the count cannot change in between.
pub fn within_contention_limit(policy: CreatePolicy, existing_opens: usize, limit: u32) -> CreatePolicy {
    if limit > 0 && existing_opens >= limit as usize { NO_CACHING } else { policy }
}

/// Whether `name` matches one of the share's veto-oplock globs.
pub fn is_vetoed(share: &ShareCaching, name: &str) -> bool {
    share.veto_oplock_files.iter().any(|g| wildcard::is_match(g, name))
}

/// Windows' MaxLinkDelay and MinLinkThroughput: a connection that acknowledges breaks too
/// slowly, or moves data too slowly, is not trusted with cached data any more.
#[derive(Debug, Default)]
pub struct LinkGuard {
    suspended: bool,
    /// How long the last acknowledged break took (for `opportune status`).
    last_ack: Option<Duration>,
}

/// Transfers smaller than this say little about the link and are not measured.
pub const MIN_MEASURED_TRANSFER: usize = 64 * 1024;

impl LinkGuard {
    pub fn is_suspended(&self) -> bool {
        self.suspended
    }

    /// How long the last acknowledged break took from notification to acknowledgment.
    pub fn last_ack(&self) -> Option<Duration> {
        self.last_ack
    }

    /// A break was acknowledged `latency` after it was sent. True if this trips the guard.
    pub fn record_ack(&mut self, latency: Duration, max_delay: Option<Duration>) -> bool {
        self.last_ack = Some(latency);
        let trips = max_delay.is_some_and(|m| latency > m);
        self.trip(trips)
    }

    /// `bytes` arrived over `elapsed`. True if this trips the guard.
    pub fn record_transfer(&mut self, bytes: usize, elapsed: Duration, min_throughput: u64) -> bool {
        if min_throughput == 0 || bytes < MIN_MEASURED_TRANSFER || elapsed.is_zero() {
            return false;
        }
        let rate = bytes as f64 / elapsed.as_secs_f64();
        self.trip(rate < min_throughput as f64)
    }

    fn trip(&mut self, trips: bool) -> bool {
        let newly = trips && !self.suspended;
        self.suspended |= trips;
        newly
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn server() -> ServerConfig {
        ServerConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    fn facts(name: &str) -> CreateFacts<'_> {
        CreateFacts { file_name: name, leases_possible: true, link_suspended: false }
    }

    #[test]
    fn defaults_allow_everything_but_directory_leases() {
        let p = caching_policy(&server(), &ShareCaching::default(), &facts("a.txt"));
        assert!(p.oplocks_allowed && p.level2_allowed && p.leases_allowed && !p.directory_leases_allowed);
    }

    #[test]
    fn server_switch_and_share_switch() {
        let mut s = server();
        s.enable_oplocks = false;
        assert_eq!(caching_policy(&s, &ShareCaching::default(), &facts("a")), NO_CACHING);
        let share = ShareCaching { oplocks: false, ..ShareCaching::default() };
        assert_eq!(caching_policy(&server(), &share, &facts("a")), NO_CACHING);
    }

    #[test]
    fn level2_and_leases_knobs() {
        let share = ShareCaching { level2_oplocks: false, ..ShareCaching::default() };
        let p = caching_policy(&server(), &share, &facts("a"));
        assert!(p.oplocks_allowed && !p.level2_allowed);
        let share = ShareCaching { leases: false, ..ShareCaching::default() };
        assert!(!caching_policy(&server(), &share, &facts("a")).leases_allowed);
        let old_dialect = CreateFacts { leases_possible: false, ..facts("a") };
        assert!(!caching_policy(&server(), &ShareCaching::default(), &old_dialect).leases_allowed);
    }

    #[test]
    fn veto_list_is_case_insensitive_globs() {
        let share = ShareCaching { veto_oplock_files: vec!["*.mdb".into(), "lock?.dat".into()], ..Default::default() };
        assert_eq!(caching_policy(&server(), &share, &facts("Orders.MDB")), NO_CACHING);
        assert_eq!(caching_policy(&server(), &share, &facts("lock1.dat")), NO_CACHING);
        assert!(caching_policy(&server(), &share, &facts("orders.mdbx")).oplocks_allowed);
    }

    #[test]
    fn contention_limit() {
        let p = caching_policy(&server(), &ShareCaching::default(), &facts("a"));
        assert_eq!(within_contention_limit(p, 1, 2), p);
        assert_eq!(within_contention_limit(p, 2, 2), NO_CACHING);
        assert_eq!(within_contention_limit(p, 1000, 0), p, "0 is no limit");
    }

    #[test]
    fn link_guard_trips_once_and_stays() {
        let mut g = LinkGuard::default();
        assert!(!g.record_ack(Duration::from_secs(5), None));
        assert!(!g.record_ack(Duration::from_secs(5), Some(Duration::from_secs(10))));
        assert!(g.record_ack(Duration::from_secs(11), Some(Duration::from_secs(10))));
        assert!(!g.record_ack(Duration::from_secs(12), Some(Duration::from_secs(10))), "already tripped");
        assert!(g.is_suspended());
        let suspended = CreateFacts { link_suspended: true, ..facts("a") };
        assert_eq!(caching_policy(&server(), &ShareCaching::default(), &suspended), NO_CACHING);
    }

    #[test]
    fn link_guard_throughput() {
        let mut g = LinkGuard::default();
        assert!(!g.record_transfer(1 << 20, Duration::from_secs(1), 0), "off");
        assert!(!g.record_transfer(1000, Duration::from_secs(10), 1 << 20), "too small to measure");
        assert!(!g.record_transfer(1 << 20, Duration::from_millis(100), 1 << 20));
        assert!(g.record_transfer(1 << 20, Duration::from_secs(4), 1 << 20));
    }
}
