//! OAuth 2.0 as Kommo runs it: integrations (`client_id`, `client_secret`, `redirect_uri`), a
//! consent page that approves at once, and `POST /oauth2/access_token` with the
//! `authorization_code` and `refresh_token` grants.
//!
//! Lifetimes follow Kommo, on the emulator clock: a code lives 20 minutes and is single-use; an
//! access token lives 24 hours; a refresh token is single-use and, unused, lives 90 days. A
//! refresh returns a new pair and voids the old refresh token, while the old access token stays
//! valid until its own expiry. Revoking an integration voids every token it was issued.
//!
//! Access tokens are JWT-shaped like Kommo's, but the emulator never trusts their claims: it
//! keeps every token it issued and recognises them by value.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::app::{App, Request, ACCOUNT_ID};
use crate::auth::{Scope, TokenGrant};
use crate::config::Behavior;
use crate::http::{ApiError, Reply, RouteResult};
use crate::names::{hex, percent_encode, query_pairs, IdSource};
use crate::token::base64url_encode;

/// An OAuth integration (a Kommo "integration" with its keys), whose users can consent and
/// whose server can exchange codes and refresh tokens at `POST /oauth2/access_token`.
///
/// The secret is redacted in `Debug`.
///
/// ```
/// use kommo_files_emulator::{Integration, Scope};
/// let integration = Integration::new("client-1", "secret", "https://example.test/callback")
///     .with_scopes([Scope::Files]);
/// assert!(!format!("{integration:?}").contains("secret\""));
/// let parsed = Integration::parse_flag("client-1,secret,https://example.test:8443/cb").unwrap();
/// assert_eq!(parsed.redirect_uri, "https://example.test:8443/cb");
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Integration {
    /// The integration id (`client_id`), a UUID on Kommo.
    pub client_id: String,
    /// The secret key (`client_secret`).
    pub client_secret: String,
    /// The redirect URI of the integration settings: consent redirects there, and the token
    /// endpoint checks the `redirect_uri` it is sent against it.
    pub redirect_uri: String,
    /// Scopes its access tokens carry (default: every scope).
    #[serde(default = "all_scopes")]
    pub scopes: BTreeSet<Scope>,
    /// The user its access tokens act as (default [`TokenGrant::DEFAULT_USER_ID`]).
    #[serde(default = "default_user_id")]
    pub user_id: u64,
}

fn all_scopes() -> BTreeSet<Scope> {
    Scope::ALL.into_iter().collect()
}

fn default_user_id() -> u64 {
    TokenGrant::DEFAULT_USER_ID
}

impl fmt::Debug for Integration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Integration")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("user_id", &self.user_id)
            .finish()
    }
}

impl Integration {
    /// An integration with every scope, acting as the default user.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Integration {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uri: redirect_uri.into(),
            scopes: all_scopes(),
            user_id: TokenGrant::DEFAULT_USER_ID,
        }
    }

    /// The same integration with these scopes only.
    pub fn with_scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.scopes = scopes.into_iter().collect();
        self
    }

    /// The same integration acting as another user.
    pub fn with_user_id(mut self, user_id: u64) -> Self {
        self.user_id = user_id;
        self
    }

    /// Parses the binary's `CLIENT_ID,CLIENT_SECRET,REDIRECT_URI` syntax. It splits on the
    /// first two commas only, so the redirect URI may hold `:` (and further commas).
    pub fn parse_flag(spec: &str) -> Result<Self, String> {
        let mut fields = spec.splitn(3, ',');
        let (Some(client_id), Some(client_secret), Some(redirect_uri)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err("expected CLIENT_ID,CLIENT_SECRET,REDIRECT_URI".to_owned());
        };
        if client_id.is_empty() || client_secret.is_empty() || redirect_uri.is_empty() {
            return Err(
                "CLIENT_ID, CLIENT_SECRET and REDIRECT_URI must all be non-empty".to_owned(),
            );
        }
        Ok(Integration::new(client_id, client_secret, redirect_uri))
    }
}

/// An integration as the control API lists it (without its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IntegrationStatus {
    /// The integration id.
    pub client_id: String,
    /// Its redirect URI.
    pub redirect_uri: String,
    /// Scopes its access tokens carry.
    pub scopes: BTreeSet<Scope>,
    /// The user its access tokens act as.
    pub user_id: u64,
    /// Whether it was revoked (and not approved again since).
    pub revoked: bool,
}

/// A token pair as `POST /oauth2/access_token` issues it, for tests that start from a pair
/// ([`EmulatorHandle::issue_tokens`](crate::EmulatorHandle::issue_tokens)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IssuedTokens {
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives (86400 by default).
    pub expires_in: u64,
    /// The JWT-shaped access token.
    pub access_token: String,
    /// The single-use refresh token.
    pub refresh_token: String,
    /// Unix seconds on the emulator clock when the pair was issued.
    pub server_time: i64,
    /// Unix seconds on the emulator clock when the access token stops working.
    pub expires_at: i64,
}

#[derive(Debug)]
struct Registered {
    integration: Integration,
    revoked: bool,
}

#[derive(Debug)]
struct Code {
    client_id: String,
    expires_at: i64,
}

#[derive(Debug)]
struct Access {
    client_id: String,
    expires_at: i64,
    revoked: bool,
    scopes: BTreeSet<Scope>,
    user_id: u64,
}

#[derive(Debug)]
struct Refresh {
    client_id: String,
    expires_at: i64,
    revoked: bool,
}

/// Integrations and every code and token issued for them (in memory only: a restart forgets
/// them, and the integrations come back from the configuration).
#[derive(Debug, Default)]
pub(crate) struct OAuth {
    integrations: Vec<Registered>,
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
}

/// A refusal of the token endpoint: status and Kommo's `hint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    pub(crate) hint: String,
}

impl OAuthError {
    fn bad_request(hint: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            hint: hint.into(),
        }
    }

    fn unauthorized(hint: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            hint: hint.into(),
        }
    }

    /// Kommo's OAuth problem body: `{hint, title, type, status, detail}`.
    pub(crate) fn body(&self) -> Value {
        let (title, detail) = if self.status == StatusCode::UNAUTHORIZED {
            (
                "Unauthorized",
                "The client or the token was not authorized: the integration was revoked.",
            )
        } else {
            (
                "Bad request",
                "The request is missing a required parameter, includes an invalid parameter \
                 value, includes a parameter more than once, or is otherwise malformed.",
            )
        };
        json!({
            "hint": self.hint,
            "title": title,
            "type": "https://developers.kommo.com/v3/errors/OAuthProblemJson",
            "status": self.status.as_u16(),
            "detail": detail,
        })
    }
}

/// The fields of a token request, from a JSON or a form-encoded body.
#[derive(Debug, Default)]
struct TokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    redirect_uri: Option<String>,
    code: Option<String>,
    refresh_token: Option<String>,
}

impl TokenRequest {
    fn set(&mut self, key: &str, value: String) -> Result<(), OAuthError> {
        let slot = match key {
            "client_id" => &mut self.client_id,
            "client_secret" => &mut self.client_secret,
            "grant_type" => &mut self.grant_type,
            "redirect_uri" => &mut self.redirect_uri,
            "code" => &mut self.code,
            "refresh_token" => &mut self.refresh_token,
            _ => return Ok(()),
        };
        if slot.is_some() {
            return Err(OAuthError::bad_request(format!(
                "Check the `{key}` parameter: it is given more than once"
            )));
        }
        *slot = Some(value);
        Ok(())
    }

    /// JSON (`{"client_id": ...}`) or `application/x-www-form-urlencoded`, as OAuth client
    /// libraries send it.
    fn parse(form: bool, body: &[u8]) -> Result<Self, OAuthError> {
        let mut request = TokenRequest::default();
        if form {
            let text = String::from_utf8_lossy(body);
            for (key, value) in query_pairs(Some(&text)) {
                request.set(&key, value)?;
            }
            return Ok(request);
        }
        let value = crate::http::parse_json(body).map_err(|e| OAuthError::bad_request(e.detail))?;
        let Value::Object(map) = value else {
            return Err(OAuthError::bad_request(
                "The request body must be a JSON object",
            ));
        };
        for (key, value) in map {
            match value {
                Value::String(s) => request.set(&key, s)?,
                Value::Null => {}
                _ => {
                    return Err(OAuthError::bad_request(format!(
                        "Check the `{key}` parameter: a string is expected"
                    )))
                }
            }
        }
        Ok(request)
    }
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, OAuthError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::bad_request(format!("Check the `{name}` parameter")))
}

fn add_secs(now: i64, secs: u64) -> i64 {
    now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX))
}

impl OAuth {
    /// Adds an integration, replacing one with the same `client_id` (which is then active
    /// again; the tokens issued before keep their state).
    pub(crate) fn add(&mut self, integration: Integration) {
        self.integrations
            .retain(|r| r.integration.client_id != integration.client_id);
        self.integrations.push(Registered {
            integration,
            revoked: false,
        });
    }

    /// Revokes an integration: every access and refresh token it was issued stops working and
    /// its pending codes are dropped. `false` when there is no such integration.
    pub(crate) fn revoke(&mut self, client_id: &str) -> bool {
        let Some(registered) = self
            .integrations
            .iter_mut()
            .find(|r| r.integration.client_id == client_id)
        else {
            return false;
        };
        registered.revoked = true;
        self.codes.retain(|_, c| c.client_id != client_id);
        for access in self.access.values_mut() {
            if access.client_id == client_id {
                access.revoked = true;
            }
        }
        for refresh in self.refresh.values_mut() {
            if refresh.client_id == client_id {
                refresh.revoked = true;
            }
        }
        true
    }

    pub(crate) fn statuses(&self) -> Vec<IntegrationStatus> {
        self.integrations
            .iter()
            .map(|r| IntegrationStatus {
                client_id: r.integration.client_id.clone(),
                redirect_uri: r.integration.redirect_uri.clone(),
                scopes: r.integration.scopes.clone(),
                user_id: r.integration.user_id,
                revoked: r.revoked,
            })
            .collect()
    }

    fn find(&self, client_id: &str) -> Option<&Registered> {
        self.integrations
            .iter()
            .find(|r| r.integration.client_id == client_id)
    }

    pub(crate) fn redirect_uri(&self, client_id: &str) -> Option<String> {
        self.find(client_id)
            .map(|r| r.integration.redirect_uri.clone())
    }

    /// The user approved the integration (again): it is active, and a fresh code is issued.
    /// `None` for an unknown `client_id`.
    pub(crate) fn approve(
        &mut self,
        client_id: &str,
        now: i64,
        behavior: &Behavior,
        ids: &IdSource,
    ) -> Option<String> {
        let registered = self
            .integrations
            .iter_mut()
            .find(|r| r.integration.client_id == client_id)?;
        registered.revoked = false;
        self.prune(now);
        let code = format!("def50200{}", hex(&ids.bytes(96)));
        self.codes.insert(
            code.clone(),
            Code {
                client_id: client_id.to_owned(),
                expires_at: add_secs(now, behavior.authorization_code_ttl_secs),
            },
        );
        Some(code)
    }

    /// Issues a fresh pair for an active integration; `None` for an unknown or revoked one.
    pub(crate) fn issue(
        &mut self,
        client_id: &str,
        now: i64,
        behavior: &Behavior,
        ids: &IdSource,
    ) -> Option<IssuedTokens> {
        let registered = self.find(client_id).filter(|r| !r.revoked)?;
        let scopes = registered.integration.scopes.clone();
        let user_id = registered.integration.user_id;
        self.prune(now);
        let expires_at = add_secs(now, behavior.access_token_ttl_secs);
        let access_token = access_jwt(client_id, &scopes, user_id, now, expires_at, ids);
        let refresh_token = format!("def50200{}", hex(&ids.bytes(160)));
        self.access.insert(
            access_token.clone(),
            Access {
                client_id: client_id.to_owned(),
                expires_at,
                revoked: false,
                scopes,
                user_id,
            },
        );
        self.refresh.insert(
            refresh_token.clone(),
            Refresh {
                client_id: client_id.to_owned(),
                expires_at: add_secs(now, behavior.refresh_token_ttl_secs),
                revoked: false,
            },
        );
        Some(IssuedTokens {
            token_type: "Bearer".to_owned(),
            expires_in: behavior.access_token_ttl_secs,
            access_token,
            refresh_token,
            server_time: now,
            expires_at,
        })
    }

    /// The grant of a live access token the emulator issued; `None` for anything else.
    pub(crate) fn grant(&self, token: &str, now: i64) -> Option<TokenGrant> {
        let access = self.access.get(token)?;
        (!access.revoked && now < access.expires_at).then(|| TokenGrant {
            token: token.to_owned(),
            scopes: access.scopes.clone(),
            user_id: access.user_id,
        })
    }

    /// Forgets what expired long enough ago to matter for nothing but memory: codes and access
    /// tokens past their expiry, refresh tokens past theirs.
    fn prune(&mut self, now: i64) {
        self.codes.retain(|_, c| now < c.expires_at);
        self.access.retain(|_, a| now < a.expires_at);
        self.refresh.retain(|_, r| now < r.expires_at);
    }

    /// `POST /oauth2/access_token` on a parsed request.
    fn exchange(
        &mut self,
        request: &TokenRequest,
        now: i64,
        behavior: &Behavior,
        ids: &IdSource,
    ) -> Result<IssuedTokens, OAuthError> {
        let grant_type = required(&request.grant_type, "grant_type")?;
        if grant_type != "authorization_code" && grant_type != "refresh_token" {
            return Err(OAuthError::bad_request(format!(
                "The authorization grant type `{grant_type}` is not supported: use \
                 authorization_code or refresh_token"
            )));
        }
        let client_id = required(&request.client_id, "client_id")?;
        let client_secret = required(&request.client_secret, "client_secret")?;
        let registered = self
            .find(client_id)
            .filter(|r| r.integration.client_secret == client_secret)
            .ok_or_else(|| OAuthError::bad_request("Client authentication failed"))?;
        if registered.revoked {
            return Err(OAuthError::unauthorized(
                "The integration was revoked (disabled or removed from the account)",
            ));
        }
        let expected_uri = registered.integration.redirect_uri.clone();
        let redirect_uri = if grant_type == "authorization_code" {
            Some(required(&request.redirect_uri, "redirect_uri")?)
        } else {
            request.redirect_uri.as_deref()
        };
        if redirect_uri.is_some_and(|uri| uri != expected_uri) {
            return Err(OAuthError::bad_request(
                "The redirect URI does not match the one in the integration settings",
            ));
        }
        if grant_type == "authorization_code" {
            let code = required(&request.code, "code")?;
            // Single use: a code is gone once presented, whatever the outcome.
            let entry = self
                .codes
                .remove(code)
                .ok_or_else(|| OAuthError::bad_request("Authorization code has been revoked"))?;
            if entry.client_id != client_id {
                return Err(OAuthError::bad_request(
                    "Authorization code was not issued to this client",
                ));
            }
            if now >= entry.expires_at {
                return Err(OAuthError::bad_request("Authorization code has expired"));
            }
        } else {
            let token = required(&request.refresh_token, "refresh_token")?;
            let entry = self
                .refresh
                .get(token)
                .ok_or_else(|| OAuthError::bad_request("Token has been revoked"))?;
            if entry.client_id != client_id {
                return Err(OAuthError::bad_request("Token is not linked to client"));
            }
            if entry.revoked {
                return Err(OAuthError::unauthorized("Token has been revoked"));
            }
            if now >= entry.expires_at {
                self.refresh.remove(token);
                return Err(OAuthError::bad_request("Token has expired"));
            }
            self.refresh.remove(token);
        }
        self.issue(client_id, now, behavior, ids).ok_or_else(|| {
            OAuthError::unauthorized(
                "The integration was revoked (disabled or removed from the account)",
            )
        })
    }
}

/// A Kommo-shaped access token: `base64url(header).base64url(payload).base64url(signature)`
/// with the claims of Kommo's tokens and an opaque signature.
fn access_jwt(
    client_id: &str,
    scopes: &BTreeSet<Scope>,
    user_id: u64,
    now: i64,
    expires_at: i64,
    ids: &IdSource,
) -> String {
    let jti = ids.uuid();
    let header = json!({ "typ": "JWT", "alg": "RS256", "jti": jti });
    let payload = json!({
        "aud": client_id,
        "jti": jti,
        "iat": now,
        "nbf": now,
        "exp": expires_at,
        "sub": user_id.to_string(),
        "grant_type": "",
        "account_id": ACCOUNT_ID,
        "base_domain": "kommo.com",
        "version": 2,
        "scopes": scopes.iter().map(|s| s.code()).collect::<Vec<_>>(),
        "hash_uuid": ids.uuid(),
        "api_domain": "api-c.kommo.com",
    });
    format!(
        "{}.{}.{}",
        base64url_encode(header.to_string().as_bytes()),
        base64url_encode(payload.to_string().as_bytes()),
        base64url_encode(&ids.bytes(256)),
    )
}

/// Answers an OAuth problem with Kommo's body.
fn problem_reply(error: &OAuthError) -> Reply {
    Reply::Bytes {
        status: error.status,
        content_type: "application/problem+json".to_owned(),
        body: Bytes::from(error.body().to_string()),
        retry_after: None,
    }
}

/// The JSON answer of a successful token request.
fn tokens_body(tokens: &IssuedTokens, server_time: bool) -> Value {
    let mut body = json!({
        "token_type": tokens.token_type,
        "expires_in": tokens.expires_in,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
    });
    if server_time {
        body["server_time"] = json!(tokens.server_time);
    }
    body
}

/// Largest body of a token request.
const TOKEN_BODY_LIMIT: u64 = 64 * 1024;

/// `POST /oauth2/access_token` (account host, no bearer token needed).
pub(crate) async fn access_token(app: &App, request: &mut Request) -> RouteResult {
    let form = request
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let body = match request.bytes(TOKEN_BODY_LIMIT).await {
        Ok(body) => body,
        Err(e) => return Ok(problem_reply(&OAuthError::bad_request(e.detail))),
    };
    let parsed = match TokenRequest::parse(form, &body) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(problem_reply(&e)),
    };
    let now = app.clock.now();
    let mut inner = app.lock();
    let behavior = inner.behavior.clone();
    match inner.oauth.exchange(&parsed, now, &behavior, &app.ids) {
        Ok(tokens) => Ok(Reply::Bytes {
            status: StatusCode::OK,
            content_type: "application/json".to_owned(),
            body: Bytes::from(tokens_body(&tokens, behavior.oauth_server_time).to_string()),
            retry_after: None,
        }),
        Err(e) => Ok(problem_reply(&e)),
    }
}

/// `GET /oauth?client_id=…&state=…&mode=…`: the consent page, approved at once. Answers 302 to
/// the integration's redirect URI with `code`, `state` (when given) and `referer` (the account
/// host as `host:port`); an unknown `client_id` is a 400.
pub(crate) fn consent(app: &App, request: &Request) -> RouteResult {
    let pairs = request.query_pairs();
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let client_id = param("client_id").unwrap_or_default();
    let now = app.clock.now();
    let (code, redirect_uri) = {
        let mut inner = app.lock();
        let behavior = inner.behavior.clone();
        let code = inner.oauth.approve(&client_id, now, &behavior, &app.ids);
        (code, inner.oauth.redirect_uri(&client_id))
    };
    let (Some(code), Some(redirect_uri)) = (code, redirect_uri) else {
        return Err(ApiError::bad_request(format!(
            "unknown client_id `{client_id}`: no such integration"
        )));
    };
    let mut location = redirect_uri;
    location.push(if location.contains('?') { '&' } else { '?' });
    location.push_str(&format!("code={}", percent_encode(&code)));
    if let Some(state) = param("state") {
        location.push_str(&format!("&state={}", percent_encode(&state)));
    }
    location.push_str(&format!("&referer={}", percent_encode(&app.referer())));
    Ok(Reply::Redirect {
        status: StatusCode::FOUND,
        location,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn behavior() -> Behavior {
        Behavior::default()
    }

    fn request(pairs: &[(&str, &str)]) -> TokenRequest {
        let mut request = TokenRequest::default();
        for (k, v) in pairs {
            request.set(k, (*v).to_owned()).unwrap();
        }
        request
    }

    #[test]
    fn flags_keep_colons_and_commas_of_the_redirect_uri() {
        let i = Integration::parse_flag("id,sec,http://127.0.0.1:9/cb?a=1,2").unwrap();
        assert_eq!(
            (i.client_id.as_str(), i.client_secret.as_str()),
            ("id", "sec")
        );
        assert_eq!(i.redirect_uri, "http://127.0.0.1:9/cb?a=1,2");
        for bad in ["", "id", "id,sec", ",sec,uri", "id,,uri", "id,sec,"] {
            assert!(Integration::parse_flag(bad).is_err(), "{bad:?}");
        }
        assert!(!format!("{i:?}").contains("sec\""));
    }

    #[test]
    fn a_code_is_exchanged_once() {
        let ids = IdSource::new();
        let mut oauth = OAuth::default();
        oauth.add(Integration::new("c", "s", "https://x.test/cb"));
        let code = oauth.approve("c", 100, &behavior(), &ids).unwrap();
        let req = request(&[
            ("grant_type", "authorization_code"),
            ("client_id", "c"),
            ("client_secret", "s"),
            ("redirect_uri", "https://x.test/cb"),
            ("code", &code),
        ]);
        let tokens = oauth.exchange(&req, 101, &behavior(), &ids).unwrap();
        assert!(oauth.grant(&tokens.access_token, 101).is_some());
        let again = oauth.exchange(&req, 101, &behavior(), &ids).unwrap_err();
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert!(oauth.approve("nope", 100, &behavior(), &ids).is_none());
    }

    #[test]
    fn form_and_json_bodies_parse_and_duplicates_are_refused() {
        let form = TokenRequest::parse(true, b"grant_type=refresh_token&client_id=a%2Bb").unwrap();
        assert_eq!(form.client_id.as_deref(), Some("a+b"));
        assert!(TokenRequest::parse(true, b"code=1&code=2").is_err());
        assert!(TokenRequest::parse(false, br#"{"code": 5}"#).is_err());
        assert!(TokenRequest::parse(false, b"[]").is_err());
        assert!(TokenRequest::parse(false, b"").is_err());
    }
}
