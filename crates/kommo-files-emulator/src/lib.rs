//! A faithful local server for the Kommo (amoCRM) Files API, with fault injection.
//!
//! It serves the two hosts of the real service on two loopback listeners: the **account host**
//! (`/api/v4/...`: account, entity file links, notes, `file` custom fields) and the **drive
//! host** (`/v1.0/...` sessions and files, the signed upload URLs, `/download/...`). A control
//! API — methods on [`EmulatorHandle`] and JSON under `/__emulator/` — schedules faults, moves
//! the clock, and shows the request log and the SHA-256 of every stored version.
//!
//! The account host also runs Kommo's OAuth 2.0 ([`Integration`], `POST /oauth2/access_token`,
//! a consent page that approves at once), and with the `tls` feature both hosts can serve
//! HTTPS ([`EmulatorBuilder::tls`]).
//!
//! It is an independent implementation of the wire contract (it shares no types with the SDK),
//! so the two check each other.
//!
//! ```
//! use kommo_files_emulator::{Emulator, Fault, FaultAction};
//!
//! // Starts on ephemeral ports with its own runtime; no tokio needed in the caller.
//! let emulator = Emulator::builder().start().expect("emulator starts");
//! println!("account {} drive {} token {}", emulator.account_url(), emulator.drive_url(), emulator.token());
//!
//! // Lose the answer of the first part upload after it was stored.
//! emulator.add_fault(Fault::new(FaultAction::CloseAfterCommit).method("POST").path("*/upload/*"));
//! // ... run the code under test against emulator.account_url() ...
//! for record in emulator.requests() {
//!     println!("{} {} -> {:?}", record.method, record.path, record.status);
//! }
//! // Dropping the handle stops the server.
//! ```
//!
//! See `docs/emulator.md` for the binary, the flags, the control API over HTTP and the
//! behaviour chosen where the public documentation is silent.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod account;
mod app;
mod auth;
mod clock;
mod config;
mod control;
mod drive;
mod faults;
mod handle;
mod http;
mod names;
mod oauth;
mod server;
mod state;
mod storage;
#[cfg(feature = "tls")]
mod tls;
mod token;

pub use app::RequestRecord;
pub use auth::{Scope, TokenGrant};
pub use config::{
    AttachStatus, Behavior, DeleteStatus, DownloadStatus, EmulatorConfig, MissingFileStatus,
    PartStatus, RateClock, RetryMode, UploadUrlShape, DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_PART_SIZE,
    DEFAULT_RATE_LIMIT, DEFAULT_TOKEN,
};
pub use control::{ClockStatus, StoredFile, StoredVersion, PREFIX as CONTROL_PREFIX};
pub use faults::{Fault, FaultAction, FaultStatus, HostKind, Occurrence};
pub use handle::{Emulator, EmulatorBuilder, EmulatorHandle};
pub use oauth::{Integration, IntegrationStatus, IssuedTokens};
pub use state::FILE_FIELD_ID_LEADS;
