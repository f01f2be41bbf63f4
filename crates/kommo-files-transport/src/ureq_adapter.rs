//! [`UreqTransport`]: the blocking adapter over ureq 3.

use std::fmt;

use crate::redact::Scrubbed;
use crate::{BlockingBody, BlockingTransport, ErrorKind, Request, Timeouts, TransportError};

/// A [`BlockingTransport`] over one reused ureq `Agent` (its connection pool gives keep-alive).
///
/// The agent returns every status as a response and follows no redirect.
///
/// ```
/// use kommo_files_transport::{Timeouts, UreqTransport};
///
/// let transport = UreqTransport::new(Timeouts::default());
/// let clone = transport.clone(); // shares the agent and its connections
/// # drop(clone);
/// ```
#[derive(Clone)]
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl UreqTransport {
    /// A transport with its own agent and these timeouts.
    pub fn new(timeouts: Timeouts) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(timeouts.connect))
            // Idle bounds, restarted by every read and write. ureq's phase and total timeouts
            // (`timeout_send_body`, `timeout_recv_body`, `timeout_global`, ...) would bound a
            // whole transfer instead, so none is set (all default to `None`).
            .timeout_per_read(Some(timeouts.read))
            .timeout_per_write(Some(timeouts.write))
            .build()
            .into();
        Self { agent }
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new(Timeouts::default())
    }
}

impl From<ureq::Agent> for UreqTransport {
    /// Uses `agent` as configured: it must return statuses as responses
    /// (`http_status_as_error(false)`) and follow no redirects (`max_redirects(0)`).
    fn from(agent: ureq::Agent) -> Self {
        Self { agent }
    }
}

impl fmt::Debug for UreqTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UreqTransport")
    }
}

impl BlockingTransport for UreqTransport {
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        let uri = request.uri().clone();
        let (parts, body) = request.into_parts();
        let response = self
            .agent
            .run(http::Request::from_parts(parts, body.as_ref()))
            .map_err(|error| transport_error(error, &uri))?;
        let (parts, body) = response.into_parts();
        // No size limit here: the caller sets one with `BlockingBody::read_to_end`.
        let reader = body.into_with_config().limit(u64::MAX).reader();
        Ok(http::Response::from_parts(
            parts,
            BlockingBody::from_reader(BodyReader { reader, uri }),
        ))
    }
}

/// ureq's body reader, with its own errors (a timeout among them), which it hides in
/// `io::ErrorKind::Other`, given back the kind [`BlockingBody`] classifies by, and their text
/// scrubbed of the URL's secrets.
struct BodyReader {
    reader: ureq::BodyReader<'static>,
    uri: http::Uri,
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf).map_err(|error| {
            let error = ureq::Error::from(error);
            let kind = match &error {
                ureq::Error::Io(error) => error.kind(),
                ureq::Error::Timeout(_) => std::io::ErrorKind::TimedOut,
                _ => std::io::ErrorKind::Other,
            };
            std::io::Error::new(kind, Scrubbed::new(&error, &self.uri))
        })
    }
}

/// A ureq error as a [`TransportError`], without `uri`'s secrets in its text or source.
fn transport_error(error: ureq::Error, uri: &http::Uri) -> TransportError {
    let kind = match &error {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => ErrorKind::Connect,
        ureq::Error::Timeout(_) => ErrorKind::Timeout,
        ureq::Error::Io(io) => TransportError::from(std::io::Error::from(io.kind())).kind(),
        ureq::Error::Protocol(_) => ErrorKind::Io,
        ureq::Error::Tls(_) | ureq::Error::TlsRequired => ErrorKind::Tls,
        #[cfg(feature = "ureq-rustls")]
        ureq::Error::Rustls(_) => ErrorKind::Tls,
        _ => ErrorKind::Other,
    };
    let source = Scrubbed::new(&error, uri);
    TransportError::new(kind, source.to_string()).with_source(source)
}
