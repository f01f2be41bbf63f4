//! The blocking client, for scripts and threads.
//!
//! ```
//! # let emulator = kommo_files_emulator::Emulator::builder().start()?;
//! use kommo_files::{blocking::Client, ClientConfig, UploadOptions};
//!
//! let config = ClientConfig::for_url(emulator.account_url(), &emulator.token())?;
//! let client = Client::new(config)?;
//! let file = client.upload_bytes("invoice.pdf", &b"%PDF-1.7"[..], UploadOptions::new())?;
//! for listed in client.list(Default::default()) {
//!     println!("{}", listed?.display_name());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The methods of [`Client`] are written once in `src/driver/` and compiled here with
//! `maybe_async::must_be_sync`; this file supplies what only a blocking client has: threads,
//! `std::fs` and `std::io`.

use std::fs;
use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::Duration;

use kommo_files_model::endpoint::{DriveHost, FileQuery};
use kommo_files_model::wire::FileObject;
use kommo_files_transport::{BlockingBody, BlockingTransport, SharedBlockingTransport};
use maybe_async::must_be_sync as flavour;

use crate::pages::Pager;
// Runs a call inside a span (entered around it: a blocking call never leaves its thread).
use crate::trace::in_span as traced;
use crate::{ClientConfig, Error};

/// Doc examples of the shared driver, in this flavour: a client on an emulator, and `await`
/// written as nothing.
macro_rules! example {
    (@lines [$($done:tt)*]) => {
        concat!(
            "```\n",
            "# let emulator = kommo_files_emulator::Emulator::builder().start()?;\n",
            "# let client = kommo_files::blocking::Client::new(kommo_files::ClientConfig::for_url(emulator.account_url(), &emulator.token())?)?;\n",
            $($done)*
            "\n# Ok::<(), Box<dyn std::error::Error>>(())\n",
            "```"
        )
    };
    (@lines [$($done:tt)*] await $($rest:tt)*) => { example!(@lines [$($done)*] $($rest)*) };
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

type Transport = SharedBlockingTransport;
type DriveCell = Mutex<Option<DriveHost>>;
type Body = BlockingBody;

/// What an upload can read from: any `Read + Send`.
pub trait UploadRead: Read + Send {}
impl<T: Read + Send + ?Sized> UploadRead for T {}

/// What a download can write to: any `Write + Send`.
pub trait DownloadWrite: Write + Send {}
impl<T: Write + Send + ?Sized> DownloadWrite for T {}

/// The I/O traits the shared driver calls (`read_exact`, `seek`, `write_all`, `flush`).
mod io {
    pub(super) use kommo_files_transport::BlockingTransport as _;
    pub(super) use std::io::{Read, Seek};
}

/// Reading ahead needs another thread: a blocking upload reads each part when it is asked.
#[derive(Debug, Default)]
struct ReadAhead {}

impl ReadAhead {
    fn take(&mut self, _offset: u64, _len: usize) -> std::io::Result<Option<bytes::Bytes>> {
        Ok(None)
    }

    fn start(&mut self, _file: &std::sync::Arc<fs::File>, _offset: u64, _len: usize) {}
}

/// Runs store, provider and hook code: here, on the calling thread.
fn off_thread<T>(work: impl FnOnce() -> T) -> Result<T, crate::auth::AuthError> {
    Ok(work())
}

/// Waits for the token refresh another thread leads.
fn wait_for_refresh(state: &crate::auth::TokenState, attempts: u64) {
    state.wait_blocking(attempts);
}

/// A second handle on an open file, for its metadata.
fn watch_handle(file: &fs::File) -> std::io::Result<fs::File> {
    file.try_clone()
}

/// std's files work anywhere.
fn files_available() -> std::io::Result<()> {
    Ok(())
}

impl Client {
    /// A client over the built-in ureq transport (feature `ureq`), with the configured
    /// timeouts and CA ([`ClientConfig::trust_ca_pem`]); fails only when that CA cannot be used.
    ///
    /// ```
    /// use kommo_files::{blocking::Client, ClientConfig, Domain};
    ///
    /// let client = Client::new(ClientConfig::for_account("mycompany", Domain::Kommo, "token")?)?;
    /// # Ok::<(), kommo_files::Error>(())
    /// ```
    #[cfg(feature = "ureq")]
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        Self::with_layer(config, |transport| transport)
    }

    /// A client over the built-in ureq transport wrapped by `layer` (logging, metrics, a
    /// proxy): the wrapper gets the transport **as configured** (timeouts and CA included).
    ///
    /// ```
    /// use kommo_files::transport::{BlockingBody, BlockingTransport, Request, TransportError};
    /// use kommo_files::{blocking::Client, ClientConfig};
    ///
    /// /// Logs every request, with upload tokens redacted.
    /// struct Logged<T>(T);
    /// impl<T: BlockingTransport> BlockingTransport for Logged<T> {
    ///     fn send_streaming(&self, request: Request) -> Result<http::Response<BlockingBody>, TransportError> {
    ///         eprintln!("{}", kommo_files::transport::redacted(&request));
    ///         self.0.send_streaming(request)
    ///     }
    /// }
    /// let config = ClientConfig::for_url("https://example.kommo.com", "token")?
    ///     .read_timeout(std::time::Duration::from_millis(300));
    /// let client = Client::with_layer(config, Logged)?;
    /// # Ok::<(), kommo_files::Error>(())
    /// ```
    #[cfg(feature = "ureq")]
    pub fn with_layer<T: BlockingTransport + 'static>(
        config: ClientConfig,
        layer: impl FnOnce(kommo_files_transport::UreqTransport) -> T,
    ) -> Result<Self, Error> {
        let transport =
            kommo_files_transport::UreqTransport::with_options(&config.transport_options())
                .map_err(Error::Client)?;
        Ok(Self::with_transport(config, layer(transport)))
    }

    /// A client over any [`BlockingTransport`] you write. (To wrap the built-in one, use
    /// [`Client::with_layer`], which keeps the configured timeouts.)
    ///
    /// ```
    /// use kommo_files::blocking::Client;
    /// use kommo_files::transport::{fn_transport, ErrorKind, TransportError};
    /// use kommo_files::ClientConfig;
    ///
    /// let offline = fn_transport(|_request| Err(TransportError::new(ErrorKind::Connect, "offline")));
    /// let config = ClientConfig::for_url("https://example.kommo.com", "token")?;
    /// let client = Client::with_transport(config, offline);
    /// assert!(client.get_file("f").is_err());
    /// # Ok::<(), kommo_files::Error>(())
    /// ```
    pub fn with_transport(
        config: ClientConfig,
        transport: impl BlockingTransport + 'static,
    ) -> Self {
        Self::from_parts(config, SharedBlockingTransport::new(transport))
    }

    /// Every file matching `query`, page after page, as an iterator.
    ///
    /// ```
    /// # let emulator = kommo_files_emulator::Emulator::builder().start()?;
    /// # let client = kommo_files::blocking::Client::new(kommo_files::ClientConfig::for_url(emulator.account_url(), &emulator.token())?)?;
    /// use kommo_files::FileQuery;
    ///
    /// for file in client.list(FileQuery::new().term("invoice").limit(100)) {
    ///     let file = file?;
    ///     println!("{} ({} bytes)", file.display_name(), file.size);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn list(&self, query: FileQuery) -> Files {
        Files {
            client: self.clone(),
            pager: Pager::new(query),
        }
    }

    /// The drive host: given in the configuration, or asked once and kept.
    pub fn drive(&self) -> Result<DriveHost, Error> {
        // Held across the discovery, so concurrent first calls discover once.
        let mut drive = self
            .inner
            .drive
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(drive) = &*drive {
            return Ok(drive.clone());
        }
        let discovered = self.discover_drive()?;
        *drive = Some(discovered.clone());
        Ok(discovered)
    }

    fn preset_drive(cell: &DriveCell, drive: DriveHost) {
        *cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(drive);
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// The files of a listing, fetched a page at a time; see [`Client::list`].
///
/// An error ends the iteration after it is yielded.
#[derive(Debug)]
pub struct Files {
    client: Client,
    pager: Pager,
}

impl Iterator for Files {
    type Item = Result<FileObject, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(file) = self.pager.pop() {
                return Some(Ok(file));
            }
            let cursor = self.pager.take_cursor()?;
            match self.client.fetch_page(&cursor) {
                Ok(page) => self.pager.push(page),
                Err(error) => return Some(Err(error)),
            }
        }
    }
}
