//! Small HTTP plumbing shared by both hosts: the reply type, problem-style errors, reading
//! request bodies with a size cap, and turning replies into hyper responses.

use std::convert::Infallible;
use std::io;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{json, Value};

use crate::faults::HostKind;
use crate::storage::FileBody;

/// The response body type of every route.
pub(crate) type ResponseBody = BoxBody<Bytes, io::Error>;

/// What a route answers; turned into a response with the host's content types.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A JSON success body.
    Json(StatusCode, Value),
    /// No body (`204`, `202`).
    Empty(StatusCode),
    /// Raw bytes with a content type (downloads from memory, injected faults).
    Bytes {
        status: StatusCode,
        content_type: String,
        body: Bytes,
        retry_after: Option<u64>,
    },
    /// A redirect to `location`, without body.
    Redirect {
        status: StatusCode,
        location: String,
    },
    /// A file streamed from the data directory.
    File {
        content_type: String,
        body: FileBody,
    },
}

/// One entry of `validation-errors[].errors[]`.
#[derive(Debug, Clone)]
pub(crate) struct FieldError {
    pub(crate) request_id: String,
    pub(crate) code: String,
    pub(crate) path: String,
    pub(crate) detail: String,
}

/// A problem-style error (spec §4).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) detail: String,
    pub(crate) validation: Vec<FieldError>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
            validation: Vec::new(),
        }
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// A 400 "Request validation failed" with one field error.
    pub(crate) fn invalid(
        request_id: impl Into<String>,
        path: impl Into<String>,
        code: &str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            detail: "Request validation failed".to_owned(),
            validation: vec![FieldError {
                request_id: request_id.into(),
                code: code.to_owned(),
                path: path.into(),
                detail: detail.into(),
            }],
        }
    }

    /// The problem body: `title`, `type`, `status`, `detail`, and `validation-errors` if any.
    pub(crate) fn body(&self) -> Value {
        let mut body = problem(self.status, &self.detail);
        if !self.validation.is_empty() {
            let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
            for e in &self.validation {
                let item = json!({ "code": e.code, "path": e.path, "detail": e.detail });
                match groups.iter_mut().find(|(id, _)| *id == e.request_id) {
                    Some((_, errors)) => errors.push(item),
                    None => groups.push((e.request_id.clone(), vec![item])),
                }
            }
            body["validation-errors"] = groups
                .into_iter()
                .map(|(request_id, errors)| json!({ "request_id": request_id, "errors": errors }))
                .collect();
        }
        body
    }
}

/// `{"title","type","status","detail"}` for a status.
pub(crate) fn problem(status: StatusCode, detail: &str) -> Value {
    json!({
        "title": status.canonical_reason().unwrap_or("Error"),
        "type": format!("https://httpstatus.es/{}", status.as_u16()),
        "status": status.as_u16(),
        "detail": detail,
    })
}

/// Result type of every route.
pub(crate) type RouteResult = Result<Reply, ApiError>;

fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

fn set_content_type(response: &mut Response<ResponseBody>, content_type: &str) {
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
}

/// Builds the hyper response; success and error content types depend on the host (spec §1).
pub(crate) fn into_response(host: HostKind, result: RouteResult) -> Response<ResponseBody> {
    let (success_type, error_type) = match host {
        HostKind::Account => ("application/hal+json", "application/problem+json"),
        HostKind::Drive => ("application/json", "application/json"),
    };
    let reply = match result {
        Ok(reply) => reply,
        Err(error) => Reply::Bytes {
            status: error.status,
            content_type: error_type.to_owned(),
            body: Bytes::from(error.body().to_string()),
            retry_after: None,
        },
    };
    match reply {
        Reply::Json(status, value) => {
            let mut response = Response::new(full(value.to_string()));
            *response.status_mut() = status;
            set_content_type(&mut response, success_type);
            response
        }
        Reply::Empty(status) => {
            let mut response = Response::new(full(Bytes::new()));
            *response.status_mut() = status;
            response
        }
        Reply::Bytes {
            status,
            content_type,
            body,
            retry_after,
        } => {
            let mut response = Response::new(full(body));
            *response.status_mut() = status;
            set_content_type(&mut response, &content_type);
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
        Reply::Redirect { status, location } => {
            let mut response = Response::new(full(Bytes::new()));
            *response.status_mut() = status;
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, value);
            }
            response
        }
        Reply::File { content_type, body } => {
            let len = body.len();
            let mut response = Response::new(body.boxed());
            set_content_type(&mut response, &content_type);
            response
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(len));
            response
        }
    }
}

/// An HTML page, as served by a blocked account or a proxy in front of the API.
pub(crate) fn html_page(status: StatusCode, message: &str) -> Reply {
    let reason = status.canonical_reason().unwrap_or("Error");
    Reply::Bytes {
        status,
        content_type: "text/html; charset=utf-8".to_owned(),
        body: Bytes::from(format!(
            "<!DOCTYPE html>\n<html><head><title>{code} {reason}</title></head>\
             <body><h1>{code} {reason}</h1><p>{message}</p></body></html>\n",
            code = status.as_u16()
        )),
        retry_after: None,
    }
}

/// Reads a request body; `Err(too_large)` as soon as more than `limit` bytes arrived.
/// `bytes_in` counts what was read, for the request log.
pub(crate) async fn read_body(
    body: &mut Incoming,
    limit: u64,
    bytes_in: &mut u64,
    too_large: impl FnOnce() -> ApiError,
) -> Result<Bytes, ApiError> {
    let mut collected = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("broken request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            *bytes_in += data.len() as u64;
            if collected.len() as u64 + data.len() as u64 > limit {
                return Err(too_large());
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(collected))
}

/// Parses a JSON request body, with a 400 that says what is wrong.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "request body is empty; JSON expected",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))
}
