//! Files linked to entities (docs/kommo-api.md#entity-links): list with `limit`/`before_id`, attach, detach, and the
//! reverse lookup `GET /api/v4/files/{uuid}/links` with legacy field names.

use http::StatusCode;
use serde_json::{json, Value};

use super::{ensure_entity, lock_entity, non_empty_array};
use crate::app::{App, Request};
use crate::auth::Scope;
use crate::config::AttachStatus;
use crate::http::{parse_limit, query_number, ApiError, Reply, RouteResult, DEFAULT_LIMIT};
use crate::state::{Entity, EntityType, Link};

/// `GET /api/v4/{entity}/{id}/files` — link ids descending, `before_id` keyset, 204 when empty.
pub(crate) fn list(app: &App, request: &Request, kind: EntityType, id: u64) -> RouteResult {
    app.authorize(request, Scope::Crm)?;
    let mut limit = DEFAULT_LIMIT;
    let mut before_id = None;
    for (key, value) in request.query_pairs() {
        match key.as_str() {
            "limit" => limit = parse_limit(&value)?,
            // Link ids start at 1.
            "before_id" => before_id = Some(query_number("before_id", &value, 1..=u64::MAX)?),
            _ => {}
        }
    }
    let inner = lock_entity(app, kind, id)?;
    let mut links: Vec<&Link> = inner
        .data
        .links
        .iter()
        .filter(|l| l.entity_type == kind && l.entity_id == id)
        .filter(|l| before_id.is_none_or(|b| l.id < b))
        .collect();
    links.sort_by_key(|l| std::cmp::Reverse(l.id));
    links.truncate(limit);
    if links.is_empty() {
        return Ok(Reply::Empty(StatusCode::NO_CONTENT));
    }
    let files: Vec<Value> = links
        .iter()
        .map(|l| json!({ "file_uuid": l.file_uuid, "id": l.id }))
        .collect();
    Ok(Reply::Json(
        StatusCode::OK,
        json!({
            "_links": { "self": { "href": request.self_href(&app.account_url) } },
            "_embedded": { "files": files },
        }),
    ))
}

/// Reads `[{"file_uuid": ...}]`; every file must exist, and for attaching not be trashed.
async fn file_uuids(
    app: &App,
    request: &mut Request,
    refuse_trashed: bool,
) -> Result<Vec<String>, ApiError> {
    let body = request.json().await?;
    let items = non_empty_array(
        &body,
        "a non-empty JSON array of {\"file_uuid\": ...} is expected",
    )?;
    let inner = app.lock();
    let mut uuids = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let request_id = i.to_string();
        let uuid = item
            .get("file_uuid")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::invalid(
                    request_id.clone(),
                    "file_uuid",
                    "NotBlank",
                    "file_uuid is required",
                )
            })?;
        match inner.data.files.get(uuid) {
            None => {
                return Err(ApiError::invalid(
                    request_id,
                    "file_uuid",
                    "NotFound",
                    format!("file {uuid} not found"),
                ))
            }
            Some(file) if refuse_trashed && file.is_trashed => {
                return Err(ApiError::invalid(
                    request_id,
                    "file_uuid",
                    "FileTrashed",
                    format!("file {uuid} is in the trash"),
                ))
            }
            Some(_) => uuids.push(uuid.to_owned()),
        }
    }
    Ok(uuids)
}

/// The common start of attach and detach: authorizes, checks that the entity exists, then reads
/// the body's file uuids.
async fn entity_file_uuids(
    app: &App,
    request: &mut Request,
    kind: EntityType,
    id: u64,
    refuse_trashed: bool,
) -> Result<Vec<String>, ApiError> {
    app.authorize(request, Scope::Crm)?;
    ensure_entity(app, kind, id)?;
    file_uuids(app, request, refuse_trashed).await
}

fn attach_reply(app: &App) -> Reply {
    match app.lock().behavior.attach_status {
        AttachStatus::OkEmptyObject200 => Reply::Json(StatusCode::OK, json!({})),
        _ => Reply::Empty(StatusCode::ACCEPTED),
    }
}

/// `PUT /api/v4/{entity}/{id}/files` — links each file once; re-attaching is a no-op.
pub(crate) async fn attach(
    app: &App,
    request: &mut Request,
    kind: EntityType,
    id: u64,
) -> RouteResult {
    let uuids = entity_file_uuids(app, request, kind, id, true).await?;
    {
        let mut inner = app.lock();
        for uuid in uuids {
            let exists = inner
                .data
                .links
                .iter()
                .any(|l| l.entity_type == kind && l.entity_id == id && l.file_uuid == uuid);
            if !exists {
                let link_id = inner.data.next_link_id;
                inner.data.next_link_id += 1;
                inner.data.links.push(Link {
                    id: link_id,
                    entity_type: kind,
                    entity_id: id,
                    file_uuid: uuid,
                });
            }
        }
        inner.save()?;
    }
    Ok(attach_reply(app))
}

/// `DELETE /api/v4/{entity}/{id}/files`
pub(crate) async fn detach(
    app: &App,
    request: &mut Request,
    kind: EntityType,
    id: u64,
) -> RouteResult {
    let uuids = entity_file_uuids(app, request, kind, id, false).await?;
    {
        let mut inner = app.lock();
        inner.data.links.retain(|l| {
            !(l.entity_type == kind && l.entity_id == id && uuids.contains(&l.file_uuid))
        });
        inner.save()?;
    }
    Ok(attach_reply(app))
}

/// An entity in the legacy (API v2) field names used by the reverse lookup.
fn legacy_entity(entity: &Entity) -> Value {
    let mut value = json!({
        "id": entity.id,
        "name": entity.name,
        "created_by": entity.created_by,
        "main_user_id": entity.responsible_user_id,
        "date_create": entity.created_at,
        "date_update": entity.updated_at,
        "updated_by": entity.created_by,
        "entity_type": entity.entity_type.as_str(),
    });
    if entity.entity_type == EntityType::Leads {
        value["price"] = json!(entity.price);
        value["pipeline_id"] = json!(crate::account::entities::PIPELINE_ID);
        value["status_id"] = json!(crate::account::entities::STATUS_ID);
        value["closest_task_at"] = Value::Null;
    }
    value
}

/// `GET /api/v4/files/{uuid}/links` — an unknown file is a 400 (the docs list no 404 here).
pub(crate) fn file_links(app: &App, request: &Request, uuid: &str) -> RouteResult {
    app.authorize(request, Scope::Crm)?;
    let mut inner = app.lock();
    app.expire(&mut inner);
    if !inner.data.files.contains_key(uuid) {
        return Err(ApiError::bad_request(format!("file {uuid} not found")));
    }
    let entities: Vec<Value> = inner
        .data
        .links
        .iter()
        .filter(|l| l.file_uuid == uuid)
        .filter_map(|l| inner.data.entity(l.entity_type, l.entity_id))
        .map(legacy_entity)
        .collect();
    Ok(Reply::Json(
        StatusCode::OK,
        json!({ "file_uuid": uuid, "entities": entities }),
    ))
}
