//! `/download/{A}/{file_uuid}[/{version_uuid}]/{name}` — the exact stored bytes (docs/kommo-api.md#downloads).
//! No token is required: the links look static and the docs do not say.
//!
//! Live links answer `301` first; by default the emulator does the same, redirecting to
//! `/storage/{version_uuid}/{name}`, which serves the bytes.

use bytes::Bytes;
use http::StatusCode;

use crate::app::App;
use crate::config::DownloadStatus;
use crate::http::{ApiError, Reply, RouteResult};
use crate::storage::{Blob, FileBody};

fn not_found() -> ApiError {
    ApiError::not_found("File not found")
}

/// A download link: the bytes, or a redirect to them.
pub(crate) async fn download(
    app: &App,
    account: &str,
    file_uuid: &str,
    rest: &[&str],
) -> RouteResult {
    if account != app.account_uuid {
        return Err(not_found());
    }
    // `rest` is `[name]` for the active version or `[version_uuid, name]` for a given one.
    let (version_uuid, name) = match rest {
        [name] => (None, *name),
        [version, name] => (Some(*version), *name),
        _ => return Err(not_found()),
    };
    let (version_uuid, redirect) = {
        let mut inner = app.lock();
        app.expire(&mut inner);
        let file = inner
            .data
            .files
            .get(file_uuid)
            .filter(|f| !f.is_trashed)
            .ok_or_else(not_found)?;
        let version = match version_uuid {
            Some(v) => file.version(v).ok_or_else(not_found)?,
            None => file.active(),
        };
        let redirect = inner.behavior.download_status == DownloadStatus::MovedPermanently301;
        (version.uuid.clone(), redirect)
    };
    if redirect {
        return Ok(Reply::Redirect {
            status: StatusCode::MOVED_PERMANENTLY,
            location: format!("{}/storage/{version_uuid}/{name}", app.drive_url),
        });
    }
    serve(app, &version_uuid).await
}

/// `/storage/{version_uuid}/{name}`: where download links redirect to.
pub(crate) async fn storage(app: &App, version_uuid: &str) -> RouteResult {
    let known = {
        let mut inner = app.lock();
        app.expire(&mut inner);
        inner
            .data
            .files
            .values()
            .any(|f| !f.is_trashed && f.version(version_uuid).is_some())
    };
    if !known {
        return Err(not_found());
    }
    serve(app, version_uuid).await
}

/// The stored bytes of a version, from memory or streamed from the data directory.
async fn serve(app: &App, version_uuid: &str) -> RouteResult {
    let (blob, content_type) = {
        let inner = app.lock();
        let version = inner
            .data
            .files
            .values()
            .find_map(|f| f.version(version_uuid))
            .ok_or_else(not_found)?;
        let content_type = if version.mime_type.is_empty() {
            "application/octet-stream".to_owned()
        } else {
            version.mime_type.clone()
        };
        (
            inner.store.blob(version_uuid).ok_or_else(not_found)?,
            content_type,
        )
    };
    match blob {
        Blob::Memory(body) => Ok(Reply::Bytes {
            status: StatusCode::OK,
            content_type,
            body: Bytes::clone(&body),
            retry_after: None,
        }),
        Blob::Disk(path) => {
            let body = FileBody::open(&path).await.map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot read blob: {e}"),
                )
            })?;
            Ok(Reply::File { content_type, body })
        }
    }
}
