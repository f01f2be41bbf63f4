//! OAuth 2.0 as Kommo speaks it, without I/O: the token set, both grants of the token endpoint,
//! the consent URL and its redirect, a JWT `exp` reader and the decision when to refresh.
//!
//! Kommo's rules, which the SDK and the emulator follow:
//! - the token endpoint is `POST /oauth2/access_token` on the **account** host, with a JSON body
//!   `{client_id, client_secret, grant_type, redirect_uri}` plus `code` or `refresh_token`;
//! - an authorization code lives about 20 minutes and is single-use;
//! - an access token lives 24 hours (`expires_in` 86400);
//! - a refresh token is **single-use**: each refresh returns a new pair and invalidates the old
//!   refresh token; an unused one expires after about three months;
//! - long-lived tokens of private integrations are JWTs with an `exp` and no refresh token.
//!
//! ```
//! use kommo_files_model::oauth::{self, OAuthApp, RefreshDue};
//! use kommo_files_model::BaseUrl;
//! use std::time::Duration;
//!
//! let app = OAuthApp::new("client-id", "client-secret", "https://example.com/callback");
//! let account = BaseUrl::parse("https://example.kommo.com")?;
//! let request = oauth::code_exchange_request(&account, &app, "code-from-redirect");
//! assert_eq!(request.uri(), "https://example.kommo.com/oauth2/access_token");
//!
//! let answer = http::Response::new(bytes::Bytes::from_static(br#"{"token_type":"Bearer","expires_in":86400,
//!     "access_token":"access","refresh_token":"refresh","server_time":1700000000}"#));
//! let tokens = oauth::parse_token_response(&answer, 1_699_999_000)?;
//! assert_eq!(tokens.expires_at(), Some(1_700_086_400));
//! let margin = Duration::from_secs(300);
//! assert_eq!(oauth::refresh_due(&tokens, 1_700_000_000, margin, None), None);
//! assert_eq!(oauth::refresh_due(&tokens, 1_700_086_200, margin, None), Some(RefreshDue::Expiring));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod consent;
mod grant;
mod jwt;
mod refresh;
mod tokens;

pub use consent::{
    account_from_referer, authorize_url, parse_redirect, AuthorizationGrant, ConsentMode,
    RedirectError,
};
pub use grant::{
    code_exchange_request, parse_token_response, refresh_request, TokenError, TOKEN_PATH,
};
pub use jwt::{jwt_claims, JwtClaims};
pub use refresh::{refresh_due, RefreshDue};
pub use tokens::{OAuthApp, RefreshToken, Secret, StoredTokenError, TokenKind, TokenSet};
