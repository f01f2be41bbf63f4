//! [`Timeouts`] of the built-in adapters.

use std::time::Duration;

/// How long the built-in adapters wait. Each bound applies to one attempt: the SDK's retries sit
/// outside it.
///
/// `read` and `write` bound **silences**, not transfers: each restarts whenever bytes move, so a
/// slow but steady body of many minutes (a large download, a part on a thin uplink) is never cut
/// off, while a connection that stops moving fails within the bound. Neither adapter sets a
/// total deadline; put one around the call (or use the SDK's cancellation) if you want it.
///
/// - [`UreqTransport`](crate::UreqTransport): ureq's `timeout_per_read` / `timeout_per_write`
///   (restarted by every socket read and write), and none of its phase or global timeouts.
/// - [`ReqwestTransport`](crate::ReqwestTransport): the adapter itself watches the request body
///   being taken (`write`), then the wait for the response head and every body chunk (`read`);
///   reqwest's own `read_timeout` is not used, since it would run from the start of the request
///   to the head and so bound an upload as a whole.
///
/// ```
/// use std::time::Duration;
/// use kommo_files_transport::Timeouts;
///
/// let timeouts = Timeouts::default()
///     .connect(Duration::from_secs(5))
///     .read(Duration::from_secs(60))
///     .write(Duration::from_secs(30));
/// assert_eq!(timeouts.connect, Duration::from_secs(5));
/// assert_eq!((timeouts.read, timeouts.write), (Duration::from_secs(60), Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Establishing the connection (TCP and TLS).
    pub connect: Duration,
    /// The longest silence while waiting for the response or reading its body.
    pub read: Duration,
    /// The longest stall while sending the request (its head and body).
    pub write: Duration,
}

impl Default for Timeouts {
    /// 10 s to connect, 120 s of silence either way.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(120),
            write: Duration::from_secs(120),
        }
    }
}

impl Timeouts {
    /// With this connect timeout.
    pub fn connect(mut self, connect: Duration) -> Self {
        self.connect = connect;
        self
    }

    /// With this read (idle) timeout.
    pub fn read(mut self, read: Duration) -> Self {
        self.read = read;
        self
    }

    /// With this write (idle) timeout.
    pub fn write(mut self, write: Duration) -> Self {
        self.write = write;
        self
    }
}
