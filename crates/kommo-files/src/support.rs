//! Small pieces both clients share outside the driver template: retry bookkeeping, request
//! preparation, names and temporary paths.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, USER_AGENT};
use kommo_files_model::retry::{Jitter, RetryDecision, RetryPolicy};
use kommo_files_model::upload::{Action, SendFailure, SendFailureKind, UploadError, UploadMachine};
use kommo_files_transport::{ErrorKind, Operation, OperationContext, Request, TransportError};

use crate::Error;

/// Counts the failures of one request and says how long to wait before the next attempt.
#[derive(Debug)]
pub(crate) struct Retrier {
    policy: RetryPolicy,
    failures: u32,
    first_failure: Option<SystemTime>,
    jitter: Jitter,
}

impl Retrier {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            failures: 0,
            first_failure: None,
            jitter: Jitter::new(seed()),
        }
    }

    /// The attempt about to be made (1 for the first).
    pub(crate) fn attempt(&self) -> u32 {
        self.failures + 1
    }

    /// Records a failure; the wait before retrying, or `None` to give up.
    pub(crate) fn failed(&mut self, hint: Option<Duration>) -> Option<Duration> {
        let now = SystemTime::now();
        self.failures += 1;
        let first = *self.first_failure.get_or_insert(now);
        match self
            .policy
            .decide(self.failures, first, now, hint, &mut self.jitter)
        {
            RetryDecision::RetryAfter(delay) => Some(delay),
            _ => None,
        }
    }
}

/// A jitter seed that differs between calls and processes.
pub(crate) fn seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Stamps what every request carries: the operation context and the user agent.
pub(crate) fn prepare(
    mut request: Request,
    context: OperationContext,
    user_agent: &str,
) -> Request {
    context.attach(&mut request);
    if let Ok(value) = HeaderValue::from_str(user_agent) {
        request.headers_mut().insert(USER_AGENT, value);
    }
    request
}

/// The `Content-Length` a response announces.
pub(crate) fn content_length<B>(response: &http::Response<B>) -> Option<u64> {
    response
        .headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The file name of `path`, for the session request.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || "file".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// A temporary path next to `path` (same directory, so a rename is atomic).
pub(crate) fn sibling_temp_path(path: &Path) -> PathBuf {
    let name = format!(".{}.{:x}.part", file_name(path), seed() & 0xFFFF_FFFF);
    path.with_file_name(name)
}

/// Numbers the attempts of upload requests for their [`OperationContext`]: a request to the
/// same URL as the previous one is its retry.
#[derive(Debug, Default)]
pub(crate) struct AttemptCounter {
    last: Option<(http::Method, http::Uri)>,
    attempt: u32,
}

impl AttemptCounter {
    pub(crate) fn context(
        &mut self,
        request: &Request,
        machine: &UploadMachine,
    ) -> OperationContext {
        let key = (request.method().clone(), request.uri().clone());
        self.attempt = if self.last.as_ref() == Some(&key) {
            self.attempt + 1
        } else {
            1
        };
        self.last = Some(key);
        let opens_session = request.uri().path().ends_with("/v1.0/sessions");
        if opens_session {
            return OperationContext::new(Operation::CreateSession, false).attempt(self.attempt);
        }
        let part = machine
            .part_size()
            .filter(|size| *size > 0)
            .map_or(1, |size| machine.acknowledged() / size + 1);
        OperationContext::new(Operation::UploadPart, true)
            .attempt(self.attempt)
            .part(part)
    }
}

/// A transport failure as the upload machine sees it.
pub(crate) fn send_failure(error: TransportError) -> SendFailure {
    let kind = match error.kind() {
        ErrorKind::Connect => SendFailureKind::Connect,
        ErrorKind::Timeout => SendFailureKind::Timeout,
        ErrorKind::Io => SendFailureKind::Io,
        ErrorKind::Body => SendFailureKind::Body,
        ErrorKind::Tls => SendFailureKind::Tls,
        _ => SendFailureKind::Other,
    };
    SendFailure::new(kind, error.to_string())
}

/// An action the driver cannot take: a bug in the SDK, reported rather than panicking.
pub(crate) fn driver_bug(action: &Action) -> Error {
    Error::Upload {
        error: UploadError::Transport(SendFailure::new(
            SendFailureKind::Other,
            format!("kommo-files driver bug: unexpected {action:?}"),
        )),
        checkpoint: None,
    }
}

/// The start of an error answer's body (enough for the problem JSON), or nothing if unreadable.
pub(crate) fn error_body(chunk: Result<Option<Bytes>, TransportError>) -> Bytes {
    chunk.ok().flatten().unwrap_or_default()
}

/// The `href` of a download link, or the error that there is none.
pub(crate) fn download_href(link: Option<&kommo_files_model::wire::Link>) -> Result<&str, Error> {
    link.map(|link| link.href.as_str())
        .ok_or(Error::Download(crate::DownloadError::NoLink))
}

/// How much of a source is read at a time to hash the prefix a late checkpoint needs.
pub(crate) const PREFIX_CHUNK: u64 = 8 * 1024 * 1024;
