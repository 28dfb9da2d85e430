//! Where the engine reads the time: a [`Clock`] passed in with the server state, so that
//! a test world can run the engine on virtual time ([`ManualClock`]) while the server
//! runs on the real clocks ([`SystemClock`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The engine's source of time: a monotonic clock for deadlines and durations, and a
/// wall clock for timestamps sent to clients and written to records.
pub trait Clock: Send + Sync {
    /// The monotonic time now (deadlines, ages, durations).
    fn now(&self) -> Instant;
    /// The wall-clock time now (SMB timestamps, break records, uptime).
    fn wall(&self) -> SystemTime;
}

/// The real clocks: `Instant::now()` and `SystemTime::now()`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Virtual time: both clocks stand still until [`ManualClock::advance`] moves them,
/// together. It starts at the `Instant` of its creation and at [`ManualClock::EPOCH`] on
/// the wall clock. Clones share one time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<Mutex<Times>>,
}

/// The two readings a [`ManualClock`] reports.
#[derive(Clone, Copy, Debug)]
struct Times {
    now: Instant,
    wall: SystemTime,
}

impl ManualClock {
    /// The wall-clock start of every manual clock: 2026-01-01T00:00:00Z.
    pub const EPOCH_SECS: u64 = 1_767_225_600;

    /// The wall-clock time a new manual clock reads ([`ManualClock::EPOCH_SECS`]).
    pub fn epoch() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(Self::EPOCH_SECS)
    }

    /// A clock standing at now (monotonic) and at [`ManualClock::epoch`] (wall).
    pub fn new() -> ManualClock {
        Self::starting_at(Instant::now(), Self::epoch())
    }

    /// A clock standing at the given readings.
    pub fn starting_at(now: Instant, wall: SystemTime) -> ManualClock {
        ManualClock { inner: Arc::new(Mutex::new(Times { now, wall })) }
    }

    /// Moves both clocks forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        t.now += d;
        t.wall += d;
    }

    /// How far the clock has been advanced since `start` (a reading of `now`).
    pub fn since(&self, start: Instant) -> Duration {
        self.now().saturating_duration_since(start)
    }

    fn times(&self) -> Times {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.times().now
    }

    fn wall(&self) -> SystemTime {
        self.times().wall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_stands_still_until_advanced() {
        let c = ManualClock::new();
        let (t0, w0) = (c.now(), c.wall());
        assert_eq!(w0, ManualClock::epoch());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.now(), t0);
        assert_eq!(c.wall(), w0);
    }

    #[test]
    fn both_clocks_move_together_and_clones_share_them() {
        let c = ManualClock::new();
        let other = c.clone();
        let (t0, w0) = (c.now(), c.wall());
        other.advance(Duration::from_secs(90));
        c.advance(Duration::from_millis(250));
        assert_eq!(c.now() - t0, Duration::from_millis(90_250));
        assert_eq!(c.wall().duration_since(w0).ok(), Some(Duration::from_millis(90_250)));
        assert_eq!(other.since(t0), Duration::from_millis(90_250));
    }

    #[test]
    fn epoch_is_2026() {
        let secs = ManualClock::epoch().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        // 56 years of 365.25 days after 1970.
        assert_eq!(secs / 86_400, 20_454);
    }

    #[test]
    fn system_clock_moves() {
        let c = SystemClock;
        let t0 = c.now();
        assert!(c.now() >= t0);
        assert!(c.wall() > ManualClock::epoch() - Duration::from_secs(365 * 86_400 * 10));
    }
}
