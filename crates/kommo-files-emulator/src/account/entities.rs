//! CRM entities: get, create, update — enough to hold `file` custom field values (docs/kommo-api.md#file-custom-fields).

use std::collections::BTreeMap;
use std::sync::MutexGuard;

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::{batch_items, lock_entity};
use crate::app::{App, Inner, Request, ACCOUNT_ID};
use crate::auth::Scope;
use crate::http::{ApiError, Reply, RouteResult};
use crate::names::with_extension;
use crate::state::{default_entity_name, Entity, EntityType, File, FileFieldValue, Version};

/// Pipeline and status every emulated lead is in.
pub(crate) const PIPELINE_ID: u64 = 3_858_604;
pub(crate) const STATUS_ID: u64 = 37_066_879;

fn entity_href(app: &App, kind: EntityType, id: u64) -> String {
    format!("{}/api/v4/{}/{id}", app.account_url, kind.as_str())
}

/// Looks up a file reference of a note or a field value: the file must exist and not be in the
/// trash; a given `version_uuid` must be one of its versions (none → the active one).
pub(crate) fn resolve_file<'a>(
    inner: &'a Inner,
    file_uuid: Option<&Value>,
    version_uuid: Option<&Value>,
    request_id: &str,
    path: &str,
) -> Result<(&'a File, &'a Version), ApiError> {
    let field = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let uuid = file_uuid.and_then(Value::as_str).ok_or_else(|| {
        ApiError::invalid(
            request_id,
            field("file_uuid"),
            "NotBlank",
            "file_uuid is required",
        )
    })?;
    let file = inner.data.files.get(uuid).ok_or_else(|| {
        ApiError::invalid(
            request_id,
            field("file_uuid"),
            "NotFound",
            format!("file {uuid} not found"),
        )
    })?;
    if file.is_trashed {
        return Err(ApiError::invalid(
            request_id,
            field("file_uuid"),
            "FileTrashed",
            format!("file {uuid} is in the trash"),
        ));
    }
    let version = match version_uuid.filter(|v| !v.is_null()) {
        None => file.active(),
        Some(v) => v.as_str().and_then(|v| file.version(v)).ok_or_else(|| {
            ApiError::invalid(
                request_id,
                field("version_uuid"),
                "NotFound",
                "version_uuid is not a version of this file",
            )
        })?,
    };
    Ok((file, version))
}

/// The entity as `GET /api/v4/{entity}/{id}` shows it.
fn entity_json(app: &App, inner: &Inner, entity: &Entity) -> Value {
    let fields: Vec<Value> = entity
        .file_fields
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(field_id, values)| {
            let values: Vec<Value> = values
                .iter()
                .map(|v| {
                    // A value whose file went to the trash (or was purged) reads back as deleted.
                    let is_deleted = inner
                        .data
                        .files
                        .get(&v.file_uuid)
                        .is_none_or(|f| f.is_trashed);
                    json!({ "value": {
                        "file_uuid": v.file_uuid,
                        "version_uuid": v.version_uuid,
                        "file_name": v.file_name,
                        "file_size": v.file_size,
                        "is_deleted": is_deleted,
                    } })
                })
                .collect();
            json!({
                "field_id": field_id,
                "field_name": "File",
                "field_code": null,
                "field_type": "file",
                "values": values,
            })
        })
        .collect();
    let mut value = json!({
        "id": entity.id,
        "name": entity.name,
        "responsible_user_id": entity.responsible_user_id,
        "group_id": 0,
        "created_by": entity.created_by,
        "updated_by": entity.created_by,
        "created_at": entity.created_at,
        "updated_at": entity.updated_at,
        "account_id": ACCOUNT_ID,
        "custom_fields_values": if fields.is_empty() { Value::Null } else { Value::Array(fields) },
        "_links": { "self": { "href": entity_href(app, entity.entity_type, entity.id) } },
    });
    if entity.entity_type == EntityType::Leads {
        value["price"] = json!(entity.price);
        value["pipeline_id"] = json!(PIPELINE_ID);
        value["status_id"] = json!(STATUS_ID);
    }
    value
}

/// `GET /api/v4/{entity}/{id}` — 204 for an unknown id, as API v4 answers "nothing found".
pub(crate) fn get(app: &App, request: &Request, kind: EntityType, id: u64) -> RouteResult {
    app.authorize(request, Scope::Crm)?;
    let mut inner = app.lock();
    app.expire(&mut inner);
    match inner.data.entity(kind, id) {
        Some(entity) => Ok(Reply::Json(
            StatusCode::OK,
            entity_json(app, &inner, entity),
        )),
        None => Ok(Reply::Empty(StatusCode::NO_CONTENT)),
    }
}

/// `GET /api/v4/{entity}/custom_fields` — the one seeded `file` field.
pub(crate) fn custom_fields(app: &App, request: &Request, kind: EntityType) -> RouteResult {
    app.authorize(request, Scope::Crm)?;
    let Some(field_id) = kind.file_field_id() else {
        return Ok(Reply::Empty(StatusCode::NO_CONTENT));
    };
    Ok(Reply::Json(
        StatusCode::OK,
        json!({
            "_total_items": 1,
            "_links": { "self": { "href": request.self_href(&app.account_url) } },
            "_embedded": { "custom_fields": [{
                "id": field_id,
                "name": "File",
                "code": null,
                "type": "file",
                "entity_type": kind.as_str(),
                "is_api_only": false,
            }] },
        }),
    ))
}

/// Validates `custom_fields_values` into the new values per field id.
fn parse_custom_fields(
    inner: &Inner,
    kind: EntityType,
    values: &Value,
    request_id: &str,
) -> Result<BTreeMap<u64, Vec<FileFieldValue>>, ApiError> {
    let items = values.as_array().ok_or_else(|| {
        ApiError::invalid(
            request_id,
            "custom_fields_values",
            "InvalidType",
            "an array is expected",
        )
    })?;
    let mut fields = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("custom_fields_values.{i}");
        let field_id = item.get("field_id").and_then(Value::as_u64);
        if field_id.is_none() || field_id != kind.file_field_id() {
            return Err(ApiError::invalid(
                request_id,
                format!("{path}.field_id"),
                "NotSupportedChoice",
                "The value you selected is not a valid choice.",
            ));
        }
        let mut parsed = Vec::new();
        let raw = match item.get("values") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(values)) => values.as_slice(),
            Some(_) => {
                return Err(ApiError::invalid(
                    request_id,
                    format!("{path}.values"),
                    "InvalidType",
                    "an array is expected",
                ))
            }
        };
        for (j, value) in raw.iter().enumerate() {
            let value_path = format!("{path}.values.{j}.value");
            let value = value.get("value").unwrap_or(&Value::Null);
            let (file, version) = resolve_file(
                inner,
                value.get("file_uuid"),
                value.get("version_uuid"),
                request_id,
                &value_path,
            )?;
            let invalid = |name: &str, detail: &str| {
                ApiError::invalid(
                    request_id,
                    format!("{value_path}.{name}"),
                    "InvalidType",
                    detail,
                )
            };
            // Omitted or `null` means the version's own name and size; anything else must
            // have the right type (a negative or fractional size is refused, not ignored).
            let file_name = match value.get("file_name") {
                None | Some(Value::Null) => with_extension(&version.name, &version.extension),
                Some(Value::String(name)) => name.clone(),
                Some(_) => return Err(invalid("file_name", "file_name must be a string")),
            };
            let file_size = match value.get("file_size") {
                None | Some(Value::Null) => version.size,
                Some(size) => size.as_u64().ok_or_else(|| {
                    invalid("file_size", "file_size must be a non-negative integer")
                })?,
            };
            // `is_deleted` comes back on GET; re-sending it is accepted and ignored.
            parsed.push(FileFieldValue {
                file_uuid: file.uuid.clone(),
                version_uuid: version.uuid.clone(),
                file_name,
                file_size,
            });
        }
        fields.insert(field_id.unwrap_or_default(), parsed);
    }
    Ok(fields)
}

/// Validated changes to one entity.
struct Changes {
    name: Option<String>,
    price: Option<i64>,
    fields: Option<BTreeMap<u64, Vec<FileFieldValue>>>,
}

fn parse_changes(
    inner: &Inner,
    kind: EntityType,
    item: &Map<String, Value>,
    request_id: &str,
) -> Result<Changes, ApiError> {
    let name = match item.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => {
            return Err(ApiError::invalid(
                request_id,
                "name",
                "InvalidType",
                "name must be a string",
            ))
        }
    };
    let price = match item.get("price") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            ApiError::invalid(
                request_id,
                "price",
                "InvalidType",
                "price must be an integer",
            )
        })?),
    };
    let fields = match item.get("custom_fields_values") {
        None | Some(Value::Null) => None,
        Some(values) => Some(parse_custom_fields(inner, kind, values, request_id)?),
    };
    Ok(Changes {
        name,
        price,
        fields,
    })
}

fn apply(entity: &mut Entity, changes: Changes, now: i64) {
    if let Some(name) = changes.name {
        entity.name = name;
    }
    if let Some(price) = changes.price {
        entity.price = price;
    }
    if let Some(fields) = changes.fields {
        for (field_id, values) in fields {
            entity.file_fields.insert(field_id, values);
        }
    }
    entity.updated_at = now;
}

/// An item of a batch create or update must be an object.
fn expect_object<'a>(
    item: &'a Value,
    request_id: &str,
) -> Result<&'a Map<String, Value>, ApiError> {
    item.as_object()
        .ok_or_else(|| ApiError::invalid(request_id, "", "InvalidType", "an object is expected"))
}

/// Reads the body of a batch create or update, a non-empty array of objects, and validates each
/// item with `parse` under the lock (after expiry), stopping at the first invalid one. Returns
/// the lock, the time, and each item's result with its `request_id`.
async fn parse_batch<'a, T>(
    app: &'a App,
    request: &mut Request,
    parse: impl Fn(&Inner, &str, &Map<String, Value>) -> Result<T, ApiError>,
) -> Result<(MutexGuard<'a, Inner>, i64, Vec<(String, T)>), ApiError> {
    let body = request.json().await?;
    let items = batch_items(&body, "a non-empty JSON array is expected")?;
    let now = app.clock.now();
    let mut inner = app.lock();
    app.expire(&mut inner);
    let mut parsed = Vec::with_capacity(items.len());
    for (request_id, item) in items {
        let object = expect_object(item, &request_id)?;
        let value = parse(&inner, &request_id, object)?;
        parsed.push((request_id, value));
    }
    Ok((inner, now, parsed))
}

/// The answer to a batch create or update: the entities, embedded under the entity type.
fn batch_reply(app: &App, kind: EntityType, entities: Vec<Value>) -> Reply {
    let mut embedded = Map::new();
    embedded.insert(kind.as_str().to_owned(), Value::Array(entities));
    Reply::Json(
        StatusCode::OK,
        json!({
            "_links": { "self": { "href": format!("{}/api/v4/{}", app.account_url, kind.as_str()) } },
            "_embedded": embedded,
        }),
    )
}

/// `POST /api/v4/{entity}` — array of `{name?, price?, custom_fields_values?}`.
pub(crate) async fn create(app: &App, request: &mut Request, kind: EntityType) -> RouteResult {
    let grant = app.authorize(request, Scope::Crm)?;
    let (mut inner, now, changes) = parse_batch(app, request, |inner, request_id, object| {
        parse_changes(inner, kind, object, request_id)
    })
    .await?;
    let mut created = Vec::with_capacity(changes.len());
    for (request_id, change) in changes {
        let id = inner.data.next_entity_id;
        inner.data.next_entity_id += 1;
        let mut entity = Entity {
            entity_type: kind,
            id,
            name: default_entity_name(kind, id),
            price: 0,
            created_at: now,
            updated_at: now,
            created_by: grant.user_id,
            responsible_user_id: grant.user_id,
            file_fields: BTreeMap::new(),
        };
        apply(&mut entity, change, now);
        inner.data.entities.push(entity);
        created.push(json!({
            "id": id,
            "request_id": request_id,
            "_links": { "self": { "href": entity_href(app, kind, id) } },
        }));
    }
    inner.save()?;
    Ok(batch_reply(app, kind, created))
}

/// `PATCH /api/v4/{entity}/{id}`
pub(crate) async fn update_one(
    app: &App,
    request: &mut Request,
    kind: EntityType,
    id: u64,
) -> RouteResult {
    app.authorize(request, Scope::Crm)?;
    let body = request.json().await?;
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("a JSON object is expected"))?;
    let now = app.clock.now();
    let mut inner = lock_entity(app, kind, id)?;
    let changes = parse_changes(&inner, kind, object, "0")?;
    if let Some(entity) = inner.data.entity_mut(kind, id) {
        apply(entity, changes, now);
    }
    inner.save()?;
    Ok(Reply::Json(
        StatusCode::OK,
        json!({ "id": id, "updated_at": now, "_links": { "self": { "href": entity_href(app, kind, id) } } }),
    ))
}

/// `PATCH /api/v4/{entity}` — array of changes, each with its `id`.
pub(crate) async fn update_many(app: &App, request: &mut Request, kind: EntityType) -> RouteResult {
    app.authorize(request, Scope::Crm)?;
    let (mut inner, now, changes) = parse_batch(app, request, |inner, request_id, object| {
        let id = object
            .get("id")
            .and_then(Value::as_u64)
            .filter(|id| inner.data.entity(kind, *id).is_some())
            .ok_or_else(|| ApiError::invalid(request_id, "id", "NotFound", "entity not found"))?;
        Ok((id, parse_changes(inner, kind, object, request_id)?))
    })
    .await?;
    let mut updated = Vec::with_capacity(changes.len());
    for (request_id, (id, change)) in changes {
        if let Some(entity) = inner.data.entity_mut(kind, id) {
            apply(entity, change, now);
        }
        updated.push(json!({
            "id": id,
            "updated_at": now,
            "request_id": request_id,
            "_links": { "self": { "href": entity_href(app, kind, id) } },
        }));
    }
    inner.save()?;
    Ok(batch_reply(app, kind, updated))
}
