//! [`CallMachine`]: one API call, paced, sent, and retried when that is safe.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};

use crate::attempts::{RetryBudget, Schedule, Step};
use crate::retry::RetryPolicy;
use crate::upload::SendFailure;
use crate::{Operation, RetryAfter};

/// What the driver of a [`CallMachine`] must do next.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallAction {
    /// Ask the shared pacer for a slot and report it with [`CallMachine::handle_slot`].
    Pace,
    /// Nothing to do before `until`; poll again then.
    Wait {
        /// When to poll again.
        until: SystemTime,
    },
    /// Send this request (attempt number is 1-based) and report with
    /// [`CallMachine::handle_response`].
    Send {
        /// The request, the same for every attempt.
        request: Request<Bytes>,
        /// 1 for the first attempt, 2 for the first retry, …
        attempt: u32,
    },
    /// A slot or a response is still awaited: only seen when polled before the last
    /// [`CallAction::Pace`] or [`CallAction::Send`] was answered.
    AwaitResponse,
    /// Final answer: any status (success, a non-retryable error, or the last retryable one when
    /// retries ran out). The driver parses it.
    Done(Response<Bytes>),
    /// No response could be had (a transport failure not safe or not worth retrying, or
    /// retries exhausted).
    Failed(CallFailure),
}

/// Why a call produced no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{failure}{}", attempts_suffix(*.attempts, *.elapsed))]
#[non_exhaustive]
pub struct CallFailure {
    /// The last transport failure.
    pub failure: SendFailure,
    /// Attempts made, the failed one included.
    pub attempts: u32,
    /// Time from the first attempt's send to the last failure.
    pub elapsed: Duration,
}

fn attempts_suffix(attempts: u32, elapsed: Duration) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts over {elapsed:?})")
    } else {
        String::new()
    }
}

#[derive(Debug)]
enum Phase {
    Scheduled(Schedule),
    InFlight,
    Answered(Response<Bytes>),
    Failed(CallFailure),
}

/// The sans-IO machine of one API call: every attempt asks the pacer for a slot, then goes out;
/// failures are retried under a [`RetryPolicy`] only when repeating the request is safe.
///
/// - **429** is always retried: the server did not process the request.
/// - **408 and 5xx** are retried only for an [idempotent](Operation::is_idempotent) operation.
/// - **401, 403** and every other 4xx are final (a blocked account answers 403 to everything,
///   and hammering it prolongs the block).
/// - A **transport failure** is retried when its kind is retryable and either the operation is
///   idempotent or the request cannot have reached the server (a refused connection).
///
/// A `Retry-After` (seconds or HTTP-date) replaces the backoff. When the policy runs out, the
/// last response is the answer ([`CallAction::Done`]); the last transport failure is a
/// [`CallAction::Failed`].
///
/// ```
/// use kommo_files_model::call::{CallAction, CallMachine};
/// use kommo_files_model::{endpoint, retry::RetryPolicy, AccessToken, BaseUrl, Operation};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let drive = endpoint::DriveHost::new(BaseUrl::parse("https://drive-c.kommo.com")?, AccessToken::new("t")?);
/// let request = endpoint::get_file_request(&drive, "f-uuid");
/// let mut call = CallMachine::new(Operation::GetFile, request, RetryPolicy::default(), 7);
/// let mut now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let mut answers = vec![503, 200].into_iter();
/// let response = loop {
///     match call.poll_action(now) {
///         CallAction::Pace => call.handle_slot(now), // a real driver asks its TokenBucket
///         CallAction::Wait { until } => now = until, // a real driver sleeps
///         CallAction::Send { request: _, attempt: _ } => {
///             let mut response = http::Response::new(bytes::Bytes::new());
///             *response.status_mut() = http::StatusCode::from_u16(answers.next().unwrap())?;
///             call.handle_response(Ok(response), now);
///         }
///         CallAction::Done(response) => break response,
///         other => panic!("unexpected {other:?}"),
///     }
/// };
/// assert_eq!(response.status(), 200);
/// assert_eq!(call.attempt(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CallMachine {
    operation: Operation,
    request: Request<Bytes>,
    budget: RetryBudget,
    phase: Phase,
}

impl CallMachine {
    /// A call of `operation` sending `request`, retried under `policy` with jitter drawn from
    /// `jitter_seed`.
    pub fn new(
        operation: Operation,
        request: Request<Bytes>,
        policy: RetryPolicy,
        jitter_seed: u64,
    ) -> Self {
        Self {
            operation,
            request,
            budget: RetryBudget::new(policy, jitter_seed),
            phase: Phase::Scheduled(Schedule::NeedSlot),
        }
    }

    /// The next thing to do at time `now`.
    pub fn poll_action(&mut self, now: SystemTime) -> CallAction {
        match &mut self.phase {
            Phase::Scheduled(schedule) => match schedule.poll(now) {
                Step::Pace => CallAction::Pace,
                Step::Wait(until) => CallAction::Wait { until },
                Step::AwaitSlot => CallAction::AwaitResponse,
                Step::Send => {
                    self.phase = Phase::InFlight;
                    self.budget.sent(now);
                    CallAction::Send {
                        request: self.request.clone(),
                        attempt: self.budget.attempt(),
                    }
                }
            },
            Phase::InFlight => CallAction::AwaitResponse,
            Phase::Answered(response) => CallAction::Done(response.clone()),
            Phase::Failed(failure) => CallAction::Failed(failure.clone()),
        }
    }

    /// The pacer's answer to [`CallAction::Pace`]: the request may go at `send_at` (the
    /// machine waits until then if it is in the future). Ignored when no slot was asked for.
    pub fn handle_slot(&mut self, send_at: SystemTime) {
        if let Phase::Scheduled(schedule) = &mut self.phase {
            schedule.slot(send_at);
        }
    }

    /// The outcome of the last [`CallAction::Send`]: a response (any status) or a transport
    /// failure. Ignored when no request is in flight.
    pub fn handle_response(
        &mut self,
        result: Result<Response<Bytes>, SendFailure>,
        now: SystemTime,
    ) {
        if !matches!(self.phase, Phase::InFlight) {
            return;
        }
        self.phase = match result {
            Ok(response) => self.on_response(response, now),
            Err(failure) => self.on_failure(failure, now),
        };
    }

    /// The operation this call performs.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The attempt about to be or being made, 1-based (after the end: the last one made).
    pub fn attempt(&self) -> u32 {
        self.budget.attempt()
    }

    fn on_response(&mut self, response: Response<Bytes>, now: SystemTime) -> Phase {
        if !self.may_retry_status(response.status()) {
            return Phase::Answered(response);
        }
        let hint = RetryAfter::from_headers(response.headers()).map(|r| r.delay_from(now));
        match self.budget.retry_at(hint, now) {
            Some(until) => Phase::Scheduled(Schedule::Backoff(until)),
            None => Phase::Answered(response),
        }
    }

    fn on_failure(&mut self, failure: SendFailure, now: SystemTime) -> Phase {
        let safe = self.operation.is_idempotent() || !failure.may_have_reached_server();
        if failure.is_retryable() && safe {
            if let Some(until) = self.budget.retry_at(None, now) {
                return Phase::Scheduled(Schedule::Backoff(until));
            }
        }
        Phase::Failed(CallFailure {
            failure,
            attempts: self.budget.attempt(),
            elapsed: self.budget.elapsed(now),
        })
    }

    /// 429 means "not processed", so it is always safe; 408 and 5xx may follow a processed
    /// request, so only an idempotent one is repeated.
    fn may_retry_status(&self, status: StatusCode) -> bool {
        if status == StatusCode::TOO_MANY_REQUESTS {
            return true;
        }
        let transient = status == StatusCode::REQUEST_TIMEOUT || status.is_server_error();
        transient && self.operation.is_idempotent()
    }
}
