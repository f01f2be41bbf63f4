//! [`TransportError`]: the request produced no complete response.

use std::error::Error as StdError;
use std::fmt;

/// What went wrong, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No connection was made (refused, DNS, unreachable): nothing reached the server.
    Connect,
    /// No answer in time: the server may or may not have processed the request.
    Timeout,
    /// The connection broke while sending or receiving.
    Io,
    /// The server's certificate was refused (an unknown issuer, expired, another name): the
    /// connection was dropped before the request was sent, and retrying will not help. Trust
    /// the server's CA (see [`crate::TransportOptions::trust_ca_pem`]) if it is yours.
    Certificate,
    /// Any other TLS failure (handshake, protocol): retrying will not help.
    Tls,
    /// The response body could not be read completely.
    Body,
    /// The response body was larger than the caller's limit (see
    /// [`crate::BlockingBody::read_to_end`]): the server answered, but repeating the request
    /// would bring the same body again.
    TooLarge,
    /// Anything else: a malformed request, a transport bug, a backend limit.
    Other,
}

impl ErrorKind {
    /// Whether a new attempt can succeed where this one failed.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Connect | Self::Timeout | Self::Io | Self::Body)
    }

    /// Whether the server may have received (and acted on) the request.
    pub fn may_have_reached_server(self) -> bool {
        !matches!(self, Self::Connect | Self::Certificate | Self::Tls)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connection failed",
            Self::Timeout => "timed out",
            Self::Io => "connection broken",
            Self::Certificate => "untrusted server certificate",
            Self::Tls => "TLS failure",
            Self::Body => "incomplete response body",
            Self::TooLarge => "response body too large",
            Self::Other => "transport failure",
        })
    }
}

/// A request that produced no complete response.
///
/// The message never holds a header value, so no token can leak through it.
///
/// ```
/// use kommo_files_transport::{ErrorKind, TransportError};
///
/// let error = TransportError::new(ErrorKind::Timeout, "no answer in 30 s");
/// assert!(error.is_retry_safe(true));   // a GET may be repeated
/// assert!(!error.is_retry_safe(false)); // a POST that may have been processed may not
/// ```
#[derive(Debug)]
pub struct TransportError {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl TransportError {
    /// An error of `kind` described by `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, keeping `source` as its cause.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human description.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether sending the same request again is safe and may help: always for a transient
    /// failure of an idempotent request, and for any request that never reached the server.
    pub fn is_retry_safe(&self, idempotent: bool) -> bool {
        self.kind.is_transient() && (idempotent || !self.kind.may_have_reached_server())
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

impl From<std::io::Error> for TransportError {
    fn from(error: std::io::Error) -> Self {
        use std::io::ErrorKind as Io;
        let kind = match error.kind() {
            Io::ConnectionRefused | Io::NotFound | Io::AddrNotAvailable => ErrorKind::Connect,
            Io::TimedOut | Io::WouldBlock => ErrorKind::Timeout,
            Io::UnexpectedEof => ErrorKind::Body,
            _ => ErrorKind::Io,
        };
        Self::new(kind, error.to_string()).with_source(error)
    }
}

/// Whether `error` (or one of its causes) is a TLS failure, and which: a refused certificate or
/// anything else. Looks inside `io::Error`s (whose `source` skips the error they wrap), matches
/// rustls' errors by type and other stacks' (native-tls) by their text.
#[cfg(any(feature = "ureq", feature = "reqwest"))]
pub(crate) fn tls_failure(error: &(dyn StdError + 'static)) -> Option<ErrorKind> {
    let mut cause = Some(error);
    let mut by_text = None;
    while let Some(current) = cause {
        #[cfg(feature = "rustls")]
        if let Some(error) = current.downcast_ref::<rustls::Error>() {
            return Some(match error {
                rustls::Error::InvalidCertificate(_)
                | rustls::Error::NoCertificatesPresented
                | rustls::Error::UnsupportedNameType => ErrorKind::Certificate,
                _ => ErrorKind::Tls,
            });
        }
        if let Some(inner) = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if let Some(kind) = tls_failure(inner) {
                return Some(kind);
            }
        }
        let text = current.to_string().to_ascii_lowercase();
        if text.contains("certificate") {
            by_text = Some(ErrorKind::Certificate);
        } else if by_text.is_none()
            && (text.contains("tls") || text.contains("ssl") || text.contains("handshake"))
        {
            by_text = Some(ErrorKind::Tls);
        }
        cause = current.source();
    }
    by_text
}
