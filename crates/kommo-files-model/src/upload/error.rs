use std::time::Duration;

use super::{CheckpointError, SourceChange};
use crate::{ApiError, UrlError};

/// How a request failed to produce a response: what a transport reports to the machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
#[non_exhaustive]
pub struct SendFailure {
    /// What kind of failure.
    pub kind: SendFailureKind,
    /// Human description (never contains the token).
    pub message: String,
}

impl SendFailure {
    /// A failure of `kind`.
    pub fn new(kind: SendFailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Whether the request may have reached the server (and been acted on) although no answer
    /// came back: anything but a failed connection, a refused certificate or a failed TLS
    /// handshake.
    pub fn may_have_reached_server(&self) -> bool {
        !matches!(
            self.kind,
            SendFailureKind::Connect | SendFailureKind::Certificate | SendFailureKind::Tls
        )
    }

    /// Whether trying again can help. Connection, timeout and I/O failures can; certificate,
    /// TLS and configuration failures cannot.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            SendFailureKind::Connect
                | SendFailureKind::Timeout
                | SendFailureKind::Io
                | SendFailureKind::Body
        )
    }
}

/// Kinds of [`SendFailure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendFailureKind {
    /// The connection could not be made: nothing was sent.
    Connect,
    /// No answer in time: the request may or may not have been processed.
    Timeout,
    /// The connection broke (reset, closed) while sending or receiving.
    Io,
    /// The response body could not be read completely.
    Body,
    /// The server's certificate was refused (an unknown issuer, expired, another name):
    /// nothing was sent. Trying again cannot help; trusting the server's CA may.
    Certificate,
    /// Any other TLS failure (handshake, protocol).
    Tls,
    /// Anything else (a bad URL, a transport bug).
    Other,
}

/// The server broke the upload protocol; continuing could store a corrupt file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// The final file came back before all bytes were sent.
    #[error("the server returned the final file after {sent} of {size} bytes")]
    EarlyFinal {
        /// Bytes sent so far, this part included.
        sent: u64,
        /// File size.
        size: u64,
    },
    /// The final file's size is not the size we uploaded.
    #[error("the server stored {stored} bytes, the source has {size}")]
    SizeMismatch {
        /// Size the server reported.
        stored: u64,
        /// Local size.
        size: u64,
    },
    /// The server asked for more bytes after the last one was sent.
    #[error("the server expects more bytes than the {size} of the file")]
    MoreExpected {
        /// File size.
        size: u64,
    },
    /// A part answer that is neither `next_url` nor a file.
    #[error("unreadable part answer: {0}")]
    BadAnswer(Box<ApiError>),
}

/// Why an upload stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The file is larger than the server accepts.
    #[error("the file has {size} bytes, the server accepts at most {max}")]
    FileTooLarge {
        /// Local size.
        size: u64,
        /// `max_file_size`.
        max: u64,
    },
    /// The `max_part_size` of a session (or a checkpoint) is 0, absurdly large, or so small
    /// that the upload would take a request per few bytes.
    #[error(
        "a max_part_size of {max_part_size} bytes is not usable (accepted: {min}..={limit}, or \
         less when the whole file fits in one part)"
    )]
    UnusablePartSize {
        /// What the server (or the checkpoint) said.
        max_part_size: u64,
        /// The smallest part accepted for a file larger than it
        /// ([`UploadConfig::min_part_size`](super::UploadConfig::min_part_size)).
        min: u64,
        /// The largest part this client buffers.
        limit: u64,
    },
    /// An `upload_url` or `next_url` is not on the drive host.
    #[error("refusing upload URL: {0}")]
    ForeignUrl(UrlError),
    /// The server broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(ProtocolViolation),
    /// An error answer that retrying cannot fix (400, 401, 403, …).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The transport failed in a way retrying cannot fix.
    #[error("transport failure: {0}")]
    Transport(SendFailure),
    /// Retries ran out; `last` is the final failure.
    #[error("gave up after {attempts} attempts over {elapsed:?}: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// Time since the first failure.
        elapsed: Duration,
        /// The last failure.
        last: Box<UploadError>,
    },
    /// The session disappeared (404) and the policy forbids (more) restarts.
    #[error("the upload session is gone (HTTP 404) after {restarts} restart(s)")]
    SessionLost {
        /// Restarts already made.
        restarts: u32,
    },
    /// Ambiguous outcome of the last part (its answer was lost or unreadable): the server may
    /// well have stored the file (a lost answer then a 404 on re-sending, or a success status
    /// whose body cannot be read). Not restarted, so as not to store it twice; look for the
    /// file before uploading again (see [`recovery`](super::recovery) and
    /// [`UploadMachine::source_sha256`](super::UploadMachine::source_sha256)).
    #[error(
        "the answer to the last part of session {session_id} was lost or unreadable: the file \
         may have been stored; check before uploading again"
    )]
    FinalPartUnconfirmed {
        /// The session that received the last part.
        session_id: i64,
    },
    /// The session of a checkpoint has expired (sessions live 24 h).
    #[error("the upload session expired at Unix time {expired_at}")]
    SessionExpired {
        /// Expiry, Unix seconds.
        expired_at: u64,
    },
    /// The source is not the one the checkpoint was taken of.
    #[error("the source changed: {0}")]
    SourceChanged(SourceChange),
    /// The checkpoint does not fit this upload.
    #[error("the checkpoint does not fit: {0}")]
    Checkpoint(CheckpointError),
}

impl UploadError {
    /// The HTTP status behind this error, if it came from a response.
    pub fn status(&self) -> Option<http::StatusCode> {
        match self {
            Self::Api(error) => Some(error.status()),
            Self::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }
}
