//! [`ReqwestTransport`]: the async adapter over reqwest 0.13 (tokio).

use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::redact::Scrubbed;
use crate::{
    AsyncBody, AsyncBodySource, AsyncTransport, BoxFuture, ErrorKind, Request, Timeouts,
    TransportError, TransportOptions,
};

/// How much of a request body is handed to reqwest at a time: each piece taken is progress.
const PIECE: usize = 64 * 1024;

/// An [`AsyncTransport`] over one reused reqwest `Client` (its pool gives keep-alive); sleeps
/// with tokio's timer.
///
/// The client follows no redirect. With a TLS feature (`rustls` or `native-tls`) it speaks
/// https.
///
/// ```
/// use kommo_files_transport::{ReqwestTransport, Timeouts};
///
/// let transport = ReqwestTransport::new(Timeouts::default())?;
/// # Ok::<(), kommo_files_transport::TransportError>(())
/// ```
#[derive(Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    /// Idle bounds enforced here; `None` for a client passed in, which keeps its own.
    idle: Option<Idle>,
}

/// The silences [`Timeouts`] allows, enforced by the adapter itself: reqwest's own
/// `read_timeout` runs from the start of a request until its head arrives, so it would also
/// bound the upload of a large body on a slow link.
#[derive(Debug, Clone, Copy)]
struct Idle {
    read: Duration,
    write: Duration,
}

impl ReqwestTransport {
    /// A transport with its own client and these timeouts (and the build's roots).
    pub fn new(timeouts: Timeouts) -> Result<Self, TransportError> {
        Self::with_options(&TransportOptions::from(timeouts))
    }

    /// A transport with its own client and these options; fails when the CA to trust cannot
    /// be used (no certificate in its PEM, or no TLS feature).
    ///
    /// ```
    /// use kommo_files_transport::{ErrorKind, ReqwestTransport, TransportOptions};
    ///
    /// let options = TransportOptions::new().trust_ca_pem("not a certificate");
    /// let error = ReqwestTransport::with_options(&options).unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::Other);
    /// ```
    pub fn with_options(options: &TransportOptions) -> Result<Self, TransportError> {
        let timeouts = options.timeouts;
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeouts.connect);
        let client = tls(builder, options.ca_pem())?
            .build()
            .map_err(|error| transport_error(error, &http::Uri::default()))?;
        Ok(Self {
            client,
            idle: Some(Idle {
                read: timeouts.read,
                write: timeouts.write,
            }),
        })
    }
}

/// The error of a CA PEM that cannot be used.
fn unusable_ca(why: impl fmt::Display) -> TransportError {
    TransportError::new(
        ErrorKind::Other,
        format!("the CA certificates (PEM) cannot be used: {why}"),
    )
}

/// native-tls (which wins over rustls when both features are on): the platform's roots, or
/// only the certificates of `ca_pem`.
#[cfg(feature = "native-tls")]
fn tls(
    builder: reqwest::ClientBuilder,
    ca_pem: Option<&[u8]>,
) -> Result<reqwest::ClientBuilder, TransportError> {
    let builder = builder.tls_backend_native();
    let Some(pem) = ca_pem else {
        return Ok(builder);
    };
    let certificates = reqwest::Certificate::from_pem_bundle(pem).map_err(unusable_ca)?;
    if certificates.is_empty() {
        return Err(unusable_ca("no certificate in it"));
    }
    Ok(builder.tls_certs_only(certificates))
}

/// rustls on ring, configured here (reqwest's own rustls setup would pick aws-lc-rs): the
/// certificates of `ca_pem`, else the platform's verifier (`platform-roots`) or Mozilla's roots.
#[cfg(all(feature = "rustls", not(feature = "native-tls")))]
fn tls(
    builder: reqwest::ClientBuilder,
    ca_pem: Option<&[u8]>,
) -> Result<reqwest::ClientBuilder, TransportError> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::CertificateDer;
    use rustls::RootCertStore;

    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| TransportError::new(ErrorKind::Tls, error.to_string()))?;
    let config = match ca_pem {
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for certificate in CertificateDer::pem_slice_iter(pem) {
                let certificate = certificate.map_err(unusable_ca)?;
                roots.add(certificate).map_err(unusable_ca)?;
            }
            if roots.is_empty() {
                return Err(unusable_ca("no certificate in it"));
            }
            config.with_root_certificates(roots)
        }
        #[cfg(feature = "platform-roots")]
        None => {
            let verifier = rustls_platform_verifier::Verifier::new(provider)
                .map_err(|error| TransportError::new(ErrorKind::Tls, error.to_string()))?;
            config
                .dangerous()
                .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
        }
        #[cfg(not(feature = "platform-roots"))]
        None => config.with_root_certificates(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
    };
    let mut config = config.with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(builder.tls_backend_preconfigured(config))
}

/// No TLS feature: plain HTTP only.
#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
fn tls(
    builder: reqwest::ClientBuilder,
    ca_pem: Option<&[u8]>,
) -> Result<reqwest::ClientBuilder, TransportError> {
    match ca_pem {
        None => Ok(builder),
        Some(_) => Err(unusable_ca(
            "trusting a CA needs a TLS feature of kommo-files-transport (rustls or native-tls)",
        )),
    }
}

impl From<reqwest::Client> for ReqwestTransport {
    /// Uses `client` as configured, its timeouts included; it should follow no redirects
    /// (`redirect(Policy::none())`), or the SDK cannot guard where the token goes.
    fn from(client: reqwest::Client) -> Self {
        Self { client, idle: None }
    }
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReqwestTransport")
    }
}

impl AsyncTransport for ReqwestTransport {
    async fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<AsyncBody>, TransportError> {
        let uri = request.uri().clone();
        let progress = Progress::new(request.body().is_empty());
        let request = request.map(|bytes| {
            if bytes.is_empty() || self.idle.is_none() {
                reqwest::Body::from(bytes)
            } else {
                reqwest::Body::wrap(Pieces {
                    rest: bytes,
                    progress: progress.clone(),
                })
            }
        });
        let request =
            reqwest::Request::try_from(request).map_err(|error| transport_error(error, &uri))?;
        let execute = self.client.execute(request);
        let mut response = match self.idle {
            None => execute.await,
            Some(idle) => watch(execute, &progress, idle).await?,
        }
        .map_err(|error| transport_error(error, &uri))?;
        let mut head = http::Response::new(());
        *head.status_mut() = response.status();
        *head.version_mut() = response.version();
        *head.headers_mut() = std::mem::take(response.headers_mut());
        let (parts, ()) = head.into_parts();
        let chunks = Chunks {
            response,
            read: self.idle.map(|idle| idle.read),
            uri,
        };
        Ok(http::Response::from_parts(
            parts,
            AsyncBody::from_source(chunks),
        ))
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

/// Runs `execute` until the head arrives, or until the connection has been silent too long:
/// `idle.write` while the body is being taken, `idle.read` once it all was.
async fn watch<F: Future>(
    execute: F,
    progress: &Progress,
    idle: Idle,
) -> Result<F::Output, TransportError> {
    // The body moves (and may finish) between checks, so look again at least this often.
    let tick =
        (idle.read.min(idle.write) / 8).clamp(Duration::from_millis(1), Duration::from_secs(1));
    let mut execute = std::pin::pin!(execute);
    loop {
        let (last, sent) = progress.get();
        let bound = if sent { idle.read } else { idle.write };
        // A bound too large to add is no bound.
        let deadline = last.checked_add(bound);
        let now = Instant::now();
        let next = now.checked_add(tick).unwrap_or(now);
        let check = deadline.map_or(next, |deadline| deadline.min(next));
        if let Ok(output) = tokio::time::timeout_at(check, &mut execute).await {
            return Ok(output);
        }
        let expired = deadline.is_some_and(|deadline| Instant::now() >= deadline);
        if expired && progress.get() == (last, sent) {
            let what = if sent {
                "no response"
            } else {
                "the request body stalled"
            };
            return Err(TransportError::new(
                ErrorKind::Timeout,
                format!("{what} for {} ms", bound.as_millis()),
            ));
        }
    }
}

/// When the request body last moved, and whether it was all taken.
#[derive(Clone)]
struct Progress(Arc<Mutex<(Instant, bool)>>);

impl Progress {
    fn new(sent: bool) -> Self {
        Self(Arc::new(Mutex::new((Instant::now(), sent))))
    }

    fn get(&self) -> (Instant, bool) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn moved(&self, done: bool) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (Instant::now(), done);
    }
}

/// A request body handed out piece by piece, noting each piece as progress; its exact size
/// keeps the `Content-Length` header.
struct Pieces {
    rest: Bytes,
    progress: Progress,
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        let take = self.rest.len().min(PIECE);
        let piece = self.rest.split_to(take);
        self.progress.moved(self.rest.is_empty());
        Poll::Ready(Some(Ok(http_body::Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.rest.len() as u64)
    }
}

/// A response body read chunk by chunk, each read bounded by the read timeout.
struct Chunks {
    response: reqwest::Response,
    read: Option<Duration>,
    uri: http::Uri,
}

impl AsyncBodySource for Chunks {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, TransportError>> {
        Box::pin(async move {
            let chunk = match self.read {
                None => self.response.chunk().await,
                Some(read) => match tokio::time::timeout(read, self.response.chunk()).await {
                    Ok(chunk) => chunk,
                    Err(_) => {
                        return Err(TransportError::new(
                            ErrorKind::Timeout,
                            format!(
                                "reading the response body: no data for {} ms",
                                read.as_millis()
                            ),
                        ))
                    }
                },
            };
            chunk.map_err(|error| transport_error(error, &self.uri))
        })
    }
}

/// A reqwest error as a [`TransportError`], without `uri`'s secrets in its text or source.
fn transport_error(error: reqwest::Error, uri: &http::Uri) -> TransportError {
    // Upload URLs carry a signed session token: keep them out of messages and logs.
    let error = error.without_url();
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_connect() {
        crate::error::tls_failure(&error).unwrap_or(ErrorKind::Connect)
    } else if error.is_body() || error.is_decode() {
        ErrorKind::Body
    } else if error.is_request() {
        ErrorKind::Io
    } else {
        ErrorKind::Other
    };
    let source = Scrubbed::new(&error, uri);
    // reqwest's Display stops at the outermost layer; the cause says what really happened.
    let mut message = source.to_string();
    let mut cause = source.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    TransportError::new(kind, message).with_source(source)
}
