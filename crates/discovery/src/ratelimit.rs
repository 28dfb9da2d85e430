//! A token bucket over all replies of one responder: a flood of queries (from any
//! number of forged sources) costs at most `rate` replies a second after a burst, so the
//! server neither amplifies it nor spends more than a little time on it (docs/SECURITY.md).

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimit {
    burst: u32,
    per_token: Duration,
    tokens: u32,
    since: Option<Instant>,
}

impl RateLimit {
    /// `rate` replies a second on average, `burst` at once.
    pub fn new(rate: u32, burst: u32) -> RateLimit {
        RateLimit { burst, per_token: Duration::from_secs(1) / rate.max(1), tokens: burst, since: None }
    }

    /// Takes a token if one is left at `now`.
    pub fn allow(&mut self, now: Instant) -> bool {
        let since = *self.since.get_or_insert(now);
        let earned = now.saturating_duration_since(since).as_nanos() / self.per_token.as_nanos().max(1);
        if earned > 0 {
            self.tokens = self.tokens.saturating_add(earned.min(u128::from(self.burst)) as u32).min(self.burst);
            self.since = Some(since + self.per_token * earned.min(u128::from(u32::MAX)) as u32);
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(10, 3);
        assert_eq!((0..5).filter(|_| r.allow(t0)).count(), 3);
        assert!(!r.allow(t0 + Duration::from_millis(50)));
        assert!(r.allow(t0 + Duration::from_millis(100)));
        assert!(!r.allow(t0 + Duration::from_millis(150)));
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| r.allow(later)).count(), 3);
    }
}
