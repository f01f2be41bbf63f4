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
