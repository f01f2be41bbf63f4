//! [`ClientConfig`]: which account, which token, and how politely to talk to it.

use std::time::Duration;

use kommo_files_model::pacing::KOMMO_REQUESTS_PER_SECOND;
use kommo_files_model::retry::RetryPolicy;
use kommo_files_model::upload::UploadConfig;
use kommo_files_model::BaseUrl;
use kommo_files_transport::{Timeouts, TransportOptions};

use crate::Error;

/// The domain an account lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Domain {
    /// `{subdomain}.kommo.com`.
    Kommo,
    /// `{subdomain}.amocrm.ru`.
    AmocrmRu,
    /// `{subdomain}.amocrm.com`.
    AmocrmCom,
}

impl Domain {
    fn host(self) -> &'static str {
        match self {
            Self::Kommo => "kommo.com",
            Self::AmocrmRu => "amocrm.ru",
            Self::AmocrmCom => "amocrm.com",
        }
    }
}

/// Everything a client needs to know; shared by the blocking and the async client.
///
/// ```
/// use std::time::Duration;
/// use kommo_files::{ClientConfig, Domain};
///
/// let config = ClientConfig::for_account("mycompany", Domain::Kommo, "long-lived-token")?
///     .requests_per_second(Some(5))
///     .user_agent("invoices-sync/2.1");
/// assert_eq!(config.account_url().as_str(), "https://mycompany.kommo.com");
/// assert!(!format!("{config:?}").contains("long-lived-token"));
/// # Ok::<(), kommo_files::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    pub(crate) account: BaseUrl,
    pub(crate) drive: Option<BaseUrl>,
    pub(crate) credentials: crate::auth::Credentials,
    pub(crate) retry: RetryPolicy,
    upload_retry: Option<RetryPolicy>,
    upload: UploadConfig,
    pub(crate) max_response_body: usize,
    pub(crate) requests_per_second: Option<u32>,
    pub(crate) rate_budget: Option<crate::budget::SharedBudget>,
    pub(crate) user_agent: String,
    pub(crate) timeouts: Timeouts,
    /// The CA certificates (PEM) the built-in transports trust instead of the build's roots.
    ca_pem: Option<CaPem>,
}

/// A CA PEM, shown in `Debug` by its size.
#[derive(Clone)]
struct CaPem(std::sync::Arc<[u8]>);

impl std::fmt::Debug for CaPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes of PEM", self.0.len())
    }
}

impl ClientConfig {
    /// The account `https://{subdomain}.{domain}`, with a long-lived token or an OAuth access
    /// token.
    pub fn for_account(subdomain: &str, domain: Domain, token: &str) -> Result<Self, Error> {
        Self::new(BaseUrl::for_account(subdomain, domain.host())?, token)
    }

    /// The account at `url` (`https://example.kommo.com`, or an emulator's `http://127.0.0.1:…`).
    pub fn for_url(url: &str, token: &str) -> Result<Self, Error> {
        Self::new(BaseUrl::parse(url)?, token)
    }

    /// The account at `url` with any [`crate::auth::Credentials`]: OAuth 2.0 that refreshes
    /// itself, a long-lived token, or a provider of your own.
    ///
    /// ```
    /// use kommo_files::auth::Credentials;
    /// use kommo_files::oauth::{OAuthApp, RefreshToken, TokenSet};
    /// use kommo_files::{AccessToken, ClientConfig};
    ///
    /// let app = OAuthApp::new("client-id", "client-secret", "https://example.com/cb");
    /// let tokens = TokenSet::new(AccessToken::new("access")?, Some(RefreshToken::new("refresh")), None);
    /// let config = ClientConfig::with_credentials("https://example.kommo.com", Credentials::oauth(app, tokens))?;
    /// assert!(!format!("{config:?}").contains("client-secret"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_credentials(
        url: &str,
        credentials: crate::auth::Credentials,
    ) -> Result<Self, Error> {
        Ok(Self::from_credentials(BaseUrl::parse(url)?, credentials))
    }

    /// The same configuration with other credentials.
    pub fn credentials(mut self, credentials: crate::auth::Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    fn new(account: BaseUrl, token: &str) -> Result<Self, Error> {
        Ok(Self::from_credentials(
            account,
            crate::auth::Credentials::token(token)?,
        ))
    }

    fn from_credentials(account: BaseUrl, credentials: crate::auth::Credentials) -> Self {
        Self {
            account,
            drive: None,
            credentials,
            retry: RetryPolicy::default(),
            upload_retry: None,
            upload: UploadConfig::default(),
            max_response_body: kommo_files_transport::DEFAULT_BODY_LIMIT,
            requests_per_second: Some(KOMMO_REQUESTS_PER_SECOND),
            rate_budget: None,
            user_agent: concat!("kommo-files/", env!("CARGO_PKG_VERSION")).to_owned(),
            timeouts: Timeouts::default(),
            ca_pem: None,
        }
    }

    /// The drive host, when known (`drive_url` of `/api/v4/account?with=drive_url`); otherwise
    /// the client asks once and keeps the answer.
    pub fn drive_url(mut self, url: &str) -> Result<Self, Error> {
        self.drive = Some(BaseUrl::parse(url)?);
        Ok(self)
    }

    /// How API calls, downloads and upload requests are retried (default: 6 attempts,
    /// full-jitter backoff from 0.5 s to 30 s, at most 5 minutes). Uploads follow it unless
    /// [`ClientConfig::upload_retry`] says otherwise, in whatever order the two are set.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How upload requests (the session, each part) are retried, when not as
    /// [`ClientConfig::retry`].
    pub fn upload_retry(mut self, policy: RetryPolicy) -> Self {
        self.upload_retry = Some(policy);
        self
    }

    /// Upload tunables (lost-session policy, largest accepted part). Their retry policy is
    /// [`ClientConfig::upload_retry`] (or [`ClientConfig::retry`]), whatever this one holds.
    pub fn upload(mut self, upload: UploadConfig) -> Self {
        self.upload = upload;
        self
    }

    /// The largest error or JSON answer read into memory (default 16 MiB); a larger one is
    /// a transport error. Downloads stream and are not bounded by it.
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.max_response_body = bytes;
        self
    }

    /// What an upload runs with: the upload tunables with the upload retry policy.
    pub(crate) fn upload_config(&self) -> UploadConfig {
        let retry = self.upload_retry.unwrap_or(self.retry);
        self.upload.clone().retry(retry)
    }

    /// The request rate of the client, its clones and all their uploads together (default 7,
    /// Kommo's limit); `None` turns pacing off. A 429 halves it (down to a quarter) and answers
    /// bring it back slowly, since a 429 means someone else spends the account's budget too. Any `rate + 1` consecutive requests span at
    /// least 1.05 s, so network jitter cannot make the server count more than `rate` in a
    /// second (at 7/s the client sends 6.67 requests per second).
    pub fn requests_per_second(mut self, rate: Option<u32>) -> Self {
        self.requests_per_second = rate;
        self
    }

    /// Spend this budget instead of the client's own: share one between clients, or between
    /// processes with a [`crate::FileBudget`], or implement [`crate::RateBudget`] to share it
    /// between machines. It has its own rate; [`ClientConfig::requests_per_second`] is the
    /// rate of the budget a client makes when it is given none.
    pub fn rate_budget(mut self, budget: std::sync::Arc<dyn crate::RateBudget>) -> Self {
        self.rate_budget = Some(budget);
        self
    }

    /// The budget a client spends: the one given, or a new one at the configured rate, or none
    /// when pacing is off.
    pub(crate) fn budget(&self) -> Option<crate::budget::SharedBudget> {
        match (&self.rate_budget, self.requests_per_second) {
            (Some(budget), _) => Some(budget.clone()),
            (None, Some(rate)) => Some(std::sync::Arc::new(crate::LocalBudget::new(rate))),
            (None, None) => None,
        }
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Timeouts of the built-in transports (per attempt).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Shortcut for [`ClientConfig::timeouts`] with this connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts = self.timeouts.connect(timeout);
        self
    }

    /// Shortcut for [`ClientConfig::timeouts`] with this read (idle) timeout.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts = self.timeouts.read(timeout);
        self
    }

    /// Make the built-in transports verify the server against the CA certificates in `pem`
    /// (one or more `BEGIN CERTIFICATE` blocks) instead of the roots the features chose: for a
    /// corporate TLS proxy with its own CA, or a test server such as the emulator with `tls`.
    /// Like `curl --cacert`, it replaces those roots; pass a bundle to keep them too. A PEM
    /// without a certificate makes `Client::new` fail; a server whose certificate the CA did
    /// not sign fails with [`crate::ErrorKind::Certificate`] before anything is sent. A
    /// transport of your own ignores it.
    ///
    /// ```
    /// # #[cfg(all(feature = "ureq", any(feature = "rustls", feature = "native-tls")))] {
    /// # let emulator = kommo_files_emulator::Emulator::builder().tls(true).start()?;
    /// use kommo_files::{blocking::Client, ClientConfig};
    ///
    /// // https://127.0.0.1:…, signed by a CA made at the emulator's start.
    /// let ca_pem = emulator.ca_certificate_pem().expect("a CA");
    /// let config = ClientConfig::for_url(emulator.account_url(), &emulator.token())?
    ///     .trust_ca_pem(ca_pem);
    /// let client = Client::new(config)?;
    /// assert_eq!(client.list(Default::default()).count(), 0);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn trust_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.ca_pem = Some(CaPem(std::sync::Arc::from(pem.as_ref())));
        self
    }

    /// What the built-in transports are built with: the timeouts and the CA to trust.
    pub fn transport_options(&self) -> TransportOptions {
        let options = TransportOptions::new().timeouts(self.timeouts);
        match &self.ca_pem {
            Some(CaPem(pem)) => options.trust_ca_pem(pem),
            None => options,
        }
    }

    /// The account's base URL.
    pub fn account_url(&self) -> &BaseUrl {
        &self.account
    }
}
