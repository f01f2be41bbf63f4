//! The bookkeeping the call and download machines share: when the next attempt may go (backoff,
//! then a pacing slot), and how many failures the retry policy still allows.

use std::time::{Duration, SystemTime};

use crate::retry::{Jitter, RetryDecision, RetryPolicy};

/// Where the next attempt stands before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schedule {
    /// Backing off after a failure until this time.
    Backoff(SystemTime),
    /// A pacing slot must be asked for.
    NeedSlot,
    /// A slot was asked for; waiting for the pacer's answer.
    AwaitSlot,
    /// The pacer allowed the request at this time.
    Slotted(SystemTime),
}

/// What [`Schedule::poll`] tells the machine to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Ask the pacer for a slot.
    Pace,
    /// Nothing to do before this time.
    Wait(SystemTime),
    /// The pacer has not answered yet.
    AwaitSlot,
    /// Send now.
    Send,
}

impl Schedule {
    /// Advances with time: a finished backoff asks for a slot, a reached slot sends.
    pub(crate) fn poll(&mut self, now: SystemTime) -> Step {
        match *self {
            Self::Backoff(until) if now < until => Step::Wait(until),
            Self::Backoff(_) | Self::NeedSlot => {
                *self = Self::AwaitSlot;
                Step::Pace
            }
            Self::AwaitSlot => Step::AwaitSlot,
            Self::Slotted(send_at) if now < send_at => Step::Wait(send_at),
            Self::Slotted(_) => Step::Send,
        }
    }

    /// The pacer's answer; ignored unless one was asked for.
    pub(crate) fn slot(&mut self, send_at: SystemTime) {
        if *self == Self::AwaitSlot {
            *self = Self::Slotted(send_at);
        }
    }
}

/// Failures of one request so far, judged by a [`RetryPolicy`].
#[derive(Debug, Clone)]
pub(crate) struct RetryBudget {
    policy: RetryPolicy,
    jitter: Jitter,
    failures: u32,
    first_failure_at: Option<SystemTime>,
    first_sent_at: Option<SystemTime>,
}

impl RetryBudget {
    pub(crate) fn new(policy: RetryPolicy, jitter_seed: u64) -> Self {
        Self {
            policy,
            jitter: Jitter::new(jitter_seed),
            failures: 0,
            first_failure_at: None,
            first_sent_at: None,
        }
    }

    /// The attempt about to be or being made, 1-based.
    pub(crate) fn attempt(&self) -> u32 {
        self.failures.saturating_add(1)
    }

    /// Notes that an attempt goes out at `now` (the first one starts the elapsed clock).
    pub(crate) fn sent(&mut self, now: SystemTime) {
        self.first_sent_at.get_or_insert(now);
    }

    /// Counts a retryable failure of the current attempt; the time to retry at, or `None` when
    /// the policy gives up (then [`RetryBudget::attempt`] stays the attempt that failed).
    /// `hint` is the server's `Retry-After`, which replaces the backoff.
    pub(crate) fn retry_at(
        &mut self,
        hint: Option<Duration>,
        now: SystemTime,
    ) -> Option<SystemTime> {
        let failures = self.attempt();
        let first = *self.first_failure_at.get_or_insert(now);
        let decision = self
            .policy
            .decide(failures, first, now, hint, &mut self.jitter);
        let RetryDecision::RetryAfter(delay) = decision else {
            return None;
        };
        let until = now.checked_add(delay)?;
        self.failures = failures;
        Some(until)
    }

    /// Time from the first attempt's send to `now`.
    pub(crate) fn elapsed(&self, now: SystemTime) -> Duration {
        self.first_sent_at
            .and_then(|first| now.duration_since(first).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn backoff_then_slot_then_send() {
        let t = UNIX_EPOCH + Duration::from_secs(100);
        let later = t + Duration::from_secs(2);
        let mut schedule = Schedule::Backoff(later);
        assert_eq!(schedule.poll(t), Step::Wait(later));
        assert_eq!(schedule.poll(later), Step::Pace);
        assert_eq!(schedule.poll(later), Step::AwaitSlot);
        schedule.slot(later + Duration::from_secs(1));
        assert_eq!(
            schedule.poll(later),
            Step::Wait(later + Duration::from_secs(1))
        );
        assert_eq!(schedule.poll(later + Duration::from_secs(1)), Step::Send);
        // A slot nobody asked for changes nothing.
        let mut idle = Schedule::NeedSlot;
        idle.slot(t);
        assert_eq!(idle, Schedule::NeedSlot);
    }

    #[test]
    fn budget_counts_attempts_and_gives_up() {
        let t = UNIX_EPOCH + Duration::from_secs(100);
        let mut budget = RetryBudget::new(RetryPolicy::default().max_attempts(2), 1);
        assert_eq!(budget.attempt(), 1);
        budget.sent(t);
        assert!(budget.retry_at(None, t).is_some());
        assert_eq!(budget.attempt(), 2);
        assert_eq!(budget.retry_at(None, t + Duration::from_secs(1)), None);
        assert_eq!(budget.attempt(), 2, "the attempt that failed last");
        assert_eq!(
            budget.elapsed(t + Duration::from_secs(3)),
            Duration::from_secs(3)
        );
    }
}
