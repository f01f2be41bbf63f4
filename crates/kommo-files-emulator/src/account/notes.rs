//! Notes (docs/kommo-api.md#notes): `attachment` notes that reference a drive file, and plain `common` text
//! notes (the docs' way to show a comment next to a file is a second note with the same
//! `created_at`).

use http::StatusCode;
use serde_json::{json, Value};

use super::entities::resolve_file;
use super::{batch_items, ensure_entity, entity_not_found};
use crate::app::{App, Inner, Request, ACCOUNT_ID};
use crate::auth::{Scope, TokenGrant};
use crate::http::{parse_limit, parse_page, ApiError, Reply, RouteResult, DEFAULT_LIMIT};
use crate::names::{sanitize, split_extension, with_extension};
use crate::state::{EntityType, Note};

fn note_href(app: &App, note: &Note) -> String {
    format!(
        "{}/api/v4/{}/{}/notes/{}",
        app.account_url,
        note.entity_type.as_str(),
        note.entity_id,
        note.id
    )
}

fn collection_href(app: &App, kind: EntityType, entity_id: Option<u64>) -> String {
    match entity_id {
        Some(id) => format!("{}/api/v4/{}/{id}/notes", app.account_url, kind.as_str()),
        None => format!("{}/api/v4/{}/notes", app.account_url, kind.as_str()),
    }
}

/// The stored (read-back) `params` of an attachment note: the original name as given, and the
/// sanitized name as `file_name`, like the docs' example.
fn attachment_params(inner: &Inner, params: &Value, request_id: &str) -> Result<Value, ApiError> {
    if !params.is_object() {
        return Err(ApiError::invalid(
            request_id,
            "params",
            "NotBlank",
            "params are required",
        ));
    }
    let (file, version) = resolve_file(
        inner,
        params.get("file_uuid"),
        params.get("version_uuid"),
        request_id,
        "params",
    )?;
    let original = match params.get("file_name") {
        None | Some(Value::Null) => with_extension(&version.name, &version.extension),
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                request_id,
                "params.file_name",
                "InvalidType",
                "file_name must be a non-empty string",
            ))
        }
    };
    let (stem, extension) = split_extension(&original);
    Ok(json!({
        "is_drive_attachment": true,
        "text": original,
        "original_name": original,
        "file_uuid": file.uuid,
        "version_uuid": version.uuid,
        "file_name": with_extension(&sanitize(&stem), &extension),
    }))
}

/// Validates one note of a create request into the `(entity_id, note_type, params, created_at)`
/// to store.
fn validate(
    inner: &Inner,
    kind: EntityType,
    path_entity: Option<u64>,
    item: &Value,
    request_id: &str,
) -> Result<(u64, String, Value, Option<i64>), ApiError> {
    let entity_id = match path_entity {
        Some(id) => id,
        None => item
            .get("entity_id")
            .and_then(Value::as_u64)
            .filter(|id| inner.data.entity(kind, *id).is_some())
            .ok_or_else(|| {
                ApiError::invalid(request_id, "entity_id", "NotFound", "entity not found")
            })?,
    };
    let note_type = item.get("note_type").and_then(Value::as_str).unwrap_or("");
    let params = item.get("params").unwrap_or(&Value::Null);
    let params = match note_type {
        "attachment" => attachment_params(inner, params, request_id)?,
        "common" => {
            let text = params.get("text").and_then(Value::as_str).ok_or_else(|| {
                ApiError::invalid(request_id, "params.text", "NotBlank", "text is required")
            })?;
            json!({ "text": text })
        }
        _ => {
            return Err(ApiError::invalid(
                request_id,
                "note_type",
                "NotSupportedChoice",
                "The value you selected is not a valid choice.",
            ))
        }
    };
    let created_at = match item.get("created_at") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            ApiError::invalid(
                request_id,
                "created_at",
                "InvalidType",
                "created_at must be an integer",
            )
        })?),
    };
    Ok((entity_id, note_type.to_owned(), params, created_at))
}

/// `POST /api/v4/{entity}/notes` and `POST /api/v4/{entity}/{id}/notes`
pub(crate) async fn create(
    app: &App,
    request: &mut Request,
    kind: EntityType,
    entity_id: Option<u64>,
) -> RouteResult {
    let grant: TokenGrant = app.authorize(request, Scope::Crm)?;
    if let Some(id) = entity_id {
        ensure_entity(app, kind, id)?;
    }
    let body = request.json().await?;
    let items = batch_items(&body, "a non-empty JSON array of notes is expected")?;
    let now = app.clock.now();
    let mut inner = app.lock();
    app.expire(&mut inner);
    let mut valid = Vec::with_capacity(items.len());
    for (request_id, item) in items {
        let note = validate(&inner, kind, entity_id, item, &request_id)?;
        valid.push((request_id, note));
    }
    let mut created = Vec::with_capacity(valid.len());
    for (request_id, (note_entity, note_type, params, created_at)) in valid {
        let id = inner.data.next_note_id;
        inner.data.next_note_id += 1;
        let at = created_at.unwrap_or(now);
        let note = Note {
            id,
            entity_type: kind,
            entity_id: note_entity,
            note_type,
            params,
            created_at: at,
            updated_at: at,
            created_by: grant.user_id,
            responsible_user_id: grant.user_id,
        };
        created.push(json!({
            "id": id,
            "entity_id": note_entity,
            "request_id": request_id,
            "_links": { "self": { "href": note_href(app, &note) } },
        }));
        inner.data.notes.push(note);
    }
    inner.save()?;
    Ok(Reply::Json(
        StatusCode::OK,
        json!({
            "_links": { "self": { "href": collection_href(app, kind, entity_id) } },
            "_embedded": { "notes": created },
        }),
    ))
}

fn note_json(app: &App, note: &Note) -> Value {
    json!({
        "id": note.id,
        "entity_id": note.entity_id,
        "created_by": note.created_by,
        "updated_by": note.created_by,
        "created_at": note.created_at,
        "updated_at": note.updated_at,
        "responsible_user_id": note.responsible_user_id,
        "group_id": 0,
        "note_type": note.note_type,
        "params": note.params,
        "account_id": ACCOUNT_ID,
        "_links": { "self": { "href": note_href(app, note) } },
    })
}

/// `GET /api/v4/{entity}/notes` and `GET /api/v4/{entity}/{id}/notes` — oldest first, with
/// `filter[note_type]`, `limit`, `page`; 204 when nothing matches.
pub(crate) fn list(
    app: &App,
    request: &Request,
    kind: EntityType,
    entity_id: Option<u64>,
) -> RouteResult {
    app.authorize(request, Scope::Crm)?;
    let mut types: Vec<String> = Vec::new();
    let mut limit = DEFAULT_LIMIT;
    let mut page = 1usize;
    for (key, value) in request.query_pairs() {
        if key.starts_with("filter[note_type]") {
            types.extend(value.split(',').map(|s| s.trim().to_owned()));
        } else if key == "limit" {
            limit = parse_limit(&value)?;
        } else if key == "page" {
            page = parse_page(&value)?;
        }
    }
    let mut inner = app.lock();
    app.expire(&mut inner);
    if let Some(id) = entity_id {
        inner.data.entity(kind, id).ok_or_else(entity_not_found)?;
    }
    let notes: Vec<Value> = inner
        .data
        .notes
        .iter()
        .filter(|n| n.entity_type == kind && entity_id.is_none_or(|id| n.entity_id == id))
        .filter(|n| types.is_empty() || types.contains(&n.note_type))
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .map(|n| note_json(app, n))
        .collect();
    if notes.is_empty() {
        return Ok(Reply::Empty(StatusCode::NO_CONTENT));
    }
    Ok(Reply::Json(
        StatusCode::OK,
        json!({
            "_page": page,
            "_links": { "self": { "href": request.self_href(&app.account_url) } },
            "_embedded": { "notes": notes },
        }),
    ))
}
