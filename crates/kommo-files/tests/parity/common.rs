//! What both flavours share: the emulator setup, fast client settings, test data, and readers of
//! the emulator's request log and stored bytes. Nothing here talks to a client.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use kommo_files::model::pacing::DELIVERY_JITTER;
use kommo_files::model::retry::RetryPolicy;
use kommo_files::transport::{
    AsyncBody, AsyncTransport, BlockingBody, BlockingTransport, Request, TransportError,
};
use kommo_files::{ClientConfig, Progress};
use kommo_files_emulator::{
    Emulator, EmulatorBuilder, EmulatorHandle, FaultAction, RequestRecord, Scope,
};
use sha2::{Digest, Sha256};

/// The emulator's part size in these tests: small, so multi-part uploads stay quick.
pub const PART: u64 = 64 * 1024;

/// The bearer token of every scenario: distinctive, so its absence from output can be checked.
pub const TOKEN: &str = "parity-secret-token-7f3a9c51";

/// An emulator with small parts that accepts [`TOKEN`] with every scope.
pub fn emulator() -> EmulatorBuilder {
    Emulator::builder()
        .token(TOKEN, Scope::ALL)
        .max_part_size(PART)
}

/// Quick retries: the scenarios inject faults on purpose.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default().delays(Duration::from_millis(10), Duration::from_millis(50))
}

/// A client configuration for `emulator` with `token`, fast retries and no pacing.
pub fn config_with_token(emulator: &EmulatorHandle, token: &str) -> ClientConfig {
    ClientConfig::for_url(emulator.account_url(), token)
        .expect("emulator URL and token are valid")
        .retry(fast_retry())
        .requests_per_second(None)
}

/// A client configuration for `emulator` with [`TOKEN`], fast retries and no pacing.
pub fn config(emulator: &EmulatorHandle) -> ClientConfig {
    config_with_token(emulator, TOKEN)
}

/// `len` bytes that differ from one `seed` to the next and are not periodic at part size.
pub fn data(len: u64, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + i / 251) as u8).wrapping_add(seed.wrapping_mul(17)))
        .collect()
}

/// Lowercase hex SHA-256, as the emulator reports it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The emulator's SHA-256 of the active version of file `uuid`.
pub fn active_sha256(emulator: &EmulatorHandle, uuid: &str) -> String {
    let file = emulator
        .files()
        .into_iter()
        .find(|f| f.uuid == uuid)
        .unwrap_or_else(|| panic!("file {uuid} is stored"));
    file.versions
        .into_iter()
        .find(|v| v.is_main)
        .expect("a stored file has an active version")
        .sha256
}

/// The emulator's SHA-256 of version `version_uuid`, whichever file it belongs to.
pub fn version_sha256(emulator: &EmulatorHandle, version_uuid: &str) -> String {
    emulator
        .files()
        .into_iter()
        .flat_map(|f| f.versions)
        .find(|v| v.uuid == version_uuid)
        .unwrap_or_else(|| panic!("version {version_uuid} is stored"))
        .sha256
}

/// Session or part request of an upload (either URL shape).
pub fn is_upload(record: &RequestRecord) -> bool {
    record.method == "POST"
        && (record.path == "/v1.0/sessions"
            || record.path.starts_with("/upload/")
            || record.path.starts_with("/v1.0/sessions/upload/"))
}

/// A session request.
pub fn is_session(record: &RequestRecord) -> bool {
    record.method == "POST" && record.path == "/v1.0/sessions"
}

/// A part request.
pub fn is_part(record: &RequestRecord) -> bool {
    is_upload(record) && !is_session(record)
}

/// The drive host discovery (`GET /api/v4/account?with=drive_url`).
pub fn is_discovery(record: &RequestRecord) -> bool {
    record.method == "GET" && record.path.starts_with("/api/v4/account")
}

/// Requests of the log matching `filter`.
pub fn count(emulator: &EmulatorHandle, filter: impl Fn(&RequestRecord) -> bool) -> usize {
    emulator.requests().iter().filter(|r| filter(r)).count()
}

/// Upload requests a fault-free upload of `size` bytes makes: a session, then
/// `max(1, ceil(size / PART))` parts (a 0-byte file sends one empty part).
pub fn upload_requests(size: u64) -> usize {
    size.div_ceil(PART).max(1) as usize + 1
}

/// The log in one line per request, for assertion messages.
pub fn log(emulator: &EmulatorHandle) -> String {
    emulator
        .requests()
        .iter()
        .map(|r| {
            let path = r.path.split('?').next().unwrap_or_default();
            let path = if path.starts_with("/upload/") {
                "/upload/…"
            } else {
                path
            };
            format!(
                "\n  {} {} -> {:?} ({} bytes{})",
                r.method,
                path,
                r.status,
                r.bytes_in,
                r.fault
                    .as_deref()
                    .map(|f| format!(", fault {f}"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// Checks that the log holds only the requests of uploads (plus at most one drive discovery):
/// nothing a scenario did not ask for. Returns the number of upload requests.
/// The active version of file `uuid` holds exactly `source`.
pub fn assert_stored(emulator: &EmulatorHandle, uuid: &str, source: &[u8]) {
    assert_eq!(
        active_sha256(emulator, uuid),
        sha256_hex(source),
        "stored bytes of {uuid}"
    );
}

/// Exactly `expected` upload requests (sessions and parts) were made, and nothing else.
pub fn assert_uploads(emulator: &EmulatorHandle, expected: usize) {
    assert_eq!(only_uploads(emulator), expected, "{}", log(emulator));
}

pub fn only_uploads(emulator: &EmulatorHandle) -> usize {
    let records = emulator.requests();
    let discoveries = records.iter().filter(|r| is_discovery(r)).count();
    assert!(
        discoveries <= 1,
        "drive discovered {discoveries} times:{}",
        log(emulator)
    );
    let others: Vec<_> = records
        .iter()
        .filter(|r| !is_discovery(r) && !is_upload(r))
        .collect();
    assert!(others.is_empty(), "unexpected requests:{}", log(emulator));
    records.iter().filter(|r| is_upload(r)).count()
}

/// Statuses of the log, in order (`None` when the emulator closed without answering).
pub fn statuses(emulator: &EmulatorHandle) -> Vec<Option<u16>> {
    emulator.requests().iter().map(|r| r.status).collect()
}

/// Records the progress an upload reports.
#[derive(Debug, Clone, Default)]
pub struct ProgressLog(Arc<Mutex<Vec<Progress>>>);

impl ProgressLog {
    /// A callback for [`kommo_files::UploadOptions::on_progress`].
    pub fn callback(&self) -> impl FnMut(Progress) + Send + 'static {
        let seen = self.0.clone();
        move |progress| seen.lock().unwrap().push(progress)
    }

    /// Everything reported so far.
    pub fn values(&self) -> Vec<Progress> {
        self.0.lock().unwrap().clone()
    }

    /// Checks the acknowledged bytes reported, and that every report carries the size as its
    /// total (after a restart too).
    pub fn assert_acknowledged(&self, size: u64, expected: &[u64]) {
        let values = self.values();
        let acknowledged: Vec<u64> = values.iter().map(|p| p.acknowledged).collect();
        assert_eq!(acknowledged, expected, "{values:?}");
        for value in &values {
            assert_eq!(value.total, size, "{values:?}");
        }
    }

    /// Checks that acknowledged bytes never go back, never exceed the total, that the total is
    /// the size, and that the last report is the whole file.
    pub fn assert_complete(&self, size: u64) {
        let values = self.values();
        assert!(!values.is_empty(), "no progress reported for {size} bytes");
        for pair in values.windows(2) {
            assert!(
                pair[0].acknowledged <= pair[1].acknowledged,
                "progress went back: {values:?}"
            );
        }
        for value in &values {
            assert_eq!(value.total, size, "{values:?}");
            assert!(value.acknowledged <= size, "{values:?}");
        }
        let last = values.last().expect("checked above");
        assert_eq!(last.acknowledged, size, "{values:?}");
    }
}

/// A fresh directory under the system temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "kommo-files-parity-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temporary directory");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// File names in the directory, sorted.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("readable temporary directory")
            .map(|e| {
                e.expect("directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Asserts that neither the Display nor the Debug form of `value` holds `secret`.
pub fn assert_no_secret(what: &str, display: &str, debug: &str, secret: &str) {
    assert!(
        !display.contains(secret),
        "{what} Display leaks the token: {display}"
    );
    assert!(
        !debug.contains(secret),
        "{what} Debug leaks the token: {debug}"
    );
}

/// A canned answer with this status and a problem body.
pub fn status_fault(status: u16) -> FaultAction {
    FaultAction::Status {
        status,
        body: None,
        content_type: None,
    }
}

/// Every fault a retry gets past on an idempotent request, with the attempts it costs beyond
/// the fault-free run when the success answer has a body (`TruncatedBody` cannot cut an empty
/// one: see [`extra_attempts`]).
pub fn transient_faults() -> Vec<(FaultAction, usize)> {
    vec![
        (FaultAction::Delay { millis: 200 }, 0),
        (FaultAction::CloseBeforeBody, 1),
        (FaultAction::CloseAfterCommit, 1),
        (FaultAction::TruncatedBody, 1),
        (FaultAction::NonJsonBody { status: 502 }, 1),
        (FaultAction::HtmlError { status: 502 }, 1),
        (FaultAction::HtmlError { status: 504 }, 1),
        (status_fault(500), 1),
        (status_fault(503), 1),
        (status_fault(408), 1),
        (
            FaultAction::RetryAfter {
                status: 503,
                seconds: 1,
            },
            1,
        ),
    ]
}

/// The attempts `action` costs on a request whose success answer has no body when
/// `empty_answer`.
pub fn extra_attempts(action: &FaultAction, extra: usize, empty_answer: bool) -> usize {
    match action {
        FaultAction::TruncatedBody if empty_answer => 0,
        _ => extra,
    }
}

/// The two 429 answers: with `Retry-After: 1` and without the header.
pub fn rate_limit_faults() -> [FaultAction; 2] {
    [
        FaultAction::RetryAfter {
            status: 429,
            seconds: 1,
        },
        status_fault(429),
    ]
}

/// When each request reached the transport, on the clock the SDK paces by (`SystemTime`): a
/// layer over the built-in transport of either flavour (`Client::with_layer`).
#[derive(Debug, Clone, Default)]
pub struct Stamps(Arc<Mutex<Vec<SystemTime>>>);

impl Stamps {
    /// `inner`, stamping every request it is handed.
    pub fn layer<T>(&self, inner: T) -> Stamped<T> {
        Stamped {
            inner,
            stamps: self.clone(),
        }
    }

    fn stamp(&self) {
        self.0.lock().unwrap().push(SystemTime::now());
    }

    /// Every stamp, earliest first.
    pub fn sorted(&self) -> Vec<SystemTime> {
        let mut stamps = self.0.lock().unwrap().clone();
        stamps.sort();
        stamps
    }
}

/// See [`Stamps::layer`].
pub struct Stamped<T> {
    inner: T,
    stamps: Stamps,
}

impl<T: BlockingTransport> BlockingTransport for Stamped<T> {
    fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        self.stamps.stamp();
        self.inner.send_streaming(request)
    }
}

impl<T: AsyncTransport> AsyncTransport for Stamped<T> {
    async fn send_streaming(
        &self,
        request: Request,
    ) -> Result<http::Response<AsyncBody>, TransportError> {
        self.stamps.stamp();
        self.inner.send_streaming(request).await
    }

    async fn sleep(&self, duration: Duration) {
        self.inner.sleep(duration).await;
    }
}

/// Checks the schedule a client paced at `rate` per second kept, with no assumption on how
/// fast the machine is: every request waits for its slot, the slots of a client (and of all
/// its clones) are at least `(1 s + DELIVERY_JITTER) / rate` apart from its creation on, and
/// being late only moves a request later. So the `k`-th request to reach the transport (from
/// 0, in time order) cannot do so before `started + k × spacing`, however loaded the machine;
/// clones pacing on their own, or requests skipping the pacer, would.
///
/// `started` is read before the client is made. 1 ms of slack covers the SDK converting its
/// monotonic schedule to `SystemTime`.
pub fn assert_paced(stamps: &Stamps, started: SystemTime, rate: u32) {
    let spacing = (Duration::from_secs(1) + DELIVERY_JITTER) / rate;
    let slack = Duration::from_millis(1);
    let stamps = stamps.sorted();
    for (k, at) in stamps.iter().enumerate() {
        let since = at.duration_since(started).unwrap_or_default();
        let earliest = spacing * u32::try_from(k).unwrap();
        assert!(
            since + slack >= earliest,
            "request {k} of {} went {since:?} after the client was made; paced at {rate}/s it \
             cannot go before {earliest:?}",
            stamps.len()
        );
    }
}
