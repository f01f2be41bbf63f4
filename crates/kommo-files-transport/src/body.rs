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
}

impl fmt::Debug for AsyncBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsyncBody")
    }
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
