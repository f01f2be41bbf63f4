//! [`AsyncTransport`]: requests as futures, plus the runtime's timer.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::{AsyncBody, BoxFuture, Request, Response, TransportError, DEFAULT_BODY_LIMIT};

/// Sends requests asynchronously, and sleeps on the runtime it belongs to.
///
/// The same rules as [`crate::BlockingTransport`]: [`send_streaming`](Self::send_streaming) is
/// the method to implement (with `sleep`), [`send`](Self::send) reads its body with
/// [`DEFAULT_BODY_LIMIT`]; every status is a response, no redirect is followed. `sleep` lets the
/// SDK wait (retry backoff, rate pacing) without knowing the runtime.
///
/// ```
/// use std::time::Duration;
/// use kommo_files_transport::{AsyncBody, AsyncTransport, Request, TransportError};
///
/// /// Counts requests around any other async transport.
/// struct Counted<T> { inner: T, sent: std::sync::atomic::AtomicUsize }
///
/// impl<T: AsyncTransport> AsyncTransport for Counted<T> {
///     async fn send_streaming(
///         &self,
///         request: Request,
///     ) -> Result<http::Response<AsyncBody>, TransportError> {
///         self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         self.inner.send_streaming(request).await
///     }
///     async fn sleep(&self, duration: Duration) {
///         self.inner.sleep(duration).await
///     }
/// }
/// ```
pub trait AsyncTransport: Send + Sync {
    /// Sends `request` and returns the response with its body still to be read.
    fn send_streaming(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<http::Response<AsyncBody>, TransportError>> + Send;

    /// Sends `request` and reads the whole response, failing with
    /// [`ErrorKind::TooLarge`](crate::ErrorKind::TooLarge) past [`DEFAULT_BODY_LIMIT`] bytes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kommo_files_transport::{async_fn_streaming_transport, AsyncBody, AsyncTransport};
    ///
    /// # async fn demo() -> Result<(), kommo_files_transport::TransportError> {
    /// let transport = async_fn_streaming_transport(
    ///     |_request| async { Ok(http::Response::new(AsyncBody::from_bytes("buffered".into()))) },
    ///     |_duration: Duration| async {},
    /// );
    /// let response = transport.send(http::Request::new(bytes::Bytes::new())).await?;
    /// assert_eq!(response.body(), "buffered");
    /// # Ok(()) }
    /// ```
    fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send {
        async move {
            let (parts, body) = self.send_streaming(request).await?.into_parts();
            let bytes = body.read_to_end(DEFAULT_BODY_LIMIT).await?;
            Ok(http::Response::from_parts(parts, bytes))
        }
    }

    /// Completes after `duration`, on this transport's runtime.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

impl<T: AsyncTransport + ?Sized> AsyncTransport for Arc<T> {
    fn send_streaming(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<http::Response<AsyncBody>, TransportError>> + Send {
        (**self).send_streaming(request)
    }

    fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send {
        (**self).send(request)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        (**self).sleep(duration)
    }
}

/// [`AsyncTransport`] with boxed futures, so that it can live behind `dyn`.
trait DynAsyncTransport: Send + Sync {
    fn send_boxed(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>>;
    fn send_streaming_boxed(
        &self,
        request: Request,
    ) -> BoxFuture<'_, Result<http::Response<AsyncBody>, TransportError>>;
    fn sleep_boxed(&self, duration: Duration) -> BoxFuture<'_, ()>;
}

impl<T: AsyncTransport> DynAsyncTransport for T {
    fn send_boxed(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(self.send(request))
    }

    fn send_streaming_boxed(
        &self,
        request: Request,
    ) -> BoxFuture<'_, Result<http::Response<AsyncBody>, TransportError>> {
        Box::pin(self.send_streaming(request))
    }

    fn sleep_boxed(&self, duration: Duration) -> BoxFuture<'_, ()> {
        Box::pin(self.sleep(duration))
    }
}

/// The object-safe handle the async client keeps: any [`AsyncTransport`], shared by clones.
///
/// ```
/// use std::time::Duration;
/// use kommo_files_transport::{async_fn_transport, SharedAsyncTransport};
///
/// let transport = SharedAsyncTransport::new(async_fn_transport(
///     |_request| async { Ok(http::Response::new(bytes::Bytes::new())) },
///     |_duration: Duration| async {},
/// ));
/// let clone = transport.clone(); // same transport, same connections
/// # drop(clone);
/// ```
#[derive(Clone)]
pub struct SharedAsyncTransport(Arc<dyn DynAsyncTransport>);

impl SharedAsyncTransport {
    /// Shares `transport`.
    pub fn new(transport: impl AsyncTransport + 'static) -> Self {
        Self(Arc::new(transport))
    }
}

impl AsyncTransport for SharedAsyncTransport {
    fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send {
        self.0.send_boxed(request)
    }

    fn send_streaming(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<http::Response<AsyncBody>, TransportError>> + Send {
        self.0.send_streaming_boxed(request)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        self.0.sleep_boxed(duration)
    }
}

impl fmt::Debug for SharedAsyncTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedAsyncTransport")
    }
}

/// An async transport made of two closures; see [`async_fn_transport`].
#[derive(Clone)]
pub struct AsyncFnTransport<F, S> {
    send: F,
    sleep: S,
}

/// An async transport that calls `send` for every request and `sleep` to wait; it answers with
/// the buffered response `send` returns (`send_streaming` hands the same bytes out as a body).
///
/// ```
/// use std::time::Duration;
/// use kommo_files_transport::{async_fn_transport, AsyncTransport};
///
/// # async fn demo() -> Result<(), kommo_files_transport::TransportError> {
/// let transport = async_fn_transport(
///     |_request| async { Ok(http::Response::new(bytes::Bytes::from_static(b"{}"))) },
///     |_duration: Duration| async {}, // a test that does not want to wait
/// );
/// let response = transport.send(http::Request::new(bytes::Bytes::new())).await?;
/// assert_eq!(response.body(), "{}");
/// # Ok(()) }
/// ```
pub fn async_fn_transport<F, Fut, S, SFut>(send: F, sleep: S) -> AsyncFnTransport<F, S>
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Response, TransportError>> + Send,
    S: Fn(Duration) -> SFut + Send + Sync,
    SFut: Future<Output = ()> + Send,
{
    AsyncFnTransport { send, sleep }
}

impl<F, Fut, S, SFut> AsyncTransport for AsyncFnTransport<F, S>
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Response, TransportError>> + Send,
    S: Fn(Duration) -> SFut + Send + Sync,
    SFut: Future<Output = ()> + Send,
{
    fn send_streaming(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<http::Response<AsyncBody>, TransportError>> + Send {
        let answer = (self.send)(request);
        async move { Ok(answer.await?.map(AsyncBody::from_bytes)) }
    }

    /// The closure's answer as it is: already in memory, so no limit applies.
    fn send(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, TransportError>> + Send {
        (self.send)(request)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        (self.sleep)(duration)
    }
}

impl<F, S> fmt::Debug for AsyncFnTransport<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncFnTransport")
    }
}

/// An async transport made of a streaming closure and a sleep; see
/// [`async_fn_streaming_transport`].
#[derive(Clone)]
pub struct AsyncFnStreamingTransport<F, S> {
    send_streaming: F,
    sleep: S,
}

/// An async transport that calls `send_streaming` for every request and `sleep` to wait; `send`
/// reads its body with [`DEFAULT_BODY_LIMIT`].
///
/// ```
/// use std::time::Duration;
/// use kommo_files_transport::{async_fn_streaming_transport, AsyncBody, AsyncTransport};
///
/// # async fn demo() -> Result<(), kommo_files_transport::TransportError> {
/// let transport = async_fn_streaming_transport(
///     |_request| async { Ok(http::Response::new(AsyncBody::from_bytes("streamed".into()))) },
///     |_duration: Duration| async {},
/// );
/// let response = transport.send_streaming(http::Request::new(bytes::Bytes::new())).await?;
/// assert_eq!(response.into_body().read_to_end(1024).await?, "streamed");
/// # Ok(()) }
/// ```
pub fn async_fn_streaming_transport<F, Fut, S, SFut>(
    send_streaming: F,
    sleep: S,
) -> AsyncFnStreamingTransport<F, S>
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Result<http::Response<AsyncBody>, TransportError>> + Send,
    S: Fn(Duration) -> SFut + Send + Sync,
    SFut: Future<Output = ()> + Send,
{
    AsyncFnStreamingTransport {
        send_streaming,
        sleep,
    }
}

impl<F, Fut, S, SFut> AsyncTransport for AsyncFnStreamingTransport<F, S>
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Result<http::Response<AsyncBody>, TransportError>> + Send,
    S: Fn(Duration) -> SFut + Send + Sync,
    SFut: Future<Output = ()> + Send,
{
    fn send_streaming(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<http::Response<AsyncBody>, TransportError>> + Send {
        (self.send_streaming)(request)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        (self.sleep)(duration)
    }
}

impl<F, S> fmt::Debug for AsyncFnStreamingTransport<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncFnStreamingTransport")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use bytes::Bytes;

    use super::*;
    use crate::{AsyncBodySource, ErrorKind, DEFAULT_BODY_LIMIT};

    /// `len` bytes of `b'a'`, 1 MiB at a time.
    struct Generated(usize);

    impl AsyncBodySource for Generated {
        fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, TransportError>> {
            let take = self.0.min(1 << 20);
            self.0 -= take;
            Box::pin(async move { Ok((take > 0).then(|| Bytes::from(vec![b'a'; take]))) })
        }
    }

    /// Implements only the required methods.
    struct StreamingOnly {
        len: usize,
        streamed: AtomicUsize,
    }

    impl AsyncTransport for StreamingOnly {
        async fn send_streaming(
            &self,
            _request: Request,
        ) -> Result<http::Response<AsyncBody>, TransportError> {
            self.streamed.fetch_add(1, Ordering::Relaxed);
            let mut response = http::Response::new(AsyncBody::from_source(Generated(self.len)));
            *response.status_mut() = http::StatusCode::ACCEPTED;
            Ok(response)
        }

        async fn sleep(&self, _duration: Duration) {}
    }

    fn streaming_only(len: usize) -> StreamingOnly {
        StreamingOnly {
            len,
            streamed: AtomicUsize::new(0),
        }
    }

    fn request() -> Request {
        http::Request::new(Bytes::new())
    }

    #[tokio::test]
    async fn provided_send_reads_the_stream_up_to_the_limit() {
        let small = streaming_only(3_000_000);
        let response = small.send(request()).await.unwrap();
        assert_eq!(response.status(), 202);
        assert_eq!(response.body().len(), 3_000_000);
        assert_eq!(small.streamed.load(Ordering::Relaxed), 1);

        let at = streaming_only(DEFAULT_BODY_LIMIT);
        assert_eq!(
            at.send(request()).await.unwrap().body().len(),
            DEFAULT_BODY_LIMIT
        );
        let over = streaming_only(DEFAULT_BODY_LIMIT + 1);
        let error = over.send(request()).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TooLarge);
        let body = over.send_streaming(request()).await.unwrap().into_body();
        let all = body.read_to_end(usize::MAX).await.unwrap();
        assert_eq!(all.len(), DEFAULT_BODY_LIMIT + 1);
    }

    #[tokio::test]
    async fn handles_forward_both_methods() {
        let big = DEFAULT_BODY_LIMIT + 10;
        let make = move || {
            async_fn_transport(
                move |_request| async move { Ok(http::Response::new(Bytes::from(vec![0; big]))) },
                |_duration| async {},
            )
        };
        let shared = SharedAsyncTransport::new(make());
        assert_eq!(shared.send(request()).await.unwrap().body().len(), big);
        let arc = Arc::new(make());
        assert_eq!(arc.send(request()).await.unwrap().body().len(), big);
        let streamed = shared.send_streaming(request()).await.unwrap().into_body();
        assert_eq!(streamed.read_to_end(big).await.unwrap().len(), big);

        let inner = Arc::new(streaming_only(2));
        let shared = SharedAsyncTransport::new(Arc::clone(&inner));
        assert_eq!(shared.clone().send(request()).await.unwrap().body(), "aa");
        shared.send_streaming(request()).await.unwrap();
        assert_eq!(inner.streamed.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn streaming_closures() {
        let transport = async_fn_streaming_transport(
            |_request| async { Ok(http::Response::new(AsyncBody::from_bytes("xyz".into()))) },
            tokio::time::sleep,
        );
        assert_eq!(transport.send(request()).await.unwrap().body(), "xyz");
        transport.sleep(Duration::from_millis(1)).await;
        assert_eq!(format!("{transport:?}"), "AsyncFnStreamingTransport");
    }
}
