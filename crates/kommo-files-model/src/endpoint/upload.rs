use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use serde::Deserialize;

use super::{authorized, authorized_own, decode, expect_json, json_body, DriveHost};
use crate::wire::{FileObject, NewSession, NextPart, UploadSession};
use crate::{ApiError, UrlError};

/// `POST /v1.0/sessions`: opens an upload session (endpoint 2).
///
/// ```
/// use kommo_files_model::{endpoint, wire::NewSession, AccessToken, BaseUrl};
/// let drive = endpoint::DriveHost::new(
///     BaseUrl::parse("https://drive-c.kommo.com").unwrap(),
///     AccessToken::new("t").unwrap(),
/// );
/// let request = endpoint::create_session_request(&drive, &NewSession::new("contract.pdf", 3435));
/// assert_eq!(request.uri(), "https://drive-c.kommo.com/v1.0/sessions");
/// ```
pub fn create_session_request(host: &DriveHost, session: &NewSession) -> Request<Bytes> {
    let url = host.base.join("/v1.0/sessions");
    authorized_own(Method::POST, &url, &host.token, Some(json_body(session)))
}

/// Parses the session (200).
pub fn parse_create_session(response: &Response<Bytes>) -> Result<UploadSession, ApiError> {
    expect_json(response, &[StatusCode::OK])
}

/// `POST {upload_url | next_url}` with the raw bytes of one part (endpoint 3).
///
/// The URL must be on the drive host: the bearer token and the data never go anywhere else.
pub fn upload_part_request(
    host: &DriveHost,
    url: &str,
    part: Bytes,
) -> Result<Request<Bytes>, UrlError> {
    let mut request = authorized(Method::POST, host.base.check(url)?, &host.token, None)?;
    *request.body_mut() = part;
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(request)
}

/// What the server said about a part.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartOutcome {
    /// More bytes are expected, at `next_url`.
    Next(NextPart),
    /// The upload is complete; this is the file.
    Complete(Box<FileObject>),
}

/// Parses a part answer: 202 (observed live) or 200 (documented) with `next_url` for a non-final
/// part, 200 with the file object for the last one. Which one it is follows from the body.
pub fn parse_upload_part(response: &Response<Bytes>) -> Result<PartOutcome, ApiError> {
    if ![StatusCode::OK, StatusCode::ACCEPTED, StatusCode::CREATED].contains(&response.status()) {
        return Err(ApiError::from_response(response));
    }
    #[derive(Deserialize)]
    struct Shape {
        next_url: Option<serde_json::Value>,
        uuid: Option<serde_json::Value>,
    }
    let shape: Shape = decode(response)?;
    match (shape.next_url, shape.uuid) {
        (Some(_), _) => decode(response).map(PartOutcome::Next),
        (None, Some(_)) => decode(response).map(|f| PartOutcome::Complete(Box::new(f))),
        (None, None) => Err(ApiError::Decode {
            status: response.status(),
            path: ".".to_owned(),
            message: "neither `next_url` nor a file `uuid` in a part answer".to_owned(),
            body: response.body().clone(),
        }),
    }
}
