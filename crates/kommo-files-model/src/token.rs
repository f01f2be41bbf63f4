//! The bearer token, kept out of `Debug` output and logs.

use std::fmt;

/// A token that is empty or holds anything but visible ASCII (a space, a control character, a
/// letter such as `ö`): no token Kommo issues does, and an HTTP stack would refuse or mangle it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the access token is empty or holds characters other than visible ASCII (spaces, control characters, non-ASCII letters)")]
#[non_exhaustive]
pub struct InvalidToken;

/// An OAuth access token or a long-lived token. `Debug` never shows it.
///
/// ```
/// use kommo_files_model::AccessToken;
/// let token = AccessToken::new("secret-value").unwrap();
/// assert_eq!(format!("{token:?}"), "AccessToken(<redacted>)");
/// assert!(AccessToken::new("bad\ntoken").is_err());
/// assert!(AccessToken::new("tök").is_err());
/// assert!(AccessToken::new("two words").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    header: http::HeaderValue,
}

impl AccessToken {
    /// Wraps a token (surrounding whitespace is dropped); refuses an empty one, or one with
    /// anything but visible ASCII (`!` to `~`): a space, a control character, a non-ASCII
    /// letter. `http` would accept bytes above 127 in a header, but HTTP stacks refuse them
    /// when sending, which would surface as a network failure instead of this error.
    pub fn new(token: impl AsRef<str>) -> Result<Self, InvalidToken> {
        let token = token.as_ref().trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidToken);
        }
        let mut header =
            http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| InvalidToken)?;
        // Marked sensitive so HTTP stacks that log headers leave it out.
        header.set_sensitive(true);
        Ok(Self { header })
    }

    /// The token itself, for a token store or a JWT reader: never log it.
    pub fn expose(&self) -> &str {
        // Built from visible ASCII behind "Bearer ", so both steps always succeed.
        self.header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
    }

    /// When the token expires (Unix seconds), if it is a JWT with an `exp` claim. Read without
    /// verifying the signature: it only decides when to warn or refresh.
    pub fn jwt_expiry(&self) -> Option<i64> {
        crate::oauth::jwt_claims(self.expose()).and_then(|claims| claims.exp)
    }

    /// The `Authorization` header value (`Bearer …`).
    pub fn header_value(&self) -> http::HeaderValue {
        self.header.clone()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_visible_ascii_tokens() {
        for good in [
            "t",
            "abc.DEF-123_~!",
            "  padded\n",
            "eyJ0eXAiOiJKV1Qi.eyJhdWQi.sig=",
        ] {
            assert!(AccessToken::new(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "  ",
            "tök",
            "токен",
            "a b",
            "a\tb",
            "a\nb",
            "a\u{7f}b",
            "a\u{0}b",
            "€",
        ] {
            assert_eq!(AccessToken::new(bad), Err(InvalidToken), "{bad:?}");
        }
    }
}
