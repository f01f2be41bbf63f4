//! [`Error`]: one error type for both clients, whatever the features.
//!
//! Each variant's `Display` says what happened, once; the details are its
//! [`source`](std::error::Error::source) chain, so printing the chain (as `anyhow` and `eyre`
//! do) never repeats a message.

use bytes::Bytes;
use http::StatusCode;
use kommo_files_model::call::CallFailure;
use kommo_files_model::download::DownloadFailure;
use kommo_files_model::upload::{
    Checkpoint, CheckpointError, SendFailure, SendFailureKind, UploadError,
};
use kommo_files_model::{ApiError, Operation, RetryAfter, UrlError};
use kommo_files_transport::TransportError;

/// Everything that can go wrong, with what a caller needs to act on it.
///
/// Match on [`Error::kind`] without destructuring, or on the variants (with `..`: they may
/// grow fields).
///
/// ```
/// # fn demo(error: kommo_files::Error) {
/// use kommo_files::ErrorKind;
///
/// if let Some(checkpoint) = error.checkpoint() {
///     // An upload stopped half-way: save this and resume it later.
///     std::fs::write("upload.checkpoint.json", checkpoint.to_json()).ok();
/// }
/// if error.status() == Some(http::StatusCode::TOO_MANY_REQUESTS) {
///     eprintln!("slow down; the server says retry after {:?}", error.retry_after());
/// }
/// if error.kind() == ErrorKind::Transport && error.is_retryable() {
///     eprintln!("the network failed; try again later");
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error (after any retries), or with a body we cannot read.
    #[error("{operation} failed{}", scope_hint(*operation, error.status()))]
    #[non_exhaustive]
    Api {
        /// What was attempted.
        operation: Operation,
        /// Status, parsed problem, raw body, `Retry-After`, or the JSON path of a bad answer.
        #[source]
        error: ApiError,
    },
    /// No complete response (after any retries).
    #[error("{operation} failed: no response after {attempts} attempt(s)")]
    #[non_exhaustive]
    Transport {
        /// What was attempted.
        operation: Operation,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure.
        #[source]
        failure: SendFailure,
    },
    /// An upload stopped; [`Error::checkpoint`] may allow resuming it.
    #[error("upload failed{}", error.status().map_or("", |s| scope_hint(Operation::UploadPart, s)))]
    #[non_exhaustive]
    Upload {
        /// Why it stopped.
        #[source]
        error: UploadError,
        /// Where it stopped, when a session was open.
        checkpoint: Option<Box<Checkpoint>>,
    },
    /// The answer to an upload's last part was lost (or unreadable) and no stored file could be
    /// proven to be it: several files of its name, size and content, or none could be checked.
    /// Nothing was adopted and nothing uploaded again; look before uploading again.
    #[error(
        "the answer to the upload's last part was lost and the stored file could not be proven \
         ({} candidate(s) of the same name and size): check before uploading again",
        candidates.len()
    )]
    #[non_exhaustive]
    FinalPartUnproven {
        /// The upload's session.
        checkpoint: Box<Checkpoint>,
        /// UUIDs of the files (or versions) that may be it.
        candidates: Vec<String>,
        /// Why the search could not finish, if it could not.
        #[source]
        cause: Option<Box<Error>>,
    },
    /// The upload was cancelled through its [`crate::CancelHandle`].
    #[error("upload cancelled")]
    #[non_exhaustive]
    Cancelled {
        /// Where it stopped.
        checkpoint: Option<Box<Checkpoint>>,
    },
    /// Reading an upload's source or writing a download's destination failed.
    #[error("{context}")]
    #[non_exhaustive]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A download did not deliver what it promised.
    #[error("download failed")]
    Download(#[source] DownloadError),
    /// A URL was refused (not https, or a server-sent link to another host).
    #[error("refused a URL")]
    Url(#[from] UrlError),
    /// A saved checkpoint could not be read.
    #[error("the checkpoint cannot be used")]
    Checkpoint(#[from] CheckpointError),
    /// The built-in HTTP client could not be set up (TLS roots, resolver).
    #[error("setting up the HTTP client failed")]
    Client(#[source] TransportError),
    /// The token is empty or holds anything but visible ASCII (a space, a control character, a
    /// non-ASCII letter): it is refused when the configuration is made, before any request.
    #[error(
        "the access token is empty or holds characters other than visible ASCII (spaces, \
         control characters, non-ASCII letters)"
    )]
    InvalidToken,
    /// Authentication failed: a refresh refused or unanswered, a revoked integration, a token
    /// store or provider that failed.
    #[error("authentication failed")]
    Auth(#[from] crate::auth::AuthError),
    /// A bug in kommo-files: a state its machines should never reach. Please report it.
    #[error("internal error in kommo-files (a bug, please report it): {0}")]
    Internal(String),
}

/// What kind of [`Error`] this is, to match on without destructuring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::Api`].
    Api,
    /// [`Error::Transport`], except a refused certificate.
    Transport,
    /// The server's certificate was refused (an unknown issuer, expired, another name), so no
    /// request was sent: an [`Error::Transport`] or [`Error::Upload`] whose failure is a
    /// [`SendFailureKind::Certificate`](kommo_files_model::upload::SendFailureKind::Certificate).
    /// Never retryable; trust the server's CA with [`crate::ClientConfig::trust_ca_pem`] if it
    /// is yours (a corporate proxy, a test server).
    Certificate,
    /// [`Error::Upload`].
    Upload,
    /// [`Error::FinalPartUnproven`].
    FinalPartUnproven,
    /// [`Error::Cancelled`].
    Cancelled,
    /// [`Error::Io`].
    Io,
    /// [`Error::Download`].
    Download,
    /// [`Error::Url`].
    Url,
    /// [`Error::Checkpoint`].
    Checkpoint,
    /// [`Error::Client`].
    ClientSetup,
    /// [`Error::InvalidToken`].
    InvalidToken,
    /// [`Error::Auth`].
    Auth,
    /// [`Error::Internal`].
    Internal,
}

/// Why a download is incomplete or impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The body ended before (or ran past) `Content-Length`.
    #[error("received {received} of {expected} bytes")]
    Incomplete {
        /// `Content-Length`.
        expected: u64,
        /// Bytes received.
        received: u64,
    },
    /// Too many redirects.
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
    /// What kind of error this is.
    ///
    /// ```
    /// let error = kommo_files::ClientConfig::for_url("https://x.kommo.com", "").unwrap_err();
    /// assert_eq!(error.kind(), kommo_files::ErrorKind::InvalidToken);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        if self
            .send_failure()
            .is_some_and(|failure| failure.kind == SendFailureKind::Certificate)
        {
            return ErrorKind::Certificate;
        }
        match self {
            Self::Api { .. } => ErrorKind::Api,
            Self::Transport { .. } => ErrorKind::Transport,
            Self::Upload { .. } => ErrorKind::Upload,
            Self::FinalPartUnproven { .. } => ErrorKind::FinalPartUnproven,
            Self::Cancelled { .. } => ErrorKind::Cancelled,
            Self::Io { .. } => ErrorKind::Io,
            Self::Download(_) => ErrorKind::Download,
            Self::Url(_) => ErrorKind::Url,
            Self::Checkpoint(_) => ErrorKind::Checkpoint,
            Self::Client(_) => ErrorKind::ClientSetup,
            Self::InvalidToken => ErrorKind::InvalidToken,
            Self::Auth(_) => ErrorKind::Auth,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Whether the same call may succeed if made again later: a network failure, a 408, 429
    /// or 5xx answer, a download cut short. (The client already retried; this is for a
    /// caller's own, longer-term retry.) Never for 401/403, a bad request or a refused URL.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { error, .. } => {
                kommo_files_model::retry::is_retryable_status(error.status())
            }
            Self::Transport { failure, .. } => failure.is_retryable(),
            Self::Upload { error, .. } => upload_is_retryable(error),
            Self::Download(error) => matches!(error, DownloadError::Incomplete { .. }),
            _ => false,
        }
    }

    /// The last network failure, for an error the network caused (an [`Error::Transport`], or
    /// an [`Error::Upload`] that stopped on one): its kind says whether the connection failed,
    /// timed out, broke, or the server's certificate was refused.
    pub fn send_failure(&self) -> Option<&SendFailure> {
        fn in_upload(error: &UploadError) -> Option<&SendFailure> {
            match error {
                UploadError::Transport(failure) => Some(failure),
                UploadError::RetriesExhausted { last, .. } => in_upload(last),
                _ => None,
            }
        }
        match self {
            Self::Transport { failure, .. } => Some(failure),
            Self::Upload { error, .. } => in_upload(error),
            _ => None,
        }
    }

    /// The operation that failed, for an error the server or the network caused.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            Self::Api { operation, .. } | Self::Transport { operation, .. } => Some(*operation),
            Self::Upload { .. } | Self::FinalPartUnproven { .. } | Self::Cancelled { .. } => {
                Some(Operation::UploadPart)
            }
            Self::Download(_) => Some(Operation::Download),
            _ => None,
        }
    }

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
            Self::FinalPartUnproven { checkpoint, .. } => Some(checkpoint),
            _ => None,
        }
    }

    /// The message of this error and of every source after it, joined by `": "` (what a
    /// program shows a user in one line).
    ///
    /// ```
    /// let error = kommo_files::ClientConfig::for_url("ftp://x", "token").unwrap_err();
    /// assert!(error.chain_message().starts_with("refused a URL: "));
    /// ```
    pub fn chain_message(&self) -> String {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(error) = source {
            message.push_str(": ");
            message.push_str(&error.to_string());
            source = error.source();
        }
        message
    }

    pub(crate) fn api(operation: Operation, error: ApiError) -> Self {
        Self::Api { operation, error }
    }

    pub(crate) fn call_failed(operation: Operation, failure: CallFailure) -> Self {
        Self::Transport {
            operation,
            attempts: failure.attempts,
            failure: failure.failure,
        }
    }

    pub(crate) fn upload(error: UploadError, checkpoint: Option<Box<Checkpoint>>) -> Self {
        Self::Upload { error, checkpoint }
    }

    pub(crate) fn cancelled(checkpoint: Option<Box<Checkpoint>>) -> Self {
        Self::Cancelled { checkpoint }
    }

    pub(crate) fn final_part_unproven(
        checkpoint: Checkpoint,
        candidates: Vec<String>,
        cause: Option<Error>,
    ) -> Self {
        Self::FinalPartUnproven {
            checkpoint: Box::new(checkpoint),
            candidates,
            cause: cause.map(Box::new),
        }
    }

    pub(crate) fn download(error: DownloadError) -> Self {
        Self::Download(error)
    }

    pub(crate) fn download_failed(failure: DownloadFailure) -> Self {
        match failure {
            DownloadFailure::Incomplete { expected, received } => {
                Self::Download(DownloadError::Incomplete { expected, received })
            }
            DownloadFailure::TooManyRedirects { limit } => {
                Self::Download(DownloadError::TooManyRedirects(limit))
            }
            DownloadFailure::MissingLocation => Self::Download(DownloadError::MissingLocation),
            DownloadFailure::Refused(error) => Self::Url(error),
            DownloadFailure::Api(error) => Self::api(Operation::Download, *error),
            DownloadFailure::Transport { failure, attempts } => Self::Transport {
                operation: Operation::Download,
                attempts,
                failure,
            },
            other => Self::Internal(format!("unknown download failure: {other}")),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }

    /// Whether this is an upload whose last part had an ambiguous outcome.
    pub(crate) fn is_final_part_unconfirmed(&self) -> bool {
        matches!(
            self,
            Self::Upload {
                error: UploadError::FinalPartUnconfirmed { .. },
                ..
            }
        )
    }
}

fn upload_api_error(error: &UploadError) -> Option<&ApiError> {
    match error {
        UploadError::Api(error) => Some(error),
        UploadError::RetriesExhausted { last, .. } => upload_api_error(last),
        _ => None,
    }
}

fn upload_is_retryable(error: &UploadError) -> bool {
    match error {
        UploadError::Transport(failure) => failure.is_retryable(),
        UploadError::Api(error) => kommo_files_model::retry::is_retryable_status(error.status()),
        UploadError::RetriesExhausted { last, .. } => upload_is_retryable(last),
        UploadError::SessionLost { .. } | UploadError::SessionExpired { .. } => true,
        _ => false,
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
        (StatusCode::FORBIDDEN, Operation::DiscoverDrive) => {
            " (the token lacks access to the account's CRM data, which finding the drive \
             host needs, or the account is blocked for exceeding 7 requests per second)"
        }
        (StatusCode::FORBIDDEN, _) => {
            " (the token lacks the \"Access to files\" scope, or the account is blocked for \
             exceeding 7 requests per second)"
        }
        _ => "",
    }
}
