//! When to refresh: a pure decision on the token set, the time and what the server said.

use std::time::Duration;

use super::tokens::TokenSet;
use crate::AccessToken;

/// Why a refresh is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshDue {
    /// Less than the margin of the access token's life remains.
    Expiring,
    /// The server answered 401 to a request sent with the set's current access token.
    Rejected,
}

/// Whether `set` should be refreshed at `now` (Unix seconds).
///
/// - `rejected` is the access token a request carried when the server answered 401: a refresh
///   is due only if it is still the set's token. If it is not, someone refreshed meanwhile and
///   the request is simply replayed with the new token.
/// - Otherwise a refresh is due once less than `margin` of the token's life remains — but never
///   earlier than half-way through its life when the issue time is known, so a server that
///   hands out very short-lived tokens cannot make every request a refresh.
///
/// It says nothing of whether a refresh is *possible* (a long-lived token has no refresh
/// token): the caller knows.
///
/// ```
/// use std::time::Duration;
/// use kommo_files_model::oauth::{refresh_due, RefreshDue, RefreshToken, TokenSet};
/// use kommo_files_model::AccessToken;
///
/// let access = AccessToken::new("a")?;
/// let set = TokenSet::new(access.clone(), Some(RefreshToken::new("r")), Some(1_000));
/// let margin = Duration::from_secs(100);
/// assert_eq!(refresh_due(&set, 800, margin, None), None);
/// assert_eq!(refresh_due(&set, 901, margin, None), Some(RefreshDue::Expiring));
/// assert_eq!(refresh_due(&set, 800, margin, Some(&access)), Some(RefreshDue::Rejected));
/// let older = AccessToken::new("older")?;
/// assert_eq!(refresh_due(&set, 800, margin, Some(&older)), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn refresh_due(
    set: &TokenSet,
    now: i64,
    margin: Duration,
    rejected: Option<&AccessToken>,
) -> Option<RefreshDue> {
    if let Some(rejected) = rejected {
        return (rejected == set.access()).then_some(RefreshDue::Rejected);
    }
    let expires_at = set.expires_at()?;
    let mut margin = i64::try_from(margin.as_secs()).unwrap_or(i64::MAX);
    if let Some(issued) = set.issued() {
        let half_life = expires_at.saturating_sub(issued).max(0) / 2;
        margin = margin.min(half_life);
    }
    (now >= expires_at.saturating_sub(margin)).then_some(RefreshDue::Expiring)
}
