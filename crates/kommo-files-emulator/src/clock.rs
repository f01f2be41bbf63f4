//! The emulator's clock: real time plus an offset that the control API moves forward, so tests
//! can expire sessions (24 h) and purge the trash (30 days) without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Shared, cheaply clonable clock. Time only ever moves forward.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clock {
    offset_secs: Arc<AtomicI64>,
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
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
        self.now()
    }

    /// Total offset applied so far, in seconds.
    pub(crate) fn offset(&self) -> i64 {
        self.offset_secs.load(Ordering::SeqCst)
    }
}
