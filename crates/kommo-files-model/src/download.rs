//! [`DownloadMachine`]: one streamed download, with redirects, pacing, and retries before the
//! first byte.

use std::time::SystemTime;

use bytes::Bytes;
use http::{header, HeaderMap, Request, Response, StatusCode};

use crate::attempts::{RetryBudget, Schedule, Step};
use crate::endpoint::{self, DriveHost};
use crate::retry::{is_retryable_status, RetryPolicy};
use crate::upload::SendFailure;
use crate::{ApiError, RetryAfter, UrlError};

/// At most this many bytes of an error body are read (an HTML error page can be large).
pub const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// What the driver of a [`DownloadMachine`] must do next.
#[derive(Debug)]
#[non_exhaustive]
// Moved out once per step and matched at once: a box per request would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum DownloadAction {
    /// Ask the shared pacer for a slot and report it with [`DownloadMachine::handle_slot`]
    /// (one slot per request, redirect hops included).
    Pace,
    /// Nothing to do before `until`; poll again then.
    Wait {
        /// When to poll again.
        until: SystemTime,
    },
    /// Send this request with a **streamed** response; report its head with
    /// [`DownloadMachine::handle_head`].
    Send {
        /// The request (the download link, or where a redirect pointed).
        request: Request<Bytes>,
        /// 1 + the failures of this download so far (a redirect hop is not a new attempt).
        attempt: u32,
    },
    /// The head was a success: stream the body to the sink, calling
    /// [`DownloadMachine::handle_chunk`] per chunk and [`DownloadMachine::handle_end`] at the
    /// end, or [`DownloadMachine::handle_body_error`]. Polling between chunks answers
    /// [`DownloadAction::AwaitResponse`] while the body is welcome and
    /// [`DownloadAction::Failed`] once it is not (more bytes than `Content-Length`): stop then.
    ReadBody {
        /// The announced `Content-Length`, if usable.
        expected: Option<u64>,
    },
    /// The head was an error status: read at most `limit` bytes of its body and give them to
    /// [`DownloadMachine::handle_error_body`] (empty if unreadable).
    ReadErrorBody {
        /// The most bytes to read.
        limit: usize,
    },
    /// A slot, head or body is still awaited: only seen when polled before the last action
    /// was answered.
    AwaitResponse,
    /// The whole body went to the sink.
    Done {
        /// Bytes written.
        written: u64,
    },
    /// The download stopped.
    Failed(DownloadFailure),
}

/// Why a download stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadFailure {
    /// The body was shorter or longer than its `Content-Length`.
    #[error("received {received} bytes where Content-Length announced {expected}")]
    Incomplete {
        /// `Content-Length`.
        expected: u64,
        /// Bytes received (when too many: as soon as they were too many).
        received: u64,
    },
    /// Redirects kept coming.
    #[error("more than {limit} redirects")]
    TooManyRedirects {
        /// Redirects followed.
        limit: u32,
    },
    /// A 3xx without a usable `Location`.
    #[error("a redirect without a usable Location header")]
    MissingLocation,
    /// A redirect or link refused: another scheme, a downgrade from https to http, a bad URL.
    #[error("refusing the download URL: {0}")]
    Refused(UrlError),
    /// An error status, after retries when it was retryable.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// No head after retries, or the body broke after its first byte reached the sink.
    #[error("transport failure after {attempts} attempt(s): {failure}")]
    Transport {
        /// The last failure.
        failure: SendFailure,
        /// Attempts made.
        attempts: u32,
    },
}

#[derive(Debug)]
enum Phase {
    Scheduled(Schedule),
    AwaitHead,
    /// A success head: the body is to be read.
    Body {
        announced: bool,
    },
    /// An error head, kept to build the error once its body is read.
    ErrorBody {
        head: Box<ErrorHead>,
        announced: bool,
    },
    Finished(Result<u64, DownloadFailure>),
}

#[derive(Debug)]
struct ErrorHead {
    status: StatusCode,
    headers: HeaderMap,
}

/// The sans-IO machine of one streamed download of a `_links.download.href`.
///
/// Every request (redirect hops included) first asks the pacer for a slot. Redirects are
/// followed up to [`DownloadMachine::MAX_REDIRECTS`] hops under the rules of
/// [`endpoint::redirect_request`]: the token stays on the drive host, and neither another
/// scheme nor a downgrade from https to http is accepted.
///
/// Failures are retried (full-jitter backoff, `Retry-After` honoured, within the
/// [`RetryPolicy`]) **only before the first byte** reached the sink: transport failures without
/// a head, 408, 429 and 5xx. Once a byte was written a broken body ends the download, since the
/// sink already holds part of it. Other statuses (401, 403, 404, …) fail at once with the
/// [`ApiError`] built from the head and the start of the error body. A body shorter or longer
/// than its `Content-Length` is [`DownloadFailure::Incomplete`].
///
/// ```
/// use kommo_files_model::download::{DownloadAction, DownloadMachine};
/// use kommo_files_model::{endpoint::DriveHost, retry::RetryPolicy, AccessToken, BaseUrl};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let drive = DriveHost::new(BaseUrl::parse("https://drive-c.kommo.com")?, AccessToken::new("t")?);
/// let link = "https://drive-c.kommo.com/download/f/v/a.txt";
/// let mut download = DownloadMachine::new(drive, link, RetryPolicy::default(), 7)?;
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let mut sink = Vec::new();
/// let written = loop {
///     match download.poll_action(now) {
///         DownloadAction::Pace => download.handle_slot(now), // a real driver asks its TokenBucket
///         DownloadAction::Send { request, .. } => {
///             assert_eq!(request.uri().path(), "/download/f/v/a.txt");
///             let head = http::Response::builder().header("content-length", "5").body(())?;
///             download.handle_head(Ok(head), now);
///         }
///         DownloadAction::ReadBody { expected } => {
///             assert_eq!(expected, Some(5));
///             for chunk in [&b"hel"[..], b"lo"] {
///                 sink.extend_from_slice(chunk);
///                 download.handle_chunk(chunk.len());
///             }
///             download.handle_end();
///         }
///         DownloadAction::Done { written } => break written,
///         other => panic!("unexpected {other:?}"),
///     }
/// };
/// assert_eq!((written, sink.as_slice()), (5, &b"hello"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct DownloadMachine {
    drive: DriveHost,
    request: Request<Bytes>,
    budget: RetryBudget,
    redirects: u32,
    expected: Option<u64>,
    written: u64,
    phase: Phase,
}

impl DownloadMachine {
    /// Redirect hops followed at most.
    pub const MAX_REDIRECTS: u32 = 5;

    /// A download of `url`, a download link (`_links.download.href`); the token is attached
    /// only on the drive host (see [`endpoint::download_request`]).
    pub fn new(
        drive: DriveHost,
        url: &str,
        policy: RetryPolicy,
        jitter_seed: u64,
    ) -> Result<Self, UrlError> {
        let request = endpoint::download_request(&drive, url)?;
        Ok(Self {
            drive,
            request,
            budget: RetryBudget::new(policy, jitter_seed),
            redirects: 0,
            expected: None,
            written: 0,
            phase: Phase::Scheduled(Schedule::NeedSlot),
        })
    }

    /// The next thing to do at time `now`.
    pub fn poll_action(&mut self, now: SystemTime) -> DownloadAction {
        match &mut self.phase {
            Phase::Scheduled(schedule) => match schedule.poll(now) {
                Step::Pace => DownloadAction::Pace,
                Step::Wait(until) => DownloadAction::Wait { until },
                Step::AwaitSlot => DownloadAction::AwaitResponse,
                Step::Send => {
                    self.phase = Phase::AwaitHead;
                    self.budget.sent(now);
                    DownloadAction::Send {
                        request: self.request.clone(),
                        attempt: self.budget.attempt(),
                    }
                }
            },
            // Each read is asked for once; polling again while it runs only waits.
            Phase::Body { announced } | Phase::ErrorBody { announced, .. } if *announced => {
                DownloadAction::AwaitResponse
            }
            Phase::Body { announced } => {
                *announced = true;
                DownloadAction::ReadBody {
                    expected: self.expected,
                }
            }
            Phase::ErrorBody { announced, .. } => {
                *announced = true;
                DownloadAction::ReadErrorBody {
                    limit: ERROR_BODY_LIMIT,
                }
            }
            Phase::AwaitHead => DownloadAction::AwaitResponse,
            Phase::Finished(Ok(written)) => DownloadAction::Done { written: *written },
            Phase::Finished(Err(failure)) => DownloadAction::Failed(failure.clone()),
        }
    }

    /// The pacer's answer to [`DownloadAction::Pace`]; ignored when no slot was asked for.
    pub fn handle_slot(&mut self, send_at: SystemTime) {
        if let Phase::Scheduled(schedule) = &mut self.phase {
            schedule.slot(send_at);
        }
    }

    /// The head of the response to the last [`DownloadAction::Send`], or why none came.
    /// Ignored when no request is in flight.
    pub fn handle_head(&mut self, result: Result<Response<()>, SendFailure>, now: SystemTime) {
        if !matches!(self.phase, Phase::AwaitHead) {
            return;
        }
        let head = match result {
            Ok(head) => head,
            Err(failure) => {
                self.phase = self.retry_transport(failure, now);
                return;
            }
        };
        let status = head.status();
        self.phase = if status.is_success() {
            self.expected = content_length(head.headers());
            self.written = 0;
            Phase::Body { announced: false }
        } else if status.is_redirection() {
            self.follow(head.headers())
        } else {
            let (parts, ()) = head.into_parts();
            Phase::ErrorBody {
                head: Box::new(ErrorHead {
                    status: parts.status,
                    headers: parts.headers,
                }),
                announced: false,
            }
        };
    }

    /// The start of the error body asked for by [`DownloadAction::ReadErrorBody`] (empty if it
    /// could not be read). Ignored when no error body was asked for.
    pub fn handle_error_body(&mut self, body: Bytes, now: SystemTime) {
        let Phase::ErrorBody { head, .. } = &self.phase else {
            return;
        };
        let mut response = Response::new(body);
        *response.status_mut() = head.status;
        *response.headers_mut() = head.headers.clone();
        let error = ApiError::from_response(&response);
        self.phase = if is_retryable_status(head.status) {
            let hint = RetryAfter::from_headers(&head.headers).map(|r| r.delay_from(now));
            match self.budget.retry_at(hint, now) {
                Some(until) => Phase::Scheduled(Schedule::Backoff(until)),
                None => Phase::Finished(Err(DownloadFailure::Api(Box::new(error)))),
            }
        } else {
            Phase::Finished(Err(DownloadFailure::Api(Box::new(error))))
        };
    }

    /// `len` more bytes went to the sink. Fails as soon as they exceed `Content-Length`.
    pub fn handle_chunk(&mut self, len: usize) {
        if !matches!(self.phase, Phase::Body { .. }) {
            return;
        }
        self.written = self.written.saturating_add(len as u64);
        if let Some(expected) = self.expected {
            if self.written > expected {
                self.phase = Phase::Finished(Err(DownloadFailure::Incomplete {
                    expected,
                    received: self.written,
                }));
            }
        }
    }

    /// The body ended cleanly.
    pub fn handle_end(&mut self) {
        if !matches!(self.phase, Phase::Body { .. }) {
            return;
        }
        self.phase = match self.expected {
            Some(expected) if expected != self.written => {
                Phase::Finished(Err(DownloadFailure::Incomplete {
                    expected,
                    received: self.written,
                }))
            }
            _ => Phase::Finished(Ok(self.written)),
        };
    }

    /// The body broke. Before its first byte this is retried like a failed request; after it,
    /// the download fails (the sink already holds bytes).
    pub fn handle_body_error(&mut self, failure: SendFailure, now: SystemTime) {
        if !matches!(self.phase, Phase::Body { .. }) {
            return;
        }
        self.phase = if self.written == 0 {
            self.retry_transport(failure, now)
        } else {
            Phase::Finished(Err(self.transport_failure(failure)))
        };
    }

    /// Bytes written to the sink so far (of the current response's body).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The current body's `Content-Length`, once a success head announced a usable one.
    pub fn expected(&self) -> Option<u64> {
        self.expected
    }

    /// Follows a 3xx, within the hop limit and the URL rules.
    fn follow(&mut self, headers: &HeaderMap) -> Phase {
        let location = headers
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|location| !location.is_empty());
        let Some(location) = location else {
            return Phase::Finished(Err(DownloadFailure::MissingLocation));
        };
        if self.redirects >= Self::MAX_REDIRECTS {
            return Phase::Finished(Err(DownloadFailure::TooManyRedirects {
                limit: Self::MAX_REDIRECTS,
            }));
        }
        match endpoint::redirect_request(&self.drive, &self.request, location) {
            Ok(request) => {
                self.redirects += 1;
                self.request = request;
                Phase::Scheduled(Schedule::NeedSlot)
            }
            Err(error) => Phase::Finished(Err(DownloadFailure::Refused(error))),
        }
    }

    /// A GET is idempotent: a failure before the first byte is retried when its kind is.
    fn retry_transport(&mut self, failure: SendFailure, now: SystemTime) -> Phase {
        if failure.is_retryable() {
            if let Some(until) = self.budget.retry_at(None, now) {
                return Phase::Scheduled(Schedule::Backoff(until));
            }
        }
        Phase::Finished(Err(self.transport_failure(failure)))
    }

    fn transport_failure(&self, failure: SendFailure) -> DownloadFailure {
        DownloadFailure::Transport {
            failure,
            attempts: self.budget.attempt(),
        }
    }
}

/// `Content-Length`, when it is one number (anything else counts as unknown).
fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(header::CONTENT_LENGTH).iter();
    let first = values.next()?.to_str().ok()?.trim();
    // Repeated headers must agree, or the length is unknown.
    let length: u64 = first.parse().ok()?;
    values
        .all(|v| v.to_str().ok().map(str::trim) == Some(first))
        .then_some(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_one_number_or_unknown() {
        let of = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(header::CONTENT_LENGTH, value.parse().unwrap());
            }
            content_length(&headers)
        };
        assert_eq!(of(&["12"]), Some(12));
        assert_eq!(of(&[" 12 "]), Some(12));
        assert_eq!(of(&["12", "12"]), Some(12));
        assert_eq!(of(&["12", "13"]), None);
        assert_eq!(of(&[]), None);
        assert_eq!(of(&["-1"]), None);
        assert_eq!(of(&["1e3"]), None);
        assert_eq!(of(&["99999999999999999999999"]), None);
    }
}
