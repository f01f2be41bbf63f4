//! [`UreqTransport`]: the blocking adapter over ureq 3.

use std::fmt;

use crate::redact::Scrubbed;
use crate::{
    BlockingBody, BlockingTransport, ErrorKind, Request, Timeouts, TransportError, TransportOptions,
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
    /// A transport with its own agent and these timeouts (and the build's roots).
    pub fn new(timeouts: Timeouts) -> Self {
        Self::agent(&TransportOptions::from(timeouts), None)
    }

    /// A transport with its own agent and these options; fails when the CA to trust cannot be
    /// used (no certificate in its PEM, or no TLS feature).
    ///
    /// ```
    /// use kommo_files_transport::{ErrorKind, TransportOptions, UreqTransport};
    ///
    /// let options = TransportOptions::new().trust_ca_pem("not a certificate");
    /// let error = UreqTransport::with_options(&options).unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::Other);
    /// ```
    pub fn with_options(options: &TransportOptions) -> Result<Self, TransportError> {
        let roots = options.ca_pem().map(ca_certificates).transpose()?;
        Ok(Self::agent(options, roots))
    }

    fn agent(options: &TransportOptions, roots: Option<Roots>) -> Self {
        let timeouts = options.timeouts;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(timeouts.connect))
            // Idle bounds, restarted by every read and write. ureq's phase and total timeouts
            // (`timeout_send_body`, `timeout_recv_body`, `timeout_global`, ...) would bound a
            // whole transfer instead, so none is set (all default to `None`).
            .timeout_per_read(Some(timeouts.read))
            .timeout_per_write(Some(timeouts.write));
        #[cfg(any(feature = "rustls", feature = "native-tls"))]
        let config = config.tls_config(tls_config(roots));
        #[cfg(not(any(feature = "rustls", feature = "native-tls")))]
        let _ = roots;
        Self {
            agent: config.build().into(),
        }
    }
}

/// The CA certificates to trust, parsed.
#[cfg(any(feature = "rustls", feature = "native-tls"))]
type Roots = Vec<ureq::tls::Certificate<'static>>;
#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
type Roots = ();

/// The certificates of `pem`, or why they cannot be used.
#[cfg(any(feature = "rustls", feature = "native-tls"))]
fn ca_certificates(pem: &[u8]) -> Result<Roots, TransportError> {
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(certificate)) => certificates.push(certificate),
            Ok(_) => {}
            Err(error) => {
                return Err(TransportError::new(
                    ErrorKind::Other,
                    format!("the CA certificates (PEM) cannot be read: {error}"),
                ))
            }
        }
    }
    if certificates.is_empty() {
        return Err(TransportError::new(
            ErrorKind::Other,
            "the CA certificates (PEM) hold no certificate",
        ));
    }
    Ok(certificates)
}

#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
fn ca_certificates(_pem: &[u8]) -> Result<Roots, TransportError> {
    Err(TransportError::new(
        ErrorKind::Other,
        "trusting a CA needs a TLS feature of kommo-files-transport (rustls or native-tls)",
    ))
}

/// The TLS stack the features chose (native-tls over rustls), with `roots` or its default
/// roots: the platform's for native-tls and with `platform-roots`, else Mozilla's.
#[cfg(any(feature = "rustls", feature = "native-tls"))]
fn tls_config(roots: Option<Roots>) -> ureq::tls::TlsConfig {
    use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
    let provider = if cfg!(feature = "native-tls") {
        TlsProvider::NativeTls
    } else {
        TlsProvider::Rustls
    };
    let default_roots = if cfg!(any(feature = "native-tls", feature = "platform-roots")) {
        RootCerts::PlatformVerifier
    } else {
        RootCerts::WebPki
    };
    let roots = roots.map_or(default_roots, |roots| {
        RootCerts::Specific(std::sync::Arc::new(roots))
    });
    TlsConfig::builder()
        .provider(provider)
        .root_certs(roots)
        .build()
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
        // rustls reports a refused certificate as an `InvalidData` I/O error around its own.
        ureq::Error::Io(io) => crate::error::tls_failure(io)
            .unwrap_or_else(|| TransportError::from(std::io::Error::from(io.kind())).kind()),
        ureq::Error::Protocol(_) => ErrorKind::Io,
        ureq::Error::Tls(_) | ureq::Error::TlsRequired => ErrorKind::Tls,
        #[cfg(feature = "rustls")]
        ureq::Error::Rustls(error) => crate::error::tls_failure(error).unwrap_or(ErrorKind::Tls),
        #[cfg(feature = "native-tls")]
        ureq::Error::NativeTls(error) => crate::error::tls_failure(error).unwrap_or(ErrorKind::Tls),
        _ => ErrorKind::Other,
    };
    let source = Scrubbed::new(&error, uri);
    TransportError::new(kind, source.to_string()).with_source(source)
}
