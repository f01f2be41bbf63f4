//! The account host: account info, CRM entities with their file links, notes and `file`
//! custom fields (docs/kommo-api.md#endpoints, the account-host rows).

mod entities;
mod links;
mod notes;

use std::sync::MutexGuard;

use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::app::{App, Inner, Request, ACCOUNT_ID};
use crate::auth::{Scope, TokenGrant};
use crate::http::{ApiError, Reply, RouteResult};
use crate::names::stable_uuid;
use crate::state::EntityType;

/// Routes an account-host request. Drive paths answer 404 here, as on the real account host.
pub(crate) async fn route(app: &App, request: &mut Request) -> RouteResult {
    let segments = request.segments();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method.clone();
    let entity = |segment: &str| EntityType::from_path(segment);
    match (&method, segs.as_slice()) {
        (&Method::GET, ["api", "v4", "account"]) => account(app, request),
        (&Method::POST, ["oauth2", "access_token"]) => {
            crate::oauth::access_token(app, request).await
        }
        (&Method::GET, ["oauth"]) => crate::oauth::consent(app, request),
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

fn entity_not_found() -> ApiError {
    ApiError::not_found("Entity not found")
}

/// Locks the state, drops what has expired, and checks that the entity exists (404 otherwise).
fn lock_entity(app: &App, kind: EntityType, id: u64) -> Result<MutexGuard<'_, Inner>, ApiError> {
    let mut inner = app.lock();
    app.expire(&mut inner);
    inner.data.entity(kind, id).ok_or_else(entity_not_found)?;
    Ok(inner)
}

/// Checks that the entity exists (404 otherwise), without keeping the lock.
fn ensure_entity(app: &App, kind: EntityType, id: u64) -> Result<(), ApiError> {
    lock_entity(app, kind, id).map(drop)
}

/// The items of a batch body, which must be a non-empty JSON array (a 400 saying `expected`
/// otherwise).
fn non_empty_array<'a>(body: &'a Value, expected: &str) -> Result<&'a [Value], ApiError> {
    body.as_array()
        .filter(|a| !a.is_empty())
        .map(Vec::as_slice)
        .ok_or_else(|| ApiError::bad_request(expected))
}

/// The items of a batch create or update, each with its `request_id` (its index when it has
/// none).
fn batch_items<'a>(
    body: &'a Value,
    expected: &str,
) -> Result<impl ExactSizeIterator<Item = (String, &'a Value)> + 'a, ApiError> {
    let items = non_empty_array(body, expected)?;
    Ok(items.iter().enumerate().map(|(i, item)| {
        let request_id = item
            .get("request_id")
            .and_then(Value::as_str)
            .map_or_else(|| i.to_string(), str::to_owned);
        (request_id, item)
    }))
}

/// When the emulated account was created (and last changed): 2024-01-01T00:00:00Z.
const ACCOUNT_CREATED_AT: i64 = 1_704_067_200;

/// `GET /api/v4/account[?with=drive_url,amojo_id,uuid,version]`
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
    // Every field the real account object always has (the official PHP SDK reads them all
    // unconditionally), with the values of a plain Kommo account.
    let mut body = json!({
        "id": ACCOUNT_ID,
        "name": "Kommo Files Emulator",
        "subdomain": "emulator",
        "created_at": ACCOUNT_CREATED_AT,
        "created_by": TokenGrant::DEFAULT_USER_ID,
        "updated_at": ACCOUNT_CREATED_AT,
        "updated_by": TokenGrant::DEFAULT_USER_ID,
        "current_user_id": grant.user_id,
        "country": "US",
        "currency": "USD",
        "currency_symbol": "$",
        "customers_mode": "disabled",
        "is_unsorted_on": true,
        "mobile_feature_version": 0,
        "is_loss_reason_enabled": true,
        "is_helpbot_enabled": false,
        "is_technical_account": false,
        "contact_name_display_order": 1,
        "_links": { "self": { "href": format!("{}/api/v4/account", app.account_url) } },
    });
    let asked = |name: &str| with.iter().any(|w| w == name);
    if asked("amojo_id") {
        body["amojo_id"] = json!(stable_uuid(&format!(
            "kommo-files-emulator/amojo/{ACCOUNT_ID}"
        )));
    }
    if asked("uuid") {
        body["uuid"] = json!(stable_uuid(&format!(
            "kommo-files-emulator/uuid/{ACCOUNT_ID}"
        )));
    }
    if asked("version") {
        body["version"] = json!(11);
    }
    if asked("drive_url") {
        body["drive_url"] = json!(app.drive_url);
    }
    Ok(Reply::Json(StatusCode::OK, body))
}
