//! [`Pacer`]: one token bucket shared by a client, its clones and all their uploads.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kommo_files_model::pacing::TokenBucket;

/// Says how long to wait before the next request so the shared rate is never exceeded.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    shared: Option<Arc<(Instant, Mutex<TokenBucket>)>>,
}

impl Pacer {
    /// `rate` requests per second as the server counts them (with headroom for network
    /// jitter, see [`TokenBucket::with_headroom`]); `None` never waits.
    pub(crate) fn new(rate: Option<u32>) -> Self {
        let bucket = |rate| Mutex::new(TokenBucket::with_headroom(rate));
        Self {
            shared: rate.map(|rate| Arc::new((Instant::now(), bucket(rate)))),
        }
    }

    /// Reserves the next slot; the caller sleeps the returned delay, then sends.
    pub(crate) fn reserve(&self) -> Duration {
        let Some(shared) = &self.shared else {
            return Duration::ZERO;
        };
        let (origin, bucket) = &**shared;
        let now = origin.elapsed();
        // A poisoned lock only means another thread panicked mid-reserve; the bucket is still
        // a valid schedule.
        let send_at = bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .reserve(now);
        send_at.saturating_sub(now)
    }
}
