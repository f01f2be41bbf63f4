//! Starting the emulator: the builder, and the handle that exposes its URLs, tokens and the
//! control API, and stops it on drop.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use std::{fmt, io};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{App, RequestRecord};
use crate::auth::{Scope, TokenGrant};
use crate::config::{
    AttachStatus, Behavior, DeleteStatus, DownloadStatus, EmulatorConfig, MissingFileStatus,
    PartStatus, RateClock, RetryMode, UploadUrlShape,
};
use crate::control::{ClockStatus, StoredFile};
use crate::faults::{Fault, FaultStatus, HostKind};
use crate::oauth::{Integration, IntegrationStatus, IssuedTokens};
use crate::server::{accept_loop, Tls};

/// Entry point: `Emulator::builder()`.
///
/// ```
/// let emulator = kommo_files_emulator::Emulator::builder().start().unwrap();
/// assert!(emulator.drive_url().starts_with("http://127.0.0.1:"));
/// ```
#[derive(Debug)]
pub struct Emulator(());

impl Emulator {
    /// A builder with the defaults: loopback, ephemeral ports, in memory, one full-scope token
    /// ([`DEFAULT_TOKEN`](crate::DEFAULT_TOKEN)), and the live-observed behaviour.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}

/// Configures and starts an emulator.
///
/// ```
/// use kommo_files_emulator::{Emulator, PartStatus, RetryMode, Scope};
///
/// let emulator = Emulator::builder()
///     .token("full", Scope::ALL)
///     .token("read-only", [Scope::Files])
///     .max_part_size(1024)
///     .part_status(PartStatus::Ok200)
///     .retry_mode(RetryMode::Strict)
///     .start()
///     .expect("emulator starts");
/// assert_eq!(emulator.token(), "full");
/// assert_eq!(emulator.behavior().max_part_size, 1024);
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "call .start() to run the emulator"]
pub struct EmulatorBuilder {
    config: EmulatorConfig,
}

impl EmulatorBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: EmulatorConfig) -> Self {
        self.config = config;
        self
    }

    /// Address to bind (default `127.0.0.1`).
    pub fn bind(mut self, address: IpAddr) -> Self {
        self.config.bind = address;
        self
    }

    /// Port of the account host (default `0`: any free port).
    pub fn account_port(mut self, port: u16) -> Self {
        self.config.account_port = port;
        self
    }

    /// Port of the drive host (default `0`: any free port).
    pub fn drive_port(mut self, port: u16) -> Self {
        self.config.drive_port = port;
        self
    }

    /// Keep bytes and state in this directory (created if missing) so they survive a restart.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = Some(dir.into());
        self
    }

    /// Accept `token` with these scopes. The first token added is [`EmulatorHandle::token`].
    pub fn token(
        mut self,
        token: impl Into<String>,
        scopes: impl IntoIterator<Item = Scope>,
    ) -> Self {
        self.config.tokens.push(TokenGrant::new(token, scopes));
        self
    }

    /// Accept a fully described token grant.
    pub fn grant(mut self, grant: TokenGrant) -> Self {
        self.config.tokens.push(grant);
        self
    }

    /// Registers an OAuth integration: its users can consent at `GET /oauth` and its server
    /// can get and refresh tokens at `POST /oauth2/access_token` (repeatable).
    pub fn integration(mut self, integration: Integration) -> Self {
        self.config.integrations.push(integration);
        self
    }

    /// Whether token answers carry `server_time` (default `true`).
    pub fn oauth_server_time(mut self, server_time: bool) -> Self {
        self.config.behavior.oauth_server_time = server_time;
        self
    }

    /// Replaces all behaviour switches.
    pub fn behavior(mut self, behavior: Behavior) -> Self {
        self.config.behavior = behavior;
        self
    }

    /// Status of non-final parts (default 202).
    pub fn part_status(mut self, status: PartStatus) -> Self {
        self.config.behavior.part_status = status;
        self
    }

    /// Success of batch delete (default 204).
    pub fn delete_status(mut self, status: DeleteStatus) -> Self {
        self.config.behavior.delete_status = status;
        self
    }

    /// Success of attach/detach (default 202).
    pub fn attach_status(mut self, status: AttachStatus) -> Self {
        self.config.behavior.attach_status = status;
        self
    }

    /// Answer for an unknown file on GET (default 404).
    pub fn missing_file_status(mut self, status: MissingFileStatus) -> Self {
        self.config.behavior.missing_file_status = status;
        self
    }

    /// Behaviour on a repeated last part (default replay).
    pub fn retry_mode(mut self, mode: RetryMode) -> Self {
        self.config.behavior.retry_mode = mode;
        self
    }

    /// How download links answer (default a 301 to the storage URL, as observed live).
    pub fn download_status(mut self, status: DownloadStatus) -> Self {
        self.config.behavior.download_status = status;
        self
    }

    /// Shape of the upload URLs handed out (default `/upload/{token}`).
    pub fn upload_url_shape(mut self, shape: UploadUrlShape) -> Self {
        self.config.behavior.upload_url_shape = shape;
        self
    }

    /// `max_part_size` in bytes (default 524288).
    pub fn max_part_size(mut self, bytes: u64) -> Self {
        self.config.behavior.max_part_size = bytes;
        self
    }

    /// `max_file_size` in bytes (default 314572800).
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.config.behavior.max_file_size = bytes;
        self
    }

    /// Requests per second per token; `None` (the default in-process) switches limiting off.
    pub fn rate_limit(mut self, per_second: Option<u32>) -> Self {
        self.config.behavior.rate_limit_per_second = per_second;
        self
    }

    /// What the rate limit's one-second windows follow (default [`RateClock::Real`]);
    /// [`RateClock::Manual`] makes them move only with
    /// [`advance_clock`](EmulatorHandle::advance_clock), for tests that must not depend on
    /// how fast the machine is.
    pub fn rate_clock(mut self, clock: RateClock) -> Self {
        self.config.behavior.rate_clock = clock;
        self
    }

    /// Start as a blocked account: every request answers 403 with an HTML page.
    pub fn blocked(mut self, blocked: bool) -> Self {
        self.config.behavior.blocked = blocked;
        self
    }

    /// Real time added before every API answer, like a network round trip (default none).
    pub fn response_latency(mut self, latency: Duration) -> Self {
        self.config.behavior.response_latency_ms =
            u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self
    }

    fn bind_std(&self) -> io::Result<(std::net::TcpListener, std::net::TcpListener)> {
        let bind = |port| -> io::Result<std::net::TcpListener> {
            let listener = std::net::TcpListener::bind(SocketAddr::new(self.config.bind, port))?;
            listener.set_nonblocking(true)?;
            Ok(listener)
        };
        Ok((
            bind(self.config.account_port)?,
            bind(self.config.drive_port)?,
        ))
    }

    /// Serve HTTPS on both listeners (feature `tls`, on by default): a CA and a server
    /// certificate for `127.0.0.1`, `::1` and `localhost` are made at start, the URLs become
    /// `https://127.0.0.1:port`, and the CA certificate is written to a file
    /// ([`EmulatorHandle::ca_certificate_path`]) for clients to trust. Without the feature,
    /// starting fails with [`io::ErrorKind::Unsupported`].
    pub fn tls(mut self, tls: bool) -> Self {
        self.config.tls = tls;
        self
    }

    /// Where to write the CA certificate with [`tls`](Self::tls) (default: `ca.pem` in the
    /// data directory, or else a temp file removed when the emulator stops).
    pub fn tls_ca_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.tls_ca_path = Some(path.into());
        self
    }

    /// Binds both listeners, builds the app and, with TLS, the certificates.
    fn prepare(&self) -> io::Result<Prepared> {
        #[cfg(not(feature = "tls"))]
        if self.config.tls {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TLS asked for, but kommo-files-emulator was built without its `tls` feature",
            ));
        }
        let (account, drive) = self.bind_std()?;
        let app = self.app(&account, &drive)?;
        #[cfg(feature = "tls")]
        let (tls, ca) = if self.config.tls {
            let setup = crate::tls::generate(self.config.bind)?;
            let port = account.local_addr()?.port();
            let ca = CaFile::write(&self.config, port, setup.ca_pem)?;
            (Some(setup.acceptor), Some(ca))
        } else {
            (None, None)
        };
        #[cfg(not(feature = "tls"))]
        let (tls, ca): (Tls, Option<CaFile>) = (None, None);
        Ok(Prepared {
            account,
            drive,
            app,
            tls,
            ca,
        })
    }

    fn app(
        &self,
        account: &std::net::TcpListener,
        drive: &std::net::TcpListener,
    ) -> io::Result<Arc<App>> {
        let scheme = if self.config.tls { "https" } else { "http" };
        let url = |listener: &std::net::TcpListener| -> io::Result<String> {
            let address = listener.local_addr()?;
            // A wildcard bind is still reached through loopback from this machine.
            let ip = if address.ip().is_unspecified() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                address.ip()
            };
            Ok(format!(
                "{scheme}://{}",
                SocketAddr::new(ip, address.port())
            ))
        };
        Ok(Arc::new(App::new(
            &self.config,
            url(account)?,
            url(drive)?,
        )?))
    }

    /// Starts the emulator on its own runtime in a background thread: usable from plain
    /// synchronous code. The handle stops it when dropped.
    ///
    /// ```
    /// let emulator = kommo_files_emulator::Emulator::builder().start().unwrap();
    /// println!("account host at {}", emulator.account_url());
    /// ```
    pub fn start(self) -> io::Result<EmulatorHandle> {
        let Prepared {
            account,
            drive,
            app,
            tls,
            ca,
        } = self.prepare()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kommo-files-emulator")
            .enable_all()
            .build()?;
        let (shutdown, stopped) = watch::channel(false);
        {
            let _context = runtime.enter();
            let account = TcpListener::from_std(account)?;
            let drive = TcpListener::from_std(drive)?;
            runtime.spawn(accept_loop(
                account,
                app.clone(),
                HostKind::Account,
                tls.clone(),
                stopped.clone(),
            ));
            runtime.spawn(accept_loop(
                drive,
                app.clone(),
                HostKind::Drive,
                tls,
                stopped.clone(),
            ));
        }
        let mut stopped = stopped;
        let thread = std::thread::Builder::new()
            .name("kommo-files-emulator".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    while !*stopped.borrow_and_update() {
                        if stopped.changed().await.is_err() {
                            break;
                        }
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(2));
            })?;
        Ok(EmulatorHandle {
            app,
            shutdown,
            thread: Some(thread),
            ca,
        })
    }

    /// Starts the emulator on the current tokio runtime (multi-threaded or current-thread).
    /// The handle stops it when dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let emulator = kommo_files_emulator::Emulator::builder().start_async().await.unwrap();
    /// assert_ne!(emulator.account_url(), emulator.drive_url());
    /// # }
    /// ```
    pub async fn start_async(self) -> io::Result<EmulatorHandle> {
        let Prepared {
            account,
            drive,
            app,
            tls,
            ca,
        } = self.prepare()?;
        let (shutdown, stopped) = watch::channel(false);
        let account = TcpListener::from_std(account)?;
        let drive = TcpListener::from_std(drive)?;
        tokio::spawn(accept_loop(
            account,
            app.clone(),
            HostKind::Account,
            tls.clone(),
            stopped.clone(),
        ));
        tokio::spawn(accept_loop(
            drive,
            app.clone(),
            HostKind::Drive,
            tls,
            stopped,
        ));
        Ok(EmulatorHandle {
            app,
            shutdown,
            thread: None,
            ca,
        })
    }
}

/// Listeners, app and TLS set up, not yet serving.
struct Prepared {
    account: std::net::TcpListener,
    drive: std::net::TcpListener,
    app: Arc<App>,
    tls: Tls,
    ca: Option<CaFile>,
}

/// The CA certificate of an HTTPS emulator and the file it was written to.
#[derive(Debug)]
struct CaFile {
    pem: String,
    path: PathBuf,
    /// A temp file of ours: removed when the emulator stops.
    remove_on_drop: bool,
}

impl CaFile {
    #[cfg(feature = "tls")]
    fn write(config: &EmulatorConfig, port: u16, pem: String) -> io::Result<Self> {
        let (path, remove_on_drop) = match (&config.tls_ca_path, &config.data_dir) {
            (Some(path), _) => (path.clone(), false),
            (None, Some(dir)) => (dir.join("ca.pem"), false),
            (None, None) => (
                std::env::temp_dir().join(format!(
                    "kommo-files-emulator-ca-{}-{port}.pem",
                    std::process::id()
                )),
                true,
            ),
        };
        std::fs::write(&path, &pem).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot write the CA certificate to {}: {e}", path.display()),
            )
        })?;
        Ok(CaFile {
            pem,
            path,
            remove_on_drop,
        })
    }
}

/// A running emulator: its URLs and tokens, and the in-process control API. Dropping it stops
/// the emulator and closes open connections.
///
/// ```
/// use std::time::Duration;
/// use kommo_files_emulator::{Emulator, Fault, FaultAction};
///
/// let emulator = Emulator::builder().start().unwrap();
/// let id = emulator.add_fault(Fault::new(FaultAction::HtmlError { status: 502 }).path("/v1.0/files"));
/// assert_eq!(emulator.faults()[0].id, id);
/// let before = emulator.now();
/// emulator.advance_clock(Duration::from_secs(3600));
/// assert!(emulator.now() >= before + 3600);
/// assert!(emulator.requests().is_empty());
/// assert!(emulator.files().is_empty());
/// ```
pub struct EmulatorHandle {
    app: Arc<App>,
    shutdown: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    ca: Option<CaFile>,
}

impl fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("account_url", &self.app.account_url)
            .field("drive_url", &self.app.drive_url)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    /// Base URL of the account host, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn account_url(&self) -> &str {
        &self.app.account_url
    }

    /// Base URL of the drive host (what `GET /api/v4/account?with=drive_url` returns).
    pub fn drive_url(&self) -> &str {
        &self.app.drive_url
    }

    /// The CA certificate (PEM) that signed the HTTPS listeners' certificate, when started
    /// with [`tls`](EmulatorBuilder::tls); `None` for plain HTTP.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.ca.as_ref().map(|ca| ca.pem.as_str())
    }

    /// The file holding [`ca_certificate_pem`](Self::ca_certificate_pem): give it to clients
    /// (`curl --cacert`, `NODE_EXTRA_CA_CERTS`, `REQUESTS_CA_BUNDLE`, ...). `None` for plain
    /// HTTP.
    pub fn ca_certificate_path(&self) -> Option<&std::path::Path> {
        self.ca.as_ref().map(|ca| ca.path.as_path())
    }

    /// The first configured token (the default one has every scope).
    pub fn token(&self) -> String {
        self.app
            .tokens()
            .first()
            .map(|g| g.token.clone())
            .unwrap_or_default()
    }

    /// All accepted tokens and their scopes.
    pub fn tokens(&self) -> Vec<TokenGrant> {
        self.app.tokens()
    }

    /// Accepts another token (replacing a grant with the same token).
    pub fn add_token(&self, grant: TokenGrant) {
        self.app.add_token(grant);
    }

    /// Registers an OAuth integration (replacing one with the same `client_id`, which is then
    /// active again).
    pub fn add_integration(&self, integration: Integration) {
        self.app.lock().oauth.add(integration);
    }

    /// Revokes an integration, as when the account disables or removes it: its access tokens
    /// get 401 everywhere, its refresh tokens and credentials 401 at the token endpoint, until
    /// a new consent. `false` if there is no integration with that `client_id`.
    pub fn revoke_integration(&self, client_id: &str) -> bool {
        self.app.lock().oauth.revoke(client_id)
    }

    /// The registered integrations (without their secrets).
    pub fn integrations(&self) -> Vec<IntegrationStatus> {
        self.app.lock().oauth.statuses()
    }

    /// An authorization code, as if the user had just approved the integration on the consent
    /// page (a revoked integration is active again). It lives 20 minutes and is single-use.
    ///
    /// For an unknown `client_id` the answer is a code the token endpoint refuses (400).
    ///
    /// ```
    /// use kommo_files_emulator::{Emulator, Integration};
    /// let emulator = Emulator::builder()
    ///     .integration(Integration::new("client", "secret", "https://example.test/cb"))
    ///     .start()
    ///     .unwrap();
    /// let code = emulator.authorization_code("client");
    /// assert!(code.starts_with("def50200"));
    /// ```
    pub fn authorization_code(&self, client_id: &str) -> String {
        self.app.authorization_code(client_id)
    }

    /// A fresh token pair for the integration, without going through a code (as if consent was
    /// given and the code exchanged), so a test can start from a pair.
    ///
    /// For an unknown `client_id` the answer holds tokens the emulator does not know: the
    /// access token gets 401 and the refresh token 400.
    ///
    /// ```
    /// use kommo_files_emulator::{Emulator, Integration};
    /// let emulator = Emulator::builder()
    ///     .integration(Integration::new("client", "secret", "https://example.test/cb"))
    ///     .start()
    ///     .unwrap();
    /// let tokens = emulator.issue_tokens("client");
    /// assert_eq!(tokens.expires_in, 86_400);
    /// assert_eq!(tokens.access_token.split('.').count(), 3);
    /// ```
    pub fn issue_tokens(&self, client_id: &str) -> IssuedTokens {
        self.app.issue_tokens(client_id)
    }

    /// `{account_url}/oauth2/access_token`, the token endpoint.
    pub fn oauth_token_url(&self) -> String {
        format!("{}/oauth2/access_token", self.app.account_url)
    }

    /// Schedules a fault; returns its id.
    pub fn add_fault(&self, fault: Fault) -> u64 {
        self.app.add_fault(fault)
    }

    /// Removes one fault; `false` if there was none with that id.
    pub fn remove_fault(&self, id: u64) -> bool {
        self.app.remove_fault(id)
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.app.clear_faults();
    }

    /// The fault schedule with match and fire counts.
    pub fn faults(&self) -> Vec<FaultStatus> {
        self.app.faults()
    }

    /// Every API request seen so far (the control API itself is not logged).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.app.requests()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.app.clear_requests();
    }

    /// Moves the emulator clock forward (sessions expire, the trash is purged, and the rate
    /// limit's windows move by `by` too: a second or more opens a new window); returns the new
    /// time. The calendar moves by whole seconds.
    ///
    /// Advancing saturates rather than wrapping: the calendar stops at 9999-12-31T23:59:59Z
    /// (Unix 253402300799) and the rate clock at [`Duration::MAX`], so time never goes back.
    pub fn advance_clock(&self, by: Duration) -> ClockStatus {
        self.app.advance_clock(by)
    }

    /// Unix seconds on the emulator clock.
    pub fn now(&self) -> i64 {
        self.app.clock.now()
    }

    /// Every stored file with each version's size and SHA-256.
    pub fn files(&self) -> Vec<StoredFile> {
        self.app.stored_files()
    }

    /// The stored bytes of a version, if it exists.
    pub fn version_bytes(&self, version_uuid: &str) -> Option<Vec<u8>> {
        self.app.version_bytes(version_uuid)
    }

    /// The current behaviour switches.
    pub fn behavior(&self) -> Behavior {
        self.app.behavior()
    }

    /// Changes behaviour switches while running.
    ///
    /// ```
    /// # let emulator = kommo_files_emulator::Emulator::builder().start().unwrap();
    /// emulator.update_config(|b| b.blocked = true);
    /// assert!(emulator.behavior().blocked);
    /// ```
    pub fn update_config(&self, change: impl FnOnce(&mut Behavior)) {
        let mut behavior = self.app.behavior();
        change(&mut behavior);
        self.app.set_behavior(behavior);
    }

    /// Stops the emulator now (the same as dropping the handle).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(ca) = self.ca.as_ref().filter(|ca| ca.remove_on_drop) {
            let _ = std::fs::remove_file(&ca.path);
        }
    }
}
