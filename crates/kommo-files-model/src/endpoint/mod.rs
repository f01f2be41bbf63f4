//! Pure request builders and response parsers for every endpoint of the Files API.
//!
//! Builders return an `http::Request<Bytes>` ready for any transport; parsers take the
//! `http::Response<Bytes>` back and map each documented status to a typed result. Nothing here
//! performs I/O.
//!
//! The endpoints, numbered as the builders' docs refer to them. Where Kommo's sources disagree
//! on a success status, the parser accepts each one:
//!
//! | # | request | host | success | builder / parser |
//! |---|---|---|---|---|
//! | 1 | `GET /api/v4/account?with=drive_url` | account | 200 | [`account_request`] / [`parse_drive_url`] |
//! | 2 | `POST /v1.0/sessions` | drive | 200 | [`create_session_request`] / [`parse_create_session`] |
//! | 3 | `POST {upload_url}`, then each `{next_url}` | drive | 202 or 200, the last 200 | [`upload_part_request`] / [`parse_upload_part`] |
//! | 4 | `GET /v1.0/files` | drive | 200, 204 (no match) | [`list_files_request`] / [`parse_file_page`] |
//! | 5 | `GET /v1.0/files/{uuid}` | drive | 200; 404 or 204 (no file) | [`get_file_request`] / [`parse_get_file`] |
//! | 6 | `PATCH /v1.0/files/{uuid}` | drive | 200 | [`edit_file_request`] / [`parse_edit_file`] |
//! | 7 | `DELETE /v1.0/files` | drive | 204, or 200 `{}` | [`delete_files_request`] / [`parse_delete_files`] |
//! | 8 | `POST /v1.0/files/restore` | drive | 200 | [`restore_files_request`] / [`parse_restore_files`] |
//! | 9 | `GET /v1.0/files/{uuid}/versions` | drive | 200 | [`versions_request`] / [`parse_versions`] |
//! | 10 | `GET /api/v4/{entity}/{id}/files` | account | 200, 204 (none) | [`entity_files_request`] / [`parse_entity_files`] |
//! | 11 | `PUT /api/v4/{entity}/{id}/files` | account | 202, 200 `{}` or 204 | [`attach_files_request`] / [`parse_link_change`] |
//! | 12 | `DELETE /api/v4/{entity}/{id}/files` | account | 202, 200 `{}` or 204 | [`detach_files_request`] / [`parse_link_change`] |
//! | 13 | `GET /api/v4/files/{uuid}/links` | account | 200, 204 (none) | [`file_entities_request`] / [`parse_file_entities`] |
//! | 14 | `POST /api/v4/{entity}/notes` | account | 200 | [`notes_request`] / [`parse_created_notes`] |
//! | 15 | `PATCH /api/v4/{entity}/{id}` (a `file` field) | account | 200 | [`set_file_field_request`] / [`file_field_values`] |
//!
//! Download links (`_links.download`) answer 301 first: [`download_request`] and
//! [`redirect_request`] build those requests, keeping the token on the drive host.

mod account;
mod entities;
mod files;
pub(crate) mod query;
mod upload;

pub use account::{account_request, parse_account, parse_drive_url};
pub use entities::{
    attach_files_request, comment_note, detach_files_request, entity_files_request, entity_request,
    file_entities_request, file_field_values, notes_request, parse_created_notes, parse_entity,
    parse_entity_files, parse_file_entities, parse_link_change, parse_notes, read_notes_request,
    set_file_field_request, EntityFilesQuery,
};
pub use files::{
    delete_files_request, download_request, edit_file_request, get_file_request,
    list_files_request, next_page_request, parse_delete_files, parse_edit_file, parse_file_page,
    parse_get_file, parse_restore_files, parse_versions, redirect_request, restore_files_request,
    versions_request, DateField, DateFilter, DatePreset, DateRange, FileEdit, FileQuery, SizeRange,
};
pub use upload::{
    create_session_request, parse_create_session, parse_upload_part, upload_part_request,
    PartOutcome,
};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{AccessToken, ApiError, BaseUrl, UrlError};

/// The account host (`https://{subdomain}.kommo.com`) with the token used on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountHost {
    /// Where the account API lives.
    pub base: BaseUrl,
    /// The bearer token.
    pub token: AccessToken,
}

/// The account's drive host (`https://drive-c.kommo.com`) with the token used on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveHost {
    /// Where the drive API lives.
    pub base: BaseUrl,
    /// The bearer token.
    pub token: AccessToken,
}

impl AccountHost {
    /// The account host at `base`.
    pub fn new(base: BaseUrl, token: AccessToken) -> Self {
        Self { base, token }
    }
}

impl DriveHost {
    /// The drive host at `base`.
    pub fn new(base: BaseUrl, token: AccessToken) -> Self {
        Self { base, token }
    }
}

/// A request with the token, `Accept: application/json` and, when given, a JSON body.
fn authorized(
    method: Method,
    url: &str,
    token: &AccessToken,
    json: Option<Bytes>,
) -> Result<Request<Bytes>, UrlError> {
    let uri = http::Uri::try_from(query::escape_unsafe(url).as_ref())
        .map_err(|_| UrlError::Invalid(url.to_owned()))?;
    let mut request = Request::new(json.clone().unwrap_or_default());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(header::AUTHORIZATION, token.header_value());
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    if json.is_some() {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok(request)
}

/// Like [`authorized`] for a URL we built ourselves from a [`BaseUrl`] and encoded parts.
fn authorized_own(
    method: Method,
    url: &str,
    token: &AccessToken,
    json: Option<Bytes>,
) -> Request<Bytes> {
    // Every piece of such a URL is either validated (BaseUrl) or percent-encoded, so it parses.
    authorized(method, url, token, json).expect("a URL built from a BaseUrl and encoded parts")
}

fn json_body<T: Serialize + ?Sized>(value: &T) -> Bytes {
    // Serialising our own derive-generated types with string keys cannot fail.
    Bytes::from(serde_json::to_vec(value).expect("wire types serialise to JSON"))
}

/// Decodes a success body, keeping the JSON path of the first value that does not fit.
fn decode<T: DeserializeOwned>(response: &Response<Bytes>) -> Result<T, ApiError> {
    let body = response.body();
    let failure = |path: String, message: String| ApiError::Decode {
        status: response.status(),
        path,
        message,
        body: body.clone(),
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| failure(e.path().to_string(), e.inner().to_string()))?;
    deserializer
        .end()
        .map_err(|e| failure(".".to_owned(), e.to_string()))?;
    Ok(value)
}

/// Decodes `response` if its status is one of `ok`, an [`ApiError`] otherwise.
fn expect_json<T: DeserializeOwned>(
    response: &Response<Bytes>,
    ok: &[StatusCode],
) -> Result<T, ApiError> {
    if ok.contains(&response.status()) {
        decode(response)
    } else {
        Err(ApiError::from_response(response))
    }
}

/// A success status whose body is empty or `{}` (the two spellings the sources disagree on).
fn expect_empty(response: &Response<Bytes>, ok: &[StatusCode]) -> Result<(), ApiError> {
    if !ok.contains(&response.status()) {
        return Err(ApiError::from_response(response));
    }
    let body = response.body();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    // Any JSON body is accepted: Kommo answers `{}`, and an object with details is harmless.
    decode::<serde_json::Value>(response).map(drop)
}

fn is_empty_body(response: &Response<Bytes>) -> bool {
    response.body().iter().all(u8::is_ascii_whitespace)
}
