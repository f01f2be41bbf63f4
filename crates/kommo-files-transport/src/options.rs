//! [`TransportOptions`] of the built-in adapters: timeouts and which CA to trust.

use std::fmt;
use std::sync::Arc;

use crate::Timeouts;

/// How the built-in adapters ([`UreqTransport`](crate::UreqTransport),
/// [`ReqwestTransport`](crate::ReqwestTransport)) connect: their [`Timeouts`] and, for a server
/// whose certificate the build's roots do not vouch for (a corporate TLS proxy, a test server),
/// the CA certificates to trust instead.
///
/// Which TLS stack and which roots are used by default is chosen by the crate's features (see
/// the table in the crate docs); a CA given here replaces those roots for this transport, like
/// `curl --cacert` or `SSL_CERT_FILE`. To keep the public roots too, pass a bundle that holds
/// them as well (on Debian, `/etc/ssl/certs/ca-certificates.crt` followed by your CA).
///
/// ```
/// use std::time::Duration;
/// use kommo_files_transport::{Timeouts, TransportOptions};
///
/// let pem = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
/// let options = TransportOptions::new()
///     .timeouts(Timeouts::default().connect(Duration::from_secs(5)))
///     .trust_ca_pem(pem);
/// assert_eq!(options.ca_pem(), Some(pem.as_bytes()));
/// assert_eq!(options.timeouts.connect, Duration::from_secs(5));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportOptions {
    /// How long each attempt waits (see [`Timeouts`]).
    pub timeouts: Timeouts,
    /// The CA certificates to trust (PEM), when not the build's roots.
    ca_pem: Option<Arc<[u8]>>,
}

impl TransportOptions {
    /// Default timeouts, the build's roots.
    pub fn new() -> Self {
        Self::default()
    }

    /// With these timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Verify servers against the CA certificates in `pem` (one or more `BEGIN CERTIFICATE`
    /// blocks; anything else in it is ignored) instead of the build's roots. Needs a TLS
    /// feature (`rustls` or `native-tls`); the adapter's constructor fails when the PEM holds no
    /// certificate it can parse.
    pub fn trust_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.ca_pem = Some(Arc::from(pem.as_ref()));
        self
    }

    /// The CA certificates to trust (PEM), if given.
    pub fn ca_pem(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }
}

impl From<Timeouts> for TransportOptions {
    fn from(timeouts: Timeouts) -> Self {
        Self::new().timeouts(timeouts)
    }
}

impl fmt::Debug for TransportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportOptions")
            .field("timeouts", &self.timeouts)
            .field(
                "ca_pem",
                &self
                    .ca_pem
                    .as_ref()
                    .map(|pem| format!("{} bytes", pem.len())),
            )
            .finish()
    }
}
