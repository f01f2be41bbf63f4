//! The async client, for services (tokio with the built-in reqwest transport, or any runtime
//! through your own [`AsyncTransport`]).
//!
//! The methods of [`Client`] are written once in `src/driver/` and compiled here with
//! `maybe_async::must_be_async`; this file supplies what only an async client has: the
//! transport's timer, `tokio::fs` and tokio's I/O traits, and the [`FileStream`].

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use maybe_async::must_be_async as flavour;
use tokio::fs;
use tokio::io::{AsyncRead, AsyncWrite};

use kommo_files_model::endpoint::{DriveHost, FileQuery};
use kommo_files_model::wire::{FileObject, FilePage};
use kommo_files_transport::{AsyncBody, AsyncTransport, BoxFuture, SharedAsyncTransport};

use crate::pages::Pager;
// Runs a future inside a span (instrumented: entered only while it is polled).
use crate::trace::in_span_async as traced;
use crate::{ClientConfig, Error};

type Transport = SharedAsyncTransport;
type DriveCell = tokio::sync::OnceCell<DriveHost>;
type Body = AsyncBody;

/// What an upload can read from: any `AsyncRead + Unpin + Send`.
pub trait UploadRead: AsyncRead + Unpin + Send {}
impl<T: AsyncRead + Unpin + Send + ?Sized> UploadRead for T {}

/// What a download can write to: any `AsyncWrite + Unpin + Send`.
pub trait DownloadWrite: AsyncWrite + Unpin + Send {}
impl<T: AsyncWrite + Unpin + Send + ?Sized> DownloadWrite for T {}

/// The next part of a file, read on tokio's blocking pool while the current one is sent: the
/// disk and the network work at once (on loopback, the read would otherwise add to every
/// part's time). One part at most is held ahead, so an upload holds about three parts.
#[derive(Default)]
struct ReadAhead {
    next: Option<(
        u64,
        usize,
        tokio::task::JoinHandle<std::io::Result<bytes::Bytes>>,
    )>,
}

impl ReadAhead {
    /// The part at `offset` of `len` bytes, if it is the one read ahead.
    async fn take(&mut self, offset: u64, len: usize) -> std::io::Result<Option<bytes::Bytes>> {
        match self.next.take() {
            Some((at, wanted, task)) if at == offset && wanted == len => {
                task.await.map_err(std::io::Error::other)?.map(Some)
            }
            // Another offset (a restart, a resume): what was read ahead is not needed.
            Some((_, _, task)) => {
                task.abort();
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Starts reading `len` bytes at `offset` of `file` (nothing for 0 bytes).
    fn start(&mut self, file: &std::sync::Arc<std::fs::File>, offset: u64, len: usize) {
        #[cfg(unix)]
        if len > 0 {
            let file = std::sync::Arc::clone(file);
            let task = tokio::task::spawn_blocking(move || {
                let mut buffer = vec![0; len];
                std::os::unix::fs::FileExt::read_exact_at(&*file, &mut buffer, offset)?;
                Ok(bytes::Bytes::from(buffer))
            });
            self.next = Some((offset, len, task));
        }
        #[cfg(not(unix))]
        let _ = (file, offset, len);
    }
}

impl std::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let next = self.next.as_ref().map(|(offset, len, _)| (offset, len));
        f.debug_struct("ReadAhead").field("next", &next).finish()
    }
}

/// Runs store, provider and hook code (file locks, blocking calls) on tokio's blocking pool.
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::auth::AuthError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| crate::auth::AuthError::Interrupted)
}

/// Waits for the token refresh another task leads.
async fn wait_for_refresh(state: &crate::auth::TokenState, attempts: u64) {
    state.wait_async(attempts).await;
}

/// A second, std handle on an open file, for its metadata (read in place: see `FileSource`).
async fn watch_handle(file: &fs::File) -> std::io::Result<std::fs::File> {
    Ok(file.try_clone().await?.into_std().await)
}

/// tokio's files run on tokio's blocking pool: outside a tokio runtime they would panic, so a
/// path upload or download there is an error instead (readers and writers still work).
fn files_available() -> std::io::Result<()> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|_| {
            std::io::Error::other(
                "file paths need a tokio runtime; pass a reader or writer instead",
            )
        })
}

/// Doc examples of the shared driver, in this flavour: a client on an emulator in a tokio
/// runtime, with `.await`.
macro_rules! example {
    (@lines [$($done:tt)*]) => {
        concat!(
            "```\n",
            "# #[tokio::main(flavor = \"current_thread\")]\n",
            "# async fn main() -> Result<(), Box<dyn std::error::Error>> {\n",
            "# let emulator = kommo_files_emulator::Emulator::builder().start_async().await?;\n",
            "# let client = kommo_files::Client::new(kommo_files::ClientConfig::for_url(emulator.account_url(), &emulator.token())?)?;\n",
            $($done)*
            "\n# Ok(()) }\n",
            "```"
        )
    };
    (@lines [$($done:tt)*] await $($rest:tt)*) => { example!(@lines [$($done)* ".await",] $($rest)*) };
    (@lines [$($done:tt)*] $piece:literal $($rest:tt)*) => { example!(@lines [$($done)* $piece,] $($rest)*) };
    ($($rest:tt)*) => { example!(@lines [] $($rest)*) };
}

#[path = "driver/auth.rs"]
mod auth;
#[path = "driver/client.rs"]
mod client;
#[path = "driver/download.rs"]
mod download;
#[path = "driver/endpoints.rs"]
mod endpoints;
#[path = "driver/recovery.rs"]
mod recovery;
#[path = "driver/sources.rs"]
mod sources;
#[path = "driver/sync_folder.rs"]
mod sync_folder;
#[path = "driver/upload.rs"]
mod upload;

pub use client::Client;

/// The I/O traits the shared driver calls (`read_exact`, `seek`, `write_all`, `flush`).
mod io {
    pub(super) use kommo_files_transport::AsyncTransport as _;
    pub(super) use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
}

impl Client {
    /// A client over the built-in reqwest transport (feature `reqwest`; needs a tokio runtime),
    /// with the configured timeouts and CA ([`ClientConfig::trust_ca_pem`]); fails when that
    /// CA cannot be used.
    ///
    /// ```
    /// use kommo_files::{Client, ClientConfig, Domain};
    ///
    /// let client = Client::new(ClientConfig::for_account("mycompany", Domain::Kommo, "token")?)?;
    /// # Ok::<(), kommo_files::Error>(())
    /// ```
    #[cfg(feature = "reqwest")]
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        Self::with_layer(config, |transport| transport)
    }

    /// A client over the built-in reqwest transport wrapped by `layer` (logging, metrics): the
    /// wrapper gets the transport **as configured** (timeouts and CA included).
    ///
    /// ```
    /// use std::time::Duration;
    /// use kommo_files::transport::{AsyncBody, AsyncTransport, Request, TransportError};
    /// use kommo_files::{Client, ClientConfig};
    ///
    /// /// Logs every request, with upload tokens redacted.
    /// struct Logged<T>(T);
    /// impl<T: AsyncTransport> AsyncTransport for Logged<T> {
    ///     async fn send_streaming(&self, request: Request) -> Result<http::Response<AsyncBody>, TransportError> {
    ///         eprintln!("{}", kommo_files::transport::redacted(&request));
    ///         self.0.send_streaming(request).await
    ///     }
    ///     async fn sleep(&self, duration: Duration) {
    ///         self.0.sleep(duration).await
    ///     }
    /// }
    /// let config = ClientConfig::for_url("https://example.kommo.com", "token")?;
    /// let client = Client::with_layer(config, Logged)?;
    /// # Ok::<(), kommo_files::Error>(())
    /// ```
    #[cfg(feature = "reqwest")]
    pub fn with_layer<T: AsyncTransport + 'static>(
        config: ClientConfig,
        layer: impl FnOnce(kommo_files_transport::ReqwestTransport) -> T,
    ) -> Result<Self, Error> {
        let transport =
            kommo_files_transport::ReqwestTransport::with_options(&config.transport_options())
                .map_err(Error::Client)?;
        Ok(Self::with_transport(config, layer(transport)))
    }

    /// A client over any [`AsyncTransport`] you write, on any runtime. (To wrap the built-in
    /// one, use [`Client::with_layer`], which keeps the configured timeouts.)
    ///
    /// ```
    /// use std::time::Duration;
    /// use kommo_files::transport::{async_fn_transport, ErrorKind, TransportError};
    /// use kommo_files::{Client, ClientConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kommo_files::Error> {
    /// let offline = async_fn_transport(
    ///     |_request| async { Err(TransportError::new(ErrorKind::Connect, "offline")) },
    ///     |duration: Duration| tokio::time::sleep(duration.min(Duration::from_millis(1))),
    /// );
    /// let config = ClientConfig::for_url("https://example.kommo.com", "token")?;
    /// let client = Client::with_transport(config, offline);
    /// assert!(client.get_file("f").await.is_err());
    /// # Ok(()) }
    /// ```
    pub fn with_transport(config: ClientConfig, transport: impl AsyncTransport + 'static) -> Self {
        Self::from_parts(config, SharedAsyncTransport::new(transport))
    }

    /// Every file matching `query`, page after page, as a [`futures_core::Stream`] (or with
    /// [`FileStream::next`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kommo_files_emulator::Emulator::builder().start_async().await?;
    /// # let client = kommo_files::Client::new(kommo_files::ClientConfig::for_url(emulator.account_url(), &emulator.token())?)?;
    /// use kommo_files::FileQuery;
    ///
    /// let mut files = client.list(FileQuery::new().extension("pdf"));
    /// while let Some(file) = files.next().await {
    ///     println!("{}", file?.display_name());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list(&self, query: FileQuery) -> FileStream {
        FileStream {
            client: self.clone(),
            pager: Pager::new(query),
            fetching: None,
        }
    }

    /// The drive host: given in the configuration, or asked once and kept.
    pub async fn drive(&self) -> Result<DriveHost, Error> {
        self.inner
            .drive
            .get_or_try_init(|| self.discover_drive())
            .await
            .cloned()
    }

    fn preset_drive(cell: &DriveCell, drive: DriveHost) {
        let _ = cell.set(drive);
    }

    async fn sleep(&self, duration: Duration) {
        self.inner.transport.sleep(duration).await;
    }
}

/// The files of a listing, fetched a page at a time; see [`Client::list`].
///
/// An error ends the stream after it is yielded.
pub struct FileStream {
    client: Client,
    pager: Pager,
    fetching: Option<BoxFuture<'static, Result<FilePage, Error>>>,
}

impl FileStream {
    /// The next file, or `None` at the end (no `StreamExt` needed).
    pub async fn next(&mut self) -> Option<Result<FileObject, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next_file(cx)).await
    }

    fn poll_next_file(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<FileObject, Error>>> {
        loop {
            if let Some(fetching) = &mut self.fetching {
                let fetched = match fetching.as_mut().poll(cx) {
                    Poll::Ready(fetched) => fetched,
                    Poll::Pending => return Poll::Pending,
                };
                self.fetching = None;
                match fetched {
                    Ok(page) => self.pager.push(page),
                    Err(error) => return Poll::Ready(Some(Err(error))),
                }
            }
            if let Some(file) = self.pager.pop() {
                return Poll::Ready(Some(Ok(file)));
            }
            let Some(cursor) = self.pager.take_cursor() else {
                return Poll::Ready(None);
            };
            let client = self.client.clone();
            self.fetching = Some(Box::pin(async move { client.fetch_page(&cursor).await }));
        }
    }
}

impl futures_core::Stream for FileStream {
    type Item = Result<FileObject, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_file(cx)
    }
}

impl std::fmt::Debug for FileStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStream")
            .field("pager", &self.pager)
            .field("fetching", &self.fetching.is_some())
            .finish_non_exhaustive()
    }
}
