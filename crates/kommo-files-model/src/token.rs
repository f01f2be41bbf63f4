//! The bearer token, kept out of `Debug` output and logs.

use std::fmt;

/// A token that cannot travel in an HTTP header (control characters, newlines).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the access token contains characters that cannot be sent in an HTTP header")]
#[non_exhaustive]
pub struct InvalidToken;

/// An OAuth access token or a long-lived token. `Debug` never shows it.
///
/// ```
/// use kommo_files_model::AccessToken;
/// let token = AccessToken::new("secret-value").unwrap();
/// assert_eq!(format!("{token:?}"), "AccessToken(<redacted>)");
/// assert!(AccessToken::new("bad\ntoken").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    header: http::HeaderValue,
}

impl AccessToken {
    /// Wraps a token; refuses one that could not be sent as a header.
    pub fn new(token: impl AsRef<str>) -> Result<Self, InvalidToken> {
        let token = token.as_ref().trim();
        if token.is_empty() {
            return Err(InvalidToken);
        }
        let mut header =
            http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| InvalidToken)?;
        // Marked sensitive so HTTP stacks that log headers leave it out.
        header.set_sensitive(true);
        Ok(Self { header })
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
