//! Wire shapes of the drive host: the file object and the version object (docs/kommo-api.md#the-file-object).

use serde_json::{json, Value};

use crate::app::App;
use crate::names::{file_type, sanitize, with_extension};
use crate::state::{File, Version};

/// `{drive}/v1.0/files/{uuid}`
pub(crate) fn file_href(app: &App, file_uuid: &str) -> String {
    format!("{}/v1.0/files/{file_uuid}", app.drive_url)
}

/// `{drive}/download/{A}/{file_uuid}[/{version_uuid}]/{name}.{ext}`
pub(crate) fn download_href(
    app: &App,
    file_uuid: &str,
    version: &Version,
    specific_version: bool,
) -> String {
    let name = with_extension(&sanitize(&version.name), &version.extension);
    if specific_version {
        format!(
            "{}/download/{}/{file_uuid}/{}/{name}",
            app.drive_url, app.account_uuid, version.uuid
        )
    } else {
        format!(
            "{}/download/{}/{file_uuid}/{name}",
            app.drive_url, app.account_uuid
        )
    }
}

fn metadata(version: &Version) -> Value {
    json!({ "extension": version.extension, "mime_type": version.mime_type })
}

fn previews(app: &App, file_uuid: &str, version: &Version) -> Value {
    match version.preview {
        Some((width, height)) => json!([{
            "download_link": download_href(app, file_uuid, version, true),
            "width": width,
            "height": height,
        }]),
        None => Value::Null,
    }
}

/// The file object as returned by get, list, patch, restore and the final upload part.
pub(crate) fn file_json(app: &App, file: &File) -> Value {
    let version = file.active();
    json!({
        "_links": {
            "download": { "href": download_href(app, &file.uuid, version, false) },
            "download_version": { "href": download_href(app, &file.uuid, version, true) },
            "self": { "href": file_href(app, &file.uuid) },
        },
        "id": file.id,
        "uuid": file.uuid,
        "version_uuid": version.uuid,
        "type": file_type(&version.mime_type, &version.extension),
        "name": version.name,
        "sanitized_name": sanitize(&version.name),
        "size": version.size,
        "source_id": file.source_id,
        "is_trashed": file.is_trashed,
        "has_multiple_versions": file.versions.len() > 1,
        "metadata": metadata(version),
        "previews": previews(app, &file.uuid, version),
        "created_at": file.created_at,
        "created_by": file.created_by,
        "updated_at": file.updated_at,
        "updated_by": file.updated_by,
        "deleted_at": file.deleted_at,
        "deleted_by": file.deleted_by,
    })
}

/// A version object as listed by `GET /v1.0/files/{uuid}/versions`.
pub(crate) fn version_json(app: &App, file: &File, version: &Version) -> Value {
    json!({
        "_links": {
            "download": { "href": download_href(app, &file.uuid, version, true) },
            "self": { "href": format!("{}/versions/{}", file_href(app, &file.uuid), version.uuid) },
        },
        "uuid": version.uuid,
        "file_uuid": file.uuid,
        "is_main": version.uuid == file.active().uuid,
        "type": file_type(&version.mime_type, &version.extension),
        "name": version.name,
        "sanitized_name": sanitize(&version.name),
        "size": version.size,
        "source_id": file.source_id,
        "metadata": metadata(version),
        "previews": previews(app, &file.uuid, version),
        "created_at": version.created_at,
        "created_by": version.created_by,
        "updated_at": version.updated_at,
        "updated_by": version.updated_by,
    })
}
