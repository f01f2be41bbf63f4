//! Shared helpers of the model's snapshot tests: hosts, canned responses, insta settings and the
//! JSON renderings of requests and errors that the snapshots hold.
// Not every test file that includes this module uses every helper.
#![allow(dead_code, unused_imports, unused_macros)]

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{header, HeaderMap, Request, Response, StatusCode};
use kommo_files_model::endpoint::{AccountHost, DriveHost};
use kommo_files_model::{AccessToken, ApiError, BaseUrl};
use serde_json::{json, Value};

/// The bearer token every test host uses.
pub const TOKEN: &str = "test-token";
/// The account host of the documented Kommo examples.
pub const ACCOUNT: &str = "https://example.kommo.com";
/// The drive host of the documented Kommo examples.
pub const DRIVE: &str = "https://drive-c.kommo.com";
/// How the `Authorization` header appears in snapshots.
pub const REDACTED_AUTH: &str = "Bearer [token]";

/// The drive host with [`TOKEN`].
pub fn drive() -> DriveHost {
    DriveHost::new(
        BaseUrl::parse(DRIVE).unwrap(),
        AccessToken::new(TOKEN).unwrap(),
    )
}

/// The account host with [`TOKEN`].
pub fn account() -> AccountHost {
    AccountHost::new(
        BaseUrl::parse(ACCOUNT).unwrap(),
        AccessToken::new(TOKEN).unwrap(),
    )
}

/// A response with `status` and `body`, as a transport would hand it to a parser.
pub fn response(status: u16, body: &str) -> Response<Bytes> {
    response_with(status, body, &[])
}

/// Like [`response`], with extra headers.
pub fn response_with(status: u16, body: &str, headers: &[(&str, &str)]) -> Response<Bytes> {
    let mut builder = Response::builder().status(StatusCode::from_u16(status).unwrap());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Bytes::from(body.to_owned())).unwrap()
}

/// The insta settings of every snapshot: sorted maps, snapshots in `tests/snapshots/`.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_sort_maps(true);
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(true);
    settings.set_omit_expression(true);
    settings
}

/// [`settings`] plus redactions of UUIDs and Unix timestamps, for snapshots about the *shape* of
/// a parsed value (tolerance tests), so that they do not repeat the documented identifiers.
///
/// Each redaction checks what it hides: a UUID must look like one, a timestamp must be a plausible
/// Unix time (or null).
pub fn redacting_settings() -> insta::Settings {
    let mut settings = settings();
    for key in ["uuid", "version_uuid", "file_uuid"] {
        settings.add_redaction(
            &format!(".**.{key}"),
            insta::dynamic_redaction(|value, path| {
                if value.is_nil() {
                    // `null` stays visible: nullable ids are part of what is tested.
                    return value;
                }
                let text = value
                    .as_str()
                    .unwrap_or_else(|| panic!("{path} is not a string"));
                assert!(looks_like_uuid(text), "{path} = {text:?} is not a UUID");
                insta::internals::Content::from("[uuid]")
            }),
        );
    }
    for key in ["created_at", "updated_at", "deleted_at"] {
        settings.add_redaction(
            &format!(".**.{key}"),
            insta::dynamic_redaction(|value, path| {
                if value.is_nil() {
                    // `null` stays visible: nullable timestamps are part of what is tested.
                    return value;
                }
                let seconds = value
                    .as_u64()
                    .unwrap_or_else(|| panic!("{path} is not a number"));
                assert!(
                    (1_000_000_000..4_000_000_000).contains(&seconds),
                    "{path} = {seconds}"
                );
                insta::internals::Content::from("[timestamp]")
            }),
        );
    }
    settings
}

fn looks_like_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `insta::assert_json_snapshot!` under [`settings`] (or, with `redacted:`, [`redacting_settings`]).
macro_rules! snap {
    ($name:expr, $value:expr $(,)?) => {
        $crate::support::settings().bind(|| insta::assert_json_snapshot!($name, $value))
    };
    (redacted: $name:expr, $value:expr $(,)?) => {
        $crate::support::redacting_settings().bind(|| insta::assert_json_snapshot!($name, $value))
    };
}
pub(crate) use snap;

/// The headers as `name → value`, the bearer token replaced by [`REDACTED_AUTH`] after checking
/// that it is exactly our token and marked sensitive.
pub fn render_headers(headers: &HeaderMap) -> Value {
    let mut out = BTreeMap::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|value| {
                if name == header::AUTHORIZATION {
                    assert_eq!(value.to_str().unwrap(), format!("Bearer {TOKEN}"));
                    assert!(
                        value.is_sensitive(),
                        "the token header must be marked sensitive"
                    );
                    REDACTED_AUTH.to_owned()
                } else {
                    value.to_str().unwrap().to_owned()
                }
            })
            .collect();
        let value = match values.as_slice() {
            [one] => Value::from(one.clone()),
            _ => Value::from(values),
        };
        out.insert(name.as_str().to_owned(), value);
    }
    json!(out)
}

/// `{method, uri, headers, body}`: a JSON body parsed, a binary body by its length.
pub fn render_request(request: &Request<Bytes>) -> Value {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"));
    let body = if request.body().is_empty() {
        Value::Null
    } else if is_json {
        serde_json::from_slice(request.body()).expect("a JSON request body parses")
    } else {
        json!({ "binary_bytes": request.body().len() })
    };
    json!({
        "method": request.method().as_str(),
        "uri": request.uri().to_string(),
        "headers": render_headers(request.headers()),
        "body": body,
    })
}

/// The `Authorization` header of `request`, if any.
pub fn authorization(request: &Request<Bytes>) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap())
}

/// A small JSON description of an error: its kind, status, path, message, problem, body length
/// and the `Display` text a user would see.
pub fn render_error(error: &ApiError) -> Value {
    match error {
        ApiError::Status {
            status,
            problem,
            body,
            retry_after,
        } => json!({
            "kind": "status",
            "status": status.as_u16(),
            "problem": problem,
            "body_len": body.len(),
            "retry_after": retry_after,
            "display": error.to_string(),
        }),
        ApiError::Decode {
            status,
            path,
            message,
            body,
        } => json!({
            "kind": "decode",
            "status": status.as_u16(),
            "path": path,
            "message": message,
            "body_len": body.len(),
            "display": error.to_string(),
        }),
        other => panic!("an ApiError variant this helper does not know: {other:?}"),
    }
}
