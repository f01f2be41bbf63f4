//! [`Error`]: one error type for both clients, whatever the features.

use bytes::Bytes;
use http::StatusCode;
use kommo_files_model::upload::{Checkpoint, CheckpointError, UploadError};
use kommo_files_model::{ApiError, RetryAfter, UrlError};
use kommo_files_transport::{Operation, TransportError};

/// Everything that can go wrong, with what a caller needs to act on it.
///
/// ```
/// # fn demo(error: kommo_files::Error) {
/// if let Some(checkpoint) = error.checkpoint() {
///     // An upload stopped half-way: save this and resume it later.
///     std::fs::write("upload.checkpoint.json", checkpoint.to_json()).ok();
/// }
/// if error.status() == Some(http::StatusCode::TOO_MANY_REQUESTS) {
///     eprintln!("slow down; the server says retry after {:?}", error.retry_after());
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error (after any retries).
    #[error("{operation}: {error}{}", scope_hint(*operation, error.status()))]
    Api {
        /// What was attempted.
        operation: Operation,
        /// Status, parsed problem, raw body, `Retry-After`, or the JSON path of a bad answer.
        error: ApiError,
    },
    /// No complete response (after any retries).
    #[error("{operation}: {error}")]
    Transport {
        /// What was attempted.
        operation: Operation,
        /// The transport's failure.
        #[source]
        error: TransportError,
    },
    /// An upload stopped; [`Error::checkpoint`] may allow resuming it.
    #[error("upload failed: {error}{}", error.status().map_or("", |s| scope_hint(Operation::UploadPart, s)))]
    Upload {
        /// Why it stopped.
        error: UploadError,
        /// Where it stopped, when the server had acknowledged parts of a live session.
        checkpoint: Option<Box<Checkpoint>>,
    },
    /// The upload was cancelled through its [`crate::CancelHandle`].
    #[error("upload cancelled")]
    Cancelled {
        /// Where it stopped.
        checkpoint: Option<Box<Checkpoint>>,
    },
    /// Reading an upload's source or writing a download's destination failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A download did not deliver what it promised.
    #[error("download: {0}")]
    Download(DownloadError),
    /// A URL was refused (not https, or a server-sent link to another host).
    #[error("{0}")]
    Url(#[from] UrlError),
    /// A saved checkpoint could not be read.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The built-in HTTP client could not be set up (TLS roots, resolver).
    #[error("setting up the HTTP client: {0}")]
    Client(#[source] TransportError),
    /// The token is empty or cannot be sent in a header.
    #[error("the access token is empty or contains characters a header cannot carry")]
    InvalidToken,
}

/// Why a download is incomplete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The body ended before `Content-Length`.
    #[error("received {received} of {expected} bytes")]
    Incomplete {
        /// `Content-Length`.
        expected: u64,
        /// Bytes received.
        received: u64,
    },
    /// More than five redirects.
    #[error("more than {0} redirects")]
    TooManyRedirects(u32),
    /// A redirect without a usable `Location`.
    #[error("a redirect without a Location header")]
    MissingLocation,
    /// The file has no download link (a file the server hides, or an old API version).
    #[error("the file has no download link")]
    NoLink,
}

impl Error {
    /// The HTTP status behind the error, if a response caused it.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { error, .. } => Some(error.status()),
            Self::Upload { error, .. } => error.status(),
            _ => None,
        }
    }

    /// The server's error answer, if there was one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Api { error, .. } => Some(error),
            Self::Upload { error, .. } => upload_api_error(error),
            _ => None,
        }
    }

    /// The raw body of the server's error answer.
    pub fn body(&self) -> Option<&Bytes> {
        self.api_error().map(ApiError::body)
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        self.api_error().and_then(ApiError::retry_after)
    }

    /// Where a failed or cancelled upload can be resumed from.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        match self {
            Self::Upload { checkpoint, .. } | Self::Cancelled { checkpoint } => {
                checkpoint.as_deref()
            }
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

fn upload_api_error(error: &UploadError) -> Option<&ApiError> {
    match error {
        UploadError::Api(error) => Some(error),
        UploadError::RetriesExhausted { last, .. } => upload_api_error(last),
        _ => None,
    }
}

/// What a 401 or 403 most likely means, in words a user can act on.
fn scope_hint(operation: Operation, status: StatusCode) -> &'static str {
    match (status, operation) {
        (StatusCode::UNAUTHORIZED, _) => {
            " (the access token is invalid or expired: refresh it or issue a new one)"
        }
        (StatusCode::FORBIDDEN, Operation::DeleteFiles) => {
            " (the token lacks the \"Deleting files\" scope, or the account is blocked for \
             exceeding 7 requests per second)"
        }
        (StatusCode::FORBIDDEN, _) => {
            " (the token lacks the \"Access to files\" scope, or the account is blocked for \
             exceeding 7 requests per second)"
        }
        _ => "",
    }
}
