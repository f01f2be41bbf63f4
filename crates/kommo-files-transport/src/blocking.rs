//! [`BlockingTransport`]: one request in, one response out, on the calling thread.

use std::fmt;
use std::sync::Arc;

use crate::{BlockingBody, Request, Response, TransportError, DEFAULT_BODY_LIMIT};

/// Sends requests on the calling thread.
///
/// [`send_streaming`](Self::send_streaming) is the one method to implement: it returns the
/// response as soon as its head is in, with the body still to be read, so that a download never
/// has to sit in memory whole. [`send`](Self::send) is built on it and reads the body with
/// [`DEFAULT_BODY_LIMIT`]; override it only when you have the body in memory anyway.
///
/// Return every HTTP status as a response (a 404 is an answer, not a failure) and follow no
/// redirect: the SDK decides where a redirect may take the token.
///
/// ```
/// use kommo_files_transport::{
///     redacted, BlockingBody, BlockingTransport, OperationContext, Request, TransportError,
/// };
///
/// /// A wrapper that logs what it sends, around any other transport.
/// struct Logged<T>(T);
///
/// impl<T: BlockingTransport> BlockingTransport for Logged<T> {
///     fn send_streaming(
///         &self,
///         request: Request,
///     ) -> Result<http::Response<BlockingBody>, TransportError> {
///         let operation = OperationContext::of(&request).map(|c| c.operation.name());
///         let line = redacted(&request); // "POST https://drive-c.kommo.com/upload/…"
///         let response = self.0.send_streaming(request)?;
///         eprintln!("{operation:?} {line} -> {}", response.status());
///         Ok(response)
///     }
/// }
/// ```
pub trait BlockingTransport: Send + Sync {
    /// Sends `request` and returns the response with its body still to be read.
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError>;

    /// Sends `request` and reads the whole response, failing with
    /// [`ErrorKind::TooLarge`](crate::ErrorKind::TooLarge) past [`DEFAULT_BODY_LIMIT`] bytes.
    ///
    /// ```
    /// use kommo_files_transport::{fn_streaming_transport, BlockingBody, BlockingTransport};
    ///
    /// let transport = fn_streaming_transport(|_request| {
    ///     Ok(http::Response::new(BlockingBody::from_bytes("buffered".into())))
    /// });
    /// let response = transport.send(http::Request::new(bytes::Bytes::new()))?;
    /// assert_eq!(response.body(), "buffered");
    /// # Ok::<(), kommo_files_transport::TransportError>(())
    /// ```
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        let (parts, body) = self.send_streaming(request)?.into_parts();
        let bytes = body.read_to_end(DEFAULT_BODY_LIMIT)?;
        Ok(http::Response::from_parts(parts, bytes))
    }
}

impl<T: BlockingTransport + ?Sized> BlockingTransport for Arc<T> {
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        (**self).send_streaming(request)
    }

    fn send(&self, request: Request) -> Result<Response, TransportError> {
        (**self).send(request)
    }
}

impl<T: BlockingTransport + ?Sized> BlockingTransport for Box<T> {
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        (**self).send_streaming(request)
    }

    fn send(&self, request: Request) -> Result<Response, TransportError> {
        (**self).send(request)
    }
}

/// The object-safe handle the blocking client keeps: any transport, shared by clones.
///
/// ```
/// use kommo_files_transport::{fn_transport, BlockingTransport, SharedBlockingTransport};
///
/// let transport = SharedBlockingTransport::new(fn_transport(|_request| {
///     Ok(http::Response::new(bytes::Bytes::from_static(b"{}")))
/// }));
/// let clone = transport.clone(); // the same transport, the same connections
/// assert_eq!(clone.send(http::Request::new(bytes::Bytes::new()))?.body(), "{}");
/// assert_eq!(format!("{transport:?}"), "SharedBlockingTransport");
/// # Ok::<(), kommo_files_transport::TransportError>(())
/// ```
#[derive(Clone)]
pub struct SharedBlockingTransport(Arc<dyn BlockingTransport>);

impl SharedBlockingTransport {
    /// Shares `transport`.
    pub fn new(transport: impl BlockingTransport + 'static) -> Self {
        Self(Arc::new(transport))
    }
}

impl BlockingTransport for SharedBlockingTransport {
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        self.0.send_streaming(request)
    }

    fn send(&self, request: Request) -> Result<Response, TransportError> {
        self.0.send(request)
    }
}

impl fmt::Debug for SharedBlockingTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedBlockingTransport")
    }
}

/// A blocking transport made of a closure; see [`fn_transport`].
#[derive(Clone)]
pub struct FnTransport<F>(F);

/// A blocking transport that calls `send` for every request and answers with the buffered
/// response it returns (`send_streaming` hands the same bytes out as a body).
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
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        Ok((self.0)(request)?.map(BlockingBody::from_bytes))
    }

    /// The closure's answer as it is: already in memory, so no limit applies.
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        (self.0)(request)
    }
}

impl<F> fmt::Debug for FnTransport<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnTransport")
    }
}

/// A blocking transport made of a streaming closure; see [`fn_streaming_transport`].
#[derive(Clone)]
pub struct FnStreamingTransport<F>(F);

/// A blocking transport that calls `send_streaming` for every request; `send` reads its body
/// with [`DEFAULT_BODY_LIMIT`].
///
/// ```
/// use kommo_files_transport::{fn_streaming_transport, BlockingBody, BlockingTransport};
///
/// // A body that is produced while it is read.
/// let endless_zeros = fn_streaming_transport(|_request| {
///     Ok(http::Response::new(BlockingBody::from_reader(std::io::repeat(0))))
/// });
/// let response = endless_zeros.send_streaming(http::Request::new(bytes::Bytes::new()))?;
/// let first = response.into_body().chunk()?.unwrap();
/// assert!(first.iter().all(|&byte| byte == 0));
/// # Ok::<(), kommo_files_transport::TransportError>(())
/// ```
pub fn fn_streaming_transport<F>(send_streaming: F) -> FnStreamingTransport<F>
where
    F: Fn(Request) -> Result<http::Response<BlockingBody>, TransportError> + Send + Sync,
{
    FnStreamingTransport(send_streaming)
}

impl<F> BlockingTransport for FnStreamingTransport<F>
where
    F: Fn(Request) -> Result<http::Response<BlockingBody>, TransportError> + Send + Sync,
{
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        (self.0)(request)
    }
}

impl<F> fmt::Debug for FnStreamingTransport<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnStreamingTransport")
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;

    use super::*;
    use crate::ErrorKind;

    /// Implements only the required method; answers `len` bytes, streamed from a generator.
    struct StreamingOnly {
        len: u64,
        streamed: AtomicUsize,
    }

    impl StreamingOnly {
        fn new(len: usize) -> Self {
            Self {
                len: len as u64,
                streamed: AtomicUsize::new(0),
            }
        }
    }

    impl BlockingTransport for StreamingOnly {
        fn send_streaming(
            &self,
            request: Request,
        ) -> Result<http::Response<BlockingBody>, TransportError> {
            self.streamed.fetch_add(1, Ordering::Relaxed);
            let mut response = http::Response::new(BlockingBody::from_reader(
                std::io::repeat(b'a').take(self.len),
            ));
            *response.status_mut() = http::StatusCode::CREATED;
            let path = request.uri().path().to_owned();
            response
                .headers_mut()
                .insert("x-path", path.parse().unwrap());
            Ok(response)
        }
    }

    fn request() -> Request {
        http::Request::get("http://h/p").body(Bytes::new()).unwrap()
    }

    #[test]
    fn provided_send_reads_the_stream() {
        let transport = StreamingOnly::new(100_000);
        let response = transport.send(request()).unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["x-path"], "/p");
        assert_eq!(response.body().len(), 100_000);
        assert!(response.body().iter().all(|&b| b == b'a'));
        assert_eq!(transport.streamed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn provided_send_applies_the_default_limit() {
        let at = StreamingOnly::new(DEFAULT_BODY_LIMIT);
        assert_eq!(at.send(request()).unwrap().body().len(), DEFAULT_BODY_LIMIT);
        let over = StreamingOnly::new(DEFAULT_BODY_LIMIT + 1);
        let error = over.send(request()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TooLarge);
        // Streaming itself has no limit.
        let body = over.send_streaming(request()).unwrap().into_body();
        assert_eq!(
            body.read_to_end(usize::MAX).unwrap().len(),
            DEFAULT_BODY_LIMIT + 1
        );
    }

    #[test]
    fn handles_forward_both_methods() {
        // A closure's `send` has no limit; every handle must reach it rather than the default.
        let big = DEFAULT_BODY_LIMIT + 10;
        let make = move || {
            fn_transport(move |_request| Ok(http::Response::new(Bytes::from(vec![0; big]))))
        };
        assert_eq!(make().send(request()).unwrap().body().len(), big);
        let handles: Vec<Box<dyn BlockingTransport>> = vec![
            Box::new(SharedBlockingTransport::new(make())),
            Box::new(Arc::new(make())),
            Box::new(Box::new(make()) as Box<dyn BlockingTransport>),
            Box::new(Arc::new(make()) as Arc<dyn BlockingTransport>),
        ];
        for handle in &handles {
            assert_eq!(handle.send(request()).unwrap().body().len(), big);
            let streamed = handle.send_streaming(request()).unwrap().into_body();
            assert_eq!(streamed.read_to_end(big).unwrap().len(), big);
        }
    }

    #[test]
    fn shared_handle_is_one_transport() {
        fn check<T: BlockingTransport + Clone + fmt::Debug + Send + Sync + 'static>() {}
        check::<SharedBlockingTransport>();

        let inner = Arc::new(StreamingOnly::new(3));
        let shared = SharedBlockingTransport::new(Arc::clone(&inner));
        let clone = shared.clone();
        drop(shared);
        assert_eq!(clone.send(request()).unwrap().body(), "aaa");
        assert_eq!(clone.send_streaming(request()).unwrap().status(), 201);
        assert_eq!(inner.streamed.load(Ordering::Relaxed), 2);
        assert_eq!(format!("{clone:?}"), "SharedBlockingTransport");
        assert_eq!(format!("{clone:#?}"), "SharedBlockingTransport");
    }

    #[test]
    fn closures_stream_and_buffer() {
        let buffered = fn_transport(|_request| Ok(http::Response::new(Bytes::from("abc"))));
        let body = buffered.send_streaming(request()).unwrap().into_body();
        assert_eq!(body.read_to_end(3).unwrap(), "abc");
        let streaming = fn_streaming_transport(|_request| {
            Ok(http::Response::new(BlockingBody::from_bytes("xyz".into())))
        });
        assert_eq!(streaming.send(request()).unwrap().body(), "xyz");
        assert_eq!(format!("{streaming:?}"), "FnStreamingTransport");
        let failing =
            fn_streaming_transport(|_request| Err(TransportError::new(ErrorKind::Connect, "no")));
        assert_eq!(
            failing.send(request()).unwrap_err().kind(),
            ErrorKind::Connect
        );
    }
}
