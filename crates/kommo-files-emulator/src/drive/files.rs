//! Single-file endpoints and the batch trash/restore (docs/kommo-api.md#single-files-trash-and-versions).

use http::StatusCode;
use serde_json::{json, Value};

use super::repr::{file_href, file_json, version_json};
use crate::app::{App, Request};
use crate::auth::Scope;
use crate::config::{DeleteStatus, MissingFileStatus};
use crate::http::{ApiError, Reply, RouteResult};
use crate::state::Author;

/// `GET /v1.0/files/{uuid}` — a trashed file is still returned, with `is_trashed: true`.
pub(crate) fn get_file(app: &App, request: &Request, uuid: &str) -> RouteResult {
    app.authorize(request, Scope::Files)?;
    let mut inner = app.lock();
    app.expire(&mut inner);
    match inner.data.files.get(uuid) {
        Some(file) => Ok(Reply::Json(StatusCode::OK, file_json(app, file))),
        None => match inner.behavior.missing_file_status {
            MissingFileStatus::NoContent204 => Ok(Reply::Empty(StatusCode::NO_CONTENT)),
            _ => Err(ApiError::not_found("File not found")),
        },
    }
}

/// `PATCH /v1.0/files/{uuid}` — rename **or** switch the active version.
pub(crate) async fn patch_file(app: &App, request: &mut Request, uuid: &str) -> RouteResult {
    let grant = app.authorize(request, Scope::Files)?;
    let body = request.json().await?;
    let Some(body) = body.as_object() else {
        return Err(ApiError::bad_request("a JSON object is expected"));
    };
    let name = body.get("name").filter(|v| !v.is_null());
    let version_uuid = body.get("version_uuid").filter(|v| !v.is_null());
    if name.is_some() && version_uuid.is_some() {
        return Err(ApiError::bad_request(
            "name and version_uuid cannot be changed in one request",
        ));
    }
    let now = app.clock.now();
    let mut inner = app.lock();
    app.expire(&mut inner);
    let file = inner
        .data
        .files
        .get_mut(uuid)
        .ok_or_else(|| ApiError::not_found("File not found"))?;
    if file.is_trashed {
        return Err(ApiError::bad_request(
            "the file is in the trash; restore it first",
        ));
    }
    if let Some(name) = name {
        let name = name
            .as_str()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                ApiError::invalid("0", "name", "NotBlank", "name must be a non-empty string")
            })?;
        let version = file.active_mut();
        // Names are kept without extension; a name sent with the current one is trimmed.
        let suffix = format!(".{}", version.extension);
        let name = match name.len().checked_sub(suffix.len()) {
            Some(cut)
                if !version.extension.is_empty()
                    && cut > 0
                    && name.is_char_boundary(cut)
                    && name[cut..].eq_ignore_ascii_case(&suffix) =>
            {
                &name[..cut]
            }
            _ => name,
        };
        version.name = name.to_owned();
        version.updated_at = now;
        version.updated_by = Author::internal(grant.user_id);
    }
    if let Some(version_uuid) = version_uuid {
        let version_uuid = version_uuid
            .as_str()
            .filter(|v| file.version(v).is_some())
            .ok_or_else(|| {
                ApiError::invalid(
                    "0",
                    "version_uuid",
                    "NotFound",
                    "version_uuid is not a version of this file",
                )
            })?;
        file.active_version = version_uuid.to_owned();
    }
    if name.is_some() || version_uuid.is_some() {
        file.updated_at = now;
        file.updated_by = Author::internal(grant.user_id);
    }
    let body = file_json(app, file);
    inner.save()?;
    Ok(Reply::Json(StatusCode::OK, body))
}

/// Reads a `[{"uuid": ...}, ...]` body and checks every uuid names a known file.
async fn uuid_list(app: &App, request: &mut Request) -> Result<Vec<String>, ApiError> {
    let body = request.json().await?;
    let items = body.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
        ApiError::bad_request("a non-empty JSON array of {\"uuid\": ...} is expected")
    })?;
    let mut uuids = Vec::with_capacity(items.len());
    let inner = app.lock();
    for (i, item) in items.iter().enumerate() {
        let uuid = item.get("uuid").and_then(Value::as_str).ok_or_else(|| {
            ApiError::invalid(i.to_string(), "uuid", "NotBlank", "uuid is required")
        })?;
        if !inner.data.files.contains_key(uuid) {
            return Err(ApiError::invalid(
                i.to_string(),
                "uuid",
                "NotFound",
                format!("file {uuid} not found"),
            ));
        }
        uuids.push(uuid.to_owned());
    }
    Ok(uuids)
}

/// `DELETE /v1.0/files` — moves files to the trash (needs `files_delete`).
pub(crate) async fn delete_files(app: &App, request: &mut Request) -> RouteResult {
    let grant = app.authorize(request, Scope::Files)?;
    app.authorize(request, Scope::FilesDelete)?;
    app.expire(&mut app.lock());
    let uuids = uuid_list(app, request).await?;
    let now = app.clock.now();
    let mut inner = app.lock();
    for uuid in &uuids {
        if let Some(file) = inner.data.files.get_mut(uuid).filter(|f| !f.is_trashed) {
            file.is_trashed = true;
            file.deleted_at = Some(now);
            file.deleted_by = Some(Author::internal(grant.user_id));
        }
    }
    inner.save()?;
    Ok(match inner.behavior.delete_status {
        DeleteStatus::OkEmptyObject200 => Reply::Json(StatusCode::OK, json!({})),
        _ => Reply::Empty(StatusCode::NO_CONTENT),
    })
}

/// `POST /v1.0/files/restore` — takes files out of the trash (needs only `files`: docs/kommo-api.md#scopes).
pub(crate) async fn restore_files(app: &App, request: &mut Request) -> RouteResult {
    app.authorize(request, Scope::Files)?;
    app.expire(&mut app.lock());
    let uuids = uuid_list(app, request).await?;
    let mut inner = app.lock();
    let mut files = Vec::with_capacity(uuids.len());
    for uuid in &uuids {
        if let Some(file) = inner.data.files.get_mut(uuid) {
            file.is_trashed = false;
            file.deleted_at = None;
            file.deleted_by = None;
            files.push(file_json(app, file));
        }
    }
    inner.save()?;
    Ok(Reply::Json(
        StatusCode::OK,
        json!({ "_count": files.len(), "_embedded": { "files": files } }),
    ))
}

/// `GET /v1.0/files/{uuid}/versions` — newest first.
pub(crate) fn list_versions(app: &App, request: &Request, uuid: &str) -> RouteResult {
    app.authorize(request, Scope::Files)?;
    let mut inner = app.lock();
    app.expire(&mut inner);
    let file = inner
        .data
        .files
        .get(uuid)
        .ok_or_else(|| ApiError::not_found("File not found"))?;
    let versions: Vec<Value> = file
        .versions
        .iter()
        .rev()
        .map(|v| version_json(app, file, v))
        .collect();
    Ok(Reply::Json(
        StatusCode::OK,
        json!({
            "_count": versions.len(),
            "_embedded": { "versions": versions },
            "_links": { "self": { "href": format!("{}/versions", file_href(app, uuid)) } },
        }),
    ))
}
