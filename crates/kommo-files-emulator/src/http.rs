//! Small HTTP plumbing shared by both hosts: the reply type, problem-style errors, reading
//! request bodies with a size cap, strict parsing of JSON bodies (no duplicate keys) and of
//! paging numbers, and turning replies into hyper responses.

use std::cell::RefCell;
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::ops::RangeInclusive;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Map, Value};

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

/// A problem-style error (docs/kommo-api.md#errors).
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

/// Builds the hyper response; success and error content types depend on the host (docs/kommo-api.md#hosts-and-discovery).
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

/// Reads and discards what is left of a request body (at most about `limit` bytes), so that an
/// answer is sent only once the client has finished writing: answering earlier and closing
/// would reset the connection under a client still sending (see [`Request::drain`]).
///
/// [`Request::drain`]: crate::app::Request::drain
pub(crate) async fn drain_body(body: &mut Incoming, limit: u64) {
    let mut drained = 0u64;
    while drained <= limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                drained += frame.data_ref().map_or(0, |data| data.len() as u64);
            }
            _ => return,
        }
    }
}

/// Parses a JSON request body, with a 400 that says what is wrong.
///
/// The parse is strict: an object with the same key twice is a 400 `validation-errors` with
/// code `DuplicateKey` at the key's path, rather than the last value silently winning. When the
/// body is an array (a batch), the item's `request_id` (its index when it has none) is the
/// request id and the path starts inside the item, like the other validation errors.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "request body is empty; JSON expected",
        ));
    }
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictValue {
        path: Vec::new(),
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, duplicate.into_inner()) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(path)) => Err(duplicate_key(bytes, path)),
        (Err(e), None) => Err(ApiError::bad_request(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

/// The 400 for a key found twice at `path` (the key is its last segment).
fn duplicate_key(bytes: &[u8], mut path: Vec<PathSegment>) -> ApiError {
    let key = match path.last() {
        Some(PathSegment::Key(key)) => key.clone(),
        _ => String::new(),
    };
    let request_id = match path.first() {
        Some(&PathSegment::Index(i)) => {
            path.remove(0);
            // The JSON is valid apart from the duplicate, so a lenient parse finds the item's
            // own `request_id`, if it has one.
            serde_json::from_slice::<Value>(bytes)
                .ok()
                .and_then(|body| body[i]["request_id"].as_str().map(str::to_owned))
                .unwrap_or_else(|| i.to_string())
        }
        _ => "0".to_owned(),
    };
    let path = path
        .iter()
        .map(|segment| match segment {
            PathSegment::Key(key) => key.clone(),
            PathSegment::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".");
    ApiError::invalid(
        request_id,
        path,
        "DuplicateKey",
        format!("the key `{key}` appears more than once"),
    )
}

/// One step of the path to a JSON value.
#[derive(Debug, Clone)]
enum PathSegment {
    Key(String),
    Index(usize),
}

/// Builds a [`Value`] like serde_json does, but refuses duplicate keys, recording where the
/// first one was met in `duplicate`.
struct StrictValue<'a> {
    path: Vec<PathSegment>,
    duplicate: &'a RefCell<Option<Vec<PathSegment>>>,
}

impl StrictValue<'_> {
    fn child(&self, segment: PathSegment) -> Self {
        let mut path = self.path.clone();
        path.push(segment);
        StrictValue {
            path,
            duplicate: self.duplicate,
        }
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(PathSegment::Index(items.len())))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                let mut path = self.path.clone();
                path.push(PathSegment::Key(key.clone()));
                *self.duplicate.borrow_mut() = Some(path);
                return Err(A::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let value = access.next_value_seed(self.child(PathSegment::Key(key.clone())))?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// Default `limit` of every list, on both hosts.
pub(crate) const DEFAULT_LIMIT: usize = 50;
/// Largest `limit` of every list.
pub(crate) const MAX_LIMIT: usize = 250;

/// A paging number of a list query (`limit`, `page`, `before_id`): plain decimal digits, with
/// no sign, space or exponent, within `range`. Anything else is a 400 `InvalidValue` on `param`.
pub(crate) fn query_number(
    param: &str,
    value: &str,
    range: RangeInclusive<u64>,
) -> Result<u64, ApiError> {
    let invalid = |detail: String| ApiError::invalid("0", param, "InvalidValue", detail);
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!("{param} must be a non-negative integer")));
    }
    value
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            invalid(format!(
                "{param} must be between {} and {}",
                range.start(),
                range.end()
            ))
        })
}

/// The `limit` of a list: 1 to [`MAX_LIMIT`].
pub(crate) fn parse_limit(value: &str) -> Result<usize, ApiError> {
    let limit = query_number("limit", value, 1..=MAX_LIMIT as u64)?;
    Ok(usize::try_from(limit).unwrap_or(MAX_LIMIT))
}

/// The `page` of a list: from 1.
pub(crate) fn parse_page(value: &str) -> Result<usize, ApiError> {
    let page = query_number("page", value, 1..=u64::MAX)?;
    Ok(usize::try_from(page).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_error(e: &ApiError) -> (String, String, String) {
        let f = &e.validation[0];
        (f.request_id.clone(), f.path.clone(), f.code.clone())
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let e = parse_json(br#"{"a":{"b":[1,{"c":1,"c":2}]}}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let expected = ("0".into(), "a.b.1.c".into(), "DuplicateKey".into());
        assert_eq!(first_error(&e), expected);
        // A batch item's own request_id wins over its index.
        let e = parse_json(br#"[{"x":1},{"request_id":"r2","x":1,"x":2}]"#).unwrap_err();
        assert_eq!(
            first_error(&e),
            ("r2".into(), "x".into(), "DuplicateKey".into())
        );
        // Values parse as serde_json would.
        let body = br#"{"a":[1,-2,1.5,"s",true,null,{}],"b":{"a":1}}"#;
        let lenient: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(parse_json(body).unwrap(), lenient);
        // Other errors keep their message, with no validation entry.
        let e = parse_json(b"{\"a\":1} x").unwrap_err();
        assert!(e.validation.is_empty() && e.detail.contains("not valid JSON"));
    }

    #[test]
    fn paging_numbers_are_plain_digits_in_range() {
        assert_eq!(parse_limit("250").unwrap(), 250);
        assert_eq!(parse_page("1").unwrap(), 1);
        for bad in ["", "0", "251", "-1", "+5", " 5", "5 ", "1.0", "1e2", "0x1"] {
            assert!(parse_limit(bad).is_err(), "{bad:?}");
        }
        assert!(parse_page("0").is_err());
        assert!(parse_page("99999999999999999999999").is_err());
    }
}
