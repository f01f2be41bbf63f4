//! The token endpoint: both grants' requests and the answer.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::tokens::{OAuthApp, Secret, TokenSet};
use crate::{AccessToken, ApiError, BaseUrl};

/// Where the token endpoint is on the account host.
pub const TOKEN_PATH: &str = "/oauth2/access_token";

#[derive(Serialize)]
struct GrantBody<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'a str,
    redirect_uri: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

/// `POST /oauth2/access_token` with `grant_type=authorization_code`: exchanges the code from
/// the consent redirect for the first token pair. The body holds the client secret and the
/// code; the request carries no `Authorization` header.
///
/// ```
/// use kommo_files_model::{oauth, BaseUrl};
/// let app = oauth::OAuthApp::new("id", "secret", "https://example.com/cb");
/// let request = oauth::code_exchange_request(&BaseUrl::parse("https://acme.kommo.com")?, &app, "def502");
/// assert_eq!(request.method(), http::Method::POST);
/// assert!(request.headers().get(http::header::AUTHORIZATION).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn code_exchange_request(account: &BaseUrl, app: &OAuthApp, code: &str) -> Request<Bytes> {
    grant_request(account, app, "authorization_code", Some(code.trim()), None)
}

/// `POST /oauth2/access_token` with `grant_type=refresh_token`: spends `refresh` (single-use)
/// for the next pair.
pub fn refresh_request(account: &BaseUrl, app: &OAuthApp, refresh: &Secret) -> Request<Bytes> {
    grant_request(account, app, "refresh_token", None, Some(refresh.expose()))
}

fn grant_request(
    account: &BaseUrl,
    app: &OAuthApp,
    grant_type: &str,
    code: Option<&str>,
    refresh_token: Option<&str>,
) -> Request<Bytes> {
    let body = GrantBody {
        client_id: &app.client_id,
        client_secret: app.client_secret.expose(),
        grant_type,
        redirect_uri: &app.redirect_uri,
        code,
        refresh_token,
    };
    // A struct of strings always serialises.
    let body = Bytes::from(serde_json::to_vec(&body).expect("a grant serialises"));
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    // A BaseUrl joined with a constant path always parses.
    *request.uri_mut() = http::Uri::try_from(account.join(TOKEN_PATH))
        .expect("a BaseUrl joined with a constant path");
    let headers = request.headers_mut();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    request
}

/// What the token endpoint's answer can be instead of a token set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The endpoint refused the grant (400 for a bad, used or expired code or refresh token; 401
    /// for a wrong client; others). The body is kept raw: its shape varies.
    #[error("the token endpoint refused the grant: {0}")]
    Refused(ApiError),
    /// A 200 whose body is not a token answer. The body is not kept: it may hold tokens.
    #[error("the token endpoint answered HTTP {status} with an unreadable token answer at `{path}`: {message}")]
    Malformed {
        /// The HTTP status.
        status: StatusCode,
        /// The field that did not fit, `.` for the whole body.
        path: String,
        /// What did not fit (never a value of the body).
        message: String,
    },
}

impl TokenError {
    fn malformed(status: StatusCode, path: &str, message: impl Into<String>) -> Self {
        Self::Malformed {
            status,
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

/// `expires_in` or `server_time`: a number, or a number in a string (tolerated).
#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Seconds {
    fn value(&self) -> Option<i64> {
        match self {
            Self::Int(n) => Some(*n),
            Self::Float(f) if f.is_finite() && f.abs() < 1e15 => Some(*f as i64),
            Self::Float(_) => None,
            Self::Text(text) => text.trim().parse().ok(),
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    token_type: Option<String>,
    expires_in: Option<Seconds>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    #[serde(default)]
    server_time: Option<Seconds>,
}

/// Reads the token endpoint's answer. The expiry is `server_time + expires_in` when the server
/// sent its time, `now + expires_in` otherwise (`now` in Unix seconds).
///
/// A 200 must hold a `Bearer` access token, a refresh token and a positive `expires_in`;
/// anything else is [`TokenError::Malformed`], whose message never quotes the body.
pub fn parse_token_response(response: &Response<Bytes>, now: i64) -> Result<TokenSet, TokenError> {
    let status = response.status();
    if status != StatusCode::OK {
        return Err(TokenError::Refused(ApiError::from_response(response)));
    }
    let malformed = |path: &str, message: &str| TokenError::malformed(status, path, message);
    let answer: Answer = serde_json::from_slice(response.body()).map_err(|e| {
        malformed(
            ".",
            &format!("not a JSON token object ({})", e.classify_name()),
        )
    })?;
    if let Some(kind) = &answer.token_type {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(malformed("token_type", "not Bearer"));
        }
    }
    let access = answer
        .access_token
        .as_deref()
        .ok_or_else(|| malformed("access_token", "missing"))?;
    let access = AccessToken::new(access)
        .map_err(|_| malformed("access_token", "empty or not visible ASCII"))?;
    let refresh = match answer.refresh_token.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() && r.bytes().all(|b| b.is_ascii_graphic()) => Secret::new(r),
        Some(_) => return Err(malformed("refresh_token", "empty or not visible ASCII")),
        None => return Err(malformed("refresh_token", "missing")),
    };
    let lifetime = answer
        .expires_in
        .as_ref()
        .ok_or_else(|| malformed("expires_in", "missing"))?
        .value()
        .filter(|s| *s > 0)
        .ok_or_else(|| malformed("expires_in", "not a positive number of seconds"))?;
    let issued = match &answer.server_time {
        Some(time) => time
            .value()
            .filter(|t| *t > 0)
            .ok_or_else(|| malformed("server_time", "not a Unix time"))?,
        None => now,
    };
    Ok(
        TokenSet::new(access, Some(refresh), Some(issued.saturating_add(lifetime)))
            .issued_at(Some(issued)),
    )
}

/// serde_json's error category, which never quotes the input.
trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "wrong types",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}
