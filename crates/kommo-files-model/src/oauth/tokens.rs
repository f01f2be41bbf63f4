//! The secrets of OAuth (client secret, refresh token, authorization code) and the token set.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::jwt::jwt_claims;
use crate::AccessToken;

/// A secret string: kept out of `Debug`, compared in full, read only through
/// [`Secret::expose`].
///
/// ```
/// use kommo_files_model::oauth::Secret;
/// let secret = Secret::new("s3cret");
/// assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
/// assert_eq!(secret.expose(), "s3cret");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret (surrounding whitespace is dropped: it is never part of one).
    pub fn new(secret: impl AsRef<str>) -> Self {
        Self(secret.as_ref().trim().to_owned())
    }

    /// The secret itself, for the request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A refresh token: single-use, each refresh returns the next one.
pub type RefreshToken = Secret;

/// An integration as registered in Kommo: its id, its secret and its redirect URI (which the
/// token endpoint checks on every grant).
///
/// ```
/// use kommo_files_model::oauth::OAuthApp;
/// let app = OAuthApp::new("id", "very-secret", "https://example.com/cb");
/// assert!(!format!("{app:?}").contains("very-secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthApp {
    /// The integration id (`client_id`).
    pub client_id: String,
    /// The secret key (`client_secret`).
    pub client_secret: Secret,
    /// The redirect URI registered with the integration.
    pub redirect_uri: String,
}

impl OAuthApp {
    /// An integration.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl AsRef<str>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
            redirect_uri: redirect_uri.into(),
        }
    }
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

/// Which kind of token a set holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenKind {
    /// An OAuth pair: the access token can be refreshed.
    OAuth,
    /// A token without a refresh token (a private integration's long-lived token).
    LongLived,
}

/// An access token with what is known of its life, and the refresh token when there is one.
///
/// `Debug` shows the kind and the times, never a token.
///
/// ```
/// use kommo_files_model::oauth::{RefreshToken, TokenSet};
/// use kommo_files_model::AccessToken;
///
/// let set = TokenSet::new(AccessToken::new("access")?, Some(RefreshToken::new("refresh")), Some(1_700_000_000));
/// let stored = set.to_json();
/// assert_eq!(TokenSet::from_json(&stored)?, set);
/// assert!(!format!("{set:?}").contains("access\""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    access: AccessToken,
    refresh: Option<RefreshToken>,
    expires_at: Option<i64>,
    issued_at: Option<i64>,
}

impl TokenSet {
    /// A set from its parts; `expires_at` in Unix seconds.
    pub fn new(
        access: AccessToken,
        refresh: Option<RefreshToken>,
        expires_at: Option<i64>,
    ) -> Self {
        Self {
            access,
            refresh,
            expires_at,
            issued_at: None,
        }
    }

    /// A long-lived token (no refresh token); its expiry is the JWT's `exp` when it is one.
    pub fn long_lived(access: AccessToken) -> Self {
        let claims = jwt_claims(access.expose());
        Self {
            access,
            refresh: None,
            expires_at: claims.as_ref().and_then(|c| c.exp),
            issued_at: claims.and_then(|c| c.iat),
        }
    }

    /// The same set, recording when it was issued (Unix seconds): a refresh is never due
    /// earlier than half-way through the token's life.
    pub fn issued_at(mut self, issued_at: Option<i64>) -> Self {
        self.issued_at = issued_at;
        self
    }

    /// The access token.
    pub fn access(&self) -> &AccessToken {
        &self.access
    }

    /// The refresh token, for an OAuth pair.
    pub fn refresh(&self) -> Option<&RefreshToken> {
        self.refresh.as_ref()
    }

    /// When the access token expires (Unix seconds), when known.
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// When the access token was issued (Unix seconds), when known.
    pub fn issued(&self) -> Option<i64> {
        self.issued_at
    }

    /// An OAuth pair or a long-lived token.
    pub fn kind(&self) -> TokenKind {
        if self.refresh.is_some() {
            TokenKind::OAuth
        } else {
            TokenKind::LongLived
        }
    }

    /// The set as JSON for a token store. **It holds the tokens**: write it only where the
    /// tokens may be (an owner-only file, a secrets manager).
    pub fn to_json(&self) -> String {
        let stored = Stored {
            format: FORMAT.to_owned(),
            access_token: self.access.expose().to_owned(),
            refresh_token: self.refresh.as_ref().map(|r| r.expose().to_owned()),
            expires_at: self.expires_at,
            issued_at: self.issued_at,
        };
        // A struct of strings and integers always serialises.
        serde_json::to_string_pretty(&stored).expect("a token set serialises")
    }

    /// Reads what [`TokenSet::to_json`] wrote. The error never holds the text (it may hold
    /// tokens).
    pub fn from_json(text: &str) -> Result<Self, StoredTokenError> {
        let stored: Stored =
            serde_json::from_str(text).map_err(|e| StoredTokenError::new(e.to_string()))?;
        if stored.format != FORMAT {
            return Err(StoredTokenError::new(format!(
                "unknown format \"{}\" (expected \"{FORMAT}\")",
                stored.format.escape_debug()
            )));
        }
        let access = AccessToken::new(&stored.access_token)
            .map_err(|e| StoredTokenError::new(format!("access_token: {e}")))?;
        let refresh = match stored.refresh_token {
            Some(r) if r.trim().is_empty() => {
                return Err(StoredTokenError::new("refresh_token: empty".to_owned()))
            }
            other => other.map(Secret::new),
        };
        Ok(Self {
            access,
            refresh,
            expires_at: stored.expires_at,
            issued_at: stored.issued_at,
        })
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("kind", &self.kind())
            .field("expires_at", &self.expires_at)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

const FORMAT: &str = "kommo-files-token-set/1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    format: String,
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    issued_at: Option<i64>,
}

/// A stored token set that could not be read. The message never quotes the stored text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored token set is unreadable: {message}")]
#[non_exhaustive]
pub struct StoredTokenError {
    /// What was wrong.
    pub message: String,
}

impl StoredTokenError {
    fn new(message: String) -> Self {
        // serde_json quotes the offending value in some messages ("invalid type: string \"…\""):
        // cut the message at its first quote so no token can be echoed.
        let message = match message.find(['"', '`']) {
            Some(at) => format!("{}…", &message[..at]),
            None => message,
        };
        Self { message }
    }
}
