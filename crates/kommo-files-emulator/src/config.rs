//! Configuration: limits, listeners, tokens, and the switches for every point where the public
//! sources disagree (docs/kommo-api.md#contested-variants-and-the-emulator). Defaults follow what
//! was observed against the live service.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::auth::TokenGrant;
use crate::oauth::Integration;

/// Status of a **non-final** upload part, on which the sources disagree. The final part is
/// always `200`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PartStatus {
    /// `202 Accepted` — what clients observe live (default).
    #[default]
    Accepted202,
    /// `200 OK` — what the RU documentation says.
    Ok200,
}

/// Success answer of `DELETE /v1.0/files`, on which the sources disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeleteStatus {
    /// `204 No Content` (RU docs, PHP SDK) (default).
    #[default]
    NoContent204,
    /// `200 OK` with body `{}` (Kommo OpenAPI).
    OkEmptyObject200,
}

/// Success answer of `PUT`/`DELETE /api/v4/{entity}/{id}/files`, on which the sources disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttachStatus {
    /// `202 Accepted`, no body (RU docs) (default).
    #[default]
    Accepted202,
    /// `200 OK` with body `{}` (Kommo OpenAPI).
    OkEmptyObject200,
}

/// Answer of `GET /v1.0/files/{uuid}` for a file that does not exist, on which the sources
/// disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MissingFileStatus {
    /// `404 Not Found` with a problem body (RU docs) (default).
    #[default]
    NotFound404,
    /// `204 No Content` (Kommo OpenAPI).
    NoContent204,
}

/// What happens when the last accepted part is POSTed again to its own URL, as a client does
/// when the answer was lost (the docs do not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RetryMode {
    /// Same URL and same length: answer exactly as before, append nothing (default).
    #[default]
    Replay,
    /// The token was used up: `404`, as for any stale upload URL.
    Strict,
}

/// How a download link answers (live links answer 301 first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DownloadStatus {
    /// `301` to `{drive}/storage/{version_uuid}/{name}`, which serves the bytes — what was
    /// observed live (default). Clients must follow it.
    #[default]
    MovedPermanently301,
    /// `200` with the bytes at the link itself.
    Ok200,
}

/// What the rate limiter's one-second windows are measured on
/// ([`Behavior::rate_clock`]). Either way [`advance_clock`](crate::EmulatorHandle::advance_clock)
/// moves them too: advancing by a second or more opens a new window for every token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RateClock {
    /// Real (monotonic) time plus what the clock was advanced by (default): rate limits are
    /// about wall-clock bursts.
    #[default]
    Real,
    /// Only what the clock was advanced by: real time does not move the windows, so a test
    /// decides exactly which requests share one (however slow the machine).
    Manual,
}

/// Which of the two documented upload URL shapes the emulator hands out (both are always served).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UploadUrlShape {
    /// `{drive}/upload/{token}` — what was observed live (default).
    #[default]
    Upload,
    /// `{drive}/v1.0/sessions/upload/{token}` — what the RU docs show.
    Sessions,
}

/// The switchable behaviour. It can be changed while the emulator runs
/// ([`EmulatorHandle::update_config`](crate::EmulatorHandle::update_config) or
/// `PATCH /__emulator/config`).
///
/// ```
/// use kommo_files_emulator::{Behavior, PartStatus};
/// let mut behavior = Behavior::default();
/// assert_eq!(behavior.part_status, PartStatus::Accepted202);
/// behavior.part_status = PartStatus::Ok200;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Behavior {
    /// Status of a non-final part.
    pub part_status: PartStatus,
    /// Success status of a batch delete.
    pub delete_status: DeleteStatus,
    /// Success status of attaching/detaching files to an entity.
    pub attach_status: AttachStatus,
    /// Answer for an unknown file on `GET /v1.0/files/{uuid}`.
    pub missing_file_status: MissingFileStatus,
    /// Behaviour on a repeated last part.
    pub retry_mode: RetryMode,
    /// Shape of the `upload_url` / `next_url` handed out.
    pub upload_url_shape: UploadUrlShape,
    /// How download links answer.
    pub download_status: DownloadStatus,
    /// `max_part_size` announced by sessions and enforced on parts (bytes).
    pub max_part_size: u64,
    /// `max_file_size` announced by sessions and enforced on `file_size` (bytes).
    pub max_file_size: u64,
    /// Lifetime of an upload session, in seconds of the emulator clock.
    pub session_ttl_secs: u64,
    /// How long a trashed file stays restorable, in seconds of the emulator clock.
    pub trash_retention_secs: u64,
    /// Requests per second allowed per token; `None` switches rate limiting off.
    pub rate_limit_per_second: Option<u32>,
    /// What the rate limit's one-second windows are measured on.
    pub rate_clock: RateClock,
    /// Blocked account: every API request answers `403` with an HTML page.
    pub blocked: bool,
    /// Real time added before answering every API request, in milliseconds: stands for the
    /// round trip of a real network (benchmarks, timeouts). `0` answers at once.
    pub response_latency_ms: u64,
    /// Whether a token answer of `POST /oauth2/access_token` carries `server_time` (Kommo's
    /// answers do; the older documentation shows none), so clients can be tested both ways.
    pub oauth_server_time: bool,
    /// Lifetime of an authorization code, in seconds of the emulator clock (Kommo: 20 minutes).
    pub authorization_code_ttl_secs: u64,
    /// Lifetime of an OAuth access token, in seconds of the emulator clock (Kommo: 24 hours);
    /// also the `expires_in` of token answers.
    pub access_token_ttl_secs: u64,
    /// Lifetime of an unused refresh token, in seconds of the emulator clock (Kommo: 3 months,
    /// taken as 90 days).
    pub refresh_token_ttl_secs: u64,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            part_status: PartStatus::default(),
            delete_status: DeleteStatus::default(),
            attach_status: AttachStatus::default(),
            missing_file_status: MissingFileStatus::default(),
            retry_mode: RetryMode::default(),
            upload_url_shape: UploadUrlShape::default(),
            download_status: DownloadStatus::default(),
            max_part_size: DEFAULT_MAX_PART_SIZE,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            session_ttl_secs: 24 * 60 * 60,
            trash_retention_secs: 30 * 24 * 60 * 60,
            rate_limit_per_second: None,
            rate_clock: RateClock::default(),
            blocked: false,
            response_latency_ms: 0,
            oauth_server_time: true,
            authorization_code_ttl_secs: 20 * 60,
            access_token_ttl_secs: 24 * 60 * 60,
            refresh_token_ttl_secs: 90 * 24 * 60 * 60,
        }
    }
}

/// Default `max_part_size`: 512 KiB, as the documented session answer announces (the server
/// decides; another documented example has 128 KiB).
pub const DEFAULT_MAX_PART_SIZE: u64 = 524_288;
/// Default `max_file_size`: 300 MiB, the documented limit.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 314_572_800;
/// Default rate limit when it is switched on without a number: Kommo's documented 7 requests
/// per second.
pub const DEFAULT_RATE_LIMIT: u32 = 7;

/// Everything needed to start an emulator. Usually built through
/// [`Emulator::builder`](crate::Emulator::builder).
///
/// ```
/// use kommo_files_emulator::EmulatorConfig;
/// let config = EmulatorConfig::default();
/// assert_eq!(config.behavior.max_part_size, 524_288);
/// assert_eq!(config.account_port, 0); // ephemeral
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EmulatorConfig {
    /// Address both listeners bind to (loopback by default).
    pub bind: IpAddr,
    /// Port of the account host (`/api/v4/...`); `0` picks a free one.
    pub account_port: u16,
    /// Port of the drive host (`/v1.0/...`, uploads, downloads); `0` picks a free one.
    pub drive_port: u16,
    /// Where to keep file bytes and state; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Accepted bearer tokens. Empty means: one full-scope token, [`DEFAULT_TOKEN`].
    pub tokens: Vec<TokenGrant>,
    /// OAuth integrations whose clients may get tokens at `POST /oauth2/access_token`.
    pub integrations: Vec<Integration>,
    /// The switchable behaviour.
    pub behavior: Behavior,
    /// Serve HTTPS on both listeners with a certificate made at start (feature `tls`; without
    /// it, starting fails with [`std::io::ErrorKind::Unsupported`]).
    pub tls: bool,
    /// Where to write the CA certificate (PEM) when `tls` is on. `None`: `ca.pem` in the data
    /// directory, or else a file in the system temp directory removed when the emulator stops.
    pub tls_ca_path: Option<PathBuf>,
}

/// The token created when no token is configured: scopes `crm`, `files`, `files_delete`.
///
/// It is shaped like a Kommo long-lived token of a private integration: a JWT
/// (`base64url(header).base64url(payload).base64url(signature)`, header
/// `{"typ":"JWT","alg":"RS256","jti":…}`) whose payload carries `aud`, `jti`, `iat` and `nbf`
/// (2026-01-01T00:00:00Z, Unix 1767225600), `exp` five years later (2031-01-01T00:00:00Z,
/// Unix 1924992000), `sub` `"581651"` (the default user), `account_id` 31000001 and
/// `scopes` `["crm","files","files_delete"]`. The signature segment is opaque bytes. Like every
/// configured token it never expires in the emulator: the claims are for clients that read
/// them, the emulator recognises the token by its value.
pub const DEFAULT_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImp0aSI6IjVmMGE3YTRlLTRiNWMtNGQxZS05YTUzLTBjNmYxZTJkM2I0YSJ9.eyJhdWQiOiIwYTFiMmMzZC00ZTVmLTRhNmItOGM3ZC05ZTBmMWEyYjNjNGQiLCJqdGkiOiI1ZjBhN2E0ZS00YjVjLTRkMWUtOWE1My0wYzZmMWUyZDNiNGEiLCJpYXQiOjE3NjcyMjU2MDAsIm5iZiI6MTc2NzIyNTYwMCwiZXhwIjoxOTI0OTkyMDAwLCJzdWIiOiI1ODE2NTEiLCJncmFudF90eXBlIjoiIiwiYWNjb3VudF9pZCI6MzEwMDAwMDEsImJhc2VfZG9tYWluIjoia29tbW8uY29tIiwidmVyc2lvbiI6Miwic2NvcGVzIjpbImNybSIsImZpbGVzIiwiZmlsZXNfZGVsZXRlIl0sImhhc2hfdXVpZCI6IjNjOWY2ZDFlLTdhMmItNGM1ZC04ZTlmLTBhMWIyYzNkNGU1ZiIsImFwaV9kb21haW4iOiJhcGktYy5rb21tby5jb20ifQ.n0WaJ81Bt0c6SnBxTGJHmt1jaUjJ8It4cIWBZZYIxAX7wbfmfk1c1-bS0Tag9N--L5_4zKK8uWhSo-yblFZJ8w";

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            account_port: 0,
            drive_port: 0,
            data_dir: None,
            tokens: Vec::new(),
            integrations: Vec::new(),
            behavior: Behavior::default(),
            tls: false,
            tls_ca_path: None,
        }
    }
}
