use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::query::{encode, Query};
use super::{authorized_own, expect_empty, expect_json, json_body, AccountHost};
use crate::wire::{
    AttachmentNote, CreatedNotes, EntityFileLinks, EntityType, FileEntities, FileFieldValue,
    FileFieldValueRead, FileUuidRef, NoteRead,
};
use crate::ApiError;

fn entity_path(entity: &EntityType, id: i64) -> String {
    format!("/api/v4/{}/{id}", encode(entity.as_str()))
}

/// Paging of an entity's file links: `limit` and the `before_id` keyset cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EntityFilesQuery {
    /// Links per page.
    pub limit: Option<u32>,
    /// Only links with an id below this.
    pub before_id: Option<i64>,
}

impl EntityFilesQuery {
    /// Paging with `limit` links a page, starting before `before_id`.
    pub fn new(limit: Option<u32>, before_id: Option<i64>) -> Self {
        Self { limit, before_id }
    }
}

/// `GET /api/v4/{entity}/{id}/files` (endpoint 10).
///
/// ```
/// use kommo_files_model::{endpoint, wire::EntityType, AccessToken, BaseUrl};
/// let host = endpoint::AccountHost::new(
///     BaseUrl::for_account("example", "kommo.com").unwrap(),
///     AccessToken::new("t").unwrap(),
/// );
/// let query = endpoint::EntityFilesQuery::new(Some(50), Some(2140857));
/// let request = endpoint::entity_files_request(&host, &EntityType::Leads, 18437733, query);
/// assert_eq!(
///     request.uri(),
///     "https://example.kommo.com/api/v4/leads/18437733/files?limit=50&before_id=2140857"
/// );
/// ```
pub fn entity_files_request(
    host: &AccountHost,
    entity: &EntityType,
    id: i64,
    query: EntityFilesQuery,
) -> Request<Bytes> {
    let mut q = Query::default();
    q.push_opt("limit", query.limit)
        .push_opt("before_id", query.before_id);
    let url = host.base.join(&format!(
        "{}/files{}",
        entity_path(entity, id),
        q.to_suffix()
    ));
    authorized_own(Method::GET, &url, &host.token, None)
}

/// Parses an entity's links: 200, or 204 (no files) as an empty list.
pub fn parse_entity_files(response: &Response<Bytes>) -> Result<EntityFileLinks, ApiError> {
    if response.status() == StatusCode::NO_CONTENT {
        return Ok(EntityFileLinks::default());
    }
    expect_json(response, &[StatusCode::OK])
}

/// `PUT /api/v4/{entity}/{id}/files` with `[{file_uuid}]` (endpoint 11).
pub fn attach_files_request(
    host: &AccountHost,
    entity: &EntityType,
    id: i64,
    file_uuids: &[impl AsRef<str>],
) -> Request<Bytes> {
    link_change_request(Method::PUT, host, entity, id, file_uuids)
}

/// `DELETE /api/v4/{entity}/{id}/files` with `[{file_uuid}]` (endpoint 12).
pub fn detach_files_request(
    host: &AccountHost,
    entity: &EntityType,
    id: i64,
    file_uuids: &[impl AsRef<str>],
) -> Request<Bytes> {
    link_change_request(Method::DELETE, host, entity, id, file_uuids)
}

/// Attach and detach differ only in the method.
fn link_change_request(
    method: Method,
    host: &AccountHost,
    entity: &EntityType,
    id: i64,
    file_uuids: &[impl AsRef<str>],
) -> Request<Bytes> {
    let refs: Vec<FileUuidRef> = file_uuids
        .iter()
        .map(|u| FileUuidRef::new(u.as_ref()))
        .collect();
    let url = host
        .base
        .join(&format!("{}/files", entity_path(entity, id)));
    authorized_own(method, &url, &host.token, Some(json_body(&refs)))
}

/// Parses attach or detach: 202 without body (amoCRM RU), 200 `{}` (Kommo), or 204.
pub fn parse_link_change(response: &Response<Bytes>) -> Result<(), ApiError> {
    expect_empty(
        response,
        &[StatusCode::ACCEPTED, StatusCode::OK, StatusCode::NO_CONTENT],
    )
}

/// `GET /api/v4/files/{uuid}/links`: the entities a file is linked to (endpoint 13).
pub fn file_entities_request(host: &AccountHost, file_uuid: &str) -> Request<Bytes> {
    let url = host
        .base
        .join(&format!("/api/v4/files/{}/links", encode(file_uuid)));
    authorized_own(Method::GET, &url, &host.token, None)
}

/// Parses the linked entities (200; 204 as none).
pub fn parse_file_entities(response: &Response<Bytes>) -> Result<FileEntities, ApiError> {
    if response.status() == StatusCode::NO_CONTENT {
        return Ok(FileEntities::default());
    }
    expect_json(response, &[StatusCode::OK])
}

/// `POST /api/v4/{entity}/notes` with notes: [`AttachmentNote`]s, or the pair [`comment_note`]
/// makes (endpoint 14).
pub fn notes_request<N: Serialize>(
    host: &AccountHost,
    entity: &EntityType,
    notes: &[N],
) -> Request<Bytes> {
    let url = host
        .base
        .join(&format!("/api/v4/{}/notes", encode(entity.as_str())));
    authorized_own(Method::POST, &url, &host.token, Some(json_body(notes)))
}

/// The two notes Kommo needs to show a comment next to a file: the attachment note and a text
/// (`common`) note with the same `created_at`.
///
/// ```
/// use kommo_files_model::{endpoint, wire::AttachmentNote};
/// let notes = endpoint::comment_note(
///     AttachmentNote::new(167353, "9905db7c-3a29-4d30-8953-bac68c05e8e8").file_name("contract.pdf"),
///     "Signed contract",
///     1_700_000_000,
/// );
/// assert_eq!(notes.len(), 2);
/// assert_eq!(notes[0]["created_at"], notes[1]["created_at"]);
/// ```
pub fn comment_note(
    attachment: AttachmentNote,
    comment: &str,
    created_at: i64,
) -> Vec<serde_json::Value> {
    let attachment = attachment.created_at(created_at);
    let text = serde_json::json!({
        "entity_id": attachment.entity_id,
        "note_type": "common",
        "created_at": created_at,
        "params": { "text": comment },
    });
    vec![serde_json::to_value(&attachment).unwrap_or_default(), text]
}

/// Parses the created notes (200).
pub fn parse_created_notes(response: &Response<Bytes>) -> Result<CreatedNotes, ApiError> {
    expect_json(response, &[StatusCode::OK])
}

/// `GET /api/v4/{entity}/{id}/notes`: reads an entity's notes back.
pub fn read_notes_request(host: &AccountHost, entity: &EntityType, id: i64) -> Request<Bytes> {
    let url = host
        .base
        .join(&format!("{}/notes", entity_path(entity, id)));
    authorized_own(Method::GET, &url, &host.token, None)
}

/// Parses read notes (200; 204 as none).
pub fn parse_notes(response: &Response<Bytes>) -> Result<Vec<NoteRead>, ApiError> {
    #[derive(Deserialize)]
    struct Page {
        #[serde(rename = "_embedded")]
        embedded: Embedded,
    }
    #[derive(Deserialize)]
    struct Embedded {
        #[serde(default)]
        notes: Vec<NoteRead>,
    }
    if response.status() == StatusCode::NO_CONTENT {
        return Ok(Vec::new());
    }
    expect_json::<Page>(response, &[StatusCode::OK]).map(|p| p.embedded.notes)
}

/// `PATCH /api/v4/{entity}/{id}` setting a `file` custom field (endpoint 15).
pub fn set_file_field_request(
    host: &AccountHost,
    entity: &EntityType,
    id: i64,
    field_id: i64,
    values: &[FileFieldValue],
) -> Request<Bytes> {
    let values: Vec<_> = values
        .iter()
        .map(|v| serde_json::json!({ "value": v }))
        .collect();
    let body = serde_json::json!({
        "custom_fields_values": [ { "field_id": field_id, "values": values } ]
    });
    let url = host.base.join(&entity_path(entity, id));
    authorized_own(Method::PATCH, &url, &host.token, Some(json_body(&body)))
}

/// `GET /api/v4/{entity}/{id}`: reads an entity (to read its file field back).
pub fn entity_request(host: &AccountHost, entity: &EntityType, id: i64) -> Request<Bytes> {
    authorized_own(
        Method::GET,
        &host.base.join(&entity_path(entity, id)),
        &host.token,
        None,
    )
}

/// Parses an entity (200) as JSON, for [`file_field_values`].
pub fn parse_entity(response: &Response<Bytes>) -> Result<serde_json::Value, ApiError> {
    expect_json(response, &[StatusCode::OK])
}

/// The values of file field `field_id` in an entity read with [`entity_request`].
///
/// A value that does not fit is an [`ApiError::Decode`] whose path starts at the entity
/// (`custom_fields_values[1].values[0].value.file_size`) and whose body is the entity.
pub fn file_field_values(
    entity: &serde_json::Value,
    field_id: i64,
) -> Result<Vec<FileFieldValueRead>, ApiError> {
    #[derive(Deserialize)]
    struct Field {
        #[serde(default)]
        values: Vec<Value>,
    }
    #[derive(Deserialize)]
    struct Value {
        value: ReadValue,
    }
    // `FileFieldValueRead` flattens its value, and `flatten` hides the path of a bad key; this
    // mirror keeps it.
    #[derive(Deserialize)]
    struct ReadValue {
        file_uuid: String,
        #[serde(default)]
        version_uuid: Option<String>,
        #[serde(default)]
        file_name: Option<String>,
        #[serde(default)]
        file_size: Option<u64>,
        #[serde(default)]
        is_deleted: bool,
    }
    let failure = |path: String, message: String| ApiError::Decode {
        status: StatusCode::OK,
        path,
        message,
        body: Bytes::from(entity.to_string()),
    };
    let fields = match entity.get("custom_fields_values") {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Array(fields)) => fields,
        Some(_) => {
            return Err(failure(
                "custom_fields_values".to_owned(),
                "expected an array".to_owned(),
            ))
        }
    };
    let mut out = Vec::new();
    // Other fields have other value shapes; only the asked-for one must be a file value.
    for (index, field) in fields.iter().enumerate() {
        if field.get("field_id") != Some(&field_id.into()) {
            continue;
        }
        let field: Field = serde_path_to_error::deserialize(field).map_err(|e| {
            let inner = e.path().to_string();
            let path = if inner == "." {
                format!("custom_fields_values[{index}]")
            } else {
                format!("custom_fields_values[{index}].{inner}")
            };
            failure(path, e.inner().to_string())
        })?;
        out.extend(field.values.into_iter().map(|v| FileFieldValueRead {
            value: FileFieldValue {
                file_uuid: v.value.file_uuid,
                version_uuid: v.value.version_uuid,
                file_name: v.value.file_name,
                file_size: v.value.file_size,
            },
            is_deleted: v.value.is_deleted,
        }));
    }
    Ok(out)
}
