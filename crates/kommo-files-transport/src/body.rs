//! Streamed response bodies, for downloads that must not sit in memory whole.

use std::fmt;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;

use bytes::Bytes;

use crate::TransportError;

/// A boxed, `Send` future: the currency of object-safe async traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How much a blocking body reads per [`BlockingBody::chunk`].
const CHUNK: usize = 64 * 1024;

/// The most a buffered answer may hold: 16 MiB. The provided [`crate::BlockingTransport::send`]
/// and [`crate::AsyncTransport::send`] read bodies up to this size and fail with
/// [`crate::ErrorKind::TooLarge`] beyond it; call `send_streaming` and `read_to_end` for another
/// limit, or read chunk by chunk for no limit at all.
///
/// ```
/// assert_eq!(kommo_files_transport::DEFAULT_BODY_LIMIT, 16 * 1024 * 1024);
/// ```
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// A response body read piece by piece by a blocking transport.
///
/// ```
/// use kommo_files_transport::BlockingBody;
///
/// let mut body = BlockingBody::from_bytes("hello".into());
/// assert_eq!(body.chunk()?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(body.chunk()?, None);
/// # Ok::<(), kommo_files_transport::TransportError>(())
/// ```
pub struct BlockingBody {
    reader: Box<dyn Read + Send>,
}

impl BlockingBody {
    /// A body already in memory.
    pub fn from_bytes(bytes: Bytes) -> Self {
        Self::from_reader(std::io::Cursor::new(bytes))
    }

    /// A body read from `reader`.
    pub fn from_reader(reader: impl Read + Send + 'static) -> Self {
        Self {
            reader: Box::new(reader),
        }
    }

    /// The next piece of the body, `None` at its end.
    pub fn chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        let mut buffer = vec![0; CHUNK];
        loop {
            match self.reader.read(&mut buffer) {
                Ok(0) => return Ok(None),
                Ok(n) => {
                    buffer.truncate(n);
                    return Ok(Some(Bytes::from(buffer)));
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(body_error(error)),
            }
        }
    }

    /// The rest of the body in memory, or [`crate::ErrorKind::TooLarge`] as soon as more than
    /// `limit` bytes arrived (the body is then dropped unread, which closes its connection).
    ///
    /// ```
    /// use kommo_files_transport::{BlockingBody, ErrorKind};
    ///
    /// let body = BlockingBody::from_bytes("hello".into());
    /// assert_eq!(body.read_to_end(5)?, "hello");
    ///
    /// let error = BlockingBody::from_bytes("hello".into()).read_to_end(4).unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::TooLarge);
    /// # Ok::<(), kommo_files_transport::TransportError>(())
    /// ```
    pub fn read_to_end(mut self, limit: usize) -> Result<Bytes, TransportError> {
        let mut collected = Collected::default();
        while let Some(chunk) = self.chunk()? {
            collected.push(chunk, limit)?;
        }
        Ok(collected.finish())
    }
}

impl Read for BlockingBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

impl fmt::Debug for BlockingBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlockingBody")
    }
}

/// A source of body chunks for [`AsyncBody`]; what an async adapter implements.
pub trait AsyncBodySource: Send {
    /// The next piece of the body, `None` at its end.
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, TransportError>>;
}

/// A response body read piece by piece by an async transport.
///
/// ```
/// use kommo_files_transport::AsyncBody;
///
/// # async fn demo() -> Result<(), kommo_files_transport::TransportError> {
/// let mut body = AsyncBody::from_bytes("hello".into());
/// assert_eq!(body.chunk().await?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(body.chunk().await?, None);
/// # Ok(()) }
/// ```
pub struct AsyncBody {
    source: Box<dyn AsyncBodySource>,
}

impl AsyncBody {
    /// A body already in memory.
    pub fn from_bytes(bytes: Bytes) -> Self {
        Self::from_source(InMemory(Some(bytes)))
    }

    /// A body produced by `source`.
    pub fn from_source(source: impl AsyncBodySource + 'static) -> Self {
        Self {
            source: Box::new(source),
        }
    }

    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        self.source.next_chunk().await
    }

    /// The rest of the body in memory, or [`crate::ErrorKind::TooLarge`] as soon as more than
    /// `limit` bytes arrived (the body is then dropped unread, which closes its connection).
    ///
    /// ```
    /// use kommo_files_transport::{AsyncBody, ErrorKind};
    ///
    /// # async fn demo() -> Result<(), kommo_files_transport::TransportError> {
    /// let body = AsyncBody::from_bytes("hello".into());
    /// assert_eq!(body.read_to_end(5).await?, "hello");
    ///
    /// let error = AsyncBody::from_bytes("hello".into()).read_to_end(4).await.unwrap_err();
    /// assert_eq!(error.kind(), ErrorKind::TooLarge);
    /// # Ok(()) }
    /// ```
    #[allow(clippy::manual_async_fn)] // the signature promises `Send`
    pub fn read_to_end(
        mut self,
        limit: usize,
    ) -> impl Future<Output = Result<Bytes, TransportError>> + Send {
        async move {
            let mut collected = Collected::default();
            while let Some(chunk) = self.chunk().await? {
                collected.push(chunk, limit)?;
            }
            Ok(collected.finish())
        }
    }
}

impl fmt::Debug for AsyncBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncBody")
    }
}

/// Chunks gathered under a limit; a single chunk is kept as it is, without a copy.
#[derive(Default)]
struct Collected {
    first: Option<Bytes>,
    rest: Option<bytes::BytesMut>,
    len: usize,
}

impl Collected {
    fn push(&mut self, chunk: Bytes, limit: usize) -> Result<(), TransportError> {
        self.len = self.len.saturating_add(chunk.len());
        if self.len > limit {
            return Err(too_large(limit));
        }
        match (&self.first, &mut self.rest) {
            (None, _) => self.first = Some(chunk),
            (Some(_), Some(rest)) => rest.extend_from_slice(&chunk),
            (Some(first), None) => {
                let mut rest = bytes::BytesMut::with_capacity(first.len() + chunk.len());
                rest.extend_from_slice(first);
                rest.extend_from_slice(&chunk);
                self.rest = Some(rest);
            }
        }
        Ok(())
    }

    fn finish(self) -> Bytes {
        match (self.first, self.rest) {
            (_, Some(rest)) => rest.freeze(),
            (Some(first), None) => first,
            (None, None) => Bytes::new(),
        }
    }
}

/// The body went past `limit`.
fn too_large(limit: usize) -> TransportError {
    TransportError::new(
        crate::ErrorKind::TooLarge,
        format!("the response body is larger than the limit of {limit} bytes"),
    )
}

struct InMemory(Option<Bytes>);

impl AsyncBodySource for InMemory {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, TransportError>> {
        let chunk = self.0.take().filter(|bytes| !bytes.is_empty());
        Box::pin(async move { Ok(chunk) })
    }
}

/// A read error in the middle of a body: the response is incomplete.
fn body_error(error: std::io::Error) -> TransportError {
    let kind = match error.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => crate::ErrorKind::Timeout,
        _ => crate::ErrorKind::Body,
    };
    TransportError::new(kind, format!("reading the response body: {error}")).with_source(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// A body of `len` bytes that arrives in pieces of various sizes.
    fn pieces(len: usize) -> Vec<Bytes> {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        let mut rest = &data[..];
        let mut size = 1;
        while !rest.is_empty() {
            let take = size.min(rest.len());
            out.push(Bytes::copy_from_slice(&rest[..take]));
            rest = &rest[take..];
            size = size * 3 + 1;
        }
        out
    }

    struct Pieces(std::vec::IntoIter<Bytes>);

    impl AsyncBodySource for Pieces {
        fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, TransportError>> {
            let next = self.0.next();
            Box::pin(async move { Ok(next) })
        }
    }

    fn async_body(len: usize) -> AsyncBody {
        AsyncBody::from_source(Pieces(pieces(len).into_iter()))
    }

    fn blocking_body(len: usize) -> BlockingBody {
        BlockingBody::from_reader(std::io::Cursor::new(pieces(len).concat()))
    }

    #[track_caller]
    fn assert_too_large(error: &TransportError, limit: usize) {
        assert_eq!(error.kind(), ErrorKind::TooLarge, "{error:?}");
        assert!(!error.kind().is_transient());
        assert!(error.kind().may_have_reached_server());
        assert!(!error.is_retry_safe(true));
        assert!(
            error.to_string().contains(&format!("{limit} bytes")),
            "{error}"
        );
    }

    #[test]
    fn blocking_limit_is_inclusive() {
        for len in [0, 1, 1000, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let body = blocking_body(len).read_to_end(len).unwrap();
            assert_eq!(body, pieces(len).concat(), "{len}");
            assert_eq!(blocking_body(len).read_to_end(len + 1).unwrap().len(), len);
            if len > 0 {
                let error = blocking_body(len).read_to_end(len - 1).unwrap_err();
                assert_too_large(&error, len - 1);
            }
        }
        let error = BlockingBody::from_bytes(Bytes::from_static(b"x"))
            .read_to_end(0)
            .unwrap_err();
        assert_too_large(&error, 0);
    }

    #[test]
    fn blocking_limit_stops_an_endless_body() {
        let endless = BlockingBody::from_reader(std::io::repeat(1));
        assert_too_large(&endless.read_to_end(1_000_000).unwrap_err(), 1_000_000);
    }

    #[test]
    fn blocking_read_errors_pass_through() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _buf: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::TimedOut.into())
            }
        }
        let error = BlockingBody::from_reader(Broken)
            .read_to_end(10)
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Timeout);
    }

    #[tokio::test]
    async fn async_limit_is_inclusive() {
        for len in [0, 1, 40, 1000, 100_000] {
            let body = async_body(len).read_to_end(len).await.unwrap();
            assert_eq!(body, pieces(len).concat(), "{len}");
            assert_eq!(
                async_body(len).read_to_end(len + 1).await.unwrap().len(),
                len
            );
            if len > 0 {
                let error = async_body(len).read_to_end(len - 1).await.unwrap_err();
                assert_too_large(&error, len - 1);
            }
        }
        let one = AsyncBody::from_bytes(Bytes::from_static(b"x"));
        assert_too_large(&one.read_to_end(0).await.unwrap_err(), 0);
        assert_eq!(
            AsyncBody::from_bytes(Bytes::new())
                .read_to_end(0)
                .await
                .unwrap(),
            ""
        );
    }

    #[test]
    fn a_single_chunk_is_not_copied() {
        let bytes = Bytes::from(vec![5; 100]);
        let mut collected = Collected::default();
        collected.push(bytes.clone(), 100).unwrap();
        assert_eq!(collected.finish().as_ptr(), bytes.as_ptr());
    }
}
