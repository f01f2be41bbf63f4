use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};

use super::{authorized_own, expect_json, AccountHost};
use crate::wire::Account;
use crate::{ApiError, BaseUrl};

/// `GET /api/v4/account?with=drive_url`: discovers the account's drive host (endpoint 1).
///
/// ```
/// use kommo_files_model::{endpoint, AccessToken, BaseUrl};
/// let host = endpoint::AccountHost::new(
///     BaseUrl::for_account("example", "kommo.com").unwrap(),
///     AccessToken::new("t").unwrap(),
/// );
/// let request = endpoint::account_request(&host);
/// assert_eq!(request.uri(), "https://example.kommo.com/api/v4/account?with=drive_url");
/// ```
pub fn account_request(host: &AccountHost) -> Request<Bytes> {
    let url = host.base.join("/api/v4/account?with=drive_url");
    authorized_own(Method::GET, &url, &host.token, None)
}

/// Parses the account object (200).
pub fn parse_account(response: &Response<Bytes>) -> Result<Account, ApiError> {
    expect_json(response, &[StatusCode::OK])
}

/// Parses the account object and validates its `drive_url`: a missing or insecure drive URL is
/// a [`ApiError::Decode`] at `drive_url`.
pub fn parse_drive_url(response: &Response<Bytes>) -> Result<BaseUrl, ApiError> {
    let account = parse_account(response)?;
    let invalid = |message: String| ApiError::Decode {
        status: response.status(),
        path: "drive_url".to_owned(),
        message,
        body: response.body().clone(),
    };
    let url = account
        .drive_url
        .ok_or_else(|| invalid("missing".to_owned()))?;
    BaseUrl::parse(&url).map_err(|e| invalid(e.to_string()))
}
