//! Client-side rate pacing: a token bucket (GCRA form) that says when the next request may go.
//!
//! Kommo allows about 7 requests per second and blocks accounts that keep exceeding it, so the
//! drivers ask this bucket before every request. Time is a `Duration` since any origin the caller
//! picks (a monotonic `Instant` in practice).

use std::time::Duration;

/// Kommo's documented limit.
pub const KOMMO_REQUESTS_PER_SECOND: u32 = 7;

/// How much later than its neighbours a request may arrive without the server counting one
/// too many in a second (see [`TokenBucket::with_headroom`]).
pub const DELIVERY_JITTER: Duration = Duration::from_millis(50);

/// A token bucket: `rate` requests per second on average, at most `burst` back to back.
///
/// ```
/// use kommo_files_model::pacing::TokenBucket;
/// use std::time::Duration;
/// let mut bucket = TokenBucket::kommo_default();
/// let t0 = Duration::ZERO;
/// assert_eq!(bucket.reserve(t0), t0);                         // the first goes at once
/// assert_eq!(bucket.reserve(t0), t0 + Duration::from_nanos(142_857_143)); // then 1/7 s apart
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    interval: Duration,
    tolerance: Duration,
    /// When the next request would go if it were asked for now (GCRA's theoretical arrival time).
    next_free: Duration,
}

impl TokenBucket {
    /// `per_second` requests per second (at least 1) with bursts of up to `burst` (at least 1).
    pub fn new(per_second: u32, burst: u32) -> Self {
        // Rounded up so that the rate is never exceeded.
        let interval =
            Duration::from_nanos(1_000_000_000u64.div_ceil(u64::from(per_second.max(1))));
        Self {
            interval,
            tolerance: interval * (burst.max(1) - 1),
            next_free: Duration::ZERO,
        }
    }

    /// `per_second` requests per second **as the server counts them**, no bursts: any
    /// `per_second + 1` consecutive requests span at least one second plus
    /// [`DELIVERY_JITTER`], so requests that left evenly but arrive bunched (a new connection
    /// or a busy machine delaying one) still never put `per_second + 1` arrivals in one second.
    /// This is what the clients use; at 7/s it sends 6.67 requests per second.
    ///
    /// ```
    /// use kommo_files_model::pacing::{TokenBucket, DELIVERY_JITTER};
    /// use std::time::Duration;
    /// let bucket = TokenBucket::with_headroom(7);
    /// assert_eq!(bucket.interval(), Duration::from_millis(150));
    /// // 8 requests need 7 intervals: 1.05 s, so 50 ms of jitter cannot squeeze them into 1 s.
    /// assert!(bucket.interval() * 7 >= Duration::from_secs(1) + DELIVERY_JITTER);
    /// ```
    pub fn with_headroom(per_second: u32) -> Self {
        let mut bucket = Self::new(per_second, 1);
        let window = Duration::from_secs(1) + DELIVERY_JITTER;
        // Rounded up, like the interval itself.
        let nanos = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        bucket.interval = Duration::from_nanos(nanos.div_ceil(u64::from(per_second.max(1))));
        bucket
    }

    /// 7 requests per second, no bursts: never more than 7 in any one-second window.
    pub fn kommo_default() -> Self {
        Self::new(KOMMO_REQUESTS_PER_SECOND, 1)
    }

    /// The spacing between requests.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Reserves a slot for a request wanted at `now`; returns when it may be sent (≥ `now`).
    pub fn reserve(&mut self, now: Duration) -> Duration {
        let send_at = now.max(self.next_free.saturating_sub(self.tolerance));
        self.next_free = self.next_free.max(send_at) + self.interval;
        send_at
    }

    /// When a request asked for at `now` could go, without reserving it.
    pub fn ready_at(&self, now: Duration) -> Duration {
        now.max(self.next_free.saturating_sub(self.tolerance))
    }
}

/// The unit of an [`AdaptiveBucket`]'s slowdown: the configured rate is `STEPS_PER_RATE` steps,
/// and every answered request takes one step back, so 40 answers after a single 429 restore
/// the configured rate: the rate recovers over several seconds, not at once.
pub const STEPS_PER_RATE: u32 = 40;

/// How much an [`AdaptiveBucket`] slows down at most: to a quarter of the configured rate.
pub const MAX_SLOWDOWN_STEPS: u32 = 4 * STEPS_PER_RATE;

/// A [`TokenBucket::with_headroom`] that adapts to the server: a 429 means someone else (another
/// process, another integration of the account) spends the same budget, so the rate is halved
/// (down to a quarter) and the next request waits a full new interval; every answered request
/// then takes back a little of the slowdown (additive increase, multiplicative decrease).
///
/// ```
/// use kommo_files_model::pacing::{AdaptiveBucket, STEPS_PER_RATE};
/// use std::time::Duration;
///
/// let mut bucket = AdaptiveBucket::new(7);
/// let normal = bucket.interval();
/// bucket.throttled(Duration::ZERO);
/// assert_eq!(bucket.interval(), normal * 2);
/// for _ in 0..STEPS_PER_RATE {
///     bucket.answered();
/// }
/// assert_eq!(bucket.interval(), normal);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptiveBucket {
    bucket: TokenBucket,
    base_interval: Duration,
    /// The interval is `base_interval × slowdown / STEPS_PER_RATE`.
    slowdown: u32,
}

impl AdaptiveBucket {
    /// `per_second` requests per second as the server counts them, before any slowdown.
    pub fn new(per_second: u32) -> Self {
        let bucket = TokenBucket::with_headroom(per_second);
        Self {
            base_interval: bucket.interval,
            bucket,
            slowdown: STEPS_PER_RATE,
        }
    }

    /// A bucket in the state [`AdaptiveBucket::state`] gave (`next_free` since the caller's
    /// origin, and the slowdown in steps), for a budget kept outside the process, such as a
    /// file shared by processes. A slowdown out of range is clamped.
    pub fn with_state(per_second: u32, next_free: Duration, slowdown: u32) -> Self {
        let mut bucket = Self::new(per_second);
        bucket.set_slowdown(slowdown);
        bucket.bucket.next_free = next_free;
        bucket
    }

    /// The state to keep: when the next request would go, and the slowdown in steps.
    pub fn state(&self) -> (Duration, u32) {
        (self.bucket.next_free, self.slowdown)
    }

    /// The spacing between requests now.
    pub fn interval(&self) -> Duration {
        self.bucket.interval
    }

    /// Reserves a slot for a request wanted at `now`; returns when it may be sent (≥ `now`).
    pub fn reserve(&mut self, now: Duration) -> Duration {
        self.bucket.reserve(now)
    }

    /// The server answered 429 at `now`: halve the rate (down to a quarter of the configured
    /// one) and let nothing go before a full new interval has passed.
    pub fn throttled(&mut self, now: Duration) {
        self.set_slowdown(self.slowdown.saturating_mul(2));
        self.bucket.next_free = self.bucket.next_free.max(now + self.bucket.interval);
    }

    /// A request was answered (not with 429): take one step of the slowdown back.
    pub fn answered(&mut self) {
        self.set_slowdown(self.slowdown.saturating_sub(1));
    }

    /// How many times slower than configured the bucket is (1.0 = not slowed).
    pub fn slowdown(&self) -> f64 {
        f64::from(self.slowdown) / f64::from(STEPS_PER_RATE)
    }

    fn set_slowdown(&mut self, steps: u32) {
        self.slowdown = steps.clamp(STEPS_PER_RATE, MAX_SLOWDOWN_STEPS);
        self.bucket.interval = self.base_interval * self.slowdown / STEPS_PER_RATE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No one-second window ever holds more than `rate` requests, however they are asked for.
    #[test]
    fn never_exceeds_the_rate_in_any_window() {
        let mut bucket = TokenBucket::kommo_default();
        let mut sent = Vec::new();
        let mut now = Duration::ZERO;
        for i in 0..200u64 {
            now += Duration::from_millis((i * 37) % 90);
            sent.push(bucket.reserve(now));
        }
        for (i, start) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|t| **t < *start + Duration::from_secs(1));
            assert!(in_window.count() <= 7);
        }
        assert!(sent.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn sustained_rate_is_the_configured_rate() {
        let mut bucket = TokenBucket::new(7, 1);
        let last = (0..700)
            .map(|_| bucket.reserve(Duration::ZERO))
            .last()
            .unwrap();
        let rate = 699.0 / last.as_secs_f64();
        assert!((6.99..=7.0).contains(&rate), "{rate}");
    }

    #[test]
    fn bursts_then_paces_and_idle_time_refills() {
        let mut bucket = TokenBucket::new(10, 3);
        let t0 = Duration::from_secs(5);
        let first: Vec<_> = (0..4).map(|_| bucket.reserve(t0)).collect();
        assert_eq!(&first[..3], &[t0, t0, t0]);
        assert_eq!(first[3], t0 + Duration::from_millis(100));
        let later = t0 + Duration::from_secs(10);
        assert_eq!(bucket.ready_at(later), later);
        let again: Vec<_> = (0..3).map(|_| bucket.reserve(later)).collect();
        assert_eq!(again, vec![later; 3]);
    }

    /// The emulator's limiter: fixed one-second windows, each opened by the first arrival after
    /// the last one closed; returns how many arrivals it refuses at `per_second`.
    fn refused_by_fixed_windows(mut arrivals: Vec<Duration>, per_second: u32) -> usize {
        arrivals.sort();
        let mut window: Option<(Duration, u32)> = None;
        let mut refused = 0;
        for at in arrivals {
            let (start, count) = match window {
                Some((start, count)) if at - start < Duration::from_secs(1) => (start, count + 1),
                _ => (at, 1),
            };
            window = Some((start, count));
            if count > per_second {
                refused += 1;
            }
        }
        refused
    }

    /// Arrivals of `n` back-to-back requests paced by `bucket`, each late by `jitter(i)`.
    fn arrivals(
        mut bucket: TokenBucket,
        n: u32,
        jitter: impl Fn(u32) -> Duration,
    ) -> Vec<Duration> {
        (0..n)
            .map(|i| bucket.reserve(Duration::ZERO) + jitter(i))
            .collect()
    }

    /// Pacing with headroom at exactly the server's limit is never refused by its fixed windows
    /// when no request arrives more than `DELIVERY_JITTER` late, however the lateness falls
    /// (this is what the clients rely on, on simulated time, so no machine can make it flaky);
    /// the same lateness without headroom is refused.
    #[test]
    fn headroom_absorbs_delivery_jitter_at_the_limit() {
        type Jitter = fn(u32, u32) -> Duration;
        let jitter_patterns: [(&str, Jitter); 4] = [
            ("none", (|_, _| Duration::ZERO)),
            ("all late", (|_, _| DELIVERY_JITTER)),
            // The request that opens a window is late, the next ones are not: the worst case.
            (
                "window openers late",
                (|i, rate| {
                    if i % (rate + 1) == 0 {
                        DELIVERY_JITTER
                    } else {
                        Duration::ZERO
                    }
                }),
            ),
            (
                "scattered",
                (|i, _| {
                    let nanos = u64::try_from(DELIVERY_JITTER.as_nanos()).unwrap();
                    let pseudo_random = u64::from(i).wrapping_mul(6_364_136_223_846_793_005) >> 11;
                    Duration::from_nanos(pseudo_random % (nanos + 1))
                }),
            ),
        ];
        for rate in [1, 7, 20, 100] {
            for (name, jitter) in &jitter_patterns {
                let arrivals = arrivals(TokenBucket::with_headroom(rate), 50 * rate + 7, |i| {
                    jitter(i, rate)
                });
                assert_eq!(
                    refused_by_fixed_windows(arrivals, rate),
                    0,
                    "{rate}/s, {name}"
                );
            }
            let late_openers = &jitter_patterns[2].1;
            let without_headroom = arrivals(TokenBucket::new(rate, 1), 50 * rate + 7, |i| {
                late_openers(i, rate)
            });
            assert!(
                refused_by_fixed_windows(without_headroom, rate) > 0,
                "{rate}/s without headroom"
            );
        }
    }

    /// Two 429s in a row slow to a quarter at most; 40 answers per halving bring the rate back;
    /// a 429 also pushes the next slot a full (slower) interval away.
    #[test]
    fn adaptive_bucket_backs_off_and_recovers_slowly() {
        let mut bucket = AdaptiveBucket::new(7);
        let normal = bucket.interval();
        let t0 = Duration::from_secs(10);
        assert_eq!(bucket.reserve(t0), t0);
        bucket.throttled(t0);
        assert_eq!(bucket.interval(), normal * 2);
        assert_eq!(bucket.reserve(t0), t0 + normal * 2);
        for _ in 0..3 {
            bucket.throttled(t0);
        }
        assert_eq!(bucket.interval(), normal * 4, "never slower than a quarter");
        assert_eq!(bucket.slowdown(), 4.0);
        for _ in 0..STEPS_PER_RATE {
            bucket.answered();
        }
        assert_eq!(bucket.slowdown(), 3.0);
        for _ in 0..10 * STEPS_PER_RATE {
            bucket.answered();
        }
        assert_eq!(bucket.interval(), normal, "never faster than configured");
    }

    /// The state round-trips, and a damaged one is clamped into range.
    #[test]
    fn adaptive_bucket_state_round_trips() {
        let mut bucket = AdaptiveBucket::new(7);
        bucket.throttled(Duration::from_secs(3));
        let (next_free, slowdown) = bucket.state();
        let restored = AdaptiveBucket::with_state(7, next_free, slowdown);
        assert_eq!(restored, bucket);
        assert_eq!(
            AdaptiveBucket::with_state(7, Duration::ZERO, 0).slowdown(),
            1.0
        );
        assert_eq!(
            AdaptiveBucket::with_state(7, Duration::ZERO, u32::MAX).slowdown(),
            4.0
        );
    }
}
