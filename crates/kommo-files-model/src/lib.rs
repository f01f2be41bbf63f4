//! The pure (sans-IO) model of the Kommo Files API.
//!
//! Everything a client needs to decide lives here, and nothing here touches a socket, a file or a
//! clock: time and randomness come in as arguments, bytes come in and requests go out as values.
//!
//! - [`wire`]: every object the API sends or receives, parsed tolerantly.
//! - [`endpoint`]: pure request builders and response parsers for every endpoint.
//! - [`upload`]: the resumable upload state machine and its [`upload::Checkpoint`].
//! - [`retry`] and [`pacing`]: backoff with full jitter and the 7 requests/s token bucket.
//! - [`oauth`]: OAuth 2.0 grants, the token set, the consent redirect and when to refresh.
//! - [`call`] and [`download`]: sans-IO machines for one API call and one streamed download,
//!   retried only when that is safe for the [`Operation`].
//!
//! ```
//! use kommo_files_model::{endpoint, wire::NewSession, AccessToken, BaseUrl};
//!
//! let drive = endpoint::DriveHost::new(
//!     BaseUrl::parse("https://drive-c.kommo.com")?,
//!     AccessToken::new("token")?,
//! );
//! let request = endpoint::create_session_request(&drive, &NewSession::new("a.pdf", 10));
//! assert_eq!(request.method(), http::Method::POST);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attempts;
pub mod base_url;
pub mod call;
pub mod download;
pub mod endpoint;
mod error;
mod html;
pub mod oauth;
pub mod operation;
pub mod pacing;
pub mod retry;
mod retry_after;
mod token;
pub mod upload;
pub mod wire;

pub use base_url::{redact_url, BaseUrl, UrlError};
pub use error::ApiError;
pub use operation::Operation;
pub use retry_after::RetryAfter;
pub use token::{AccessToken, InvalidToken};
