//! [`UploadMachine`]: opens a session, sends parts in order, retries, restarts, checkpoints.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::source::PrefixHash;
use super::{
    Checkpoint, CheckpointError, ProtocolViolation, SendFailure, SourceChange, SourceFingerprint,
    SourceInfo, UploadError, CHECKPOINT_FORMAT, CHECKPOINT_VERSION,
};
use crate::endpoint::{self, DriveHost, PartOutcome};
use crate::retry::{is_retryable_status, Jitter, RetryDecision, RetryPolicy};
use crate::wire::{FileObject, NewSession, UploadSession};
use crate::ApiError;

/// How long the server keeps an upload session.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The smallest `max_part_size` accepted by default ([`UploadConfig::min_part_size`]): 1 KiB.
///
/// Kommo's drive hosts announce 512 KiB parts (the emulator's default too). A session or a
/// checkpoint asking for parts below this is refused unless the whole file fits in one such
/// part: a damaged checkpoint or a hostile server must not turn an upload into one request per
/// byte (at 7 requests a second, a 1 GB file would take years).
pub const MIN_PART_SIZE: u64 = 1024;

/// What to do when a part answers 404 (the session expired or the server forgot it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionLostPolicy {
    /// Open a new session and send the file again from byte 0, at most this many times.
    Restart {
        /// Restarts allowed per upload.
        max_restarts: u32,
    },
    /// Stop with [`UploadError::SessionLost`].
    Fail,
}

/// Tunables of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadConfig {
    /// Retries of one request (the session, or one part).
    pub retry: RetryPolicy,
    /// Behaviour on a lost session.
    pub on_session_lost: SessionLostPolicy,
    /// The largest `max_part_size` we accept to buffer; a server asking more is refused.
    pub part_size_limit: u64,
    /// The smallest `max_part_size` accepted (default [`MIN_PART_SIZE`]) for a file that does
    /// not fit in one part; a session or checkpoint asking for smaller parts is refused.
    #[serde(default = "default_min_part_size")]
    pub min_part_size: u64,
    /// A checkpoint whose session expires within this margin is treated as expired.
    pub expiry_margin: Duration,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            on_session_lost: SessionLostPolicy::Restart { max_restarts: 2 },
            part_size_limit: 64 * 1024 * 1024,
            min_part_size: MIN_PART_SIZE,
            expiry_margin: Duration::from_secs(60),
        }
    }
}

impl UploadConfig {
    /// The configuration with this retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The configuration with this lost-session policy.
    pub fn on_session_lost(mut self, policy: SessionLostPolicy) -> Self {
        self.on_session_lost = policy;
        self
    }

    /// The configuration with this smallest accepted `max_part_size` (see
    /// [`UploadConfig::min_part_size`]; 1 accepts any, as a test server with tiny parts needs).
    pub fn min_part_size(mut self, bytes: u64) -> Self {
        self.min_part_size = bytes;
        self
    }
}

fn default_min_part_size() -> u64 {
    MIN_PART_SIZE
}

/// What the driver must do next.
#[derive(Debug)]
#[non_exhaustive]
pub enum Action {
    /// Read exactly `len` bytes of the source at `offset` and pass them to
    /// [`UploadMachine::handle_read`].
    Read {
        /// Where to read.
        offset: u64,
        /// How much.
        len: usize,
    },
    /// Send this request and pass the outcome to [`UploadMachine::handle_response`].
    Send(Request<Bytes>),
    /// Nothing to do before this time; poll again then.
    Wait {
        /// When to poll again.
        until: SystemTime,
    },
    /// A request is out; waiting for [`UploadMachine::handle_response`].
    AwaitResponse,
    /// The upload is complete.
    Done(Box<FileObject>),
    /// The upload stopped; [`UploadMachine::checkpoint`] may still allow resuming it.
    Failed(UploadError),
}

/// Something the driver may want to tell its user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadEvent {
    /// A session was opened.
    SessionOpened {
        /// The server's id.
        session_id: i64,
        /// Unix seconds.
        expires_at: u64,
    },
    /// A resumed upload's source was verified up to `offset`.
    Verified {
        /// Bytes verified.
        offset: u64,
    },
    /// The server acknowledged bytes up to `acknowledged`. Monotonic between restarts.
    Progress {
        /// Bytes the server has.
        acknowledged: u64,
        /// File size.
        total: u64,
    },
    /// A new checkpoint after an acknowledged part; save it to survive a crash.
    Checkpoint(Box<Checkpoint>),
    /// A request failed and will be retried after `delay`.
    Retrying {
        /// Part number (1-based), `None` for the session request.
        part: Option<u64>,
        /// The failure count of this request so far.
        failures: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// What failed.
        reason: String,
    },
    /// The session was lost and the upload starts over from byte 0 (progress restarts at 0).
    Restarted {
        /// Restarts so far.
        restart: u32,
    },
    /// A saved checkpoint could not be continued (the source changed, the session expired,
    /// the checkpoint is damaged), so the upload starts over. Emitted by the drivers, which
    /// load checkpoints.
    CheckpointRefused {
        /// Why, in words.
        reason: String,
    },
    /// After an ambiguous last part, the stored file was found and proven to be this upload
    /// (created since the session opened, same SHA-256): it is the upload's result. Emitted
    /// by the drivers (see [`crate::upload::recovery`]).
    FinalPartFound {
        /// The file's UUID.
        file_uuid: String,
    },
    /// After an ambiguous last part, no file was stored: the upload starts again in a new
    /// session, from byte 0. Emitted by the drivers.
    FinalPartNotStored,
    /// The upload's file is known (stored, or found after an ambiguous last part). Emitted by
    /// the drivers before they remove the checkpoint file: a caller that records the result
    /// here, durably, survives a crash at any moment without uploading the file again.
    Completed {
        /// The file's UUID.
        file_uuid: String,
    },
}

/// The serialisable state of an [`UploadMachine`] (see [`UploadMachine::state`]): the
/// checkpoint of the open session, if any, plus what the machine was doing (retry count and
/// wait, restarts, the jitter source). It holds no token and no file bytes.
///
/// Its JSON is the persisted form; the fields are read through accessors, and only
/// [`UploadMachine::state`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadState {
    /// Format version, the same as the checkpoint's.
    version: u32,
    /// The drive host.
    drive_url: crate::BaseUrl,
    /// What the session is opened with.
    request: NewSession,
    /// The source.
    source: SourceInfo,
    /// The upload's configuration.
    config: UploadConfig,
    /// The jitter source, so a restored machine draws what the original would have.
    jitter: Jitter,
    /// The open session, once there is one.
    checkpoint: Option<Checkpoint>,
    /// Failures of the current request so far.
    failures: u32,
    /// When the first of them happened.
    first_failure_at: Option<SystemTime>,
    /// Whether one of them may have reached the server (its answer was lost).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    failure_uncertain: bool,
    /// A backoff in progress.
    wait_until: Option<SystemTime>,
    /// Session restarts so far.
    restarts: u32,
}

impl UploadState {
    /// Format version, the same as the checkpoint's ([`CHECKPOINT_VERSION`]).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The drive host the upload goes to.
    pub fn drive_url(&self) -> &crate::BaseUrl {
        &self.drive_url
    }

    /// What the session is (or will be) opened with.
    pub fn request(&self) -> &NewSession {
        &self.request
    }

    /// The source being uploaded.
    pub fn source(&self) -> &SourceInfo {
        &self.source
    }

    /// The upload's configuration.
    pub fn config(&self) -> &UploadConfig {
        &self.config
    }

    /// The checkpoint of the open session, once there is one.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        self.checkpoint.as_ref()
    }

    /// Session restarts so far.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }
}

/// Which request an [`Action::Send`] is (see [`UploadMachine::sending`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UploadRequest {
    /// `POST /v1.0/sessions`: opening the session.
    OpenSession,
    /// One part of the file.
    Part {
        /// 1-based part number within the current session.
        number: u64,
        /// Whether this part ends the file.
        last: bool,
    },
}

/// The session being uploaded into. `Debug` redacts `url` (the signed upload token).
#[derive(Clone)]
struct Session {
    id: i64,
    /// Where the next part goes.
    url: String,
    max_part_size: u64,
    max_file_size: u64,
    opened_at: u64,
    expires_at: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("url", &crate::redact_url(&self.url))
            .field("max_part_size", &self.max_part_size)
            .field("max_file_size", &self.max_file_size)
            .field("opened_at", &self.opened_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A request in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InFlight {
    Session,
    Part,
}

/// Failures of the current request, for backoff.
#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    first_at: Option<SystemTime>,
    /// An attempt may have reached the server without its answer reaching us.
    uncertain: bool,
}

/// Checking a resumed source: hashing `[0, target)` against the checkpoint.
#[derive(Debug, Clone)]
struct Verification {
    target: u64,
    expected_sha256: String,
}

/// The upload state machine. Owned, no I/O: time comes in as `now`, jitter from a seed.
///
/// It serialises through [`UploadMachine::state`] / [`UploadMachine::from_state`], and a
/// [`Checkpoint`] is taken when the session opens and after every acknowledged part; the token
/// and the buffered part are deliberately part of neither.
///
/// When nothing fails it sends `ceil(size / max_part_size) + 1` requests. A **0-byte file** opens
/// a session and sends one empty part to `upload_url` (the server's answer to it is the file), so
/// it takes two requests.
///
/// ```
/// use kommo_files_model::upload::{Action, SourceInfo, UploadConfig, UploadMachine};
/// use kommo_files_model::{endpoint::DriveHost, wire::NewSession, AccessToken, BaseUrl};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let drive = DriveHost::new(BaseUrl::parse("https://drive-c.kommo.com")?, AccessToken::new("t")?);
/// let data = b"hello world".to_vec();
/// let mut machine = UploadMachine::new(
///     drive,
///     NewSession::new("hello.txt", data.len() as u64),
///     SourceInfo::of_size(data.len() as u64),
///     UploadConfig::default().min_part_size(1), // the fake server below uses 4-byte parts
///     42, // jitter seed
/// );
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// // A fake server: a session with 4-byte parts, then one answer per part.
/// let mut sent_parts = 0;
/// let file = loop {
///     match machine.poll_action(now) {
///         Action::Read { offset, len } => {
///             let start = offset as usize;
///             machine.handle_read(data[start..start + len].to_vec().into(), now);
///         }
///         Action::Send(request) if request.uri().path() == "/v1.0/sessions" => {
///             let body = r#"{"session_id":1,"upload_url":"https://drive-c.kommo.com/upload/p1",
///                            "max_file_size":314572800,"max_part_size":4}"#;
///             machine.handle_response(Ok(http::Response::new(body.into())), now);
///         }
///         Action::Send(_part) => {
///             sent_parts += 1;
///             let body = if sent_parts < 3 {
///                 format!(r#"{{"session_id":1,"next_url":"https://drive-c.kommo.com/upload/p{}"}}"#, sent_parts + 1)
///             } else {
///                 r#"{"uuid":"f","name":"hello","size":11}"#.to_owned()
///             };
///             let mut response = http::Response::new(body.into());
///             *response.status_mut() = if sent_parts < 3 { http::StatusCode::ACCEPTED } else { http::StatusCode::OK };
///             machine.handle_response(Ok(response), now);
///         }
///         Action::Done(file) => break file,
///         other => panic!("unexpected {other:?}"),
///     }
/// };
/// assert_eq!(file.size, 11);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct UploadMachine {
    drive: DriveHost,
    request: NewSession,
    source: SourceInfo,
    config: UploadConfig,
    jitter: Jitter,
    session: Option<Session>,
    /// Bytes the server acknowledged in the current session.
    acknowledged: u64,
    /// SHA-256 of `[0, acknowledged)` (or of the verified prefix while verifying).
    prefix: PrefixHash,
    /// Whether `prefix` follows the acknowledged parts (see [`UploadMachine::without_prefix_hash`]).
    hashes_prefix: bool,
    verification: Option<Verification>,
    /// The bytes of the next part, kept until acknowledged so a retry can resend them.
    part: Option<Bytes>,
    in_flight: Option<InFlight>,
    wait_until: Option<SystemTime>,
    failures: Failures,
    restarts: u32,
    outcome: Option<Result<FileObject, UploadError>>,
    events: VecDeque<UploadEvent>,
}

impl UploadMachine {
    /// A new upload of `source` as described by `request` (`file_size` is taken from `source`).
    pub fn new(
        drive: DriveHost,
        mut request: NewSession,
        source: SourceInfo,
        config: UploadConfig,
        jitter_seed: u64,
    ) -> Self {
        request.file_size = source.size;
        Self {
            drive,
            request,
            source,
            config,
            jitter: Jitter::new(jitter_seed),
            session: None,
            acknowledged: 0,
            prefix: PrefixHash::default(),
            hashes_prefix: true,
            verification: None,
            part: None,
            in_flight: None,
            wait_until: None,
            failures: Failures::default(),
            restarts: 0,
            outcome: None,
            events: VecDeque::new(),
        }
    }

    /// Does not hash the parts as they are acknowledged. That hash is one SHA-256 pass over the
    /// whole upload (about a quarter of the CPU an upload takes on loopback), spent only so
    /// that a checkpoint can be taken at any moment. A driver whose caller keeps no checkpoint
    /// can skip it, and hash the acknowledged prefix from its source only when a checkpoint is
    /// wanted after all (an error or a cancel): [`UploadMachine::checkpoint_with_prefix`].
    ///
    /// Only a fresh machine can skip it: on a resumed machine, or once a part was acknowledged,
    /// this changes nothing. The source must be readable again from its start. A file changed
    /// in between is still caught on resume: its modification time differs from the one taken
    /// at the start.
    /// Until then, [`UploadMachine::checkpoint`] is `None`, no [`UploadEvent::Checkpoint`] is
    /// emitted, and [`UploadMachine::state`] carries no session (a restore starts over).
    ///
    /// ```
    /// use kommo_files_model::upload::{SourceInfo, UploadConfig, UploadMachine};
    /// use kommo_files_model::{endpoint::DriveHost, wire::NewSession, AccessToken, BaseUrl};
    /// let drive = DriveHost::new(
    ///     BaseUrl::parse("https://drive-c.kommo.com").unwrap(),
    ///     AccessToken::new("t").unwrap(),
    /// );
    /// let session = NewSession::new("a.bin", 10);
    /// let source = SourceInfo::new(10, None);
    /// let machine = UploadMachine::new(drive, session, source, UploadConfig::default(), 1)
    ///     .without_prefix_hash();
    /// assert!(!machine.hashes_prefix());
    /// ```
    pub fn without_prefix_hash(mut self) -> Self {
        if self.verification.is_none() && self.acknowledged == 0 {
            self.hashes_prefix = false;
        }
        self
    }

    /// Whether acknowledged parts are hashed as they go (see
    /// [`UploadMachine::without_prefix_hash`]).
    pub fn hashes_prefix(&self) -> bool {
        self.hashes_prefix
    }

    /// Continues the upload of `checkpoint` in this process.
    ///
    /// Refused when the session has expired (or will within the configured margin), when the
    /// drive host differs, when the source's size or modification time changed, or when the
    /// checkpoint fails [`Checkpoint::validate`] under `config` (the rules of a fresh session's
    /// answer: a foreign `next_url`, a part size of 0, above the limit or below
    /// [`UploadConfig::min_part_size`], an offset that is not a whole number of parts). The
    /// acknowledged prefix is then re-read and hashed (as [`Action::Read`]s) before any part is
    /// sent; different bytes stop the upload with [`UploadError::SourceChanged`].
    pub fn resume(
        drive: DriveHost,
        checkpoint: Checkpoint,
        source: SourceInfo,
        config: UploadConfig,
        now: SystemTime,
        jitter_seed: u64,
    ) -> Result<Self, UploadError> {
        let mismatch = |message: String| {
            UploadError::Checkpoint(CheckpointError::Invalid {
                path: ".".to_owned(),
                message,
            })
        };
        if checkpoint.format != CHECKPOINT_FORMAT || checkpoint.version != CHECKPOINT_VERSION {
            return Err(UploadError::Checkpoint(
                CheckpointError::UnsupportedVersion {
                    found: checkpoint.version,
                    supported: CHECKPOINT_VERSION,
                },
            ));
        }
        if checkpoint.drive_url != drive.base {
            return Err(mismatch(format!(
                "taken on {}, resuming on {}",
                checkpoint.drive_url, drive.base
            )));
        }
        if checkpoint.is_expired(now, config.expiry_margin) {
            return Err(UploadError::SessionExpired {
                expired_at: checkpoint.session_expires_at,
            });
        }
        let fingerprint = &checkpoint.source;
        if fingerprint.size != source.size {
            return Err(UploadError::SourceChanged(SourceChange::Size {
                was: fingerprint.size,
                now: source.size,
            }));
        }
        if fingerprint.modified.is_some() && fingerprint.modified != source.modified {
            return Err(UploadError::SourceChanged(SourceChange::Modified));
        }
        // The same rules as a fresh session's answer, and the checkpoint's own consistency.
        let max_part_size = checkpoint.validate(&config)?;
        let mut machine = Self::new(drive, checkpoint.session, source, config, jitter_seed);
        machine.session = Some(Session {
            id: checkpoint.session_id,
            url: checkpoint.next_url,
            max_part_size,
            max_file_size: checkpoint.max_file_size,
            opened_at: checkpoint.session_opened_at,
            expires_at: checkpoint.session_expires_at,
        });
        machine.acknowledged = checkpoint.offset;
        // The process that took the checkpoint may have sent the next part before it stopped,
        // its answer lost with it: if that was the last part, a 404 means the file is stored.
        machine.failures.uncertain = true;
        machine.verification = Some(Verification {
            target: checkpoint.offset,
            expected_sha256: checkpoint.source.prefix_sha256,
        });
        Ok(machine)
    }

    /// The next thing to do at time `now`.
    pub fn poll_action(&mut self, now: SystemTime) -> Action {
        if let Some(outcome) = &self.outcome {
            return match outcome {
                Ok(file) => Action::Done(Box::new(file.clone())),
                Err(error) => Action::Failed(error.clone()),
            };
        }
        if self.in_flight.is_some() {
            return Action::AwaitResponse;
        }
        if let Some(until) = self.wait_until {
            if now < until {
                return Action::Wait { until };
            }
            self.wait_until = None;
        }
        if let Some(verification) = &self.verification {
            let chunk = self.session.as_ref().map_or(1 << 20, |s| s.max_part_size);
            let len = chunk.min(verification.target - self.prefix.len());
            return Action::Read {
                offset: self.prefix.len(),
                len: len as usize,
            };
        }
        let Some(session) = &self.session else {
            self.in_flight = Some(InFlight::Session);
            return Action::Send(endpoint::create_session_request(&self.drive, &self.request));
        };
        if unix_seconds(now) >= session.expires_at {
            // Sending would only earn a 404; treat it as the lost session it is.
            self.session_lost();
            return self.poll_action(now);
        }
        let Some(part) = &self.part else {
            let len = session
                .max_part_size
                .min(self.source.size - self.acknowledged);
            return Action::Read {
                offset: self.acknowledged,
                len: len as usize,
            };
        };
        match endpoint::upload_part_request(&self.drive, &session.url, part.clone()) {
            Ok(request) => {
                self.in_flight = Some(InFlight::Part);
                Action::Send(request)
            }
            Err(error) => self.fail(UploadError::ForeignUrl(error)),
        }
    }

    /// The request in flight (the one the last [`Action::Send`] returned): its kind and 1-based
    /// attempt number; `None` when no request is in flight.
    ///
    /// ```
    /// use kommo_files_model::upload::{Action, SourceInfo, UploadConfig, UploadMachine, UploadRequest};
    /// use kommo_files_model::{endpoint::DriveHost, wire::NewSession, AccessToken, BaseUrl};
    /// use std::time::UNIX_EPOCH;
    ///
    /// let drive = DriveHost::new(BaseUrl::parse("https://drive-c.kommo.com")?, AccessToken::new("t")?);
    /// let mut machine = UploadMachine::new(
    ///     drive, NewSession::new("a.txt", 3), SourceInfo::of_size(3), UploadConfig::default(), 1,
    /// );
    /// assert_eq!(machine.sending(), None);
    /// assert!(matches!(machine.poll_action(UNIX_EPOCH), Action::Send(_)));
    /// assert_eq!(machine.sending(), Some((UploadRequest::OpenSession, 1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sending(&self) -> Option<(UploadRequest, u32)> {
        let request = match self.in_flight? {
            InFlight::Session => UploadRequest::OpenSession,
            InFlight::Part => UploadRequest::Part {
                number: self.part_number().unwrap_or(1),
                last: self.is_last_part(),
            },
        };
        Some((request, self.failures.count.saturating_add(1)))
    }

    /// Lowercase hex SHA-256 of the whole source, when the machine hashed all of it: its
    /// acknowledged prefix (see [`UploadMachine::hashes_prefix`]) plus the buffered last part,
    /// as after [`UploadError::FinalPartUnconfirmed`], or after [`Action::Done`]. `None`
    /// otherwise: the driver then hashes its source itself.
    ///
    /// It identifies the file an ambiguous last part may have stored (see
    /// [`recovery`](super::recovery)).
    pub fn source_sha256(&self) -> Option<String> {
        if !self.hashes_prefix || self.verification.is_some() {
            return None;
        }
        let size = self.source.size;
        if self.prefix.len() == size {
            return Some(self.prefix.hex());
        }
        let part = self.part.as_ref()?;
        if self.prefix.len() + part.len() as u64 != size {
            return None;
        }
        let mut whole = self.prefix.clone();
        whole.update(part);
        Some(whole.hex())
    }

    /// The next event, if any. Drain after every step.
    pub fn poll_event(&mut self) -> Option<UploadEvent> {
        self.events.pop_front()
    }

    /// The bytes the last [`Action::Read`] asked for.
    pub fn handle_read(&mut self, bytes: Bytes, _now: SystemTime) {
        if let Some(verification) = &self.verification {
            let expected = (verification.target - self.prefix.len())
                .min(self.session.as_ref().map_or(1 << 20, |s| s.max_part_size));
            if (bytes.len() as u64) != expected {
                let offset = self.prefix.len();
                self.fail(short_read(offset, expected, &bytes));
                return;
            }
            self.prefix.update(&bytes);
            if self.prefix.len() == verification.target {
                if self.prefix.hex() != verification.expected_sha256 {
                    let offset = verification.target;
                    self.fail(UploadError::SourceChanged(SourceChange::Content { offset }));
                    return;
                }
                self.verification = None;
                self.events.push_back(UploadEvent::Verified {
                    offset: self.acknowledged,
                });
                self.events.push_back(UploadEvent::Progress {
                    acknowledged: self.acknowledged,
                    total: self.source.size,
                });
            }
            return;
        }
        let Some(session) = &self.session else { return };
        let expected = session
            .max_part_size
            .min(self.source.size - self.acknowledged);
        if bytes.len() as u64 != expected {
            self.fail(short_read(self.acknowledged, expected, &bytes));
            return;
        }
        self.part = Some(bytes);
    }

    /// Instead of [`UploadMachine::handle_read`]: the driver found, after an [`Action::Read`],
    /// that the source is no longer the one the upload started with (another size, another
    /// modification time; the model cannot look itself). The upload stops with
    /// [`UploadError::SourceChanged`] before the part is sent, so the server never completes a
    /// file mixing two versions; [`UploadMachine::checkpoint`] stays what the server has.
    ///
    /// ```
    /// use kommo_files_model::upload::{Action, SourceChange, SourceInfo, UploadConfig, UploadError, UploadMachine};
    /// use kommo_files_model::{endpoint::DriveHost, wire::NewSession, AccessToken, BaseUrl};
    /// use std::time::UNIX_EPOCH;
    ///
    /// let drive = DriveHost::new(BaseUrl::parse("https://drive-c.kommo.com")?, AccessToken::new("t")?);
    /// let mut machine = UploadMachine::new(
    ///     drive, NewSession::new("a.txt", 3), SourceInfo::of_size(3), UploadConfig::default(), 1,
    /// );
    /// machine.handle_source_changed(SourceChange::ModifiedDuringUpload);
    /// assert!(matches!(
    ///     machine.poll_action(UNIX_EPOCH),
    ///     Action::Failed(UploadError::SourceChanged(SourceChange::ModifiedDuringUpload))
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_source_changed(&mut self, change: SourceChange) {
        if self.outcome.is_none() {
            self.fail(UploadError::SourceChanged(change));
        }
    }

    /// The outcome of the last [`Action::Send`]: a response (any status) or a transport failure.
    pub fn handle_response(
        &mut self,
        result: Result<Response<Bytes>, SendFailure>,
        now: SystemTime,
    ) {
        match self.in_flight.take() {
            Some(InFlight::Session) => self.on_session_answer(result, now),
            Some(InFlight::Part) => self.on_part_answer(result, now),
            None => {}
        }
    }

    /// The checkpoint of the current state, once a session is open (and, without a prefix
    /// hash, never: see [`UploadMachine::checkpoint_with_prefix`]).
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        // While a resumed source is being verified, the prefix hash is the checkpoint's own.
        let prefix_sha256 = match &self.verification {
            Some(verification) => verification.expected_sha256.clone(),
            None if self.hashes_prefix => self.prefix.hex(),
            None => return None,
        };
        self.checkpoint_with_prefix(prefix_sha256)
    }

    /// The checkpoint of the current state with `prefix_sha256`, the lowercase hex SHA-256 of
    /// the source's first [`UploadMachine::acknowledged`] bytes, computed by the caller (for a
    /// machine [without a prefix hash](UploadMachine::without_prefix_hash)); `None` before a
    /// session is open.
    pub fn checkpoint_with_prefix(&self, prefix_sha256: String) -> Option<Checkpoint> {
        let session = self.session.as_ref()?;
        Some(Checkpoint {
            format: CHECKPOINT_FORMAT.to_owned(),
            version: CHECKPOINT_VERSION,
            drive_url: self.drive.base.clone(),
            session: self.request.clone(),
            session_id: session.id,
            next_url: session.url.clone(),
            offset: self.acknowledged,
            max_part_size: session.max_part_size,
            max_file_size: session.max_file_size,
            session_opened_at: session.opened_at,
            session_expires_at: session.expires_at,
            source: SourceFingerprint {
                size: self.source.size,
                modified: self.source.modified,
                prefix_sha256,
            },
        })
    }

    /// The machine's state without its credentials and without the buffered part, to persist it
    /// or move it to another process; `None` once the upload has finished.
    ///
    /// Restore it with [`UploadMachine::from_state`]. A request that was in flight when the state
    /// was taken counts as an ambiguous failure: the part is read again and re-sent to the same
    /// URL, where the server either stores it or recognises it.
    pub fn state(&self) -> Option<UploadState> {
        if self.outcome.is_some() {
            return None;
        }
        Some(UploadState {
            version: CHECKPOINT_VERSION,
            drive_url: self.drive.base.clone(),
            request: self.request.clone(),
            source: self.source,
            config: self.config.clone(),
            jitter: self.jitter,
            checkpoint: self.checkpoint(),
            failures: self.failures.count,
            first_failure_at: self.failures.first_at,
            failure_uncertain: self.failures.uncertain,
            wait_until: self.wait_until,
            restarts: self.restarts,
        })
    }

    /// Rebuilds a machine from [`UploadMachine::state`], with the credentials of `drive`.
    ///
    /// With an open session this is [`UploadMachine::resume`]: the same refusals apply and the
    /// acknowledged prefix is verified again before any part is sent.
    pub fn from_state(
        drive: DriveHost,
        state: UploadState,
        now: SystemTime,
    ) -> Result<Self, UploadError> {
        if state.version != CHECKPOINT_VERSION {
            return Err(UploadError::Checkpoint(
                CheckpointError::UnsupportedVersion {
                    found: state.version,
                    supported: CHECKPOINT_VERSION,
                },
            ));
        }
        if state.drive_url != drive.base {
            return Err(UploadError::Checkpoint(CheckpointError::Invalid {
                path: "drive_url".to_owned(),
                message: format!("taken on {}, restored on {}", state.drive_url, drive.base),
            }));
        }
        let mut machine = match state.checkpoint {
            Some(checkpoint) => {
                Self::resume(drive, checkpoint, state.source, state.config, now, 0)?
            }
            None => Self::new(drive, state.request, state.source, state.config, 0),
        };
        machine.jitter = state.jitter;
        machine.failures = Failures {
            count: state.failures,
            first_at: state.first_failure_at,
            uncertain: state.failure_uncertain,
        };
        machine.wait_until = state.wait_until;
        machine.restarts = state.restarts;
        Ok(machine)
    }

    /// A fresh machine for the same upload (same drive, request, source and configuration): a
    /// new session from byte 0, as after an ambiguous last part that turned out to store
    /// nothing (see [`crate::upload::recovery`]).
    pub fn start_over(&self, jitter_seed: u64) -> Self {
        let machine = Self::new(
            self.drive.clone(),
            self.request.clone(),
            self.source,
            self.config.clone(),
            jitter_seed,
        );
        if self.hashes_prefix {
            machine
        } else {
            machine.without_prefix_hash()
        }
    }

    /// Bytes the server has acknowledged in the current session.
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged
    }

    /// The size of the upload.
    pub fn total(&self) -> u64 {
        self.source.size
    }

    /// The largest part the current session asks for (what a driver's buffer must hold).
    pub fn part_size(&self) -> Option<u64> {
        self.session.as_ref().map(|s| s.max_part_size)
    }

    fn on_session_answer(&mut self, result: Result<Response<Bytes>, SendFailure>, now: SystemTime) {
        let response = match result {
            Ok(response) => response,
            Err(failure) => {
                return self.retry_or_fail(None, UploadError::Transport(failure), None, now)
            }
        };
        let session = match endpoint::parse_create_session(&response) {
            Ok(session) => session,
            Err(error) => return self.on_api_error(None, error, now),
        };
        match self.open(session, now) {
            Ok(()) => self.failures = Failures::default(),
            Err(error) => {
                self.fail(error);
            }
        }
    }

    /// Validates a new session before a single byte goes out.
    fn open(&mut self, session: UploadSession, now: SystemTime) -> Result<(), UploadError> {
        let max_part_size = check_session_terms(
            &self.drive.base,
            &session.upload_url,
            session.max_part_size,
            session.max_file_size,
            self.source.size,
            &self.config,
        )?;
        let opened_at = unix_seconds(now);
        let expires_at = opened_at + SESSION_LIFETIME.as_secs();
        self.events.push_back(UploadEvent::SessionOpened {
            session_id: session.session_id,
            expires_at,
        });
        self.session = Some(Session {
            id: session.session_id,
            url: session.upload_url,
            max_part_size,
            max_file_size: session.max_file_size,
            opened_at,
            expires_at,
        });
        // Saved before the first part goes out: a process that dies while it is in flight
        // (for a small file, the only part) comes back to this session, not to a new one.
        if let Some(checkpoint) = self.checkpoint() {
            self.events
                .push_back(UploadEvent::Checkpoint(Box::new(checkpoint)));
        }
        Ok(())
    }

    fn on_part_answer(&mut self, result: Result<Response<Bytes>, SendFailure>, now: SystemTime) {
        let part_number = self.part_number();
        let response = match result {
            Ok(response) => response,
            // An ambiguous failure: the part may be stored. It is sent again, to the same URL,
            // and the server decides (a replaying server answers as before; a strict one 404s).
            Err(failure) => {
                self.failures.uncertain |= failure.may_have_reached_server();
                return self.retry_or_fail(part_number, UploadError::Transport(failure), None, now);
            }
        };
        let outcome = match endpoint::parse_upload_part(&response) {
            Ok(outcome) => outcome,
            Err(error @ ApiError::Decode { .. }) => {
                // A success status to the last part means the server may well have stored the
                // file; only its answer is unreadable. Starting over could store it twice.
                if self.is_last_part() {
                    self.fail_unconfirmed();
                } else {
                    self.fail(UploadError::Protocol(ProtocolViolation::BadAnswer(
                        Box::new(error),
                    )));
                }
                return;
            }
            Err(error) if error.status() == StatusCode::NOT_FOUND => {
                // After a lost answer to the last part, a 404 most likely means the server
                // completed the file and closed the session: starting over would store it twice.
                if self.failures.uncertain && self.is_last_part() {
                    self.fail_unconfirmed();
                    return;
                }
                return self.session_lost();
            }
            Err(error) => return self.on_api_error(part_number, error, now),
        };
        let part_len = self.part.as_ref().map_or(0, |p| p.len() as u64);
        let sent = self.acknowledged + part_len;
        let size = self.source.size;
        match outcome {
            PartOutcome::Next(next) => {
                if sent >= size {
                    self.fail(UploadError::Protocol(ProtocolViolation::MoreExpected {
                        size,
                    }));
                    return;
                }
                if let Err(error) = self.drive.base.check(&next.next_url) {
                    self.fail(UploadError::ForeignUrl(error));
                    return;
                }
                if let Some(session) = &mut self.session {
                    session.url = next.next_url;
                }
                self.acknowledge();
                if let Some(checkpoint) = self.checkpoint() {
                    self.events
                        .push_back(UploadEvent::Checkpoint(Box::new(checkpoint)));
                }
            }
            PartOutcome::Complete(file) => {
                if sent < size {
                    self.fail(UploadError::Protocol(ProtocolViolation::EarlyFinal {
                        sent,
                        size,
                    }));
                    return;
                }
                if file.size != size {
                    self.fail(UploadError::Protocol(ProtocolViolation::SizeMismatch {
                        stored: file.size,
                        size,
                    }));
                    return;
                }
                self.acknowledge();
                self.outcome = Some(Ok(*file));
            }
        }
    }

    /// The current part is on the server: count it, hash it, drop it.
    fn acknowledge(&mut self) {
        if let Some(part) = self.part.take() {
            if self.hashes_prefix {
                self.prefix.update(&part);
            }
            self.acknowledged += part.len() as u64;
        }
        self.failures = Failures::default();
        self.events.push_back(UploadEvent::Progress {
            acknowledged: self.acknowledged,
            total: self.source.size,
        });
    }

    fn on_api_error(&mut self, part: Option<u64>, error: ApiError, now: SystemTime) {
        let status = error.status();
        if matches!(error, ApiError::Status { .. }) && is_retryable_status(status) {
            let hint = error.retry_after().map(|r| r.delay_from(now));
            self.retry_or_fail(part, UploadError::Api(Box::new(error)), hint, now);
        } else {
            self.fail(UploadError::Api(Box::new(error)));
        }
    }

    fn retry_or_fail(
        &mut self,
        part: Option<u64>,
        error: UploadError,
        hint: Option<Duration>,
        now: SystemTime,
    ) {
        if let UploadError::Transport(failure) = &error {
            if !failure.is_retryable() {
                self.fail(error);
                return;
            }
        }
        self.failures.count += 1;
        let first_at = *self.failures.first_at.get_or_insert(now);
        let decision =
            self.config
                .retry
                .decide(self.failures.count, first_at, now, hint, &mut self.jitter);
        // A wait past what a `SystemTime` holds (a policy without bounds meeting a huge
        // `Retry-After`) is no retry: give up like the attempt limit does (the call and download
        // machines do the same).
        let retry = match decision {
            RetryDecision::RetryAfter(delay) => now.checked_add(delay).map(|until| (delay, until)),
            _ => None,
        };
        match retry {
            Some((delay, until)) => {
                self.wait_until = Some(until);
                self.events.push_back(UploadEvent::Retrying {
                    part,
                    failures: self.failures.count,
                    delay,
                    reason: error.to_string(),
                });
            }
            None => {
                let elapsed = now.duration_since(first_at).unwrap_or_default();
                let attempts = self.failures.count;
                self.fail(UploadError::RetriesExhausted {
                    attempts,
                    elapsed,
                    last: Box::new(error),
                });
            }
        }
    }

    /// The session is gone: start over from byte 0 if the policy allows, fail otherwise.
    fn session_lost(&mut self) {
        let allowed = match self.config.on_session_lost {
            SessionLostPolicy::Restart { max_restarts } => self.restarts < max_restarts,
            SessionLostPolicy::Fail => false,
        };
        if !allowed {
            self.fail(UploadError::SessionLost {
                restarts: self.restarts,
            });
            return;
        }
        self.restarts += 1;
        self.session = None;
        self.acknowledged = 0;
        self.prefix = PrefixHash::default();
        self.part = None;
        self.failures = Failures::default();
        self.events.push_back(UploadEvent::Restarted {
            restart: self.restarts,
        });
    }

    /// The last part may be stored. The buffered part is kept: with the prefix hash it gives
    /// [`UploadMachine::source_sha256`], which identifies the stored file.
    fn fail_unconfirmed(&mut self) {
        let session_id = self.session.as_ref().map_or(0, |s| s.id);
        self.fail(UploadError::FinalPartUnconfirmed { session_id });
    }

    fn fail(&mut self, error: UploadError) -> Action {
        self.outcome = Some(Err(error.clone()));
        Action::Failed(error)
    }

    /// Whether the part being sent ends the file.
    fn is_last_part(&self) -> bool {
        let part_len = self.part.as_ref().map_or(0, |p| p.len() as u64);
        self.acknowledged + part_len >= self.source.size
    }

    /// 1-based number of the part being sent.
    fn part_number(&self) -> Option<u64> {
        let size = self.session.as_ref()?.max_part_size;
        Some(self.acknowledged / size + 1)
    }
}

/// The one set of rules for the terms of a session, whether the server's answer gives them
/// ([`UploadMachine`] opening a session) or a checkpoint keeps them ([`Checkpoint::validate`],
/// [`UploadMachine::resume`]): the URL of the next part is on the drive host, the part size is
/// usable (see [`UploadConfig::min_part_size`] and [`UploadConfig::part_size_limit`]) and a
/// file of `size` bytes is allowed. Returns the part size.
pub(crate) fn check_session_terms(
    drive: &crate::BaseUrl,
    url: &str,
    max_part_size: u64,
    max_file_size: u64,
    size: u64,
    config: &UploadConfig,
) -> Result<u64, UploadError> {
    let too_small = max_part_size < config.min_part_size && max_part_size < size;
    if max_part_size == 0 || max_part_size > config.part_size_limit || too_small {
        return Err(UploadError::UnusablePartSize {
            max_part_size,
            min: config.min_part_size,
            limit: config.part_size_limit,
        });
    }
    if size > max_file_size {
        return Err(UploadError::FileTooLarge {
            size,
            max: max_file_size,
        });
    }
    drive.check(url).map_err(UploadError::ForeignUrl)?;
    Ok(max_part_size)
}

fn short_read(offset: u64, expected: u64, bytes: &Bytes) -> UploadError {
    UploadError::SourceChanged(SourceChange::ShortRead {
        offset,
        expected,
        got: bytes.len() as u64,
    })
}

fn unix_seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
