//! Kommo (amoCRM) Files API: upload, list, download, version, trash and attach files.
//!
//! Two clients, one build: [`blocking::Client`] for scripts and the async [`Client`] for
//! services. Both are thin drivers of the same pure model ([`model`]) over a pluggable
//! [`transport`]: ureq and reqwest are built in, and with `default-features = false` both
//! clients still work over a transport you write. The features name what they choose:
//!
//! | feature | default | what it chooses |
//! |---|---|---|
//! | `ureq` | yes | the blocking client's built-in transport (`blocking::Client::new`): ureq 3 |
//! | `reqwest` | yes | the async client's built-in transport (`Client::new`): reqwest 0.13 on tokio (hyper, tokio's runtime) |
//! | `rustls` | yes | https for the built-in transports with rustls on the `ring` provider (one stack for both) and Mozilla's roots built in |
//! | `native-tls` | no | https with the platform's TLS library (OpenSSL, SChannel, Security.framework) and its root store, for both transports; wins over `rustls` when both are on |
//! | `platform-roots` | no | rustls verifies with the platform's verifier and root store instead of the built-in roots (implies `rustls`) |
//!
//! A blocking-only script takes `default-features = false, features = ["ureq", "rustls"]`: no
//! reqwest, hyper or mio (tokio stays, as the library of the async client's I/O traits). [`ClientConfig::trust_ca_pem`] trusts a CA of your own (a
//! corporate TLS proxy, a test server) instead of the built-in roots, and a certificate nobody
//! trusts fails with [`ErrorKind::Certificate`] before any request is sent (see the
//! `tls_emulator` example).
//!
//! What you get whichever you pick:
//! - resumable uploads: progress counts bytes the server acknowledged, a checkpoint after every
//!   part survives a crash, and the same upload run again with
//!   [`UploadOptions::checkpoint_file`] continues it after verifying the source;
//! - exactly-once uploads: when the last part's answer is lost, the client finds the stored
//!   file and proves it by its SHA-256 instead of uploading it twice
//!   ([`UploadOptions::recover_final_part`]);
//! - memory bounded by about two parts (three for the async client's path uploads, which read
//!   the next part while one is sent), whatever the file size; downloads stream to a writer;
//! - retries with full-jitter backoff and `Retry-After`, and pacing at 7 requests per second
//!   shared by all clones and uploads of a client (Kommo blocks accounts that go faster);
//! - OAuth 2.0 that refreshes itself ([`auth::Credentials::oauth`]): before expiry and after a
//!   401, once for all clones and (with a [`auth::FileTokenStore`]) all processes, every new
//!   set saved before it is used;
//! - one [`Error`] type with [`Error::kind`], status, problem body and checkpoint; the token and
//!   upload URLs' session tokens never appear in `Debug` output or errors;
//! - every decision (retries, redirects, uploads) in the sans-IO machines of [`model`], so a
//!   driver for another runtime is a short loop; [`blocking::Client::with_layer`] wraps the
//!   built-in transport for logging or metrics.
//!
//! ```
//! # let emulator = kommo_files_emulator::Emulator::builder().start()?;
//! # let (account_url, token) = (emulator.account_url().to_owned(), emulator.token());
//! use kommo_files::{blocking::Client, ClientConfig, UploadOptions};
//!
//! let client = Client::new(ClientConfig::for_url(&account_url, &token)?)?;
//! let file = client.upload_bytes("hello.txt", &b"hello"[..], UploadOptions::new())?;
//! let mut copy = Vec::new();
//! client.download(&file, &mut copy)?;
//! assert_eq!(copy, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// The files of `src/driver/` are compiled once per flavour (blocking.rs, asynchronous.rs), on
// purpose: that is how one source gives both clients.
#![allow(clippy::duplicate_mod)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod asynchronous;
pub mod auth;
pub mod blocking;
mod budget;
mod calls;
mod config;
mod error;
mod options;
mod pages;
mod support;
pub mod sync;
mod trace;
mod version;

pub use asynchronous::{Client, DownloadWrite, FileStream, UploadRead};
pub use budget::{FileBudget, LocalBudget, RateBudget};
pub use config::{ClientConfig, Domain};
pub use error::{DownloadError, Error, ErrorKind};
pub use options::{CancelHandle, Progress, UploadOptions};
pub use version::VersionUuid;

// The crates underneath, for what is not re-exported below.
pub use http;
pub use kommo_files_model as model;
pub use kommo_files_model::oauth;
pub use kommo_files_transport as transport;

// What everyday code needs, without knowing which crate it lives in.
pub use kommo_files_model::endpoint::FileQuery;
pub use kommo_files_model::retry::RetryPolicy;
pub use kommo_files_model::upload::{Checkpoint, UploadEvent};
pub use kommo_files_model::wire::{AttachmentNote, EntityType, FileObject, FileVersion};
pub use kommo_files_model::{redact_url, AccessToken, Operation};
pub use kommo_files_transport::Timeouts;

/// Reads a checkpoint saved by [`UploadOptions::checkpoint_file`] (or [`Checkpoint::to_json`]).
///
/// ```no_run
/// let checkpoint = kommo_files::load_checkpoint("upload.checkpoint.json")?;
/// println!("{} of {} bytes were sent", checkpoint.offset, checkpoint.source.size);
/// # Ok::<(), kommo_files::Error>(())
/// ```
pub fn load_checkpoint(path: impl AsRef<std::path::Path>) -> Result<Checkpoint, Error> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::io(format!("reading the checkpoint {}", path.display()), e))?;
    Ok(Checkpoint::from_json(&bytes)?)
}
