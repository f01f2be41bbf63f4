//! The transport seam of `kommo-files`: how a request reaches the network.
//!
//! The SDK builds every request as an `http::Request<Bytes>` and wants a response back; a
//! transport is anything that can send it. Two traits cover the two flavours:
//!
//! - [`BlockingTransport`] for scripts and threads;
//! - [`AsyncTransport`] for services, which also supplies the runtime's `sleep`.
//!
//! Each has one required method, `send_streaming`, which returns the response as soon as its
//! head is in, with a [`BlockingBody`] / [`AsyncBody`] still to be read. The buffered `send` is
//! provided on top of it and reads at most [`DEFAULT_BODY_LIMIT`] bytes
//! ([`ErrorKind::TooLarge`] beyond), so a wrapper that forwards the one required method never
//! buffers a download by accident. [`SharedBlockingTransport`] and [`SharedAsyncTransport`] are
//! the object-safe, cloneable handles the clients keep.
//!
//! A non-2xx status is a response, never a [`TransportError`]: the SDK decides what a status
//! means. A [`TransportError`] is reserved for "no complete response", and its [`ErrorKind`] says
//! whether the request may have reached the server, so retries stay safe.
//!
//! Each request carries an [`OperationContext`] in its extensions (what it is, whether it may be
//! repeated, which attempt and which part), so a wrapper transport can log or meter it. Log the
//! request with [`redacted`] / [`redacted_uri`], never its raw URI: an upload URL carries a
//! signed session token, which they replace with `…` (the adapters' error messages go through
//! the same redaction).
//!
//! Built-in adapters sit behind features, and TLS (https) behind others, named after what they
//! choose:
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `ureq` | [`UreqTransport`] (blocking, ureq 3); plain HTTP unless a TLS feature is on |
//! | `reqwest` | [`ReqwestTransport`] (async, reqwest 0.13 on tokio); plain HTTP unless a TLS feature is on |
//! | `rustls` | https with rustls on the `ring` provider for both adapters, trusting Mozilla's roots (built in) |
//! | `native-tls` | https with the platform's TLS library (OpenSSL, SChannel, Security.framework) and its root store; wins over `rustls` when both are on |
//! | `platform-roots` | with `rustls`: trust the platform's verifier and root store instead of the built-in roots (implies `rustls`) |
//!
//! None is on by default. [`TransportOptions`] carry the [`Timeouts`] and, for a server whose
//! CA the build does not trust (a corporate proxy, a test server), the CA certificates to trust
//! instead ([`TransportOptions::trust_ca_pem`]); a certificate that is refused is an
//! [`ErrorKind::Certificate`], raised before the request is sent. The adapters' backend types
//! never appear in a signature except in `From` constructors, so a backend upgrade is not a
//! breaking change here. Their [`Timeouts`] bound silences, not transfers.
//!
//! ```
//! use bytes::Bytes;
//! use kommo_files_transport::{fn_transport, BlockingTransport};
//!
//! // A closure is a transport: handy in tests.
//! let transport = fn_transport(|request: http::Request<Bytes>| {
//!     assert_eq!(request.uri(), "http://127.0.0.1/ping");
//!     Ok(http::Response::new(Bytes::from_static(b"pong")))
//! });
//! let request = http::Request::get("http://127.0.0.1/ping").body(Bytes::new())?;
//! assert_eq!(transport.send(request)?.body(), "pong");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod asynchronous;
mod blocking;
mod body;
mod context;
mod error;
mod options;
mod redact;
#[cfg(feature = "reqwest")]
mod reqwest_adapter;
mod timeouts;
#[cfg(feature = "ureq")]
mod ureq_adapter;

pub use asynchronous::{
    async_fn_streaming_transport, async_fn_transport, AsyncFnStreamingTransport, AsyncFnTransport,
    AsyncTransport, SharedAsyncTransport,
};
pub use blocking::{
    fn_streaming_transport, fn_transport, BlockingTransport, FnStreamingTransport, FnTransport,
    SharedBlockingTransport,
};
pub use body::{AsyncBody, AsyncBodySource, BlockingBody, BoxFuture, DEFAULT_BODY_LIMIT};
pub use context::{Operation, OperationContext};
pub use error::{ErrorKind, TransportError};
pub use options::TransportOptions;
pub use redact::{redacted, redacted_uri};
#[cfg(feature = "reqwest")]
pub use reqwest_adapter::ReqwestTransport;
pub use timeouts::Timeouts;
#[cfg(feature = "ureq")]
pub use ureq_adapter::UreqTransport;

/// The request type every transport takes.
pub type Request = http::Request<bytes::Bytes>;
/// The buffered response type every transport returns.
pub type Response = http::Response<bytes::Bytes>;
