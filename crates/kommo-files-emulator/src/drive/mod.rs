//! The drive host: upload sessions and parts, files, versions, downloads (docs/kommo-api.md#uploads and the sections after it).

mod download;
mod files;
mod list;
pub(crate) mod repr;
mod upload;

use http::Method;

use crate::app::{App, Request};
use crate::http::{ApiError, RouteResult};

/// Routes a drive-host request. Account-host paths answer 404 here, as on the real drive.
pub(crate) async fn route(app: &App, request: &mut Request) -> RouteResult {
    let segments = request.segments();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method.clone();
    match (&method, segs.as_slice()) {
        (&Method::POST, ["v1.0", "sessions"]) => upload::create_session(app, request).await,
        (&Method::POST, ["upload", token])
        | (&Method::POST, ["v1.0", "sessions", "upload", token]) => {
            upload::upload_part(app, request, token).await
        }
        (&Method::GET, ["v1.0", "files"]) => list::list_files(app, request),
        (&Method::DELETE, ["v1.0", "files"]) => files::delete_files(app, request).await,
        (&Method::POST, ["v1.0", "files", "restore"]) => files::restore_files(app, request).await,
        (&Method::GET, ["v1.0", "files", uuid]) => files::get_file(app, request, uuid),
        (&Method::PATCH, ["v1.0", "files", uuid]) => files::patch_file(app, request, uuid).await,
        (&Method::GET, ["v1.0", "files", uuid, "versions"]) => {
            files::list_versions(app, request, uuid)
        }
        (&Method::GET | &Method::HEAD, ["download", account, file_uuid, rest @ ..]) => {
            download::download(app, account, file_uuid, rest).await
        }
        (&Method::GET | &Method::HEAD, ["storage", version_uuid, _name]) => {
            download::storage(app, version_uuid).await
        }
        _ => Err(ApiError::not_found(format!(
            "no drive route for {} {}",
            request.method, request.path
        ))),
    }
}
