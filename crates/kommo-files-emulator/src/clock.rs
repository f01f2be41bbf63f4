//! The emulator's clock: real time plus an offset that the control API moves forward, so tests
//! can expire sessions (24 h) and purge the trash (30 days) without waiting. The rate limiter
//! reads its own monotonic view of it ([`Clock::rate_now`]), which the same offset moves.
//!
//! Advancing saturates: the calendar stops at [`MAX_NOW`] (the end of year 9999, so every date
//! computation stays far from `i64` overflow and a session opened then is not born expired),
//! and the rate clock at [`Duration::MAX`]. However large or repeated the advances, time never
//! goes back.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::RateClock;

/// The latest time the emulator clock shows: 9999-12-31T23:59:59Z, in Unix seconds.
pub(crate) const MAX_NOW: i64 = 253_402_300_799;

/// Shared, cheaply clonable clock. Time only ever moves forward.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    /// Seconds added to real time, at most [`MAX_NOW`].
    offset_secs: Arc<AtomicI64>,
    /// Everything `advance` was given, to the nanosecond (the rate windows are sub-second),
    /// saturating at [`Duration::MAX`].
    advanced: Arc<Mutex<Duration>>,
    /// The origin of the rate limiter's real time.
    started: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            offset_secs: Arc::default(),
            advanced: Arc::default(),
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
            .min(MAX_NOW)
    }

    /// Moves the clock forward, saturating (see the module docs); returns the new time.
    pub(crate) fn advance(&self, by: Duration) -> i64 {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        {
            let mut advanced = self.advanced.lock().unwrap_or_else(PoisonError::into_inner);
            *advanced = advanced.saturating_add(by);
        }
        // `fetch_update` with a closure that always answers `Some` cannot fail.
        let _ = self
            .offset_secs
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |offset| {
                Some(offset.saturating_add(secs).min(MAX_NOW))
            });
        self.now()
    }

    /// Total offset applied so far, in seconds.
    pub(crate) fn offset(&self) -> i64 {
        self.offset_secs.load(Ordering::SeqCst)
    }

    /// The time the rate limiter's windows are measured on, from an arbitrary origin: what
    /// `advance` was given, plus real monotonic time unless `rate_clock` is manual.
    pub(crate) fn rate_now(&self, rate_clock: RateClock) -> Duration {
        let advanced = *self.advanced.lock().unwrap_or_else(PoisonError::into_inner);
        match rate_clock {
            RateClock::Real => advanced.saturating_add(self.started.elapsed()),
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

    #[test]
    fn advancing_saturates_instead_of_wrapping() {
        let clock = Clock::default();
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), MAX_NOW);
        assert_eq!(clock.offset(), MAX_NOW);
        assert_eq!(clock.rate_now(RateClock::Manual), Duration::MAX);
        assert_eq!(clock.rate_now(RateClock::Real), Duration::MAX);
    }
}
