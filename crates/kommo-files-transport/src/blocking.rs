//! [`BlockingTransport`]: one request in, one response out, on the calling thread.

use std::fmt;
use std::sync::Arc;

use crate::{BlockingBody, Request, Response, TransportError};

/// Sends requests on the calling thread.
///
/// Return every HTTP status as a response (a 404 is an answer, not a failure) and follow no
/// redirect: the SDK decides where a redirect may take the token.
///
/// ```
/// use kommo_files_transport::{BlockingTransport, OperationContext, Request, Response, TransportError};
///
/// /// A wrapper that logs what it sends, around any other transport.
/// struct Logged<T>(T);
///
/// impl<T: BlockingTransport> BlockingTransport for Logged<T> {
///     fn send(&self, request: Request) -> Result<Response, TransportError> {
///         let operation = OperationContext::of(&request).map(|c| c.operation.name());
///         let response = self.0.send(request)?;
///         eprintln!("{operation:?} -> {}", response.status());
///         Ok(response)
///     }
/// }
/// ```
pub trait BlockingTransport: Send + Sync {
    /// Sends `request` and reads the whole response.
    fn send(&self, request: Request) -> Result<Response, TransportError>;

    /// Sends `request` and returns the response with its body still to be read. Override it to
    /// stream downloads; the default reads the body whole with [`BlockingTransport::send`].
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        Ok(self.send(request)?.map(BlockingBody::from_bytes))
    }
}

/// The object-safe handle the blocking client keeps: any transport, shared by clones.
pub type SharedBlockingTransport = Arc<dyn BlockingTransport>;

impl<T: BlockingTransport + ?Sized> BlockingTransport for Arc<T> {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        (**self).send(request)
    }

    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        (**self).send_streaming(request)
    }
}

impl<T: BlockingTransport + ?Sized> BlockingTransport for Box<T> {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        (**self).send(request)
    }

    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        (**self).send_streaming(request)
    }
}

/// A blocking transport made of a closure; see [`fn_transport`].
#[derive(Clone)]
pub struct FnTransport<F>(F);

/// A blocking transport that calls `send` for every request.
///
/// ```
/// use bytes::Bytes;
/// use kommo_files_transport::{fn_transport, BlockingTransport};
///
/// let always_404 = fn_transport(|_request| {
///     let mut response = http::Response::new(Bytes::new());
///     *response.status_mut() = http::StatusCode::NOT_FOUND;
///     Ok(response)
/// });
/// let request = http::Request::new(Bytes::new());
/// assert_eq!(always_404.send(request)?.status(), 404);
/// # Ok::<(), kommo_files_transport::TransportError>(())
/// ```
pub fn fn_transport<F>(send: F) -> FnTransport<F>
where
    F: Fn(Request) -> Result<Response, TransportError> + Send + Sync,
{
    FnTransport(send)
}

impl<F> BlockingTransport for FnTransport<F>
where
    F: Fn(Request) -> Result<Response, TransportError> + Send + Sync,
{
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        (self.0)(request)
    }
}

impl<F> fmt::Debug for FnTransport<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnTransport")
    }
}
