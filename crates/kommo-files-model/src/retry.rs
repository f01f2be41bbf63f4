//! Retry decisions: exponential backoff with full jitter, bounded by attempts and elapsed time.
//!
//! Pure arithmetic; the randomness comes from a seeded [`Jitter`] so tests are deterministic.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// How persistently a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// The backoff ceiling of the first retry; it doubles with each further retry.
    pub base_delay: Duration,
    /// No single wait is longer, unless the server's `Retry-After` asks for it.
    pub max_delay: Duration,
    /// Give up when the next attempt would start this long after the first failure.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The policy with `max_attempts` attempts.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// The policy with this base and cap of backoff.
    pub fn delays(mut self, base_delay: Duration, max_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self.max_delay = max_delay;
        self
    }

    /// The policy with this elapsed-time bound.
    pub fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.max_elapsed = max_elapsed;
        self
    }

    /// Full-jitter backoff before retry number `retry` (1 for the first retry):
    /// a uniform draw from `[0, min(max_delay, base_delay · 2^(retry-1)))`.
    ///
    /// ```
    /// use kommo_files_model::retry::RetryPolicy;
    /// use std::time::Duration;
    /// let policy = RetryPolicy::default();
    /// assert_eq!(policy.backoff(1, 0.5), Duration::from_millis(250));
    /// assert_eq!(policy.backoff(40, 0.999), Duration::from_secs(30).mul_f64(0.999));
    /// ```
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let exponent = retry.saturating_sub(1).min(32);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exponent.min(31))
            .min(self.max_delay);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Decides what follows failure number `failures` (1 for the first) of one request.
    ///
    /// `first_failure` is when the first of them happened, `hint` the server's `Retry-After`.
    pub fn decide(
        &self,
        failures: u32,
        first_failure: SystemTime,
        now: SystemTime,
        hint: Option<Duration>,
        jitter: &mut Jitter,
    ) -> RetryDecision {
        if failures >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        let delay = hint.unwrap_or_else(|| self.backoff(failures, jitter.next_unit()));
        let elapsed = now.duration_since(first_failure).unwrap_or(Duration::ZERO);
        if elapsed.saturating_add(delay) > self.max_elapsed {
            return RetryDecision::GiveUp;
        }
        RetryDecision::RetryAfter(delay)
    }
}

/// The outcome of [`RetryPolicy::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryDecision {
    /// Try again after this delay.
    RetryAfter(Duration),
    /// Stop and report the last failure.
    GiveUp,
}

/// Whether a status is worth retrying: 408, 429 and every 5xx. 401 and 403 never are (a blocked
/// account answers 403 to everything, and hammering it prolongs the block).
pub fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// A small deterministic random source (SplitMix64) for jitter; seed it from anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A uniform draw from `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn backoff_grows_then_caps() {
        let policy = RetryPolicy::default();
        let ceilings: Vec<_> = (1..=8).map(|n| policy.backoff(n, 1.0)).collect();
        assert_eq!(ceilings[0], Duration::from_millis(500));
        assert_eq!(ceilings[1], Duration::from_secs(1));
        assert_eq!(ceilings[5], Duration::from_secs(16));
        assert_eq!(ceilings[6], Duration::from_secs(30));
        assert_eq!(policy.backoff(u32::MAX, 1.0), Duration::from_secs(30));
        assert_eq!(policy.backoff(3, 0.0), Duration::ZERO);
    }

    #[test]
    fn gives_up_on_attempts_and_on_elapsed_time() {
        let policy = RetryPolicy::default().max_attempts(3);
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        let mut jitter = Jitter::new(7);
        assert!(matches!(
            policy.decide(2, t0, t0, None, &mut jitter),
            RetryDecision::RetryAfter(_)
        ));
        assert_eq!(
            policy.decide(3, t0, t0, None, &mut jitter),
            RetryDecision::GiveUp
        );
        let late = t0 + Duration::from_secs(299);
        let hint = Some(Duration::from_secs(2));
        assert_eq!(
            policy.decide(1, t0, late, hint, &mut jitter),
            RetryDecision::GiveUp
        );
        assert_eq!(
            policy.decide(1, t0, t0, hint, &mut jitter),
            RetryDecision::RetryAfter(Duration::from_secs(2))
        );
    }

    #[test]
    fn jitter_is_uniform_enough_and_deterministic() {
        let mut a = Jitter::new(42);
        let mut b = Jitter::new(42);
        let draws: Vec<f64> = (0..1000).map(|_| a.next_unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert_eq!(draws[0], b.next_unit());
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((0.45..0.55).contains(&mean), "mean {mean}");
    }

    #[test]
    fn retryable_statuses() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(
                is_retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 409, 413] {
            assert!(
                !is_retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }
}
