//! [`UreqTransport`]: the blocking adapter over ureq 3.

use std::fmt;

use bytes::Bytes;

use crate::{
    BlockingBody, BlockingTransport, ErrorKind, Request, Response, Timeouts, TransportError,
};

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
            // Idle bounds, restarted by every read and write: ureq's phase timeouts
            // (`timeout_recv_body`, ...) would bound a whole transfer instead.
            .timeout_per_read(Some(timeouts.read))
            .timeout_per_write(Some(timeouts.read))
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

impl UreqTransport {
    fn run(&self, request: Request) -> Result<http::Response<ureq::Body>, TransportError> {
        let (parts, body) = request.into_parts();
        self.agent
            .run(http::Request::from_parts(parts, body.as_ref()))
            .map_err(transport_error)
    }
}

impl BlockingTransport for UreqTransport {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let (parts, mut body) = self.run(request)?.into_parts();
        let bytes = body
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(transport_error)?;
        Ok(http::Response::from_parts(parts, Bytes::from(bytes)))
    }

    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        let (parts, body) = self.run(request)?.into_parts();
        let reader = body.into_with_config().limit(u64::MAX).reader();
        Ok(http::Response::from_parts(
            parts,
            BlockingBody::from_reader(BodyReader(reader)),
        ))
    }
}

/// ureq's body reader, with its own errors (a timeout among them), which it hides in
/// `io::ErrorKind::Other`, given back the kind [`BlockingBody`] classifies by.
struct BodyReader(ureq::BodyReader<'static>);

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|error| match ureq::Error::from(error) {
                ureq::Error::Io(error) => error,
                error @ ureq::Error::Timeout(_) => {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, error)
                }
                error => std::io::Error::other(error),
            })
    }
}

fn transport_error(error: ureq::Error) -> TransportError {
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
    TransportError::new(kind, error.to_string()).with_source(error)
}
