//! Upload sessions and parts (docs/kommo-api.md#uploads).
//!
//! A session hands out a signed URL for part 1; each accepted part answers with the URL for the
//! next one, and the part that completes `file_size` answers with the file object. Bytes go to
//! the session's sink as each part arrives, so at most one part is held in memory.

use http::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::app::{App, Inner, Request, ACCOUNT_ID};
use crate::auth::Scope;
use crate::config::{PartStatus, RetryMode, UploadUrlShape};
use crate::http::{ApiError, Reply, RouteResult};
use crate::names::{file_type, hex, image_dimensions, mime_from_extension, split_extension};
use crate::state::{Author, File, LastAnswer, Session, Version};
use crate::token::{self, UploadClaims};

/// Bytes kept from the start of an upload to read image dimensions for a preview.
const HEAD_BYTES: usize = 256 * 1024;

/// `POST /v1.0/sessions`
pub(crate) async fn create_session(app: &App, request: &mut Request) -> RouteResult {
    let grant = app.authorize(request, Scope::Files)?;
    let body = request.json().await?;
    let Some(body) = body.as_object() else {
        return Err(ApiError::bad_request("a JSON object is expected"));
    };
    let file_name = match body.get("file_name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        _ => {
            return Err(ApiError::invalid(
                "0",
                "file_name",
                "NotBlank",
                "file_name is required",
            ))
        }
    };
    let Some(file_size) = body.get("file_size").and_then(Value::as_u64) else {
        return Err(ApiError::invalid(
            "0",
            "file_size",
            "InvalidType",
            "file_size must be a non-negative integer",
        ));
    };
    let content_type = match body.get("content_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(ct)) => Some(ct.clone()),
        Some(_) => {
            return Err(ApiError::invalid(
                "0",
                "content_type",
                "InvalidType",
                "content_type must be a string",
            ))
        }
    };
    let with_preview = match body.get("with_preview") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::invalid(
                "0",
                "with_preview",
                "InvalidType",
                "with_preview must be a boolean",
            ))
        }
    };
    let created_by = match body.get("created_by") {
        None | Some(Value::Null) => Author::internal(grant.user_id),
        Some(value) => serde_json::from_value::<Author>(value.clone()).map_err(|_| {
            ApiError::invalid(
                "0",
                "created_by",
                "InvalidType",
                "created_by must be {\"id\": int, \"type\": string}",
            )
        })?,
    };

    let now = app.clock.now();
    let mut inner = app.lock();
    app.expire(&mut inner);
    let max_file_size = inner.behavior.max_file_size;
    if file_size > max_file_size {
        return Err(ApiError::invalid(
            "0",
            "file_size",
            "TooBig",
            format!("file_size {file_size} exceeds max_file_size {max_file_size}"),
        ));
    }
    let file_uuid = match body.get("file_uuid") {
        None | Some(Value::Null) => None,
        Some(Value::String(uuid)) => match inner.data.files.get(uuid) {
            Some(file) if !file.is_trashed => Some(uuid.clone()),
            Some(_) => {
                return Err(ApiError::invalid(
                    "0",
                    "file_uuid",
                    "FileTrashed",
                    "the file is in the trash",
                ))
            }
            None => {
                return Err(ApiError::invalid(
                    "0",
                    "file_uuid",
                    "NotFound",
                    "no file with this file_uuid",
                ))
            }
        },
        Some(_) => {
            return Err(ApiError::invalid(
                "0",
                "file_uuid",
                "InvalidType",
                "file_uuid must be a string",
            ))
        }
    };

    let session_id = inner.data.next_session_id;
    inner.data.next_session_id += 1;
    let ttl = i64::try_from(inner.behavior.session_ttl_secs).unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(ttl);
    inner.sessions.insert(
        session_id,
        Session {
            file_name,
            file_size,
            content_type,
            file_uuid,
            with_preview,
            created_by,
            expires_at,
            received: 0,
            next_part: 1,
            completed: false,
            last_answer: None,
            sink: None,
            hasher: Sha256::new(),
            head: Vec::new(),
        },
    );
    let upload_url = part_url(app, &inner, session_id, 1, now, expires_at);
    Ok(Reply::Json(
        StatusCode::OK,
        json!({
            "max_file_size": max_file_size,
            "max_part_size": inner.behavior.max_part_size,
            "session_id": session_id,
            "upload_url": upload_url,
        }),
    ))
}

/// A signed URL for part `part_num` of a session, in the configured shape.
fn part_url(
    app: &App,
    inner: &Inner,
    session_id: u64,
    part_num: u32,
    now: i64,
    exp: i64,
) -> String {
    let claims = UploadClaims {
        session_id,
        part_num,
        exp,
        iat: now,
        account_id: ACCOUNT_ID,
    };
    let token = token::sign(&app.secret, &claims);
    match inner.behavior.upload_url_shape {
        UploadUrlShape::Sessions => format!("{}/v1.0/sessions/upload/{token}", app.drive_url),
        _ => format!("{}/upload/{token}", app.drive_url),
    }
}

fn session_not_found() -> ApiError {
    ApiError::not_found("Upload session not found: it is unknown, expired or already completed")
}

/// What a POST to a part URL turns out to be, decided before its body is read.
enum PartKind {
    /// The part the session waits for.
    Next,
    /// The last accepted part again (retry after a lost answer), answered from memory.
    Replay(LastAnswer),
}

/// Finds the session and decides whether the POST is the next part or a replay; 404 otherwise.
fn classify(app: &App, inner: &mut Inner, claims: &UploadClaims) -> Result<PartKind, ApiError> {
    app.expire(inner);
    let now = app.clock.now();
    let retry_mode = inner.behavior.retry_mode;
    let session = inner
        .sessions
        .get(&claims.session_id)
        .filter(|_| claims.exp > now)
        .ok_or_else(session_not_found)?;
    if !session.completed && claims.part_num == session.next_part {
        return Ok(PartKind::Next);
    }
    match (&session.last_answer, retry_mode) {
        (Some(last), RetryMode::Replay) if last.part_num == claims.part_num => {
            Ok(PartKind::Replay(last.clone()))
        }
        _ => Err(session_not_found()),
    }
}

fn replay(last: LastAnswer) -> Reply {
    Reply::Json(
        StatusCode::from_u16(last.status).unwrap_or(StatusCode::OK),
        last.body,
    )
}

/// `POST /upload/{token}` and `POST /v1.0/sessions/upload/{token}`
pub(crate) async fn upload_part(app: &App, request: &mut Request, token: &str) -> RouteResult {
    // The signed URL is the credential (docs/kommo-api.md#authentication); a Bearer header is tolerated and ignored.
    let claims = token::verify(&app.secret, token).ok_or_else(session_not_found)?;
    let (kind, max_part_size) = {
        let mut inner = app.lock();
        (
            classify(app, &mut inner, &claims)?,
            inner.behavior.max_part_size,
        )
    };
    let part = request.bytes(max_part_size).await.map_err(|_| {
        ApiError::bad_request(format!(
            "part is larger than max_part_size ({max_part_size} bytes)"
        ))
    })?;
    let len = part.len() as u64;

    let mut inner = app.lock();
    // Another request may have moved the session on while the body was read.
    let kind = match kind {
        PartKind::Next => classify(app, &mut inner, &claims)?,
        replay @ PartKind::Replay(_) => replay,
    };
    if let PartKind::Replay(last) = kind {
        return if last.len == len {
            Ok(replay(last))
        } else {
            Err(session_not_found())
        };
    }

    let now = app.clock.now();
    let session = inner
        .sessions
        .get_mut(&claims.session_id)
        .ok_or_else(session_not_found)?;
    let remaining = session.file_size - session.received;
    if len > remaining {
        return Err(ApiError::bad_request(format!(
            "part of {len} bytes goes beyond file_size: only {remaining} bytes remain"
        )));
    }
    if len == 0 && remaining > 0 {
        return Err(ApiError::bad_request(
            "empty part: the upload expects more bytes",
        ));
    }
    append(&mut inner, claims.session_id, &part)?;

    let session = inner
        .sessions
        .get_mut(&claims.session_id)
        .ok_or_else(session_not_found)?;
    if session.received < session.file_size {
        session.next_part += 1;
        let (next_part, expires_at) = (session.next_part, session.expires_at);
        let next_url = part_url(app, &inner, claims.session_id, next_part, now, expires_at);
        let status = match inner.behavior.part_status {
            PartStatus::Ok200 => StatusCode::OK,
            _ => StatusCode::ACCEPTED,
        };
        let body = json!({ "session_id": claims.session_id, "next_url": next_url });
        remember(&mut inner, &claims, len, status, &body);
        return Ok(Reply::Json(status, body));
    }

    let mut body = complete(app, &mut inner, claims.session_id)?;
    body["session_id"] = json!(claims.session_id);
    remember(&mut inner, &claims, len, StatusCode::OK, &body);
    inner.save()?;
    Ok(Reply::Json(StatusCode::OK, body))
}

fn storage_error(e: std::io::Error) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("emulator storage failed: {e}"),
    )
}

/// Opens the session's sink if it has none yet.
fn ensure_sink(inner: &mut Inner, session_id: u64) -> Result<(), ApiError> {
    let needs_sink = inner
        .sessions
        .get(&session_id)
        .is_some_and(|s| s.sink.is_none());
    if needs_sink {
        let sink = inner.store.open_sink(session_id).map_err(storage_error)?;
        if let Some(session) = inner.sessions.get_mut(&session_id) {
            session.sink = Some(sink);
        }
    }
    Ok(())
}

/// Appends a part to the session's sink (opened on first use) and its running hash.
fn append(inner: &mut Inner, session_id: u64, part: &[u8]) -> Result<(), ApiError> {
    ensure_sink(inner, session_id)?;
    let session = inner
        .sessions
        .get_mut(&session_id)
        .ok_or_else(session_not_found)?;
    if let Some(sink) = session.sink.as_mut() {
        sink.append(part).map_err(storage_error)?;
    }
    session.hasher.update(part);
    let head_room = HEAD_BYTES.saturating_sub(session.head.len());
    session
        .head
        .extend_from_slice(&part[..part.len().min(head_room)]);
    session.received += part.len() as u64;
    Ok(())
}

fn remember(inner: &mut Inner, claims: &UploadClaims, len: u64, status: StatusCode, body: &Value) {
    if let Some(session) = inner.sessions.get_mut(&claims.session_id) {
        session.last_answer = Some(LastAnswer {
            part_num: claims.part_num,
            len,
            status: status.as_u16(),
            body: body.clone(),
        });
    }
}

/// Turns a fully received session into a new file or a new active version; returns the file
/// object.
fn complete(app: &App, inner: &mut Inner, session_id: u64) -> Result<Value, ApiError> {
    let now = app.clock.now();
    // A 0-byte file never wrote a part: this gives it an empty blob.
    ensure_sink(inner, session_id)?;
    let session = inner
        .sessions
        .get_mut(&session_id)
        .ok_or_else(session_not_found)?;
    session.completed = true;
    let sink = session.sink.take().ok_or_else(session_not_found)?;
    let sha256 = hex(&std::mem::take(&mut session.hasher).finalize());
    let (name, extension) = split_extension(&session.file_name);
    let mime_type = session
        .content_type
        .clone()
        .unwrap_or_else(|| mime_from_extension(&extension).to_owned());
    let preview = (session.with_preview && file_type(&mime_type, &extension) == "image")
        .then(|| image_dimensions(&session.head))
        .flatten();
    let version = Version {
        uuid: app.ids.uuid(),
        name,
        extension,
        mime_type,
        size: session.received,
        sha256,
        created_at: now,
        updated_at: now,
        created_by: session.created_by.clone(),
        updated_by: session.created_by.clone(),
        preview,
    };
    let target = session.file_uuid.clone();
    let author = session.created_by.clone();
    session.head = Vec::new();

    inner
        .store
        .commit(sink, &version.uuid)
        .map_err(storage_error)?;
    let file_uuid = match target {
        Some(uuid) => {
            let file = inner
                .data
                .files
                .get_mut(&uuid)
                .filter(|f| !f.is_trashed)
                .ok_or_else(|| {
                    ApiError::bad_request("the file this version belongs to was deleted")
                })?;
            file.active_version = version.uuid.clone();
            file.updated_at = now;
            file.updated_by = author;
            file.versions.push(version);
            uuid
        }
        None => {
            let uuid = app.ids.uuid();
            let id = inner.data.next_file_id;
            inner.data.next_file_id += 1;
            inner.data.files.insert(
                uuid.clone(),
                File {
                    id,
                    uuid: uuid.clone(),
                    active_version: version.uuid.clone(),
                    versions: vec![version],
                    source_id: None,
                    is_trashed: false,
                    created_at: now,
                    updated_at: now,
                    created_by: author.clone(),
                    updated_by: author,
                    deleted_at: None,
                    deleted_by: None,
                },
            );
            uuid
        }
    };
    let file = &inner.data.files[&file_uuid];
    Ok(super::repr::file_json(app, file))
}
