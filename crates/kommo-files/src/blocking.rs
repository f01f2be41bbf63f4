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
//!     println!("{}", listed?.name);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs;
use std::io::{Read, Seek, Write};
use std::sync::Mutex;
use std::time::Duration;

use kommo_files_model::endpoint::{DriveHost, FileQuery};
use kommo_files_model::wire::FileObject;
use kommo_files_transport::{BlockingTransport, SharedBlockingTransport};

use crate::pages::Pager;
use crate::{ClientConfig, Error};

type Transport = SharedBlockingTransport;
type DriveCell = Mutex<Option<DriveHost>>;

/// What an upload can read from: any `Read + Send`.
pub trait UploadRead: Read + Send {}
impl<T: Read + Send + ?Sized> UploadRead for T {}

/// What a download can write to: any `Write + Send`.
pub trait DownloadWrite: Write + Send {}
impl<T: Write + Send + ?Sized> DownloadWrite for T {}

/// std's files work anywhere.
fn files_available() -> std::io::Result<()> {
    Ok(())
}

crate::driver::client_driver!(
    maybe_async::must_be_sync,
    "blocking",
    "# let emulator = kommo_files_emulator::Emulator::builder().start()?;\n# let client = kommo_files::blocking::Client::new(kommo_files::ClientConfig::for_url(emulator.account_url(), &emulator.token())?)?;\n",
    "# Ok::<(), Box<dyn std::error::Error>>(())\n",
    ""
);

impl Client {
    /// A client over the built-in ureq transport (feature `blocking`).
    ///
    /// ```
    /// use kommo_files::{blocking::Client, ClientConfig, Domain};
    ///
    /// let client = Client::new(ClientConfig::for_account("mycompany", Domain::Kommo, "token")?)?;
    /// # Ok::<(), kommo_files::Error>(())
    /// ```
    #[cfg(feature = "blocking")]
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let transport = kommo_files_transport::UreqTransport::new(config.timeouts);
        Ok(Self::with_transport(config, transport))
    }

    /// A client over any [`BlockingTransport`]: your own, or a wrapper around a built-in one.
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
    /// use kommo_files::model::endpoint::FileQuery;
    ///
    /// for file in client.list(FileQuery::new().term("invoice").limit(100)) {
    ///     let file = file?;
    ///     println!("{} ({} bytes)", file.name, file.size);
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
