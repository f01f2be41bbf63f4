//! Bearer tokens and their scopes, and the per-token rate limiter (docs/kommo-api.md#scopes,
//! docs/kommo-api.md#rate-limit-and-blocking).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A permission a token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Scope {
    /// CRM access: account info, entities, links, notes, custom fields.
    Crm,
    /// "Access to files": every drive-host method except delete.
    Files,
    /// "Deleting files": additionally needed for `DELETE /v1.0/files`.
    FilesDelete,
}

impl Scope {
    /// Every scope: what the default token has.
    pub const ALL: [Scope; 3] = [Scope::Crm, Scope::Files, Scope::FilesDelete];

    /// The scope's code as it appears in token claims (`crm`, `files`, `files_delete`).
    pub fn code(self) -> &'static str {
        match self {
            Scope::Crm => "crm",
            Scope::Files => "files",
            Scope::FilesDelete => "files_delete",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "crm" => Ok(Scope::Crm),
            "files" => Ok(Scope::Files),
            "files_delete" => Ok(Scope::FilesDelete),
            other => Err(format!(
                "unknown scope `{other}` (expected crm, files or files_delete)"
            )),
        }
    }
}

/// A bearer token the emulator accepts, the scopes it grants and the user it acts as.
///
/// ```
/// use kommo_files_emulator::{Scope, TokenGrant};
/// let grant = TokenGrant::new("read-only", [Scope::Files]);
/// assert_eq!(grant.user_id, TokenGrant::DEFAULT_USER_ID);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenGrant {
    /// The bearer token itself.
    pub token: String,
    /// Granted scopes.
    pub scopes: BTreeSet<Scope>,
    /// The user id recorded as `created_by` / `updated_by` / `deleted_by`.
    #[serde(default = "default_user_id")]
    pub user_id: u64,
}

fn default_user_id() -> u64 {
    TokenGrant::DEFAULT_USER_ID
}

impl TokenGrant {
    /// User id used when none is given (the account's `current_user_id`).
    pub const DEFAULT_USER_ID: u64 = 581_651;

    /// A grant for the default user.
    pub fn new(token: impl Into<String>, scopes: impl IntoIterator<Item = Scope>) -> Self {
        TokenGrant {
            token: token.into(),
            scopes: scopes.into_iter().collect(),
            user_id: Self::DEFAULT_USER_ID,
        }
    }

    /// The same grant acting as another user.
    pub fn with_user_id(mut self, user_id: u64) -> Self {
        self.user_id = user_id;
        self
    }

    /// Parses the binary's `TOKEN[:scope,scope...]` syntax; no scopes means all scopes.
    pub fn parse_flag(spec: &str) -> Result<Self, String> {
        let (token, scopes) = match spec.split_once(':') {
            Some((token, scopes)) => (token, Some(scopes)),
            None => (spec, None),
        };
        if token.is_empty() {
            return Err("empty token".to_owned());
        }
        let scopes = match scopes {
            None => Scope::ALL.into_iter().collect(),
            Some(list) => list
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(Scope::from_str)
                .collect::<Result<_, _>>()?,
        };
        Ok(TokenGrant {
            token: token.to_owned(),
            scopes,
            user_id: Self::DEFAULT_USER_ID,
        })
    }
}

/// Why a request was refused by authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// No token or an unknown one: 401.
    Unauthorized,
    /// Known token without the needed scope: 403.
    MissingScope(Scope),
}

/// Extracts the token from an `Authorization: Bearer <token>` header value, strictly: the
/// scheme (any case), exactly one space, and a non-empty token without whitespace (RFC 6750
/// §2.1). Anything else, such as `Bearer  token` with a doubled space, has no token, so the
/// request gets the 401 of an invalid token rather than being accepted after trimming.
pub(crate) fn bearer(header: Option<&http::HeaderValue>) -> Option<&str> {
    let value = header?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let well_formed = scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && !token.contains(|c: char| c.is_ascii_whitespace());
    well_formed.then_some(token)
}

/// Checks that `token` is known and carries `scope`.
pub(crate) fn authorize<'a>(
    grants: &'a [TokenGrant],
    token: Option<&str>,
    scope: Scope,
) -> Result<&'a TokenGrant, AuthFailure> {
    let grant = token
        .and_then(|t| grants.iter().find(|g| g.token == t))
        .ok_or(AuthFailure::Unauthorized)?;
    if grant.scopes.contains(&scope) {
        Ok(grant)
    } else {
        Err(AuthFailure::MissingScope(scope))
    }
}

/// Fixed one-second windows per token, each opened by the first request after the previous
/// one closed. `now` is the clock's rate time ([`Clock::rate_now`](crate::clock::Clock::rate_now)):
/// real time by default, since rate limits are about wall-clock bursts.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    windows: HashMap<String, (Duration, u32)>,
}

impl RateLimiter {
    /// Counts one request for `key` at `now`; `false` when it is over `per_second`.
    pub(crate) fn allow(&mut self, key: &str, per_second: u32, now: Duration) -> bool {
        let entry = self.windows.entry(key.to_owned()).or_insert((now, 0));
        // Time going back (the rate clock switched from real to manual) also opens a window.
        if now < entry.0 || now - entry.0 >= Duration::from_secs(1) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= per_second
    }
}
