//! The control API: fault schedule, clock, request log, stored-bytes inspection, behaviour
//! switches and tokens. The same operations are methods on
//! [`EmulatorHandle`](crate::EmulatorHandle) and JSON endpoints under [`PREFIX`] on both
//! listeners (no authentication: it is a test tool bound to loopback).

use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Response, StatusCode};
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::app::{App, RequestRecord};
use crate::auth::TokenGrant;
use crate::config::Behavior;
use crate::faults::HostKind;
use crate::faults::{Fault, FaultStatus};
use crate::http::{
    into_response, parse_json, read_body, ApiError, Reply, ResponseBody, RouteResult,
};
use crate::oauth::{Integration, IssuedTokens};
use crate::storage::Blob;

/// Path prefix of the control API on both listeners.
pub const PREFIX: &str = "/__emulator/";

/// A stored file as the inspection API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredFile {
    /// File uuid.
    pub uuid: String,
    /// Numeric file id.
    pub id: u64,
    /// Whether the file is in the trash.
    pub is_trashed: bool,
    /// Every version, oldest first.
    pub versions: Vec<StoredVersion>,
}

/// One stored version: its size and the SHA-256 of the bytes the emulator holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredVersion {
    /// Version uuid.
    pub uuid: String,
    /// Whether it is the active version.
    pub is_main: bool,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the stored bytes.
    pub sha256: String,
}

/// The emulator clock as the control API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClockStatus {
    /// Unix seconds as the emulator sees them.
    pub now: i64,
    /// Seconds added to real time so far.
    pub offset_secs: i64,
}

impl App {
    pub(crate) fn add_fault(&self, fault: Fault) -> u64 {
        self.lock().faults.add(fault)
    }

    pub(crate) fn remove_fault(&self, id: u64) -> bool {
        self.lock().faults.remove(id)
    }

    pub(crate) fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub(crate) fn faults(&self) -> Vec<FaultStatus> {
        self.lock().faults.list()
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.lock().log.clone()
    }

    pub(crate) fn clear_requests(&self) {
        self.lock().log.clear();
    }

    pub(crate) fn advance_clock(&self, by: Duration) -> ClockStatus {
        self.clock.advance(by);
        let mut inner = self.lock();
        self.expire(&mut inner);
        self.clock_status()
    }

    pub(crate) fn clock_status(&self) -> ClockStatus {
        ClockStatus {
            now: self.clock.now(),
            offset_secs: self.clock.offset(),
        }
    }

    pub(crate) fn stored_files(&self) -> Vec<StoredFile> {
        let mut inner = self.lock();
        self.expire(&mut inner);
        let mut files: Vec<StoredFile> = inner
            .data
            .files
            .values()
            .map(|f| StoredFile {
                uuid: f.uuid.clone(),
                id: f.id,
                is_trashed: f.is_trashed,
                versions: f
                    .versions
                    .iter()
                    .map(|v| StoredVersion {
                        uuid: v.uuid.clone(),
                        is_main: v.uuid == f.active().uuid,
                        size: v.size,
                        sha256: v.sha256.clone(),
                    })
                    .collect(),
            })
            .collect();
        files.sort_by_key(|f| f.id);
        files
    }

    pub(crate) fn version_bytes(&self, version_uuid: &str) -> Option<Vec<u8>> {
        let blob = self.lock().store.blob(version_uuid)?;
        match blob {
            Blob::Memory(bytes) => Some(bytes.to_vec()),
            Blob::Disk(path) => std::fs::read(path).ok(),
        }
    }

    pub(crate) fn behavior(&self) -> Behavior {
        self.lock().behavior.clone()
    }

    pub(crate) fn set_behavior(&self, behavior: Behavior) {
        self.lock().behavior = behavior;
    }

    pub(crate) fn tokens(&self) -> Vec<TokenGrant> {
        self.lock().tokens.clone()
    }

    pub(crate) fn add_token(&self, grant: TokenGrant) {
        let mut inner = self.lock();
        inner.tokens.retain(|g| g.token != grant.token);
        inner.tokens.push(grant);
    }
}

impl App {
    /// A code as if consent was given; an unusable one for an unknown client.
    pub(crate) fn authorization_code(&self, client_id: &str) -> String {
        self.try_authorization_code(client_id)
            .unwrap_or_else(|| format!("def50200{}", crate::names::hex(&self.ids.bytes(96))))
    }

    fn try_authorization_code(&self, client_id: &str) -> Option<String> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let behavior = inner.behavior.clone();
        inner.oauth.approve(client_id, now, &behavior, &self.ids)
    }

    /// A fresh pair as if consent was given and the code exchanged; unknown tokens for an
    /// unknown client.
    pub(crate) fn issue_tokens(&self, client_id: &str) -> IssuedTokens {
        self.try_issue_tokens(client_id).unwrap_or_else(|| {
            let now = self.clock.now();
            let ttl = self.behavior().access_token_ttl_secs;
            IssuedTokens {
                token_type: "Bearer".to_owned(),
                expires_in: ttl,
                access_token: format!("unknown-client.{}", crate::names::hex(&self.ids.bytes(32))),
                refresh_token: format!("def50200{}", crate::names::hex(&self.ids.bytes(96))),
                server_time: now,
                expires_at: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            }
        })
    }

    fn try_issue_tokens(&self, client_id: &str) -> Option<IssuedTokens> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let behavior = inner.behavior.clone();
        inner.oauth.approve(client_id, now, &behavior, &self.ids)?;
        inner.oauth.issue(client_id, now, &behavior, &self.ids)
    }
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid control request: {e}")))
}

/// Merges a partial JSON object into the current behaviour.
fn patch_behavior(current: &Behavior, patch: Value) -> Result<Behavior, ApiError> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::bad_request("a JSON object is expected"));
    };
    let mut merged = to_json(current);
    for (key, value) in patch {
        if merged.get(&key).is_none() {
            return Err(ApiError::bad_request(format!("unknown setting `{key}`")));
        }
        merged[key] = value;
    }
    from_json(merged)
}

/// Serves `/__emulator/...`.
pub(crate) async fn handle(app: &App, parts: Parts, mut body: Incoming) -> Response<ResponseBody> {
    let mut bytes_in = 0;
    let read = read_body(&mut body, 1024 * 1024, &mut bytes_in, || {
        ApiError::bad_request("control request body is too large")
    })
    .await;
    let result = match read {
        Ok(bytes) => route(app, &parts, &bytes),
        Err(e) => {
            // Answer a too-large body only once the client has finished sending it.
            crate::http::drain_body(&mut body, crate::server::DRAIN_LIMIT).await;
            Err(e)
        }
    };
    // Control answers are plain JSON, like the drive host.
    into_response(HostKind::Drive, result)
}

fn ok(value: Value) -> RouteResult {
    Ok(Reply::Json(StatusCode::OK, value))
}

fn route(app: &App, parts: &Parts, body: &Bytes) -> RouteResult {
    let path = parts
        .uri
        .path()
        .trim_start_matches(PREFIX)
        .trim_end_matches('/');
    let json_body = || parse_json(body);
    match (&parts.method, path) {
        (&Method::GET, "health") => ok(json!({
            "status": "ok",
            "account_url": app.account_url,
            "drive_url": app.drive_url,
        })),
        (&Method::GET, "requests") => ok(to_json(&app.requests())),
        (&Method::DELETE, "requests") => {
            app.clear_requests();
            Ok(Reply::Empty(StatusCode::NO_CONTENT))
        }
        (&Method::GET, "faults") => ok(to_json(&app.faults())),
        (&Method::POST, "faults") => {
            let id = app.add_fault(from_json(json_body()?)?);
            Ok(Reply::Json(StatusCode::CREATED, json!({ "id": id })))
        }
        (&Method::DELETE, "faults") => {
            app.clear_faults();
            Ok(Reply::Empty(StatusCode::NO_CONTENT))
        }
        (&Method::DELETE, p) if p.starts_with("faults/") => {
            let id: u64 = p["faults/".len()..]
                .parse()
                .map_err(|_| ApiError::not_found("no such fault"))?;
            if app.remove_fault(id) {
                Ok(Reply::Empty(StatusCode::NO_CONTENT))
            } else {
                Err(ApiError::not_found("no such fault"))
            }
        }
        (&Method::GET, "clock") => ok(to_json(&app.clock_status())),
        (&Method::POST, "clock/advance") => {
            let seconds = json_body()?
                .get("seconds")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    ApiError::bad_request("{\"seconds\": non-negative integer} expected")
                })?;
            ok(to_json(&app.advance_clock(Duration::from_secs(seconds))))
        }
        (&Method::GET, "files") => ok(to_json(&app.stored_files())),
        (&Method::GET, "config") => ok(to_json(&app.behavior())),
        (&Method::PATCH, "config") => {
            let behavior = patch_behavior(&app.behavior(), json_body()?)?;
            app.set_behavior(behavior.clone());
            ok(to_json(&behavior))
        }
        (&Method::GET, "tokens") => ok(to_json(&app.tokens())),
        (&Method::POST, "tokens") => {
            app.add_token(from_json(json_body()?)?);
            Ok(Reply::Empty(StatusCode::CREATED))
        }
        (&Method::GET, "integrations") => ok(to_json(&app.lock().oauth.statuses())),
        (&Method::POST, "integrations") => {
            let integration: Integration = from_json(json_body()?)?;
            if integration.client_id.is_empty()
                || integration.client_secret.is_empty()
                || integration.redirect_uri.is_empty()
            {
                return Err(ApiError::bad_request(
                    "client_id, client_secret and redirect_uri must not be empty",
                ));
            }
            app.lock().oauth.add(integration);
            Ok(Reply::Empty(StatusCode::CREATED))
        }
        (&Method::POST, p) if p.starts_with("integrations/") => {
            let rest = &p["integrations/".len()..];
            let (client_id, action) = rest
                .rsplit_once('/')
                .ok_or_else(|| ApiError::not_found("no such integration action"))?;
            let client_id = crate::names::percent_decode(client_id);
            let unknown = || ApiError::not_found(format!("no integration `{client_id}`"));
            match action {
                "revoke" => {
                    if app.lock().oauth.revoke(&client_id) {
                        Ok(Reply::Empty(StatusCode::NO_CONTENT))
                    } else {
                        Err(unknown())
                    }
                }
                "code" => {
                    let code = app.try_authorization_code(&client_id).ok_or_else(unknown)?;
                    ok(json!({ "code": code }))
                }
                "tokens" => ok(to_json(
                    &app.try_issue_tokens(&client_id).ok_or_else(unknown)?,
                )),
                _ => Err(ApiError::not_found("no such integration action")),
            }
        }
        _ => Err(ApiError::not_found(format!(
            "no control route for {} {}",
            parts.method,
            parts.uri.path()
        ))),
    }
}
