//! [`Timeouts`] of the built-in adapters.

use std::time::Duration;

/// How long the built-in adapters wait. Each bound applies to one attempt: the SDK's retries sit
/// outside it.
///
/// ```
/// use std::time::Duration;
/// use kommo_files_transport::Timeouts;
///
/// let timeouts = Timeouts::default().connect(Duration::from_secs(5));
/// assert_eq!(timeouts.connect, Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Establishing the connection (TCP and TLS).
    pub connect: Duration,
    /// The longest silence while sending the request or reading the response.
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(120),
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
}
