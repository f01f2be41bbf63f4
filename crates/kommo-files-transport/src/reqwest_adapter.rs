//! [`ReqwestTransport`]: the async adapter over reqwest 0.13 (tokio).

use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::{
    AsyncBody, AsyncBodySource, AsyncTransport, BoxFuture, ErrorKind, Request, Response, Timeouts,
    TransportError,
};

/// An [`AsyncTransport`] over one reused reqwest `Client` (its pool gives keep-alive); sleeps
/// with tokio's timer.
///
/// The client follows no redirect. With the `reqwest-rustls` feature it speaks https.
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
}

impl ReqwestTransport {
    /// A transport with its own client and these timeouts.
    pub fn new(timeouts: Timeouts) -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.read)
            .build()
            .map_err(transport_error)?;
        Ok(Self { client })
    }
}

impl From<reqwest::Client> for ReqwestTransport {
    /// Uses `client` as configured; it should follow no redirects
    /// (`redirect(Policy::none())`), or the SDK cannot guard where the token goes.
    fn from(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReqwestTransport")
    }
}

impl ReqwestTransport {
    async fn run(&self, request: Request) -> Result<reqwest::Response, TransportError> {
        let request = reqwest::Request::try_from(request).map_err(transport_error)?;
        self.client.execute(request).await.map_err(transport_error)
    }
}

impl AsyncTransport for ReqwestTransport {
    async fn send(&self, request: Request) -> Result<Response, TransportError> {
        let response = http::Response::from(self.run(request).await?);
        let (parts, body) = response.into_parts();
        let bytes = http_body_bytes(body).await?;
        Ok(http::Response::from_parts(parts, bytes))
    }

    async fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<AsyncBody>, TransportError> {
        let mut response = self.run(request).await?;
        let mut head = http::Response::new(());
        *head.status_mut() = response.status();
        *head.version_mut() = response.version();
        *head.headers_mut() = std::mem::take(response.headers_mut());
        let (parts, ()) = head.into_parts();
        Ok(http::Response::from_parts(
            parts,
            AsyncBody::from_source(Chunks(response)),
        ))
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

/// Reads a whole reqwest body.
async fn http_body_bytes(body: reqwest::Body) -> Result<bytes::Bytes, TransportError> {
    let mut response = reqwest::Response::from(http::Response::new(body));
    let mut bytes = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

struct Chunks(reqwest::Response);

impl AsyncBodySource for Chunks {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<bytes::Bytes>, TransportError>> {
        Box::pin(async move { self.0.chunk().await.map_err(transport_error) })
    }
}

fn transport_error(error: reqwest::Error) -> TransportError {
    // Upload URLs carry a signed session token: keep them out of messages and logs.
    let error = error.without_url();
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_connect() {
        if looks_like_tls(&error) {
            ErrorKind::Tls
        } else {
            ErrorKind::Connect
        }
    } else if error.is_body() || error.is_decode() {
        ErrorKind::Body
    } else if error.is_request() {
        ErrorKind::Io
    } else {
        ErrorKind::Other
    };
    // reqwest's Display stops at the outermost layer; the cause says what really happened.
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    TransportError::new(kind, message).with_source(error)
}

/// Whether a connect error came from the TLS layer (reqwest has no `is_tls`).
fn looks_like_tls(error: &reqwest::Error) -> bool {
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return true;
        }
        cause = inner.source();
    }
    false
}
