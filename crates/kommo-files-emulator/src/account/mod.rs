//! The account host: account info, CRM entities with their file links, notes and `file`
//! custom fields (spec §5.1, §7-§9).

mod entities;
mod links;
mod notes;

use http::{Method, StatusCode};
use serde_json::json;

use crate::app::{App, Request, ACCOUNT_ID};
use crate::auth::Scope;
use crate::http::{ApiError, Reply, RouteResult};
use crate::state::EntityType;

/// Routes an account-host request. Drive paths answer 404 here, as on the real account host.
pub(crate) async fn route(app: &App, request: &mut Request) -> RouteResult {
    let segments = request.segments();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method.clone();
    let entity = |segment: &str| EntityType::from_path(segment);
    match (&method, segs.as_slice()) {
        (&Method::GET, ["api", "v4", "account"]) => account(app, request),
        (&Method::GET, ["api", "v4", "files", uuid, "links"]) => {
            links::file_links(app, request, uuid)
        }
        (_, ["api", "v4", kind, rest @ ..]) if entity(kind).is_some() => {
            let kind = entity(kind).ok_or_else(|| not_found(request))?;
            match (&method, rest) {
                (&Method::POST, []) => entities::create(app, request, kind).await,
                (&Method::PATCH, []) => entities::update_many(app, request, kind).await,
                (&Method::GET, ["custom_fields"]) => entities::custom_fields(app, request, kind),
                (&Method::GET, ["notes"]) => notes::list(app, request, kind, None),
                (&Method::POST, ["notes"]) => notes::create(app, request, kind, None).await,
                (_, [id, tail @ ..]) => {
                    let id: u64 = id.parse().map_err(|_| not_found(request))?;
                    match (&method, tail) {
                        (&Method::GET, []) => entities::get(app, request, kind, id),
                        (&Method::PATCH, []) => entities::update_one(app, request, kind, id).await,
                        (&Method::GET, ["files"]) => links::list(app, request, kind, id),
                        (&Method::PUT, ["files"]) => links::attach(app, request, kind, id).await,
                        (&Method::DELETE, ["files"]) => links::detach(app, request, kind, id).await,
                        (&Method::GET, ["notes"]) => notes::list(app, request, kind, Some(id)),
                        (&Method::POST, ["notes"]) => {
                            notes::create(app, request, kind, Some(id)).await
                        }
                        _ => Err(not_found(request)),
                    }
                }
                _ => Err(not_found(request)),
            }
        }
        _ => Err(not_found(request)),
    }
}

fn not_found(request: &Request) -> ApiError {
    ApiError::not_found(format!(
        "no account route for {} {}",
        request.method, request.path
    ))
}

/// `GET /api/v4/account[?with=drive_url]`
fn account(app: &App, request: &Request) -> RouteResult {
    let grant = app.authorize(request, Scope::Crm)?;
    let with: Vec<String> = request
        .query_pairs()
        .into_iter()
        .filter(|(k, _)| k == "with")
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut body = json!({
        "id": ACCOUNT_ID,
        "name": "Kommo Files Emulator",
        "subdomain": "emulator",
        "current_user_id": grant.user_id,
        "country": "US",
        "currency": "USD",
        "_links": { "self": { "href": format!("{}/api/v4/account", app.account_url) } },
    });
    if with.iter().any(|w| w == "drive_url") {
        body["drive_url"] = json!(app.drive_url);
    }
    Ok(Reply::Json(StatusCode::OK, body))
}
