//! The shared application: one lock around the account's data and the emulator's own state
//! (behaviour switches, tokens, faults, request log), plus what every route needs.

use std::io;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{self, AuthFailure, RateLimiter, Scope, TokenGrant};
use crate::clock::Clock;
use crate::config::{Behavior, EmulatorConfig, DEFAULT_TOKEN};
use crate::faults::{FaultBook, HostKind};
use crate::http::{read_body, ApiError};
use crate::names::{stable_uuid, IdSource};
use crate::oauth::OAuth;
use crate::state::{Data, Sessions};
use crate::storage::BlobStore;

/// The emulated account's id (`account_id` in notes and tokens).
pub(crate) const ACCOUNT_ID: u64 = 31_000_001;
/// Largest JSON body accepted on API routes.
const JSON_BODY_LIMIT: u64 = 4 * 1024 * 1024;
/// The request log keeps this many entries (oldest dropped first).
const LOG_CAPACITY: usize = 10_000;

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RequestRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// Listener the request arrived on.
    pub host: HostKind,
    /// HTTP method.
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    /// Status answered; `None` when the connection was closed without an answer.
    pub status: Option<u16>,
    /// Request body bytes read by the emulator.
    pub bytes_in: u64,
    /// Name of the fault applied to it, if any (`close_after_commit`, ...).
    pub fault: Option<String>,
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) data: Data,
    pub(crate) sessions: Sessions,
    pub(crate) behavior: Behavior,
    pub(crate) tokens: Vec<TokenGrant>,
    pub(crate) faults: FaultBook,
    pub(crate) log: Vec<RequestRecord>,
    pub(crate) next_log_seq: u64,
    pub(crate) rate: RateLimiter,
    pub(crate) store: BlobStore,
    pub(crate) oauth: OAuth,
}

impl Inner {
    /// Persists the data (a no-op in memory); an I/O failure is a 500.
    pub(crate) fn save(&self) -> Result<(), ApiError> {
        self.store.save_state(&self.data).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("emulator could not save its state: {e}"),
            )
        })
    }

    pub(crate) fn record(&mut self, mut record: RequestRecord) {
        self.next_log_seq += 1;
        record.seq = self.next_log_seq;
        if self.log.len() >= LOG_CAPACITY {
            self.log.remove(0);
        }
        self.log.push(record);
    }
}

/// The application shared by both listeners.
#[derive(Debug)]
pub(crate) struct App {
    inner: Mutex<Inner>,
    pub(crate) clock: Clock,
    pub(crate) ids: IdSource,
    /// Key of the upload-token signatures (new per process: a restart voids old upload URLs).
    pub(crate) secret: [u8; 32],
    pub(crate) account_url: String,
    pub(crate) drive_url: String,
    /// The `{A}` segment of download links: constant for the account (docs/kommo-api.md#downloads).
    pub(crate) account_uuid: String,
}

impl App {
    pub(crate) fn new(
        config: &EmulatorConfig,
        account_url: String,
        drive_url: String,
    ) -> io::Result<Self> {
        let clock = Clock::default();
        let store = BlobStore::open(config.data_dir.as_deref())?;
        let mut tokens = config.tokens.clone();
        if tokens.is_empty() {
            tokens.push(TokenGrant::new(DEFAULT_TOKEN, Scope::ALL));
        }
        let data = match store.load_state()? {
            Some(data) => data,
            None => Data::seeded(clock.now(), tokens[0].user_id),
        };
        let ids = IdSource::new();
        let mut oauth = OAuth::default();
        for integration in &config.integrations {
            oauth.add(integration.clone());
        }
        let inner = Inner {
            data,
            sessions: Sessions::new(),
            behavior: config.behavior.clone(),
            tokens,
            faults: FaultBook::default(),
            log: Vec::new(),
            next_log_seq: 0,
            rate: RateLimiter::default(),
            store,
            oauth,
        };
        inner
            .store
            .save_state(&inner.data)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot write state: {e}")))?;
        Ok(App {
            inner: Mutex::new(inner),
            clock,
            secret: ids.secret(),
            ids,
            account_url,
            drive_url,
            account_uuid: stable_uuid(&format!("kommo-files-emulator/account/{ACCOUNT_ID}")),
        })
    }

    /// The account host as `host:port`, as Kommo's consent redirect gives it in `referer`.
    pub(crate) fn referer(&self) -> String {
        let url = &self.account_url;
        url.split_once("://")
            .map_or(url.as_str(), |(_, rest)| rest)
            .trim_end_matches('/')
            .to_owned()
    }

    /// Locks the state. A panic in another request must not take the emulator down with it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies what the clock says is due: expired sessions vanish, trash older than the
    /// retention is purged for good (bytes, links).
    pub(crate) fn expire(&self, inner: &mut Inner) {
        let now = self.clock.now();
        let expired: Vec<u64> = inner
            .sessions
            .iter()
            .filter(|(_, s)| s.expires_at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(sink) = inner.sessions.remove(&id).and_then(|s| s.sink) {
                sink.discard();
            }
        }
        let retention = i64::try_from(inner.behavior.trash_retention_secs).unwrap_or(i64::MAX);
        let purged: Vec<String> = inner
            .data
            .files
            .values()
            .filter(|f| {
                f.is_trashed
                    && f.deleted_at
                        .is_some_and(|at| at.saturating_add(retention) <= now)
            })
            .map(|f| f.uuid.clone())
            .collect();
        if purged.is_empty() {
            return;
        }
        for uuid in &purged {
            if let Some(file) = inner.data.files.remove(uuid) {
                for version in &file.versions {
                    inner.store.remove(&version.uuid);
                }
            }
        }
        inner.data.links.retain(|l| !purged.contains(&l.file_uuid));
        // A failed save here is retried by the next change; the purge itself is done.
        let _ = inner.save();
    }

    /// Checks the bearer token of `request` for `scope`; 401 / 403 otherwise.
    pub(crate) fn authorize(
        &self,
        request: &Request,
        scope: Scope,
    ) -> Result<TokenGrant, ApiError> {
        let now = self.clock.now();
        let inner = self.lock();
        // Configured tokens first, then the OAuth access tokens the emulator issued.
        let issued = request
            .bearer()
            .and_then(|token| inner.oauth.grant(token, now));
        let grants = match &issued {
            Some(grant) => std::slice::from_ref(grant),
            None => inner.tokens.as_slice(),
        };
        match auth::authorize(grants, request.bearer(), scope) {
            Ok(grant) => Ok(grant.clone()),
            Err(AuthFailure::Unauthorized) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Authorization required: a valid bearer token is missing",
            )),
            Err(AuthFailure::MissingScope(scope)) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("Not enough rights to call this method (scope `{scope}` required)"),
            )),
        }
    }
}

/// A request as routes see it: head parts plus the unread body.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) host: HostKind,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Incoming,
    /// Body bytes read so far (for the request log).
    pub(crate) bytes_in: u64,
}

impl Request {
    pub(crate) fn bearer(&self) -> Option<&str> {
        auth::bearer(self.headers.get(http::header::AUTHORIZATION))
    }

    /// Path segments without the leading slash: `/v1.0/files/x` → `["v1.0", "files", "x"]`.
    pub(crate) fn segments(&self) -> Vec<String> {
        self.path
            .trim_start_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect()
    }

    /// Reads and parses a JSON body (limit 4 MiB).
    pub(crate) async fn json(&mut self) -> Result<Value, ApiError> {
        let bytes = self.bytes(JSON_BODY_LIMIT).await?;
        crate::http::parse_json(&bytes)
    }

    /// Reads the raw body, refusing more than `limit` bytes with a 400.
    pub(crate) async fn bytes(&mut self, limit: u64) -> Result<Bytes, ApiError> {
        read_body(&mut self.body, limit, &mut self.bytes_in, || {
            ApiError::bad_request(format!("request body is larger than {limit} bytes"))
        })
        .await
    }

    /// Reads and discards what is left of the body (at most `limit` bytes), not counted in
    /// `bytes_in`. An answer sent while the client is still writing would close the connection
    /// under it: the client would see a broken pipe, not the answer (a 404 to a re-sent part,
    /// say), and whether it saw one or the other would be a matter of timing.
    pub(crate) async fn drain(&mut self, limit: u64) {
        crate::http::drain_body(&mut self.body, limit).await;
    }

    /// Decoded query pairs.
    pub(crate) fn query_pairs(&self) -> Vec<(String, String)> {
        crate::names::query_pairs(self.query.as_deref())
    }

    /// `{base}{path}` plus the query as sent, for `_links.self`.
    pub(crate) fn self_href(&self, base: &str) -> String {
        match &self.query {
            Some(q) if !q.is_empty() => format!("{base}{}?{q}", self.path),
            _ => format!("{base}{}", self.path),
        }
    }
}
