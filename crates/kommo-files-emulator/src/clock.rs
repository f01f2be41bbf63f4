//! The emulator's clock: real time plus an offset that the control API moves forward, so tests
//! can expire sessions (24 h) and purge the trash (30 days) without waiting. The rate limiter
//! reads its own monotonic view of it ([`Clock::rate_now`]), which the same offset moves.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::RateClock;

/// Shared, cheaply clonable clock. Time only ever moves forward.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    offset_secs: Arc<AtomicI64>,
    /// Everything `advance` was given, to the nanosecond (the rate windows are sub-second).
    advanced_nanos: Arc<AtomicU64>,
    /// The origin of the rate limiter's real time.
    started: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            offset_secs: Arc::default(),
            advanced_nanos: Arc::default(),
            started: Instant::now(),
        }
    }
}

impl Clock {
    /// Unix seconds as the emulator sees them.
    pub(crate) fn now(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        real.saturating_add(self.offset_secs.load(Ordering::SeqCst))
    }

    /// Moves the clock forward; returns the new time.
    pub(crate) fn advance(&self, by: Duration) -> i64 {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.advanced_nanos.fetch_add(nanos, Ordering::SeqCst);
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
        self.now()
    }

    /// Total offset applied so far, in seconds.
    pub(crate) fn offset(&self) -> i64 {
        self.offset_secs.load(Ordering::SeqCst)
    }

    /// The time the rate limiter's windows are measured on, from an arbitrary origin: what
    /// `advance` was given, plus real monotonic time unless `rate_clock` is manual.
    pub(crate) fn rate_now(&self, rate_clock: RateClock) -> Duration {
        let advanced = Duration::from_nanos(self.advanced_nanos.load(Ordering::SeqCst));
        match rate_clock {
            RateClock::Real => advanced + self.started.elapsed(),
            RateClock::Manual => advanced,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manual_rate_clock_moves_only_when_advanced() {
        let clock = Clock::default();
        let before = clock.rate_now(RateClock::Manual);
        assert_eq!(before, Duration::ZERO);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(
            clock.rate_now(RateClock::Manual),
            Duration::from_millis(1500)
        );
        assert_eq!(clock.offset(), 1, "the calendar moves by whole seconds");
        assert!(clock.rate_now(RateClock::Real) >= Duration::from_millis(1500));
    }
}
