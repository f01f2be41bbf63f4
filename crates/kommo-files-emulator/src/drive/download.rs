//! `/download/{A}/{file_uuid}[/{version_uuid}]/{name}` — the exact stored bytes (spec §5.5).
//! No token is required: the links look static and the docs do not say (spec §15.14).

use bytes::Bytes;
use http::StatusCode;

use crate::app::App;
use crate::http::{ApiError, Reply, RouteResult};
use crate::storage::{Blob, FileBody};

pub(crate) async fn download(
    app: &App,
    account: &str,
    file_uuid: &str,
    rest: &[&str],
) -> RouteResult {
    let not_found = || ApiError::not_found("File not found");
    if account != app.account_uuid {
        return Err(not_found());
    }
    // `rest` is `[name]` for the active version or `[version_uuid, name]` for a given one.
    let version_uuid = match rest {
        [_name] => None,
        [version, _name] => Some(*version),
        _ => return Err(not_found()),
    };
    let (blob, content_type) = {
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
        let content_type = if version.mime_type.is_empty() {
            "application/octet-stream".to_owned()
        } else {
            version.mime_type.clone()
        };
        (
            inner.store.blob(&version.uuid).ok_or_else(not_found)?,
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
