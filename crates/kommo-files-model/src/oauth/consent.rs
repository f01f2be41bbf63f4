//! The consent page's URL and the redirect that comes back from it.

use std::fmt;

use super::tokens::Secret;
use crate::base_url::is_loopback;
use crate::endpoint::query::encode;
use crate::BaseUrl;

/// How Kommo's consent page hands the result back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsentMode {
    /// The page redirects the window to the redirect URI (Kommo's `mode=post_message`, the
    /// default, also redirects when the page is not in a popup).
    PostMessage,
    /// The page was opened as a popup by the integration's site.
    Popup,
}

impl ConsentMode {
    fn as_str(self) -> &'static str {
        match self {
            Self::PostMessage => "post_message",
            Self::Popup => "popup",
        }
    }
}

/// The consent page's URL: `{consent}/oauth?client_id=…&state=…&mode=…`, where `consent` is
/// `https://www.kommo.com` (amoCRM: `https://www.amocrm.ru`), or an emulator's account URL.
/// Scopes are set on the integration, not here.
///
/// ```
/// use kommo_files_model::oauth::{authorize_url, ConsentMode};
/// use kommo_files_model::BaseUrl;
/// let url = authorize_url(&BaseUrl::parse("https://www.kommo.com")?, "my id", "xyz", ConsentMode::PostMessage);
/// assert_eq!(url, "https://www.kommo.com/oauth?client_id=my%20id&state=xyz&mode=post_message");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn authorize_url(consent: &BaseUrl, client_id: &str, state: &str, mode: ConsentMode) -> String {
    consent.join(&format!(
        "/oauth?client_id={}&state={}&mode={}",
        encode(client_id),
        encode(state),
        mode.as_str()
    ))
}

/// What the consent redirect grants: a single-use code, valid about 20 minutes, and the
/// account it is for.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationGrant {
    /// The authorization code.
    pub code: Secret,
    /// The account that granted access (from `referer`).
    pub account: BaseUrl,
}

impl fmt::Debug for AuthorizationGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationGrant")
            .field("code", &self.code)
            .field("account", &self.account.as_str())
            .finish()
    }
}

/// Why a redirect URL was refused. Messages never quote the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectError {
    /// The user declined, or Kommo reported an error (`error=…`).
    #[error("the consent was not given: {0}")]
    Denied(String),
    /// No `code` parameter.
    #[error("the redirect URL has no `code` parameter")]
    MissingCode,
    /// `state` is missing or is not the one this login sent: the redirect is not the answer to
    /// this login (or was forged), so its code is not used.
    #[error(
        "the redirect's `state` does not match this login's: it is not the answer to this login"
    )]
    StateMismatch,
    /// No `referer` parameter, so the account is unknown.
    #[error("the redirect URL has no `referer` parameter (the account's host)")]
    MissingReferer,
    /// `referer` is not a Kommo or amoCRM account host (nor loopback): the token would go there.
    #[error("`referer` \"{0}\" is not a Kommo or amoCRM account host ({{subdomain}}.kommo.com, .amocrm.ru, .amocrm.com) nor loopback")]
    ForeignReferer(String),
}

/// Reads the URL the consent page redirected to (or just its query string): checks `state`
/// against the one this login sent, and turns `referer` into the account's URL.
///
/// ```
/// use kommo_files_model::oauth::{parse_redirect, RedirectError};
/// let grant = parse_redirect("https://example.com/cb?code=def502&state=s1&referer=acme.kommo.com", "s1")?;
/// assert_eq!(grant.code.expose(), "def502");
/// assert_eq!(grant.account.as_str(), "https://acme.kommo.com");
/// assert_eq!(
///     parse_redirect("https://example.com/cb?code=def502&state=other&referer=acme.kommo.com", "s1").unwrap_err(),
///     RedirectError::StateMismatch
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_redirect(
    url: &str,
    expected_state: &str,
) -> Result<AuthorizationGrant, RedirectError> {
    let url = url.trim();
    let without_fragment = url.split('#').next().unwrap_or_default();
    let query = match without_fragment.split_once('?') {
        Some((_, query)) => query,
        None => without_fragment,
    };
    let mut code = None;
    let mut state = None;
    let mut referer = None;
    let mut error = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value);
        match decode(key).as_str() {
            "code" => code = Some(value),
            "state" => state = Some(value),
            "referer" => referer = Some(value),
            "error" => error = Some(value),
            _ => {}
        }
    }
    if let Some(error) = error {
        return Err(RedirectError::Denied(printable(&error)));
    }
    let code = code
        .filter(|c| !c.trim().is_empty())
        .ok_or(RedirectError::MissingCode)?;
    if state.as_deref() != Some(expected_state) || expected_state.is_empty() {
        return Err(RedirectError::StateMismatch);
    }
    let referer = referer
        .filter(|r| !r.trim().is_empty())
        .ok_or(RedirectError::MissingReferer)?;
    Ok(AuthorizationGrant {
        code: Secret::new(code),
        account: account_from_referer(&referer)?,
    })
}

/// The account URL of a `referer` (`acme.kommo.com`, or with a scheme): only
/// `{subdomain}.kommo.com`, `.amocrm.ru` and `.amocrm.com` over https, or a loopback host (an
/// emulator; http unless the referer says https).
///
/// ```
/// use kommo_files_model::oauth::account_from_referer;
/// assert_eq!(account_from_referer("acme.amocrm.ru")?.as_str(), "https://acme.amocrm.ru");
/// assert_eq!(account_from_referer("127.0.0.1:8080")?.as_str(), "http://127.0.0.1:8080");
/// assert!(account_from_referer("acme.kommo.com.evil.example").is_err());
/// assert!(account_from_referer("http://acme.kommo.com").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn account_from_referer(referer: &str) -> Result<BaseUrl, RedirectError> {
    let referer = referer.trim();
    let foreign = || RedirectError::ForeignReferer(printable(referer));
    let (scheme, authority) = if let Some(rest) = strip_prefix_ci(referer, "https://") {
        (Some("https"), rest)
    } else if let Some(rest) = strip_prefix_ci(referer, "http://") {
        (Some("http"), rest)
    } else {
        (None, referer)
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.contains(['/', '?', '#', '@']) {
        return Err(foreign());
    }
    let scheme = if is_loopback(authority) {
        scheme.unwrap_or("http")
    } else if is_kommo_account_host(authority) && scheme != Some("http") {
        "https"
    } else {
        return Err(foreign());
    };
    BaseUrl::parse(&format!("{scheme}://{authority}")).map_err(|_| foreign())
}

/// `{subdomain}.kommo.com`, `.amocrm.ru` or `.amocrm.com`, one label of letters, digits and
/// dashes, no port.
fn is_kommo_account_host(authority: &str) -> bool {
    let host = authority.to_ascii_lowercase();
    ["kommo.com", "amocrm.ru", "amocrm.com"]
        .iter()
        .any(|domain| {
            host.strip_suffix(domain)
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        })
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &text[prefix.len()..])
}

/// Percent-decoding of a query value (`+` is a space); invalid escapes stay as they are.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A server-given value fit for a message: at most 100 characters, no control characters.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(100).collect()
}
